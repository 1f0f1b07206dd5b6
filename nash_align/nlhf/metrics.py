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

from nash_align import social_choice
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
