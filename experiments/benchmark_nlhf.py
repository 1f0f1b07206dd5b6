r"""Benchmark: NLHF train steps per second (batch 256, K in {8, 64}).

Times the jitted training chunk of ``nash_align.nlhf.training`` (``chunk``
optax updates in one ``lax.scan``) on the population oracle, after one warm-up
call that compiles it, for each algorithm and estimator; reports median steps
per second over ``repeats`` timed calls.

Writes ``benchmark_nlhf.md`` and ``benchmark_nlhf.csv`` under ``--workdir``.
CPU (as in BENCHMARKS.md)::

  python -m experiments.benchmark_nlhf --workdir=/tmp/bn \
      --config=experiments/configs/benchmark_nlhf.py:quick

GPU (install ``jax[cuda12]``, i.e. ``pip install -e .[cuda12]``; JAX then
places everything on the first GPU)::

  python -m experiments.benchmark_nlhf --workdir=/tmp/bn_gpu \
      --config=experiments/configs/benchmark_nlhf.py:full --config.chunk=100
"""

import os
import platform
import statistics
import time

from flax import nnx
import jax
import jax.numpy as jnp

from experiments import common
from nash_align.nlhf import algorithms as algos
from nash_align.nlhf import policy as policy_lib
from nash_align.nlhf import training


def benchmark(num_candidates: int, algorithm: str, estimator: str,
              batch_size: int = 256, chunk: int = 10, repeats: int = 3,
              num_prompts: int = 1024) -> float:
  """Median train steps per second of one configuration."""
  cfg = training.resolve_config(dict(
      num_candidates=num_candidates, algorithm=algorithm, estimator=estimator,
      batch_size=batch_size, num_prompts=num_prompts, model_steps=50,
      eval_every=chunk, num_steps=chunk, checkpoint_every=chunk,
      progress=False))
  task, _, reward_oracle = training.build_task(cfg)
  model = policy_lib.PolicyHead(task.prompt_features.shape[-1],
                                task.candidate_features.shape[-1],
                                cfg["hidden_dim"], rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(model)
  opt_state = training.optimizer(cfg["learning_rate"]).init(params)
  static = training.TrainSpec(
      graphdef=graphdef, algorithm=algorithm, hp=training.hyperparams(cfg),
      learning_rate=cfg["learning_rate"], batch_size=batch_size,
      num_steps=chunk)
  key = jax.random.PRNGKey(0)
  run = lambda p, o, s: training.train_chunk(
      p, o, jnp.int32(s), key, task, reward_oracle, static)
  params, opt_state, aux = run(params, opt_state, 0)  # compile + warm up
  jax.block_until_ready((params, aux))
  times = []
  for r in range(repeats):
    t0 = time.perf_counter()
    params, opt_state, aux = run(params, opt_state, (r + 1) * chunk)
    jax.block_until_ready((params, aux))
    times.append(time.perf_counter() - t0)
  return chunk / statistics.median(times)


def _algorithms(config) -> list[str]:
  """The configured algorithm names, checked against the registry."""
  names = [a.strip() for a in str(config.algorithms).split(",") if a.strip()]
  if names == ["all"]:
    return sorted(algos.ALGORITHMS)
  unknown = [a for a in names if a not in algos.ALGORITHMS]
  if unknown or not names:
    raise ValueError(f"Unknown algorithm(s) {unknown or names!r} in "
                     f"config.algorithms; known: {sorted(algos.ALGORITHMS)} "
                     "or 'all'.")
  return names


def run(config, workdir: str) -> str:
  """Times every (K, algorithm, estimator); writes CSV/markdown; returns it.

  Raises:
    ValueError: before any timing, for unknown algorithm names or a
      non-positive batch size, K < 2, chunk or repeats.
  """
  algorithms = _algorithms(config)
  ks = [int(k) for k in config.num_candidates]
  for name, value in (("batch_size", config.batch_size),
                      ("chunk", config.chunk), ("repeats", config.repeats)):
    if int(value) < 1:
      raise ValueError(f"config.{name} must be >= 1, got {value}.")
  if not ks or min(ks) < 2:
    raise ValueError("config.num_candidates must be K values >= 2, got "
                     f"{tuple(config.num_candidates)}.")
  rows = []
  for k in ks:
    for algorithm in algorithms:
      for estimator in algos.ESTIMATORS:
        sps = benchmark(k, algorithm, estimator, config.batch_size,
                        config.chunk, config.repeats)
        rows.append({"num_candidates": k, "algorithm": algorithm,
                     "estimator": estimator, "steps_per_second": sps})
        print(f"K={k:3d} {algorithm:15s} {estimator:8s} {sps:9.1f} steps/s",
              flush=True)
  dev = jax.devices()[0]
  machine = config.machine or f"{platform.processor() or platform.machine()}"
  lines = [
      "## NLHF trainers: train steps per second",
      "",
      f"Batch {config.batch_size} prompts, policy head hidden 64, population "
      f"oracle; one step = one optax update (oracle queries, loss, "
      f"gradient); {config.chunk} steps per jitted `lax.scan` call, median "
      f"of {config.repeats} calls after compilation. Device: "
      f"{dev.platform} ({dev.device_kind}); machine: {machine}; jax "
      f"{jax.__version__}; {time.strftime('%Y-%m-%d')}.",
      "",
      "| K | algorithm | estimator | steps/s |",
      "|---|---|---|---|",
  ] + [f"| {r['num_candidates']} | {r['algorithm']} | {r['estimator']} | "
       f"{r['steps_per_second']:.1f} |" for r in rows] + [
           "",
           "Command: `python -m experiments.benchmark_nlhf --workdir=DIR "
           "--config=experiments/configs/benchmark_nlhf.py:"
           f"{config.preset}`; GPU: `pip install -e .[cuda12]` then "
           "`python -m experiments.benchmark_nlhf --workdir=DIR "
           "--config=experiments/configs/benchmark_nlhf.py:full "
           "--config.chunk=100`.",
           ""]
  text = "\n".join(lines)
  common.write_csv(os.path.join(workdir, "benchmark_nlhf.csv"), rows)
  common.atomic_write_text(os.path.join(workdir, "benchmark_nlhf.md"), text)
  return text


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/benchmark_nlhf.py")
