"""Preference oracles and the tasks they define.

Every oracle answers one question, batched: ``prob_prefer(prompt, a, b)``, the
probability that response ``a`` is preferred to response ``b`` on ``prompt``
(``prompt``, ``a`` and ``b`` are int32 arrays that broadcast together; ``a``
and ``b`` index the prompt's candidate set). ``matrix(prompt)`` returns the
prompt's whole preference matrix ``[..., K, K]`` (``P[a, b]``), which the exact
(small ``K``) estimators and the metrics use. Oracles are pytrees, so they pass
through ``jit`` as arguments.

Three oracles:

* :class:`PopulationOracle`: a population of labeler groups, each with
  prompt-dependent Bradley-Terry-Luce utilities ``u_g(x, y)``;
  ``P(a > b | x) = sum_g p_g sigmoid(u_g(x, a) - u_g(x, b))``, the preference
  of a random labeler of the mixture (Liu et al., arXiv:2503.10990, Sec. 3; a
  mixture of BTL models has Condorcet cycles although each group is
  transitive).
* :class:`EmpiricalOracle`: a table of per-prompt preference matrices from
  real judgments -- the QLoRA GPT-4 double round-robins of 7 chat models on
  317 OpenAssistant prompts (:func:`qlora_task`).
* :class:`LearnedOracle`: a flax model trained with optax on pairwise labels
  sampled from another oracle: the general preference model
  :class:`PreferenceModel` (antisymmetric by construction, able to represent
  cycles) or the Bradley-Terry reward model :class:`RewardModel` (the RLHF
  baseline's reward; it cannot represent a cycle).

A :class:`PreferenceTask` bundles features, candidate mask, the reference
policy and the oracle; :func:`population_task` and :func:`qlora_task` build
them, :func:`fit_pairwise_model` trains the learned models.
"""

import csv
import functools
import os
from typing import Any

import flax
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from nash_align import _validation
from nash_align.nlhf import policy as policy_lib

__all__ = (
    "EmpiricalOracle",
    "LearnedOracle",
    "PopulationOracle",
    "PreferenceModel",
    "PreferenceOracle",
    "PreferenceTask",
    "RewardModel",
    "check_oracle",
    "fit_pairwise_model",
    "learned_task",
    "population_task",
    "qlora_matrices",
    "qlora_task",
)


class PreferenceOracle:
  """Interface: ``prob_prefer(prompt, a, b)`` and ``matrix(prompt)``."""

  num_candidates: int

  def prob_prefer(self, prompt, a, b):
    """``P(a > b | prompt)``; int32 ``prompt, a, b`` broadcast to ``[...]``."""
    raise NotImplementedError

  def matrix(self, prompt):
    """``[..., K, K]`` preference matrices of the prompts ``[...]``."""
    prompt = jnp.asarray(prompt)
    k = self.num_candidates
    idx = jnp.arange(k, dtype=jnp.int32)
    return self.prob_prefer(prompt[..., None, None], idx[:, None],
                            idx[None, :])


@flax.struct.dataclass
class PopulationOracle(PreferenceOracle):
  """Mixture of BTL labeler groups with prompt-dependent utilities.

  ``P(a > b | x) = sum_g p_g sigmoid(u[x, g, a] - u[x, g, b])``.

  Attributes:
    utilities: ``[N, G, K]`` utility of candidate ``k`` of prompt ``x`` for
      labeler group ``g``.
    group_probs: ``[G]`` share of each group in the population.
  """

  utilities: Any  # [N, G, K]
  group_probs: Any  # [G]

  @property
  def num_candidates(self) -> int:
    return self.utilities.shape[-1]

  def prob_prefer(self, prompt, a, b):
    prompt, a, b = jnp.broadcast_arrays(jnp.asarray(prompt), jnp.asarray(a),
                                        jnp.asarray(b))
    ua = self.utilities[prompt, :, a]  # [..., G]
    ub = self.utilities[prompt, :, b]  # [..., G]
    return jax.nn.sigmoid(ua - ub) @ self.group_probs

  def matrix(self, prompt):
    u = self.utilities[jnp.asarray(prompt)]  # [..., G, K]
    d = jax.nn.sigmoid(u[..., :, None] - u[..., None, :])  # [..., G, K, K]
    return jnp.einsum("g,...gij->...ij", self.group_probs, d)


