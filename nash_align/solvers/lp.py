"""Exact reference solver: the game's linear program, solved by HiGHS.

This is the yardstick for every other solver. It loops over the batch in
Python (one LP per game), so it is slow by design and not jit-able. scipy is
imported lazily; it comes with jax, and the library's own solvers (``solve``)
never call it.
"""

import numpy as np

from nash_align import _validation
from nash_align.solvers import certificate
from nash_align.types import NashResult


def _solve_one(A: np.ndarray):
  """Row strategy, column strategy and HiGHS iterations for one game ``[n, k]``."""
  from scipy import optimize  # pylint: disable=g-import-not-at-top

  n, k = A.shape
  # Shift payoffs positive so the value is > 0 and the LP is well scaled;
  # strategies are invariant to the shift.
  shift = 1.0 - A.min()
  B = A + shift
  # max v  s.t.  (B^T x)_j >= v for all j, sum x = 1, x >= 0.
  c = np.zeros(n + 1)
  c[-1] = -1.0
  a_ub = np.hstack([-B.T, np.ones((k, 1))])
  b_ub = np.zeros(k)
  a_eq = np.hstack([np.ones((1, n)), np.zeros((1, 1))])
  bounds = [(0, None)] * n + [(None, None)]
  res = optimize.linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0],
                         bounds=bounds, method="highs")
  if res.status != 0:
    raise RuntimeError(f"HiGHS failed on a {n}x{k} game: {res.message}")
  x = np.clip(res.x[:n], 0.0, None)
  x /= x.sum()
  # The duals of the k inequality rows are the column player's strategy.
  y = np.clip(-res.ineqlin.marginals, 0.0, None)
  if y.sum() <= 0:
    y = np.full(k, 1.0 / k)
  y /= y.sum()
  return x, y, int(res.nit)


def solve_lp(A, tol: float = 1e-9) -> NashResult:
  """Solves the zero-sum game with row payoff ``A`` exactly (HiGHS, float64).

  The row player maximises ``x^T A y``; the column strategy is read from the
  LP's duals. The certificate is the float64 duality gap of what is returned.

  Args:
    A: ``[..., n, k]`` row payoff, any leading batch shape (including none),
      finite, ``n, k >= 1`` and not both 1.
    tol: gap threshold for ``converged``.

  Returns:
    ``NashResult`` of numpy arrays: ``row [..., n]``, ``col [..., k]``,
    ``value [...]``, ``gap [...]`` (float64), ``iterations [...]`` (HiGHS
    simplex iterations), ``converged [...]`` (``gap <= tol``).

  Raises:
    ValueError: ``A`` of rank < 2, 1x1 or with NaN/inf; ``tol`` negative or
      not finite.
  """
  _validation.check_rank_at_least(A, 2, "A")
  A = np.asarray(A, dtype=np.float64)
  n, k = A.shape[-2:]
  if n < 1 or k < 1 or n * k < 2:
    raise ValueError(f"A must be a game with at least 2 actions in all, got "
                     f"shape {A.shape}.")
  _validation.check_finite(A, "A")
  if not (np.isfinite(tol) and tol >= 0):
    raise ValueError(f"tol must be finite and >= 0, got {tol!r}.")
  batch = A.shape[:-2]
  flat = A.reshape((-1, n, k))
  rows = np.empty((flat.shape[0], n))
  cols = np.empty((flat.shape[0], k))
  its = np.empty((flat.shape[0],), np.int32)
  for b in range(flat.shape[0]):
    rows[b], cols[b], its[b] = _solve_one(flat[b])
  gap = certificate.duality_gap(flat, rows, cols)
  value = np.einsum("bi,bij,bj->b", rows, flat, cols)
  return NashResult(
      row=rows.reshape(batch + (n,)),
      col=cols.reshape(batch + (k,)),
      value=value.reshape(batch),
      gap=gap.reshape(batch),
      iterations=its.reshape(batch),
      converged=(gap <= tol).reshape(batch),
      row_support=(rows > 0).reshape(batch + (n,)),
      col_support=(cols > 0).reshape(batch + (k,)),
  )


def max_weight_guaranteeing(A, value: float, weights):
  """``max w . x`` over row strategies that guarantee ``value`` (HiGHS).

  The set ``{x in simplex : min_j (x^T A)_j >= value}``; with ``value`` at
  most the game's value it holds every maximin (Nash) strategy of the row
  player, so the maximum bounds what any equilibrium puts on ``weights``.

  Args:
    A: ``[n, k]`` row payoff (float64 numpy).
    value: the guarantee.
    weights: ``[n]`` objective.

  Returns:
    ``(max, argmax x [n])``; ``(-inf, None)`` when no strategy guarantees
    ``value``.
  """
  from scipy import optimize  # pylint: disable=g-import-not-at-top
  A = np.asarray(A, np.float64)
  weights = np.asarray(weights, np.float64)
  n, k = A.shape
  res = optimize.linprog(-weights, A_ub=-A.T, b_ub=-np.full(k, value),
                         A_eq=np.ones((1, n)), b_eq=[1.0],
                         bounds=[(0, None)] * n, method="highs")
  if res.status != 0:
    return -np.inf, None
  x = np.clip(res.x, 0, None)
  return float(weights @ x), x / x.sum()


__all__ = (
    "max_weight_guaranteeing",
    "solve_lp",
)
