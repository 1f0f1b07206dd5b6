"""Tests for nash_align.montecarlo: reproducibility, sharding, closed forms."""

import itertools
import math
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nash_align import montecarlo as mc
from nash_align import preferences
from nash_align import social_choice
from nash_align import solvers

# ---------------------------------------------------------------------------
# Self-contained sampler and statistics (independent of the other modules):
# a uniformly random tournament on N_TOUR alternatives as a 0/1 matrix.
# ---------------------------------------------------------------------------
N_TOUR = 4


def _tournament(key):
  upper = jax.random.bernoulli(key, 0.5, (N_TOUR, N_TOUR))
  iu = jnp.triu(jnp.ones((N_TOUR, N_TOUR), bool), 1)
  beats = (upper & iu) | (~upper & iu).T
  return jnp.where(beats, 1.0, 0.0) + 0.5 * jnp.eye(N_TOUR)


def _own_winner(P):  # brute force: a row beating all others
  return jnp.any(jnp.sum(P > 0.5, axis=-1) == P.shape[-1] - 1)


def _own_transitive(P):  # a tournament is transitive iff scores are 0..n-1
  scores = jnp.sort(jnp.sum(P > 0.5, axis=-1))
  return jnp.all(scores == jnp.arange(P.shape[-1]))


def _own_score0(P):
  return jnp.sum(P[0] > 0.5).astype(jnp.int32)


def _own_score0_float(P):
  return jnp.sum(P[0]).astype(jnp.float32)


OWN_STATS = {
    "winner": mc.StatisticSpec(_own_winner, "probability"),
    "transitive": mc.StatisticSpec(_own_transitive, "probability"),
    "score0": mc.StatisticSpec(_own_score0, "histogram"),
    "score0_mean": _own_score0,
}


def _require(module, name):
  assert hasattr(module, name), f"{module.__name__}.{name} is missing"


def _assert_same(a, b):
  assert a.keys() == b.keys()
  for name in a:
    for field in ("mean", "stderr", "low", "high", "num_samples"):
      np.testing.assert_array_equal(getattr(a[name], field),
                                    getattr(b[name], field), err_msg=name)


# ---------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------


def test_chunk_size_invariance_exact():
  key = jax.random.key(3)
  ref = mc.estimate(key, _tournament, OWN_STATS, 1000, chunk_size=1000,
                    block_size=16)
  for chunk_size in (1, 77):
    _assert_same(ref, mc.estimate(key, _tournament, OWN_STATS, 1000,
                                  chunk_size=chunk_size, block_size=16))