@flax.struct.dataclass
class EmpiricalOracle(PreferenceOracle):
  """A table of per-prompt preference matrices ``[N, K, K]``."""

  matrices: Any  # [N, K, K]

  @property
  def num_candidates(self) -> int:
    return self.matrices.shape[-1]

  def prob_prefer(self, prompt, a, b):
    prompt, a, b = jnp.broadcast_arrays(jnp.asarray(prompt), jnp.asarray(a),
                                        jnp.asarray(b))
    return self.matrices[prompt, a, b]

  def matrix(self, prompt):
    return self.matrices[jnp.asarray(prompt)]


class _MLP(nnx.Module):

  def __init__(self, din, hidden, *, rngs):
    self.l1 = nnx.Linear(din, hidden, rngs=rngs)
    self.l2 = nnx.Linear(hidden, hidden, rngs=rngs)
    self.l3 = nnx.Linear(hidden, 1, rngs=rngs)

  def __call__(self, x):
    return self.l3(jax.nn.gelu(self.l2(jax.nn.gelu(self.l1(x)))))[..., 0]


class PreferenceModel(nnx.Module):
  """General preference model ``P(a > b | x) = sigmoid(s(x,a,b) - s(x,b,a))``.

  ``s`` is an MLP on ``[z_x, e_a, e_b]``; the difference makes the model
  antisymmetric (``P(a, b) + P(b, a) = 1``, ``P(a, a) = 1/2``) for every
  parameter value, and, unlike a reward model, it can represent Condorcet
  cycles (Munos et al. 2023, arXiv:2312.00886, Sec. 3: a preference model
  conditioned on both responses).
  """

  def __init__(self, prompt_dim, candidate_dim, hidden_dim=64, *, rngs):
    self.score = _MLP(prompt_dim + 2 * candidate_dim, hidden_dim, rngs=rngs)

  def logit(self, z, ea, eb):
    """``[..., d], [..., d'], [..., d'] -> [...]`` preference log-odds."""
    return (self.score(jnp.concatenate([z, ea, eb], -1))
            - self.score(jnp.concatenate([z, eb, ea], -1)))


class RewardModel(nnx.Module):
  """Bradley-Terry reward model ``P(a > b | x) = sigmoid(r(x,a) - r(x,b))``.

  The RLHF baseline (Christiano et al. 2017; Ouyang et al. 2022): a scalar
  reward per response, hence transitive preferences only.
  """

  def __init__(self, prompt_dim, candidate_dim, hidden_dim=64, *, rngs):
    self.score = _MLP(prompt_dim + candidate_dim, hidden_dim, rngs=rngs)

  def reward(self, z, e):
    """``[..., d], [..., d'] -> [...]`` rewards."""
    return self.score(jnp.concatenate([z, e], -1))

  def logit(self, z, ea, eb):
    return self.reward(z, ea) - self.reward(z, eb)


