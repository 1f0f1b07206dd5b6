"""Which payoff transforms ``Psi`` give which equilibrium properties.

Numerical checks of the properties studied by arXiv:2505.20627 (Shi, Liu,
Long, Su, Xiao, "Fundamental limits of game-theoretic LLM alignment: Smith
consistency and preference matching"), for a payoff transform of
:mod:`nash_align.payoffs` (the game ``A = Psi(P)``, solved for the max
player's Nash solutions):

* :func:`is_condorcet_consistent` (Def. 3.2, Thm 3.1): a Condorcet winner is
  the unique Nash solution.
* :func:`gives_mixed_strategies` (Def. 3.3, Thm 3.2, Example 3.4): every Nash
  solution is mixed when there is no Condorcet winner.
* :func:`is_smith_consistent` (Def. 4.1, Thm 4.2, Example 4.3): every Nash
  solution is supported in the Smith set.
* :func:`is_preference_matching` (Xiao et al. 2024, arXiv:2405.16455;
  2505.20627 Thm 5.1 / Cor. 5.4): under Bradley-Terry-Luce the unique Nash
  solution is ``softmax(r)``.
* :func:`is_sign_preserving`: ``Psi(p) > Psi(1/2)`` on ``(1/2, 1]``, the
  exact criterion for the first three properties when ``Psi`` is
  antisymmetric.

Each check builds random no-tie games with planted structure, returns a
:class:`PropertyCheck` and a counterexample when it finds one.
:func:`predicted_properties` evaluates the paper's Table 1 conditions on
``Psi`` itself (a grid of ``t``) and says which properties they predict;
:func:`preference_matching_payoff` and :func:`nash_solution_spread` are a
positive control for preference matching. The conditions, the lemma for
antisymmetric ``Psi`` and the game constructions are derived in
``docs/payoff_properties.md``.
"""

import functools
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import _validation
from nash_align import solvers
from nash_align.types import NashResult
from nash_align.types import PayoffTransform

__all__ = (
    "PredictedProperties",
    "PropertyCheck",
    "gives_mixed_strategies",
    "is_condorcet_consistent",
    "is_preference_matching",
    "is_sign_preserving",
    "is_smith_consistent",
    "nash_solution_spread",
    "predicted_properties",
    "preference_matching_payoff",
)


# ---------------------------------------------------------------------------
# Property predicates.


class PropertyCheck(NamedTuple):
  """Verdict of a numerical property check of a payoff transform.

  Attributes:
    holds: no violation among the games checked (evidence, not proof: a
      violation confined to a region the sampler misses is not seen).
    num_checked: number of games (or grid points) checked.
    num_violations: how many violated the property.
    counterexample: ``[n, n]`` float64 preference matrix of the first
      violation found (``None`` if none). For ``is_sign_preserving``, a
      ``[2, 2]`` matrix with the offending ``p`` in entry ``[0, 1]``.
    details: dict about the counterexample (payoff matrix, equilibrium the
      solver found, certificate value, reason) and the checker's settings.
  """

  holds: bool
  num_checked: int
  num_violations: int
  counterexample: Optional[np.ndarray]
  details: dict


def _solve(A) -> NashResult:
  """Solves a batch of games (eager, certified; HiGHS for any left over)."""
  return solvers.require_certified(solvers.solve(A, fallback="lp"),
                                   "payoff property check")


def _solve_tight(A) -> NashResult:
  """General games aiming at a gap of 1e-9, in float64 (x64 on for this
  call). The checks use each game's own gap in their bounds, so a game whose
  float64 gap stays above 1e-9 (HiGHS's own tolerances are 1e-7) is used
  when it is at most 1e-7; above that the check raises."""
  with jax.enable_x64(True):
    res = solvers.solve(np.asarray(A, np.float64), symmetric=False, tol=1e-9,
                        fallback="lp")
  return solvers.require_certified(res, "payoff property check", max_gap=1e-7)


def _pair_matrix(u: jax.Array) -> jax.Array:
  """``[B, n, n]`` preference matrices from the strict upper triangle of u."""
  n = u.shape[-1]
  i = jnp.arange(n)[:, None]
  j = jnp.arange(n)[None, :]
  upper = jnp.broadcast_to(i < j, u.shape)
  lower = jnp.broadcast_to(i > j, u.shape)
  return jnp.where(upper, u,
                   jnp.where(lower, 1 - jnp.swapaxes(u, -1, -2), 0.5))


def _random_entries(key, batch: int, n: int) -> jax.Array:
  """Uniform entries on ``[0, 1]``, 15% replaced by tournament 0/1 values."""
  k1, k2, k3 = jax.random.split(key, 3)
  u = jax.random.uniform(k1, (batch, n, n))
  t = jax.random.bernoulli(k2, 0.5, (batch, n, n)).astype(u.dtype)
  use_t = jax.random.bernoulli(k3, 0.15, (batch, n, n))
  return jnp.where(use_t, t, u)


def _force(P: jax.Array, F: jax.Array) -> jax.Array:
  """Makes ``P[i, j] > 1/2`` where ``F[i, j]`` (``F`` never both ways)."""
  up = jnp.where(P > 0.5, P, jnp.where(P < 0.5, 1 - P, 0.75))
  return jnp.where(F, up, jnp.where(jnp.swapaxes(F, -1, -2), 1 - up, P))


