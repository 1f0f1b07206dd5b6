"""Tests for nash_align.social_choice against pref_voting and brute force."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nash_align import social_choice as sc
from nash_align import solvers

# ---------------------------------------------------------------------------
# Helpers (independent of nash_align): profiles, counts, brute force.


def _counts(rankings):
  """c[i, j] = #voters ranking i above j, by direct enumeration (numpy)."""
  m, n = rankings.shape
  pos = np.argsort(rankings, axis=1)  # pos[v, a] = position of a
  return np.sum(pos[:, :, None] < pos[:, None, :], axis=0)


def _pref(c):
  tot = c + c.T
  with np.errstate(invalid="ignore", divide="ignore"):
    P = np.where(tot > 0, c / np.maximum(tot, 1), 0.5)
  np.fill_diagonal(P, 0.5)
  return P


def _all_matrices(n, values):
  """Every preference matrix on n vertices with P[i, j], i < j, in values."""
  pairs = list(itertools.combinations(range(n), 2))
  vals = np.array(list(itertools.product(values, repeat=len(pairs))))
  P = np.full((len(vals), n, n), 0.5)
  for k, (i, j) in enumerate(pairs):
    P[:, i, j] = vals[:, k]
    P[:, j, i] = 1 - vals[:, k]
  return P


def _tournaments(n):
  """All tournaments on n vertices as preference matrices in {0, 1}."""
  return _all_matrices(n, [0.0, 1.0])


def _with_ties(n):
  """All matrices with entries in {0, 1/2, 1} on n vertices."""
  return _all_matrices(n, [0.0, 0.5, 1.0])


def _subsets(n):
  """All nonempty subsets as bool masks [2^n - 1, n], by size."""
  masks = [np.array([(s >> a) & 1 for a in range(n)], bool)
           for s in range(1, 2 ** n)]
  return np.array(sorted(masks, key=lambda m: m.sum()))


def _brute_smith(P):
  """Smallest S with P[i, j] > 1/2 for all i in S, j not in S."""
  n = P.shape[-1]
  S = _subsets(n)
  beats = P > 0.5  # [B, n, n]
  # dominating[b, s] = all_{i in S, j not in S} beats[b, i, j]
  need = S[:, :, None] & ~S[:, None, :]  # [s, n, n]
  dom = np.all(~need[None] | beats[:, None], axis=(-2, -1))  # [B, s]
  size = S.sum(-1)
  size_dom = np.where(dom, size[None], n + 1)
  best = np.argmin(size_dom, axis=-1)
  return S[best]


def _brute_schwartz(P):
  """Union of the minimal nonempty sets with no strict edge coming in."""
  n = P.shape[-1]
  S = _subsets(n)
  beats = P > 0.5
  incoming = ~S[:, :, None] & S[:, None, :]  # j outside -> i inside: [s, j, i]
  undominated = ~np.any(incoming[None] & beats[:, None], axis=(-2, -1))
  out = np.zeros((P.shape[0], n), bool)
  for s in range(len(S)):
    # minimal: no proper nonempty subset is undominated
    proper = np.all(~S | S[s][None], axis=-1) & (S.sum(-1) < S[s].sum())
    minimal = undominated[:, s] & ~np.any(undominated[:, proper], axis=-1)
    out |= minimal[:, None] & S[s][None]
  return out


def _brute_has_cycle(P):
  """Strict majority has a cycle iff no linear order is consistent with it."""
  n = P.shape[-1]
  beats = P > 0.5
  acyclic = np.zeros(P.shape[0], bool)
  for perm in itertools.permutations(range(n)):
    rank = np.empty(n, int)
    rank[list(perm)] = np.arange(n)
    earlier = rank[:, None] < rank[None, :]
    acyclic |= np.all(~beats | earlier[None], axis=(-2, -1))
  return ~acyclic


