"""Evaluation metrics of a policy in each prompt's preference game.

For a prompt with preference matrix ``P`` ``[K, K]``, policy ``pi`` and
reference ``mu`` (all exact, jit-compatible, batched over prompts):

* win rate against the reference ``P(pi > mu) = pi^T P mu`` (1/2 for
  ``pi = mu``), and a sampled estimate with a Wilson interval
  (:func:`sampled_win_rate`);
* exploitability: the duality gap of the profile ``(pi, pi)`` in the zero-sum
  margin game ``A = P - 1/2``, ``max_i (A pi)_i - min_j (pi^T A)_j =
  2 (max_y P(y > pi) - 1/2)`` -- the exact best response is the best
  candidate, so no solver is needed; it equals
  ``nash_align.solvers.duality_gap(P - 1/2, pi, pi)`` and is 0 exactly at a
  Nash equilibrium (a maximal lottery);
* entropy (nats), support size (candidates with probability above
  ``support_threshold``), KL to the reference;
* agreement with the per-prompt maximal lottery ``p*``: ``1 - TV(pi, p*)``.

And the exact optima a trainer converges to at KL strength ``tau`` (no
training; the theory the trained heads are compared with):

* :func:`rlhf_optimum`: ``pi ∝ mu exp(r / tau)`` with ``r`` the Bradley-Terry
  maximum-likelihood reward of ``P`` -- it tends to the reward's argmax (one
  response) as ``tau -> 0``;
* :func:`nlhf_optimum`: the KL-regularized equilibrium of the margin game
  ``P - 1/2`` (Munos et al. 2023), which tends to a maximal lottery -- mixed
  when there is no Condorcet winner.
"""

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import _validation
from nash_align import bradley_terry
from nash_align import social_choice
from nash_align import solvers
from nash_align.nlhf import policy as policy_lib
from nash_align.types import Estimate

__all__ = (
    "exploitability",
    "maximal_lotteries",
    "nlhf_optimum",
    "policy_metrics",
    "rlhf_optimum",
    "sampled_win_rate",
    "wilson_interval",
)


def exploitability(P, pi, mask=None):
  """Duality gap of ``(pi, pi)`` in the margin game: ``[..., K, K], [..., K] -> [...]``.

  ``2 (max_y P(y > pi) - 1/2)`` with the max over valid candidates.
  """
  win = jnp.einsum("...ij,...j->...i", P, pi,
                   precision=jax.lax.Precision.HIGHEST)
  if mask is not None:
    win = jnp.where(mask, win, -jnp.inf)
  return 2.0 * (jnp.max(win, -1) - 0.5)


def policy_metrics(logp, reference_logp, mask, P, lottery=None,
                   support_threshold: float = 1e-2):
  """Exact metrics per prompt.

  Args:
    logp: ``[E, K]`` policy log-probabilities.
    reference_logp: ``[E, K]`` reference log-probabilities.
    mask: ``[E, K]`` bool.
    P: ``[E, K, K]`` preference matrices.
    lottery: optional ``[E, K]`` maximal lotteries.
    support_threshold: probability above which a candidate counts as played.

  Returns:
    dict of ``[E]`` arrays: ``win_rate_vs_reference``, ``exploitability``,
    ``entropy``, ``support_size``, ``kl_to_reference`` and, with ``lottery``,
    ``lottery_agreement``.
  """
  pi = jnp.where(mask, jnp.exp(logp), 0.0)
  mu = jnp.where(mask, jnp.exp(reference_logp), 0.0)
  out = {
      "win_rate_vs_reference": jnp.einsum("ei,eij,ej->e", pi, P, mu,
                                         precision=jax.lax.Precision.HIGHEST),
      "exploitability": exploitability(P, pi, mask),
      "entropy": policy_lib.entropy(logp, mask),
      "support_size": jnp.sum(pi > support_threshold, -1).astype(pi.dtype),
      "kl_to_reference": policy_lib.kl_divergence(logp, reference_logp, mask),
  }
  if lottery is not None:
    out["lottery_agreement"] = 1.0 - 0.5 * jnp.sum(jnp.abs(pi - lottery), -1)
  return out


