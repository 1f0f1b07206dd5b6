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
``update`` is one pivot: the entering column by normalised reduced cost (a
steepest-edge rule on the current tableau, Goldfarb & Reid, Math. Prog.
1977; about half the pivots of Dantzig's rule on tournaments), the textbook
ratio test (Dantzig, "Linear programming and extensions", 1963; the game/LP
reduction is von Neumann's, see Dantzig 1951). The condensed tableau is
``[n, k + 2]`` in the working dtype; the driver certifies the basic
solution in float64 and, if float32 rounding misses the tolerance, redoes
the exact step in float64 (the equalizer on the basis' support, then if
needed the same simplex in float64 on the host,
:func:`nash_align.solvers.host.simplex`).

Same optax-shaped interface as :mod:`nash_align.solvers.methods`, so the
driver vmaps it, runs it in its ``while_loop`` and streams it through the
pool (a game that reaches its optimal basis leaves the pool).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nash_align.solvers.exact import _normalize  # pylint: disable=protected-access
from nash_align.solvers.methods import Method

_REDUCED_COST_TOL = 1e-6  # relative to payoffs scaled to max |A| = 1
_PIVOT_TOL = 1e-6
_PERTURBATION = 1e-5  # relative size of the right-hand-side perturbation


class SimplexState(NamedTuple):
  count: jax.Array  # [] int32 pivots taken
  tableau: jax.Array  # [n, k + 2]: B^{-1} N, then perturbed and true rhs
  objective: jax.Array  # [k + 2] reduced costs, then objective values
  row_label: jax.Array  # [n] int32 basic variable of each row
  col_label: jax.Array  # [k] int32 nonbasic variable of each column
  optimal: jax.Array  # [] bool: no improving column (or no valid pivot)


def simplex() -> Method:
  """Dense simplex on the game's LP, condensed (Tucker) tableau.

  Variables are labelled ``0..k-1`` (``w``) and ``k..k+n-1`` (slacks); the
  tableau keeps only the nonbasic columns, ``[n, k]`` plus two right-hand
  sides, so a pivot is one rank-1 update of half the full tableau. Pivot
  ``(i, j)``, ``p = T_{ij}``:

  .. math::
    j = \\arg\\min_j \\frac{r_j}{\\sqrt{1 + \\|T_{:j}\\|^2}},\\quad
    i = \\arg\\min_{i: T_{ij} > 0} b_i / T_{ij},\\quad
    T_{ml} \\leftarrow T_{ml} - T_{mj} T_{il} / p,\\
    T_{il} \\leftarrow T_{il} / p,\\quad T_{mj} \\leftarrow -T_{mj} / p,
    \\quad T_{ij} \\leftarrow 1 / p,

  and the labels of row ``i`` and column ``j`` swap (Tucker's pivot; the
  objective row is updated like any other row). Terminates at an optimal
  basis (an exact vertex equilibrium) barring cycling, which the
  perturbation prevents and the iteration cap bounds. Candidate: the basic
  solution (``x`` from the duals, ``y`` from the primal).
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
    T = jnp.concatenate([Ap, b_pert[:, None], jnp.ones((n, 1), A.dtype)],
                        axis=1)
    r = jnp.concatenate([-jnp.ones((k,), A.dtype), jnp.zeros((2,), A.dtype)])
    return SimplexState(jnp.zeros((), jnp.int32), T, r,
                        jnp.arange(k, k + n, dtype=jnp.int32),
                        jnp.arange(k, dtype=jnp.int32), jnp.zeros((), bool))

  def update(state, game):
    del game
    T, r = state.tableau, state.objective
    n = T.shape[0]
    k = T.shape[1] - 2
    # Normalised pricing (steepest edge: column j of the condensed tableau is
    # B^{-1} a_j; Goldfarb & Reid, Math. Prog. 1977): fewer pivots than
    # Dantzig's rule.
    norms = jnp.sqrt(1.0 + jnp.sum(jnp.square(T[:, :k]), axis=0))
    j = jnp.argmin(r[:k] / norms)
    improving = r[j] < -_REDUCED_COST_TOL
    col = jnp.take(T, j, axis=1)
    rhs = T[:, k]
    valid = col > _PIVOT_TOL
    ratio = jnp.where(valid, rhs / jnp.where(valid, col, 1.0), jnp.inf)
    i = jnp.argmin(ratio)
    go = improving & jnp.any(valid) & ~state.optimal
    p = jnp.where(go, col[i], 1.0)
    row = jnp.take(T, i, axis=0) / p
    e_i = (jnp.arange(n) == i).astype(T.dtype)
    e_j = (jnp.arange(k + 2) == j).astype(T.dtype)
    g = go.astype(T.dtype)
    # Rank-1 update (row i becomes row / p), then the pivot column is
    # replaced by -col / p (1 / p in row i); masked by ``go``.
    new_col = jnp.where(e_i > 0, 1.0 / p, -col / p)
    T_new = T - (g * (col - e_i))[:, None] * row[None, :]
    T_new = T_new + (g * e_j)[None, :] * (new_col - T_new[:, j])[:, None]
    r_new = r - (g * r[j]) * row
    r_new = r_new + g * e_j * (-r[j] / p - r_new[j])
    rl = jnp.where((e_i > 0) & go, state.col_label[j], state.row_label)
    cl = jnp.where((jnp.arange(k) == j) & go, state.row_label[i],
                   state.col_label)
    return SimplexState(state.count + go.astype(jnp.int32), T_new, r_new,
                        rl, cl, state.optimal | ~go)

  def candidates(state):
    n = state.tableau.shape[0]
    k = state.tableau.shape[1] - 2
    dt = state.tableau.dtype
    # Primal: basic w's take the true right-hand side; duals: nonbasic
    # slacks' reduced costs (basic slacks have dual 0).
    w = jnp.zeros((k,), dt).at[jnp.where(state.row_label < k, state.row_label,
                                         k)].set(state.tableau[:, -1],
                                                 mode="drop")
    u = jnp.zeros((n,), dt).at[jnp.where(state.col_label >= k,
                                         state.col_label - k, n)].set(
                                             state.objective[:k], mode="drop")
    return ((_normalize(u), _normalize(w)),)

  def finished(state):
    return state.optimal

  return Method(init, update, candidates, 1.0, False, "dense simplex",
                exact_step=False, check_every=8, finished=finished)


__all__ = ("SimplexState", "simplex")
