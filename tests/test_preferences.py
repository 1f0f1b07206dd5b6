"""Tests for nash_align.preferences: each sampler against its definition.

Statistical tests use fixed seeds (so they are deterministic) and thresholds
that a wrong law at these sample sizes fails by a wide margin: chi-square
p-values > 1e-4, or |z| < 4.5 against exact probabilities with binomial
standard errors.
"""

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from nash_align import _counting as ck
from nash_align import preferences as pr

KEY = jax.random.key(20250314)


def _keys(i):
  return jax.random.fold_in(KEY, i)


def _rank_codes(r):
  """Row-wise code of each ranking (base-n digits) ``[..., m]``."""
  r = np.asarray(r)
  n = r.shape[-1]
  return (r * n ** np.arange(n)[::-1]).sum(-1)


def _perm_pvalue(r, pmf):
  """Chi-square p-value of rankings ``[m, n]`` against ``pmf`` dict."""
  n = np.shape(r)[-1]
  perms = list(itertools.permutations(range(n)))
  codes = _rank_codes(np.array(perms))
  observed = np.array(
      [np.sum(_rank_codes(r) == c) for c in codes], dtype=float)
  assert observed.sum() == np.shape(r)[0]  # every row is a permutation
  expected = np.array([pmf[p] for p in perms]) * observed.sum()
  return stats.chisquare(observed, expected).pvalue


def _kendall(p, q):
  pos_p = {a: i for i, a in enumerate(p)}
  pos_q = {a: i for i, a in enumerate(q)}
  return sum(1 for a, b in itertools.combinations(p, 2)
             if (pos_p[a] - pos_p[b]) * (pos_q[a] - pos_q[b]) < 0)


def _brute_counts(r):
  """Pure-Python loop over profiles, voters and pairs."""
  r = np.asarray(r)
  *batch, m, n = r.shape
  out = np.zeros(tuple(batch) + (n, n), np.int64)
  for idx in np.ndindex(*batch):
    for v in range(m):
      row = list(r[idx + (v,)])
      for i in range(n):
        for j in range(n):
          if row.index(i) < row.index(j):
            out[idx + (i, j)] += 1
  return out


def _assert_is_permutation_rows(r):
  r = np.asarray(r)
  expected = np.broadcast_to(np.arange(r.shape[-1]), r.shape)
  np.testing.assert_array_equal(np.sort(r, -1), expected)


# ----------------------------------------------------------------------------
# Impartial culture.
# ----------------------------------------------------------------------------


def test_impartial_culture_large_n_two_operand_sort():
  # n > 256 takes the two-operand sort of full 32-bit keys.
  r = pr.impartial_culture(_keys(3), 2, 300)
  assert r.shape == (2, 300) and r.dtype == jnp.int32
  _assert_is_permutation_rows(r)


def test_tie_breaking_swaps_tied_neighbours_only():
  index = jnp.tile(jnp.arange(4), (3, 1))
  hi = jnp.array([[5, 5, 7, 8], [5, 5, 7, 8], [5, 5, 5, 8]], jnp.uint32)
  coins = jnp.array([1, 0, 3], jnp.uint32)  # bit l: swap slots l, l+1 if tied
  out = jax.jit(pr._swap_tied_neighbours)(index, hi, coins)
  # Row 0: tie swapped; row 1: coin 0 keeps it; row 2: a run of three ties
  # swaps only its first pair, so the row stays a permutation.
  np.testing.assert_array_equal(out, [[1, 0, 2, 3], [0, 1, 2, 3],
                                      [1, 0, 2, 3]])


def _exact_pair_covariance(n):
  """Per-voter covariance of the indicators [i above j], i < j, under IC."""
  pairs = list(itertools.combinations(range(n), 2))
  pos = np.argsort(np.array(list(itertools.permutations(range(n)))), axis=-1)
  i, j = np.array(pairs).T
  x = (pos[:, i] < pos[:, j]).astype(float)
  return x.mean(0), np.cov(x.T, bias=True), pairs


_IC_M, _IC_N, _IC_NUM = 11, 4, 4000


def _ic_rankings():
  return pr.impartial_culture(_keys(4), _IC_M, _IC_N, shape=(_IC_NUM,))


def _ic_counts(key, n=_IC_N):
  # block_size=4 streams the 11 voters in 3 blocks (the last one padded).
  return pr.impartial_culture_counts(key, _IC_M, n, shape=(_IC_NUM,),
                                     block_size=4)


def test_impartial_culture_uniform_rankings():
  r = np.asarray(_ic_rankings())
  assert r.shape == (_IC_NUM, _IC_M, _IC_N) and r.dtype == np.int32
  r = r.reshape(-1, _IC_N)  # 44,000 rankings
  _assert_is_permutation_rows(r)
  top = np.bincount(r[:, 0], minlength=_IC_N)
  assert stats.chisquare(top).pvalue > 1e-4
  uniform = {p: 1 / 24 for p in itertools.permutations(range(_IC_N))}
  assert _perm_pvalue(r, uniform) > 1e-4


# Counts: n = 4 and 5 share words among 4 voters (the last of the 3 rounds of
# 4 voters padded), n = 9 one word a voter.
@pytest.mark.parametrize("sampler,n", [("rankings", _IC_N), ("counts", _IC_N),
                                       ("counts", 5), ("counts", 9)])
