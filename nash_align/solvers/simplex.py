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
``update`` is one pivot: the entering column by Devex-normalised reduced cost
(Harris, Math. Prog. 1973; Forrest & Goldfarb, Math. Prog. 1992: reference
weights started at the exact steepest-edge norms and updated from the pivot
row, so pricing needs no pass over the tableau), the textbook
ratio test (Dantzig, "Linear programming and extensions", 1963; the game/LP
reduction is von Neumann's, see Dantzig 1951). The condensed tableau is
``[n, k + 2]`` in the working dtype. The kernel certifies the basis'
equalizer system with refined double-float residuals
(:mod:`nash_align.solvers.refine`); if a float32 basis only looked optimal,
:func:`reinvert` rebuilds the tableau from the basis and
:func:`dual_update` removes the perturbation's infeasibility.

Same optax-shaped interface as :mod:`nash_align.solvers.methods`, so the
driver vmaps it, runs it in its ``while_loop`` and streams it through the
pool (a game that reaches its optimal basis leaves the pool).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nash_align.solvers import compensated as cp
from nash_align.solvers import linalg
from nash_align.solvers.methods import Method
from nash_align.solvers.methods import normalize

_REDUCED_COST_TOL = 1e-6  # relative to payoffs scaled to max |A| = 1
_PIVOT_TOL = 1e-6
_DEVEX_RESET = 1e12  # reference weights restart at 1 above this
_PERTURBATION = 1e-5  # relative size of the right-hand-side perturbation


def _argmin(v):
  """First index of the minimum of ``v`` ``[m]``; ``m - 1`` if it is NaN.

  Two plain reductions (a min, then a min over the indices that attain it)
  instead of ``jnp.argmin``'s variadic (value, index) reduction, which XLA's
  CPU backend does not vectorise: 5x faster there on the pool's ``[256,
  52]`` rows, and the pivot loop spends most of its time in these.
  """
  m = v.shape[-1]
  return jnp.min(jnp.where(v == jnp.min(v), jnp.arange(m), m - 1))


class SimplexState(NamedTuple):
  count: jax.Array  # [] int32 pivots taken
  tableau: jax.Array  # [n, k + 2]: B^{-1} N, then perturbed and true rhs
  objective: jax.Array  # [k + 2] reduced costs, then objective values
  # [n + k] int32: the basic variable of each row, then the nonbasic
  # variable of each column. One array, so a pivot swaps two entries in one
  # pass (two arrays cost 4% more a pivot at n = 50).
  labels: jax.Array
  optimal: jax.Array  # [] bool: no improving column (or no valid pivot)
  weights: jax.Array  # [k] Devex reference weights of the nonbasic columns

  @property
  def row_label(self):
    """``[n]`` int32 basic variable of each row."""
    return self.labels[..., :self.tableau.shape[-2]]

  @property
  def col_label(self):
    """``[k]`` int32 nonbasic variable of each column."""
    return self.labels[..., self.tableau.shape[-2]:]


def simplex() -> Method:
  """Dense simplex on the game's LP, condensed (Tucker) tableau.

  Variables are labelled ``0..k-1`` (``w``) and ``k..k+n-1`` (slacks); the
  tableau keeps only the nonbasic columns, ``[n, k]`` plus two right-hand
  sides, so a pivot is one rank-1 update of half the full tableau. Pivot
  ``(i, j)``, ``p = T_{ij}``:

  .. math::
    j = \\arg\\min_j \\frac{r_j}{\\sqrt{\\gamma_j}},\\quad
    i = \\arg\\min_{i: T_{ij} > 0} b_i / T_{ij},\\quad
    T_{ml} \\leftarrow T_{ml} - T_{mj} T_{il} / p,\\
    T_{il} \\leftarrow T_{il} / p,\\quad T_{mj} \\leftarrow -T_{mj} / p,
    \\quad T_{ij} \\leftarrow 1 / p,

  and the labels of row ``i`` and column ``j`` swap (Tucker's pivot; the
  objective row is updated like any other row). Pricing is Devex (Harris,
  1973; Forrest & Goldfarb, 1992): the weights start at the steepest-edge
  norms ``gamma_j = 1 + ||A'_{:j}||^2`` and after each pivot become
  ``max(gamma_l, (T_{il} / p)^2 gamma_j)`` (``max(gamma_j / p^2, 1)`` for the
  leaving variable), O(k) per pivot. Exact steepest edge (recomputing
  ``1 + ||T_{:j}||^2``, a pass over the tableau) took 47 pivots on random
  tournaments (n = 50) against Devex's 58, but each Devex pivot costs about
  0.6x as much: about 20% less time per tournament, and no more on the
  other benchmark families. Terminates at an optimal
  basis (an exact vertex equilibrium) barring cycling, which the
  perturbation prevents and the iteration cap bounds. Candidate: the basic
  solution (``x`` from the duals, ``y`` from the primal).
  """

  def init(game, symmetric):
    A = game.A
    n, k = A.shape
    Ap = A - jnp.min(A) + 1.0
    # Perturbed right-hand side for the ratio test (anti-cycling on the
    # very degenerate LPs of tournaments), and the true one carried along.
    b_pert = _perturbed_rhs(n, A.dtype)
    T = jnp.concatenate([Ap, b_pert[:, None], jnp.ones((n, 1), A.dtype)],
                        axis=1)
    r = jnp.concatenate([-jnp.ones((k,), A.dtype), jnp.zeros((2,), A.dtype)])
    if symmetric:
      # Column j of A' = A + c is row j of c - A (A = -A^T to within tol):
      # a reduction along rows, which XLA's CPU backend vectorises (column
      # sums cost several times more). Only the starting reference weights.
      norms = jnp.sum(jnp.square((1.0 - jnp.min(A)) - A), axis=1)
    else:
      norms = jnp.sum(jnp.square(Ap), axis=0)
    labels = jnp.concatenate([jnp.arange(k, k + n, dtype=jnp.int32),
                              jnp.arange(k, dtype=jnp.int32)])
    return SimplexState(jnp.zeros((), jnp.int32), T, r, labels,
                        jnp.zeros((), bool), 1.0 + norms)

  def update(state, game):
    del game
    T, r = state.tableau, state.objective
    k = T.shape[1] - 2
    # Devex pricing (Harris, Math. Prog. 1973; Forrest & Goldfarb, Math.
    # Prog. 1992): ``r_j^2 / gamma_j`` with reference weights that start at
    # the exact steepest-edge norms ``1 + ||T_{:j}||^2`` and are updated from
    # the pivot row alone, so no pass over the tableau to price.
    # Only improving columns compete: a reference weight grown huge must
    # not let a column priced at -1e-7 (not improving) win over one at
    # -1e-2 and stop the simplex early (seen on tournaments at n = 200).
    improving_cols = r[:k] < -_REDUCED_COST_TOL
    j = _argmin(jnp.where(improving_cols, r[:k] * jax.lax.rsqrt(state.weights),
                          0.0))
    improving = improving_cols[j]
    col = jnp.take(T, j, axis=1)
    rhs = T[:, k]
    valid = col > _PIVOT_TOL
    ratio = jnp.where(valid, rhs / jnp.where(valid, col, 1.0), jnp.inf)
    i = _argmin(ratio)
    # A finite least ratio means some valid row (one reduction less).
    go = improving & (ratio[i] < jnp.inf) & ~state.optimal
    return _pivot(state, i, j, go)

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
    return ((normalize(u), normalize(w)),)

  def finished(state):
    return state.optimal

  def stop(state, mask):
    return state._replace(optimal=state.optimal | mask)

  def support(state):
    """The basis' supports: rows whose slack is nonbasic, basic columns."""
    n = state.tableau.shape[0]
    k = state.tableau.shape[1] - 2
    rows = jnp.zeros((n,), bool).at[jnp.where(
        state.col_label >= k, state.col_label - k, n)].set(True, mode="drop")
    cols = jnp.zeros((k,), bool).at[jnp.where(
        state.row_label < k, state.row_label, k)].set(True, mode="drop")
    return rows, cols

  return Method(init, update, candidates, 1.0, False, "dense simplex",
                exact_step=False, check_every=8, finished=finished,
                stop=stop, support=support, reinvert=reinvert,
                refined=refined_candidate)


def _pivot(state, i, j, go):
  """Tucker pivot on ``(i, j)`` where ``go`` (else only ``optimal`` is set)."""
  T, r = state.tableau, state.objective
  n = T.shape[0]
  k = T.shape[1] - 2
  col = jnp.take(T, j, axis=1)
  p = jnp.where(go, col[i], 1.0)
  row = jnp.take(T, i, axis=0) / p
  is_i = jnp.arange(n) == i
  is_j = jnp.arange(k + 2) == j
  is_jk = jnp.arange(k) == j
  g = go.astype(T.dtype)
  # One rank-1 update with no select in its loop: row i becomes row / p,
  # and the pivot column -col / p (1 / p in row i) because its multiplier is
  # 1 + 1 / p. On XLA's CPU backend a pivot ran 16% (n = 50) and 21% (n =
  # 200) faster on one core than with the pivot column selected inside the
  # loop (writing it in place afterwards: 7% and 19%, but slower with two
  # threads). The pivot column's rounding error grows to about
  # eps |col| |1 + 1 / p| from eps |col / p|; the certificate never relies
  # on the tableau, and the pivot counts did not change (57.9 on 2,000
  # random tournaments at n = 50).
  a = g * jnp.where(is_i, col - 1.0, col)
  T_new = T - a[:, None] * jnp.where(is_j, 1.0 + 1.0 / p, row)[None, :]
  r_new = jnp.where(is_j & go, -r[j] / p, r - (g * r[j]) * row)
  w_j = state.weights[j]
  weights = jnp.where(is_jk, jnp.maximum(w_j / (p * p), 1.0),
                      jnp.maximum(state.weights, jnp.square(row[:k]) * w_j))
  weights = jnp.where(go, weights, state.weights)
  # Devex reset (Forrest & Goldfarb 1992): the reference weights only grow,
  # and on long runs overflowed to inf (then every column priced at -0).
  # (Capping each weight instead saves the max, 6% of a pivot at n = 50,
  # but took 821 instead of 466 pivots a random tournament at n = 200.)
  weights = jnp.where(jnp.max(weights) > _DEVEX_RESET, 1.0, weights)
  lab = state.labels
  at = jnp.arange(n + k)
  labels = jnp.where(go & (at == i), lab[n + j],
                     jnp.where(go & (at == n + j), lab[i], lab))
  return SimplexState(state.count + go.astype(jnp.int32), T_new, r_new,
                      labels, state.optimal | ~go, weights)


def dual_update(state):
  """One dual simplex pivot on the TRUE right-hand side.

  The primal pivots run on a perturbed right-hand side; their optimal basis
  can be slightly infeasible for the true one. Dual pivots keep the reduced
  costs non-negative and remove the infeasibility (Lemke, Naval Res.
  Logist. Q. 1954): the leaving row has the most negative true
  right-hand side, the entering column the smallest ``r_j / |T_ij|`` over
  ``T_ij < 0``. Sets ``optimal`` when the basis is feasible.
  """
  T, r = state.tableau, state.objective
  k = T.shape[1] - 2
  rhs = T[:, k + 1]
  i = _argmin(rhs)
  row = T[i, :k]
  valid = row < -_PIVOT_TOL
  ratio = jnp.where(valid, jnp.maximum(r[:k], 0.0) / jnp.where(valid, -row,
                                                               1.0), jnp.inf)
  j = _argmin(ratio)
  go = (rhs[i] < 0) & jnp.any(valid) & ~state.optimal
  return _pivot(state, i, j, go)


class _BasisSolution(NamedTuple):
  """A basis' primal and dual values on the unscaled payoffs, double-float."""
  w: tuple  # (hi, lo) [k]: basic w's (0 elsewhere)
  u: tuple  # (hi, lo) [n]: nonbasic slacks' duals (0 elsewhere)
  dw: jax.Array  # [k] last correction of w
  du: jax.Array  # [n] last correction of u
  in_S: jax.Array  # [k] bool, basic w's
  in_R: jax.Array  # [n] bool, nonbasic slacks
  gamma: jax.Array  # [] the shift of the unscaled system (see _residual)


def _residual(gamma, prod_hi, prod_lo, s_hi, s_lo):
  """``1 - (prod + gamma s)`` in double-float, rounded: a basis system's
  residual, ``prod`` a product with ``A`` and ``s`` the vector's sum."""
  g_hi, g_lo = cp.scale(gamma, s_hi, s_lo)
  p_hi, p_lo = cp.add(prod_hi, prod_lo, g_hi, g_lo)
  r_hi, r_lo = cp.add(jnp.ones_like(p_hi), jnp.zeros_like(p_hi), -p_hi, -p_lo)
  return r_hi + r_lo


def _basis_solution(state, A, scale, duals, steps):
  """Iteratively refined basis solution (see :func:`refined_candidate`)."""
  T = state.tableau
  n = T.shape[0]
  k = T.shape[1] - 2
  dt = A.dtype
  basic_w = state.row_label < k  # [n] tableau rows holding a w
  w_at = jnp.where(basic_w, state.row_label, k)  # their column of A
  nb_slack = state.col_label >= k  # [k] tableau columns holding a slack
  u_at = jnp.where(nb_slack, state.col_label - k, n)  # their row of A
  in_R = jnp.zeros((n,), bool).at[u_at].set(True, mode="drop")
  in_S = jnp.zeros((k,), bool).at[w_at].set(True, mode="drop")
  # T[:, :k] / scale approximates the unscaled system's inverse; the
  # division is applied to the (O(n)) corrections, not to the tableau. The
  # products take the whole tableau (zeros against its two right-hand
  # sides): slicing T[:, :k] first copied it (2 us a game at n = 50).
  pad2 = lambda v: jnp.concatenate([v, jnp.zeros((2,), dt)])
  gamma = (1.0 - jnp.min(A) / scale) * scale  # min(A / scale), one pass less
  zero_n, zero_k = jnp.zeros((n,), dt), jnp.zeros((k,), dt)
  residual = functools.partial(_residual, gamma)
  # Primal: w on S from the true right-hand side.
  w_hi = zero_k.at[w_at].set(T[:, k + 1] / scale, mode="drop")
  w_lo = zero_k
  # Duals: the nonbasic slacks' reduced costs.
  u_hi = zero_n.at[u_at].set(state.objective[:k] / scale, mode="drop")
  u_lo = zero_n
  dw, du = zero_k, zero_n
  for _ in range(steps):
    r = jnp.where(in_R, residual(*cp.matvec(A, w_hi, w_lo, a_max=scale),
                                 *cp.total(w_hi, w_lo)), 0.0)
    d_tab = cp.mm(T, pad2(jnp.where(nb_slack, r[jnp.minimum(u_at, n - 1)],
                                     0.0))) / scale
    dw = zero_k.at[w_at].set(d_tab, mode="drop")
    dw = jnp.where(jnp.isfinite(dw), dw, 0.0)
    w_hi, w_lo = cp.add(w_hi, w_lo, dw, zero_k)
    if not duals:
      continue
    r = jnp.where(in_S, residual(*cp.vecmat(u_hi, A, u_lo, a_max=scale),
                                 *cp.total(u_hi, u_lo)), 0.0)
    d_tab = cp.mm(jnp.where(basic_w, r[jnp.minimum(w_at, k - 1)], 0.0),
                  T)[:k] / scale
    du = zero_n.at[u_at].set(d_tab, mode="drop")
    du = jnp.where(jnp.isfinite(du), du, 0.0)
    u_hi, u_lo = cp.add(u_hi, u_lo, du, zero_n)
  return _BasisSolution((w_hi, w_lo), (u_hi, u_lo), dw, du, in_S, in_R,
                        gamma)


def _default_steps(n, k):
  return 1 if n * k <= 64 * 64 else 2


def refined_candidate(state, A, scale, duals=True, steps=None):
  """The basis' exact solution on the unscaled payoffs, refined in place.

  At any basis the basic ``w`` (columns ``S``) and the nonbasic slacks
  (rows ``R``) are equally many, and the basis system restricted to them is
  ``(A_RS + gamma J) w = 1`` (primal) and ``u^T (A_RS + gamma J) = 1^T``
  (duals), ``gamma = (1 - min A') scale`` with ``A' = A / scale`` the
  kernel's payoffs. Any ``gamma`` gives the equalizers ``y = w / 1^T w``,
  ``x = u / 1^T u`` of the support. The tableau already holds an
  approximate inverse of that matrix: the entries of ``B^{-1}`` in the
  basic-``w`` rows and nonbasic-slack columns (divided by ``scale``). Each
  step computes the residual in double-float from the exact ``A`` and
  applies the tableau's inverse (mixed-precision iterative refinement,
  Carson and Higham 2018): O(n k) a step, where a fresh inverse costs
  O(n^3).

  Args:
    state: a :class:`SimplexState` (one game).
    A: ``[n, k]`` unscaled payoffs (working dtype).
    scale: ``[]`` the kernel's payoff scale (``A' = A / scale``).
    duals: also refine the duals (``x``); if False ``x`` is returned as the
      raw duals' strategy (the symmetric path uses ``y`` only).
    steps: refinement steps; None: one for games up to 64 x 64 (it
      certifies 99.6% of random tournaments at n = 50), two above (the
      tableau drifts over hundreds of pivots: at n = 200 one step certified
      69% of them, two 88%, four no more). The rest go on to
      :func:`refresh` and the repair.

  Returns:
    ``(x [n], y [k])`` on the simplex (non-negative, summing to about 1).
  """
  n, k = A.shape
  if steps is None:
    steps = _default_steps(n, k)
  sol = _basis_solution(state, A, scale, duals, steps)
  eps = jnp.finfo(A.dtype).eps

  def strategy(hi_lo, live, last_step):
    # A degenerate basic variable (value 0) comes out as rounding noise:
    # entries within the refinement's last correction of 0 are 0.
    z = jnp.where(live, hi_lo[0] + hi_lo[1], 0.0)
    zero_tol = 8.0 * jnp.max(jnp.abs(last_step)) + 16.0 * eps * eps * (
        jnp.max(jnp.abs(z)))
    return normalize(jnp.where(z > zero_tol, z, 0.0))

  return (strategy(sol.u, sol.in_R, sol.du),
          strategy(sol.w, sol.in_S, sol.dw))


def refresh(state, A, scale, steps=None):
  """The tableau's right-hand sides and objective row recomputed.

  Over hundreds of float32 pivots the tableau passes through
  ill-conditioned bases (entries up to 1e3 on random tournaments at n =
  200) and its reduced costs drift by up to 1e-2: the simplex stops at a
  basis that only looks optimal (a fifth of those games). The basis'
  primal and dual values are refined as in :func:`refined_candidate`, and
  from them, with error-free products, the basic variables (the true
  right-hand side; the perturbed one keeps its offset) and every nonbasic
  reduced cost: ``(A'^T u)_j - 1`` for a structural column, ``u_i`` for a
  slack. O(n k), against O(n^3) for :func:`reinvert`; the pivots then go
  on from correct prices on the old (approximate) tableau.

  Args:
    state: a :class:`SimplexState` (one game).
    A: ``[n, k]`` unscaled payoffs (working dtype).
    scale: ``[]`` the kernel's payoff scale.
    steps: refinement steps (None: as :func:`refined_candidate`).

  Returns:
    The state with new right-hand sides and objective row, ``optimal``
    cleared (unchanged where the refinement broke down).
  """
  T = state.tableau
  n = T.shape[0]
  k = T.shape[1] - 2
  if steps is None:
    steps = _default_steps(n, k)
  sol = _basis_solution(state, A, scale, True, steps)
  w_hi, w_lo = sol.w
  u_hi, u_lo = sol.u
  # Slack values 1 - (A'' w)_i and reduced costs (A''^T u)_j - 1 (A'' the
  # unscaled shifted payoffs): the residuals of the basis systems, on
  # every row and column.
  slack = _residual(sol.gamma, *cp.matvec(A, w_hi, w_lo, a_max=scale),
                    *cp.total(w_hi, w_lo))
  reduced = -_residual(sol.gamma, *cp.vecmat(u_hi, A, u_lo, a_max=scale),
                       *cp.total(u_hi, u_lo))
  rl, cl = state.row_label, state.col_label
  rhs = jnp.where(rl < k, scale * (w_hi + w_lo)[jnp.minimum(rl, k - 1)],
                  slack[jnp.clip(rl - k, 0, n - 1)])
  r_cols = jnp.where(cl < k, reduced[jnp.minimum(cl, k - 1)],
                     scale * (u_hi + u_lo)[jnp.clip(cl - k, 0, n - 1)])
  value = scale * (jnp.sum(w_hi) + jnp.sum(w_lo))
  old_rhs = T[:, k + 1]
  T_new = T.at[:, k].add(rhs - old_rhs).at[:, k + 1].set(rhs)
  r_new = jnp.concatenate([
      r_cols,
      jnp.stack([state.objective[k] + value - state.objective[k + 1], value])
  ])
  ok = jnp.all(jnp.isfinite(T_new[:, k:])) & jnp.all(jnp.isfinite(r_new))
  new = state._replace(tableau=T_new, objective=r_new,
                       optimal=jnp.zeros((), bool))
  return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new,
                      state._replace(optimal=jnp.zeros((), bool)))


