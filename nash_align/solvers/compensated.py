"""Error-free transformations: float64-accurate dot products from float32.

The certificate of a float32 answer must be what float64 arithmetic computes
from the returned arrays, on devices without fast float64 (TPUs) too. Every
float32 number is exactly a float64 number, so the float64 duality gap of
float32 strategies differs from the exact one only by float64's own rounding.
These helpers compute dot products with float32 operations to that accuracy:

* :func:`split` cuts a float32 ``a`` into ``hi + lo`` with 12 significant bits
  each (by masking the mantissa, so no compiler contraction into an FMA can
  change it); products of halves are exact in float32.
* :func:`two_sum` is Knuth's TwoSum: ``s + e == a + b`` exactly.
* :func:`matvec` / :func:`vecmat` form the exact products of the high
  halves and sum them error-free by extraction (Rump, Ogita and Oishi,
  "Accurate floating-point summation part I", SIAM J. Sci. Comput. 31(1),
  2008): with ``sigma`` a power of two above four times the row's
  ``sum |p_j|``, ``q_j = (sigma + p_j) - sigma`` are multiples of
  ``ulp(sigma) / 2`` whose float32 sum is exact in any order, and
  ``p_j - q_j`` is exact. The
  remainders and the cross terms (``hi lo + lo v``, at most ``2^-10`` of
  each product) are summed in plain float32. Its error is at most
  :func:`matvec_error` ``(k) * sum_j |a_j| |v_j|`` (``6e-9`` of it at
  ``k = 50``). Only elementwise operations and reductions, so XLA fuses and
  vectorises it (a pairwise TwoSum tree was 2-5x slower on CPU).

With float64 inputs (x64 on) the plain float64 product is used: it is then
float64 arithmetic itself.
"""

import jax
import jax.numpy as jnp


# Accelerators round float32 matrix products by default (TF32 on recent
# NVIDIA GPUs, bfloat16 passes on TPUs): every product in the solvers asks
# for true float32 so pivots, refinement and bounds mean the same everywhere.
HIGHEST = jax.lax.Precision.HIGHEST


def mm(a, b):
  """``a @ b`` in true float32 (or float64) on every backend."""
  return jnp.matmul(a, b, precision=HIGHEST)


def two_sum(a, b):
  """``(s, e)`` with ``s = fl(a + b)`` and ``s + e = a + b`` exactly (Knuth)."""
  s = a + b
  bp = s - a
  e = (a - (s - bp)) + (b - bp)
  return s, e


def split(a):
  """``(hi, lo)``: float32 ``a = hi + lo`` exactly, 12 significant bits each."""
  bits = jax.lax.bitcast_convert_type(a, jnp.uint32)
  hi = jax.lax.bitcast_convert_type(bits & jnp.uint32(0xFFFFF000), jnp.float32)
  return hi, a - hi


def _tree_sum(t):
  """Double-float sum over the last axis of ``t`` ``[..., m]`` (exact terms):
  a pairwise tree of TwoSums over contiguous halves."""
  m = t.shape[-1]
  size = 1 << max(0, (m - 1).bit_length())
  if size != m:
    t = jnp.concatenate(
        [t, jnp.zeros(t.shape[:-1] + (size - m,), t.dtype)], axis=-1)
  hi, lo = t, jnp.zeros_like(t)
  while hi.shape[-1] > 1:
    h = hi.shape[-1] // 2
    s, e = two_sum(hi[..., :h], hi[..., h:])
    hi, lo = s, (lo[..., :h] + lo[..., h:]) + e
  return hi[..., 0], lo[..., 0]


def is_float32(x) -> bool:
  return jnp.asarray(x).dtype == jnp.float32


def _pow2_above(v):
  """A power of two in ``(v, 2 v]`` for ``v >= 0`` normal (0 for 0)."""
  bits = jax.lax.bitcast_convert_type(v, jnp.uint32)
  return 2.0 * jax.lax.bitcast_convert_type(bits & jnp.uint32(0x7F800000),
                                            jnp.float32)