def _brute_transitive(P):
  """Weak majority is representable by integer scores r in {0..n-1}^n."""
  n = P.shape[-1]
  sgn = np.sign(P - 0.5)
  ok = np.zeros(P.shape[0], bool)
  for r in itertools.product(range(n), repeat=n):
    r = np.array(r)
    ok |= np.all(sgn == np.sign(r[:, None] - r[None, :])[None], axis=(-2, -1))
  return ok


def _brute_3cycles(P):
  beats = P > 0.5
  n = P.shape[-1]
  c = np.zeros(P.shape[0], int)
  for i, j, k in itertools.combinations(range(n), 3):
    c += (beats[:, i, j] & beats[:, j, k] & beats[:, k, i])
    c += (beats[:, i, k] & beats[:, k, j] & beats[:, j, i])
  return c


def _brute_closure(G):
  """Floyd-Warshall in numpy, walks of length >= 1."""
  R = G.copy()
  n = G.shape[-1]
  for k in range(n):
    R = R | (R[..., :, k:k + 1] & R[..., k:k + 1, :])
  return R


@jax.jit
def _all_stats(P):
  return dict(
      cw=sc.condorcet_winner(P), cl=sc.condorcet_loser(P),
      wcw=sc.weak_condorcet_winners(P), cycle=sc.has_condorcet_cycle(P),
      trans=sc.is_majority_transitive(P), c3=sc.count_3cycles(P),
      smith=sc.smith_set(P), schwartz=sc.schwartz_set(P),
      copeland=sc.copeland_scores(P), borda=sc.borda_scores(P),
      graph=sc.majority_graph(P))


def _stats(P):
  return jax.tree.map(np.asarray, _all_stats(jnp.asarray(P, jnp.float32)))


# ---------------------------------------------------------------------------
# pref_voting cross-check on random profiles (one jitted call).


@pytest.fixture(scope="module")
def profiles():
  rng = np.random.default_rng(0)
  n = 5
  out = []
  for b in range(300):
    m = int(rng.integers(2, 12))
    if b % 3 == 0:  # correlated voters: frequent Condorcet winners
      base = rng.permutation(n)
      r = np.array([base if rng.random() < 0.5 else rng.permutation(n)
                    for _ in range(m)])
    else:
      r = np.array([rng.permutation(n) for _ in range(m)])
    out.append(r)
  P = np.stack([_pref(_counts(r)) for r in out])
  return out, P


def test_against_pref_voting(profiles):
  from pref_voting.profiles import Profile  # pylint: disable=g-import-not-at-top
  from pref_voting.c1_methods import schwartz_set as pv_schwartz  # pylint: disable=g-import-not-at-top
  from pref_voting.c1_methods import smith_set as pv_smith  # pylint: disable=g-import-not-at-top

  rankings, P = profiles
  st = _stats(P)
  n = P.shape[-1]
  saw_cw = saw_cycle = saw_tie = 0
  for b, r in enumerate(rankings):
    prof = Profile(r.tolist())
    cw = prof.condorcet_winner()
    assert st["cw"][b] == (-1 if cw is None else cw)
    cl = prof.condorcet_loser()
    assert st["cl"][b] == (-1 if cl is None else cl)
    wcw = prof.weak_condorcet_winner() or []
    np.testing.assert_array_equal(np.flatnonzero(st["wcw"][b]), sorted(wcw))
    np.testing.assert_array_equal(np.flatnonzero(st["smith"][b]),
                                  pv_smith(prof))
    np.testing.assert_array_equal(np.flatnonzero(st["schwartz"][b]),
                                  pv_schwartz(prof))
    cop = prof.copeland_scores()
    np.testing.assert_allclose(st["copeland"][b], [cop[a] for a in range(n)])
    bor = prof.borda_scores()
    np.testing.assert_allclose(len(r) * st["borda"][b],
                               [bor[a] for a in range(n)], rtol=1e-5)
    mg = np.array([[prof.majority_prefers(i, j) for j in range(n)]
                   for i in range(n)])
    np.testing.assert_array_equal(st["graph"][b], mg)
    saw_cw += cw is not None
    saw_cycle += bool(st["cycle"][b])
    saw_tie += bool(np.any((P[b] == 0.5) & ~np.eye(n, dtype=bool)))
  # The sample exercises every branch.
  assert saw_cw > 30 and saw_cycle > 30 and saw_tie > 30