def wilson_interval(successes, n, z: float = 1.96):
  """Wilson score interval ``(low, high)`` for ``successes / n`` (jit-able).

  The jax counterpart of ``nash_align.montecarlo.wilson_interval`` (numpy,
  by confidence level), for use inside jitted evaluation.

  Args:
    successes: ``[...]`` counts (may be traced).
    n: number of trials, a Python number ``>= 1``.
    z: normal quantile ``> 0`` (1.96 for 95%).

  Returns:
    ``(low, high)`` arrays ``[...]``.

  Raises:
    ValueError: ``n < 1`` or ``z <= 0``.
  """
  if not n >= 1:
    raise ValueError(f"n must be >= 1 trials, got {n!r}.")
  if not z > 0:
    raise ValueError(f"z must be > 0, got {z!r}.")
  p = successes / n
  denom = 1.0 + z * z / n
  centre = (p + z * z / (2 * n)) / denom
  half = z * jnp.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
  return centre - half, centre + half


def sampled_win_rate(key, logp, reference_logp, P, num_samples: int,
                     z: float = 1.96) -> Estimate:
  """Win rate against the reference from sampled duels, with a Wilson interval.

  For each of ``E`` prompts, draws ``num_samples`` duels ``y ~ pi``,
  ``y' ~ mu`` and a judgment ``Bernoulli(P(y, y'))``; pools the ``E *
  num_samples`` outcomes. The key is consumed.

  Returns:
    :class:`nash_align.types.Estimate` of the pooled win rate.
  """
  e = logp.shape[0]
  k1, k2, k3 = jax.random.split(key, 3)
  y = jax.random.categorical(k1, logp[:, None, :], shape=(e, num_samples))
  yp = jax.random.categorical(k2, reference_logp[:, None, :],
                              shape=(e, num_samples))
  p = jnp.take_along_axis(jnp.take_along_axis(P, y[:, :, None], 1),
                          yp[:, :, None], 2)[..., 0]
  wins = jax.random.bernoulli(k3, p).astype(logp.dtype)
  n = e * num_samples
  mean = jnp.mean(wins)
  low, high = wilson_interval(jnp.sum(wins), n, z)
  return Estimate(mean=mean, stderr=jnp.std(wins) / np.sqrt(n), low=low,
                  high=high, num_samples=n)


def maximal_lotteries(P, mask=None) -> np.ndarray:
  """Per-prompt maximal lotteries ``[E, K]`` (host, float64).

  The equilibrium of the margin game ``P - 1/2`` of each prompt, from
  ``nash_align.social_choice.maximal_lottery`` (one batched solve). With a
  mask, each prompt's game is restricted to its valid candidates: a padded
  candidate is made to lose every comparison (``P = 0`` against a valid one,
  1/2 against another padded one), so it is strictly dominated and gets
  probability 0, and the valid block's equilibrium is that of the restricted
  game.

  Args:
    P: ``[E, K, K]`` preference matrices.
    mask: optional ``[E, K]`` bool, valid candidates (at least one per row).

  Returns:
    float64 numpy ``[E, K]``, zero on padded candidates.
  """
  P = np.asarray(P, np.float64)
  if P.ndim != 3 or P.shape[1] != P.shape[2]:
    raise ValueError(f"P must be [E, K, K], got shape {P.shape}.")
  e, k = P.shape[:2]
  mask = np.ones((e, k), bool) if mask is None else np.asarray(mask, bool)
  if mask.shape != (e, k):
    raise ValueError(f"mask must be [E, K] = {(e, k)}, got {mask.shape}.")
  if not mask.any(axis=-1).all():
    raise ValueError("mask must keep at least one candidate per prompt.")
  both = mask[:, :, None] & mask[:, None, :]
  padded = np.where(both, P,
                    np.where(mask[:, :, None], 1.0,
                             np.where(mask[:, None, :], 0.0, 0.5)))
  row = np.asarray(social_choice.maximal_lottery(padded).row, np.float64)
  return np.where(mask, row, 0.0)


