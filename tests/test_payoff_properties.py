"""Tests for nash_align.payoff_properties: property checks, Table 1 predictions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from nash_align import payoff_properties as pp
from nash_align import payoffs as pf
from nash_align import social_choice as sc
from nash_align import solvers
from payoff_cases import ALL  # pylint: disable=g-bad-import-order
from payoff_cases import DEAD_ZONE
from payoff_cases import REVERSED
from payoff_cases import SIN3


# ---------------------------------------------------------------------------
# Planted game structures, checked with social_choice.

SIZES = (4,)  # one size: every jitted sampler/solver shape compiles once
NUM = 32


def test_predicate_bad_arguments():
  key = jax.random.PRNGKey(0)
  with pytest.raises(ValueError, match="psi"):
    pp.is_condorcet_consistent("margin", key)
  with pytest.raises(ValueError, match="num_games"):
    pp.is_condorcet_consistent(pf.margin, key, num_games=0)
  with pytest.raises(ValueError, match="num_alternatives"):
    pp.gives_mixed_strategies(pf.margin, key, num_alternatives=(2,))
  # Raw transforms P -> Psi(P) with bad output: NaN, wrong shape.
  with pytest.raises(ValueError, match="psi returned non-finite"):
    pp.is_smith_consistent(lambda P: jnp.log(P - 0.5), key, num_games=NUM,
                           num_alternatives=SIZES)
  with pytest.raises(ValueError, match="psi must return"):
    pp.gives_mixed_strategies(lambda P: P[..., 0], key, num_games=NUM,
                              num_alternatives=SIZES)
  with pytest.raises(ValueError, match="psi must be finite"):
    pp.predicted_properties(lambda P: jnp.log(P - 0.5))
  with pytest.raises(ValueError, match="num_points"):
    pp.predicted_properties(pf.margin, num_points=1)
  with pytest.raises(ValueError, match="psi"):
    pp.predicted_properties("margin")
  with pytest.raises(ValueError, match="scale"):
    pp.is_preference_matching(pf.margin, key, scale=0.0)


@jax.jit
def _structure(P):
  return (sc.condorcet_winner(P), sc.condorcet_loser(P), sc.smith_set(P),
          sc.has_condorcet_cycle(P))


@pytest.mark.parametrize("n", SIZES)
def test_planted_structures(n):
  key = jax.random.PRNGKey(n)
  P, mask = pp._sample_games(key, "condorcet", NUM, n)  # pylint: disable=protected-access
  np.testing.assert_array_equal(_structure(P)[0], np.argmax(mask, -1))
  P, mask = pp._sample_games(key, "smith", NUM, n)  # pylint: disable=protected-access
  np.testing.assert_array_equal(_structure(P)[2], mask)
  assert 1 <= mask.sum(-1).min() and mask.sum(-1).max() <= n - 1
  assert len(set(mask.sum(-1).tolist())) > 1
  P, mask = pp._sample_games(key, "cycle", NUM, n)  # pylint: disable=protected-access
  cw, cl, _, cyc = _structure(P)
  assert np.all(np.asarray(cw) == -1) and np.all(np.asarray(cyc))
  if n >= 4:  # the rejection half has Condorcet losers (n = 3: 3-cycles)
    assert np.any(np.asarray(cl) >= 0)


# ---------------------------------------------------------------------------
# Property predicates.


@pytest.mark.parametrize("name", sorted(ALL))
def test_sign_preserving_payoffs_have_all_properties(name):
  f = ALL[name]
  key = jax.random.PRNGKey(1)
  kw = dict(num_games=NUM, num_alternatives=SIZES)
  for check in (pp.is_condorcet_consistent(f, key, **kw),
                pp.is_smith_consistent(f, key, **kw),
                pp.gives_mixed_strategies(f, key, **kw),
                pp.is_sign_preserving(f)):
    assert check.holds, check.details
    assert check.num_violations == 0 and check.counterexample is None
  assert check.num_checked == 4096


def _other_equilibrium_mass(A, w):
  """max 1 - x_w over optimal x (A^T x >= 0), by scipy LP (independent)."""
  n = A.shape[0]
  c = np.zeros(n)
  c[w] = 1.0  # minimise x_w
  res = optimize.linprog(c, A_ub=-A.T, b_ub=np.zeros(n),
                         A_eq=np.ones((1, n)), b_eq=[1.0],
                         bounds=[(0, None)] * n, method="highs")
  assert res.status == 0
  return 1 - res.x[w]


@pytest.mark.parametrize("psi", [SIN3, DEAD_ZONE, REVERSED],
                         ids=lambda f: f.__name__)
def test_counterexamples_are_real(psi):
  key = jax.random.PRNGKey(2)
  kw = dict(num_games=NUM, num_alternatives=SIZES)
  grid = pp.is_sign_preserving(psi)
  assert not grid.holds
  assert float(psi(grid.counterexample.astype(np.float32))[0, 1]) <= 0

  cc = pp.is_condorcet_consistent(psi, key, **kw)
  assert not cc.holds and cc.num_violations > 0
  P = cc.counterexample
  w = int(sc.condorcet_winner(P))
  assert w >= 0
  A = np.asarray(psi(P.astype(np.float32)), np.float64)
  # Independent: some equilibrium puts mass away from the Condorcet winner.
  assert _other_equilibrium_mass(A, w) > 1e-6

  mixed = pp.gives_mixed_strategies(psi, key, **kw)
  assert not mixed.holds
  P = mixed.counterexample
  assert int(sc.condorcet_winner(P)) == -1
  A = np.asarray(psi(P.astype(np.float32)), np.float64)
  assert np.any(np.all(A >= -1e-6, axis=-1))  # a pure equilibrium exists

  smith = pp.is_smith_consistent(psi, key, **kw)
  if psi is not DEAD_ZONE:  # dead zone has ties of payoff; may stay inside
    assert not smith.holds
  if not smith.holds:
    P = smith.counterexample
    S = np.asarray(sc.smith_set(P))
    row = smith.details["equilibrium_row"]
    col = smith.details["equilibrium_col"]
    A = np.asarray(psi(P.astype(np.float32)), np.float64)
    gap = float(solvers.duality_gap(A[None], row[None], col[None])[0])
    assert gap < 1e-6
    assert max(row[~S].sum(), col[~S].sum()) > 1e-4


@pytest.mark.parametrize("name", ["margin", "log_odds"])
def test_no_preference_matching_under_btl(name):
  f = ALL[name]
  check = pp.is_preference_matching(f, jax.random.PRNGKey(3), num_games=NUM,
                                    num_alternatives=SIZES)
  assert not check.holds and check.num_violations == check.num_checked
  P = check.counterexample
  target = check.details["target"]
  # Independent recomputation: target = normalised BTL strengths ...
  r = check.details["log_strengths"]
  np.testing.assert_allclose(P, 1 / (1 + np.exp(-(r[:, None] - r[None, :]))),
                             atol=1e-6)
  np.testing.assert_allclose(target, np.exp(r) / np.exp(r).sum(), rtol=1e-5)
  # ... and it is exploitable in the Psi-game, so it is no equilibrium.
  A = np.asarray(f(P.astype(np.float32)), np.float64)
  assert np.max(A @ target) > 1e-6
  ref = solvers.solve_lp(A)
  assert np.abs(ref.row - target).sum() > 1e-3


# ---------------------------------------------------------------------------
# General (not antisymmetric) Psi: 2505.20627 Table 1.

SQRT = pf.from_function(jnp.sqrt, name="sqrt")
SQUARE = pf.from_function(jnp.square, name="square")
IDENTITY = pf.from_function(lambda p: p, name="identity")  # NLHF, Psi(t) = t
# Example 3.4 / 4.3 of 2505.20627: two-valued, M- < Psi(1/2) < M+, and
# Psi(t) + Psi(1 - t) = -2 < 2 Psi(1/2): Thm 3.2's condition fails.
STEP = pf.from_function(
    lambda p: jnp.where(p > 0.5, 1.0, jnp.where(p < 0.5, -3.0, 0.0)),
    name="step")


def _lp_value(A):
  """Game value max_x min_j (x^T A)_j by scipy LP (independent of solvers)."""
  n, k = A.shape
  c = np.zeros(n + 1)
  c[-1] = -1.0  # maximise v
  res = optimize.linprog(
      c, A_ub=np.hstack([-A.T, np.ones((k, 1))]), b_ub=np.zeros(k),
      A_eq=np.hstack([np.ones((1, n)), np.zeros((1, 1))]), b_eq=[1.0],
      bounds=[(0, None)] * n + [(None, None)], method="highs")
  assert res.status == 0
  return res.x[-1]


def _lp_max_mass(A, v, outside):
  """max mass on `outside` over {x : x^T A >= v} by scipy LP."""
  n = A.shape[0]
  res = optimize.linprog(-outside.astype(float), A_ub=-A.T,
                         b_ub=-np.full(A.shape[1], v), A_eq=np.ones((1, n)),
                         b_eq=[1.0], bounds=[(0, None)] * n, method="highs")
  assert res.status == 0
  return -res.fun


def _table3(t1, t2):
  """2505.20627 Table 3: a 3-cycle (margin t1) beating y4 (margin t2)."""
  return np.array([[0.5, t1, 1 - t1, t2], [1 - t1, 0.5, t1, t2],
                   [t1, 1 - t1, 0.5, t2], [1 - t2, 1 - t2, 1 - t2, 0.5]])


def test_predicted_properties_closed_forms():
  expect = {  # (Condorcet, mixed, Smith) from Table 1 by hand
      pf.margin: (True, True, True), IDENTITY: (True, True, True),
      pf.log_odds: (True, True, True), pf.majority: (True, True, True),
      SQUARE: (True, True, False),  # t^2 + (1-t)^2 >= 1/2, != 1/2
      SQRT: (True, False, False),  # concave: sum < 2 sqrt(1/2)
      STEP: (True, True, True),  # Examples 3.4 / 4.3
      SIN3: (False, False, False), REVERSED: (False, False, False)}
  for f, want in expect.items():
    got = pp.predicted_properties(f)
    assert (got.condorcet_consistent, got.mixed_without_condorcet_winner,
            got.smith_consistent) == want, (f.__name__, got)
  step = pp.predicted_properties(STEP)
  assert not step.conditions["thm_3_2"] and step.conditions["step"]
  assert not step.conditions["continuous_at_half"]
  sq = pp.predicted_properties(SQUARE)
  assert sq.conditions["sum_geq"] and not sq.conditions["sum_eq"]
  assert 0.5 < sq.details["first_t_sum_not_equal"] <= 1


def test_sqrt_paper_table3_pure_condorcet_loser():
  # Independent: scipy LP on the paper's Table 3 game with Psi = sqrt.
  A = np.sqrt(_table3(0.9, 0.51))
  v = _lp_value(A)
  np.testing.assert_allclose(v, np.sqrt(0.49), atol=1e-9)
  assert np.min(A[3]) >= v - 1e-12  # pure y4 (the Condorcet loser) is maximin
  res = solvers.solve(A, symmetric=False)
  np.testing.assert_allclose(res.value, v, atol=1e-6)


def test_sqrt_condorcet_consistent_but_not_mixed():
  key = jax.random.PRNGKey(4)
  cc = pp.is_condorcet_consistent(SQRT, key, num_games=NUM,
                                  num_alternatives=SIZES)
  assert cc.holds and cc.num_checked == NUM
  mixed = pp.gives_mixed_strategies(SQRT, key, num_games=NUM,
                                    num_alternatives=(5,))
  assert not mixed.holds and mixed.num_violations >= 1
  P = mixed.counterexample
  off = ~np.eye(P.shape[0], dtype=bool)
  assert np.all(P[off] != 0.5)  # no ties (Assumption 2.1)
  assert int(sc.condorcet_winner(P)) == -1
  A = np.sqrt(P)
  v = _lp_value(A)  # independent of the library's solver
  i = int(np.argmax(mixed.details["witness"]))
  assert np.min(A[i]) >= v - 1e-9  # the pure strategy i is a Nash solution
  assert mixed.details["pure_exact"]


def test_square_mixed_but_not_smith_consistent():
  key = jax.random.PRNGKey(1)
  kw = dict(num_games=NUM, num_alternatives=(6,))
  assert pp.gives_mixed_strategies(SQUARE, key, **kw).holds
  assert pp.is_condorcet_consistent(SQUARE, key, num_games=NUM,
                                    num_alternatives=SIZES).holds
  smith = pp.is_smith_consistent(SQUARE, key, **kw)
  assert not smith.holds
  P = smith.counterexample
  S = np.asarray(sc.smith_set(P))
  np.testing.assert_array_equal(S, smith.details["planted"])
  off = ~np.eye(P.shape[0], dtype=bool)
  assert np.all(P[off] != 0.5)
  A = np.square(P)
  v = _lp_value(A)
  # Independent: a Nash solution with mass outside the Smith set (scipy).
  mass = _lp_max_mass(A, v - 1e-9, ~S)
  assert mass > 1e-4
  np.testing.assert_allclose(mass, smith.details["certificate"], atol=1e-6)
  x = smith.details["witness"]
  assert np.min(x @ A) >= v - 1e-8 and x[~S].sum() > 1e-4


_AGREE = {"margin": pf.margin, "majority": pf.majority,
          "log_odds": pf.log_odds, "tanh": ALL["tanh"], "power": ALL["power"],
          "identity": IDENTITY, "sqrt": SQRT, "square": SQUARE,
          "step": STEP, "sin3": SIN3, "reversed": REVERSED}


@pytest.mark.parametrize("name", sorted(_AGREE))
def test_table1_agrees_with_empirical(name):
  f = _AGREE[name]
  pred = pp.predicted_properties(f)
  key = jax.random.PRNGKey(1)
  got = {
      "condorcet_consistent": pp.is_condorcet_consistent(
          f, key, num_games=NUM, num_alternatives=SIZES).holds,
      # 2 NUM games: the violations need strong cycles over weak margins.
      "mixed_without_condorcet_winner": pp.gives_mixed_strategies(
          f, key, num_games=2 * NUM, num_alternatives=(5,)).holds,
      "smith_consistent": pp.is_smith_consistent(
          f, key, num_games=2 * NUM, num_alternatives=(6,)).holds,
  }
  for prop, verdict in got.items():
    assert getattr(pred, prop) is not None, (name, prop)
    assert verdict == getattr(pred, prop), (name, prop, pred.sources[prop])


def test_general_psi_no_preference_matching():
  check = pp.is_preference_matching(SQUARE, jax.random.PRNGKey(3),
                                    num_games=NUM, num_alternatives=SIZES)
  assert not check.holds and check.num_violations == check.num_checked
  A = np.square(check.counterexample)
  target = check.details["target"]
  assert np.min(target @ A) < _lp_value(A) - 1e-6  # target is not maximin


@pytest.mark.parametrize("n", [3, 5, 8])
def test_preference_matching_positive_control(n):
  # Remark 5.3: an n-dependent payoff has pi as its unique Nash solution.
  pi = np.random.default_rng(n).dirichlet(np.ones(n))
  A = pp.preference_matching_payoff(pi * 7.0)  # unnormalised input
  np.testing.assert_allclose(np.diag(A), 1 - n)  # depends on n: Asm. 5.2 fails
  np.testing.assert_allclose(_lp_value(A), 0.0, atol=1e-9)  # scipy
  np.testing.assert_allclose(pi @ A, 0.0, atol=1e-9)  # pi guarantees v*
  value, spread, low, high = pp.nash_solution_spread(A)
  assert abs(value) < 1e-9 and spread < 1e-6
  np.testing.assert_allclose(low, pi, atol=1e-6)
  np.testing.assert_allclose(high, pi, atol=1e-6)
  res = solvers.solve(A, symmetric=False)
  np.testing.assert_allclose(res.row, pi, atol=1e-5)
  # Negative control: the BTL margin game of the same pi is not matching.
  r = np.log(pi)
  P = 1 / (1 + np.exp(-(r[:, None] - r[None, :])))
  _, spread, low, high = pp.nash_solution_spread(P - 0.5)
  assert np.abs(high - pi).max() > 1e-3
  with pytest.raises(ValueError, match="pi"):
    pp.preference_matching_payoff([0.5, 0.0, 0.5])
  with pytest.raises(ValueError, match="A"):
    pp.nash_solution_spread(np.zeros((2, 2, 2)))