def test_lotteries_against_pref_voting(profiles):
  from pref_voting.profiles import Profile  # pylint: disable=g-import-not-at-top
  from pref_voting.c1_methods import bipartisan  # pylint: disable=g-import-not-at-top
  from pref_voting.probabilistic_methods import maximal_lottery as pv_ml  # pylint: disable=g-import-not-at-top

  rankings, P = profiles
  # Odd electorates: all margins odd, so both lotteries are unique.
  idx = [b for b, r in enumerate(rankings) if len(r) % 2 == 1][:60]
  ml = sc.maximal_lottery(jnp.asarray(P[idx], jnp.float32))
  bp = np.asarray(sc.bipartisan_set(jnp.asarray(P[idx], jnp.float32)))
  # References: HiGHS (solve_lp) and pref_voting's own LP.
  ref = solvers.solve_lp(P[idx] - 0.5)
  np.testing.assert_allclose(np.asarray(ml.row), ref.row, atol=2e-4)
  # Maximal lotteries and the bipartisan set lie in the Smith set.
  smith = _stats(P[idx])["smith"]
  assert np.all((np.asarray(ml.row) > 1e-6) <= smith)
  assert np.all(bp <= smith)
  # Under jit (traced solver path): same lotteries.
  ml_jit = jax.jit(sc.maximal_lottery)(jnp.asarray(P[idx[:8]], jnp.float32))
  np.testing.assert_allclose(np.asarray(ml_jit.row), ref.row[:8], atol=2e-3)
  for k, b in enumerate(idx):
    prof = Profile(rankings[b].tolist())
    lot = pv_ml(prof)
    np.testing.assert_allclose(np.asarray(ml.row)[k],
                               [lot.get(a, 0.0) for a in range(P.shape[-1])],
                               atol=2e-4)
    np.testing.assert_array_equal(np.flatnonzero(bp[k]), bipartisan(prof))


# ---------------------------------------------------------------------------
# Brute force over all small tournaments and tie patterns.