def rlhf_optimum(P, reference, tau, reward=None):
  r"""Optimum of KL-regularized reward maximisation, ``[E, K]`` (host, float64).

  ``argmax_pi E_pi[r] - tau KL(pi || mu) = softmax(log mu + r / tau)``, with
  ``r`` the Bradley-Terry maximum-likelihood reward of ``P`` fitted on the
  expected counts (``nash_align.bradley_terry.fit(P)``: each ordered pair
  judged once, ``P[i, j]`` wins for ``i``), i.e. the reward model RLHF learns
  from infinitely many labels of this population. As ``tau -> 0`` it puts all
  its mass on ``argmax r`` (unless rewards tie exactly).

  Args:
    P: ``[E, K, K]`` preference matrices (entries in ``(0, 1)`` so that the
      MLE exists).
    reference: ``[E, K]`` positive reference policy ``mu``.
    tau: ``> 0`` KL strength.
    reward: optional ``[E, K]`` reward to use instead of the fit.

  Returns:
    float64 numpy ``[E, K]``.
  """
  if not tau > 0:
    raise ValueError(f"tau must be > 0, got {tau!r}.")
  if reward is None:
    reward = bradley_terry.fit(jnp.asarray(P))
  logits = (np.log(np.asarray(reference, np.float64))
            + np.asarray(reward, np.float64) / float(tau))
  logits -= logits.max(-1, keepdims=True)
  pi = np.exp(logits)
  return pi / pi.sum(-1, keepdims=True)