def _permute(key, P: jax.Array, mask: jax.Array):
  """Relabels each game by a random permutation; returns ``(P', mask')``."""
  b, n = P.shape[0], P.shape[-1]
  # Uniformly random permutations as argsorts of iid uniforms (ties have
  # probability ~0 and would only bias the labelling, not the game).
  perm = jnp.argsort(jax.random.uniform(key, (b, n)), axis=-1)  # [B, n]
  bi = jnp.arange(b)[:, None, None]
  P2 = P[bi, perm[:, :, None], perm[:, None, :]]
  mask2 = jnp.take_along_axis(mask, perm, axis=-1)
  return P2, mask2


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _sample_games(key, kind: str, batch: int, n: int):
  """Random preference matrices with a planted structure.

  kind:
    "condorcet": a Condorcet winner (mask marks it);
    "smith": a planted Smith set ``D`` of random size ``s in [1, n - 1]``
      (mask marks it): ``D`` strictly beats its complement, and inside ``D``
      there is a strict Hamiltonian cycle (``s >= 3``) or a tie (``s = 2``),
      so that ``D`` is exactly the Smith set. The tie is outside
      arXiv:2505.20627's Assumption 2.1 (no ties), under which a Smith set
      of size 2 is impossible; ``_sample_general`` has no ties;
    "cycle": no Condorcet winner: half with a planted strict Hamiltonian
      cycle through all ``n``, half unconstrained games (rejection sampled,
      so Condorcet losers occur); mask is all True.
  """
  k_entries, k_size, k_perm = jax.random.split(key, 3)
  P = _pair_matrix(_random_entries(k_entries, batch, n))
  i = jnp.arange(n)[None, :, None]  # [1, n, 1]
  j = jnp.arange(n)[None, None, :]  # [1, 1, n]
  if kind == "condorcet":
    F = jnp.broadcast_to((i == 0) & (j != 0), (batch, n, n))
    mask = jnp.broadcast_to((jnp.arange(n) == 0)[None], (batch, n))
  elif kind == "smith":
    s = jax.random.randint(k_size, (batch, 1, 1), 1, n)
    cross = (i < s) & (j >= s)
    cycle = (i < s) & (j == (i + 1) % s) & (s >= 3)
    F = cross | cycle
    tie = (s == 2) & (i < 2) & (j < 2) & (i != j)
    P = jnp.where(tie, 0.5, P)
    mask = jnp.arange(n)[None, :] < s[:, :, 0]  # [B, n]
    F = jnp.broadcast_to(F, (batch, n, n))
  elif kind == "cycle":
    # Half: a planted strict Hamiltonian cycle. Other half: unconstrained
    # games without a Condorcet winner (rejection from a pool of 8x, padded
    # with planted ones in the unlikely case the pool is short); these may
    # have Condorcet losers, which the planted ones never do.
    F = jnp.broadcast_to(j == (i + 1) % n, (batch, n, n))
    planted = _force(P, F)
    pool = _pair_matrix(_random_entries(k_size, 8 * batch, n))
    eye = jnp.broadcast_to(jnp.eye(n, dtype=bool), pool.shape)
    no_cw = ~jnp.any(jnp.all((pool > 0.5) | eye, axis=-1), axis=-1)
    half = batch // 2
    cand = jnp.concatenate([pool, planted[:half]], axis=0)
    ok = jnp.concatenate([no_cw, jnp.ones((half,), bool)])
    order = jnp.argsort(~ok, stable=True)[:batch - half]
    P = jnp.concatenate([cand[order], planted[half:]], axis=0)
    F = jnp.zeros((batch, n, n), bool)
    mask = jnp.ones((batch, n), bool)
  else:
    raise ValueError(f"unknown kind {kind!r}")
  P = _force(P, F)
  return _permute(k_perm, P, mask)


def _check_psi(psi) -> None:
  if not callable(psi):
    raise ValueError(f"psi must be a callable payoff transform P -> Psi(P), "
                     f"got {type(psi).__name__}.")


def _check_sizes(num_games, num_alternatives, min_n: int):
  if not isinstance(num_games, (int, np.integer)) or num_games < 1:
    raise ValueError(f"num_games must be a positive int, got {num_games!r}.")
  sizes = tuple(int(n) for n in num_alternatives)
  if not sizes or min(sizes) < min_n:
    raise ValueError(
        f"num_alternatives must be a nonempty sequence of sizes >= {min_n}, "
        f"got {num_alternatives!r}.")
  return sizes


def _payoff_of(psi, P: jax.Array) -> np.ndarray:
  A = _payoff_general(psi, P)
  # Loose relative tolerance: float32 rounding of 1 - p is amplified by steep
  # transforms (log-odds near its clip); from_function checks Psi properly.
  if not np.all(np.abs(A + np.swapaxes(A, -1, -2))
                <= 1e-3 * (1 + np.abs(A))):
    raise ValueError("psi must be antisymmetric (Psi(1 - p) = -Psi(p)), so "
                     "that Psi(P) is a skew-symmetric payoff matrix.")
  # Remove the float rounding left in A + A^T: the games are then exactly
  # skew-symmetric (the certificates and the solver's symmetric path use it).
  return (A - np.swapaxes(A, -1, -2)) / 2


def _verdict(total: int, bad_total: int, first: Optional[dict],
             details: dict) -> PropertyCheck:
  """Assembles a ``PropertyCheck``.

  ``first`` describes the first violation found (``None`` if none); its
  ``"counterexample"`` entry becomes the counterexample and the rest is merged
  into ``details``.
  """
  counterexample = None
  if first is not None:
    counterexample = first.pop("counterexample")
    details.update(first)
  return PropertyCheck(holds=bad_total == 0, num_checked=total,
                       num_violations=bad_total, counterexample=counterexample,
                       details=details)


def _run_check(psi, key, kind: str, num_games: int, sizes: Sequence[int],
               violation_fn, eq_tol: float) -> PropertyCheck:
  """Samples games of each size, solves them, and applies ``violation_fn``.

  ``violation_fn(A, mask, row, col, gap) -> (bad [B] bool, reason [B],
  certificate [B] float)`` works on float64 numpy arrays.
  """
  total = 0
  bad_total = 0
  first = None
  keys = jax.random.split(key, len(sizes))
  for k, n in zip(keys, sizes):
    P, mask = _sample_games(k, kind, num_games, n)
    A = _payoff_of(psi, P)
    res = _solve(A)
    row = np.asarray(res.row, np.float64)
    col = np.asarray(res.col, np.float64)
    gap = np.asarray(res.gap, np.float64)
    bad, reasons, cert = violation_fn(A, np.asarray(mask), row, col, gap)
    total += num_games
    bad_total += int(bad.sum())
    if first is None and bad.any():
      b = int(np.argmax(bad))
      first = dict(
          counterexample=np.asarray(P[b], np.float64),
          payoff_matrix=A[b],
          planted=np.asarray(mask[b]),
          equilibrium_row=row[b],
          equilibrium_col=col[b],
          gap=float(gap[b]),
          certificate=float(cert[b]),
          reason=str(reasons[b]),
      )
  details = dict(kind=kind, num_alternatives=tuple(sizes), eq_tol=eq_tol)
  return _verdict(total, bad_total, first, details)


