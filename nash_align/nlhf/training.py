"""Training loop: jitted optax updates, evaluation, logging, checkpoints.

:func:`train` builds the task (oracle), the policy head and the optimizer from
a flat configuration (:data:`DEFAULT_CONFIG`), resumes from the latest orbax
checkpoint under ``workdir/checkpoints`` when there is one, and alternates

* ``eval_every`` optimisation steps, run as one ``lax.scan`` inside one
  ``jit`` (step ``t`` uses the key ``fold_in(train_key, t)``, so the run
  depends only on the seed, never on where it was interrupted), and
* an evaluation on the held-out prompts (:mod:`nash_align.nlhf.metrics`),
  appended to ``workdir/metrics.csv`` and to TensorBoard event files under
  ``workdir/tensorboard`` (tensorboardX), with a tqdm progress bar.

A run killed and restarted with the same workdir and configuration ends with
the same metrics as an uninterrupted one.
"""

import csv
import functools
import io
import json
import os
from typing import Any, NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from nash_align import atomic_io
from nash_align.nlhf import algorithms as algos
from nash_align.nlhf import checkpoint as ckpt_lib
from nash_align.nlhf import metrics as metrics_lib
from nash_align.nlhf import oracles
from nash_align.nlhf import policy as policy_lib

__all__ = (
    "DEFAULT_CONFIG",
    "ORACLES",
    "TrainSpec",
    "build_task",
    "evaluate",
    "hyperparams",
    "optimizer",
    "resolve_config",
    "train",
    "train_chunk",
)

ORACLES = ("learned", "population", "qlora_gpt4")

DEFAULT_CONFIG: dict[str, Any] = dict(
    seed=0,
    # Oracle / task.
    oracle="population",  # population | qlora_gpt4 | learned
    num_prompts=256,
    num_candidates=8,
    num_groups=3,
    prompt_dim=8,
    candidate_dim=8,
    utility_scale=6.0,
    reference_temperature=1.0,
    eval_fraction=0.25,
    # Learned preference model (oracle="learned") and RLHF reward model.
    model_hidden_dim=64,
    model_steps=400,
    model_batch_size=256,
    model_learning_rate=3e-3,
    # Policy and optimisation.
    algorithm="nash_rs",
    estimator="exact",
    hidden_dim=64,
    learning_rate=3e-3,
    batch_size=64,
    num_steps=200,
    tau=0.05,
    beta=0.1,
    eta=1.0,
    num_samples=8,
    num_opponents=8,
    num_proposals=32,
    rs_shift=True,  # Nash-RS envelope exp(-(g - min g)/tau); False: paper's
    rs_until_accept=False,  # Nash-RS: first rs_num_accept accepted (capped)
    rs_num_accept=1,
    # Evaluation, logging, checkpoints.
    eval_every=20,
    eval_samples=64,
    checkpoint_every=40,
    max_to_keep=2,
    progress=True,
    tensorboard=True,
)

# Entries that do not change a run's trajectory (allowed to differ on resume).
_NOT_FINGERPRINTED = ("num_steps", "progress", "tensorboard", "max_to_keep")


