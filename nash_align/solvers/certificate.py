"""Float64 certificates for matrix-game strategies.

The duality gap of a strategy pair ``(x, y)`` in the game with row payoff ``A``
is ``max_i (A y)_i - min_j (x^T A)_j >= 0``. It is zero exactly at a Nash
equilibrium and bounds how much either player can gain by deviating, so it is
the certificate every solver in this package returns.
"""

import jax
import numpy as np


def _check_profile(A, row, col):
  """Float64 ``(A, row, col)``; raises ValueError naming a mismatched one."""
  A = np.asarray(A, dtype=np.float64)
  x = np.asarray(row, dtype=np.float64)
  y = np.asarray(col, dtype=np.float64)
  if A.ndim < 2:
    raise ValueError(f"A must be [..., n, k], got shape {A.shape}.")
  n, k = A.shape[-2:]
  for name, p, m in (("row", x, n), ("col", y, k)):
    if p.ndim < 1 or p.shape[-1] != m:
      raise ValueError(f"{name} must have last axis {m} to match A of shape "
                       f"{A.shape}, got shape {p.shape}.")
  try:
    np.broadcast_shapes(A.shape[:-2], x.shape[:-1], y.shape[:-1])
  except ValueError:
    raise ValueError(f"batch shapes of A {A.shape[:-2]}, row {x.shape[:-1]} "
                     f"and col {y.shape[:-1]} do not broadcast.") from None
  return A, x, y


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

  Raises:
    ValueError: shapes of ``A``, ``row``, ``col`` that do not match.
  """
  A, x, y = _check_profile(A, row, col)
  best_row = np.max(np.einsum("...ij,...j->...i", A, y), axis=-1)
  best_col = np.min(np.einsum("...i,...ij->...j", x, A), axis=-1)
  return best_row - best_col


def simplex_violation(p) -> np.ndarray:
  """``[...]`` float64 distance of ``p`` ``[..., n]`` from the simplex (0 on it)."""
  p = np.asarray(p, dtype=np.float64)
  return np.maximum(np.max(-p, axis=-1, initial=0.0), 0.0) + np.abs(
      p.sum(-1) - 1.0)


def _xlogx_ratio(p, log_ref):
  """``sum p (log p - log_ref)`` with ``0 log 0 = 0``, float64."""
  safe = np.where(p > 0, p, 1.0)
  return np.sum(np.where(p > 0, p * (np.log(safe) - log_ref), 0.0), axis=-1)


def _logsumexp(a):
  m = np.max(a, axis=-1, keepdims=True)
  return (m + np.log(np.sum(np.exp(a - m), axis=-1, keepdims=True)))[..., 0]


def regularized_duality_gap(A, row, col, beta, ref_row, ref_col) -> np.ndarray:
  """Duality gap in the KL-regularized game, float64 on the host.

  The row player maximises and the column player minimises
  ``f(x, y) = x^T A y - beta KL(x || ref_row) + beta KL(y || ref_col)``
  (the regularized NLHF game of Munos et al., 2023). With the best responses
  in closed form (softmax), the gap ``max_x' f(x', y) - min_y' f(x, y')`` is

  .. math::
    \\beta\\log\\sum_i \\rho_{x,i} e^{(Ay)_i/\\beta} + \\beta KL(y\\|\\rho_y)
    + \\beta\\log\\sum_j \\rho_{y,j} e^{-(A^Tx)_j/\\beta} + \\beta KL(x\\|\\rho_x)
    \\ \\ge 0,

  zero exactly at the unique regularized equilibrium.

  Args:
    A: ``[..., n, k]`` row payoff.
    row: ``[..., n]`` row strategy.
    col: ``[..., k]`` column strategy.
    beta: ``> 0`` KL strength (scalar or ``[...]``).
    ref_row: ``[..., n]`` positive reference distribution of the row player.
    ref_col: ``[..., k]`` positive reference distribution of the column player.

  Returns:
    ``[...]`` float64 gap.

  Raises:
    ValueError: mismatched shapes, or ``beta`` not finite and ``> 0``.
  """
  A, x, y = _check_profile(A, row, col)
  beta = np.asarray(beta, dtype=np.float64)
  if not np.all(np.isfinite(beta) & (beta > 0)):
    raise ValueError(f"beta must be finite and > 0, got {beta!r}.")
  lrx = np.log(np.asarray(ref_row, dtype=np.float64))
  lry = np.log(np.asarray(ref_col, dtype=np.float64))
  ay = np.einsum("...ij,...j->...i", A, y)
  xa = np.einsum("...i,...ij->...j", x, A)
  b = beta[..., None]
  return (beta * _logsumexp(lrx + ay / b) + beta * _xlogx_ratio(y, lry)
          + beta * _logsumexp(lry - xa / b) + beta * _xlogx_ratio(x, lrx))


def regularized_value(A, row, col, beta, ref_row, ref_col) -> np.ndarray:
  """``[...]`` float64 ``x^T A y - beta KL(x||ref_row) + beta KL(y||ref_col)``."""
  A = np.asarray(A, dtype=np.float64)
  x = np.asarray(row, dtype=np.float64)
  y = np.asarray(col, dtype=np.float64)
  beta = np.asarray(beta, dtype=np.float64)
  v = np.einsum("...i,...ij,...j->...", x, A, y)
  return (v - beta * _xlogx_ratio(x, np.log(np.asarray(ref_row, np.float64)))
          + beta * _xlogx_ratio(y, np.log(np.asarray(ref_col, np.float64))))


def require_certified(result, what: str, max_gap=None):
  """Returns ``result``; raises if a concrete result has an uncertified game.

  For callers that must not use an uncertified answer silently. Under
  ``jit`` (traced ``converged``) nothing can be raised: the caller reports
  ``result.converged`` instead.

  Args:
    result: a :class:`NashResult`.
    what: the caller, named in the error.
    max_gap: None: every game must be ``converged`` (gap <= the solve's
      ``tol``); a number: every game's float64 gap must be at most it (for
      callers that ask for a tiny ``tol`` but can use any gap up to
      ``max_gap``, as they account for it).

  Raises:
    RuntimeError: naming ``what`` and the first uncertified games.
  """
  ok = result.converged if max_gap is None else result.gap <= max_gap
  if not isinstance(ok, jax.core.Tracer):
    c = np.asarray(ok).reshape(-1)
    if not np.all(c):
      bad = np.flatnonzero(~c)
      bound = "" if max_gap is None else f" to a duality gap of {max_gap:g}"
      raise RuntimeError(
          f"{what}: the solver could not certify {len(bad)} game(s){bound} "
          f"(flat indices {bad[:10].tolist()}); pass fallback='lp' or a "
          "larger max_iters.")
  return result


__all__ = (
    "duality_gap",
    "require_certified",
    "regularized_duality_gap",
    "regularized_value",
    "simplex_violation",
)