# ---------------------------------------------------------------------------
# General (not antisymmetric) Psi: sampler, payoffs, Nash solutions of the max
# player.


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _sample_general(key, kind: str, batch: int, n: int):
  """No-tie preference matrices (2505.20627 Asm. 2.1) with a planted Smith set.

  The planted set ``D`` (mask) of size ``s`` strictly beats its complement
  and holds a strict Hamiltonian cycle when ``s >= 3``, so ``D`` is exactly
  the Smith set; ``s = 2`` is impossible without ties. kind:
    "condorcet": ``s = 1`` (a Condorcet winner);
    "smith": ``s`` uniform on ``{1} u [3, n - 1]``;
    "cycle": ``s`` uniform on ``[3, n]`` (no Condorcet winner).
  Margins ``|P[i, j] - 1/2|`` are ``scale * u / 2`` with one scale per block
  (inside ``D``, across, outside ``D``) and game: 1 with probability 1/2,
  else log-uniform on ``[1e-2, 1]``; ``u`` is 1 for every entry in half the
  games (one margin per block, as in 2505.20627's Tables 3 and 4), else
  uniform on ``[1/2, 1]``; in half the games the complement of ``D`` holds a
  strict Hamiltonian cycle too (when it has 3 or more responses). Strong
  cycles over weakly dominated responses are
  what separate the three conditions of Table 1; uniform entries almost
  never produce them. Labels are randomly permuted.
  """
  ks = jax.random.split(key, 8)
  i = jnp.arange(n)[None, :, None]  # [1, n, 1]
  j = jnp.arange(n)[None, None, :]  # [1, 1, n]
  if kind == "condorcet":
    s = jnp.ones((batch, 1, 1), jnp.int32)
  elif kind == "smith":
    s = jax.random.randint(ks[0], (batch, 1, 1), 2, n)
    s = jnp.where(s == 2, 1, s)
  elif kind == "cycle":
    s = jax.random.randint(ks[0], (batch, 1, 1), 3, n + 1)
  else:
    raise ValueError(f"unknown kind {kind!r}")
  inside = (i < s) & (j < s)
  cross = (i < s) != (j < s)
  scale = 10.0 ** (-2 * jax.random.uniform(ks[1], (batch, 3, 1, 1)))
  scale = jnp.where(jax.random.bernoulli(ks[2], 0.5, scale.shape), 1.0, scale)
  scale = jnp.where(inside, scale[:, 0],
                    jnp.where(cross, scale[:, 1], scale[:, 2]))  # [B, n, n]
  u = jax.random.uniform(ks[3], (batch, n, n), minval=0.5, maxval=1.0)
  u = jnp.where(jax.random.bernoulli(ks[4], 0.5, (batch, 1, 1)), 1.0, u)
  sign = jnp.where(jax.random.bernoulli(ks[5], 0.5, (batch, n, n)), 1.0, -1.0)
  P = _pair_matrix(0.5 + sign * 0.5 * u * scale)
  F = ((i < s) & (j >= s)) | ((i < s) & (j == (i + 1) % s) & (s >= 3))
  # Half the games: a strict Hamiltonian cycle outside D too (Table 4).
  c = n - s
  out_cycle = ((i >= s) & (j >= s) & (c >= 3)
               & (j == s + (i - s + 1) % jnp.maximum(c, 1))
               & jax.random.bernoulli(ks[7], 0.5, (batch, 1, 1)))
  P = _force(P, jnp.broadcast_to(F | out_cycle, (batch, n, n)))
  mask = jnp.arange(n)[None, :] < s[:, :, 0]  # [B, n]
  return _permute(ks[6], P, mask)


def _payoff_general(psi, P: jax.Array) -> np.ndarray:
  """``Psi(P)`` as float64 ``[..., n, n]``, checked, not symmetrised."""
  A = np.asarray(psi(P), dtype=np.float64)
  if A.shape != P.shape:
    raise ValueError(f"psi must return [..., n, n] of P's shape {P.shape}, got "
                     f"{A.shape}.")
  if not np.all(np.isfinite(A)):
    raise ValueError("psi returned non-finite payoffs (NaN or inf).")
  return A


def _two_by_two(p: jax.Array) -> jax.Array:
  """``[m, 2, 2]`` games ``[[1/2, p], [1 - p, 1/2]]``."""
  half = jnp.full_like(p, 0.5)
  return jnp.stack([jnp.stack([half, p], -1), jnp.stack([1 - p, half], -1)],
                   -2)


def _is_antisymmetric_transform(psi) -> bool:
  """Whether ``Psi(1 - p) = -Psi(p)`` on a dyadic grid (incl. ``Psi(1/2) = 0``).

  Same tolerance as ``_payoff_of``: antisymmetric transforms keep the exact
  skew-symmetric certificates; the others go to the general checks.
  """
  p = jnp.arange(512, 1025, dtype=jnp.float32) / 1024
  A = _payoff_general(psi, _two_by_two(p))
  err = np.abs(A + np.swapaxes(A, -1, -2))
  return bool(np.all(err <= 1e-3 * (1 + np.abs(A))))


