r"""Bradley-Terry rewards fitted to pairwise win counts, and a majority fix.

RLHF's reward model is the Bradley-Terry (BT) maximum-likelihood estimate
``Pr(i beats j) = sigma(r_i - r_j)`` fitted to win counts ``c[i, j]`` (the
setting of arXiv:2506.12350, Xiao et al., "Theoretical Tensions in RLHF").

* :func:`fit` / :func:`fit_with_info`: the (optionally ridge-penalised) BT
  maximum-likelihood reward by damped Newton steps in a ``lax.while_loop``;
  jit- and vmap-compatible, any leading batch shape.
* :func:`log_likelihood`, :func:`win_probabilities`, :func:`ranking`,
  :func:`mle_exists` (Ford's condition).
* Conditions under which the BT reward is pairwise-majority and Condorcet
  consistent: :func:`is_balanced`, :func:`satisfies_majority_dominance`,
  :func:`is_strongly_stochastically_transitive` (Facts 1 and 2).
* A modified objective that is pairwise-majority and Condorcet consistent
  for every profile with all pairs judged: BT fitted to the per-pair
  majority labels (:func:`majority_counts`, :func:`majority_objective`,
  :func:`fit_majority`; Fact 3).

The condition and the modified objective are this library's formalisation,
consistent with the paper's abstract, not quotations of the paper. The
likelihood, the Newton step, Facts 1-3 and their proofs are in
``docs/bradley_terry.md``.

References: Bradley and Terry (1952); Ford (1957); Hunter, Ann. Statist. 32
(2004); Siththaranjan, Laidlaw and Hadfield-Menell, ICLR 2024 (BT = Borda);
Xiao et al., arXiv:2506.12350 (2025).
"""

import functools
from typing import Any, NamedTuple

import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from nash_align import _validation

Array = jax.Array

__all__ = (
    "BradleyTerryFit",
    "fit",
    "fit_majority",
    "fit_with_info",
    "is_balanced",
    "is_strongly_stochastically_transitive",
    "log_likelihood",
    "majority_counts",
    "majority_objective",
    "mle_exists",
    "ranking",
    "satisfies_majority_dominance",
    "win_probabilities",
)

# Step sizes tried by the backtracking line search, largest first.
_NUM_BACKTRACKS = 10


class BradleyTerryFit(NamedTuple):
  """Result of :func:`fit_with_info`.

  Attributes:
    scores: ``[..., n]`` log-strengths (rewards), centred to mean 0.
    grad_norm: ``[...]`` max-norm of the penalised log-likelihood's gradient
      at ``scores`` divided by ``max(1, max_i sum_j N_ij)``.
    iterations: ``[...]`` int32 Newton iterations taken.
    converged: ``[...]`` bool, ``grad_norm <= tol`` and the maximiser exists
      (``l2 > 0`` or :func:`mle_exists`).
  """

  scores: Any  # [..., n]
  grad_norm: Any  # [...]
  iterations: Any  # [...] int32
  converged: Any  # [...] bool


def _float_dtype(x: Any, dtype: Any) -> Any:
  if dtype is not None:
    return jnp.dtype(dtype)
  x_dtype = jnp.asarray(x).dtype
  if jnp.issubdtype(x_dtype, jnp.floating):
    return x_dtype
  return jnp.result_type(float)


def _check_counts(counts: Any, name: str, validate: bool) -> int:
  """Static shape checks and (concrete) value checks of win counts."""
  n = _validation.check_square(counts, name)
  dt = np.asarray(counts).dtype if _validation.is_concrete(counts) else (
      counts.dtype)
  if not (np.issubdtype(dt, np.number) or dt == np.bool_):
    raise ValueError(f"{name} must be numeric, got dtype {dt}.")
  if validate and _validation.is_concrete(counts):
    _validation.check_finite(counts, name)
    a = np.asarray(counts)
    if a.size and a.min() < 0:
      idx = np.unravel_index(np.argmin(a), a.shape)
      raise ValueError(
          f"{name} must hold non-negative win counts, found {a.min():.6g} at "
          f"index {tuple(int(i) for i in idx)}.")
  return n


