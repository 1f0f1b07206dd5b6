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
    gap: ``[...]`` duality gap ``max_i (A col)_i - min_j (row^T A)_j`` of
      exactly the returned strategies, as float64 arithmetic computes it (in
      float32 programs by error-free double-float arithmetic; for the
      KL-regularized game an upper bound). Zero exactly at an equilibrium;
      it bounds both players' exploitability.
    iterations: ``[...]`` int32 iterations (pivots for the LP reference).
    converged: ``[...]`` bool, the certificate: ``gap <= tol`` for the
      tolerance asked for. Callers must read it.
    row_support: ``[..., n]`` bool, the support of ``row`` as the solver
      certified it (the equalizer system solved on the simplex's basis;
      entries off it are exactly zero), not a threshold on probabilities.
    col_support: ``[..., k]`` bool, the same for ``col``.
  """

  row: Any  # [..., n]
  col: Any  # [..., k]
  value: Any  # [...]
  gap: Any  # [...] float64
  iterations: Any  # [...] int32
  converged: Any  # [...] bool
  row_support: Any  # [..., n] bool
  col_support: Any  # [..., k] bool


class Estimate(NamedTuple):
  """A Monte Carlo estimate of a probability or a mean.

  Attributes:
    mean: point estimate.
    stderr: standard error of the mean.
    low: lower end of the confidence interval (Wilson for probabilities).
    high: upper end of the confidence interval.
    num_samples: number of samples the estimate is based on.
    uncertified: samples whose solver answer was not certified (statistics
      that solve games; 0 for the others). They are counted in the
      estimate as the solver returned them: report the count with it.
  """

  mean: Any
  stderr: Any
  low: Any
  high: Any
  num_samples: Any
  uncertified: Any = 0


# A payoff transform Psi, elementwise on a preference matrix:
# [..., n, n] -> [..., n, n].
PayoffTransform = Callable[[Array], Array]