@flax.struct.dataclass
class LearnedOracle(PreferenceOracle):
  """A trained :class:`PreferenceModel` or :class:`RewardModel` as an oracle.

  Attributes:
    graphdef: static NNX graph definition of the model.
    params: the model's ``nnx.State``.
    prompt_features: ``[N, d]``.
    candidate_features: ``[N, K, d']``.
  """

  graphdef: Any = flax.struct.field(pytree_node=False)
  params: Any
  prompt_features: Any  # [N, d]
  candidate_features: Any  # [N, K, d']

  @property
  def num_candidates(self) -> int:
    return self.candidate_features.shape[-2]

  def model(self):
    return nnx.merge(self.graphdef, self.params)

  def prob_prefer(self, prompt, a, b):
    prompt, a, b = jnp.broadcast_arrays(jnp.asarray(prompt), jnp.asarray(a),
                                        jnp.asarray(b))
    z = self.prompt_features[prompt]
    ea = self.candidate_features[prompt, a]
    eb = self.candidate_features[prompt, b]
    return jax.nn.sigmoid(self.model().logit(z, ea, eb))

  def reward(self, prompt):
    """``[...] -> [..., K]`` rewards (only for a :class:`RewardModel`)."""
    model = self.model()
    if not isinstance(model, RewardModel):
      raise ValueError("reward() needs a LearnedOracle holding a RewardModel.")
    prompt = jnp.asarray(prompt)
    z = self.prompt_features[prompt][..., None, :]
    e = self.candidate_features[prompt]
    z = jnp.broadcast_to(z, e.shape[:-1] + z.shape[-1:])
    return model.reward(z, e)


@flax.struct.dataclass
class PreferenceTask:
  """Prompts, candidate sets, reference policy and oracle of one NLHF problem.

  Attributes:
    prompt_features: ``[N, d]``.
    candidate_features: ``[N, K, d']``.
    mask: ``[N, K]`` bool, True for real candidates (>= 2 per prompt).
    reference: ``[N, K]`` reference policy ``mu`` (rows sum to 1, 0 on
      padding).
    oracle: the ground-truth :class:`PreferenceOracle`.
    train_prompts: ``[N_train]`` int32 prompt ids used for training.
    eval_prompts: ``[N_eval]`` int32 held-out prompt ids used for metrics.
  """

  prompt_features: Any
  candidate_features: Any
  mask: Any
  reference: Any
  oracle: Any
  train_prompts: Any
  eval_prompts: Any

  @property
  def num_candidates(self) -> int:
    return self.candidate_features.shape[1]

  def reference_logp(self, prompt):
    """``[...] -> [..., K]`` log-reference, ``MASKED_LOGIT`` on padding."""
    mu = self.reference[prompt]
    m = self.mask[prompt]
    return jnp.where(m, jnp.log(jnp.where(m, mu, 1.0)), policy_lib.MASKED_LOGIT)

  def validate(self) -> "PreferenceTask":
    """Checks features, mask, reference and the oracle on every prompt."""
    policy_lib.check_candidates(self.prompt_features, self.candidate_features,
                                self.mask)
    policy_lib.check_reference(self.reference, self.mask)
    n = self.prompt_features.shape[0]
    for name in ("train_prompts", "eval_prompts"):
      ids = np.asarray(getattr(self, name))
      if ids.ndim != 1 or ids.size == 0 or ids.min() < 0 or ids.max() >= n:
        raise ValueError(f"{name} must be a non-empty list of prompt ids in "
                         f"[0, {n}).")
    check_oracle(self.oracle, np.arange(n), mask=self.mask)
    return self


def check_oracle(oracle: PreferenceOracle, prompts, mask=None,
                 atol: float = 1e-5) -> None:
  """Checks an oracle's answers on ``prompts``: in ``[0, 1]``, ``P + P^T = 1``.

  Raises:
    ValueError: naming the first offending prompt and the violation.
  """
  prompts = np.asarray(prompts)
  for start in range(0, prompts.size, 256):
    chunk = prompts[start:start + 256]
    mats = np.asarray(oracle.matrix(jnp.asarray(chunk)), np.float64)
    if mask is not None:
      m = np.asarray(mask)[chunk]
      valid = m[:, :, None] & m[:, None, :]
      mats = np.where(valid, mats, 0.5)
    try:
      _validation.check_preference_matrix(mats, "oracle matrix", atol=atol)
    except ValueError as e:
      bad = np.argmax(
          np.any(~np.isfinite(mats) | (mats < -atol) | (mats > 1 + atol)
                 | (np.abs(mats + np.swapaxes(mats, -1, -2) - 1) > atol),
                 axis=(-1, -2)))
      raise ValueError(f"oracle {type(oracle).__name__} is not a valid "
                       f"preference oracle on prompt {int(chunk[bad])}: {e}"
                       ) from None


