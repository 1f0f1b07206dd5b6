"""Tests for nash_align.bradley_terry.

Independent references: scipy.optimize on the negative log-likelihood, jax.grad
of the log-likelihood, scipy's strongly-connected components, brute-force
loops in NumPy for the profile conditions, and closed-form constructions.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize
from scipy.sparse import csgraph

from nash_align import bradley_terry as bt

N_ALT = 4


# ----------------------------------------------------------------------------
# NumPy scaffolding (independent of the library's samplers).


def _np_counts_from_rankings(rankings):
  """c[i, j] = #rankings with i above j; rankings [m, n] best-first."""
  m, n = rankings.shape
  pos = np.empty_like(rankings)
  pos[np.arange(m)[:, None], rankings] = np.arange(n)[None, :]
  return (pos[:, :, None] < pos[:, None, :]).sum(0)


def _np_profile(rng, m, n):
  return np.stack([rng.permutation(n) for _ in range(m)])


def _np_pref(c):
  tot = c + c.T
  with np.errstate(invalid="ignore", divide="ignore"):
    P = np.where(tot > 0, c / np.maximum(tot, 1), 0.5)
  np.fill_diagonal(P, 0.5)
  return P


def _np_condorcet_winner(P):
  n = P.shape[0]
  for i in range(n):
    if all(P[i, j] > 0.5 for j in range(n) if j != i):
      return i
  return -1


def _np_linear_majority(P):
  """The majority order best-first if it is a strict linear order, else None."""
  n = P.shape[0]
  wins = [sum(P[i, j] > 0.5 for j in range(n) if j != i) for i in range(n)]
  if sorted(wins) != list(range(n)):
    return None
  order = list(np.argsort(-np.asarray(wins)))
  for a, b in itertools.combinations(order, 2):
    if not P[a, b] > 0.5:
      return None
  return order


def _np_neg_loglik(theta, c, l2):
  d = theta[:, None] - theta[None, :]
  mask = ~np.eye(len(theta), dtype=bool)
  return -np.sum(c[mask] * -np.logaddexp(0.0, -d[mask])) + 0.5 * l2 * np.sum(
      theta**2)


def _scipy_fit(c, l2):
  c = np.asarray(c, np.float64)
  n = c.shape[0]
  res = optimize.minimize(_np_neg_loglik, np.zeros(n), args=(c, l2),
                          method="BFGS", options={"gtol": 1e-10})
  return res.x - res.x.mean()


# ----------------------------------------------------------------------------
# Maximum likelihood.


@pytest.mark.parametrize("l2", [0.0, 0.7])
def test_fit_matches_scipy(l2):
  rng = np.random.default_rng(0)
  with jax.enable_x64(True):
    for _ in range(3):
      c = rng.integers(1, 15, size=(N_ALT, N_ALT))
      ref = _scipy_fit(c, l2)
      got = bt.fit_with_info(c, l2=l2)
      assert got.scores.dtype == jnp.float64
      assert bool(got.converged)
      np.testing.assert_allclose(np.asarray(got.scores), ref, atol=1e-6)
      assert abs(float(jnp.mean(got.scores))) < 1e-12


_GRAD_LOGLIK = jax.jit(jax.grad(bt.log_likelihood))


def test_gradient_zero_at_optimum_and_optimum_is_max():
  rng = np.random.default_rng(1)
  for _ in range(3):
    c = rng.integers(0, 20, size=(N_ALT, N_ALT)).astype(np.float32) + 1.0
    scores = bt.fit(c)
    grad = _GRAD_LOGLIK(scores, jnp.asarray(c), 0.0)
    scale = np.max((c + c.T).sum(-1))
    assert np.max(np.abs(np.asarray(grad))) < 1e-4 * scale
    f0 = float(bt.log_likelihood(scores, c))
    for _ in range(5):
      pert = scores + 0.05 * jnp.asarray(rng.normal(size=N_ALT), scores.dtype)
      assert float(bt.log_likelihood(pert, c)) < f0


def test_recovers_btl_strengths_from_large_samples():
  rng = np.random.default_rng(2)
  theta = np.array([1.0, 0.4, -0.3, -1.1])
  theta -= theta.mean()
  num = 40_000
  c = np.zeros((N_ALT, N_ALT))
  for i, j in itertools.combinations(range(N_ALT), 2):
    p = 1.0 / (1.0 + np.exp(-(theta[i] - theta[j])))
    w = rng.binomial(num, p)
    c[i, j], c[j, i] = w, num - w
  est = np.asarray(bt.fit(c))
  # Standard error of each score ~ 2 / sqrt(num * 3 / 4) ~ 0.013.
  np.testing.assert_allclose(est, theta, atol=0.05)
  assert list(np.asarray(bt.ranking(est))) == [0, 1, 2, 3]


