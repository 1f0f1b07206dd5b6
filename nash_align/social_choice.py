"""Social choice on a preference matrix: majority graph, Condorcet, Smith, lotteries.

A preference matrix ``P`` ``[..., n, n]`` holds ``P[i, j] = Pr(i beats j)``
with ``P + P^T = 1`` (1/2 on the diagonal). Every function takes any leading
batch shape (including none) and is jit- and vmap-compatible; the lotteries
(:func:`maximal_lottery`, :func:`bipartisan_set`) are as jit-able as the solver
they call (``nash_align.solvers.solve``).

Relations used throughout (ties are exact: ``P[i, j] == 1/2``, as
``preferences.preference_matrix`` produces them for tied counts):

* strict majority ``i > j``  iff ``P[i, j] > 1/2`` (:func:`majority_graph`);
* weak majority  ``i >= j`` iff ``P[i, j] >= 1/2``.

Graph algorithms (transitive closure, cycles, Smith/Schwartz sets) run in
``lax`` by repeated boolean matrix squaring: ``ceil(log2 n)`` products of
``[..., n, n]`` matrices, ``O(n^3 log n)`` work, no Python loop over games.

References:
  Liu, Long, Shi, Su, Xiao. Statistical impossibility and possibility of
  aligning LLMs with human preferences: from Condorcet paradox to Nash
  equilibrium. arXiv:2503.10990.
  Laffond, Laslier, Le Breton (1993). The bipartisan set of a tournament game.
  Fishburn (1984). Probabilistic social choice based on simple voting
  comparisons (maximal lotteries).
"""

import math

import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from nash_align import _validation
from nash_align import payoffs
from nash_align import solvers
from nash_align.types import NashResult

__all__ = (
    "bipartisan_set",
    "borda_scores",
    "condorcet_loser",
    "condorcet_winner",
    "copeland_scores",
    "count_3cycles",
    "has_condorcet_cycle",
    "is_majority_transitive",
    "majority_graph",
    "maximal_lottery",
    "schwartz_set",
    "smith_set",
    "transitive_closure",
    "weak_condorcet_winners",
)


def _eye(x: jax.Array) -> jax.Array:
  """Identity mask broadcast to ``x.shape`` ``[..., n, n]`` (explicitly)."""
  return jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=bool), x.shape)


def _compose(R: jax.Array, S: jax.Array) -> jax.Array:
  """Relation product ``(R S)[i, k] = any_j R[i, j] and S[j, k]``, bool.

  One float32 matrix product at ``HIGHEST`` precision (exact counts below
  ``2^24``, also on accelerators whose default matmul rounds to bfloat16).
  """
  return jnp.matmul(R.astype(jnp.float32), S.astype(jnp.float32),
                    precision=lax.Precision.HIGHEST) > 0.5


def _closure(G: jax.Array) -> jax.Array:
  """Transitive closure ``G^+`` of bool ``[..., n, n]`` by repeated squaring.

  After ``k`` rounds of ``R <- R or (R @ R)`` the relation holds every walk of
  length ``1 .. 2^k``; ``k = ceil(log2 n)`` rounds cover every simple path and
  every simple cycle (length ``<= n``).
  """
  n = G.shape[-1]
  rounds = max(0, math.ceil(math.log2(n))) if n > 1 else 0

  def body(_, R):
    return R | _compose(R, R)

  return lax.fori_loop(0, rounds, body, G)


def transitive_closure(G, *, validate: bool = True) -> jax.Array:
  """Transitive closure of a directed graph.

  ``C[i, j]`` is True iff there is a directed walk of length >= 1 from ``i`` to
  ``j`` in ``G`` (so ``C[i, i]`` is True iff ``i`` lies on a cycle). Computed
  by ``ceil(log2 n)`` boolean matrix squarings in ``lax.fori_loop``.

  Args:
    G: ``[..., n, n]`` adjacency matrix, bool (or 0/1 numbers), ``G[i, j]``
      means an edge ``i -> j``; ``n >= 1``.
    validate: check values (0/1, finite) when ``G`` is concrete.

  Returns:
    bool ``[..., n, n]``.
  """
  _validation.check_square(G, "G", min_size=1)
  if validate and _validation.is_concrete(G):
    _validation.check_finite(G, "G")
    g = np.asarray(G)
    if g.dtype != np.bool_ and not np.all((g == 0) | (g == 1)):
      raise ValueError("G must be a 0/1 (boolean) adjacency matrix.")
  G = jnp.asarray(G)
  G = G if G.dtype == jnp.bool_ else (G != 0)
  return _closure(G)