def _split_prompts(perm, eval_fraction):
  """Sorted ``(train, eval)`` prompt ids from a permutation of the prompts."""
  perm = np.asarray(perm)
  n = perm.size
  num_eval = max(1, int(round(n * eval_fraction)))
  return (jnp.asarray(np.sort(perm[num_eval:]), jnp.int32),
          jnp.asarray(np.sort(perm[:num_eval]), jnp.int32))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5, 6))
def _population_arrays(key, n, k, g, d, dc, dtype, scale, concentration,
                       temperature):
  """Features, utilities, group shares, reference and prompt permutation."""
  kz, ke, ka, kp, kr, ks = jax.random.split(key, 6)
  z = jax.random.normal(kz, (n, d), dtype)
  e = jax.random.normal(ke, (n, k, dc), dtype)
  a = jax.random.normal(ka, (g, dc, d), dtype)
  u = scale * jnp.einsum("nkc,gcd,nd->ngk", e, a, z) / np.sqrt(d * dc)
  # Logistic-normal group shares, log p ~ N(0, 1/c) (normalised).
  p = jax.nn.softmax(jax.random.normal(kp, (g,), dtype)
                     / jnp.sqrt(concentration))
  w = jax.random.normal(kr, (dc,), dtype)
  ref = jax.nn.softmax(e @ w / temperature, axis=-1)
  return z, e, u, p, ref, jax.random.permutation(ks, n)


def population_task(key, num_prompts: int = 256, num_candidates: int = 8,
                    num_groups: int = 3, prompt_dim: int = 8,
                    candidate_dim: int = 8, utility_scale: float = 6.0,
                    group_concentration: float = 10.0,
                    reference_temperature: float = 1.0,
                    eval_fraction: float = 0.25,
                    dtype=None) -> PreferenceTask:
  """Synthetic prompts and responses labelled by a population of groups.

  Prompt embeddings ``z_x ~ N(0, I_d)``, response embeddings
  ``e_{x,y} ~ N(0, I_{d'})``; group ``g`` has a random bilinear taste
  ``A_g`` and utility ``u_g(x, y) = s e_{x,y}^T A_g z_x / sqrt(d d')``, so the
  preferred response depends on the prompt and is a function of the features
  the policy sees. Group shares are logistic-normal, ``p = softmax(xi)`` with
  ``xi ~ N(0, I / c)`` (large ``c``: near-equal groups, whose majorities cycle
  most often). The reference policy is a
  softmax of a random linear score of the response embedding at
  ``reference_temperature`` (a "base model" that is not aligned with the
  population).

  Args:
    key: PRNG key (consumed).
    num_prompts: ``N``.
    num_candidates: ``K >= 2`` responses per prompt.
    num_groups: ``G`` labeler groups.
    prompt_dim: ``d``.
    candidate_dim: ``d'``.
    utility_scale: ``s``; larger makes each group's preferences sharper.
    group_concentration: concentration ``c`` of the group shares.
    reference_temperature: temperature of the reference's softmax (``inf``
      gives the uniform reference).
    eval_fraction: share of prompts held out for evaluation.
    dtype: float dtype (None: float32, or float64 when x64 is on).

  Returns:
    A :class:`PreferenceTask` with a :class:`PopulationOracle`.
  """
  if num_candidates < 2:
    raise ValueError(f"num_candidates must be >= 2, got {num_candidates}.")
  if num_groups < 1 or num_prompts < 2:
    raise ValueError("num_groups must be >= 1 and num_prompts >= 2.")
  dtype = dtype or jax.dtypes.canonicalize_dtype(jnp.float64)
  z, e, u, p, ref, perm = _population_arrays(
      key, num_prompts, num_candidates, num_groups, prompt_dim, candidate_dim,
      jnp.dtype(dtype).name, utility_scale, group_concentration,
      reference_temperature)
  train, ev = _split_prompts(perm, eval_fraction)
  return PreferenceTask(
      prompt_features=z, candidate_features=e,
      mask=jnp.ones((num_prompts, num_candidates), bool), reference=ref,
      oracle=PopulationOracle(utilities=u, group_probs=p),
      train_prompts=train, eval_prompts=ev)


