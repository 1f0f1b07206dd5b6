"""Benchmark: Monte Carlo P(Condorcet winner) under impartial culture.

Samples per second for ``m = 101`` labelers and ``n`` in ``{5, 20, 50}``,
measured in one run for

  * ``jax_counts``: ``montecarlo.estimate`` with ``impartial_culture_counts``
    (exact: insertion digits from few random bits, counts read off the
    insertion), over all devices (on a CPU host: one device a core, see
    ``config.cpu_devices``) and, as ``jax_counts_1dev``, over one device
    (one core, like NumPy),
  * ``jax_rankings``: ``montecarlo.estimate`` through the public rankings API
    (``impartial_culture`` then ``pairwise_counts``),
  * ``numpy_compare``: plain NumPy, vectorised over a batch of profiles and
    the voters: float32 uniforms with the voters on the last axis, the pairs
    ``(i, i + d)`` compared one offset ``d`` at a time (the fastest NumPy
    pipeline we found),
  * ``numpy_compare_full``: the same with float64 uniforms and all ``n x n``
    comparisons at once (this benchmark's earlier NumPy baseline),
  * ``numpy_argsort``: plain NumPy building rankings with ``argsort`` and then
    counting pairwise wins from the positions,
  * ``pref_voting``: ``generate_profile(n, m)`` (IC) and
    ``Profile.condorcet_winner()``, one profile at a time.

Every method estimates the same probability; the table lists the estimates so
they can be compared. Peak resident memory (``ru_maxrss``) of
``montecarlo.estimate`` for a small and a large number of samples is measured
in fresh subprocesses: the engine streams, so the two should match.

Run: ``python -m experiments.benchmark_montecarlo --workdir=/tmp/bm
--config=experiments/configs/benchmark_montecarlo.py:quick``.
"""

import json
import os
import platform
import subprocess
import sys
import time

import jax
import numpy as np

from experiments import common
from nash_align import montecarlo

STAT = "condorcet_winner_exists"


def _has_condorcet_winner(counts, m, n):
  return np.count_nonzero(
      np.all((2 * counts > m) | np.eye(n, dtype=bool), axis=-1).any(-1))


def numpy_compare(rng, num_samples, m, n, batch):
  """NumPy: float32 uniforms ``[b, n, m]``, pairs ``(i, i + d)`` compared one
  offset at a time over all profiles and voters; returns #profiles with a
  Condorcet winner."""
  wins = 0
  alt = np.arange(n)
  for start in range(0, num_samples, batch):
    b = min(batch, num_samples - start)
    u = rng.random((b, n, m), dtype=np.float32)
    counts = np.zeros((b, n, n), np.int16)
    for d in range(1, n):
      c = np.count_nonzero(u[:, :-d] < u[:, d:], axis=-1)  # i + d above i
      counts[:, alt[:-d], alt[d:]] = c
      counts[:, alt[d:], alt[:-d]] = m - c
    wins += _has_condorcet_winner(counts, m, n)
  return wins


def numpy_compare_full(rng, num_samples, m, n, batch):
  """NumPy: counts from all n x n comparisons of float64 uniforms."""
  wins = 0
  for start in range(0, num_samples, batch):
    b = min(batch, num_samples - start)
    u = rng.random((b, m, n))
    counts = np.count_nonzero(u[:, :, :, None] < u[:, :, None, :], axis=1)
    wins += np.count_nonzero(np.all((2 * counts > m) | np.eye(n, dtype=bool),
                                    axis=-1).any(-1))
  return wins


def numpy_argsort(rng, num_samples, m, n, batch):
  """NumPy: rankings by argsort, positions, pairwise counts, Condorcet check."""
  wins = 0
  for start in range(0, num_samples, batch):
    b = min(batch, num_samples - start)
    rankings = np.argsort(rng.random((b, m, n)), axis=-1)  # best-first
    pos = np.argsort(rankings, axis=-1)  # position of each alternative
    counts = np.count_nonzero(pos[:, :, :, None] < pos[:, :, None, :], axis=1)
    wins += np.count_nonzero(np.all((2 * counts > m) | np.eye(n, dtype=bool),
                                    axis=-1).any(-1))
  return wins


def pref_voting_ic(seed, num_samples, m, n):
  """pref_voting: one IC profile at a time and its Condorcet winner."""
  # pylint: disable-next=g-import-not-at-top
  from pref_voting import generate_profiles
  np.random.seed(seed)  # pref_voting draws from NumPy's global state
  wins = 0
  for _ in range(num_samples):
    prof = generate_profiles.generate_profile(n, m)
    wins += prof.condorcet_winner() is not None
  return wins


def _best_rate(fn, num_samples, repeats):
  best, value = float("inf"), None
  for _ in range(repeats):
    start = time.perf_counter()
    value = fn()
    best = min(best, time.perf_counter() - start)
  return num_samples / best, value