def _eye(x: Array) -> Array:
  """Bool identity ``[1, ..., 1, n, n]`` of the same rank as ``x``."""
  n = x.shape[-1]
  return jnp.eye(n, dtype=bool).reshape((1,) * (x.ndim - 2) + (n, n))


def _prepare(counts: Any, dtype: Any) -> Array:
  """Counts as float ``dtype`` with a zero diagonal."""
  c = jnp.asarray(counts).astype(dtype)
  return jnp.where(_eye(c), jnp.zeros(c.shape, dtype), c)


def _default_tol(dtype: Any) -> float:
  return 1e-10 if jnp.dtype(dtype) == jnp.float64 else 2e-5


def _objective(theta: Array, c: Array, l2: Array) -> Array:
  d = theta[:, None] - theta[None, :]
  return jnp.sum(c * jax.nn.log_sigmoid(d)) - 0.5 * l2 * jnp.sum(theta**2)


def _gradient(theta: Array, c: Array, total: Array, l2: Array) -> Array:
  s = jax.nn.sigmoid(theta[:, None] - theta[None, :])
  return jnp.sum(c - total * s, axis=-1) - l2 * theta


def _fit_single(c: Array, l2: Array, num_steps: int, tol: float):
  """Damped Newton for one ``[n, n]`` count matrix (zero diagonal)."""
  n = c.shape[-1]
  dtype = c.dtype
  total = c + c.T  # N_ij
  scale = jnp.maximum(1.0, jnp.max(jnp.sum(total, axis=-1)))
  l2 = jnp.asarray(l2, dtype)
  eye = jnp.eye(n, dtype=dtype)
  ones = jnp.full((n, n), 1.0 / n, dtype)
  eps = jnp.finfo(dtype).eps
  # Tiny Levenberg-Marquardt damping keeps the solve defined when the
  # comparison graph is disconnected; it only slows convergence by a factor
  # ~ (1 + damping / lambda_min).
  damping = 16 * eps * scale
  steps = 0.5 ** jnp.arange(_NUM_BACKTRACKS, dtype=dtype)  # [T]

  def newton_direction(theta):
    d = theta[:, None] - theta[None, :]
    s = jax.nn.sigmoid(d)
    g = jnp.sum(c - total * s, axis=-1) - l2 * theta
    w = total * s * (1.0 - s)
    lap = jnp.diag(jnp.sum(w, axis=-1)) - w
    a = lap + (l2 + damping) * eye + ones
    delta = jnp.linalg.solve(a, g)
    return g, delta

  def cond(state):
    _, it, gnorm, stalled = state
    return (it < num_steps) & (gnorm > tol) & ~stalled

  def body(state):
    theta, it, _, _ = state
    g, delta = newton_direction(theta)
    f0 = _objective(theta, c, l2)
    trial = theta[None, :] + steps[:, None] * delta[None, :]  # [T, n]
    f = jax.vmap(_objective, in_axes=(0, None, None))(trial, c, l2)  # [T]
    slope = jnp.dot(g, delta)  # >= 0: ascent direction
    slack = 16 * eps * (jnp.abs(f0) + scale)
    ok = f >= f0 + 1e-4 * steps * slope - slack
    any_ok = jnp.any(ok)
    first = jnp.argmax(ok)
    new_theta = jnp.where(any_ok, trial[first], theta)
    new_theta = new_theta - jnp.mean(new_theta)
    gnorm = jnp.max(jnp.abs(_gradient(new_theta, c, total, l2))) / scale
    return new_theta, it + 1, gnorm, ~any_ok

  theta0 = jnp.zeros((n,), dtype)
  g0 = jnp.max(jnp.abs(_gradient(theta0, c, total, l2))) / scale
  state = (theta0, jnp.zeros((), jnp.int32), g0, jnp.zeros((), bool))
  theta, it, gnorm, _ = lax.while_loop(cond, body, state)
  exists = jnp.all(_reach(c > 0)) | (l2 > 0)
  return theta, gnorm, it, (gnorm <= tol) & exists