def _perturbed_rhs(n, dtype):
  # Distinct perturbations in [0.5, 1.5] * _PERTURBATION (golden-ratio
  # sequence): anti-cycling on the very degenerate LPs of tournaments.
  golden = 0.6180339887498949
  frac = jnp.mod(jnp.arange(1, n + 1, dtype=dtype) * golden, 1.0)
  return 1.0 + _PERTURBATION * (0.5 + frac)


def _refined_solve(Minv, M, b, steps=2):
  """``M z = b`` from an approximate inverse, refined with double-float
  residuals (``M`` ``[N, N]`` exact in the working dtype)."""
  z_hi = cp.mm(Minv, b)
  z_lo = jnp.zeros_like(z_hi)
  for _ in range(steps):
    p_hi, p_lo = cp.matvec(M, z_hi, z_lo)
    r_hi, r_lo = cp.add(b, jnp.zeros_like(b), -p_hi, -p_lo)
    d = cp.mm(Minv, r_hi + r_lo)
    z_hi, z_lo = cp.add(z_hi, z_lo, d, jnp.zeros_like(d))
  return z_hi + z_lo


def reinvert(state, game):
  """Recomputes the tableau of the current basis from the game's data.

  A float32 tableau drifts over hundreds of pivots, and the simplex can stop
  at a basis that only looks optimal. The tableau ``B^{-1} [N, b]`` is
  rebuilt from a fresh inverse of the basis matrix ``B``; the right-hand
  sides and the duals, which decide feasibility and optimality, are refined
  with double-float residuals, and the reduced costs ``c_N - N^T pi``
  computed with error-free products (the reinversion of revised simplex
  codes; Chvatal, "Linear Programming", 1983, ch. 24). Pivoting then goes on
  from the exact basis. Devex weights restart at the steepest-edge norms.
  """
  T0 = state.tableau
  n = T0.shape[0]
  k = T0.shape[1] - 2
  A = game.A
  dt = A.dtype
  Ap = A - jnp.min(A) + 1.0
  F = jnp.concatenate([Ap, jnp.eye(n, dtype=dt)], axis=1)  # [n, k + n]
  Bm = F[:, state.row_label]
  N = F[:, state.col_label]
  Binv = linalg.inverse(Bm)
  b_pert = _perturbed_rhs(n, dt)
  ones = jnp.ones((n,), dt)
  T = jnp.concatenate([cp.mm(Binv, N), _refined_solve(Binv, Bm, b_pert)[:, None],
                       _refined_solve(Binv, Bm, ones)[:, None]], axis=1)
  c = jnp.concatenate([-jnp.ones((k,), dt), jnp.zeros((n,), dt)])
  c_B = c[state.row_label]
  pi = _refined_solve(Binv.T, Bm.T, c_B)  # duals: B^T pi = c_B
  rn_hi, rn_lo = cp.vecmat(pi, N)
  r_N = (c[state.col_label] - rn_hi) - rn_lo
  r_b = jnp.stack([-jnp.sum(c_B * T[:, k]), -jnp.sum(c_B * T[:, k + 1])])
  r = jnp.concatenate([r_N, r_b])
  ok = jnp.all(jnp.isfinite(T)) & jnp.all(jnp.isfinite(r))
  weights = 1.0 + jnp.sum(jnp.square(T[:, :k]), axis=0)
  new = state._replace(tableau=T, objective=r, weights=weights,
                       optimal=jnp.zeros((), bool))
  # A singular basis matrix (float32 breakdown) keeps the old state.
  return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, state)


__all__ = ("SimplexState", "dual_update", "refined_candidate", "refresh",
           "reinvert", "simplex")
