"""Shared result types and callable aliases.

Kept in one place (as mctx keeps ``base.py``) so that solvers, Monte Carlo and
NLHF return the same structures and the floors above can rely on them.
"""

from typing import Any, Callable, NamedTuple

import jax

Array = jax.Array


class NashResult(NamedTuple):
  """Equilibrium of a zero-sum matrix game with row payoff ``A`` ``[..., n, k]``.

  The row player maximises ``x^T A y`` and the column player minimises it.

  Attributes:
    row: ``[..., n]`` row player's mixed strategy.
    col: ``[..., k]`` column player's mixed strategy.
    value: ``[...]`` game value ``row^T A col``.
    gap: ``[...]`` duality gap ``max_i (A col)_i - min_j (row^T A)_j`` of the
      returned strategies, computed in float64. Zero exactly at an equilibrium;
      it bounds both players' exploitability.
    iterations: ``[...]`` int32 iterations (pivots for the LP reference).
    converged: ``[...]`` bool, ``gap <= tol`` for the tolerance asked for.
  """

  row: Any  # [..., n]
  col: Any  # [..., k]
  value: Any  # [...]
  gap: Any  # [...] float64
  iterations: Any  # [...] int32
  converged: Any  # [...] bool


class Estimate(NamedTuple):
  """A Monte Carlo estimate of a probability or a mean.

  Attributes:
    mean: point estimate.
    stderr: standard error of the mean.
    low: lower end of the confidence interval (Wilson for probabilities).
    high: upper end of the confidence interval.
    num_samples: number of samples the estimate is based on.
  """

  mean: Any
  stderr: Any
  low: Any
  high: Any
  num_samples: Any


# A payoff transform Psi, elementwise on a preference matrix:
# [..., n, n] -> [..., n, n].
PayoffTransform = Callable[[Array], Array]