@functools.partial(jax.jit, static_argnames=("num_steps", "tol", "dtype"))
def _fit_batched(counts: Array, l2: Array, num_steps: int, tol: float,
                 dtype: Any):
  c = _prepare(counts, dtype)
  l2 = jnp.asarray(l2, dtype)
  batch_shape = c.shape[:-2]
  n = c.shape[-1]
  flat = c.reshape((-1, n, n))
  l2_flat = jnp.broadcast_to(l2, batch_shape).reshape((-1,))
  out = jax.vmap(_fit_single, in_axes=(0, 0, None, None))(
      flat, l2_flat, num_steps, tol)
  theta, gnorm, it, conv = out
  return BradleyTerryFit(
      scores=theta.reshape(batch_shape + (n,)),
      grad_norm=gnorm.reshape(batch_shape),
      iterations=it.reshape(batch_shape),
      converged=conv.reshape(batch_shape))


def fit_with_info(counts: Any, num_steps: int = 100, l2: Any = 0.0,
                  tol: float | None = None, dtype: Any = None,
                  validate: bool = True) -> BradleyTerryFit:
  r"""Bradley-Terry maximum likelihood with convergence information.

  Maximises the penalised log-likelihood

  .. math::
    \ell(r) = \sum_{i \ne j} c_{ij} \log \sigma(r_i - r_j)
              - \tfrac{\lambda}{2}\lVert r\rVert^2

  by damped Newton steps (``docs/bradley_terry.md``). The maximiser is unique
  and centred when ``l2 > 0``; when ``l2 == 0`` it exists iff the directed
  graph with an edge ``i -> j`` whenever ``c[i, j] > 0`` is strongly connected
  (Ford 1957; Hunter 2004, Assumption 1; :func:`mle_exists`). Otherwise
  (perfect separation, a never-winning or never-losing response, a
  disconnected comparison graph) the supremum is not attained: the iterates
  move off along the separating direction until the gradient falls below
  ``tol`` (scores of order ``log(1 / tol)``) or ``num_steps`` is reached,
  ``converged`` is False, and only the ordering of the result is meaningful.
  Pass ``l2 > 0`` to get a finite, unique answer in every case.

  Args:
    counts: ``[..., n, n]`` non-negative win counts, ``counts[..., i, j]`` =
      number of judgments preferring ``i`` to ``j`` (ties may be split as
      halves). The diagonal is ignored. Integer or float.
    num_steps: maximum number of Newton iterations (static).
    l2: ridge penalty ``lambda >= 0``; scalar or broadcastable to the batch
      shape ``[...]``. It is *not* rescaled by the number of judgments.
    tol: stop when ``max_i |grad_i| <= tol * max(1, max_i sum_j N_ij)``.
      Default ``1e-10`` in float64, ``2e-5`` in float32.
    dtype: float dtype of the result; ``None`` keeps a float input's dtype and
      uses float32 (float64 with x64 on) for integer input.
    validate: check values (non-negative, finite) when ``counts`` is concrete.

  Returns:
    :class:`BradleyTerryFit` with ``scores`` ``[..., n]`` centred to mean 0.

  Raises:
    ValueError: non-square or ``n < 2`` counts; negative, NaN or inf counts
      (concrete input); negative ``l2`` (concrete); ``num_steps < 1``.
  """
  _check_counts(counts, "counts", validate)
  if int(num_steps) < 1:
    raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
  if validate and _validation.is_concrete(l2):
    l2_np = np.asarray(l2)
    if not np.all(np.isfinite(l2_np)) or np.any(l2_np < 0):
      raise ValueError(f"l2 must be finite and >= 0, got {l2}.")
  dt = _float_dtype(counts, dtype)
  if tol is None:
    tol = _default_tol(dt)
  batch_shape = tuple(np.shape(counts)[:-2])
  try:
    np.broadcast_shapes(np.shape(l2), batch_shape)
    ok = len(np.shape(l2)) <= len(batch_shape)
  except ValueError:
    ok = False
  if not ok:
    raise ValueError(
        f"l2 must be a scalar or broadcastable to the batch shape "
        f"{batch_shape}, got shape {np.shape(l2)}.")
  return _fit_batched(counts, l2, int(num_steps), float(tol), dt)