def test_relabelling_permutes_scores_and_scaling_leaves_them():
  rng = np.random.default_rng(3)
  c = rng.integers(1, 30, size=(N_ALT, N_ALT))
  s = np.asarray(bt.fit(c))
  perm = np.array([2, 0, 3, 1])
  s_perm = np.asarray(bt.fit(c[np.ix_(perm, perm)]))
  np.testing.assert_allclose(s_perm, s[perm], atol=1e-4)
  s_scaled = np.asarray(bt.fit(7 * c))
  np.testing.assert_allclose(s_scaled, s, atol=1e-4)
  # Diagonal entries are ignored.
  c_diag = c.copy()
  np.fill_diagonal(c_diag, 1000)
  np.testing.assert_allclose(np.asarray(bt.fit(c_diag)), s, atol=1e-6)


def test_batch_jit_and_vmap_agree_with_single():
  rng = np.random.default_rng(4)
  c = rng.integers(1, 10, size=(2, 3, N_ALT, N_ALT))
  # Batch-shaped l2, broadcast against the batch shape [2, 3].
  l2 = np.array([[0.0], [0.5]], np.float32)
  batched = np.asarray(bt.fit(c, l2=l2))
  assert batched.shape == (2, 3, N_ALT)
  jitted = np.asarray(jax.jit(bt.fit)(jnp.asarray(c), l2=jnp.asarray(l2)))
  vmapped = np.asarray(jax.vmap(bt.fit)(jnp.asarray(c), l2=jnp.asarray(l2)))
  for a, b in itertools.product(range(2), range(3)):
    single = np.asarray(bt.fit(c[a, b], l2=float(l2[a, 0])))
    np.testing.assert_allclose(batched[a, b], single, atol=1e-5)
    np.testing.assert_allclose(jitted[a, b], single, atol=1e-5)
    np.testing.assert_allclose(vmapped[a, b], single, atol=1e-5)


def test_dtypes_kept():
  c = np.ones((N_ALT, N_ALT), np.int32)
  assert bt.fit(c).dtype == jnp.float32
  with jax.enable_x64(True):
    assert bt.fit(c).dtype == jnp.float64
    assert bt.fit(c.astype(np.float32)).dtype == jnp.float32
    assert bt.fit_majority(c.astype(np.float32)).dtype == jnp.float32


def test_mle_existence_matches_strong_connectivity():
  rng = np.random.default_rng(5)
  cs = (rng.random((40, N_ALT, N_ALT)) < 0.35) * rng.integers(
      1, 5, size=(40, N_ALT, N_ALT))
  got = np.asarray(bt.mle_exists(cs))
  for c, g in zip(cs, got):
    adj = (c > 0) & ~np.eye(N_ALT, dtype=bool)
    ncomp, _ = csgraph.connected_components(adj, connection="strong")
    assert g == (ncomp == 1)
  assert got.any() and not got.all()


def test_perfect_separation_diverges_without_l2_and_is_finite_with_it():
  # 0 beats everyone, 1 beats 2 and 3, 2 beats 3: a transitive, separable set.
  c = np.triu(np.full((N_ALT, N_ALT), 5), k=1)
  assert not bool(bt.mle_exists(c))
  sep = bt.fit_with_info(c)
  assert not bool(sep.converged)
  # The iterates ran off until the gradient vanished: huge score gaps.
  assert float(jnp.min(-jnp.diff(sep.scores))) > 5.0
  assert list(np.asarray(bt.ranking(sep.scores))) == [0, 1, 2, 3]
  reg = bt.fit_with_info(c, l2=0.5)
  assert bool(reg.converged) and float(jnp.ptp(reg.scores)) < 10.0
  with jax.enable_x64(True):
    np.testing.assert_allclose(np.asarray(bt.fit(c, l2=0.5)),
                               _scipy_fit(c, 0.5), atol=1e-6)


def test_ranking_best_first_and_stable_ties():
  s = jnp.array([[0.1, 2.0, 0.1, -1.0], [3.0, 3.0, 1.0, 3.0]])
  np.testing.assert_array_equal(np.asarray(bt.ranking(s)),
                                [[1, 0, 2, 3], [0, 1, 3, 2]])
  assert bt.ranking(s).dtype == jnp.int32


def test_win_probabilities():
  s = jnp.array([0.0, np.log(3.0)])
  P = np.asarray(bt.win_probabilities(s))
  np.testing.assert_allclose(P, [[0.5, 0.25], [0.75, 0.5]], atol=1e-6)


