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
* :func:`matvec` sums the exact products of a row with a pairwise tree of
  TwoSums (the error terms in float32), which is the compensated summation of
  Ogita, Rump and Oishi ("Accurate sum and dot product", SIAM J. Sci. Comput.
  26(6), 2005): the result is a double-float ``(hi, lo)`` whose error is about
  ``eps^2 log2(m) sum |terms|`` plus one rounding of the result, ``eps = 2^-24``.

With float64 inputs (x64 on) the plain float64 product is used: it is then
float64 arithmetic itself.
"""

import jax
import jax.numpy as jnp


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
    prod = jnp.einsum("...ij,...j->...i", A, v_hi)
    if v_lo is not None:
      prod = prod + jnp.einsum("...ij,...j->...i", A, v_lo)
    return prod, jnp.zeros_like(prod)
  a_hi, a_lo = split(A)
  b_hi, b_lo = split(v_hi)
  b_hi, b_lo = b_hi[..., None, :], b_lo[..., None, :]
  terms = [a_hi * b_hi, a_hi * b_lo, a_lo * b_hi, a_lo * b_lo]
  hi, lo = _tree_sum(jnp.concatenate(terms, axis=-1))
  if v_lo is not None:
    # |v_lo| <= eps |v_hi|: its product needs only float32 accuracy.
    lo = lo + jnp.einsum("...ij,...j->...i", A, v_lo)
  return hi, lo


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


__all__ = ("add", "fast_renorm", "matvec", "split", "total", "two_sum",
           "vecmat")