def _general_check(psi, key, kind: str, num_games: int, sizes: Sequence[int],
                   eq_tol: float) -> PropertyCheck:
  """Condorcet ("condorcet"), Smith ("smith") or mixed ("cycle") for any Psi.

  Every game is solved by ``solvers.solve(A, symmetric=False)``; ``row`` is the
  max player's returned strategy, ``v_lo = min_j (row^T A)_j`` its guaranteed
  value (``v* - gap <= v_lo <= v*``). "Every Nash solution" is checked on the
  relaxed optimal set ``X = {x : min_j (x^T A)_j >= v_lo - tol}``,
  ``tol = 1e-9 (1 + max |A|)``, which contains every maximin strategy (and
  only ``(gap + tol)``-optimal ones). A game is flagged when

  * "condorcet" (Condorcet winner ``w``): unless the exact certificate holds
    (``A[w, j] >= A[w, w] > A[i, w]`` for all ``j``, ``i != w``: then ``e_w``
    is the unique Nash solution, a strategy with mass ``m`` away from ``w``
    losing ``m min_i (A[w, w] - A[i, w])`` against column ``w``), some
    ``x in X`` has ``1 - x_w > eq_tol``; with the certificate, when the
    solver's ``row`` has ``1 - row_w > eq_tol + gap / c``;
  * "smith" (planted Smith set ``S``): some ``x in X`` puts more than
    ``eq_tol`` outside ``S`` (an LP);
  * "cycle" (no Condorcet winner): some pure ``e_i`` is in ``X``,
    ``min_j A[i, j] >= v_lo - tol`` (``details["pure_exact"]``: also
    ``max_k (A col)_k <= min_j A[i, j] + tol``, i.e. the solver's column
    certifies ``e_i`` exactly optimal).

  ``details["returned_violations"]`` counts games where the solver's returned
  ``row`` itself violates the property (mass ``> eq_tol`` away from ``w`` /
  outside ``S``, or within ``eq_tol`` of pure).
  """
  total, bad_total, returned_bad, first = 0, 0, 0, None
  max_gap = 0.0
  for k, n in zip(jax.random.split(key, len(sizes)), sizes):
    P, mask = _sample_general(k, kind, num_games, n)
    mask = np.asarray(mask)
    A = _payoff_general(psi, P)
    res = _solve_tight(A)
    row = np.asarray(res.row, np.float64)
    col = np.asarray(res.col, np.float64)
    v_lo = np.min(np.einsum("bi,bij->bj", row, A), axis=-1)
    v_hi = np.max(np.einsum("bij,bj->bi", A, col), axis=-1)
    gap = v_hi - v_lo
    max_gap = max(max_gap, float(gap.max()))
    tol = 1e-9 * (1 + np.max(np.abs(A), axis=(-2, -1)))
    for b in range(num_games):
      Ab, mb = A[b], mask[b]
      witness, cert, reason, extra = None, np.nan, "", {}
      if kind == "condorcet":
        w = int(np.argmax(mb))
        others = ~mb
        c1 = np.min(Ab[w, others] - Ab[w, w])
        c2 = np.min(Ab[w, w] - Ab[others, w])
        cert = min(c1, c2)
        away = 1 - row[b, w]
        ret_bad = away > eq_tol
        if c1 >= 0 and c2 > 0:
          bad = away > eq_tol + gap[b] / c2
          if bad:
            witness, reason = row[b], "solver contradicts the certificate"
        else:
          m, x = solvers.max_weight_guaranteeing(Ab, v_lo[b] - tol[b],
                                                 others * 1.0)
          bad = m > eq_tol
          if bad:
            witness = x
            reason = (f"a Nash solution puts mass {m:.4g} away from the "
                      "Condorcet winner")
      elif kind == "smith":
        outside = ~mb * 1.0
        ret_bad = row[b] @ outside > eq_tol
        cert, x = solvers.max_weight_guaranteeing(Ab, v_lo[b] - tol[b], outside)
        bad = cert > eq_tol
        if bad:
          witness = x
          reason = (f"a Nash solution puts mass {cert:.4g} outside the "
                    "Smith set")
      else:  # cycle
        worst = np.min(Ab, axis=-1)
        i = int(np.argmax(worst))
        cert = worst[i] - v_lo[b]
        ret_bad = np.max(row[b]) >= 1 - eq_tol
        bad = worst[i] >= v_lo[b] - tol[b]
        if bad:
          witness = np.eye(n)[i]
          reason = f"the pure strategy {i} is a Nash solution"
          extra = dict(pure_exact=bool(v_hi[b] <= worst[i] + tol[b]))
      returned_bad += int(ret_bad)
      bad_total += int(bad)
      if bad and first is None:
        first = dict(
            counterexample=np.asarray(P[b], np.float64), payoff_matrix=Ab,
            planted=mb, equilibrium_row=row[b], equilibrium_col=col[b],
            gap=float(gap[b]), value_bounds=(float(v_lo[b]), float(v_hi[b])),
            witness=witness,
            witness_guarantee=float(np.min(witness @ Ab)),
            certificate=float(cert), reason=reason, **extra)
    total += num_games
  details = dict(kind=kind, sampler="general (no ties)",
                 num_alternatives=tuple(sizes), eq_tol=eq_tol,
                 returned_violations=returned_bad, max_gap=max_gap)
  return _verdict(total, bad_total, first, details)


_TINY = 1e-300


def is_condorcet_consistent(psi: PayoffTransform, key, *,
                            num_games: int = 128,
                            num_alternatives: Sequence[int] = (2, 3, 4, 5),
                            eq_tol: float = 1e-4) -> PropertyCheck:
  """Checks that a Condorcet winner is the unique Nash solution of ``Psi(P)``.

  2505.20627 Def. 3.2 / Thm 3.1. For a general (not antisymmetric) ``Psi``
  the games come from the no-tie sampler and every Nash solution of the max
  player is checked by an LP over the (relaxed) optimal set: see
  ``_general_check``. For antisymmetric ``Psi``:
  draws ``num_games`` preference matrices of each size with a planted
  Condorcet winner ``w`` (other entries uniform or 0/1, random labels),
  solves the games and flags a game when either

  * the exact certificate fails: ``c = min_{j != w} Psi(P)[w, j] <= 0`` (for
    skew-symmetric payoffs ``w`` is the unique equilibrium iff ``c > 0``;
    see ``docs/payoff_properties.md``), or
  * the solver contradicts it: a ``g``-optimal row strategy ``x`` (``g`` the
    duality gap) of such a game has ``1 - x_w <= g / c`` (play column ``w``
    against ``x``), so ``1 - x_w > eq_tol + g / c`` is a solver error.

  The tolerance-free certificate keeps transforms that are tiny near 1/2
  (e.g. ``power_payoff`` with a large exponent) from being flagged for
  near-ties a solver cannot resolve. Not jit-able (returns Python objects);
  sampling and payoffs are batched and each size is solved in one batched
  call. The key is consumed.

  Args:
    psi: payoff transform ``P [..., n, n] -> [..., n, n]``.
    key: PRNG key.
    num_games: games per size.
    num_alternatives: sizes ``n >= 2`` to try.
    eq_tol: slack on the solver's strategy.

  Returns:
    ``PropertyCheck``; ``details["certificate"]`` is ``c``.
  """
  _check_psi(psi)
  sizes = _check_sizes(num_games, num_alternatives, 2)
  if not _is_antisymmetric_transform(psi):
    return _general_check(psi, key, "condorcet", num_games, sizes, eq_tol)

  def violation(A, mask, row, col, gap):
    del col
    # mask marks the winner w: w_row = A[w, :], cert = min_{j != w} A[w, j].
    w_row = np.einsum("bn,bnk->bk", mask.astype(np.float64), A)
    cert = np.min(np.where(mask, np.inf, w_row), axis=-1)
    away = 1 - np.sum(row * mask, axis=-1)
    bad_cert = cert <= 0
    bad_eq = ~bad_cert & (away > eq_tol + gap / np.maximum(cert, _TINY))
    reasons = np.where(
        bad_cert, "Psi(P[w, j]) <= 0 for some j: the Condorcet winner w is "
        "not the unique equilibrium", "solver contradicts the certificate")
    return bad_cert | bad_eq, reasons, cert

  return _run_check(psi, key, "condorcet", num_games, sizes, violation,
                    eq_tol)


