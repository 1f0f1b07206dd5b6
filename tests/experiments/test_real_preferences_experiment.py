"""End-to-end tests of experiments.real_preferences."""

import csv
import os

import pytest

def test_experiment_writes_report_and_resumes(tmp_path):
  from experiments import real_preferences  # pylint: disable=g-import-not-at-top
  from experiments.configs import real_preferences as configs  # pylint: disable=g-import-not-at-top
  config = configs.get_config("quick")
  config.pairwise_datasets = ("pandalm",)
  config.preflib_datasets = ("preflib_education",)
  config.per_prompt_datasets = ()
  config.num_resamples = 64
  section = real_preferences.run(config, str(tmp_path))
  assert "preflib_education" in section and "pandalm" in section
  for f in ("report.md", "summary.csv", "majority_graphs.png",
            "lotteries.png"):
    assert os.path.getsize(tmp_path / f) > 0
  with open(tmp_path / "summary.csv") as f:
    assert len(list(csv.DictReader(f))) == 2
  (cached,) = list((tmp_path / "results").glob("*/pandalm.json"))
  stamp = os.path.getmtime(cached)
  assert real_preferences.run(config, str(tmp_path)) .startswith("## Real")
  assert os.path.getmtime(cached) == stamp  # reused, not recomputed
  with pytest.raises(ValueError, match="Unknown preset 'full'"):
    configs.get_config("full")