@pytest.mark.parametrize("n", [3, 4, 5])
def test_all_tournaments(n):
  P = _tournaments(n)
  st = _stats(P)
  np.testing.assert_array_equal(st["cycle"], _brute_has_cycle(P))
  np.testing.assert_array_equal(st["trans"], ~st["cycle"])
  np.testing.assert_array_equal(st["smith"], _brute_smith(P))
  np.testing.assert_array_equal(st["schwartz"], st["smith"])
  np.testing.assert_array_equal(st["c3"], _brute_3cycles(P))
  # Kendall & Babington Smith: C(n, 3) - sum_i C(s_i, 2).
  s = (P > 0.5).sum(-1)
  np.testing.assert_array_equal(
      st["c3"], math.comb(n, 3) - (s * (s - 1) // 2).sum(-1))
  cw_brute = np.where(s.max(-1) == n - 1, s.argmax(-1), -1)
  np.testing.assert_array_equal(st["cw"], cw_brute)
  np.testing.assert_array_equal(st["copeland"], 2 * s - (n - 1))
  # Number of acyclic tournaments is n!.
  assert (~st["cycle"]).sum() == math.factorial(n)


def test_all_tie_patterns_n4():
  P = _with_ties(4)
  st = _stats(P)
  np.testing.assert_array_equal(st["cycle"], _brute_has_cycle(P))
  np.testing.assert_array_equal(st["trans"], _brute_transitive(P))
  np.testing.assert_array_equal(st["smith"], _brute_smith(P))
  np.testing.assert_array_equal(st["schwartz"], _brute_schwartz(P))
  assert np.all(st["schwartz"] <= st["smith"])
  np.testing.assert_array_equal(st["c3"], _brute_3cycles(P))
  np.testing.assert_array_equal(st["wcw"], np.all(P >= 0.5, axis=-1))
  # vmap turns the batch-level lax.cond into a select: same answers.
  Pj = jnp.asarray(P[:64], jnp.float32)
  np.testing.assert_array_equal(jax.vmap(sc.has_condorcet_cycle)(Pj),
                                st["cycle"][:64])
  np.testing.assert_array_equal(jax.vmap(sc.count_3cycles)(Pj), st["c3"][:64])
  # Ties: strict acyclic but not transitive happens (a > b, b ~ c, c ~ a).
  assert np.any(~st["cycle"] & ~st["trans"])


def test_transitive_closure_against_floyd_warshall():
  rng = np.random.default_rng(1)
  G = rng.random((200, 7, 7)) < 0.2
  C = np.asarray(jax.jit(sc.transitive_closure)(G))
  np.testing.assert_array_equal(C, _brute_closure(G))
  # 0/1 numbers accepted; n = 1 allowed.
  np.testing.assert_array_equal(
      np.asarray(sc.transitive_closure(G[0].astype(np.int32))), C[0])
  assert not bool(sc.transitive_closure(np.zeros((1, 1), bool))[0, 0])
  # A long path needs all ceil(log2 n) squarings.
  path = np.eye(9, k=1, dtype=bool)
  np.testing.assert_array_equal(np.asarray(sc.transitive_closure(path)),
                                np.triu(np.ones((9, 9), bool), 1))


def test_bipartisan_set_of_tournaments_is_odd_and_in_smith():
  P = _tournaments(5)[:1020:17]  # 60 games: the batch shape of the test above
  bp = np.asarray(sc.bipartisan_set(P))
  smith = _brute_smith(P)
  assert np.all(bp.sum(-1) % 2 == 1)
  assert np.all(bp <= smith)
  # Maximal lottery of a tournament's margin game = majority game here.
  ml = sc.maximal_lottery(P)
  np.testing.assert_array_equal(np.asarray(ml.row) > 1e-6, bp)


def test_maximal_lottery_closed_form_and_smith():
  # Rock-paper-scissors margins 1, 3, 1 (wikipedia example): (3/5, 1/5, 1/5).
  # 5 voters: 2 a>b>c, 2 b>c>a, 1 c>a>b.
  r = np.array([[0, 1, 2]] * 2 + [[1, 2, 0]] * 2 + [[2, 0, 1]])
  P = _pref(_counts(r))
  ml = sc.maximal_lottery(P)
  np.testing.assert_allclose(np.asarray(ml.row), [0.6, 0.2, 0.2], atol=1e-6)
  np.testing.assert_allclose(float(ml.value), 0.0, atol=1e-6)


def test_batch_shapes_and_jit():
  P = _tournaments(4)[:6].reshape(2, 3, 4, 4)
  fns = [sc.condorcet_winner, sc.condorcet_loser, sc.weak_condorcet_winners,
         sc.has_condorcet_cycle, sc.is_majority_transitive, sc.count_3cycles,
         sc.smith_set, sc.schwartz_set, sc.copeland_scores, sc.borda_scores,
         sc.majority_graph]
  flat = _stats(P.reshape(6, 4, 4))  # jitted path, already checked above
  names = ["cw", "cl", "wcw", "cycle", "trans", "c3", "smith", "schwartz",
           "copeland", "borda", "graph"]
  for f, name in zip(fns, names):
    batched = np.asarray(f(P))  # eager, leading shape [2, 3]
    assert batched.shape[:2] == (2, 3)
    np.testing.assert_array_equal(batched.reshape(flat[name].shape),
                                  flat[name])
    np.testing.assert_array_equal(np.asarray(f(P[1, 2])), flat[name][5])
  assert sc.condorcet_winner(P).dtype == jnp.int32
  assert sc.count_3cycles(P).dtype == jnp.int32
  assert sc.smith_set(P).dtype == jnp.bool_
  assert sc.copeland_scores(jnp.asarray(P, jnp.float32)).dtype == jnp.float32


def test_float64_keeps_dtype():
  with jax.enable_x64(True):
    P = jnp.asarray(_tournaments(3)[:2], jnp.float64)
    assert sc.copeland_scores(P).dtype == jnp.float64
    assert sc.borda_scores(P).dtype == jnp.float64


# ---------------------------------------------------------------------------
# Bad input.

_P_FUNCS = [sc.majority_graph, sc.condorcet_winner, sc.condorcet_loser,
            sc.weak_condorcet_winners, sc.has_condorcet_cycle,
            sc.is_majority_transitive, sc.count_3cycles, sc.smith_set,
            sc.schwartz_set, sc.copeland_scores, sc.borda_scores,
            sc.maximal_lottery, sc.bipartisan_set]

_GOOD = np.array([[0.5, 0.7, 0.2], [0.3, 0.5, 0.8], [0.8, 0.2, 0.5]])
_BAD = {
    "rank": (np.array([0.5, 0.5]), "rank"),
    "square": (np.full((3, 2), 0.5), "square"),
    "n<2": (np.full((1, 1), 0.5), "n >= 2"),
    "nan": (np.where(np.eye(3, dtype=bool), 0.5, np.nan), "NaN"),
    "inf": (np.array([[0.5, np.inf], [0.5, 0.5]]), "inf"),
    "complex": (np.full((2, 2), 0.5 + 0j), "real numeric"),
    "range": (np.array([[0.5, 1.5], [-0.5, 0.5]]), "[0, 1]"),
    "sum": (np.array([[0.5, 0.7], [0.4, 0.5]]), "P + P^T"),
}


@pytest.mark.parametrize("case", sorted(_BAD))
@pytest.mark.parametrize("fn", _P_FUNCS, ids=lambda f: f.__name__)
def test_bad_input(fn, case):
  P, msg = _BAD[case]
  with pytest.raises(ValueError) as e:
    fn(P)
  assert msg in str(e.value) and str(e.value).startswith("P ")


def test_bad_graph():
  with pytest.raises(ValueError, match="G"):
    sc.transitive_closure(np.zeros((2, 3), bool))
  with pytest.raises(ValueError, match="0/1"):
    sc.transitive_closure(np.full((2, 2), 0.3))


def test_validate_false_skips_value_checks_and_jit_skips_them():
  P = np.array([[0.5, 0.7], [0.4, 0.5]])
  assert int(sc.condorcet_winner(P, validate=False)) == 0
  assert int(jax.jit(sc.condorcet_winner)(P)) == 0


def test_lotteries_under_jit_match_eager_and_are_certified():
  from nash_align import preferences  # pylint: disable=g-import-not-at-top
  counts = preferences.impartial_culture_counts(jax.random.key(0), 7, 9,
                                                shape=(16,))
  P = np.asarray(preferences.preference_matrix(counts), np.float32)
  eager = sc.maximal_lottery(P)
  jitted = jax.jit(lambda p: sc.maximal_lottery(p, validate=False))(P)
  assert np.all(np.asarray(jitted.converged))
  np.testing.assert_allclose(np.asarray(jitted.row), eager.row, atol=1e-6)
  g64 = np.max(np.einsum("bij,bj->bi", P.astype(np.float64) - 0.5,
                         np.asarray(jitted.row, np.float64)), axis=-1)
  assert np.all(g64 <= 1e-6)  # p^T M q >= 0 for all q: max_i (M p)_i <= 0
  bp = jax.jit(lambda p: sc.bipartisan_set(p, validate=False))(P)
  np.testing.assert_array_equal(np.asarray(bp), sc.bipartisan_set(P))
  # Odd support (Laffond, Laslier and Le Breton 1993).
  assert np.all(np.asarray(bp).sum(-1) % 2 == 1)
