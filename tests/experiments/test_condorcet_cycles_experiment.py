"""End-to-end tests of experiments.condorcet_cycles and mixed_strategies."""

import importlib
import os

import pytest

from experiments import condorcet_cycles

def test_run_cells_resumes_only_with_the_same_settings(tmp_path):
  from experiments.configs import condorcet_cycles as config_lib  # pylint: disable=g-import-not-at-top
  config = config_lib.get_config("quick")
  config.models = ("independent_pairwise",)
  config.num_alternatives = (3,)
  config.num_alternatives_by_model = {}
  config.num_samples = config.chunk_size = 16
  stats = ("condorcet_winner_exists",)
  first = condorcet_cycles.run_cells(config, str(tmp_path), stats, "t")
  again = condorcet_cycles.run_cells(config, str(tmp_path), stats, "t")
  assert again == first  # read back from the saved cell
  assert len(os.listdir(tmp_path / "cells")) == 1
  config.num_samples = 32  # another setting: the saved cell is not reused
  (row,) = condorcet_cycles.run_cells(config, str(tmp_path), stats, "t")
  assert row["num_samples"] == 32
  assert len(os.listdir(tmp_path / "cells")) == 2


@pytest.mark.parametrize("name", ["condorcet_cycles", "mixed_strategies",
                                  "benchmark_montecarlo"])
def test_configs_reject_unknown_preset(name):
  module = importlib.import_module(f"experiments.configs.{name}")
  for preset in ("quick", "paper" if name != "benchmark_montecarlo" else
                 "full"):
    assert module.get_config(preset).preset == preset
  with pytest.raises(ValueError, match="Unknown preset 'huge'"):
    module.get_config("huge")
