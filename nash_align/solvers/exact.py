"""Exact steps and certificates for ONE game, in JAX (working dtype).

First-order iterations only approach an equilibrium; these steps finish the
job exactly and are fixed-size (padded and masked), so they jit and vmap.

* Unregularized game (``beta = 0``): given a support guess ``S`` (rows) and
  ``T`` (columns), solve the equalizer system on the support. With the
  payoff shifted positive, ``A' = A - min A + 1`` (value ``>= 1``), and
  ``u = x / v``, ``w = y / v``:

  .. math::
    (A' w)_i = 1\\ (i \\in S),\\quad u_i = 0\\ (i \\notin S),\\quad
    (A'^T u)_j = 1\\ (j \\in T),\\quad w_j = 0\\ (j \\notin T),

  an ``(n + k)``-square linear system, nonsingular iff ``A'_{ST}`` is. Then
  ``x = u / 1^T u``, ``y = w / 1^T w``. On the symmetric path (``A = -A^T``,
  value 0, ``x = y``) it is the ``n``-square system
  ``(A_{SS} + 1 1^T) x_S = 1``, ``x_i = 0`` off ``S``, which is nonsingular
  exactly when the null space of the skew matrix ``A_{SS}`` is a line not
  orthogonal to ``1`` (then its solution is the equalizer with ``1^T x = 1``).
  The result is an equilibrium iff it is non-negative and no action off the
  support does better: the duality gap decides, nothing else.

* Regularized game (``beta > 0``): the equilibrium is the unique fixed point
  ``x = softmax(log rho_x + A y / beta)``, ``y = softmax(log rho_y - A^T x /
  beta)``; Newton's method on it converges quadratically from the
  first-order iterate (Jacobian ``I - D A / beta`` blocks,
  ``D = diag(s) - s s^T``).
"""

from typing import List, Sequence, Tuple

import jax
import jax.numpy as jnp

from nash_align.solvers import compensated as cp
from nash_align.solvers import linalg
from nash_align.solvers.methods import Game, Profile, normalize, operator


def gap(game: Game, z: Profile, regularized: bool = True) -> jax.Array:
  """Duality gap of ``z`` in the (regularized) game, working dtype.

  ``regularized=False`` (static) skips the KL terms: the plain gap, without
  the logs and exponentials a ``jnp.where`` on ``beta`` would still compute.

  ``beta = 0``: ``max_i (A y)_i - min_j (x^T A)_j``. ``beta > 0``: the gap
  of ``f(x, y) = x^T A y - beta KL(x||rho_x) + beta KL(y||rho_y)``,

  .. math::
    \\beta\\,\\mathrm{lse}(\\log\\rho_x + A y/\\beta) + \\beta KL(y\\|\\rho_y)
    + \\beta\\,\\mathrm{lse}(\\log\\rho_y - A^T x/\\beta) + \\beta KL(x\\|\\rho_x).
  """
  F = operator(game, z)
  if len(z) == 1:
    z = (z[0], z[0])
    F = (F[0], F[0])
    log_ref = (game.log_ref[0], game.log_ref[0])
  else:
    log_ref = game.log_ref
  plain = jnp.max(F[0]) + jnp.max(F[1])
  if not regularized:
    return plain
  b = jnp.where(game.beta > 0, game.beta, 1.0)
  def kl(p, lr):
    return jnp.sum(jnp.where(p > 0, p * (jnp.log(jnp.where(p > 0, p, 1.0))
                                         - lr), 0.0))
  reg = (b * jax.nn.logsumexp(log_ref[0] + F[0] / b)
         + b * jax.nn.logsumexp(log_ref[1] + F[1] / b)
         + b * kl(z[0], log_ref[0]) + b * kl(z[1], log_ref[1]))
  return jnp.where(game.beta > 0, reg, plain)


def several_cpu_devices() -> bool:
  """True when this process has more than one CPU device (their programs,
  under ``shard_map`` or a sharded ``jit``, run at the same time)."""
  try:
    return len(jax.devices("cpu")) > 1
  except RuntimeError:  # no CPU backend
    return False


def solve_stacked(Ms, bs):
  """``[solve(M, b) for M, b in zip(Ms, bs)]`` as ONE batched linear solve.

  Not one solve per system: on CPU, jaxlib 0.10.x runs a batched LAPACK
  call (``getrf``/``trsm``) by queueing chunks of the batch on XLA's
  intra-op thread pool and blocking a pool thread until they are done.
  Solves in flight at the same time each block a pool thread; with as many
  of them as pool threads (two on a 2-core machine) nothing is left to run
  the chunks, and the process hangs idle in ``BlockingCounter::Wait`` under
  ``ParallelBatchMap``. One call site in a program blocks at most one
  thread. With several CPU devices each device's program holds one, so
  there the systems are solved in ``lax`` instead
  (:func:`nash_align.solvers.linalg.solve`, vmapped: the same values up to
  rounding, 1.5-4.5x slower on the regularized family's Newton systems at
  n = 50 than LAPACK, which keeps each matrix in cache). Each system is
  factorized on its own.
  """
  if several_cpu_devices():
    X = jax.vmap(linalg.solve)(jnp.stack(Ms), jnp.stack(bs))
    return [X[i] for i in range(len(Ms))]
  if len(Ms) == 1:
    return [jnp.linalg.solve(Ms[0], bs[0])]
  X = jnp.linalg.solve(jnp.stack(Ms), jnp.stack(bs)[..., None])[..., 0]
  return [X[i] for i in range(len(Ms))]


def _symmetric_system(A, support):
  m = support.astype(A.dtype)
  M = m[:, None] * m[None, :] * (A + 1.0) + jnp.diag(1.0 - m)
  return M, m