def _dot(A, v_hi, v_lo, axis, a_max=None):
  """Double-float contraction of ``A`` ``[..., n, k]`` with ``v`` over
  ``axis`` (-1: ``A v``, ``v`` ``[..., k]``; -2: ``v A``, ``v`` ``[..., n]``).
  ``a_max`` ``[...]``: None, or a bound on ``max |A|`` (see :func:`matvec`).
  """
  expand = (lambda z: z[..., None, :]) if axis == -1 else (
      lambda z: z[..., :, None])
  if not is_float32(A):
    prod = jnp.sum(A * expand(v_hi), axis=axis)
    if v_lo is not None:
      prod = prod + jnp.sum(A * expand(v_lo), axis=axis)
    return prod, jnp.zeros_like(prod)
  a_hi, a_lo = split(A)
  b_hi, b_lo = split(v_hi)
  p = a_hi * expand(b_hi)  # exact: 12 x 12 significant bits
  # The cross terms are at most 2^-10 of each product: float32 suffices
  # (matvec_error bounds what they leave).
  cross = a_hi * expand(b_lo) + a_lo * expand(v_hi)
  if v_lo is not None:  # |v_lo| <= eps |v_hi|
    cross = cross + A * expand(v_lo)
  if a_max is None:
    sigma = jnp.expand_dims(
        _pow2_above(4.0 * jnp.sum(jnp.abs(p), axis=axis)), axis)
  else:
    # sum_j |p_j| <= a_max sum_j |b_j|: no pass over the products (XLA's CPU
    # backend materialised them for that reduction: 1.4 against 0.85 us a
    # game for a [128, 50, 50] batch, one core).
    sigma = _pow2_above(4.0 * jnp.asarray(a_max, A.dtype) *
                        jnp.sum(jnp.abs(b_hi), axis=-1))[..., None, None]
  q = (sigma + p) - sigma  # error-free extraction: p - q is exact
  # Both sums in ONE reduction over the stacked terms: XLA's CPU backend
  # ran two separate reductions (each re-deriving p and q) 2.2x slower
  # (a [128, 50, 50] batch: 2.8 against 1.3 us a game, one core).
  sums = jnp.sum(jnp.stack([q, (p - q) + cross]), axis=axis)  # axis < 0
  return sums[0], sums[1]


def matvec(A, v_hi, v_lo=None, a_max=None):
  """Double-float ``A @ v`` for ``A`` ``[..., n, k]`` and ``v = v_hi + v_lo`` ``[..., k]``.

  ``a_max`` ``[...]``: None, or an upper bound on ``max |A|`` (the payoff
  scale): then the extraction constant comes from ``a_max sum_j |v_j|``
  instead of a pass over the products (faster), and the error bound of
  :func:`matvec_error` is relative to that instead of ``sum_j |a_j v_j|``.
  Returns ``(hi, lo)`` ``[..., n]``. For float64 inputs ``lo`` is zero and
  ``hi`` the float64 product.
  """
  return _dot(A, v_hi, v_lo, -1, a_max)


def matvec_error(k: int, dtype=jnp.float32) -> float:
  """Relative bound: ``|matvec - A v| <= matvec_error(k) sum_j |a_j v_j|``
  (``<= matvec_error(k) a_max sum_j |v_j|`` when ``a_max`` is given).

  The float32 sum of ``k`` terms (remainders of at most ``eps sigma``,
  ``sigma < 8 sum_j |p_j|`` (``8 a_max sum_j |v_j|``), so every
  ``sigma + p_j >= sigma / 2``, plus
  cross terms of at most ``2^-10 |a_j v_j|``), each term's own rounding, and a factor 2 to spare; ``eps =
  2^-24``. Zero in float64 (plain float64 arithmetic).
  """
  if jnp.dtype(dtype) != jnp.float32:
    return 0.0
  eps = 2.0 ** -24
  gamma = (k + 1) * eps / (1.0 - (k + 1) * eps)
  return 2.0 * (gamma * (8 * k * eps + 2.0 ** -10 * (1 + 2.0 ** -11))
                + 3 * eps * 2.0 ** -10)


def vecmat(v_hi, A, v_lo=None, a_max=None):
  """Double-float ``v @ A`` ``[..., k]`` (see :func:`matvec`; no transpose)."""
  return _dot(A, v_hi, v_lo, -2, a_max)


def add(a_hi, a_lo, b_hi, b_lo):
  """Double-float ``a + b``."""
  s, e = two_sum(a_hi, b_hi)
  return fast_renorm(s, e + a_lo + b_lo)


def scale(a, b_hi, b_lo):
  """Double-float ``a (b_hi + b_lo)`` for a scalar ``a``."""
  if not is_float32(b_hi):
    return a * b_hi + a * b_lo, jnp.zeros_like(b_hi)
  a = jnp.asarray(a, b_hi.dtype)
  a_hi, a_lo = split(a)
  h_hi, h_lo = split(b_hi)
  p = a_hi * h_hi  # exact
  e = (a_hi * h_lo + a_lo * h_hi) + (a_lo * h_lo + a * b_lo)
  return two_sum(p, e)


def fast_renorm(hi, lo):
  """``(hi, lo)`` renormalised so that ``|lo| <= ulp(hi) / 2``."""
  return two_sum(hi, lo)


def total(t_hi, t_lo=None):
  """Double-float sum over the last axis of ``t = t_hi + t_lo``."""
  if not is_float32(t_hi):
    s = jnp.sum(t_hi, axis=-1)
    if t_lo is not None:
      s = s + jnp.sum(t_lo, axis=-1)
    return s, jnp.zeros_like(s)
  hi, lo = _tree_sum(t_hi)
  if t_lo is not None:
    lo = lo + jnp.sum(t_lo, axis=-1)
  return fast_renorm(hi, lo)


__all__ = ("HIGHEST", "add", "fast_renorm", "matvec", "matvec_error", "mm",
           "scale", "split", "total", "two_sum", "vecmat")