def is_smith_consistent(psi: PayoffTransform, key, *,
                        num_games: int = 128,
                        num_alternatives: Sequence[int] = (3, 4, 5, 6),
                        eq_tol: float = 1e-4) -> PropertyCheck:
  """Checks that Nash solutions of ``Psi(P)`` are supported in the Smith set.

  2505.20627 Def. 4.1 / Thm 4.2. For a general (not antisymmetric) ``Psi``:
  no-tie games with a planted Smith set of size 1 or ``>= 3`` (Asm. 2.1), and
  the maximum mass outside it over every Nash solution of the max player is
  computed by an LP (``_general_check``). For antisymmetric ``Psi``: draws
  games with a planted Smith set ``D`` of random size ``1 <= s < n`` (``D``
  strictly beats its complement; a strict Hamiltonian cycle inside ``D``
  when ``s >= 3``, a tie when ``s = 2``, so ``D`` is exactly the Smith set;
  the tie is outside 2505.20627's Asm. 2.1), solves them and flags a game
  when the solver's row or column
  strategy puts mass ``t`` outside ``D`` beyond what its duality gap ``g``
  allows: with ``c = min_{i in D, j not in D} Psi(P)[i, j]``, every
  ``g``-optimal strategy has ``t <= g / c`` when ``c > 0`` (from
  ``sum_j x_j (x^T A)_j = 0``), so a game is flagged when
  ``t > eq_tol + g / c`` (``c > 0``) or ``t > eq_tol`` (``c <= 0``). A game
  with ``c <= 0`` whose equilibrium happens to stay in ``D`` is not flagged:
  this check finds counterexamples, it proves nothing. The key is consumed.

  Args:
    psi: payoff transform ``P -> Psi(P)``.
    key: PRNG key.
    num_games: games per size.
    num_alternatives: sizes ``n >= 2``.
    eq_tol: slack on the mass outside the Smith set.

  Returns:
    ``PropertyCheck``; ``details["certificate"]`` is the mass outside.
  """
  _check_psi(psi)
  sizes = _check_sizes(num_games, num_alternatives, 2)
  if not _is_antisymmetric_transform(psi):
    return _general_check(psi, key, "smith", num_games, sizes, eq_tol)

  def violation(A, mask, row, col, gap):
    cross = mask[:, :, None] & ~mask[:, None, :]
    c = np.min(np.where(cross, A, np.inf), axis=(-2, -1))
    out = np.maximum(np.sum(row * ~mask, axis=-1),
                     np.sum(col * ~mask, axis=-1))
    allowed = eq_tol + np.where(c > 0, gap / np.maximum(c, _TINY), 0.0)
    reasons = np.where(c > 0, "solver contradicts the certificate",
                       "equilibrium mass outside the Smith set")
    return out > allowed, reasons, out

  return _run_check(psi, key, "smith", num_games, sizes, violation, eq_tol)


def gives_mixed_strategies(psi: PayoffTransform, key, *,
                           num_games: int = 128,
                           num_alternatives: Sequence[int] = (3, 4, 5, 6),
                           eq_tol: float = 1e-4) -> PropertyCheck:
  """Checks that every Nash solution is mixed when there is no Condorcet winner.

  2505.20627 Def. 3.3 / Thm 3.2 (arXiv:2503.10990 Thm 3.1 for the margin).
  For a general (not antisymmetric) ``Psi``: no-tie games without a Condorcet
  winner, flagged when a pure strategy is a Nash solution of the max player
  (``_general_check``). For antisymmetric ``Psi``: draws games without a
  Condorcet winner (half with a planted strict Hamiltonian majority cycle,
  half rejection-sampled from uniform entries) and flags a game when either

  * the exact certificate finds a pure equilibrium: some ``i`` with
    ``min_j Psi(P)[i, j] >= 0`` (for skew-symmetric payoffs, pure ``i`` is
    an equilibrium iff its row is nonnegative), or
  * the solver contradicts it: its row strategy is within ``eq_tol`` of a
    pure ``e_i`` while its gap is below ``e_i``'s exploitability
    ``-min_j A[i, j]`` minus ``2 eq_tol max |A|``.

  The key is consumed.

  Args:
    psi: payoff transform ``P -> Psi(P)``.
    key: PRNG key.
    num_games: games per size.
    num_alternatives: sizes ``n >= 3``.
    eq_tol: slack on the solver's strategy.

  Returns:
    ``PropertyCheck``; ``details["certificate"]`` is the best pure row's
    worst payoff ``max_i min_j A[i, j]``.
  """
  _check_psi(psi)
  sizes = _check_sizes(num_games, num_alternatives, 3)
  if not _is_antisymmetric_transform(psi):
    return _general_check(psi, key, "cycle", num_games, sizes, eq_tol)

  def violation(A, mask, row, col, gap):
    del mask, col
    worst = np.min(A, axis=-1)  # [B, n]
    cert = np.max(worst, axis=-1)
    bad_cert = cert >= 0
    i = np.argmax(row, axis=-1)
    near_pure = np.take_along_axis(row, i[:, None], -1)[:, 0] >= 1 - eq_tol
    expl = -np.take_along_axis(worst, i[:, None], -1)[:, 0]
    scale = np.max(np.abs(A), axis=(-2, -1))
    bad_eq = ~bad_cert & near_pure & (gap < expl - 2 * eq_tol * scale)
    reasons = np.where(bad_cert, "a pure strategy is an equilibrium",
                       "solver contradicts the certificate")
    return bad_cert | bad_eq, reasons, cert

  return _run_check(psi, key, "cycle", num_games, sizes, violation, eq_tol)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _btl_games(key, batch: int, n: int, scale):
  """BTL games: log-strengths ``r [B, n]``, ``P [B, n, n]``, ``softmax(r)``."""
  r = scale * jax.random.normal(key, (batch, n))
  P = _pair_matrix(jax.nn.sigmoid(r[:, :, None] - r[:, None, :]))
  return r, P, jax.nn.softmax(r, axis=-1)


