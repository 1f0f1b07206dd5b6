r"""Benchmark: NLHF train steps per second (batch 256, K in {8, 64}).

Times the jitted training chunk of ``nash_align.nlhf.training`` (``chunk``
optax updates in one ``lax.scan``) on the population oracle, after one warm-up
call that compiles it, for each algorithm and estimator; reports median steps
per second over ``repeats`` timed calls.

CPU (as in BENCHMARKS.md)::

  python -m experiments.benchmark_nlhf --preset=quick --output=/tmp/nlhf.md

GPU (install ``jax[cuda12]``, i.e. ``pip install -e .[cuda12]``; JAX then
places everything on the first GPU)::

  python -m experiments.benchmark_nlhf --preset=full --chunk=100 \
      --output=/tmp/nlhf_gpu.md
"""

import platform
import statistics
import time

from absl import app
from absl import flags
from flax import nnx
import jax
import jax.numpy as jnp

from nash_align.nlhf import algorithms as algos
from nash_align.nlhf import policy as policy_lib
from nash_align.nlhf import training

def benchmark(num_candidates: int, algorithm: str, estimator: str,
              batch_size: int = 256, chunk: int = 10, repeats: int = 3,
              num_prompts: int = 1024) -> float:
  """Median train steps per second of one configuration."""
  cfg = training._resolve(dict(  # pylint: disable=protected-access
      num_candidates=num_candidates, algorithm=algorithm, estimator=estimator,
      batch_size=batch_size, num_prompts=num_prompts, model_steps=50,
      eval_every=chunk, num_steps=chunk, checkpoint_every=chunk,
      progress=False))
  task, _, reward_oracle = training.build_task(cfg)
  model = policy_lib.PolicyHead(task.prompt_features.shape[-1],
                                task.candidate_features.shape[-1],
                                cfg["hidden_dim"], rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(model)
  opt_state = training._optimizer(cfg["learning_rate"]).init(params)  # pylint: disable=protected-access
  hp = algos.Hyperparams(tau=cfg["tau"], beta=cfg["beta"], eta=cfg["eta"],
                         estimator=estimator,
                         num_samples=cfg["num_samples"],
                         num_opponents=cfg["num_opponents"],
                         num_proposals=cfg["num_proposals"],
                         rs_shift=cfg["rs_shift"])
  static = training._Static(graphdef=graphdef, algorithm=algorithm, hp=hp,  # pylint: disable=protected-access
                            learning_rate=cfg["learning_rate"],
                            batch_size=batch_size, num_steps=chunk)
  key = jax.random.PRNGKey(0)
  run = lambda p, o, s: training._train_chunk(  # pylint: disable=protected-access
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


def main(argv):
  FLAGS = flags.FLAGS  # pylint: disable=invalid-name
  if len(argv) > 1:
    raise app.UsageError("Too many command-line arguments.")
  algorithms = (["nash_rs", "rlhf"] if FLAGS.preset == "quick"
                else sorted(algos.ALGORITHMS))
  rows = []
  for k in [int(v) for v in FLAGS.num_candidates]:
    for algorithm in algorithms:
      for estimator in algos.ESTIMATORS:
        sps = benchmark(k, algorithm, estimator, FLAGS.batch_size, FLAGS.chunk,
                        FLAGS.repeats)
        rows.append((k, algorithm, estimator, sps))
        print(f"K={k:3d} {algorithm:15s} {estimator:8s} {sps:9.1f} steps/s",
              flush=True)
  dev = jax.devices()[0]
  machine = FLAGS.machine or f"{platform.processor() or platform.machine()}"
  lines = [
      "## NLHF trainers: train steps per second",
      "",
      f"Batch {FLAGS.batch_size} prompts, policy head hidden 64, population "
      f"oracle; one step = one optax update (oracle queries, loss, "
      f"gradient); {FLAGS.chunk} steps per jitted `lax.scan` call, median "
      f"of {FLAGS.repeats} calls after compilation. Device: "
      f"{dev.platform} ({dev.device_kind}); machine: {machine}; jax "
      f"{jax.__version__}; {time.strftime('%Y-%m-%d')}.",
      "",
      "| K | algorithm | estimator | steps/s |",
      "|---|---|---|---|",
  ] + [f"| {k} | {a} | {e} | {s:.1f} |" for k, a, e, s in rows] + [
      "",
      "Command: `python -m experiments.benchmark_nlhf --preset="
      f"{FLAGS.preset}`; GPU: `pip install -e .[cuda12]` then "
      "`python -m experiments.benchmark_nlhf --preset=full --chunk=100`.",
      ""]
  text = "\n".join(lines)
  print(text)
  if FLAGS.output:
    from experiments import common  # pylint: disable=g-import-not-at-top
    common.atomic_write_text(FLAGS.output, text)


def _define_flags():
  """Defines the binary's flags (only when run as a script)."""
  flags.DEFINE_enum("preset", "quick", ["quick", "full"],
                    "quick: nash_rs + rlhf; full: every algorithm.")
  flags.DEFINE_integer("batch_size", 256, "Prompts per step.")
  flags.DEFINE_list("num_candidates", ["8", "64"], "K values.")
  flags.DEFINE_integer("chunk", 10, "Steps per jitted call.")
  flags.DEFINE_integer("repeats", 3, "Timed calls.")
  flags.DEFINE_string("output", None, "Markdown output path.")
  flags.DEFINE_string("machine", "", "Machine description.")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