def fit(counts: Any, num_steps: int = 100, l2: Any = 0.0,
        tol: float | None = None, dtype: Any = None,
        validate: bool = True) -> Array:
  """Bradley-Terry maximum-likelihood log-strengths (RLHF's reward model).

  See :func:`fit_with_info` for the objective, existence and arguments; this
  returns only the scores.

  Args:
    counts: ``[..., n, n]`` non-negative win counts.
    num_steps: maximum number of Newton iterations (static).
    l2: ridge penalty ``>= 0`` (scalar or batch-shaped).
    tol: gradient tolerance (relative to the largest row of ``N``).
    dtype: result float dtype (``None``: float32, or float64 with x64).
    validate: value checks on concrete input.

  Returns:
    ``[..., n]`` log-strengths centred to mean 0; ``ranking(fit(c))`` lists
    responses best-first.
  """
  return fit_with_info(counts, num_steps=num_steps, l2=l2, tol=tol,
                       dtype=dtype, validate=validate).scores


def log_likelihood(scores: Any, counts: Any, l2: Any = 0.0) -> Array:
  r"""Penalised BT log-likelihood of ``scores`` on ``counts``.

  ``sum_{i != j} c_ij log sigma(r_i - r_j) - l2 / 2 * |r|^2``.

  Args:
    scores: ``[..., n]`` log-strengths.
    counts: ``[..., n, n]`` win counts (diagonal ignored); batch shapes must
      broadcast.
    l2: ridge penalty.

  Returns:
    ``[...]`` log-likelihood (float dtype of ``scores``).
  """
  n = _validation.check_square(counts, "counts")
  scores = jnp.asarray(scores)
  if scores.shape[-1:] != (n,):
    raise ValueError(
        f"scores must have shape [..., {n}] to match counts {np.shape(counts)},"
        f" got {scores.shape}.")
  if not jnp.issubdtype(scores.dtype, jnp.floating):
    scores = scores.astype(jnp.result_type(float))
  return _log_likelihood(scores, counts, l2)


@jax.jit
def _log_likelihood(scores: Array, counts: Array, l2: Any) -> Array:
  c = _prepare(counts, scores.dtype)
  d = scores[..., :, None] - scores[..., None, :]
  return (jnp.sum(c * jax.nn.log_sigmoid(d), axis=(-2, -1))
          - 0.5 * jnp.asarray(l2, scores.dtype) * jnp.sum(scores**2, axis=-1))


def win_probabilities(scores: Any) -> Array:
  """BT preference matrix ``P[i, j] = sigma(r_i - r_j)`` ``[..., n, n]``."""
  scores = jnp.asarray(scores)
  _validation.check_rank_at_least(scores, 1, "scores")
  return jax.nn.sigmoid(scores[..., :, None] - scores[..., None, :])


def ranking(scores: Any) -> Array:
  """Responses ordered best-first by score ``[..., n]`` -> int32 ``[..., n]``.

  Ties are broken towards the smaller index (stable sort), so the result is a
  deterministic permutation.
  """
  scores = jnp.asarray(scores)
  _validation.check_rank_at_least(scores, 1, "scores")
  return jnp.argsort(-scores, axis=-1, stable=True).astype(jnp.int32)


def _reach(adj: Array) -> Array:
  """Reflexive-transitive closure of bool ``[..., n, n]`` by squaring."""
  n = adj.shape[-1]
  r = adj | _eye(adj)
  num = max(1, int(np.ceil(np.log2(max(n, 2)))))

  def body(_, r):
    ri = r.astype(jnp.int32)
    return (ri @ ri) > 0

  return lax.fori_loop(0, num, body, r)


def mle_exists(counts: Any) -> Array:
  """Whether the unpenalised BT maximum likelihood estimate exists.

  True iff the directed graph with an edge ``i -> j`` whenever ``c[i, j] > 0``
  ("i beat j at least once") is strongly connected: for every split of the
  responses into two groups, some member of each beat some member of the other
  (Ford 1957; Hunter 2004, Assumption 1). Otherwise the likelihood increases
  without bound along a separating direction.

  Args:
    counts: ``[..., n, n]`` win counts.

  Returns:
    bool ``[...]``.
  """
  _check_counts(counts, "counts", validate=True)
  return _mle_exists(jnp.asarray(counts))


@jax.jit
def _mle_exists(c: Array) -> Array:
  adj = (c > 0) & ~_eye(c)
  return jnp.all(_reach(adj), axis=(-2, -1))