def test_impartial_culture_counts_law(sampler, n):
  m, num = _IC_M, _IC_NUM
  if sampler == "rankings":
    c = pr.pairwise_counts(_ic_rankings())
  else:
    c = _ic_counts(_keys(5), n)
  c = np.asarray(c)
  assert c.shape == (num, n, n) and c.dtype == np.int32
  off = ~np.eye(n, dtype=bool)
  np.testing.assert_array_equal((c + np.swapaxes(c, -1, -2))[:, off], m)
  mean1, cov1, pairs = _exact_pair_covariance(n)
  x = np.stack([c[:, i, j] for i, j in pairs], -1).astype(float)
  mean, cov = m * mean1, m * cov1
  se_mean = np.sqrt(np.diag(cov) / num)
  assert np.all(np.abs(x.mean(0) - mean) < 4.5 * se_mean)
  sample_cov = np.cov(x.T)
  var = np.diag(cov)
  # s.e. of a sample covariance ~ sqrt((var_a var_b + cov_ab^2) / N)
  se_cov = np.sqrt((np.outer(var, var) + cov ** 2) / num)
  assert np.all(np.abs(sample_cov - cov) < 4.5 * se_cov)
  # The law has negative and positive correlations (1 > 2 vs 0 > 1 ...).
  assert cov.min() < 0 < cov[0, 1]


def test_impartial_culture_counts_default_blocks():
  c = np.asarray(pr.impartial_culture_counts(_keys(6), 7, 3))
  np.testing.assert_array_equal(c + c.T, 7 * (1 - np.eye(3, dtype=int)))