# ----------------------------------------------------------------------------
# Facts 1-3 of docs/bradley_terry.md (our formalisation of the abstract)
# on constructed and random profiles.


def _two_group_profile():
  """51 labelers a>b>c>d, 49 labelers b>c>d>a: a is the Condorcet winner."""
  r = np.array([[0, 1, 2, 3]] * 51 + [[1, 2, 3, 0]] * 49)
  return _np_counts_from_rankings(r)


def test_bt_violates_condorcet_on_profile_violating_assumption():
  c = _two_group_profile()
  P = _np_pref(c)
  assert _np_condorcet_winner(P) == 0
  assert bool(bt.is_balanced(c))
  assert not bool(bt.satisfies_majority_dominance(P))
  assert not bool(bt.is_strongly_stochastically_transitive(P))
  scores = bt.fit(c)
  # BT = Borda: b (Borda 249) > a (153) > c (149) > d (49).
  np.testing.assert_array_equal(c.sum(1), [153, 249, 149, 49])
  assert list(np.asarray(bt.ranking(scores))) == [1, 0, 2, 3]
  # The majority order is a > b > c > d (linear): BT is not pairwise-majority
  # consistent here, the modified objective is.
  assert _np_linear_majority(P) == [0, 1, 2, 3]
  for l2 in (0.01, 0.1, 3.0):
    maj = bt.fit_majority(c, l2=l2)
    assert list(np.asarray(bt.ranking(maj))) == [0, 1, 2, 3]
  # The fitted reward maximises the documented modified objective.
  maj = bt.fit_majority(c, l2=0.1)
  g = jax.grad(bt.majority_objective)(maj, jnp.asarray(c), 0.1)
  assert float(jnp.max(jnp.abs(g))) < 1e-4
  # Same optimum from an independent optimiser on the objective.
  with jax.enable_x64(True):
    M = np.asarray(bt.majority_counts(c), np.float64)
    np.testing.assert_allclose(np.asarray(bt.fit_majority(c, l2=0.1)),
                               _scipy_fit(M, 0.1), atol=1e-6)


def test_bt_ranks_by_borda_on_balanced_profiles():
  rng = np.random.default_rng(6)
  for _ in range(10):
    c = _np_counts_from_rankings(_np_profile(rng, 9, N_ALT))
    if not bool(bt.mle_exists(c)):
      continue
    s = np.asarray(bt.fit(c))
    borda = c.sum(1)
    for i, k in itertools.permutations(range(N_ALT), 2):
      if borda[i] > borda[k]:
        assert s[i] > s[k]
      if borda[i] == borda[k]:
        assert abs(s[i] - s[k]) < 1e-4


def _random_condition_profiles(rng, count):
  """Balanced counts from biased random profiles, with their P."""
  out = []
  for _ in range(count):
    w = rng.gamma(1.0, size=N_ALT)
    m = int(rng.integers(3, 12))
    # Plackett-Luce draws by Gumbel-max in NumPy.
    g = np.log(w)[None, :] + rng.gumbel(size=(m, N_ALT))
    c = _np_counts_from_rankings(np.argsort(-g, axis=1))
    out.append((c, _np_pref(c)))
  return out


def _np_dominance(P):
  n = P.shape[0]
  for i, j in itertools.permutations(range(n), 2):
    if P[i, j] > 0.5:
      for k in range(n):
        if k not in (i, j) and P[i, k] < P[j, k]:
          return False
  return True


def _np_sst(P):
  n = P.shape[0]
  for i, j, k in itertools.permutations(range(n), 3):
    if P[i, j] >= 0.5 and P[j, k] >= 0.5 and P[i, k] < max(P[i, j], P[j, k]):
      return False
  return True