def _symmetric_finish(A, x):
  n = A.shape[0]
  s = jnp.sum(x)
  tiny = 16 * jnp.finfo(A.dtype).eps
  ok = jnp.all(jnp.isfinite(x)) & (s > 0.5) & jnp.all(x >= -tiny * jnp.abs(s))
  x = jnp.where(ok, x, jnp.full((n,), 1.0 / n, A.dtype))
  return normalize(x), ok


def _general_system(A, rows, cols):
  s = rows.astype(A.dtype)
  t = cols.astype(A.dtype)
  Ap = A - jnp.min(A) + 1.0
  top = jnp.concatenate(
      [jnp.diag(1.0 - s), s[:, None] * Ap * t[None, :]], axis=1)
  bottom = jnp.concatenate(
      [t[:, None] * Ap.T * s[None, :], jnp.diag(1.0 - t)], axis=1)
  M = jnp.concatenate([top, bottom], axis=0)
  return M, jnp.concatenate([s, t])


def _general_finish(A, sol):
  n = A.shape[0]
  u, w = sol[:n], sol[n:]
  su, sw = jnp.sum(u), jnp.sum(w)
  tiny = 16 * jnp.finfo(A.dtype).eps
  ok = (jnp.all(jnp.isfinite(sol)) & (su > 0) & (sw > 0)
        & jnp.all(u >= -tiny * jnp.abs(su)) & jnp.all(w >= -tiny * jnp.abs(sw)))
  u = jnp.where(ok, u, 1.0)
  w = jnp.where(ok, w, 1.0)
  return normalize(u), normalize(w), ok


def equalizer_symmetric(A: jax.Array, support: jax.Array
                        ) -> Tuple[jax.Array, jax.Array]:
  """Equalizer ``x`` ``[n]`` of the skew game ``A`` ``[n, n]`` on ``support``.

  Returns ``(x, ok)``: ``x`` on the simplex (zero off the support) and
  ``ok`` whether the solve was finite and non-negative (before clipping).
  """
  return equalizers_symmetric(A, [support])[0]


def equalizers_symmetric(A: jax.Array, supports: Sequence[jax.Array]
                         ) -> List[Tuple[jax.Array, jax.Array]]:
  """:func:`equalizer_symmetric` for several supports, one linear solve."""
  systems = [_symmetric_system(A, sup) for sup in supports]
  sols = solve_stacked([M for M, _ in systems], [b for _, b in systems])
  return [_symmetric_finish(A, x) for x in sols]


def equalizer_general(A: jax.Array, rows: jax.Array, cols: jax.Array
                      ) -> Tuple[jax.Array, jax.Array, jax.Array]:
  """Equalizer ``(x [n], y [k])`` of ``A`` ``[n, k]`` on supports ``rows``, ``cols``.

  Returns ``(x, y, ok)`` as :func:`equalizer_symmetric`.
  """
  return equalizers_general(A, [(rows, cols)])[0]


def equalizers_general(A: jax.Array,
                       supports: Sequence[Tuple[jax.Array, jax.Array]]
                       ) -> List[Tuple[jax.Array, jax.Array, jax.Array]]:
  """:func:`equalizer_general` for several ``(rows, cols)``, one solve."""
  systems = [_general_system(A, r, c) for r, c in supports]
  sols = solve_stacked([M for M, _ in systems], [b for _, b in systems])
  return [_general_finish(A, sol) for sol in sols]


def newton_regularized(game: Game, z: Profile, num_steps: int = 2) -> Profile:
  """``num_steps`` Newton steps on the regularized fixed point from ``z``.

  Solves ``G(z) = z - softmax(log rho + F(z) / beta) = 0`` (per player).
  Steps that leave the simplex are clipped to ``tiny`` and renormalised.
  """
  return newton_regularized_many(game, [z], num_steps)[0]


def newton_regularized_many(game: Game, zs: Sequence[Profile],
                            num_steps: int = 2) -> List[Profile]:
  """:func:`newton_regularized` from several starts, one solve per step."""
  b = jnp.where(game.beta > 0, game.beta, 1.0)
  A = game.A
  n, k = A.shape
  tiny = jnp.finfo(A.dtype).tiny

  def system(z):
    F = operator(game, z)
    s = tuple(jax.nn.softmax(lr + f / b) for lr, f in zip(game.log_ref, F))
    G = jnp.concatenate([zi - si for zi, si in zip(z, s)])
    D = [jnp.diag(si) - si[:, None] * si[None, :] for si in s]
    if len(z) == 1:
      J = jnp.eye(n, dtype=A.dtype) - cp.mm(D[0], A) / b
    else:
      J = jnp.concatenate([
          jnp.concatenate([jnp.eye(n, dtype=A.dtype), -cp.mm(D[0], A) / b], 1),
          jnp.concatenate([cp.mm(D[1], A.T) / b, jnp.eye(k, dtype=A.dtype)], 1)], 0)
    return J, -G

  def update(z, d):
    new = jnp.concatenate(z) + d
    new = jnp.where(jnp.isfinite(new), new, jnp.concatenate(z))
    sizes = (n,) if len(z) == 1 else (n, k)
    parts = jnp.split(new, [n])[: len(sizes)]
    return tuple(normalize(jnp.maximum(p, tiny)) for p in parts)

  def step(zs, _):
    systems = [system(z) for z in zs]
    ds = solve_stacked([J for J, _ in systems], [g for _, g in systems])
    return tuple(update(z, d) for z, d in zip(zs, ds)), None

  zs, _ = jax.lax.scan(step, tuple(zs), None, length=num_steps)
  return list(zs)


__all__ = (
    "equalizer_general",
    "equalizer_symmetric",
    "equalizers_general",
    "equalizers_symmetric",
    "gap",
    "newton_regularized",
    "newton_regularized_many",
    "solve_stacked",
)