@pytest.mark.parametrize("modulus", [3 * 2**30, 2**31 + 1])
def test_uniform_below_rejection_loop(modulus):
  # Moduli with rejection probability 1/4 and ~1/2 run the redraw loop for
  # several rounds; the result must stay below the modulus and uniform.
  shape = (3, 2000)
  u = np.asarray(jax.jit(ck.uniform_below, static_argnums=(1, 2))(
      _keys(40), shape, modulus)).astype(np.int64)
  assert u.shape == shape and u.min() >= 0 and u.max() < modulus
  first = np.asarray(jax.random.bits(jax.random.fold_in(_keys(40), 0), shape,
                                     jnp.uint32)).astype(np.int64)
  rejected = first >= 2**32 // modulus * modulus
  assert rejected.mean() > 0.2  # the loop ran
  np.testing.assert_array_equal(u[~rejected], first[~rejected] % modulus)
  # Uniform over [0, modulus): thirds (or halves) and the low bit.
  parts = 3 if modulus % 3 == 0 else 2
  hist = np.bincount(u.ravel() * parts // modulus, minlength=parts)
  assert stats.chisquare(hist).pvalue > 1e-4
  assert stats.chisquare(np.bincount(u.ravel() % 2)).pvalue > 1e-4
  # The redrawn entries alone are uniform too.
  hist = np.bincount(u[rejected] * parts // modulus, minlength=parts)
  assert stats.chisquare(hist).pvalue > 1e-4


def test_uniform_below_vmap_and_power_of_two():
  keys = jax.random.split(_keys(41), 3)
  draw = functools.partial(ck.uniform_below, shape=(500,),
                           modulus=2**31 + 1)
  batched = jax.vmap(draw)(keys)
  for b in range(3):
    np.testing.assert_array_equal(batched[b], draw(keys[b]))
  # A power of two needs no rejection: the low bits of one draw.
  u = ck.uniform_below(_keys(42), (100,), 2)
  bits = jax.random.bits(jax.random.fold_in(_keys(42), 0), (100,), jnp.uint32)
  np.testing.assert_array_equal(u, bits % 2)


@pytest.mark.parametrize("n", [2, 3, 8])
def test_permutation_tables(n):
  rankings, words = ck.permutation_tables(n)
  assert rankings.shape == (math.factorial(n), n)
  np.testing.assert_array_equal(rankings,
                                list(itertools.permutations(range(n))))
  # Unpacked lanes of each row are that ranking's own pairwise bits.
  lanes = np.asarray(ck.unpack_lanes(jnp.asarray(words), n * (n - 1) // 2))
  brute = np.stack([_brute_counts(r[None])[np.triu_indices(n, 1)]
                    for r in rankings[:50]])
  np.testing.assert_array_equal(lanes[:-1][:50], brute)
  np.testing.assert_array_equal(lanes[-1], 0)  # the padding row


def test_impartial_culture_permutation_index_uniform():
  # n = 5 by permutation index: chi-square over all 120 rankings.
  r = np.asarray(pr.impartial_culture(_keys(43), 200, 5, shape=(60,)))
  r = r.reshape(-1, 5)
  _assert_is_permutation_rows(r)
  uniform = {p: 1 / 120 for p in itertools.permutations(range(5))}
  assert _perm_pvalue(r, uniform) > 1e-4
  # n = 8 (the largest table, 40,320 rows): the top two of 56 ordered pairs
  # and the position of the last alternative are uniform.
  r = np.asarray(pr.impartial_culture(_keys(44), 1000, 8, shape=(30,)))
  r = r.reshape(-1, 8)
  _assert_is_permutation_rows(r)
  top_two = np.bincount(r[:, 0] * 8 + r[:, 1], minlength=64)
  assert np.all(top_two[::9] == 0)  # no alternative twice
  assert stats.chisquare(top_two[top_two > 0]).pvalue > 1e-4
  assert stats.chisquare(np.bincount(np.argsort(r)[:, 7])).pvalue > 1e-4


@pytest.mark.parametrize("n", [9, 33])
def test_insertion_rankings_give_the_counts_kernels_counts(n):
  # Same key, one round: both kernels decode the same insertion digits, one
  # into rankings (then counted by pairwise_counts), one straight into counts.
  assert ck.ic_rounds(5, 13, n, None)[1:] == (1, 1)
  r = pr.impartial_culture(_keys(48), 13, n, shape=(5,))
  _assert_is_permutation_rows(r)
  np.testing.assert_array_equal(
      pr.pairwise_counts(r), pr.impartial_culture_counts(_keys(48), 13, n,
                                                         shape=(5,)))


def test_impartial_culture_insertion_path_uniform():
  # n = 9 (the first size built from insertion digits): the top two and the
  # positions of the first and last inserted alternatives are uniform.
  r = np.asarray(pr.impartial_culture(_keys(49), 11, 9, shape=(2000,)))
  r = r.reshape(-1, 9)  # 22,000 rankings
  top_two = np.bincount(r[:, 0] * 9 + r[:, 1], minlength=81)
  assert np.all(top_two[::10] == 0)
  assert stats.chisquare(top_two[top_two > 0]).pvalue > 1e-4
  pos = np.argsort(r, axis=-1)
  for alt in (0, 8):
    assert stats.chisquare(np.bincount(pos[:, alt], minlength=9)).pvalue > 1e-4


@pytest.mark.parametrize("n", [2, 7, 9, 64, 65])
def test_impartial_culture_valid_rankings(n):
  # Each side of the n <= 8 and n <= 64 switches, and n = 2 (no rejection).
  r = pr.impartial_culture(_keys(45), 33, n, shape=(2, 3))
  assert r.shape == (2, 3, 33, n) and r.dtype == jnp.int32
  _assert_is_permutation_rows(r)


def _insertion_ranking(digits):
  """Ranking (best-first) from insertion digits, the slow way."""
  ranking = []
  for j, s in enumerate(digits):
    ranking.insert(int(s), j)
  return ranking


# n = 70 runs the fori_loop path (n > 64); n = 2 has a single pair; 255
# voters at n = 40 make the summed positions wrap around 256 many times.
@pytest.mark.parametrize("n,voters", [(2, 7), (5, 7), (9, 7), (40, 255),
                                      (70, 7)])
def test_insertion_counts_brute_force(n, voters):
  rng = np.random.default_rng(n)
  lanes = 2
  s = np.stack([rng.integers(0, j + 1, (voters, lanes))
                for j in range(n)]).astype(np.uint8)
  lower, lower_t = jax.jit(ck.insertion_counts)(jnp.asarray(s))
  ref = np.zeros((n, n, lanes), np.int64)
  for lane in range(lanes):
    r = np.array([_insertion_ranking(s[:, v, lane]) for v in range(voters)])
    ref[..., lane] = np.tril(_brute_counts(r), -1)  # [j, i]: j above i
  np.testing.assert_array_equal(lower, ref)
  np.testing.assert_array_equal(lower_t, ref.transpose(1, 0, 2))


@pytest.mark.parametrize("n", [2, 3, 5, 9, 20, 50])
def test_digit_plan_words_decode_exactly(n):
  # Every digit of the plan's k voters sits in exactly one word, each word's
  # radix product fits 32 bits, and the decoded digits are the mixed-radix
  # digits of floor(u R / 2^32) (Python integers); acceptance is Lemire's
  # u R mod 2^32 >= 2^32 mod R.
  k, layout, p = ck._digit_plan(n)
  digits = sorted(d for word in layout for d in word)
  assert digits == [(t, j) for t in range(k) for j in range(1, n)]
  assert 0 <= p < 0.01
  words = np.array(jax.random.bits(_keys(50), (len(layout), 2, 50),
                                     jnp.uint32))
  words[:, 0, 0] = 2**32 - 1  # extremes
  words[:, 0, 1] = 0
  got = np.asarray(ck._words_to_digits(jnp.asarray(words), layout, n, k,
                                       jnp.uint16))
  ok = np.asarray(ck._accepted(jnp.asarray(words), layout))
  units = words.shape[1]
  expect_ok = np.ones(words.shape[1:], bool)
  for w, word in enumerate(layout):
    radix = [j + 1 for _, j in word]
    product = math.prod(radix)
    for u in range(units):
      for lane in range(words.shape[2]):
        x = int(words[w, u, lane])
        code = x * product >> 32
        expect_ok[u, lane] &= x * product % 2**32 >= 2**32 % product
        for (t, j), r in reversed(list(zip(word, radix))):
          code, digit = divmod(code, r)
          assert got[j, t * units + u, lane] == digit
  np.testing.assert_array_equal(ok, expect_ok)
  np.testing.assert_array_equal(got[0], 0)


@pytest.mark.parametrize("n,m,block_size", [(5, 1, None), (5, 300, 7),
                                            (3, 600, 300), (20, 101, None)])
def test_impartial_culture_counts_rounds_and_padding(n, m, block_size):
  c = np.asarray(pr.impartial_culture_counts(_keys(46), m, n, shape=(2, 3),
                                             block_size=block_size))
  off = ~np.eye(n, dtype=bool)
  np.testing.assert_array_equal((c + np.swapaxes(c, -1, -2))[..., off], m)
  assert c.min() >= 0 and np.all(np.diagonal(c, axis1=-2, axis2=-1) == 0)
  # The same key gives the same counts under jit.
  jitted = jax.jit(functools.partial(pr.impartial_culture_counts,
                                     num_voters=m, num_alternatives=n,
                                     shape=(2, 3), block_size=block_size))
  np.testing.assert_array_equal(jitted(_keys(46)), c)


def test_impartial_culture_counts_other_key_impl():
  # Non-threefry keys draw their words with jax.random.bits.
  key = jax.random.key(3, impl="rbg")
  c = np.asarray(pr.impartial_culture_counts(key, 9, 6, shape=(4,)))
  np.testing.assert_array_equal((c + np.swapaxes(c, -1, -2))[:, 0, 1:], 9)


# n <= 6: rankings looked up by code; 7 <= n <= 64: rows of positions.
@pytest.mark.parametrize("n", [2, 3, 5, 6, 7, 20, 64])
@pytest.mark.parametrize("m", [1, 7, 256, 600])
def test_pairwise_counts_fast_paths_match_comparisons(n, m):
  # Random rankings (not impartial culture's own draws); m > 255 sums the
  # lanes in several groups, the last one padded.
  rng = np.random.default_rng(n * 1000 + m)
  r = rng.permuted(np.broadcast_to(np.arange(n), (3, m, n)), axis=-1)
  c = pr.pairwise_counts(r)
  ref = ck.pairwise_counts_kernel(jnp.asarray(r), 4, -(-m // 4))
  np.testing.assert_array_equal(c, ref)
  if m < 10:
    np.testing.assert_array_equal(c, _brute_counts(r))


# ----------------------------------------------------------------------------
# pairwise_counts and preference_matrix.
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [None, 3])
def test_pairwise_counts_brute_force(block_size):
  rng = np.random.default_rng(0)
  r = np.stack([rng.permutation(5) for _ in range(2 * 3 * 7)]).reshape(
      2, 3, 7, 5)
  c = pr.pairwise_counts(r, block_size=block_size)
  assert c.shape == (2, 3, 5, 5) and c.dtype == jnp.int32
  np.testing.assert_array_equal(c, _brute_counts(r))
  # Unbatched input and other integer dtypes.
  np.testing.assert_array_equal(
      pr.pairwise_counts(r[0, 0].astype(np.uint8)), _brute_counts(r[0, 0]))


def test_pairwise_counts_large_profile_small_memory():
  m, n = 100_000, 50
  r = pr.impartial_culture(_keys(7), m, n)
  c = np.asarray(pr.pairwise_counts(r, validate=False))
  # Reference in NumPy, by voter chunks.
  pos = np.argsort(np.asarray(r), axis=-1)
  ref = np.zeros((n, n), np.int64)
  for s in range(0, m, 10_000):
    p = pos[s:s + 10_000]
    ref += (p[:, :, None] < p[:, None, :]).sum(0)
  np.testing.assert_array_equal(c, ref)
  # n = 50 is drawn from insertion digits; each alternative's position must
  # be uniform over the 50 slots.
  for alt in (0, 17, 49):
    hist = np.bincount(pos[:, alt], minlength=n)
    assert stats.chisquare(hist).pvalue > 1e-4
  # Compiled temporaries stay far below one [m, n, n] int32 tensor (1 GB).
  bs, nb = ck.voter_blocks(1, m, n, None)
  compiled = ck.pairwise_counts_kernel.lower(
      r, block_size=bs, num_blocks=nb).compile()
  stats_ = compiled.memory_analysis()
  if stats_ is not None:
    assert stats_.temp_size_in_bytes < 64 * 2 ** 20


@pytest.mark.parametrize("m", [1, 10, 101])
def test_preference_matrix_of_complete_rankings_is_bit_identical(m):
  # num_voters=m divides by m instead of c + c^T: the same floats (even m
  # gives exact halves), eagerly and under jit, and a wrong m is refused.
  c = pr.impartial_culture_counts(_keys(51), m, 6, shape=(300,))
  ref = np.asarray(pr.preference_matrix(c))
  np.testing.assert_array_equal(pr.preference_matrix(c, num_voters=m), ref)
  jitted = jax.jit(lambda c: pr.preference_matrix(c, num_voters=m))
  np.testing.assert_array_equal(jitted(c), ref)
  if m % 2 == 0:  # ties off the diagonal are exactly 1/2
    off = ref[:, ~np.eye(6, dtype=bool)]
    assert np.any(off == 0.5) and not np.any((off > 0.4999) & (off < 0.5))
  with pytest.raises(ValueError, match="num_voters"):
    pr.preference_matrix(c, num_voters=m + 1)


def test_preference_matrix_definition():
  c = np.array([[0, 3, 0, 1.5], [1, 0, 0, 2], [0, 0, 0, 4], [0.5, 2, 0, 0]])
  p = np.asarray(pr.preference_matrix(c))
  expected = np.full((4, 4), 0.5)
  for i, j in itertools.permutations(range(4), 2):
    if c[i, j] + c[j, i] > 0:
      expected[i, j] = c[i, j] / (c[i, j] + c[j, i])
  np.testing.assert_allclose(p, expected, rtol=1e-6)
  np.testing.assert_allclose(p + p.T, 1.0, rtol=1e-6)
  assert p.dtype == np.float32
  # Batched, integer counts.
  ci = np.floor(c).astype(np.int32)
  pb = np.asarray(pr.preference_matrix(np.stack([ci, ci.T])))
  np.testing.assert_array_equal(pb[1], pb[0].T)
  np.testing.assert_allclose(pb[0, 0, 3], 1.0)  # 1 vs 0 judgments


# ----------------------------------------------------------------------------
# Mallows.
# ----------------------------------------------------------------------------

_MALLOWS_M = 12000


def _mallows_pmf(n, phi, reference):
  weights = {p: phi ** _kendall(p, tuple(reference))
             for p in itertools.permutations(range(n))}
  z = sum(weights.values())
  return {p: w / z for p, w in weights.items()}


@pytest.mark.parametrize("phi,reference", [(1.0, (0, 1, 2, 3)),
                                           (0.5, (2, 0, 3, 1)),
                                           (0.8, (0, 1, 2, 3))])
def test_mallows_exact_pmf(phi, reference):
  r = pr.mallows(_keys(8), _MALLOWS_M, 4, phi,
                 reference=jnp.array(reference, jnp.int32))
  assert r.shape == (_MALLOWS_M, 4) and r.dtype == jnp.int32
  assert _perm_pvalue(r, _mallows_pmf(4, phi, reference)) > 1e-4


def test_mallows_concentrates_on_reference():
  reference = jnp.array([3, 1, 0, 2], jnp.int32)
  r0 = np.asarray(pr.mallows(_keys(9), _MALLOWS_M, 4, 0.0,
                             reference=reference))
  np.testing.assert_array_equal(r0, np.broadcast_to(reference, r0.shape))
  fractions = []
  for phi in (0.3, 0.1, 0.01):
    r = np.asarray(pr.mallows(_keys(10), _MALLOWS_M, 4, phi,
                              reference=reference))
    frac = np.mean(np.all(r == np.asarray(reference), -1))
    z_phi = np.prod([(1 - phi ** i) / (1 - phi) for i in range(1, 5)])
    p_ref = 1 / z_phi
    se = math.sqrt(p_ref * (1 - p_ref) / _MALLOWS_M)
    assert abs(frac - p_ref) < 4.5 * se + 1e-12
    fractions.append(frac)
  assert fractions[0] < fractions[1] < fractions[2] > 0.95


def test_mallows_batched_phi():
  phi = jnp.array([0.0, 1.0])
  r = np.asarray(pr.mallows(_keys(11), 500, 6, phi, shape=(2,)))
  assert r.shape == (2, 500, 6)
  _assert_is_permutation_rows(r)
  np.testing.assert_array_equal(r[0], np.broadcast_to(np.arange(6), (500, 6)))
  # phi = 1 is impartial culture: the top choice is spread out.
  assert len(np.unique(r[1, :, 0])) == 6


# ----------------------------------------------------------------------------
# Plackett-Luce, Bradley-Terry and populations.
# ----------------------------------------------------------------------------


def test_plackett_luce_pairwise_and_top_marginals():
  w = np.array([1.0, 2.0, 3.0, 4.0])
  m = 20000
  r = pr.plackett_luce(_keys(12), jnp.asarray(w, jnp.float32), m)
  assert r.shape == (m, 4) and r.dtype == jnp.int32
  c = np.asarray(pr.pairwise_counts(r))
  for i, j in itertools.permutations(range(4), 2):
    p = w[i] / (w[i] + w[j])
    z = (c[i, j] / m - p) / math.sqrt(p * (1 - p) / m)
    assert abs(z) < 4.5, (i, j, z)
  top = np.bincount(np.asarray(r[:, 0]), minlength=4)
  assert stats.chisquare(top, w / w.sum() * m).pvalue > 1e-4
  # The full PL law: Pr(pi) = prod_k w_{pi_k} / sum_{l >= k} w_{pi_l}.
  pmf = {p: np.prod([w[p[k]] / w[list(p[k:])].sum() for k in range(4)])
         for p in itertools.permutations(range(4))}
  assert _perm_pvalue(r, pmf) > 1e-4
  # Weights batched with shape: a dominant alternative is on top.
  wb = jnp.array([[1.0, 1.0, 1.0, 1e7], [1e7, 1.0, 1.0, 1.0]])
  rb = np.asarray(pr.plackett_luce(_keys(26), wb, 3, shape=(2,)))
  np.testing.assert_array_equal(rb[:, :, 0], [[3, 3, 3], [0, 0, 0]])


def test_bradley_terry_matrix_closed_form():
  w = np.array([[0.5, 1.0, 4.0], [1e-3, 1.0, 1e3]])
  p = np.asarray(pr.bradley_terry_matrix(jnp.asarray(w, jnp.float32)))
  expected = w[:, :, None] / (w[:, :, None] + w[:, None, :])
  np.testing.assert_allclose(p, expected, rtol=1e-5)
  np.testing.assert_allclose(p + np.swapaxes(p, -1, -2), 1.0, rtol=1e-6)


_GW = np.array([[1.0, 2.0, 4.0, 8.0], [8.0, 4.0, 2.0, 1.0], [1.0, 9.0, 1.0,
                                                             3.0]])
_GP = np.array([0.45, 0.35, 0.2])


def test_population_preference_matrix_closed_form():
  p = np.asarray(pr.population_preference_matrix(_GW, _GP))
  expected = np.zeros((4, 4))
  for g in range(3):
    for i in range(4):
      for j in range(4):
        expected[i, j] += _GP[g] * _GW[g, i] / (_GW[g, i] + _GW[g, j])
  np.testing.assert_allclose(p, expected, rtol=1e-5)
  # Batched groups broadcast with batched probabilities.
  pb = pr.population_preference_matrix(np.stack([_GW, _GW[::-1]]),
                                       np.stack([_GP, _GP[::-1]]))
  np.testing.assert_allclose(pb[1], expected, rtol=1e-5)


def test_population_mixture_matches_population_matrix():
  m = 20000
  r, groups = pr.population_mixture(_keys(13), jnp.asarray(_GW, jnp.float32),
                                    jnp.asarray(_GP, jnp.float32), m,
                                    return_groups=True)
  assert r.shape == (m, 4) and groups.shape == (m,)
  _assert_is_permutation_rows(r)
  assert stats.chisquare(np.bincount(np.asarray(groups), minlength=3),
                         _GP * m).pvalue > 1e-4
  emp = np.asarray(pr.pairwise_counts(r)) / m
  exact = np.asarray(pr.population_preference_matrix(_GW, _GP))
  for i, j in itertools.combinations(range(4), 2):
    p = exact[i, j]
    assert abs(emp[i, j] - p) < 4.5 * math.sqrt(p * (1 - p) / m)
  # The groups disagree: the population is not a single BTL model.
  assert exact[0, 3] < 0.5 < exact[1, 0]


@functools.lru_cache(maxsize=None)
def _batched_population():
  gw, gp = pr.random_population(_keys(14), 3, 5, shape=(2,), concentration=1.0)
  return gw, gp


def test_population_mixture_batched():
  gw, gp = _batched_population()
  assert gw.shape == (2, 3, 5) and gp.shape == (2, 3)
  assert np.all(np.asarray(gw) > 0)
  np.testing.assert_allclose(np.asarray(gp).sum(-1), 1.0, rtol=1e-5)
  r = pr.population_mixture(_keys(15), gw, gp, 7, shape=(2,))
  assert r.shape == (2, 7, 5)
  _assert_is_permutation_rows(r)
  p = pr.population_preference_matrix(gw, gp)
  assert p.shape == (2, 5, 5)
  gw, gp = np.asarray(gw, np.float64), np.asarray(gp, np.float64)
  expected = np.einsum("bg,bgij->bij", gp,
                       gw[..., :, None] / (gw[..., :, None] + gw[..., None, :]))
  np.testing.assert_allclose(p, expected, rtol=1e-5)


@pytest.mark.parametrize("distribution,law", [
    ("exponential", stats.expon()),
    ("uniform", stats.uniform()),
    ("lognormal", stats.lognorm(s=0.7)),
])
def test_random_population_weight_laws(distribution, law):
  w, p = pr.random_population(_keys(16), 40, 25, distribution=distribution,
                              scale=0.7)
  assert w.shape == (40, 25) and p.shape == (40,)
  np.testing.assert_allclose(p, 1 / 40)
  assert stats.kstest(np.asarray(w).ravel(), law.cdf).pvalue > 1e-4


# ----------------------------------------------------------------------------
# Independent pairwise and tournaments.
# ----------------------------------------------------------------------------


def _upper(p):
  n = p.shape[-1]
  iu, ju = np.triu_indices(n, 1)
  return np.asarray(p)[..., iu, ju].ravel()


def test_independent_pairwise_marginals():
  p = pr.independent_pairwise(_keys(18), 5, shape=(600,))
  assert p.shape == (600, 5, 5) and p.dtype == jnp.float32
  pn = np.asarray(p)
  np.testing.assert_allclose(pn + np.swapaxes(pn, -1, -2), 1.0, atol=1e-6)
  np.testing.assert_array_equal(np.diagonal(pn, axis1=-2, axis2=-1), 0.5)
  assert stats.kstest(_upper(pn), "uniform").pvalue > 1e-4
  # Lower triangle is 1 - upper, so also uniform; Beta(2, 5) marginals.
  pb = pr.independent_pairwise(_keys(19), 5, shape=(600,), a=2.0, b=5.0)
  assert stats.kstest(_upper(pb), stats.beta(2, 5).cdf).pvalue > 1e-4


def test_random_tournament():
  t = np.asarray(pr.random_tournament(_keys(20), 6, shape=(500,)))
  off = ~np.eye(6, dtype=bool)
  assert set(np.unique(t[:, off])) == {0.0, 1.0}
  np.testing.assert_array_equal(t + np.swapaxes(t, -1, -2),
                                np.broadcast_to(np.ones((6, 6)), t.shape))
  up = _upper(t)
  assert abs(up.mean() - 0.5) < 4.5 * 0.5 / math.sqrt(up.size)


# ----------------------------------------------------------------------------
# Empirical model.
# ----------------------------------------------------------------------------


def test_empirical_counts_with_ties():
  winner = np.array([0, 0, 1, 2, 2, 3])
  loser = np.array([1, 1, 0, 0, 1, 1])
  tie = np.array([False, True, False, False, True, False])
  c = np.asarray(pr.empirical_counts(winner, loser, 4, tie=tie))
  expected = np.zeros((4, 4))
  for w, l, t in zip(winner, loser, tie):
    if t:
      expected[w, l] += 0.5
      expected[l, w] += 0.5
    else:
      expected[w, l] += 1
  np.testing.assert_array_equal(c, expected)
  assert c.sum() == len(winner)


def test_sample_empirical_binomial_law():
  c = np.asarray(pr.empirical_counts(np.array([0, 0, 0, 1, 2]),
                                     np.array([1, 1, 2, 0, 0]), 4))
  num, m = 4000, 10
  s = np.asarray(pr.sample_empirical(_keys(21), c, m, shape=(num,)))
  assert s.shape == (num, 4, 4) and s.dtype == np.int32
  p = np.asarray(pr.preference_matrix(c))
  for i, j in ((0, 1), (0, 2), (1, 0), (2, 0)):
    x = s[:, i, j]
    mean, var = m * p[i, j], m * p[i, j] * (1 - p[i, j])
    assert abs(x.mean() - mean) < 4.5 * math.sqrt(var / num)
    assert abs(x.var() - var) < 4.5 * var * math.sqrt(2 / num) + 0.05
  # Unjudged pairs stay unjudged; judged pairs hold m judgments.
  for i, j in ((0, 3), (1, 2), (1, 3), (2, 3)):
    assert np.all(s[:, i, j] == 0) and np.all(s[:, j, i] == 0)
  np.testing.assert_array_equal(s[:, 0, 1] + s[:, 1, 0], m)
  np.testing.assert_allclose(pr.preference_matrix(s)[:, 1, 3], 0.5)


# ----------------------------------------------------------------------------
# dtypes, jit, vmap, registry.
# ----------------------------------------------------------------------------


def test_dtypes_follow_x64():
  with jax.enable_x64(True):
    assert pr.random_tournament(_keys(22), 3).dtype == jnp.float64
    assert pr.preference_matrix(np.ones((3, 3), np.int32)).dtype == jnp.float64
    assert pr.bradley_terry_matrix(np.ones(3)).dtype == jnp.float64
    assert pr.impartial_culture_counts(_keys(22), 2, 3).dtype == jnp.int32
  # Without x64 the default is float32; explicit and input dtypes are kept.
  assert pr.random_tournament(_keys(22), 3).dtype == jnp.float32
  assert pr.preference_matrix(np.ones((3, 3), np.float16)).dtype == jnp.float16
  assert pr.preference_matrix(np.ones((3, 3)), dtype=jnp.bfloat16).dtype == (
      jnp.bfloat16)
  assert pr.bradley_terry_matrix(jnp.ones(3, jnp.bfloat16)).dtype == (
      jnp.bfloat16)


# Calls with the static arguments of the statistical tests above, so that the
# eager kernels are already compiled; the jitted wrappers are compiled once.
_SAMPLER_CALLS = {
    "impartial_culture":
        lambda k: pr.impartial_culture(k, _IC_M, _IC_N, shape=(_IC_NUM,)),
    "impartial_culture_counts": _ic_counts,
    "mallows": lambda k: pr.mallows(k, _MALLOWS_M, 4, 0.5),
    "plackett_luce":
        lambda k: pr.plackett_luce(k, jnp.arange(1.0, 5.0), 20000),
    "population_mixture":
        lambda k: pr.population_mixture(k, *_batched_population(), 7,
                                        shape=(2,)),
    "independent_pairwise":
        lambda k: pr.independent_pairwise(k, 5, shape=(600,)),
    "random_tournament": lambda k: pr.random_tournament(k, 6, shape=(500,)),
}


def test_registry():
  assert set(pr.SAMPLERS) == {
      "impartial_culture", "impartial_culture_counts", "mallows",
      "plackett_luce", "population_mixture", "independent_pairwise",
      "random_tournament"}
  assert list(pr.__all__) == sorted(pr.__all__)
  for name, fn in pr.SAMPLERS.items():
    assert fn is getattr(pr, name)


@pytest.mark.parametrize("name", sorted(_SAMPLER_CALLS))
def test_jit_parity(name):
  call = _SAMPLER_CALLS[name]
  key = _keys(23)
  eager = call(key)
  np.testing.assert_array_equal(jax.jit(call)(key), eager)
  # Same key, same draw; another key, another draw.
  np.testing.assert_array_equal(call(key), eager)
  assert not np.array_equal(call(_keys(24)), eager)


def test_vmap_over_keys():
  small = lambda k: pr.impartial_culture(k, 5, 4)
  keys = jax.random.split(_keys(25), 3)
  batched = jax.vmap(small)(keys)
  assert batched.shape == (3, 5, 4)
  for b in range(3):
    np.testing.assert_array_equal(batched[b], small(keys[b]))


def test_jit_parity_downstream():
  f = jax.jit(lambda r: pr.preference_matrix(pr.pairwise_counts(r)))
  r = _ic_rankings()
  np.testing.assert_array_equal(
      f(r), pr.preference_matrix(pr.pairwise_counts(r)))
  w = jnp.array([1.0, 2.0, 5.0])
  np.testing.assert_array_equal(jax.jit(pr.bradley_terry_matrix)(w),
                                pr.bradley_terry_matrix(w))
  np.testing.assert_allclose(
      jax.jit(pr.population_preference_matrix)(_GW, _GP),
      pr.population_preference_matrix(_GW, _GP), rtol=1e-6)


# ----------------------------------------------------------------------------
# Bad input.
# ----------------------------------------------------------------------------

_K = jax.random.key(0)
_PERM = np.array([[0, 1, 2], [2, 1, 0]])

_BAD = [
    ("num_alternatives", lambda: pr.impartial_culture(_K, 3, 1)),
    ("num_voters", lambda: pr.impartial_culture(_K, 0, 3)),
    ("num_voters", lambda: pr.impartial_culture(_K, 2.5, 3)),
    ("shape", lambda: pr.impartial_culture(_K, 2, 3, shape=(-1,))),
    ("num_alternatives", lambda: pr.impartial_culture_counts(_K, 3, 1)),
    ("num_voters", lambda: pr.impartial_culture_counts(_K, 0, 3)),
    ("phi", lambda: pr.mallows(_K, 3, 3, 1.5)),
    ("phi", lambda: pr.mallows(_K, 3, 3, -0.1)),
    ("phi", lambda: pr.mallows(_K, 3, 3, float("nan"))),
    ("reference", lambda: pr.mallows(_K, 3, 3, 0.5,
                                     reference=np.array([0, 0, 1]))),
    ("reference", lambda: pr.mallows(_K, 3, 3, 0.5,
                                     reference=np.array([0, 1]))),
    ("weights", lambda: pr.plackett_luce(_K, np.array([1.0, 0.0, 2.0]), 3)),
    ("weights", lambda: pr.plackett_luce(_K, np.array([1.0, -1.0]), 3)),
    ("weights", lambda: pr.plackett_luce(_K, np.array([1.0, np.nan]), 3)),
    ("weights", lambda: pr.plackett_luce(_K, np.array([1.0]), 3)),
    ("num_voters", lambda: pr.plackett_luce(_K, np.ones(3), 0)),
    ("weights", lambda: pr.bradley_terry_matrix(np.array([1.0, np.inf]))),
    ("group_probs", lambda: pr.population_mixture(_K, _GW, np.array(
        [0.5, 0.5, 0.5]), 3)),
    ("group_probs", lambda: pr.population_mixture(_K, _GW, np.array(
        [1.2, -0.2, 0.0]), 3)),
    ("group_probs", lambda: pr.population_mixture(_K, _GW, np.ones(2) / 2, 3)),
    ("group_weights", lambda: pr.population_preference_matrix(
        -_GW, _GP)),
    ("group_weights", lambda: pr.population_preference_matrix(
        _GW[0], _GP)),
    ("a", lambda: pr.independent_pairwise(_K, 3, a=0.0)),
    ("b", lambda: pr.independent_pairwise(_K, 3, b=-1.0)),
    ("num_alternatives", lambda: pr.independent_pairwise(_K, 1)),
    ("num_alternatives", lambda: pr.random_tournament(_K, 1)),
    ("rankings", lambda: pr.pairwise_counts(np.array([[0, 1, 1]]))),
    ("rankings", lambda: pr.pairwise_counts(np.array([[0, 1, 3]]))),
    ("rankings", lambda: pr.pairwise_counts(np.array([0, 1, 2]))),
    ("rankings", lambda: pr.pairwise_counts(np.array([[0.0, 1.0]]))),
    ("rankings", lambda: pr.pairwise_counts(np.zeros((2, 1), np.int32))),
    ("counts", lambda: pr.preference_matrix(np.array([[0, -1], [1, 0]]))),
    ("counts", lambda: pr.preference_matrix(np.ones((2, 3)))),
    ("counts", lambda: pr.preference_matrix(np.array([[0, np.nan], [1, 0]]))),
    ("counts", lambda: pr.preference_matrix(np.ones((2, 2), np.complex64))),
    ("counts", lambda: pr.sample_empirical(_K, -np.ones((3, 3)), 4)),
    ("num_voters", lambda: pr.sample_empirical(_K, np.ones((3, 3)), 0)),
    ("winner", lambda: pr.empirical_counts(np.array([0, 5]), np.array([1, 2]),
                                           3)),
    ("loser", lambda: pr.empirical_counts(np.array([0, 1]), np.array([-1, 2]),
                                          3)),
    ("differ", lambda: pr.empirical_counts(np.array([0, 1]), np.array([1, 1]),
                                           3)),
    ("tie", lambda: pr.empirical_counts(np.array([0, 1]), np.array([1, 2]), 3,
                                        tie=np.array([True]))),
    ("distribution", lambda: pr.random_population(_K, 2, 3,
                                                  distribution="gamma")),
    ("num_groups", lambda: pr.random_population(_K, 0, 3)),
]


@pytest.mark.parametrize("name,call", _BAD, ids=[b[0] for b in _BAD])
def test_bad_input(name, call):
  with pytest.raises(ValueError, match=name):
    call()


def test_validate_flag_and_jit_skip_value_checks():
  bad = np.array([[0, 1, 1]])
  # validate=False skips the permutation check (caller's responsibility).
  pr.pairwise_counts(bad, validate=False)
  # Under jit the values are tracers: shape checks still run, value checks
  # are skipped (documented in nash_align._validation).
  jax.jit(pr.pairwise_counts)(jnp.asarray(bad))
  with pytest.raises(ValueError, match="rankings"):
    jax.jit(pr.pairwise_counts)(jnp.zeros((3,), jnp.int32))
  with pytest.raises(ValueError, match="num_voters"):
    jax.jit(functools.partial(pr.impartial_culture, num_voters=0,
                              num_alternatives=3))(_K)
