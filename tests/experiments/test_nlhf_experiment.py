"""End-to-end tests of experiments.nlhf and experiments.benchmark_nlhf."""

import csv
import os

import numpy as np
import pytest

from nash_align.nlhf import metrics

TAUS = (1.0, 0.1, 0.01, 0.001)

def test_experiment_quick_runs(nlhf_tiny, tmp_path):
  from experiments import nlhf as experiment  # pylint: disable=g-import-not-at-top
  from experiments.configs import nlhf as config_lib  # pylint: disable=g-import-not-at-top
  config = config_lib.get_config("quick")
  config.update(nlhf_tiny)
  text = experiment.run(config, str(tmp_path))
  assert "nlhf_curves.png" in text and "experiments.nlhf" in text
  for name in ("metrics.json", "metrics.csv", "nlhf_curves.png",
               "nlhf_diversity.png", "nlhf_limits.png", "nlhf_limits.csv"):
    assert (tmp_path / name).exists(), name
  # The exact (training-free) sweep: RLHF collapses, NLHF stays mixed.
  assert "Exact optima vs tau" in text and "nlhf_limits.png" in text
  with open(tmp_path / "nlhf_limits.csv") as f:
    rows = list(csv.DictReader(f))
  smallest = min((r for r in rows if float(r["tau"]) > 0),
                 key=lambda r: float(r["tau"]))
  assert float(smallest["rlhf_support"]) < float(smallest["nlhf_support"])
  with pytest.raises(ValueError, match="unknown preset 'huge'"):
    config_lib.get_config("huge")


def test_experiment_sweep_matches_library(cyclic_population):
  from experiments import nlhf as experiment  # pylint: disable=g-import-not-at-top
  P, mu = cyclic_population
  rows, lottery, policies = experiment.exact_limits(P, mu, TAUS)
  assert [r["tau"] for r in rows] == sorted(TAUS, reverse=True)
  last = rows[-1]
  assert last["rlhf_support"] == 1.0 and last["nlhf_support"] == 3.0
  assert last["rlhf_top_prob"] > 0.999
  assert last["nlhf_tv_to_lottery"] < 0.02
  assert lottery["support"] == 3.0
  assert max(r["nlhf_max_gap"] for r in rows) < 1e-9
  rl, nl = policies[TAUS[-1]]
  np.testing.assert_allclose(rl, metrics.rlhf_optimum(P, mu, TAUS[-1]))
  assert nl.shape == (1, 3)


def test_benchmark_rejects_bad_config_before_timing(tmp_path):
  from experiments import benchmark_nlhf  # pylint: disable=g-import-not-at-top
  from experiments.configs import benchmark_nlhf as config_lib  # pylint: disable=g-import-not-at-top
  assert config_lib.get_config("full").algorithms == "all"
  with pytest.raises(ValueError, match="Unknown preset 'huge'"):
    config_lib.get_config("huge")
  for field, value, match in (("algorithms", "nash_rs,nope", "nope"),
                              ("num_candidates", (8, 1), "K values >= 2"),
                              ("repeats", 0, "repeats must be >= 1")):
    config = config_lib.get_config("quick")
    config[field] = value
    with pytest.raises(ValueError, match=match):
      benchmark_nlhf.run(config, str(tmp_path))
  assert not os.listdir(tmp_path)  # nothing was timed or written