def is_preference_matching(psi: PayoffTransform, key, *,
                           num_games: int = 128,
                           num_alternatives: Sequence[int] = (2, 3, 4, 5),
                           scale: float = 1.0,
                           atol: float = 1e-6,
                           eq_tol: float = 1e-3) -> PropertyCheck:
  """Checks preference matching under Bradley-Terry-Luce preferences.

  Draws log-strengths ``r ~ N(0, scale^2)``, sets
  ``P[i, j] = sigmoid(r_i - r_j)`` and the target ``pi* = softmax(r)``
  (the preference-matching policy of Xiao et al. 2024, arXiv:2405.16455, as
  used in arXiv:2505.20627 Sec. 5: the unique Nash solution of the max
  player is ``pi*``). Flags a game when either

  * ``A`` is constant (every strategy is a Nash solution), or
  * the certificate fails: ``pi*`` is not a maximin strategy,
    ``v_hi - min_j (pi*^T A)_j > atol max|A - Psi(1/2)|`` with ``v_hi >= v*``
    the solver's upper bound on the value (``0`` for antisymmetric ``Psi``:
    ``max_i (A pi*)_i > atol max|A|``; relative, so transforms that are tiny
    near 1/2 are judged fairly), or
  * the solver's equilibrium differs from ``pi*`` by more than ``eq_tol`` in
    L1 (then ``pi*`` is not the unique equilibrium).

  The key is consumed.

  Args:
    psi: payoff transform ``P -> Psi(P)``.
    key: PRNG key.
    num_games: games per size.
    num_alternatives: sizes ``n >= 2``.
    scale: spread of the log-strengths.
    atol: relative certificate tolerance.
    eq_tol: L1 tolerance between the solver's strategy and ``pi*``.

  Returns:
    ``PropertyCheck``; ``details["target"]`` is ``pi*`` of the
    counterexample.
  """
  _check_psi(psi)
  sizes = _check_sizes(num_games, num_alternatives, 2)
  _validation.check_lower_bound(scale, "scale", 0.0, inclusive=False)
  total, bad_total, first = 0, 0, None
  skew = _is_antisymmetric_transform(psi)
  for k, n in zip(jax.random.split(key, len(sizes)), sizes):
    r, P, target = _btl_games(k, num_games, n, scale)
    target = np.asarray(target, np.float64)
    if skew:
      A = _payoff_of(psi, P)
      res = _solve(A)
      cert = np.max(np.einsum("bij,bj->bi", A, target), axis=-1)
      amax = np.max(np.abs(A), axis=(-2, -1))
    else:
      A = _payoff_general(psi, P)
      res = _solve_tight(A)
      v_hi = np.max(np.einsum("bij,bj->bi", A, np.asarray(res.col,
                                                          np.float64)), -1)
      cert = v_hi - np.min(np.einsum("bi,bij->bj", target, A), axis=-1)
      amax = np.max(np.abs(A - A[:, :1, :1]), axis=(-2, -1))
    dist = np.sum(np.abs(np.asarray(res.row) - target), axis=-1)
    # amax == 0: A constant, every strategy is an equilibrium (not unique).
    bad = (amax == 0) | (cert > atol * amax) | (dist > eq_tol)
    total += num_games
    bad_total += int(bad.sum())
    if first is None and bad.any():
      b = int(np.argmax(bad))
      first = dict(
          counterexample=np.asarray(P[b], np.float64), payoff_matrix=A[b],
          target=target[b], log_strengths=np.asarray(r[b], np.float64),
          equilibrium_row=np.asarray(res.row[b], np.float64),
          gap=float(np.asarray(res.gap)[b]), certificate=float(cert[b]),
          l1_distance=float(dist[b]),
          reason=("Psi(P) is constant: every strategy is an equilibrium"
                  if amax[b] == 0 else
                  "target is exploitable (not an equilibrium)"
                  if cert[b] > atol * amax[b] else
                  "solver found another equilibrium"))
  details = dict(kind="btl", num_alternatives=sizes, scale=scale, atol=atol,
                 eq_tol=eq_tol)
  return _verdict(total, bad_total, first, details)


