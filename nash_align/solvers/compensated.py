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
* :func:`matvec` sums the exact products of the high halves with a pairwise
  tree of TwoSums (the error terms in float32), the compensated summation of
  Ogita, Rump and Oishi ("Accurate sum and dot product", SIAM J. Sci. Comput.
  26(6), 2005), and adds the cross terms (``hi lo + lo hi + lo lo``, at most
  ``2^-11`` of each product) in plain float32. Its error is at most
  :func:`matvec_error` ``(k) * sum_j |a_j| |v_j|`` (about ``1e-11`` of it at
  ``k = 50``; the tree's own error is of order ``eps^2``), ``eps = 2^-24``.

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
  """Double-float sum over the last axis of ``t`` ``[..., m]`` (exact terms)."""
  m = t.shape[-1]
  size = 1 << max(0, (m - 1).bit_length())
  if size != m:
    t = jnp.concatenate(
        [t, jnp.zeros(t.shape[:-1] + (size - m,), t.dtype)], axis=-1)
  hi, lo = t, jnp.zeros_like(t)
  while hi.shape[-1] > 1:
    h = hi.reshape(hi.shape[:-1] + (-1, 2))
    l = lo.reshape(lo.shape[:-1] + (-1, 2))
    s, e = two_sum(h[..., 0], h[..., 1])
    hi, lo = s, l[..., 0] + l[..., 1] + e
  return hi[..., 0], lo[..., 0]


def is_float32(x) -> bool:
  return jnp.asarray(x).dtype == jnp.float32


def matvec(A, v_hi, v_lo=None):
  """Double-float ``A @ v`` for ``A`` ``[..., n, k]`` and ``v = v_hi + v_lo`` ``[..., k]``.

  Returns ``(hi, lo)`` ``[..., n]``. For float64 inputs ``lo`` is zero and
  ``hi`` the float64 product.
  """
  if not is_float32(A):
    prod = jnp.einsum("...ij,...j->...i", A, v_hi, precision=HIGHEST)
    if v_lo is not None:
      prod = prod + jnp.einsum("...ij,...j->...i", A, v_lo, precision=HIGHEST)
    return prod, jnp.zeros_like(prod)
  a_hi, a_lo = split(A)
  b_hi, b_lo = split(v_hi)
  b_hi, b_lo = b_hi[..., None, :], b_lo[..., None, :]
  hi, lo = _tree_sum(a_hi * b_hi)  # exact products, compensated sum
  # The cross terms are at most 2^-11 of each product: float32 suffices
  # (matvec_error bounds what it leaves).
  lo = lo + jnp.sum(a_hi * b_lo + a_lo * b_hi + a_lo * b_lo, axis=-1)
  if v_lo is not None:
    # |v_lo| <= eps |v_hi|: its product needs only float32 accuracy.
    lo = lo + jnp.einsum("...ij,...j->...i", A, v_lo, precision=HIGHEST)
  return hi, lo


def matvec_error(k: int, dtype=jnp.float32) -> float:
  """Relative bound: ``|matvec - A v| <= matvec_error(k) sum_j |a_j v_j|``.

  The float32 sum of ``k`` cross terms of size at most ``(2^-11 + 2^-24)
  |a_j v_j|`` each (``(k + 2) eps`` relative error), the tree's ``eps^2``
  terms and the final renormalisation, with a factor 2 to spare. Zero in
  float64 (plain float64 arithmetic).
  """
  if jnp.dtype(dtype) != jnp.float32:
    return 0.0
  eps = 2.0 ** -24
  return 2.0 * ((k + 2) * eps * (2.0 ** -11 + 2.0 ** -24) + 4 * k * eps * eps)


def vecmat(v_hi, A, v_lo=None):
  """Double-float ``v @ A`` ``[..., k]`` (see :func:`matvec`)."""
  return matvec(jnp.swapaxes(A, -1, -2), v_hi, v_lo)


def add(a_hi, a_lo, b_hi, b_lo):
  """Double-float ``a + b``."""
  s, e = two_sum(a_hi, b_hi)
  return fast_renorm(s, e + a_lo + b_lo)


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


__all__ = ("HIGHEST", "add", "fast_renorm", "matvec", "matvec_error", "mm", "split",
           "total", "two_sum", "vecmat")