def majority_graph(P, *, validate: bool = True) -> jax.Array:
  """Strict majority relation ``M[i, j] = P[i, j] > 1/2``.

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    bool ``[..., n, n]`` (False on the diagonal and for ties).
  """
  P = _validation.as_preference_matrix(P, validate)
  return (P > 0.5) & ~_eye(P)


def _weak_majority(P: jax.Array) -> jax.Array:
  """Reflexive weak majority relation ``P[i, j] >= 1/2`` (diagonal True)."""
  return (P >= 0.5) | _eye(P)


def _index_beating_all(R: jax.Array) -> jax.Array:
  """int32 ``[...]``: the ``i`` with ``R[i, j]`` for every ``j != i``, else -1.

  ``R`` ``[..., n, n]`` is a strict (irreflexive, asymmetric) relation, so at
  most one such ``i`` exists.
  """
  rows = jnp.all(R | _eye(R), axis=-1)  # [..., n]
  return jnp.where(jnp.any(rows, axis=-1), jnp.argmax(rows, axis=-1),
                   -1).astype(jnp.int32)


def condorcet_winner(P, *, validate: bool = True) -> jax.Array:
  """The Condorcet winner: ``i`` with ``P[i, j] > 1/2`` for every ``j != i``.

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    int32 ``[...]``: the winner's index, or -1 when there is none.
  """
  P = _validation.as_preference_matrix(P, validate)
  return _index_beating_all(P > 0.5)


def condorcet_loser(P, *, validate: bool = True) -> jax.Array:
  """The Condorcet loser: ``i`` with ``P[i, j] < 1/2`` for every ``j != i``.

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    int32 ``[...]``: the loser's index, or -1 when there is none.
  """
  P = _validation.as_preference_matrix(P, validate)
  return _index_beating_all(P < 0.5)


def weak_condorcet_winners(P, *, validate: bool = True) -> jax.Array:
  """Weak Condorcet winners: ``i`` with ``P[i, j] >= 1/2`` for every ``j``.

  No alternative beats a weak Condorcet winner by a strict majority. There
  may be several (tied with each other) or none.

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    bool ``[..., n]``.
  """
  P = _validation.as_preference_matrix(P, validate)
  return jnp.all(_weak_majority(P), axis=-1)


