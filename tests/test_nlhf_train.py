"""Tests of the NLHF training loop: outputs, resumption, checkpoint errors."""

import glob
import json
import os

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nash_align import nlhf


def test_train_writes_outputs_and_improves(nlhf_tiny, tmp_path):
  res = nlhf.train(nlhf_tiny, str(tmp_path))
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


def test_resume_after_interruption_matches_uninterrupted(nlhf_tiny, tmp_path):
  full = nlhf.train(nlhf_tiny, str(tmp_path / "a"))
  part = nlhf.train(nlhf_tiny, str(tmp_path / "b"), stop_after=20)
  assert "steps" not in part and part["final"]["step"] == 20
  assert not (tmp_path / "b" / "metrics.json").exists()
  resumed = nlhf.train(nlhf_tiny, str(tmp_path / "b"))
  assert resumed["steps"] == 40
  assert len(resumed["history"]) == len(full["history"])
  for a, b in zip(full["history"], resumed["history"]):
    assert a.keys() == b.keys()
    for k in a:
      np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-7, err_msg=k)
  # A finished run restarted does nothing more and keeps its metrics.
  again = nlhf.train(nlhf_tiny, str(tmp_path / "b"))
  assert again["history"] == resumed["history"]

  # Incompatible configuration: refused, not silently restarted.
  with pytest.raises(nlhf.CheckpointError, match="different configuration"):
    nlhf.train(dict(nlhf_tiny, hidden_dim=8), str(tmp_path / "b"))
  # Corrupt checkpoint: every file of the latest checkpoint overwritten.
  latest = tmp_path / "b" / "checkpoints" / "40"
  for path in glob.glob(str(latest / "**" / "*"), recursive=True):
    if os.path.isfile(path):
      with open(path, "wb") as f:
        f.write(b"\x00garbage")
  with pytest.raises(nlhf.CheckpointError, match="corrupt"):
    nlhf.train(nlhf_tiny, str(tmp_path / "b"))


def test_bad_configurations(nlhf_tiny):
  with pytest.raises(ValueError, match="unknown algorithm 'ppo'"):
    nlhf.train(dict(nlhf_tiny, algorithm="ppo"))
  with pytest.raises(ValueError, match="unknown oracle"):
    nlhf.train(dict(nlhf_tiny, oracle="human"))
  with pytest.raises(ValueError, match="unknown config entries"):
    nlhf.train(dict(nlhf_tiny, learning_rat=1.0))
  with pytest.raises(ValueError, match="multiples of eval_every"):
    nlhf.train(dict(nlhf_tiny, num_steps=45))
  with pytest.raises(ValueError, match="num_candidates must be >= 2"):
    nlhf.train(dict(nlhf_tiny, num_candidates=1))
  # Custom tasks are validated before training.
  task = nlhf.oracles.population_task(jax.random.PRNGKey(0), num_prompts=8,
                                      num_candidates=3)
  with pytest.raises(ValueError, match="reference must sum to 1"):
    nlhf.train(nlhf_tiny, task=task.replace(reference=task.reference * 0.9))
  with pytest.raises(ValueError, match="prompt_features contains NaN"):
    nlhf.train(nlhf_tiny, task=task.replace(
        prompt_features=task.prompt_features.at[0, 0].set(jnp.nan)))
  bad = nlhf.EmpiricalOracle(matrices=jnp.full((8, 3, 3), 0.5).at[:, 0, 1]
                             .set(1.2))
  with pytest.raises(ValueError, match="not a valid preference oracle"):
    nlhf.train(nlhf_tiny, task=task.replace(oracle=bad))
