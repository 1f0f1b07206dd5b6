"""Tests of experiments.reproduce_figures."""

import os

import pytest

from experiments import reproduce_figures

def test_reproduce_figures_rejects_bad_input(tmp_path):
  with pytest.raises(ValueError, match="Unknown preset 'huge'"):
    reproduce_figures.run_all("huge", str(tmp_path))
  with pytest.raises(ValueError, match="Unknown experiment 'nope'"):
    reproduce_figures.run_all("quick", str(tmp_path), ("nope",))
  assert not os.listdir(tmp_path)  # nothing was written