def resolve_config(config) -> dict[str, Any]:
  """:data:`DEFAULT_CONFIG` overridden by ``config``, checked.

  Args:
    config: a mapping, an ``ml_collections.ConfigDict`` or None.

  Returns:
    The full flat configuration dict :func:`train` runs.

  Raises:
    ValueError: naming an unknown entry, algorithm, oracle or estimator, a
      non-positive step count or batch size, step counts that are not
      multiples of ``eval_every``, or a negative ``tau`` (``tau <= 0`` for
      ``nash_rs``).
  """
  if config is None:
    config = {}
  if hasattr(config, "to_dict"):
    config = config.to_dict()
  unknown = sorted(set(config) - set(DEFAULT_CONFIG))
  if unknown:
    raise ValueError(f"unknown config entries {unknown}; known: "
                     f"{sorted(DEFAULT_CONFIG)}.")
  cfg = dict(DEFAULT_CONFIG, **config)
  algos.get_algorithm(cfg["algorithm"])
  if cfg["oracle"] not in ORACLES:
    raise ValueError(f"unknown oracle {cfg['oracle']!r}; expected one of "
                     f"{ORACLES}.")
  if cfg["estimator"] not in algos.ESTIMATORS:
    raise ValueError(f"unknown estimator {cfg['estimator']!r}; expected one "
                     f"of {algos.ESTIMATORS}.")
  for name in ("num_steps", "eval_every", "checkpoint_every", "batch_size"):
    if int(cfg[name]) <= 0:
      raise ValueError(f"{name} must be positive, got {cfg[name]}.")
  if cfg["num_steps"] % cfg["eval_every"] or (
      cfg["checkpoint_every"] % cfg["eval_every"]):
    raise ValueError(
        "num_steps and checkpoint_every must be multiples of eval_every "
        f"(got {cfg['num_steps']}, {cfg['checkpoint_every']}, "
        f"{cfg['eval_every']}).")
  if cfg["tau"] < 0 or (cfg["algorithm"] == "nash_rs" and cfg["tau"] <= 0):
    raise ValueError(f"tau must be > 0 (>= 0 except nash_rs), got "
                     f"{cfg['tau']}.")
  return cfg


def build_task(cfg: dict[str, Any]):
  """``(train_task, eval_oracle, reward_oracle)`` for a resolved config.

  ``oracle="learned"`` trains a :class:`~nash_align.nlhf.oracles.PreferenceModel`
  on labels from the population oracle and trains the policy against it, while
  metrics use the true population oracle. For ``algorithm="rlhf"`` a
  Bradley-Terry :class:`~nash_align.nlhf.oracles.RewardModel` is fitted to
  labels of the training oracle (``reward_oracle``; None otherwise). Both
  fits are deterministic functions of the seed.
  """
  key = jax.random.PRNGKey(cfg["seed"])
  k_task, k_learn, k_reward = (jax.random.fold_in(key, i) for i in (1, 2, 3))
  if cfg["oracle"] == "qlora_gpt4":
    task = oracles.qlora_task(k_task, prompt_dim=cfg["prompt_dim"],
                              eval_fraction=cfg["eval_fraction"])
  else:
    task = oracles.population_task(
        k_task, num_prompts=cfg["num_prompts"],
        num_candidates=cfg["num_candidates"], num_groups=cfg["num_groups"],
        prompt_dim=cfg["prompt_dim"], candidate_dim=cfg["candidate_dim"],
        utility_scale=cfg["utility_scale"],
        reference_temperature=cfg["reference_temperature"],
        eval_fraction=cfg["eval_fraction"])
  task.validate()
  eval_oracle = task.oracle
  fit = dict(hidden_dim=cfg["model_hidden_dim"], num_steps=cfg["model_steps"],
             batch_size=cfg["model_batch_size"],
             learning_rate=cfg["model_learning_rate"])
  if cfg["oracle"] == "learned":
    task = oracles.learned_task(k_learn, task, model="preference", **fit)
  reward_oracle = None
  if cfg["algorithm"] == "rlhf":
    reward_oracle = oracles.learned_task(k_reward, task, model="reward",
                                         **fit).oracle
  return task, eval_oracle, reward_oracle


def hyperparams(cfg: dict[str, Any]) -> algos.Hyperparams:
  """The loss hyperparameters of a resolved config, checked."""
  hp = algos.Hyperparams(
      tau=float(cfg["tau"]), beta=float(cfg["beta"]), eta=float(cfg["eta"]),
      estimator=cfg["estimator"], num_samples=int(cfg["num_samples"]),
      num_opponents=int(cfg["num_opponents"]),
      num_proposals=int(cfg["num_proposals"]),
      rs_shift=bool(cfg["rs_shift"]),
      rs_until_accept=bool(cfg["rs_until_accept"]),
      rs_num_accept=int(cfg["rs_num_accept"]))
  algos.check_hyperparams(hp)
  return hp