def _newton_float64(A, x, y, beta, ref_row, ref_col, num_steps=4):
  """Float64 Newton steps on the regularized fixed point (batched).

  The map of :func:`nash_align.solvers.exact.newton_regularized`:
  ``x = softmax(log rho_x + A y / beta)``, ``y = softmax(log rho_y - A^T x /
  beta)``. Returns ``(x [G, n], y [G, k])``.
  """
  A = np.asarray(A, np.float64)
  G, n, k = A.shape
  b = np.asarray(beta, np.float64).reshape(-1, 1, 1) * np.ones((G, 1, 1))
  lrx = np.log(np.asarray(ref_row, np.float64))
  lry = np.log(np.asarray(ref_col, np.float64))
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  eye = np.eye(n + k)
  tiny = np.finfo(np.float64).tiny

  def softmax(a):
    a = a - a.max(-1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(-1, keepdims=True)

  for _ in range(num_steps):  # a fixed, small number of steps
    sx = softmax(lrx + np.einsum("gij,gj->gi", A, y) / b[:, :, 0])
    sy = softmax(lry - np.einsum("gi,gij->gj", x, A) / b[:, :, 0])
    G_ = np.concatenate([x - sx, y - sy], axis=1)
    dx = np.einsum("gi,ij->gij", sx, np.eye(n)) - sx[:, :, None] * sx[:, None]
    dy = np.einsum("gi,ij->gij", sy, np.eye(k)) - sy[:, :, None] * sy[:, None]
    J = np.tile(eye, (G, 1, 1))
    J[:, :n, n:] = -dx @ A / b
    J[:, n:, :n] = dy @ np.swapaxes(A, 1, 2) / b
    d = np.linalg.solve(J, -G_[..., None])[..., 0]
    x = np.maximum(x + d[:, :n], tiny)
    y = np.maximum(y + d[:, n:], tiny)
    x /= x.sum(-1, keepdims=True)
    y /= y.sum(-1, keepdims=True)
  return x, y



def nlhf_optimum(P, reference, tau, tol: float = 1e-10, *,
                 on_uncertified: str = "raise", **solve_kwargs):
  r"""KL-regularized Nash equilibrium of the preference game (one batched solve).

  ``max_pi min_pi' P(pi > pi') - tau KL(pi || mu) + tau KL(pi' || mu)``
  (Munos et al. 2023, arXiv:2312.00886), i.e. ``nash_align.solvers.solve``
  on the margin game ``P - 1/2`` with ``beta = tau`` toward ``reference``.
  The equilibrium is unique and symmetric; it satisfies the fixed point
  ``pi = softmax(log mu + (P - 1/2) pi / tau)`` and tends to a maximal lottery
  as ``tau -> 0``. ``NashResult.gap`` is the regularized duality gap
  (:func:`nash_align.solvers.regularized_duality_gap`).

  Args:
    P: ``[E, K, K]`` preference matrices: entries in ``[0, 1]`` with
      ``P + P^T = 1``.
    reference: ``[E, K]`` (or broadcastable to it) positive reference ``mu``
      summing to 1 per prompt.
    tau: ``> 0`` KL strength (a number).
    tol: regularized-gap tolerance.
    **solve_kwargs: passed to ``nash_align.solvers.solve``.

  Returns:
    ``NashResult`` (``row`` ``[E, K]`` is the policy; ``row`` and ``col``
    float64, renormalised) with ``gap`` the float64 regularized duality gap
    of ``(row, col)``.

  Raises:
    ValueError: naming ``P``, ``reference`` or ``tau`` when it is malformed
      (wrong shape, ``P`` outside ``[0, 1]`` or ``P + P^T != 1``, ``reference``
      not a positive distribution, ``tau <= 0``).
    RuntimeError: a game whose optimum could not be certified to ``tol``
      (``on_uncertified="raise"``; with ``"report"`` the result's
      ``converged`` says so and the caller reports it).
  """
  if on_uncertified not in ("raise", "report"):
    raise ValueError(f"on_uncertified must be 'raise' or 'report', got "
                     f"{on_uncertified!r}.")
  if not tau > 0:
    raise ValueError(f"tau must be > 0, got {tau!r}.")
  _validation.check_real_dtype(P, "P")
  P = np.asarray(P, np.float64)
  if P.ndim != 3 or P.shape[1] != P.shape[2]:
    raise ValueError(f"P must be [E, K, K], got shape {P.shape}.")
  _validation.check_preference_matrix(P, "P")
  _validation.check_real_dtype(reference, "reference")
  reference = np.asarray(reference, np.float64)
  try:
    mu = np.broadcast_to(reference, P.shape[:2])
  except ValueError:
    raise ValueError(
        f"reference must be [E, K] = {P.shape[:2]} (or broadcast to it), got "
        f"shape {reference.shape}.") from None
  _validation.check_finite(mu, "reference")
  if mu.size and (mu.min() <= 0
                  or np.max(np.abs(mu.sum(-1) - 1.0)) > 1e-5):
    raise ValueError(
        "reference must be a positive distribution over the K candidates of "
        f"each prompt; got min {mu.min():.3g} and row sums off 1 by up to "
        f"{np.max(np.abs(mu.sum(-1) - 1.0)):.3g}.")
  A = P - 0.5
  res = solvers.solve(A, beta=float(tau), reference=mu, tol=tol,
                      **solve_kwargs)
  # Certified in float64 on exactly normalised strategies (the solver returns
  # float32-accurate ones, off the simplex by ~1e-8, where the gap formula is
  # not a certificate), after float64 Newton steps on the fixed point (kept
  # per game where they lower the gap).
  row = np.asarray(res.row, np.float64)
  col = np.asarray(res.col, np.float64)
  row, col = (s / s.sum(-1, keepdims=True) for s in (row, col))
  gap = solvers.regularized_duality_gap(A, row, col, float(tau), mu, mu)
  x2, y2 = _newton_float64(A, row, col, float(tau), mu, mu, num_steps=12)
  g2 = solvers.regularized_duality_gap(A, x2, y2, float(tau), mu, mu)
  better = g2 < gap
  row = np.where(better[:, None], x2, row)
  col = np.where(better[:, None], y2, col)
  gap = np.where(better, g2, gap)
  res = res._replace(row=row, col=col, gap=gap, converged=gap <= tol)
  if on_uncertified == "raise":
    solvers.require_certified(res, "nlhf_optimum")
  return res