def is_balanced(counts: Any, rtol: float = 0.0) -> Array:
  """Whether every pair ``i != j`` was judged equally often (``N_ij = m``).

  Balanced data (e.g. complete rankings from every labeler) is the setting in
  which the BT reward ranks by Borda score (``docs/bradley_terry.md``,
  Fact 1).

  Args:
    counts: ``[..., n, n]`` win counts.
    rtol: relative tolerance on ``max N - min N``.

  Returns:
    bool ``[...]``.
  """
  _check_counts(counts, "counts", validate=True)
  return _is_balanced(jnp.asarray(counts), rtol)


@jax.jit
def _is_balanced(c: Array, rtol: Any) -> Array:
  total = c + jnp.swapaxes(c, -1, -2)
  off = ~_eye(c)
  hi = jnp.max(jnp.where(off, total, -jnp.inf), axis=(-2, -1))
  lo = jnp.min(jnp.where(off, total, jnp.inf), axis=(-2, -1))
  return (hi - lo) <= rtol * jnp.maximum(hi, 1)


def satisfies_majority_dominance(P: Any, atol: float = 0.0) -> Array:
  r"""The "mild assumption" under which the BT reward is majority consistent.

  Holds iff for every ordered pair with ``P[i, j] > 1/2`` and every third
  response ``k``: ``P[i, k] >= P[j, k] - atol``. With balanced counts it
  guarantees that the BT reward ranks ``i`` above ``j`` whenever a strict
  majority prefers ``i`` (``docs/bradley_terry.md``, Fact 2): the reward is
  then pairwise-majority and Condorcet consistent. Implied by strong stochastic
  transitivity (:func:`is_strongly_stochastically_transitive`) and
  equivalent to it when no off-diagonal entry equals 1/2.

  Args:
    P: ``[..., n, n]`` preference matrix, ``P[i, j]`` = share preferring ``i``.
    atol: tolerance on the dominance inequalities.

  Returns:
    bool ``[...]``.
  """
  return _majority_dominance(_validation.as_preference_matrix(P), atol)


@jax.jit
def _majority_dominance(P: Array, atol: Any) -> Array:
  n = P.shape[-1]
  maj = (P > 0.5)[..., :, :, None]  # [..., i, j, 1]
  # diff[..., i, j, k] = P[i, k] - P[j, k]
  diff = P[..., :, None, :] - P[..., None, :, :]
  eye = jnp.eye(n, dtype=bool)
  k_ok = ~(eye[:, None, :] | eye[None, :, :])  # k not in {i, j}
  k_ok = k_ok.reshape((1,) * (P.ndim - 2) + (n, n, n))
  bad = maj & k_ok & (diff < -atol)
  return ~jnp.any(bad, axis=(-3, -2, -1))


def is_strongly_stochastically_transitive(P: Any, atol: float = 0.0) -> Array:
  r"""Strong stochastic transitivity of a preference matrix.

  ``P[i, j] >= 1/2`` and ``P[j, k] >= 1/2`` imply ``P[i, k] >= max(P[i, j],
  P[j, k])`` (for distinct ``i, j, k``). Every Bradley-Terry-Luce matrix
  satisfies it; it implies :func:`satisfies_majority_dominance` (and is
  equivalent to it when no off-diagonal entry equals 1/2).

  Args:
    P: ``[..., n, n]`` preference matrix.
    atol: tolerance.

  Returns:
    bool ``[...]``.
  """
  return _sst(_validation.as_preference_matrix(P), atol)


@jax.jit
def _sst(P: Array, atol: Any) -> Array:
  n = P.shape[-1]
  pij = P[..., :, :, None]  # [..., i, j, 1]
  pjk = P[..., None, :, :]  # [..., 1, j, k]
  pik = P[..., :, None, :]  # [..., i, 1, k]
  eye = jnp.eye(n, dtype=bool)
  distinct = ~(eye[:, :, None] | eye[None, :, :] | eye[:, None, :])
  distinct = distinct.reshape((1,) * (P.ndim - 2) + (n, n, n))
  premise = (pij >= 0.5) & (pjk >= 0.5) & distinct
  bad = premise & (pik < jnp.maximum(pij, pjk) - atol)
  return ~jnp.any(bad, axis=(-3, -2, -1))