class TrainSpec(NamedTuple):
  """The static (hashable) settings of :func:`train_chunk`.

  Attributes:
    graphdef: the policy head's ``nnx.GraphDef`` (``nnx.split(model)[0]``).
    algorithm: a name in :data:`nash_align.nlhf.algorithms.ALGORITHMS`.
    hp: the loss hyperparameters.
    learning_rate: Adam learning rate.
    batch_size: prompts per update.
    num_steps: updates per call.
  """

  graphdef: Any
  algorithm: str
  hp: algos.Hyperparams
  learning_rate: float
  batch_size: int
  num_steps: int


def optimizer(learning_rate: float) -> optax.GradientTransformation:
  """The trainers' optax optimizer: global-norm clipping at 1, then Adam."""
  return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(learning_rate))


def _batch(task, prompt):
  return algos.Batch(prompt=prompt,
                     prompt_features=task.prompt_features[prompt],
                     candidate_features=task.candidate_features[prompt],
                     mask=task.mask[prompt],
                     reference_logp=task.reference_logp(prompt))


def _batch_oracle(task, reward_oracle, prompt, estimator):
  if estimator == "exact":
    matrix = task.oracle.matrix(prompt)  # [B, K, K]

    def prefer(a, b):
      bidx = jnp.arange(prompt.shape[0]).reshape((-1,) + (1,) * (a.ndim - 1))
      return matrix[bidx, a, b]
  else:
    matrix = None

    def prefer(a, b):
      p = prompt.reshape((-1,) + (1,) * (max(a.ndim, b.ndim) - 1))
      return task.oracle.prob_prefer(p, a, b)
  reward = None if reward_oracle is None else reward_oracle.reward(prompt)
  return algos.BatchOracle(prefer=prefer, matrix=matrix, reward=reward)


@functools.partial(jax.jit, static_argnames=("static",))
def train_chunk(params, opt_state, start, train_key, task, reward_oracle,
                static: TrainSpec):
  """``static.num_steps`` optax updates from step ``start`` (one jitted scan).

  Step ``t`` draws its prompts and loss key from ``fold_in(train_key, t)``,
  so a run depends only on the key, not on how it is cut into chunks.

  Args:
    params: the policy head's ``nnx.State`` (``nnx.split(model)[1]``).
    opt_state: the state of :func:`optimizer`.
    start: int32 scalar, the index of the first step.
    train_key: PRNG key of the run (not consumed: steps fold it in).
    task: :class:`~nash_align.nlhf.oracles.PreferenceTask` (features, mask,
      reference, oracle).
    reward_oracle: the fitted reward model for ``"rlhf"``, else None.
    static: :class:`TrainSpec`.

  Returns:
    ``(params, opt_state, aux)`` after the updates; ``aux`` holds the mean
    over the chunk of the loss and of the algorithm's diagnostics.
  """
  loss_fn_algo = algos.get_algorithm(static.algorithm)
  tx = optimizer(static.learning_rate)
  hp = static.hp

  def loss_fn(params, batch, oracle, key):
    model = nnx.merge(static.graphdef, params)
    logp = model(batch.prompt_features, batch.candidate_features, batch.mask,
                 batch.reference_logp)
    return loss_fn_algo(logp, batch, oracle, key, hp)

  def step(carry, t):
    params, opt_state = carry
    k_prompt, k_loss = jax.random.split(jax.random.fold_in(train_key, t))
    prompt = jax.random.choice(k_prompt, task.train_prompts,
                               (static.batch_size,))
    batch = _batch(task, prompt)
    oracle = _batch_oracle(task, reward_oracle, prompt, hp.estimator)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, batch, oracle, k_loss)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return (params, opt_state), dict(aux, loss=loss)

  (params, opt_state), aux = jax.lax.scan(
      step, (params, opt_state), start + jnp.arange(static.num_steps))
  return params, opt_state, jax.tree.map(jnp.mean, aux)


