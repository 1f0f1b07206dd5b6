"""End-to-end tests of experiments.rlhf_majority."""

import pytest

def test_experiment_config_and_bad_names():
  from experiments import rlhf_majority  # pylint: disable=g-import-not-at-top
  from experiments.configs import rlhf_majority as cfg_mod  # pylint: disable=g-import-not-at-top
  for preset in ("quick", "paper"):
    config = cfg_mod.get_config(preset)
    rlhf_majority._check_config(config)  # pylint: disable=protected-access
  with pytest.raises(ValueError, match="Unknown preset 'nope'"):
    cfg_mod.get_config("nope")
  config = cfg_mod.get_config("quick")
  config.models = ("mallows", "nope")
  with pytest.raises(ValueError, match="Unknown model 'nope'"):
    rlhf_majority.run(config, "/nonexistent/never/written")


def _small_config(experiment_config, **overrides):
  settings = dict(models=("luce_mixture", "opposed_groups"),
                  num_alternatives=(3, 4), num_voters=(5,), num_samples=64,
                  chunk_size=64)
  return experiment_config("rlhf_majority", **dict(settings, **overrides))


def test_run_cell_counts_match_brute_force_and_theory(experiment_config):
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from experiments import rlhf_majority  # pylint: disable=g-import-not-at-top
  config = _small_config(experiment_config)
  params = {k: config[k] for k in rlhf_majority.PARAMS}
  for model, n in (("luce_mixture", 4), ("opposed_groups", 3)):
    sums = rlhf_majority.run_cell(config, model, 5, n)
    assert sums["profiles"] == 64
    # The same 64 profiles, by montecarlo.estimate's documented key scheme:
    # block 0 (128 profiles) is drawn with fold_in(cell_key, 0).
    key = jax.random.fold_in(rlhf_majority._cell_key(config.seed, model, 5, n),  # pylint: disable=protected-access
                             0)
    counts = np.asarray(rlhf_majority.sample_counts(key, model, n, 5, 128,
                                                    params))[:64]
    np.testing.assert_array_equal(counts + np.swapaxes(counts, 1, 2),
                                  np.broadcast_to(5 * (1 - np.eye(n)),
                                                  counts.shape))
    beats = counts > np.swapaxes(counts, 1, 2)  # strict majority, numpy
    has_cw = np.any(beats.sum(-1) == n - 1, -1)
    linear = np.array([sorted(b.sum(-1)) == list(range(n)) for b in beats])
    assert sums["cw"] == int(has_cw.sum())
    assert sums["linear"] == int(linear.sum())
    assert sums["maj_pairs"] == int(beats.sum())
    # Fact 3: the majority-label reward is Condorcet and pairwise-majority
    # consistent on every profile.
    assert sums["majority_cw"] == sums["cw"]
    assert sums["majority_linear"] == sums["linear"]


def test_run_cell_does_not_depend_on_chunk_size(experiment_config):
  from experiments import rlhf_majority  # pylint: disable=g-import-not-at-top
  # 300 profiles in 3 blocks of 128: one chunk of 384, or three of 128.
  a, b = (rlhf_majority.run_cell(
      _small_config(experiment_config, num_samples=300, chunk_size=chunk),
      "luce_mixture", 5, 3) for chunk in (128, 384))
  assert a == b and a["profiles"] == 300


def test_run_writes_outputs_and_resumes(experiment_config, tmp_path):
  from experiments import rlhf_majority  # pylint: disable=g-import-not-at-top
  config = _small_config(experiment_config)
  text = rlhf_majority.run(config, str(tmp_path))
  assert "Theory check" in text and "**NO**" not in text
  for name in ("rlhf_majority.csv", "rlhf_majority.png",
               "rlhf_majority_pooled.json"):
    assert (tmp_path / name).stat().st_size > 0
  (cells,) = list((tmp_path / "cells").iterdir())
  stamps = {p.name: p.stat().st_mtime for p in cells.iterdir()}
  assert len(stamps) == 4
  assert rlhf_majority.run(config, str(tmp_path)) .startswith("## RLHF")
  assert {p.name: p.stat().st_mtime for p in cells.iterdir()} == stamps
