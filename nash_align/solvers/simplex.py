"""Dense tableau simplex for ONE matrix game, in ``lax`` (an exact method).

With the payoff shifted positive, ``A' = A - min A + 1`` (so the value
``v' >= 1``), the column player's LP is

.. math::
  \\max\\ \\mathbf 1^T w\\quad\\text{s.t.}\\quad A' w \\le \\mathbf 1,\\ w \\ge 0,
  \\qquad y = w / \\mathbf 1^T w,\\quad v' = 1 / \\mathbf 1^T w,

whose slack basis is feasible (no phase 1). The row strategy is read from
the duals (the reduced costs of the slacks), ``x = u / 1^T u``. The ratio
test runs on a slightly perturbed right-hand side ``1 + delta`` (``delta_i``
in ``[0.5, 1.5] * 1e-5``, distinct), the classical cure for cycling and
stalling on degenerate LPs (Charnes, Econometrica 1952), while the true
right-hand side is carried along as an extra column: the duals depend only on
the basis, so the final basis gives the exact unperturbed solution whenever
it stays optimal for ``delta = 0`` (the certificate checks). One
``update`` is one pivot (Dantzig's rule, the textbook ratio test; Dantzig,
"Linear programming and extensions", 1963; the game/LP reduction is von
Neumann's, see Dantzig 1951). The tableau is ``[n, k + n + 1]`` in the
working dtype; the driver certifies the basic solution in float64 and, if
float32 rounding misses the tolerance, redoes the exact step (the equalizer
on the optimal basis' support) in float64.

Same optax-shaped interface as :mod:`nash_align.solvers.methods`, so the
driver vmaps it, runs it in its ``while_loop`` and streams it through the
pool (a game that reaches its optimal basis leaves the pool).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nash_align.solvers.methods import Game, Method

_REDUCED_COST_TOL = 1e-6  # relative to payoffs scaled to max |A| = 1
_PIVOT_TOL = 1e-6
_PERTURBATION = 1e-5  # relative size of the right-hand-side perturbation


class SimplexState(NamedTuple):
  count: jax.Array  # [] int32 pivots taken
  tableau: jax.Array  # [n, k + n + 2]; perturbed then true right-hand side
  objective: jax.Array  # [k + n + 2] reduced costs, then objective entries
  basis: jax.Array  # [n] int32 basic variable of each row
  optimal: jax.Array  # [] bool: no improving column (or no valid pivot)


def simplex() -> Method:
  """Dense tableau simplex on the game's LP (Dantzig's rule).

  .. math::
    j = \\arg\\min_j r_j,\\quad i = \\arg\\min_{i: T_{ij} > 0} b_i / T_{ij},
    \\quad T \\leftarrow T - T_{:j} T_{i:} / T_{ij}\\ (\\text{row } i
    \\leftarrow T_{i:}/T_{ij}).

  Terminates at an optimal basis (an exact vertex equilibrium) in finitely
  many pivots barring cycling on degenerate games, which the iteration cap
  bounds. Candidate: the basic solution ``(x from duals, y from primal)``.
  """

  def init(game, symmetric):
    del symmetric
    A = game.A
    n, k = A.shape
    Ap = A - jnp.min(A) + 1.0
    # Perturbed right-hand side for the ratio test (anti-cycling on the
    # very degenerate LPs of tournaments), and the true one carried along.
    golden = 0.6180339887498949
    frac = jnp.mod(jnp.arange(1, n + 1, dtype=A.dtype) * golden, 1.0)
    b_pert = 1.0 + _PERTURBATION * (0.5 + frac)
    T = jnp.concatenate(
        [Ap, jnp.eye(n, dtype=A.dtype), b_pert[:, None],
         jnp.ones((n, 1), A.dtype)], axis=1)
    r = jnp.concatenate([-jnp.ones((k,), A.dtype),
                         jnp.zeros((n + 2,), A.dtype)])
    basis = jnp.arange(k, k + n, dtype=jnp.int32)
    return SimplexState(jnp.zeros((), jnp.int32), T, r, basis,
                        jnp.zeros((), bool))

  def update(state, game):
    del game
    T, r = state.tableau, state.objective
    j = jnp.argmin(r[:-1])
    improving = r[j] < -_REDUCED_COST_TOL
    col = T[:, j]
    rhs = T[:, -2]
    valid = col > _PIVOT_TOL
    ratio = jnp.where(valid, rhs / jnp.where(valid, col, 1.0), jnp.inf)
    i = jnp.argmin(ratio)
    go = improving & jnp.any(valid) & ~state.optimal
    row = T[i] / jnp.where(go, T[i, j], 1.0)
    T_new = (T - col[:, None] * row[None, :]).at[i].set(row)
    r_new = r - r[j] * row
    basis_new = state.basis.at[i].set(j.astype(jnp.int32))
    pick = lambda a, b: jnp.where(go, a, b)
    return SimplexState(state.count + go.astype(jnp.int32), pick(T_new, T),
                        pick(r_new, r), pick(basis_new, state.basis),
                        state.optimal | ~go)

  def candidates(state):
    n = state.tableau.shape[0]
    k = state.objective.shape[0] - n - 2
    w = jnp.zeros((k + n,), state.tableau.dtype).at[state.basis].set(
        state.tableau[:, -1])[:k]
    u = state.objective[k:k + n]
    y = _normalize(w)
    x = _normalize(u)
    return ((x, y),)

  def finished(state):
    return state.optimal

  return Method(init, update, candidates, 1.0, False, "dense simplex",
                exact_step=False, check_every=8, finished=finished)


def _normalize(p):
  p = jnp.maximum(p, 0.0)
  s = jnp.sum(p)
  return jnp.where(s > 0, p / jnp.where(s > 0, s, 1.0), 1.0 / p.shape[0])


__all__ = ("SimplexState", "simplex")