QLORA_CSV = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data",
                         "files", "qlora_gpt4", "pairwise.csv")


def qlora_matrices(path: str | None = None):
  """Per-prompt preference matrices of the QLoRA GPT-4 round-robins.

  Uses ``nash_align.data.load("qlora_oa")``; with ``path``, reads that
  ``pairwise.csv`` directly (the test compares the two).
  Ties count half a win for each side; ``P[i, j] = C[i, j] / (C[i, j] +
  C[j, i])`` (each ordered pair is judged once per presentation order).

  Returns:
    ``(models, P)``: the 7 model names and float64 numpy ``[317, 7, 7]``.
  """
  if path is None:
    from nash_align import data  # pylint: disable=g-import-not-at-top
    ds = data.load("qlora_oa")
    _, counts = ds.per_prompt_array()
    counts = np.asarray(counts, np.float64)
    models = list(ds.alternatives)
  else:
    with open(path, newline="") as f:
      rows = list(csv.DictReader(f))
    models = sorted({r["model_a"] for r in rows} | {r["model_b"] for r in rows})
    prompts = sorted({r["prompt_id"] for r in rows})
    mi = {m: i for i, m in enumerate(models)}
    pi = {p: i for i, p in enumerate(prompts)}
    counts = np.zeros((len(prompts), len(models), len(models)))
    score = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}
    for r in rows:
      t, a, b = pi[r["prompt_id"]], mi[r["model_a"]], mi[r["model_b"]]
      s = score[r["winner"]]
      counts[t, a, b] += s
      counts[t, b, a] += 1.0 - s
  tot = counts + np.swapaxes(counts, -1, -2)
  with np.errstate(invalid="ignore", divide="ignore"):
    p = np.where(tot > 0, counts / np.where(tot > 0, tot, 1.0), 0.5)
  idx = np.arange(p.shape[-1])
  p[:, idx, idx] = 0.5
  return models, p


def qlora_task(key, prompt_dim: int = 8, eval_fraction: float = 0.25,
               path: str | None = None, dtype=None) -> PreferenceTask:
  """The QLoRA GPT-4 tournaments as an NLHF task (empirical oracle).

  Candidates are the 7 chat models' answers; a candidate's features are the
  one-hot identity of its model (the prompt text is not shipped, so prompts get
  seeded random embeddings ``z_x ~ N(0, I_d)``: the policy can only learn which
  model to answer with, prompt by prompt through memorisation of ``z_x``).
  The reference is uniform over the 7 models.

  Args:
    key: PRNG key (consumed).
    prompt_dim: ``d``.
    eval_fraction: share of prompts held out for evaluation.
    path: optional CSV path (``prompt_id, model_a, model_b, winner``).
    dtype: float dtype.
  """
  dtype = dtype or jax.dtypes.canonicalize_dtype(jnp.float64)
  _, p = qlora_matrices(path)
  n, k = p.shape[:2]
  kz, ks = jax.random.split(key)
  z = jax.random.normal(kz, (n, prompt_dim), dtype)
  e = jnp.broadcast_to(jnp.eye(k, dtype=dtype), (n, k, k))
  train, ev = _split_prompts(jax.random.permutation(ks, n), eval_fraction)
  return PreferenceTask(
      prompt_features=z, candidate_features=e, mask=jnp.ones((n, k), bool),
      reference=jnp.full((n, k), 1.0 / k, dtype),
      oracle=EmpiricalOracle(matrices=jnp.asarray(p, dtype)),
      train_prompts=train, eval_prompts=ev)


