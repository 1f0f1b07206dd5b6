"""Float64 certificates for matrix-game strategies.

The duality gap of a strategy pair ``(x, y)`` in the game with row payoff ``A``
is ``max_i (A y)_i - min_j (x^T A)_j >= 0``. It is zero exactly at a Nash
equilibrium and bounds how much either player can gain by deviating, so it is
the certificate every solver in this package returns.
"""

import numpy as np


def duality_gap(A, row, col) -> np.ndarray:
  """Duality gap of ``(row, col)`` in the game ``A``, in float64 on the host.

  Args:
    A: ``[..., n, k]`` row payoff.
    row: ``[..., n]`` row strategy.
    col: ``[..., k]`` column strategy.

  Returns:
    ``[...]`` float64 gap ``max_i (A col)_i - min_j (row^T A)_j``. Strategies
    off the simplex are not projected: a negative or unnormalised strategy is
    measured as given (it makes the gap meaningless, so callers pass
    distributions).
  """
  A = np.asarray(A, dtype=np.float64)
  x = np.asarray(row, dtype=np.float64)
  y = np.asarray(col, dtype=np.float64)
  best_row = np.max(np.einsum("...ij,...j->...i", A, y), axis=-1)
  best_col = np.min(np.einsum("...i,...ij->...j", x, A), axis=-1)
  return best_row - best_col


def simplex_violation(p) -> np.ndarray:
  """``[...]`` float64 distance of ``p`` ``[..., n]`` from the simplex (0 on it)."""
  p = np.asarray(p, dtype=np.float64)
  return np.maximum(np.max(-p, axis=-1, initial=0.0), 0.0) + np.abs(
      p.sum(-1) - 1.0)