def test_matches_direct_computation_on_same_keys():
  key = jax.random.key(11)
  num = 300
  res = mc.estimate(key, _tournament, OWN_STATS, num, chunk_size=128,
                    block_size=64)
  # Sample i is drawn with fold_in(fold_in(key, i // 64), i % 64).
  keys = jax.vmap(lambda i: jax.random.fold_in(
      jax.random.fold_in(key, i // 64), i % 64))(
          jnp.arange(num, dtype=jnp.uint32))
  P = jax.vmap(_tournament)(keys)
  winners = np.asarray(jax.vmap(_own_winner)(P))
  scores = np.asarray(jax.vmap(_own_score0)(P))
  assert res["winner"].mean == winners.mean()
  np.testing.assert_array_equal(
      res["score0"].mean, np.bincount(scores, minlength=N_TOUR + 1) / num)
  np.testing.assert_allclose(res["score0_mean"].mean, scores.mean())
  np.testing.assert_allclose(res["score0_mean"].stderr,
                             scores.std(ddof=1) / math.sqrt(num), rtol=1e-9)
  assert res["winner"].num_samples == num


def test_seed_changes_result_and_key_types():
  a = mc.estimate(jax.random.key(0), _tournament, {"w": _own_score0}, 400)
  b = mc.estimate(jax.random.key(1), _tournament, {"w": _own_score0}, 400)
  c = mc.estimate(jax.random.PRNGKey(0), _tournament, {"w": _own_score0}, 400)
  assert a["w"].mean != b["w"].mean
  assert a["w"].mean == c["w"].mean  # raw and typed keys give the same draws


_SHARDED_SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    assert len(jax.devices()) == 4, jax.devices()
    from nash_align import montecarlo as mc
    import tests.test_montecarlo as t
    key = jax.random.key(5)
    four = mc.estimate(key, t._tournament, t.OWN_STATS, 1001, chunk_size=100,
                       block_size=32)
    one = mc.estimate(key, t._tournament, t.OWN_STATS, 1001, chunk_size=64,
                      block_size=32, devices=jax.devices()[:1])
    t._assert_same(four, one)
    print("SHARDED_OK", four["winner"].mean)
""")


def test_four_cpu_devices_same_as_one():
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ)
  env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                      " --xla_force_host_platform_device_count=4").strip()
  env["JAX_PLATFORMS"] = "cpu"
  env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
  proc = subprocess.run([sys.executable, "-c", _SHARDED_SCRIPT], cwd=root,
                        env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "SHARDED_OK" in proc.stdout
  # And the same numbers as this (single-device) process.
  here = mc.estimate(jax.random.key(5), _tournament, OWN_STATS, 1001,
                     chunk_size=500, block_size=32, devices=jax.devices()[:1])
  assert f"SHARDED_OK {here['winner'].mean}" in proc.stdout


# ---------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------


def test_own_tournament_closed_forms():
  n = N_TOUR
  res = mc.estimate(jax.random.key(7), _tournament, OWN_STATS, 20000,
                    chunk_size=5000, confidence=0.999)
  p_winner = n / 2 ** (n - 1)
  p_trans = math.factorial(n) / 2 ** math.comb(n, 2)
  assert res["winner"].low <= p_winner <= res["winner"].high
  assert res["transitive"].low <= p_trans <= res["transitive"].high
  # The score of alternative 0 is Binomial(n - 1, 1/2).
  pmf = np.array([math.comb(n - 1, k) for k in range(n)] + [0]) / 2 ** (n - 1)
  assert np.all(res["score0"].low <= pmf) and np.all(pmf <= res["score0"].high)


@pytest.mark.parametrize("n", [3, 5])
def test_random_tournament_registry_closed_forms(n):
  _require(preferences, "random_tournament")
  _require(social_choice, "condorcet_winner")
  _require(social_choice, "is_majority_transitive")
  stats = ["condorcet_winner_exists", "majority_transitive",
           "condorcet_cycle_exists"]
  res = mc.estimate(jax.random.key(n), "random_tournament", stats, 8000,
                    chunk_size=4000, num_alternatives=n, confidence=0.999)
  p_winner = n / 2 ** (n - 1)
  p_trans = math.factorial(n) / 2 ** math.comb(n, 2)
  w, t, c = (res[s] for s in stats)
  assert w.low <= p_winner <= w.high
  assert t.low <= p_trans <= t.high
  # A tournament is intransitive iff it has a cycle.
  np.testing.assert_allclose(c.mean, 1 - t.mean)


def test_impartial_culture_guilbaud_limit():
  _require(preferences, "impartial_culture_counts")
  _require(social_choice, "condorcet_winner")
  # Guilbaud (1952): for n = 3 and m -> infinity voters under impartial
  # culture, P(Condorcet winner) -> 3/4 + 3/(2 pi) arcsin(1/3) ~ 0.91226.
  # The finite-m value approaches it at rate O(1/m); at m = 1001 the
  # difference is far below the interval's half-width (~0.007).
  limit = 0.75 + 1.5 / math.pi * math.asin(1 / 3)
  res = mc.estimate(jax.random.key(2), "impartial_culture_counts",
                    ["condorcet_winner_exists", "condorcet_cycle_exists"],
                    20000, chunk_size=10000, num_alternatives=3,
                    num_voters=1001, confidence=0.999)
  w, c = res["condorcet_winner_exists"], res["condorcet_cycle_exists"]
  assert w.low <= limit <= w.high
  # With 3 alternatives and an odd electorate: no winner <=> a 3-cycle.
  np.testing.assert_allclose(c.mean, 1 - w.mean)


def test_rankings_pipeline_small_exact_probability():
  _require(preferences, "impartial_culture")
  _require(preferences, "pairwise_counts")
  _require(social_choice, "condorcet_winner")
  # n = 3, m = 3 voters: of the 6^3 = 216 profiles exactly 12 are cyclic
  # (Condorcet's paradox; brute-force count below), so P(winner) = 17/18.
  perms = list(itertools.permutations(range(3)))
  cyclic = 0
  for prof in itertools.product(perms, repeat=3):
    wins = np.zeros((3, 3), int)
    for r in prof:
      for a in range(3):
        for b in range(a + 1, 3):
          wins[r[a], r[b]] += 1
    if not np.any(np.sum(wins > 1, axis=1) == 2):
      cyclic += 1
  p_winner = 1 - cyclic / 216
  res = mc.estimate(jax.random.key(4), "impartial_culture",
                    "condorcet_winner_exists", 10000, chunk_size=5000,
                    num_alternatives=3, num_voters=3, confidence=0.999)
  est = res["condorcet_winner_exists"]
  assert est.low <= p_winner <= est.high


# ---------------------------------------------------------------------------
# Nash statistics against the LP reference on the same samples
# ---------------------------------------------------------------------------


def test_nash_mixed_matches_lp_and_condorcet_theorem():
  _require(solvers, "solve")
  _require(preferences, "impartial_culture_counts")
  _require(social_choice, "condorcet_winner")
  n, m, num = 4, 5, 40
  key = jax.random.key(9)
  stats = ["nash_mixed", "no_condorcet_winner",
           "nash_mixed_iff_no_condorcet_winner", "support_size"]
  res = mc.estimate(key, "impartial_culture_counts", stats, num,
                    num_alternatives=n, num_voters=m)
  # The first block of 128 samples, drawn with fold_in(key, 0).
  sample = mc.make_sampler("impartial_culture_counts", n, m)
  P = sample(jax.random.fold_in(key, 0), (128,))[:num]
  P = np.asarray(P, np.float64)
  lp = solvers.solve_lp(P - 0.5)
  support = np.sum(lp.row > 1e-9, axis=-1)  # HiGHS's vertex: exact zeros
  np.testing.assert_array_equal(res["nash_mixed"].mean, np.mean(support > 1))
  np.testing.assert_array_equal(
      res["support_size"].mean, np.bincount(support, minlength=n + 1) / num)
  # Liu et al. (arXiv:2503.10990): mixed iff no Condorcet winner (odd m).
  assert res["nash_mixed_iff_no_condorcet_winner"].mean == 1.0
  assert all(res[s].uncertified == 0 for s in stats)


def test_support_size_law_of_random_tournaments():
  """Fisher and Ryan (1995): the optimal strategy of a random tournament
  game on n players has support of size k with probability
  C(n, k) / 2^(n - 1) for odd k (0 for even k); P(mixed) = 1 - n / 2^(n-1).
  Checked at n = 9 (support sizes 1..9) with a chi-square test."""
  n, num = 9, 4096
  res = mc.estimate(jax.random.key(3), "random_tournament",
                    ["support_size", "nash_mixed"], num,
                    num_alternatives=n, chunk_size=2048)
  assert res["support_size"].uncertified == 0
  law = np.array([math.comb(n, k) / 2 ** (n - 1) if k % 2 else 0.0
                  for k in range(n + 1)])
  observed = res["support_size"].mean * num
  odd = law > 0
  chi2 = np.sum((observed[odd] - num * law[odd]) ** 2 / (num * law[odd]))
  assert np.all(observed[~odd] == 0)
  # 5 odd sizes -> 4 degrees of freedom; P(chi2_4 > 18.5) ~ 1e-3.
  assert chi2 < 18.5, (chi2, observed, num * law)
  p_mixed = 1 - n / 2 ** (n - 1)
  e = res["nash_mixed"]
  assert e.low - 0.01 <= p_mixed <= e.high + 0.01


# ---------------------------------------------------------------------------
# Intervals and stopping
# ---------------------------------------------------------------------------


def test_wilson_interval_coverage_and_edges():
  rng = np.random.default_rng(0)
  for p, n in [(0.02, 200), (0.3, 50), (0.9123, 1000)]:
    k = rng.binomial(n, p, size=4000)
    low, high = mc.wilson_interval(k, n, 0.95)
    coverage = np.mean((low <= p) & (p <= high))
    assert 0.92 <= coverage <= 0.98, (p, n, coverage)
  low, high = mc.wilson_interval(np.array([0, 10]), 10)
  assert low[0] == 0.0 and high[1] == 1.0 and 0 < high[0] < 0.35


def test_end_to_end_coverage():
  # 40 independent estimates of P(winner) = 1/2 for 4-tournaments.
  hits = 0
  for seed in range(40):
    r = mc.estimate(jax.random.key(100 + seed), _tournament,
                    {"winner": OWN_STATS["winner"]}, 200, chunk_size=200)
    hits += r["winner"].low <= 0.5 <= r["winner"].high
  assert hits >= 34  # Binomial(40, 0.95): P(< 34) ~ 0.5%


def test_target_width_stops_early():
  res = mc.estimate(jax.random.key(1), _tournament,
                    {"winner": OWN_STATS["winner"]}, 10**6, chunk_size=500,
                    target_width=0.1, min_samples=1000)
  est = res["winner"]
  assert 1000 <= est.num_samples <= 2000
  assert est.high - est.low <= 0.1


@pytest.mark.parametrize("target_width", [None, 0.2])
def test_killed_run_resumes_from_its_chunk_checkpoint(tmp_path, monkeypatch,
                                                      target_width):
  key = jax.random.key(5)
  kwargs = dict(chunk_size=64, block_size=16, target_width=target_width,
                min_samples=200)
  ref = mc.estimate(key, _tournament, OWN_STATS, 640, **kwargs)
  path = str(tmp_path / "cell.npz")
  real_put, calls = mc._device_put_blocks, []

  def put_then_die(blocks, devices):
    calls.append(1)
    if len(calls) == 4:
      raise KeyboardInterrupt  # a kill during the fourth chunk
    return real_put(blocks, devices)

  monkeypatch.setattr(mc, "_device_put_blocks", put_then_die)
  with pytest.raises(KeyboardInterrupt):
    mc.estimate(key, _tournament, OWN_STATS, 640, checkpoint=path,
                checkpoint_every_s=0, **kwargs)
  assert os.path.exists(path)
  calls.clear()
  monkeypatch.setattr(mc, "_device_put_blocks",
                      lambda b, d: (calls.append(1), real_put(b, d))[1])
  resumed = mc.estimate(key, _tournament, OWN_STATS, 640, checkpoint=path,
                        checkpoint_every_s=0, **kwargs)
  _assert_same(ref, resumed)
  # Chunks 0-2 came from the checkpoint: only the rest were drawn again.
  chunks = ref["winner"].num_samples // 64
  assert len(calls) == chunks - 3
  # Another run's checkpoint (other seed) is not reused.
  other = mc.estimate(jax.random.key(6), _tournament, OWN_STATS, 640,
                      checkpoint=path, checkpoint_every_s=0, **kwargs)
  _assert_same(other, mc.estimate(jax.random.key(6), _tournament, OWN_STATS,
                                  640, **kwargs))


# ---------------------------------------------------------------------------
# Bad input: errors before any work
# ---------------------------------------------------------------------------


def test_bad_input():
  key = jax.random.key(0)
  with pytest.raises(ValueError, match="Unknown sampler 'nope'"):
    mc.estimate(key, "nope", "condorcet_winner_exists", 10,
                num_alternatives=3, num_voters=3)
  with pytest.raises(ValueError, match="Unknown statistic 'nope'"):
    mc.estimate(key, _tournament, "nope", 10)
  with pytest.raises(ValueError, match="num_alternatives must be >= 2"):
    mc.estimate(key, "impartial_culture", "condorcet_winner_exists", 10,
                num_alternatives=1, num_voters=3)
  with pytest.raises(ValueError, match="num_voters must be >= 1"):
    mc.estimate(key, "impartial_culture", "condorcet_winner_exists", 10,
                num_alternatives=3, num_voters=0)
  with pytest.raises(ValueError, match="needs num_voters"):
    mc.estimate(key, "mallows", "condorcet_winner_exists", 10,
                num_alternatives=3, sampler_params={"phi": 0.5})
  with pytest.raises(ValueError, match="num_samples must be >= 1"):
    mc.estimate(key, _tournament, OWN_STATS, -5)
  with pytest.raises(ValueError, match="num_samples must be an integer"):
    mc.estimate(key, _tournament, OWN_STATS, 10.0)
  with pytest.raises(ValueError, match="chunk_size must be >= 1"):
    mc.estimate(key, _tournament, OWN_STATS, 10, chunk_size=0)
  with pytest.raises(ValueError, match="confidence"):
    mc.estimate(key, _tournament, OWN_STATS, 10, confidence=1.5)
  with pytest.raises(ValueError, match="must return a scalar"):
    mc.estimate(key, _tournament, {"bad": lambda P: P[0]}, 10)
  with pytest.raises(ValueError, match="only apply to a named sampler"):
    mc.estimate(key, _tournament, OWN_STATS, 10, num_voters=3)


def test_sampler_args_reuse_one_compilation():
  traces = []

  def shifted(key, shift):
    # Relabels the alternatives by a cyclic shift: P(winner) is unchanged.
    traces.append(1)
    return jnp.roll(_tournament(key), shift, axis=(0, 1))

  stats = {"winner": OWN_STATS["winner"]}
  a = mc.estimate(jax.random.key(0), shifted, stats, 50,
                  sampler_args=(jnp.int32(1),))
  assert len(traces) == 2  # abstract evaluation + the jitted step
  b = mc.estimate(jax.random.key(0), shifted, stats, 50,
                  sampler_args=(jnp.int32(2),))
  assert len(traces) == 3  # no new jit trace
  _assert_same(a, b)  # a relabelling keeps every sample's winner indicator


def test_luce_mixture_sampler_is_registered_and_draws_block_by_block():
  key = jax.random.key(9)
  est = mc.estimate(key, "luce_mixture", ["condorcet_winner_exists"], 256,
                    block_size=128, num_alternatives=4, num_voters=5,
                    sampler_params={"num_groups": 2})
  wins = []
  for b in range(2):  # block b is drawn from fold_in(key, b)
    rankings = preferences.luce_mixture(jax.random.fold_in(key, b), 2, 5, 4,
                                        shape=(128,))
    P = preferences.preference_matrix(preferences.pairwise_counts(rankings))
    wins.append(np.asarray(social_choice.condorcet_winner(P)) >= 0)
  assert est["condorcet_winner_exists"].mean == np.concatenate(wins).mean()
  with pytest.raises(ValueError, match="num_groups"):
    mc.make_sampler("luce_mixture", 4, 5)