def test_conditions_match_brute_force_and_sst_implies_dominance():
  rng = np.random.default_rng(7)
  profiles = _random_condition_profiles(rng, 60)
  Ps = np.stack([P for _, P in profiles])
  dom = np.asarray(bt.satisfies_majority_dominance(Ps))
  sst = np.asarray(bt.is_strongly_stochastically_transitive(Ps))
  np.testing.assert_array_equal(dom, [_np_dominance(P) for P in Ps])
  np.testing.assert_array_equal(sst, [_np_sst(P) for P in Ps])
  assert np.all(dom[sst])
  assert dom.any() and not dom.all() and sst.any()
  # Without ties at 1/2 the two conditions coincide.
  off = ~np.eye(N_ALT, dtype=bool)
  no_ties = np.array([not np.any(P[off] == 0.5) for P in Ps])
  assert no_ties.sum() >= 10
  np.testing.assert_array_equal(dom[no_ties], sst[no_ties])
  # Any BTL population matrix is SST.
  theta = rng.normal(size=(5, N_ALT))
  assert np.all(np.asarray(bt.is_strongly_stochastically_transitive(
      bt.win_probabilities(theta))))
  # So is any Mallows population (exact pairwise marginals by enumeration).
  mallows = []
  for phi in (0.2, 0.7, 0.95):
    P = np.zeros((N_ALT, N_ALT))
    for perm in itertools.permutations(range(N_ALT)):
      pos = np.argsort(perm)
      above = pos[:, None] < pos[None, :]
      w = phi ** int(np.sum(np.triu(~above, 1)))  # Kendall distance to id
      P += w * above
    P /= P[0, 1] + P[1, 0]
    np.fill_diagonal(P, 0.5)
    mallows.append(P)
  assert np.all(np.asarray(bt.is_strongly_stochastically_transitive(
      np.stack(mallows), atol=1e-6)))


def test_bt_majority_consistent_under_dominance():
  rng = np.random.default_rng(8)
  checked = 0
  for c, P in _random_condition_profiles(rng, 60):
    if not (_np_dominance(P) and bool(bt.mle_exists(c))):
      continue
    s = np.asarray(bt.fit(c))
    for i, j in itertools.permutations(range(N_ALT), 2):
      if P[i, j] > 0.5:
        assert s[i] > s[j]
    cw = _np_condorcet_winner(P)
    if cw >= 0:
      assert int(bt.ranking(s)[0]) == cw
    checked += 1
  assert checked >= 10


def test_modified_objective_is_condorcet_and_majority_consistent():
  rng = np.random.default_rng(9)
  cs = np.stack([_np_counts_from_rankings(_np_profile(rng, 7, N_ALT))
                 for _ in range(40)])
  scores = [np.asarray(bt.fit_majority(c, l2=0.1)) for c in cs]
  n_cw = n_lin = 0
  for c, s in zip(cs, scores):
    P = _np_pref(c)
    cw = _np_condorcet_winner(P)
    if cw >= 0:
      assert int(np.argmax(s)) == cw and np.sum(s >= s[cw] - 1e-6) == 1
      n_cw += 1
    order = _np_linear_majority(P)
    if order is not None:
      assert list(np.asarray(bt.ranking(s))) == order
      n_lin += 1
    copeland = (P > 0.5).sum(1) + 0.5 * ((P == 0.5).sum(1) - 1)
    for i, k in itertools.permutations(range(N_ALT), 2):
      if copeland[i] > copeland[k]:
        assert s[i] > s[k]
  assert n_cw >= 5 and n_lin >= 2


def test_majority_counts():
  c = np.array([[0, 3, 2, 0], [1, 0, 2, 0], [4, 2, 0, 0], [0, 0, 0, 0]])
  M = np.asarray(bt.majority_counts(c))
  expected = np.array([[0, 1, 0, 0], [0, 0, 0.5, 0], [1, 0.5, 0, 0],
                       [0, 0, 0, 0]])
  np.testing.assert_array_equal(M, expected)


# ----------------------------------------------------------------------------
# Bad input.


def test_bad_input():
  with pytest.raises(ValueError, match="counts must be square"):
    bt.fit(np.ones((3, 4)))
  with pytest.raises(ValueError, match="n >= 2"):
    bt.fit(np.ones((1, 1)))
  with pytest.raises(ValueError, match="counts must have rank"):
    bt.fit(np.ones(3))
  bad = np.ones((3, 3))
  bad[0, 1] = -1
  with pytest.raises(ValueError, match="non-negative"):
    bt.fit(bad)
  bad[0, 1] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    bt.fit(bad)
  bad[0, 1] = np.inf
  with pytest.raises(ValueError, match="inf"):
    bt.fit_majority(bad)
  with pytest.raises(ValueError, match="l2"):
    bt.fit(np.ones((3, 3)), l2=-1.0)
  with pytest.raises(ValueError, match="l2 must be > 0"):
    bt.fit_majority(np.ones((3, 3)), l2=0.0)
  with pytest.raises(ValueError, match="num_steps"):
    bt.fit(np.ones((3, 3)), num_steps=0)
  with pytest.raises(ValueError, match="scores must have shape"):
    bt.log_likelihood(jnp.zeros(4), np.ones((3, 3)))
  with pytest.raises(ValueError, match="P must satisfy"):
    bt.satisfies_majority_dominance(np.full((3, 3), 0.9))