def fit_pairwise_model(key, model: nnx.Module, task: PreferenceTask,
                       num_steps: int = 500, batch_size: int = 256,
                       learning_rate: float = 3e-3) -> LearnedOracle:
  """Trains a pairwise model on labels sampled from ``task.oracle``.

  Each step draws ``batch_size`` training prompts, two distinct valid
  candidates ``a != b`` uniformly, and a label ``l ~ Bernoulli(P(a > b))``
  from the task's oracle, then takes an Adam step on the logistic loss
  ``-l log sigma(f) - (1 - l) log sigma(-f)`` with ``f = model.logit``. The
  loop is one ``lax.scan``; the key is consumed.

  Args:
    key: PRNG key.
    model: a :class:`PreferenceModel` or :class:`RewardModel` (its initial
      parameters are used; the module itself is not modified).
    task: the task whose oracle labels the data.
    num_steps: optimisation steps.
    batch_size: labelled pairs per step.
    learning_rate: Adam learning rate.

  Returns:
    A :class:`LearnedOracle` with the trained parameters.
  """
  graphdef, params = nnx.split(model)
  opt = optax.adam(learning_rate)
  k = task.num_candidates

  def loss_fn(params, prompt, a, b, label):
    m = nnx.merge(graphdef, params)
    f = m.logit(task.prompt_features[prompt],
                task.candidate_features[prompt, a],
                task.candidate_features[prompt, b])
    return jnp.mean(optax.sigmoid_binary_cross_entropy(f, label))

  def step(carry, t):
    params, opt_state = carry
    kp, ka, kb, kl = jax.random.split(jax.random.fold_in(key, t), 4)
    prompt = jax.random.choice(kp, task.train_prompts, (batch_size,))
    logits = jnp.where(task.mask[prompt], 0.0, -jnp.inf)
    a = jax.random.categorical(ka, logits)
    logits_b = jnp.where(jax.nn.one_hot(a, k, dtype=bool), -jnp.inf, logits)
    b = jax.random.categorical(kb, logits_b)
    p = task.oracle.prob_prefer(prompt, a, b)
    label = jax.random.bernoulli(kl, p).astype(p.dtype)
    loss, grads = jax.value_and_grad(loss_fn)(params, prompt, a, b, label)
    updates, opt_state = opt.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), loss

  @jax.jit
  def run(params):
    (params, _), losses = jax.lax.scan(step, (params, opt.init(params)),
                                       jnp.arange(num_steps))
    return params, losses

  params, _ = run(params)
  return LearnedOracle(graphdef=graphdef, params=params,
                       prompt_features=task.prompt_features,
                       candidate_features=task.candidate_features)


def learned_task(key, task: PreferenceTask, model: str = "preference",
                 hidden_dim: int = 64, num_steps: int = 500,
                 batch_size: int = 256,
                 learning_rate: float = 3e-3) -> PreferenceTask:
  """``task`` with its oracle replaced by a model fitted to its labels.

  Args:
    key: PRNG key (consumed).
    task: source task (its oracle labels the training pairs).
    model: ``"preference"`` (:class:`PreferenceModel`) or ``"reward"``
      (:class:`RewardModel`, Bradley-Terry).
    hidden_dim, num_steps, batch_size, learning_rate: see
      :func:`fit_pairwise_model`.
  """
  kinit, kfit = jax.random.split(key)
  classes = {"preference": PreferenceModel, "reward": RewardModel}
  if model not in classes:
    raise ValueError(f"unknown model {model!r}; expected one of "
                     f"{sorted(classes)}.")
  m = classes[model](task.prompt_features.shape[-1],
                     task.candidate_features.shape[-1], hidden_dim,
                     rngs=nnx.Rngs(kinit))
  oracle = fit_pairwise_model(kfit, m, task, num_steps=num_steps,
                              batch_size=batch_size,
                              learning_rate=learning_rate)
  return task.replace(oracle=oracle)
