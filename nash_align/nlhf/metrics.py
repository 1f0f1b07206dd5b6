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
"""

import jax
import jax.numpy as jnp
import numpy as np

from nash_align.nlhf import policy as policy_lib
from nash_align.types import Estimate

__all__ = (
    "exploitability",
    "maximal_lotteries",
    "policy_metrics",
    "sampled_win_rate",
    "wilson_interval",
)


def exploitability(P, pi, mask=None):
  """Duality gap of ``(pi, pi)`` in the margin game: ``[..., K, K], [..., K] -> [...]``.

  ``2 (max_y P(y > pi) - 1/2)`` with the max over valid candidates.
  """
  win = jnp.einsum("...ij,...j->...i", P, pi)
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
      "win_rate_vs_reference": jnp.einsum("ei,eij,ej->e", pi, P, mu),
      "exploitability": exploitability(P, pi, mask),
      "entropy": policy_lib.entropy(logp, mask),
      "support_size": jnp.sum(pi > support_threshold, -1).astype(pi.dtype),
      "kl_to_reference": policy_lib.kl_divergence(logp, reference_logp, mask),
  }
  if lottery is not None:
    out["lottery_agreement"] = 1.0 - 0.5 * jnp.sum(jnp.abs(pi - lottery), -1)
  return out


def wilson_interval(successes, n, z: float = 1.96):
  """Wilson score interval ``(low, high)`` for ``successes / n``."""
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
  ``nash_align.social_choice.maximal_lottery`` when available, else the HiGHS
  LP ``nash_align.solvers.solve_lp``. With a mask, each prompt's game is
  restricted to its valid candidates.
  """
  P = np.asarray(P, np.float64)
  e, k = P.shape[:2]
  mask = np.ones((e, k), bool) if mask is None else np.asarray(mask, bool)
  out = np.zeros((e, k))
  try:
    from nash_align import social_choice  # pylint: disable=g-import-not-at-top
    ml = social_choice.maximal_lottery
  except (ImportError, AttributeError):
    ml = None
  full = bool(mask.all())
  if ml is not None and full:
    try:
      return np.asarray(ml(P).row, np.float64)
    except Exception:  # pylint: disable=broad-except
      pass  # fall back to the LP reference below
  from nash_align import solvers  # pylint: disable=g-import-not-at-top
  for i in range(e):
    idx = np.flatnonzero(mask[i])
    res = solvers.solve_lp(P[i][np.ix_(idx, idx)] - 0.5)
    out[i, idx] = np.asarray(res.row)
  return out
