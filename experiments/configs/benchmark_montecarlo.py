"""Config for experiments.benchmark_montecarlo (quick, full, accelerator)."""

import ml_collections

from experiments import common


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """Samples/s of P(Condorcet winner) under impartial culture, and memory.

  Args:
    preset: "quick" (about a minute on 2 CPU cores), "full" (about 5 minutes
      on 2 CPU cores), or "accelerator" (one GPU/TPU: at most 5 minutes on
      one H100/H200-class GPU; the JAX runs use large blocks and chunks, the
      NumPy and pref_voting baselines run on the host's CPU as in "quick").

  Returns:
    The benchmark's ConfigDict.
  """
  common.check_preset(preset, "benchmark_montecarlo",
                      ("quick", "full", "accelerator"))
  config = ml_collections.ConfigDict()
  config.preset = preset
  config.seed = 0
  config.num_voters = 101  # m labelers
  config.num_alternatives = (5, 20, 50)  # n
  config.chunk_size = 262144  # samples per jitted engine step
  config.block_size = 128  # samples drawn together (the engine's default)
  # Per n (same length as num_alternatives; empty: block_size for all): at
  # n = 5 a sample costs ~0.2 us, so blocks of 128 leave the engine's
  # per-block loop overhead dominant; 1024 measured 4x faster on one device.
  config.block_sizes = (1024, 128, 128)
  config.jax_samples = 32768  # timed JAX samples per n (after a warm-up)
  # ... grown until one timed call lasts at least this long (steady state:
  # at n = 5 the engine draws millions of samples a second).
  config.min_timing_s = 1.0
  # CPU devices the engine shards over (set before JAX starts): 0 = one a
  # core, 1 = JAX's devices as they are. The table also gives the engine on
  # one device (one core).
  config.cpu_devices = 0
  config.numpy_samples = 2000
  config.numpy_batch = 200  # NumPy vectorises over this many profiles
  config.pref_voting_samples = 100
  config.repeats = 2  # best of
  # Peak-memory runs (each in a fresh subprocess): samples for n = 20.
  config.memory_samples = (10**4, 10**5)
  config.memory_num_alternatives = 20
  if preset == "full":
    config.jax_samples = 262144
    config.numpy_samples = 20000
    config.pref_voting_samples = 500
    config.repeats = 5
    config.memory_samples = (10**4, 10**7)
  if preset == "accelerator":
    # Sized for <= 5 minutes on one H200 even at 10^6 samples/s: 3 n x 2 JAX
    # samplers x (1 warm-up chunk + 2 timed runs) of 2^23 samples. Blocks of
    # 8192 samples keep the device busy (one block is 8192 x 101 voters).
    config.jax_samples = 1 << 23
    config.chunk_size = 1 << 21
    config.block_size = 8192
    config.block_sizes = ()
    config.memory_samples = (10**5, 10**7)
    config.pref_voting_samples = 0  # not on accelerator images; CPU presets
  return config