@functools.partial(jax.jit, static_argnames=("graphdef", "num_samples"))
def _evaluate(params, task, eval_oracle, lottery, key, graphdef,
              num_samples: int):
  ids = task.eval_prompts
  model = nnx.merge(graphdef, params)
  ref = task.reference_logp(ids)
  logp = model(task.prompt_features[ids], task.candidate_features[ids],
               task.mask[ids], ref)
  P = eval_oracle.matrix(ids)
  m = metrics_lib.policy_metrics(logp, ref, task.mask[ids], P, lottery)
  out = {k: jnp.mean(v) for k, v in m.items()}
  est = metrics_lib.sampled_win_rate(key, logp, ref, P, num_samples)
  out.update(win_rate_sampled=est.mean, win_rate_sampled_low=est.low,
             win_rate_sampled_high=est.high)
  return out


def evaluate(model: policy_lib.PolicyHead, task, eval_oracle=None,
             lottery=None, key=None, num_samples: int = 64) -> dict:
  """Mean metrics of ``model`` over ``task.eval_prompts`` (python floats)."""
  graphdef, params = nnx.split(model)
  key = jax.random.PRNGKey(0) if key is None else key
  out = _evaluate(params, task, eval_oracle or task.oracle, lottery, key,
                  graphdef, num_samples)
  return {k: float(v) for k, v in out.items()}


def _write_csv(path: str, rows: list[dict]) -> None:
  buf = io.StringIO()
  fields = []
  for r in rows:
    fields += [k for k in r if k not in fields]
  writer = csv.DictWriter(buf, fieldnames=fields)
  writer.writeheader()
  writer.writerows(rows)
  atomic_io.atomic_write_text(path, buf.getvalue())


