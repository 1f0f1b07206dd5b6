"""Certify ONE game's answer in the graph: support refinement + exact gap.

Given the support a method identified (the simplex's optimal basis, or a
first-order iterate's support guess), the equilibrium on that support solves
a square linear system, the equalizer system. It is solved in the working
dtype (float32 on accelerators) and then refined: residuals are computed with
the error-free products of :mod:`nash_align.solvers.compensated` and the
correction solved with the same (approximate) inverse, the mixed-precision iterative
refinement of Carson and Higham ("Accelerating the solution of linear systems
by iterative refinement in three precisions", SIAM J. Sci. Comput. 40(2),
2018), with the residual precision here emulated by double-float arithmetic.
Each step gains about ``-log10(cond * eps)`` digits, so a few steps give the
solution to double-float accuracy whenever ``cond * eps < 1``.

The refined strategies are rounded to the working dtype, their sum is
corrected on the largest entry, and the duality gap of exactly the returned
arrays is computed in double-float: what float64 arithmetic computes from
them, up to float64 rounding. A game is ``certified`` when that gap plus a
bound on the effect of the strategies' sums missing 1 is at most ``tol``:
whatever the support guess, a certified answer is an equilibrium to ``tol``;
an uncertified one is reported as such, never passed off as converged.

Systems (``A`` the row payoff, ``S`` rows and ``T`` columns of the support,
``|S| = |T| = m``):

* general game: ``A_{ST} y_T = v 1``, ``1^T y_T = 1`` and
  ``A_{ST}^T x_S = v 1``, ``1^T x_S = 1`` (two ``(m + 1)``-square systems);
* antisymmetric game (``x = y``, value 0): ``(A_{SS} + 1 1^T) x_S = 1``,
  whose solution has ``1^T x_S = 1`` (multiply by ``x_S^T`` and use
  ``x^T A x = 0``).

Both are embedded in fixed-size systems (support first, identity on the
rest) so that they jit and vmap.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nash_align.solvers import compensated as cp
from nash_align.solvers import linalg

REFINEMENT_STEPS = 3


class Certified(NamedTuple):
  """A certified answer for one game.

  Attributes:
    row: ``[n]`` row strategy (working dtype, on the simplex).
    col: ``[k]`` column strategy.
    value: ``[]`` ``row^T A col`` (double-float, rounded).
    gap: ``[]`` duality gap of exactly ``(row, col)``, double-float accurate.
    certified: ``[]`` bool, the gap (and the sums' slack) within ``tol``.
    row_support: ``[n]`` bool, where ``row > 0``: the support of the solved
      system (entries the refinement proves zero are dropped).
    col_support: ``[k]`` bool.
  """

  row: jax.Array
  col: jax.Array
  value: jax.Array
  gap: jax.Array
  certified: jax.Array
  row_support: jax.Array
  col_support: jax.Array

  @classmethod
  def zeros(cls, games, n, k, dtype):
    """An all-zero batch ``[games, ...]`` (a buffer to fill)."""
    z = lambda *shape, dt=dtype: jnp.zeros((games,) + shape, dt)
    return cls(z(n), z(k), z(), z(), z(dt=bool), z(n, dt=bool),
               z(k, dt=bool))


def _compress(mask):
  """Permutation ``[m]`` putting the indices where ``mask`` first (stable)."""
  m = mask.shape[0]
  on = jnp.cumsum(mask) - 1
  off = jnp.sum(mask) + jnp.cumsum(~mask) - 1
  pos = jnp.where(mask, on, off)
  return jnp.zeros((m,), jnp.int32).at[pos].set(jnp.arange(m, dtype=jnp.int32))


def _refine(M, apply_exact, b):
  """Solves ``M z = b`` with ``REFINEMENT_STEPS`` steps of refinement.

  ``M`` ``[N, N]`` is the working-dtype matrix (possibly rounded);
  ``apply_exact(z_hi, z_lo) -> (hi, lo)`` computes the exact system's
  product in double-float. Returns ``(z_hi, z_lo, last_correction)``.
  """
  Minv = linalg.inverse(M)
  z_hi = cp.mm(Minv, b)
  z_lo = jnp.zeros_like(z_hi)
  corr = jnp.zeros((), M.dtype)
  for _ in range(REFINEMENT_STEPS):
    p_hi, p_lo = apply_exact(z_hi, z_lo)
    r_hi, r_lo = cp.add(b, jnp.zeros_like(b), -p_hi, -p_lo)
    d = cp.mm(Minv, r_hi + r_lo)
    d = jnp.where(jnp.isfinite(d), d, 0.0)
    z_hi, z_lo = cp.add(z_hi, z_lo, d, jnp.zeros_like(d))
    corr = jnp.max(jnp.abs(d))
  return z_hi, z_lo, corr


def _df_max(hi, lo):
  """Double-float ``max`` over the last axis: ``(c, d)`` with max = c + d."""
  c = jnp.max(hi, axis=-1)
  return c, jnp.max((hi - c[..., None]) + lo, axis=-1)


def _to_simplex(z_hi, z_lo, zero_tol):
  """Working-dtype distribution from a double-float solution.

  Entries within ``zero_tol`` of zero (the refinement's error) are zero;
  the sum's deficit, computed in double-float, goes to the largest entry.
  Returns ``(p, ok)``: ``ok`` False if an entry is clearly negative.
  """
  ok = jnp.all(z_hi + z_lo >= -zero_tol) & jnp.all(jnp.isfinite(z_hi))
  p = sum_to_one(jnp.where(z_hi + z_lo > zero_tol, z_hi + z_lo, 0.0))
  ok = ok & (jnp.sum(p > 0) > 0)
  return p, ok


def sum_to_one(p):
  """``p`` (non-negative) with its sum's deficit, in double-float, added to
  its largest entry: the sum is then 1 to about an ulp of that entry."""
  s_hi, s_lo = cp.total(p)
  return p.at[jnp.argmax(p)].add((1.0 - s_hi) - s_lo)


def certificate(A, x, y, scale=None, skew=False):
  """Double-float duality gap of exactly ``(x, y)`` in ``A`` ``[n, k]``.

  Returns ``(gap, value, slack)``: ``gap = max_i (A y)_i - min_j (x^T A)_j``
  as float64 computes it (up to float64 rounding), ``value = x^T A y`` and
  ``slack``, a bound on how much putting ``x``, ``y`` exactly on the
  simplex could add to the gap (``max |A|`` times the sums' errors), plus a
  margin for the double-float rounding.

  ``skew=True`` is the caller's promise that ``A = -A^T`` exactly and
  ``y`` is ``x``: then ``x^T A = -(A x)^T`` exactly, and one product (with
  its own error bound, which ``slack`` counts for both sides) serves both.

  ``scale``: ``max |A|`` or a bound above it (None: computed). The products
  and their error bounds rest on it, so it must not be smaller.
  """
  if scale is None:
    scale = jnp.max(jnp.abs(A))
  ay_hi, ay_lo = cp.matvec(A, x if y is None else y, a_max=scale)
  if skew:
    xa_hi, xa_lo = -ay_hi, -ay_lo
  else:
    xa_hi, xa_lo = cp.vecmat(x, A, a_max=scale)
  c1, d1 = _df_max(ay_hi, ay_lo)
  c2, d2 = _df_max(-xa_hi, -xa_lo)
  s, e = cp.two_sum(c1, c2)
  gap = s + (e + d1 + d2)
  v_hi, v_lo = cp.total(x * ay_hi, x * ay_lo)
  sx_hi, sx_lo = cp.total(x)
  sy_hi, sy_lo = cp.total(y)
  off = (jnp.abs((sx_hi - 1.0) + sx_lo) + jnp.abs((sy_hi - 1.0) + sy_lo))
  # The products' own error (each side at most matvec_error(k) times
  # max |A| times the strategy's mass), then the sums' error.
  err = scale * (cp.matvec_error(A.shape[-1], A.dtype) * (sy_hi + sy_lo)
                 + cp.matvec_error(A.shape[-2], A.dtype) * (sx_hi + sx_lo))
  slack = 2.0 * scale * off + err
  return gap, v_hi + v_lo, slack


def _padded(A, size):
  n, k = A.shape
  return jnp.zeros((size, size), A.dtype).at[:n, :k].set(A)


def refine_symmetric(A, support, tol):
  """Certified ``x = y`` on ``support`` ``[n]`` for an antisymmetric ``A``."""
  n = A.shape[0]
  dt = A.dtype
  order = _compress(support)
  m = jnp.sum(support)
  live = jnp.arange(n) < m
  B = A[order][:, order]
  block = live[:, None] & live[None, :]
  Bm = jnp.where(block, B, 0.0)
  M = jnp.where(block, B + 1.0, jnp.eye(n, dtype=dt))
  b = live.astype(dt)

  def apply_exact(z_hi, z_lo):
    z_hi = jnp.where(live, z_hi, 0.0)
    z_lo = jnp.where(live, z_lo, 0.0)
    p_hi, p_lo = cp.matvec(Bm, z_hi, z_lo)
    s_hi, s_lo = cp.total(z_hi, z_lo)
    q_hi, q_lo = cp.add(p_hi, p_lo, jnp.where(live, s_hi, 0.0),
                        jnp.where(live, s_lo, 0.0))
    # Rows off the support: the identity.
    return jnp.where(live, q_hi, z_hi), jnp.where(live, q_lo, z_lo)

  z_hi, z_lo, corr = _refine(M, apply_exact, b)
  zero_tol = 8.0 * corr + 16.0 * jnp.finfo(dt).eps ** 2
  z_hi = jnp.where(live, z_hi, 0.0)
  z_lo = jnp.where(live, z_lo, 0.0)
  # Back to the original labels: x[order[a]] = z[a].
  x_hi = jnp.zeros((n,), dt).at[order].set(z_hi)
  x_lo = jnp.zeros((n,), dt).at[order].set(z_lo)
  x, ok = _to_simplex(x_hi, x_lo, zero_tol)
  return _finish(A, x, x, ok, tol)


def refine_general(A, rows, cols, tol):
  """Certified ``(x, y)`` on supports ``rows`` ``[n]``, ``cols`` ``[k]``."""
  n, k = A.shape
  dt = A.dtype
  N = max(n, k)
  Ap = _padded(A, N)
  ro = _compress(jnp.zeros((N,), bool).at[:n].set(rows))
  co = _compress(jnp.zeros((N,), bool).at[:k].set(cols))
  m = jnp.sum(rows)
  square = m == jnp.sum(cols)
  live = jnp.arange(N) < m
  block = live[:, None] & live[None, :]
  B = jnp.where(block, Ap[ro][:, co], 0.0)
  b = jnp.zeros((N + 1,), dt).at[N].set(1.0)

  def system(Bs):
    M = jnp.where(block, Bs, jnp.eye(N, dtype=dt))
    M = jnp.concatenate([M, -live[:, None].astype(dt)], axis=1)
    last = jnp.concatenate([live.astype(dt), jnp.zeros((1,), dt)])
    return jnp.concatenate([M, last[None, :]], axis=0)

  def exact_apply(Bs):
    def apply(z_hi, z_lo):
      w_hi = jnp.where(live, z_hi[:N], 0.0)
      w_lo = jnp.where(live, z_lo[:N], 0.0)
      p_hi, p_lo = cp.matvec(Bs, w_hi, w_lo)
      v_hi, v_lo = z_hi[N], z_lo[N]
      q_hi, q_lo = cp.add(p_hi, p_lo, -jnp.where(live, v_hi, 0.0),
                          -jnp.where(live, v_lo, 0.0))
      q_hi = jnp.where(live, q_hi, z_hi[:N])
      q_lo = jnp.where(live, q_lo, z_lo[:N])
      s_hi, s_lo = cp.total(w_hi, w_lo)
      return (jnp.concatenate([q_hi, s_hi[None]]),
              jnp.concatenate([q_lo, s_lo[None]]))
    return apply

  out = []
  for Bs, perm, size in ((B, co, k), (B.T, ro, n)):
    z_hi, z_lo, corr = _refine(system(Bs), exact_apply(Bs), b)
    zero_tol = 8.0 * corr + 16.0 * jnp.finfo(dt).eps ** 2
    w_hi = jnp.where(live, z_hi[:N], 0.0)
    w_lo = jnp.where(live, z_lo[:N], 0.0)
    p_hi = jnp.zeros((N,), dt).at[perm].set(w_hi)[:size]
    p_lo = jnp.zeros((N,), dt).at[perm].set(w_lo)[:size]
    out.append(_to_simplex(p_hi, p_lo, zero_tol))
  (y, ok_y), (x, ok_x) = out
  return _finish(A, x, y, ok_x & ok_y & square, tol)


def _finish(A, x, y, ok, tol, skew=False):
  gap, value, slack = certificate(A, x, y, skew=skew)
  certified = ok & jnp.isfinite(gap) & (gap + slack <= tol)
  return Certified(x, y, value, gap, certified, x > 0, y > 0)


def _kl_to_best_response(p, log_ref, f_hi, f_lo, beta, f_err):
  """Upper bound of ``KL(p || softmax(log_ref + f / beta))``.

  With ``d = log p - log_ref - f / beta`` and any constant ``c``,
  ``KL = sum p d - c + log sum p exp(-(d - c))``; ``log(1 + u) <= u`` gives
  ``KL <= sum p phi(d - c)``, ``phi(t) = exp(-t) - 1 + t <= t^2 exp|t| / 2``,
  whatever the rounding of ``c``. Each ``d_i - c`` is computed to a few
  ulps of the magnitudes that enter it (``f`` in double-float), and the
  bound uses ``|d_i - c| + err_i``. It needs ``p > 0`` (the regularized
  equilibrium is interior).
  """
  eps = jnp.finfo(p.dtype).eps
  safe = jnp.where(p > 0, p, 1.0)
  logp = jnp.log(safe)
  q = f_hi / beta + f_lo / beta
  d = logp - log_ref - q
  c = jnp.sum(p * d)
  e = d - c
  err = 4.0 * eps * (jnp.abs(logp) + jnp.abs(log_ref) + jnp.abs(q)
                     + jnp.abs(c) + jnp.abs(e)) + f_err / beta
  t = jnp.abs(e) + err
  bound = jnp.sum(jnp.where(p > 0, p * 0.5 * t * t * jnp.exp(t), 0.0))
  return jnp.where(jnp.all(p > 0), bound, jnp.inf)


def newton_regularized(A, x, y, beta, log_ref_row, log_ref_col, symmetric,
                       steps=2):
  """Newton steps on the regularized fixed point with double-float ``A y``.

  ``x = softmax(log rho_x + A y / beta)``, ``y = softmax(log rho_y - A^T x
  / beta)`` (``y = x`` when ``symmetric``); the Jacobian ``I - D A / beta``
  (``D = diag(s) - s s^T``) is inverted in the working dtype
  (:func:`nash_align.solvers.linalg.inverse`), the residual evaluated with
  error-free products, so the fixed point is reached to the accuracy of the
  softmax itself.
  """
  dt = A.dtype
  n, k = A.shape
  tiny = jnp.finfo(dt).tiny
  for _ in range(steps):
    ay_hi, ay_lo = cp.matvec(A, y)
    sx = jax.nn.softmax(log_ref_row + ay_hi / beta + ay_lo / beta)
    dx = jnp.diag(sx) - sx[:, None] * sx[None, :]
    if symmetric:
      J = jnp.eye(n, dtype=dt) - cp.mm(dx, A) / beta
      d = cp.mm(linalg.inverse(J), sx - x)
      x = sum_to_one(jnp.maximum(x + d, tiny))
      y = x
      continue
    xa_hi, xa_lo = cp.vecmat(x, A)
    sy = jax.nn.softmax(log_ref_col - xa_hi / beta - xa_lo / beta)
    dy = jnp.diag(sy) - sy[:, None] * sy[None, :]
    J = jnp.concatenate([
        jnp.concatenate([jnp.eye(n, dtype=dt), -cp.mm(dx, A) / beta], 1),
        jnp.concatenate([cp.mm(dy, A.T) / beta, jnp.eye(k, dtype=dt)], 1)], 0)
    d = cp.mm(linalg.inverse(J), jnp.concatenate([sx - x, sy - y]))
    x = sum_to_one(jnp.maximum(x + d[:n], tiny))
    y = sum_to_one(jnp.maximum(y + d[n:], tiny))
  return x, y


def certify_regularized(A, x, y, beta, log_ref_row, log_ref_col, tol):
  """Certificate of ``(x, y)`` in the KL-regularized game (``beta > 0``).

  The gap of ``f(x, y) = x^T A y - beta KL(x||rho_x) + beta KL(y||rho_y)``
  is ``beta KL(x || x*(y)) + beta KL(y || y*(x))`` with the best responses
  ``x*(y) = softmax(log rho_x + A y / beta)`` and
  ``y*(x) = softmax(log rho_y - A^T x / beta)``. Each KL is bounded from
  above with double-float ``A y`` (:func:`_kl_to_best_response`); the
  returned ``gap`` is that bound, at least what float64 would compute.
  """
  scale = jnp.max(jnp.abs(A))
  ay_hi, ay_lo = cp.matvec(A, y, a_max=scale)
  xa_hi, xa_lo = cp.vecmat(x, A, a_max=scale)
  err_ay = cp.matvec_error(A.shape[1], A.dtype) * scale * jnp.sum(y)
  err_xa = cp.matvec_error(A.shape[0], A.dtype) * scale * jnp.sum(x)
  gap = beta * (
      _kl_to_best_response(x, log_ref_row, ay_hi, ay_lo, beta, err_ay)
      + _kl_to_best_response(y, log_ref_col, -xa_hi, -xa_lo, beta, err_xa))
  _, value, _ = certificate(A, x, y, scale)
  # The bound is of the distributions the arrays represent (x / sum x):
  # scaled by their sums' error, not shifted by it.
  sx, sy = cp.total(x), cp.total(y)
  off = jnp.abs((sx[0] - 1.0) + sx[1]) + jnp.abs((sy[0] - 1.0) + sy[1])
  gap = gap * (1.0 + 2.0 * off)
  kl = lambda p, lr: jnp.sum(jnp.where(p > 0, p * (jnp.log(
      jnp.where(p > 0, p, 1.0)) - lr), 0.0))
  value = value - beta * kl(x, log_ref_row) + beta * kl(y, log_ref_col)
  certified = jnp.isfinite(gap) & (gap <= tol)
  return Certified(x, y, value, gap, certified, x > 0, y > 0)


def certify_candidate(A, x, y, tol, skew=False):
  """Certificate of a candidate ``(x, y)`` as it is (no refinement);
  ``skew``: see :func:`certificate`."""
  ok = jnp.all(x >= 0) & jnp.all(y >= 0)
  return _finish(A, x, y, ok, tol, skew)


__all__ = ("Certified", "certificate", "certify_candidate", "sum_to_one",
           "certify_regularized", "refine_general", "refine_symmetric")