def is_sign_preserving(psi: PayoffTransform, *,
                       num_points: int = 4096) -> PropertyCheck:
  """Checks ``Psi(p) > Psi(1/2)`` for ``p in (1/2, 1]`` on a grid.

  For antisymmetric ``Psi`` (``Psi(1/2) = 0``) this is the exact criterion for
  Condorcet consistency, Smith consistency and mixed strategies without a
  Condorcet winner (``docs/payoff_properties.md``); for a general ``Psi`` use
  ``predicted_properties``. ``psi`` is evaluated on the 2x2 games
  ``[[1/2, p], [1 - p, 1/2]]`` at ``p = 1/2 + k / (2 num_points)``,
  ``k = 1..num_points``.

  Args:
    psi: payoff transform.
    num_points: grid size.

  Returns:
    ``PropertyCheck``; the counterexample is the 2x2 matrix of the first
    ``p`` with ``Psi(p) <= Psi(1/2)`` (``details["p"]``).
  """
  _check_psi(psi)
  if num_points < 1:
    raise ValueError(f"num_points must be >= 1, got {num_points}.")
  p = 0.5 + jnp.arange(1, num_points + 1, dtype=jnp.float32) / (2 * num_points)
  half = jnp.full_like(p, 0.5)
  P = jnp.stack([jnp.stack([half, p], -1), jnp.stack([1 - p, half], -1)], -2)
  A = _payoff_general(psi, P)
  vals = A[:, 0, 1] - A[:, 0, 0]
  bad = vals <= 0
  details = dict(kind="grid", num_points=num_points,
                 min_value=float(vals.min()))
  cx = None
  if bad.any():
    b = int(np.argmax(bad))
    cx = np.asarray(P[b], np.float64)
    details.update(p=float(p[b]), psi_p=float(vals[b]))
  return PropertyCheck(not bool(bad.any()), num_points, int(bad.sum()), cx,
                       details)


# ---------------------------------------------------------------------------
# 2505.20627 Table 1 evaluated on Psi itself.


class PredictedProperties(NamedTuple):
  """What arXiv:2505.20627's Table 1 predicts for a ``Psi`` (grid evaluation).

  Attributes:
    condorcet_consistent: Thm 3.1's condition holds (iff; no continuity).
    mixed_without_condorcet_winner: predicted verdict, or ``None`` where no
      result applies (see ``predicted_properties``).
    smith_consistent: predicted verdict, or ``None``.
    conditions: the grid conditions: ``thm_3_1``, ``sum_geq`` (``Psi(t) +
      Psi(1 - t) >= 2 Psi(1/2)``), ``sum_eq`` (``= 2 Psi(1/2)``),
      ``thm_3_2`` (``sum_geq`` and the strict condition below 1/2),
      ``thm_4_2`` (``sum_eq`` and the strict condition), ``continuous_at_half``
      (numerical), ``step`` (Examples 3.4/4.3: ``Psi`` equals ``M+`` on
      ``(1/2, 1]`` and ``M-`` on ``[0, 1/2)`` with ``M- < Psi(1/2) < M+``).
    sources: for each property, the result that decides the prediction.
    details: first grid points violating each condition, ``Psi(1/2)``.
  """

  condorcet_consistent: bool
  mixed_without_condorcet_winner: Optional[bool]
  smith_consistent: Optional[bool]
  conditions: dict
  sources: dict
  details: dict


def predicted_properties(psi: PayoffTransform, *, num_points: int = 1024,
                         atol: float = 1e-6) -> PredictedProperties:
  """Evaluates 2505.20627's Table 1 conditions on ``Psi`` on a grid of ``t``.

  ``psi`` (a payoff transform) is evaluated on the 2x2 games
  ``[[1/2, t], [1 - t, 1/2]]`` at ``t = k / (2 num_points)``,
  ``k = 0..2 num_points`` (exact ``1 - t`` in float32 for a power-of-two
  ``num_points``; non-finite values at ``t in {0, 1}`` are skipped). The
  one-sided conditions are compared exactly, the sum conditions with tolerance
  ``atol (1 + |Psi(t)| + |Psi(1 - t)|)``. Predictions (under Asm. 2.1):

  * Condorcet consistency: Thm 3.1's condition (necessary and sufficient).
  * Smith consistency: ``True`` if Thm 4.2's condition holds (its
    sufficiency proof, as our antisymmetric lemma, needs no continuity);
    ``False`` if Thm 3.1 fails (Smith implies Condorcet consistency), or
    if ``Psi`` is continuous at 1/2 and the sum equality fails (Thm 4.2);
    ``True`` for a two-valued step (Example 4.3); else ``None``.
  * Mixed without a Condorcet winner: ``True`` if Thm 3.2's condition holds
    (its sufficiency proof needs no continuity) or for a step with
    ``M- < Psi(1/2) <= M+`` (Example 3.4); ``False`` if Thm 3.1 holds, ``Psi``
    is continuous at 1/2 and ``sum_geq`` fails (Thm 3.2), or if ``Psi`` is
    antisymmetric and Thm 3.1 fails (our lemma in
    ``docs/payoff_properties.md``: a Condorcet loser with a nonnegative row
    beside a 3-cycle); else ``None``.

  Continuity at 1/2 is judged numerically: ``|Psi(1/2 +- h) - Psi(1/2)|
  <= 1e-2 (1 + max |Psi|)`` at ``h = 2^-20`` (float32 resolution); it is only
  used for the necessity directions.

  Args:
    psi: payoff transform ``P -> Psi(P)``.
    num_points: grid half-size ``>= 2``.
    atol: relative tolerance of the sum conditions.

  Returns:
    ``PredictedProperties``.

  Raises:
    ValueError: ``psi`` not callable or not finite inside ``(0, 1)``,
      ``num_points < 2``.
  """
  _check_psi(psi)
  if int(num_points) != num_points or num_points < 2:
    raise ValueError(f"num_points must be an integer >= 2, got {num_points!r}.")
  m = int(num_points)
  t = jnp.arange(0, 2 * m + 1, dtype=jnp.float32) / (2 * m)
  A = np.asarray(psi(_two_by_two(t)), np.float64)
  if A.shape != (2 * m + 1, 2, 2):
    raise ValueError(f"psi must map [m, 2, 2] games to [m, 2, 2], got "
                     f"{A.shape}.")
  psi_t, psi_1mt, half = A[:, 0, 1], A[:, 1, 0], A[:, 0, 0]
  t = np.asarray(t, np.float64)
  finite = np.isfinite(psi_t) & np.isfinite(psi_1mt)
  inner = (t > 0) & (t < 1)
  if not np.all(finite[inner]) or not np.all(np.isfinite(half)):
    raise ValueError("psi must be finite on (0, 1).")
  h = float(half[m])
  t, psi_t, psi_1mt = t[finite], psi_t[finite], psi_1mt[finite]
  upper, lower = t > 0.5, t < 0.5

  def first_bad(bad):
    return float(t[np.argmax(bad)]) if bad.any() else None

  bad_up = upper & (psi_t < h)
  bad_low = lower & (psi_t >= h)
  s = psi_t + psi_1mt - 2 * h
  tol = atol * (1 + np.abs(psi_t) + np.abs(psi_1mt))
  bad_geq = upper & (s < -tol)
  bad_eq = upper & (np.abs(s) > tol)
  thm31 = not (bad_up.any() or bad_low.any())
  sum_geq, sum_eq = not bad_geq.any(), not bad_eq.any()
  thm32 = sum_geq and not bad_low.any()
  thm42 = sum_eq and not bad_low.any()
  # Continuity at 1/2 (numerical, for the necessity directions only).
  eps = jnp.asarray([0.5 - 2.0 ** -20, 0.5 + 2.0 ** -20], jnp.float32)
  near = np.asarray(psi(_two_by_two(eps)), np.float64)[:, 0, 1]
  scale = 1 + np.max(np.abs(np.concatenate([psi_t, psi_1mt])))
  continuous = bool(np.all(np.abs(near - h) <= 1e-2 * scale))
  m_plus, m_minus = psi_t[upper], psi_t[lower]
  two_valued = (np.ptp(m_plus) <= atol * scale and
                np.ptp(m_minus) <= atol * scale)
  step_mixed = bool(two_valued and m_minus[0] < h <= m_plus[0])
  step_smith = bool(two_valued and m_minus[0] < h < m_plus[0])

  if thm42:
    smith, smith_src = True, "Thm 4.2 (sufficiency)"
  elif not thm31:
    smith, smith_src = False, "Smith => Condorcet consistency, Thm 3.1"
  elif step_smith:
    smith, smith_src = True, "Example 4.3"
  elif continuous:
    smith, smith_src = False, "Thm 4.2 (necessity, continuous at 1/2)"
  else:
    smith, smith_src = None, "none (not continuous at 1/2)"
  if thm32:
    mixed, mixed_src = True, "Thm 3.2 (sufficiency)"
  elif step_mixed:
    mixed, mixed_src = True, "Example 3.4"
  elif thm31 and continuous:
    mixed, mixed_src = False, "Thm 3.2 (necessity, continuous at 1/2)"
  elif sum_eq:
    mixed, mixed_src = False, "our lemma for antisymmetric Psi"
  else:
    mixed, mixed_src = None, "none (Thm 3.2 assumes Condorcet consistency)"
  conditions = dict(thm_3_1=thm31, sum_geq=sum_geq, sum_eq=sum_eq,
                    thm_3_2=thm32, thm_4_2=thm42,
                    continuous_at_half=continuous, step=step_smith)
  sources = dict(condorcet_consistent="Thm 3.1 (iff)",
                 mixed_without_condorcet_winner=mixed_src,
                 smith_consistent=smith_src)
  details = dict(psi_half=h, num_points=m,
                 first_t_upper_below_half=first_bad(bad_up),
                 first_t_lower_not_below_half=first_bad(bad_low),
                 first_t_sum_below=first_bad(bad_geq),
                 first_t_sum_not_equal=first_bad(bad_eq))
  return PredictedProperties(thm31, mixed, smith, conditions, sources, details)


