"""Config for experiments.benchmark_montecarlo (presets: quick, full)."""

import ml_collections

from experiments import common


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """Samples/s of P(Condorcet winner) under impartial culture, and memory.

  Args:
    preset: "quick" (about a minute on 2 CPU cores) or "full".

  Returns:
    The benchmark's ConfigDict.
  """
  common.check_preset(preset, "benchmark_montecarlo", ("quick", "full"))
  config = ml_collections.ConfigDict()
  config.preset = preset
  config.seed = 0
  config.num_voters = 101  # m labelers
  config.num_alternatives = (5, 20, 50)  # n
  config.chunk_size = 2048
  config.jax_samples = 8192  # timed JAX samples per n (after a warm-up)
  config.numpy_samples = 2000
  config.numpy_batch = 200  # NumPy vectorises over this many profiles
  config.pref_voting_samples = 100
  config.repeats = 2  # best of
  # Peak-memory runs (each in a fresh subprocess): samples for n = 20.
  config.memory_samples = (10**4, 10**5)
  config.memory_num_alternatives = 20
  if preset == "full":
    config.jax_samples = 100000
    config.numpy_samples = 20000
    config.pref_voting_samples = 500
    config.repeats = 5
    config.memory_samples = (10**4, 10**7)
  return config
