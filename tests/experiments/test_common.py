"""Tests of experiments.common: the resume cache and the binaries' console."""

import os
import subprocess
import sys

import ml_collections

from experiments import common
import nash_align

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _module(tmp_path, name, source):
  path = tmp_path / f"{name}.py"
  path.write_text(source)
  return type("Module", (), {"__file__": str(path)})


def test_result_cache_reuses_only_the_same_program_and_config(
    tmp_path, monkeypatch):
  module = _module(tmp_path, "exp", "X = 1\n")
  config = ml_collections.ConfigDict(dict(seed=0, sizes=(3, 4)))
  calls = []

  def compute():
    calls.append(1)
    return {"mean": len(calls), "shape": (2, 3)}

  cache = common.ResultCache(str(tmp_path / "w"), config, module)
  first = cache.get_or_compute("cell a", compute)
  assert first == {"mean": 1, "shape": [2, 3]}  # the JSON form
  assert common.ResultCache(str(tmp_path / "w"), config,
                            module).get_or_compute("cell a", compute) == first
  assert len(calls) == 1  # reloaded, not recomputed
  # Another config value, another library version or changed experiment
  # code: a new fingerprint, so the saved cell is not reused.
  other = ml_collections.ConfigDict(dict(seed=1, sizes=(3, 4)))
  assert common.ResultCache(str(tmp_path / "w"), other, module
                            ).get_or_compute("cell a", compute)["mean"] == 2
  module.__file__ = str(tmp_path / "exp2.py")
  (tmp_path / "exp2.py").write_text("X = 2\n")
  assert common.ResultCache(str(tmp_path / "w"), config, module
                            ).get_or_compute("cell a", compute)["mean"] == 3
  monkeypatch.setattr(nash_align, "__version__", "0.0.0-test")
  bumped = common.ResultCache(str(tmp_path / "w"), config,
                              _module(tmp_path, "exp", "X = 1\n"))
  assert bumped.fingerprint != cache.fingerprint
  assert len(os.listdir(tmp_path / "w" / "cells")) == 3


def test_a_cells_partial_checkpoint_lives_under_its_fingerprint_until_saved(
    tmp_path):
  module = _module(tmp_path, "exp", "X = 1\n")
  config = ml_collections.ConfigDict(dict(seed=0))
  cache = common.ResultCache(str(tmp_path / "w"), config, module)
  partial = cache.partial_path("cell/a")
  assert partial.startswith(cache.directory) and partial.endswith(".npz")

  def compute():
    # A long cell writes its checkpoint while it runs.
    os.makedirs(os.path.dirname(partial), exist_ok=True)
    with open(partial, "wb") as f:
      f.write(b"sums")
    assert os.path.exists(partial)
    return {"mean": 0.5}

  assert cache.get_or_compute("cell/a", compute) == {"mean": 0.5}
  assert not os.path.exists(partial)  # removed once the cell is saved
  assert os.path.exists(cache.path("cell/a"))


def _run_binary(workdir, *extra):
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
  return subprocess.run(
      [sys.executable, "-m", "experiments.rlhf_majority",
       f"--workdir={workdir}", "--config.models=('mallows',)",
       "--config.num_alternatives=(3,)", "--config.num_voters=(3,)",
       "--config.num_samples=16", "--config.chunk_size=16", *extra],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
      check=True)


def test_binary_console_is_short_and_logs_go_to_the_workdir(tmp_path):
  out = _run_binary(tmp_path / "quiet")
  assert out.stdout.startswith("## RLHF reward vs pairwise majority")
  # No absl/jax INFO lines on the console; they are in DIR/log.txt.
  assert not [l for l in out.stderr.splitlines() if l[:1] in "IWE" and
              ".py:" in l]
  log = (tmp_path / "quiet" / common.LOG_FILE).read_text()
  assert "mallows m=3 n=3" in log
  loud = _run_binary(tmp_path / "loud", "--verbosity=0")
  assert "mallows m=3 n=3" in loud.stderr
  assert not (tmp_path / "loud" / common.LOG_FILE).exists()