# ---------------------------------------------------------------------------
# Preference matching beyond BTL: a positive control (2505.20627 Remark 5.3).


def preference_matching_payoff(pi) -> np.ndarray:
  """A payoff whose unique Nash solution is a given ``pi > 0``.

  ``alpha[i, j] = pi_j / pi_i - n delta_ij``, our construction in the spirit
  of 2505.20627's Remark 5.3 (its Appendix F.2 certificate, value 0 with the
  column ``u ~ 1 / pi``, holds for it); the proof that ``pi`` is the unique
  Nash solution is in ``docs/payoff_properties.md``. The diagonal ``1 - n``
  depends on ``n``, which Assumption 5.2 forbids, so Theorem 5.1 does not
  apply. A positive control for ``nash_solution_spread``, not a practical
  payoff (it needs ``pi`` and ``n``).

  Args:
    pi: ``[n]`` strictly positive weights (normalised here), ``n >= 2``.

  Returns:
    ``[n, n]`` float64 payoff matrix.

  Raises:
    ValueError: ``pi`` not a finite positive vector of length ``>= 2``.
  """
  pi = np.asarray(pi, np.float64)
  if pi.ndim != 1 or pi.shape[0] < 2:
    raise ValueError(f"pi must be a vector of length >= 2, got shape "
                     f"{pi.shape}.")
  if not (np.all(np.isfinite(pi)) and np.all(pi > 0)):
    raise ValueError("pi must be finite and strictly positive.")
  pi = pi / pi.sum()
  n = pi.shape[0]
  return pi[None, :] / pi[:, None] - n * np.eye(n)


def nash_solution_spread(A, *, tol: float = 1e-9):
  """How far apart the max player's Nash (maximin) strategies of ``A`` are.

  Computes the value ``v*`` (``solvers.solve_lp``) and, by ``2 n`` LPs, the
  range of each ``x_i`` over ``{x : min_j (x^T A)_j >= v* - tol (1 +
  max|A|)}``.

  Args:
    A: ``[n, k]`` payoff matrix (one game).
    tol: relative slack on the value.

  Returns:
    ``(value, spread, low [n], high [n])``; ``spread = max_i (high_i -
    low_i)`` is ~0 iff the Nash solution is unique.

  Raises:
    ValueError: ``A`` not a finite ``[n, k]`` matrix.
  """
  A = np.asarray(A, np.float64)
  if A.ndim != 2 or A.size < 2:
    raise ValueError(f"A must be one [n, k] game, got shape {A.shape}.")
  _validation.check_finite(A, "A")
  value = float(solvers.solve_lp(A).value)
  v = value - tol * (1 + np.max(np.abs(A)))
  n = A.shape[0]
  low, high = np.zeros(n), np.zeros(n)
  for i in range(n):
    e = np.eye(n)[i]
    high[i] = solvers.max_weight_guaranteeing(A, v, e)[0]
    low[i] = -solvers.max_weight_guaranteeing(A, v, -e)[0]
  return value, float(np.max(high - low)), low, high
