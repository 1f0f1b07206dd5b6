"""Dense inverse of ONE small matrix in ``lax`` (Gauss-Jordan, partial pivoting).

The kernels need a few linear solves per game (the equalizer system and its
refinement, the simplex's reinversion). They are written here in ``lax``
instead of calling LAPACK: jaxlib's CPU LAPACK calls block XLA's intra-op
thread pool while their batch chunks run, and several of them in flight in
one program (a vmapped kernel with two solves, two pools, or the programs
of several CPU devices under ``shard_map`` running at once) can hang the
process (BUILD_NOTES.md, known pitfalls). This version is plain XLA, so it is
the same code on CPU, GPU and TPU, vmaps, and its cost (``N^3`` multiply-adds
for ``[N, N]``) is small beside the simplex pivots it serves.
"""

import jax
import jax.numpy as jnp


def _gauss_jordan(aug, N):
  """Reduces the first ``N`` columns of ``aug`` ``[N, N + m]`` to the
  identity, with partial pivoting; the last ``m`` columns become
  ``M^{-1} aug[:, N:]``."""
  rows = jnp.arange(N)

  def step(c, aug):
    col = aug[:, c]
    p = jnp.argmax(jnp.where(rows >= c, jnp.abs(col), -1.0))
    row_c, row_p = aug[c], aug[p]
    aug = aug.at[p].set(row_c).at[c].set(row_p)
    pivot_row = row_p / row_p[c]
    factor = jnp.where(rows == c, 0.0, aug[:, c])
    aug = aug - factor[:, None] * pivot_row[None, :]
    return aug.at[c].set(pivot_row)

  return jax.lax.fori_loop(0, N, step, aug)[:, N:]


def inverse(M):
  """``M^{-1}`` for ``M`` ``[N, N]`` by Gauss-Jordan elimination with
  partial pivoting (Golub and Van Loan, "Matrix Computations", 4th ed.,
  Sec. 3.4). A singular ``M`` gives non-finite entries (callers check)."""
  N = M.shape[0]
  return _gauss_jordan(
      jnp.concatenate([M, jnp.eye(N, dtype=M.dtype)], axis=1), N)


def solve(M, b):
  """``M^{-1} b`` for ``M`` ``[N, N]``, ``b`` ``[N]`` (Gauss-Jordan on
  ``[M | b]``, partial pivoting). A singular ``M`` gives non-finite
  entries."""
  N = M.shape[0]
  return _gauss_jordan(jnp.concatenate([M, b[:, None]], axis=1), N)[:, 0]


__all__ = ("inverse", "solve")
