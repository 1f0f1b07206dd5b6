"""Smoke test of experiments/benchmark_montecarlo.py on a tiny grid."""

import json
import os

import jax
import pytest

from experiments import benchmark_montecarlo as bench
from experiments.configs import benchmark_montecarlo as bench_config


def _tiny_config():
  c = bench_config.get_config("quick")
  c.num_alternatives = (4,)
  c.jax_samples = 512
  c.chunk_size = 256
  c.block_size = 64
  c.block_sizes = ()
  c.numpy_samples = c.numpy_batch = 256
  c.pref_voting_samples = 0
  c.repeats = 1
  c.min_timing_s = 0.0
  c.memory_samples = (256,)
  c.memory_num_alternatives = 3
  c.cpu_devices = 1  # JAX is running: keep its devices, touch no config
  return c


def test_runs_end_to_end_and_methods_agree(tmp_path):
  report = bench.run(_tiny_config(), str(tmp_path))
  with open(os.path.join(tmp_path, "benchmark_montecarlo.json")) as f:
    out = json.load(f)
  (row,) = out["throughput"]
  # JAX is already running here, so the devices are the test session's.
  assert row["devices"] == len(jax.devices())
  for column in ("jax_counts", "jax_counts_1dev", "jax_rankings",
                 "numpy_compare", "numpy_argsort", "numpy_compare_full"):
    assert row[column] > 0, column
  # P(Condorcet winner) at n = 4, m = 101 is about 0.83 (Gehrlein); every
  # method estimates it (512 / 256 samples: a loose band).
  for column in ("p_jax_counts", "p_jax_rankings", "p_numpy_compare"):
    assert 0.7 < row[column] < 0.95, (column, row[column])
  assert out["memory"][0]["samples"] == 256
  assert "JAX counts, 1 device" in report


def test_rejects_bad_config_before_timing(tmp_path):
  c = _tiny_config()
  c.min_timing_s = -1.0
  with pytest.raises(ValueError, match="min_timing_s"):
    bench.run(c, str(tmp_path))
  c = _tiny_config()
  c.block_sizes = (64, 64)  # two sizes for one n
  with pytest.raises(ValueError, match="block_sizes"):
    bench.run(c, str(tmp_path))
  c = _tiny_config()
  c.cpu_devices = -2
  with pytest.raises(ValueError, match="cpu_devices"):
    bench.run(c, str(tmp_path))
  assert not os.listdir(tmp_path)