def train(config=None, workdir: str | None = None,
          stop_after: int | None = None,
          task: oracles.PreferenceTask | None = None,
          reward_oracle: oracles.LearnedOracle | None = None
          ) -> dict[str, Any]:
  """Trains an NLHF (or RLHF) policy head; resumes from ``workdir``.

  Args:
    config: mapping (or ``ml_collections.ConfigDict``) overriding
      :data:`DEFAULT_CONFIG`; unknown entries raise ValueError.
    workdir: output directory (``metrics.csv``, ``metrics.json``,
      ``tensorboard/``, ``checkpoints/``); None trains without writing.
    stop_after: stop once this many steps are done (as if the process were
      killed after the last checkpoint); used to test resumption.
    task: optional custom :class:`~nash_align.nlhf.oracles.PreferenceTask`
      (validated: features, mask, reference, oracle) replacing the one the
      config describes; its oracle is both trained against and evaluated.
      Pass the same task when resuming (only the config is fingerprinted).
    reward_oracle: with ``task`` and ``algorithm="rlhf"``, the Bradley-Terry
      reward model (a :class:`~nash_align.nlhf.oracles.LearnedOracle` holding
      a :class:`~nash_align.nlhf.oracles.RewardModel`) to maximise; None fits
      one to labels sampled from ``task.oracle``.

  Returns:
    dict with ``history`` (one row per evaluation, step 0 included),
    ``final`` (the last row), ``config`` and, when finished, ``steps``.

  Raises:
    ValueError: bad configuration or task data.
    nash_align.nlhf.checkpoint.CheckpointError: a checkpoint in ``workdir``
      is corrupt or from another configuration.
  """
  cfg = resolve_config(config)
  if task is None:
    task, eval_oracle, reward_oracle = build_task(cfg)
  else:
    task.validate()
    eval_oracle = task.oracle
    if cfg["algorithm"] != "rlhf":
      reward_oracle = None
    elif reward_oracle is None:
      reward_oracle = oracles.learned_task(
          jax.random.fold_in(jax.random.PRNGKey(cfg["seed"]), 3), task,
          model="reward", hidden_dim=cfg["model_hidden_dim"],
          num_steps=cfg["model_steps"], batch_size=cfg["model_batch_size"],
          learning_rate=cfg["model_learning_rate"]).oracle
  hp = hyperparams(cfg)
  key = jax.random.PRNGKey(cfg["seed"])
  k_init, train_key, eval_key = (jax.random.fold_in(key, i) for i in (4, 5, 6))
  model = policy_lib.PolicyHead(
      task.prompt_features.shape[-1], task.candidate_features.shape[-1],
      cfg["hidden_dim"], rngs=nnx.Rngs(k_init))
  graphdef, params = nnx.split(model)
  opt_state = optimizer(cfg["learning_rate"]).init(params)
  ids = np.asarray(task.eval_prompts)
  lottery = jnp.asarray(metrics_lib.maximal_lotteries(
      eval_oracle.matrix(jnp.asarray(ids)), np.asarray(task.mask)[ids]),
                        task.prompt_features.dtype)
  static = TrainSpec(graphdef=graphdef, algorithm=cfg["algorithm"], hp=hp,
                   learning_rate=float(cfg["learning_rate"]),
                   batch_size=int(cfg["batch_size"]),
                   num_steps=int(cfg["eval_every"]))

  def run_eval(params, step):
    out = _evaluate(params, task, eval_oracle, lottery,
                    jax.random.fold_in(eval_key, step), graphdef,
                    int(cfg["eval_samples"]))
    return {"step": int(step), **{k: float(v) for k, v in out.items()}}

  history: list[dict] = []
  start = 0
  checkpointer = writer = None
  if workdir is not None:
    fp = ckpt_lib.fingerprint(
        {k: v for k, v in cfg.items() if k not in _NOT_FINGERPRINTED})
    checkpointer = ckpt_lib.Checkpointer(
        os.path.join(workdir, "checkpoints"), cfg["checkpoint_every"],
        cfg["max_to_keep"], fp)
    template = {"params": params, "opt_state": opt_state, "key": train_key}
    restored = checkpointer.restore(template)
    if restored is not None:
      start, state, meta = restored
      params, opt_state = state["params"], state["opt_state"]
      if not np.array_equal(np.asarray(state["key"]), np.asarray(train_key)):
        raise ckpt_lib.CheckpointError(
            "checkpoint RNG key differs from this run's seed.")
      history = list(meta["history"])
    if cfg["tensorboard"]:
      import tensorboardX  # pylint: disable=g-import-not-at-top
      writer = tensorboardX.SummaryWriter(
          os.path.join(workdir, "tensorboard"),
          purge_step=start + 1 if start else None)

  def log(row):
    history.append(row)
    if writer is not None:
      for k, v in row.items():
        if k != "step":
          writer.add_scalar(k, v, row["step"])
      writer.flush()
    if workdir is not None:
      _write_csv(os.path.join(workdir, "metrics.csv"), history)

  if not history:
    log(run_eval(params, 0))
  end = int(cfg["num_steps"])
  if stop_after is not None:
    end = min(end, int(stop_after))
  from tqdm import auto as tqdm  # pylint: disable=g-import-not-at-top
  bar = tqdm.tqdm(total=int(cfg["num_steps"]), initial=start,
                  disable=not cfg["progress"], desc=cfg["algorithm"],
                  leave=False)
  step = start
  while step < end:
    params, opt_state, aux = train_chunk(
        params, opt_state, jnp.int32(step), train_key, task, reward_oracle,
        static)
    step += static.num_steps
    row = run_eval(params, step)
    row.update({f"train_{k}": float(v) for k, v in aux.items()})
    log(row)
    bar.update(static.num_steps)
    bar.set_postfix(win=f"{row['win_rate_vs_reference']:.3f}",
                    expl=f"{row['exploitability']:.3f}")
    if checkpointer is not None:
      checkpointer.save(step, {"params": params, "opt_state": opt_state,
                               "key": train_key}, {"history": history})
  bar.close()
  if writer is not None:
    writer.close()
  result = {"history": history, "final": history[-1], "config": cfg,
            "params": params, "graphdef": graphdef, "task": task,
            "eval_oracle": eval_oracle}
  if checkpointer is not None:
    checkpointer.close()
  if step >= int(cfg["num_steps"]):
    result["steps"] = step
    if workdir is not None:
      final = dict(history[-1], steps=step, algorithm=cfg["algorithm"],
                   oracle=cfg["oracle"])
      atomic_io.atomic_write_text(os.path.join(workdir, "metrics.json"),
                                  json.dumps(final, indent=2, sort_keys=True))
  return result