def configure_cpu_devices(count: int) -> None:
  """Asks JAX for ``count`` CPU devices (0: one a core; 1: leave JAX's
  devices as they are) before it starts.

  XLA runs one CPU device's program on one core for kernels like these, so
  the engine uses a multi-core host by sharding its blocks over one CPU device
  a core (as on a multi-GPU host). Only possible before JAX initialises its
  backends; afterwards (e.g. inside a test run) the existing devices are kept.
  """
  count = int(count)
  if count == 1:
    return
  try:
    jax.config.update("jax_num_cpu_devices", count or os.cpu_count() or 1)
  except RuntimeError:  # backends already initialised: keep what is there
    pass


def block_size_for(config, n: int) -> int:
  """The engine's block size for ``n`` (``config.block_sizes`` or else
  ``config.block_size``)."""
  sizes = tuple(config.block_sizes)
  if not sizes:
    return int(config.block_size)
  return int(sizes[tuple(config.num_alternatives).index(n)])


def _jax_rate(sampler, n, config, num_samples, devices):
  """Steady-state samples/s of ``montecarlo.estimate`` on ``devices``: one
  warm-up call (compiles), then the timed calls, grown to at least
  ``config.min_timing_s`` each so per-call planning does not dominate."""
  kwargs = dict(num_alternatives=n, num_voters=config.num_voters,
                chunk_size=config.chunk_size,
                block_size=block_size_for(config, n),
                progress=False, devices=devices)
  key = jax.random.key(config.seed)
  call = lambda num: montecarlo.estimate(key, sampler, STAT, num, **kwargs)
  call(min(config.chunk_size, num_samples))  # compile
  start = time.perf_counter()
  call(num_samples)
  seconds = time.perf_counter() - start
  if seconds < config.min_timing_s:
    grow = config.min_timing_s / max(seconds, 1e-3)
    unit = min(config.chunk_size, num_samples)
    num_samples = min(int(num_samples * grow) // unit * unit + unit, 1 << 30)
    call(min(config.chunk_size, num_samples))  # the grown run's chunk shape
  rate, p = _best_rate(lambda: call(num_samples)[STAT].mean, num_samples,
                       config.repeats)
  return rate, p, num_samples


_MEMORY_SCRIPT = """
import resource, sys, time, jax
from nash_align import montecarlo
n, m, num, chunk = (int(a) for a in sys.argv[1:5])
start = time.perf_counter()
est = montecarlo.estimate(jax.random.key(0), "impartial_culture_counts",
                          "condorcet_winner_exists", num, chunk_size=chunk,
                          num_alternatives=n, num_voters=m, progress=False)
seconds = time.perf_counter() - start
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, seconds,
      est["condorcet_winner_exists"].mean)
"""


def peak_memory(n, m, num_samples, chunk):
  """Peak RSS (MiB), seconds and estimate of one run in a fresh process."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ)
  env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
  out = subprocess.run(
      [sys.executable, "-c", _MEMORY_SCRIPT, str(n), str(m), str(num_samples),
       str(chunk)], check=True, capture_output=True, text=True, env=env)
  rss_kib, seconds, mean = out.stdout.split()[-3:]
  return int(rss_kib) / 1024, float(seconds), float(mean)


def run(config, workdir: str) -> str:
  """Runs the benchmark; writes JSON/CSV under ``workdir``; returns markdown."""
  if config.num_voters < 1:
    raise ValueError(f"num_voters must be >= 1, got {config.num_voters}.")
  for n in config.num_alternatives:
    if n < 2:
      raise ValueError(f"num_alternatives must be >= 2, got {n}.")
  for field in ("jax_samples", "numpy_samples", "numpy_batch",
                "pref_voting_samples", "repeats", "chunk_size", "block_size",
                "memory_num_alternatives"):
    minimum = {"memory_num_alternatives": 2, "pref_voting_samples": 0}.get(
        field, 1)
    if int(config[field]) < minimum:
      raise ValueError(
          f"config.{field} must be >= {minimum}, got {config[field]}.")
  if any(int(num) < 1 for num in config.memory_samples):
    raise ValueError("config.memory_samples must be >= 1, got "
                     f"{tuple(config.memory_samples)}.")
  sizes = tuple(config.block_sizes)
  if sizes and (len(sizes) != len(config.num_alternatives) or
                min(int(b) for b in sizes) < 1):
    raise ValueError(
        "config.block_sizes must be empty or give one block size >= 1 per "
        f"num_alternatives {tuple(config.num_alternatives)}, got {sizes}.")
  if config.min_timing_s < 0:
    raise ValueError(
        f"config.min_timing_s must be >= 0, got {config.min_timing_s}.")
  if int(config.cpu_devices) < 0:
    raise ValueError(
        f"config.cpu_devices must be >= 0, got {config.cpu_devices}.")
  configure_cpu_devices(config.cpu_devices)
  devices = jax.devices()
  m = config.num_voters
  rows = []
  for n in config.num_alternatives:
    rng = np.random.default_rng(config.seed)
    row = {"n": n, "m": m, "devices": len(devices),
           "block_size": block_size_for(config, n)}
    rate, p, num = _jax_rate("impartial_culture_counts", n, config,
                             config.jax_samples, devices)
    row.update(jax_counts=rate, p_jax_counts=p, jax_counts_samples=num)
    if len(devices) > 1:
      rate, p, num = _jax_rate("impartial_culture_counts", n, config,
                               config.jax_samples, devices[:1])
    row.update(jax_counts_1dev=rate, p_jax_counts_1dev=p)
    rate, p, _ = _jax_rate("impartial_culture", n, config,
                           config.jax_samples, devices)
    row.update(jax_rankings=rate, p_jax_rankings=p)
    ns = config.numpy_samples
    rate, w = _best_rate(
        lambda: numpy_compare(rng, ns, m, n, config.numpy_batch), ns,
        config.repeats)
    row.update(numpy_compare=rate, p_numpy_compare=w / ns)
    rate, w = _best_rate(
        lambda: numpy_argsort(rng, ns, m, n, config.numpy_batch), ns,
        config.repeats)
    row.update(numpy_argsort=rate, p_numpy_argsort=w / ns)
    rate, w = _best_rate(
        lambda: numpy_compare_full(rng, ns, m, n, config.numpy_batch), ns,
        config.repeats)
    row.update(numpy_compare_full=rate, p_numpy_compare_full=w / ns)
    ps = config.pref_voting_samples
    if ps:
      pref_voting_ic(config.seed, 2, m, n)  # warm-up (imports, caches)
      rate, w = _best_rate(lambda: pref_voting_ic(config.seed, ps, m, n), ps,
                           1)
      row.update(pref_voting=rate, p_pref_voting=w / ps)
    else:  # pref_voting_samples = 0: baseline not run
      row.update(pref_voting=float("nan"), p_pref_voting=float("nan"))
    best_numpy = max(row["numpy_compare"], row["numpy_argsort"],
                     row["numpy_compare_full"])
    row["counts_vs_numpy"] = row["jax_counts"] / best_numpy
    row["counts_1dev_vs_numpy"] = row["jax_counts_1dev"] / best_numpy
    row["rankings_vs_numpy"] = row["jax_rankings"] / best_numpy
    row["counts_vs_pref_voting"] = row["jax_counts"] / row["pref_voting"]
    rows.append(row)
    print(json.dumps(row), flush=True)
  memory = []
  for num in config.memory_samples:
    rss, seconds, mean = peak_memory(config.memory_num_alternatives, m, num,
                                     config.chunk_size)
    memory.append({"samples": num, "n": config.memory_num_alternatives,
                   "m": m, "peak_rss_mib": round(rss, 1),
                   "seconds": round(seconds, 2), "p_condorcet_winner": mean})
    print(json.dumps(memory[-1]), flush=True)
  meta = {"preset": config.preset, "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                         time.gmtime()),
          "machine": platform.platform(), "cpus": os.cpu_count(),
          "jax": jax.__version__, "numpy": np.__version__,
          "devices": [str(d) for d in jax.devices()]}
  common.write_json(os.path.join(workdir, "benchmark_montecarlo.json"),
                    {"meta": meta, "throughput": rows, "memory": memory})
  common.write_csv(os.path.join(workdir, "benchmark_montecarlo.csv"), rows)
  table = common.markdown_table(
      [{"n": r["n"], "block": r["block_size"],
        f"JAX counts, {r['devices']} devices (samples/s)": round(
            r["jax_counts"]),
        "JAX counts, 1 device": round(r["jax_counts_1dev"]),
        "JAX rankings API": round(r["jax_rankings"]),
        "NumPy compare": round(r["numpy_compare"]),
        "NumPy argsort": round(r["numpy_argsort"]),
        "NumPy compare (f64, n x n)": round(r["numpy_compare_full"]),
        "pref_voting": round(r["pref_voting"], 1),
        "counts / best NumPy": round(r["counts_vs_numpy"], 2),
        "counts (1 device) / best NumPy": round(r["counts_1dev_vs_numpy"],
                                                2),
        "rankings / best NumPy": round(r["rankings_vs_numpy"], 2),
        "counts / pref_voting": round(r["counts_vs_pref_voting"], 1),
        "P(CW) JAX / NumPy / pv": (f"{r['p_jax_counts']:.3f} / "
                                   f"{r['p_numpy_compare']:.3f} / "
                                   f"{r['p_pref_voting']:.3f}")}
       for r in rows])
  mem_table = common.markdown_table(memory)
  return ("## Monte Carlo benchmark (impartial culture, m = "
          f"{m}, P(Condorcet winner))\n\n"
          f"{meta['date']}, {meta['cpus']} CPUs, jax {meta['jax']}, "
          f"devices {', '.join(meta['devices'])}.\n\n"
          + table + "\nPeak memory (fresh process per run):\n\n" + mem_table +
          "\nCommand: `python -m experiments.benchmark_montecarlo "
          "--workdir=DIR --config=experiments/configs/"
          f"benchmark_montecarlo.py:{config.preset}`\n")


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/benchmark_montecarlo.py")
