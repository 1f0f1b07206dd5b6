"""Tests of the NLHF training loop: outputs, resumption, checkpoint errors."""

import csv
import glob
import json
import os

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nash_align import nlhf

# One tiny configuration shared by every test (one compile of the train step).
TINY = dict(num_prompts=128, num_candidates=5, hidden_dim=16, batch_size=16,
            num_steps=40, eval_every=10, checkpoint_every=20, eval_samples=16,
            learning_rate=1e-2, progress=False, algorithm="nash_rs")


def test_train_writes_outputs_and_improves(tmp_path):
  res = nlhf.train(TINY, str(tmp_path))
  hist = res["history"]
  assert [h["step"] for h in hist] == [0, 10, 20, 30, 40]
  assert hist[0]["win_rate_vs_reference"] == pytest.approx(0.5, abs=1e-6)
  assert hist[-1]["win_rate_vs_reference"] > 0.5
  assert hist[-1]["exploitability"] < hist[0]["exploitability"]
  with open(tmp_path / "metrics.json") as f:
    final = json.load(f)
  for k in ("win_rate_vs_reference", "exploitability", "entropy", "steps"):
    assert k in final
  assert final["steps"] == 40
  assert (tmp_path / "metrics.csv").read_text().count("\n") == 6
  assert glob.glob(str(tmp_path / "tensorboard" / "events.out.tfevents.*"))
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["20", "40"]
  # The public evaluate() reproduces the logged exact metrics.
  model = nnx.merge(res["graphdef"], res["params"])
  again = nlhf.training.evaluate(model, res["task"], res["eval_oracle"])
  for k in ("win_rate_vs_reference", "exploitability", "entropy"):
    assert again[k] == pytest.approx(hist[-1][k], rel=1e-5)


def test_resume_after_interruption_matches_uninterrupted(tmp_path):
  full = nlhf.train(TINY, str(tmp_path / "a"))
  part = nlhf.train(TINY, str(tmp_path / "b"), stop_after=20)
  assert "steps" not in part and part["final"]["step"] == 20
  assert not (tmp_path / "b" / "metrics.json").exists()
  resumed = nlhf.train(TINY, str(tmp_path / "b"))
  assert resumed["steps"] == 40
  assert len(resumed["history"]) == len(full["history"])
  for a, b in zip(full["history"], resumed["history"]):
    assert a.keys() == b.keys()
    for k in a:
      np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-7, err_msg=k)
  # A finished run restarted does nothing more and keeps its metrics.
  again = nlhf.train(TINY, str(tmp_path / "b"))
  assert again["history"] == resumed["history"]

  # Incompatible configuration: refused, not silently restarted.
  with pytest.raises(nlhf.CheckpointError, match="different configuration"):
    nlhf.train(dict(TINY, hidden_dim=8), str(tmp_path / "b"))
  # Corrupt checkpoint: every file of the latest checkpoint overwritten.
  latest = tmp_path / "b" / "checkpoints" / "40"
  for path in glob.glob(str(latest / "**" / "*"), recursive=True):
    if os.path.isfile(path):
      with open(path, "wb") as f:
        f.write(b"\x00garbage")
  with pytest.raises(nlhf.CheckpointError, match="corrupt"):
    nlhf.train(TINY, str(tmp_path / "b"))


def test_bad_configurations():
  with pytest.raises(ValueError, match="unknown algorithm 'ppo'"):
    nlhf.train(dict(TINY, algorithm="ppo"))
  with pytest.raises(ValueError, match="unknown oracle"):
    nlhf.train(dict(TINY, oracle="human"))
  with pytest.raises(ValueError, match="unknown config entries"):
    nlhf.train(dict(TINY, learning_rat=1.0))
  with pytest.raises(ValueError, match="multiples of eval_every"):
    nlhf.train(dict(TINY, num_steps=45))
  with pytest.raises(ValueError, match="num_candidates must be >= 2"):
    nlhf.train(dict(TINY, num_candidates=1))
  # Custom tasks are validated before training.
  task = nlhf.oracles.population_task(jax.random.PRNGKey(0), num_prompts=8,
                                      num_candidates=3)
  with pytest.raises(ValueError, match="reference must sum to 1"):
    nlhf.train(TINY, task=task.replace(reference=task.reference * 0.9))
  with pytest.raises(ValueError, match="prompt_features contains NaN"):
    nlhf.train(TINY, task=task.replace(
        prompt_features=task.prompt_features.at[0, 0].set(jnp.nan)))
  bad = nlhf.EmpiricalOracle(matrices=jnp.full((8, 3, 3), 0.5).at[:, 0, 1]
                             .set(1.2))
  with pytest.raises(ValueError, match="not a valid preference oracle"):
    nlhf.train(TINY, task=task.replace(oracle=bad))


def test_experiment_quick_runs(tmp_path):
  from experiments import nlhf as experiment  # pylint: disable=g-import-not-at-top
  from experiments.configs import nlhf as config_lib  # pylint: disable=g-import-not-at-top
  config = config_lib.get_config("quick")
  config.update(TINY)
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