def _scores_3cycles(G: jax.Array) -> jax.Array:
  """Cyclic triples of a TOURNAMENT ``G`` from its scores, ``O(n^2)``.

  Kendall and Babington Smith (1940): ``C(n, 3) - sum_i C(s_i, 2)`` with
  ``s_i`` the out-degrees; valid only when every pair has exactly one edge.
  """
  n = G.shape[-1]
  s = jnp.sum(G, axis=-1, dtype=jnp.int32)
  return (n * (n - 1) * (n - 2) // 6
          - jnp.sum(s * (s - 1) // 2, axis=-1)).astype(jnp.int32)


def _has_ties(G: jax.Array) -> jax.Array:
  """Whether any off-diagonal pair of the batch has no strict edge."""
  return jnp.any(~(G | jnp.swapaxes(G, -1, -2) | _eye(G)))


def has_condorcet_cycle(P, *, validate: bool = True) -> jax.Array:
  """Whether the STRICT majority relation has a directed cycle.

  True iff some ``i_1 > i_2 > ... > i_k > i_1`` with every ``>`` a strict
  majority (``P > 1/2``). Ties are not edges, so a profile with ties can be
  cycle-free and still not be representable by a reward (see
  :func:`is_majority_transitive`).

  Computed by cases on the whole batch (``lax.cond``): without ties the
  majority graph is a tournament, which has a cycle iff it has a cyclic
  triple (Moon), counted from the scores in ``O(n^2)``; with ties, some
  diagonal entry of the transitive closure of :func:`majority_graph` is True.
  Under ``vmap`` both branches run (the answer is the same).

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    bool ``[...]``.
  """
  G = majority_graph(P, validate=validate)

  def general(G):
    return jnp.any(jnp.diagonal(_closure(G), axis1=-2, axis2=-1), axis=-1)

  def tournament(G):
    return _scores_3cycles(G) > 0

  return lax.cond(_has_ties(G), general, tournament, G)


def is_majority_transitive(P, *, validate: bool = True) -> jax.Array:
  """Whether the WEAK majority relation ``P[i, j] >= 1/2`` is transitive.

  The weak relation ``R`` is complete, so ``R`` transitive means it is a weak
  order: there are scores ``r`` with ``P[i, j] > 1/2 <=> r_i > r_j`` and
  ``P[i, j] = 1/2 <=> r_i = r_j``, i.e. pairwise majority (ties included) is
  represented by a reward model (arXiv:2503.10990, Sec. 2). Without ties this
  is exactly ``not has_condorcet_cycle(P)``; with ties it is stronger (e.g.
  ``a > b``, ``b ~ c``, ``c ~ a`` has no strict cycle but is not transitive).

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    bool ``[...]``: True iff no ``i, j, k`` with ``R[i, j]``, ``R[j, k]``
    and not ``R[i, k]``.
  """
  P = _validation.as_preference_matrix(P, validate)
  R = _weak_majority(P)
  return ~jnp.any(_compose(R, R) & ~R, axis=(-2, -1))


def count_3cycles(P, *, validate: bool = True) -> jax.Array:
  """Number of cyclic triples ``{i, j, k}`` with ``i > j > k > i`` (strict).

  Equals ``trace(M^3) / 3`` for the strict majority graph ``M`` (it has no
  2-cycles, so closed 3-walks are directed triangles, each counted from its 3
  starting points). When the batch has no ties (a tournament) it is
  computed in ``O(n^2)`` as Kendall-Babington Smith's
  ``C(n, 3) - sum_i C(s_i, 2)`` with ``s_i`` the out-degrees (``lax.cond``
  on the whole batch).

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    int32 ``[...]``.
  """
  G = majority_graph(P, validate=validate)

  def general(G):
    M = G.astype(jnp.int32)
    M2 = jnp.matmul(M, M)
    return (jnp.sum(M2 * jnp.swapaxes(M, -1, -2), axis=(-2, -1)) // 3).astype(
        jnp.int32)

  return lax.cond(_has_ties(G), general, _scores_3cycles, G)


def smith_set(P, *, validate: bool = True) -> jax.Array:
  """Smith set: the smallest nonempty set beating everything outside it.

  ``S`` is dominating when ``P[i, j] > 1/2`` for all ``i in S``, ``j not in
  S``; dominating sets are nested, and the Smith set is the smallest (the top
  strongly connected component of the weak majority graph, pref_voting's
  ``smith_set``).

  Computed without a graph search: with ``w_i`` the number of strict
  majority wins of ``i``, a dominating ``S`` of size ``k`` has ``w_i >= n - k``
  inside and ``w_j <= n - k - 1`` outside, so every dominating set is an
  upper level set ``T_t = {j : w_j >= w_t}``. ``T_t`` is dominating iff its
  strict wins against the outside number ``|T_t| (n - |T_t|)``; one
  ``[..., n, n]`` matrix product counts them for all ``t`` at once, and the
  smallest dominating ``T_t`` is the Smith set.

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    bool ``[..., n]`` membership mask (never empty).
  """
  G = majority_graph(P, validate=validate)
  n = G.shape[-1]
  w = jnp.sum(G, axis=-1, dtype=jnp.int32)  # [..., n]
  # M[t, a]: a in T_t.
  M = w[..., None, :] >= w[..., :, None]  # [..., n, n]
  k = jnp.sum(M, axis=-1, dtype=jnp.int32)  # [..., n] |T_t|
  Mf = M.astype(jnp.float32)
  MG = jnp.matmul(Mf, G.astype(jnp.float32), precision=lax.Precision.HIGHEST)
  cross = jnp.sum(MG * (1 - Mf), axis=-1)  # [..., n] wins T_t -> outside
  dominating = cross == (k * (n - k)).astype(jnp.float32)
  # The whole set (t = argmin w) is always dominating (vacuously); pick the
  # smallest dominating level set.
  size = jnp.where(dominating, k, n + 1)
  best = jnp.argmin(size, axis=-1)  # [...]
  return jnp.take_along_axis(M, best[..., None, None], axis=-2)[..., 0, :]


def schwartz_set(P, *, validate: bool = True) -> jax.Array:
  """Schwartz set (GOCHA): union of the minimal undominated sets.

  With ``C`` the reflexive-transitive closure of the STRICT majority graph,
  ``i`` is in the Schwartz set iff every ``j`` that reaches ``i`` is reached
  by ``i`` (``i``'s strongly connected component has no strict edge coming
  in). Without ties it equals the Smith set; with ties it is a subset.

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    bool ``[..., n]`` membership mask (never empty).
  """
  G = majority_graph(P, validate=validate)
  C = _closure(G) | _eye(G)
  return jnp.all(~jnp.swapaxes(C, -1, -2) | C, axis=-1)


def copeland_scores(P, *, validate: bool = True) -> jax.Array:
  """Copeland scores: strict majority wins minus losses.

  ``s_i = sum_{j != i} sign(P[i, j] - 1/2)`` (pref_voting's default
  ``(1, 0, -1)`` scores). The "1, 1/2, 0 points" version is
  ``(s_i + n - 1) / 2``.

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    ``[..., n]`` in ``P``'s floating dtype.
  """
  P = _validation.as_preference_matrix(P, validate)
  s = jnp.where(_eye(P), 0, jnp.sign(P - 0.5))
  return jnp.sum(s, axis=-1).astype(P.dtype)


def borda_scores(P, *, validate: bool = True) -> jax.Array:
  """Borda scores from pairwise preferences: ``b_i = sum_{j != i} P[i, j]``.

  For a profile of ``m`` complete rankings with ``P`` from its pairwise
  counts, ``m * b_i`` is the classical Borda score (number of
  (voter, alternative) pairs that ``i`` is ranked above).

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    ``[..., n]`` in ``P``'s floating dtype, values in ``[0, n - 1]``.
  """
  P = _validation.as_preference_matrix(P, validate)
  return jnp.sum(jnp.where(_eye(P), 0, P), axis=-1).astype(P.dtype)


def maximal_lottery(P, *, validate: bool = True, **solve_kwargs) -> NashResult:
  """Maximal lottery: an equilibrium of the symmetric margin game.

  Fishburn's maximal lottery ``p`` satisfies ``p^T M q >= 0`` for every
  lottery ``q``, with the margin matrix ``M = P - 1/2`` (any positive
  multiple, e.g. vote margins, gives the same lotteries). It is the Nash
  equilibrium of the zero-sum game with row payoff ``M`` (value 0). It is
  unique for generic ``P``, e.g. when ``P`` comes from an odd number of
  complete rankings (all margins odd; Laffond, Laslier, Le Breton 1997).
  With ``Psi = identity``, this is the NLHF equilibrium of arXiv:2503.10990.

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.
    **solve_kwargs: passed to ``nash_align.solvers.solve``.

  Returns:
    ``NashResult`` for the game ``payoffs.margin(P)``; ``row`` ``[..., n]`` is
    the lottery, ``row_support`` its certified support. Under ``jit`` read
    ``converged``: an uncertified game is reported there.

  Raises:
    RuntimeError: (concrete ``P``) a game the solver could not certify.
  """
  P = _validation.as_preference_matrix(P, validate)
  res = solvers.solve(payoffs.margin(P, validate=False), **solve_kwargs)
  return solvers.require_certified(res, "maximal_lottery")


def bipartisan_set(P, *, validate: bool = True,
                   **solve_kwargs) -> jax.Array:
  """Bipartisan set: support of the equilibrium of the majority game.

  The majority (tournament) game has row payoff ``sign(P - 1/2)``. For a
  tournament (no ties) its equilibrium is unique and has odd support, the
  bipartisan set (Laffond, Laslier, Le Breton 1993). With ties the
  equilibrium may not be unique; the support of the one the solver returns
  is reported.

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.
    **solve_kwargs: passed to ``nash_align.solvers.solve``.

  Returns:
    bool ``[..., n]``: the solver's certified support (the equalizer system
    solved on its basis), not a threshold on probabilities. Under ``jit`` an
    uncertified game gets an all-False row (a bipartisan set is never
    empty).

  Raises:
    RuntimeError: (concrete ``P``) a game the solver could not certify.
  """
  P = _validation.as_preference_matrix(P, validate)
  res = solvers.solve(payoffs.majority(P, validate=False), **solve_kwargs)
  solvers.require_certified(res, "bipartisan_set")
  return jnp.asarray(res.row_support) & jnp.asarray(res.converged)[..., None]