def majority_counts(counts: Any, dtype: Any = None,
                    validate: bool = True) -> Array:
  r"""Pairwise majority labels ``M`` ``[..., n, n]`` of the modified objective.

  .. math::
    M_{ij} = \mathbb{1}[c_{ij} > c_{ji}]
             + \tfrac12 \mathbb{1}[c_{ij} = c_{ji} > 0]

  so each judged pair contributes one vote (``M_ij + M_ji = 1``) to the
  majority side, a split vote to an exact tie, and nothing when unjudged.
  ``sum_j M_ij`` is the Copeland score.

  Args:
    counts: ``[..., n, n]`` win counts.
    dtype: float dtype (``None``: float input's dtype, else float32/float64).
    validate: value checks on concrete input.

  Returns:
    float ``[..., n, n]`` with zero diagonal.
  """
  _check_counts(counts, "counts", validate)
  return _majority_counts(jnp.asarray(counts), _float_dtype(counts, dtype))


@functools.partial(jax.jit, static_argnames=("dtype",))
def _majority_counts(c: Array, dtype: Any) -> Array:
  ct = jnp.swapaxes(c, -1, -2)
  m = (c > ct).astype(dtype) + 0.5 * ((c == ct) & (c > 0)).astype(dtype)
  return _prepare(m, dtype)


def majority_objective(scores: Any, counts: Any, l2: Any = 0.1) -> Array:
  r"""The modified reward-modelling objective (majority-label BT).

  .. math::
    \ell_{\mathrm{maj}}(r) = \sum_{i \ne j} M_{ij} \log \sigma(r_i - r_j)
                            - \tfrac{\lambda}{2}\lVert r\rVert^2,

  with ``M`` = :func:`majority_counts`. Standard RLHF maximises the same
  expression with ``M`` replaced by the raw counts ``c`` (labeler-weighted);
  fitting to the per-pair majority instead makes the reward ranking the
  Copeland ranking, which is pairwise-majority and Condorcet consistent for
  every profile with all pairs judged (``docs/bradley_terry.md``, Fact 3).

  Args:
    scores: ``[..., n]`` rewards.
    counts: ``[..., n, n]`` win counts.
    l2: ridge penalty ``lambda`` (``> 0`` for a maximiser to exist).

  Returns:
    ``[...]`` objective value.
  """
  scores = jnp.asarray(scores)
  dt = scores.dtype if jnp.issubdtype(scores.dtype, jnp.floating) else None
  return log_likelihood(scores, majority_counts(counts, dtype=dt), l2=l2)


def fit_majority(counts: Any, l2: Any = 0.1, num_steps: int = 100,
                 tol: float | None = None, dtype: Any = None,
                 validate: bool = True) -> Array:
  """Maximiser of :func:`majority_objective`: the majority-consistent reward.

  Equivalent to ``fit(majority_counts(counts), l2=l2)``. For counts where every
  pair was judged, the result ranks responses by Copeland score for every
  ``l2 > 0``: the Condorcet winner, when it exists, gets the unique top
  reward, and a transitive (linear-order) majority relation is reproduced
  exactly (``docs/bradley_terry.md``, Fact 3), whatever the profile.

  Args:
    counts: ``[..., n, n]`` non-negative win counts.
    l2: ridge penalty ``> 0`` (scalar or batch-shaped). Majority labels are
      perfectly separable when the majority is transitive, so ``l2 = 0`` has
      no maximiser.
    num_steps: maximum Newton iterations (static).
    tol: gradient tolerance, as in :func:`fit_with_info`.
    dtype: result float dtype.
    validate: value checks on concrete input (also ``l2 > 0``).

  Returns:
    ``[..., n]`` rewards centred to mean 0.
  """
  if validate and _validation.is_concrete(l2) and np.any(np.asarray(l2) <= 0):
    raise ValueError(
        f"l2 must be > 0 for fit_majority (majority labels are separable), got "
        f"{l2}.")
  m = majority_counts(counts, dtype=dtype, validate=validate)
  return fit(m, num_steps=num_steps, l2=l2, tol=tol, dtype=dtype,
             validate=False)
