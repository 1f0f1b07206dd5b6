"""Tests of nash_align.nlhf: policy head, oracles, trainers' losses, metrics."""

import functools
import itertools

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from nash_align import solvers
from nash_align.nlhf import algorithms as algos
from nash_align.nlhf import metrics as metrics_lib
from nash_align.nlhf import oracles
from nash_align.nlhf import policy as policy_lib

K = 4


def _random_game(seed, k=K):
  rng = np.random.default_rng(seed)
  upper = rng.uniform(size=(k, k))
  P = np.triu(upper, 1)
  P = P + np.tril(1.0 - P.T, -1)
  np.fill_diagonal(P, 0.5)
  mu = rng.dirichlet(np.ones(k))
  return P, mu


def _regularised_equilibrium(P, mu, tau, iters=20000):
  """pi ∝ mu exp(P pi / tau) by damped fixed-point iteration (numpy)."""
  pi = mu.copy()
  for _ in range(iters):
    new = mu * np.exp(P @ pi / tau)
    new /= new.sum()
    pi = 0.9 * pi + 0.1 * new
  return pi


# ----------------------------------------------------------------- policy


def test_policy_head_shapes_mask_and_reference_init():
  model = policy_lib.PolicyHead(3, 5, 8, rngs=nnx.Rngs(0))
  key = jax.random.PRNGKey(1)
  z = jax.random.normal(key, (2, 3))
  e = jax.random.normal(jax.random.fold_in(key, 1), (2, 4, 5))
  mask = jnp.array([[True, True, True, False], [True, True, True, True]])
  ref = jnp.array([[0.2, 0.3, 0.5, 0.0], [0.1, 0.2, 0.3, 0.4]])
  ref_logp = jnp.where(mask, jnp.log(jnp.where(mask, ref, 1.0)),
                       policy_lib.MASKED_LOGIT)
  logp = model(z, e, mask, ref_logp)
  assert logp.shape == (2, 4)
  pi = np.exp(np.asarray(logp))
  assert pi[0, 3] == 0.0
  np.testing.assert_allclose(pi.sum(-1), 1.0, rtol=1e-6)
  # Zero-initialised output layer: the initial policy is the reference.
  np.testing.assert_allclose(pi, np.asarray(ref), atol=1e-6)
  # After perturbing the output layer, the policy depends on the prompt.
  model.out.kernel[...] = jnp.ones_like(model.out.kernel[...])
  logp2 = model(jnp.stack([z[1], z[1] * 3]), jnp.stack([e[1], e[1]]),
                mask[1:].repeat(2, 0))
  assert not np.allclose(logp2[0], logp2[1])


def test_policy_bad_input():
  model = policy_lib.PolicyHead(2, 2, 4, rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match="K >= 2"):
    model(jnp.zeros((1, 2)), jnp.zeros((1, 1, 2)), jnp.ones((1, 1), bool))
  with pytest.raises(ValueError, match="NaN"):
    policy_lib.check_candidates(jnp.full((1, 2), jnp.nan),
                                jnp.zeros((1, 3, 2)), jnp.ones((1, 3), bool))
  with pytest.raises(ValueError, match="candidate_features contains NaN"):
    policy_lib.check_candidates(jnp.zeros((1, 2)),
                                jnp.full((1, 3, 2), jnp.nan),
                                jnp.ones((1, 3), bool))
  with pytest.raises(ValueError, match="at least 2 valid"):
    policy_lib.check_candidates(jnp.zeros((2, 2)), jnp.zeros((2, 3, 2)),
                                jnp.array([[1, 1, 0], [1, 0, 0]], bool))
  with pytest.raises(ValueError, match="mask"):
    policy_lib.check_candidates(jnp.zeros((2, 2)), jnp.zeros((2, 3, 2)),
                                jnp.ones((2, 4), bool))
  with pytest.raises(ValueError, match="sum to 1"):
    policy_lib.check_reference(jnp.array([[0.5, 0.6]]))
  with pytest.raises(ValueError, match="negative"):
    policy_lib.check_reference(jnp.array([[1.5, -0.5]]))
  with pytest.raises(ValueError, match="padding"):
    policy_lib.check_reference(jnp.array([[0.5, 0.5]]),
                               jnp.array([[True, False]]))


# ---------------------------------------------------------------- oracles


@functools.lru_cache(maxsize=None)
def _pop_task():
  # Same shapes as tests/test_nlhf_train.py's TINY config (shared compile).
  return oracles.population_task(jax.random.PRNGKey(0), num_prompts=128,
                                 num_candidates=5)


def test_population_oracle_matches_brute_force_mixture():
  task = _pop_task()
  u = np.asarray(task.oracle.utilities, np.float64)
  p = np.asarray(task.oracle.group_probs, np.float64)
  brute = np.zeros((u.shape[0], 5, 5))
  for x, g, a, b in itertools.product(range(3), range(3), range(5), range(5)):
    brute[x, a, b] += p[g] / (1 + np.exp(-(u[x, g, a] - u[x, g, b])))
  prompts = jnp.arange(3)
  np.testing.assert_allclose(task.oracle.matrix(prompts), brute[:3],
                             atol=1e-6)
  a = jnp.array([0, 1, 4])
  b = jnp.array([2, 1, 3])
  np.testing.assert_allclose(task.oracle.prob_prefer(prompts, a, b),
                             brute[np.arange(3), a, b], atol=1e-6)
  task.validate()


def test_population_oracle_matches_preferences_module():
  from nash_align import preferences  # pylint: disable=g-import-not-at-top
  task = _pop_task()
  u = task.oracle.utilities[:4]  # [4, G, K]
  ref = preferences.population_preference_matrix(
      jnp.exp(u), task.oracle.group_probs)
  np.testing.assert_allclose(task.oracle.matrix(jnp.arange(4)), ref,
                             atol=1e-5)


def test_population_oracle_has_condorcet_cycles():
  task = _pop_task()
  P = np.asarray(task.oracle.matrix(jnp.arange(128)))
  maj = P > 0.5
  cycles = np.einsum("nij,njk,nki->n", maj, maj, maj) > 0
  winner = np.any(maj.sum(-1) == 4, -1)
  # Mixtures of transitive groups produce cycles on some prompts but not all,
  # and some prompts have no Condorcet winner (a tournament without one has a
  # 3-cycle).
  assert 0 < cycles.sum() < 128
  assert 0 < np.sum(~winner)
  assert np.all(cycles[~winner])


def test_qlora_oracle_loader_and_csv_agree():
  models, P = oracles.qlora_matrices()
  _, P_csv = oracles.qlora_matrices(path=oracles.QLORA_CSV)
  assert P.shape == (317, 7, 7) and len(models) == 7
  np.testing.assert_allclose(P, P_csv)
  np.testing.assert_allclose(P + np.swapaxes(P, 1, 2), 1.0)
  # Two judgments per pair (both presentation orders), ties split.
  assert set(np.unique(P)) <= {0.0, 0.25, 0.5, 0.75, 1.0}
  task = oracles.qlora_task(jax.random.PRNGKey(0))
  np.testing.assert_allclose(task.oracle.matrix(jnp.arange(317)), P,
                             atol=1e-6)


def test_check_oracle_rejects_invalid_oracles():
  P, _ = _random_game(0)
  good = oracles.EmpiricalOracle(matrices=jnp.asarray(P[None]))
  oracles.check_oracle(good, [0])
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    oracles.check_oracle(
        oracles.EmpiricalOracle(matrices=jnp.asarray(P[None] * 2 - 0.5)), [0])
  bad = P.copy()
  bad[0, 1] += 0.1
  with pytest.raises(ValueError, match=r"P \+ P\^T = 1"):
    oracles.check_oracle(oracles.EmpiricalOracle(matrices=jnp.asarray(
        bad[None])), [0])
  task = _pop_task()
  with pytest.raises(ValueError, match="not a valid preference oracle"):
    task.replace(oracle=oracles.EmpiricalOracle(
        matrices=jnp.full((128, 5, 5), 0.7))).validate()


def test_learned_models_cycle_vs_bradley_terry():
  # A rock-paper-scissors oracle on every prompt: 0 > 1 > 2 > 0.
  cyc = np.array([[0.5, 0.9, 0.1], [0.1, 0.5, 0.9], [0.9, 0.1, 0.5]])
  n = 8
  z = jax.random.normal(jax.random.PRNGKey(0), (n, 2))
  task = oracles.PreferenceTask(
      prompt_features=z,
      candidate_features=jnp.broadcast_to(jnp.eye(3), (n, 3, 3)),
      mask=jnp.ones((n, 3), bool), reference=jnp.full((n, 3), 1 / 3),
      oracle=oracles.EmpiricalOracle(
          matrices=jnp.broadcast_to(jnp.asarray(cyc, jnp.float32),
                                    (n, 3, 3))),
      train_prompts=jnp.arange(n), eval_prompts=jnp.arange(n)).validate()
  fit = dict(hidden_dim=16, num_steps=300, batch_size=128,
             learning_rate=1e-2)
  gp = oracles.learned_task(jax.random.PRNGKey(1), task, "preference", **fit)
  bt = oracles.learned_task(jax.random.PRNGKey(1), task, "reward", **fit)
  Pg = np.asarray(gp.oracle.matrix(jnp.arange(n)))
  Pb = np.asarray(bt.oracle.matrix(jnp.arange(n)))
  # Antisymmetric by construction.
  np.testing.assert_allclose(Pg + np.swapaxes(Pg, 1, 2), 1.0, atol=1e-5)
  # The general model learns the cycle; the BT reward model cannot.
  maj = Pg > 0.5
  assert np.all(maj[:, 0, 1] & maj[:, 1, 2] & maj[:, 2, 0])
  np.testing.assert_allclose(Pg, np.broadcast_to(cyc, Pg.shape), atol=0.1)
  majb = Pb > 0.5
  assert not np.any(majb[:, 0, 1] & majb[:, 1, 2] & majb[:, 2, 0])
  r = np.asarray(bt.oracle.reward(jnp.arange(n)))
  assert r.shape == (n, 3)
  with pytest.raises(ValueError, match="RewardModel"):
    gp.oracle.reward(jnp.arange(n))


# ---------------------------------------------------------------- trainers


def _tabular(P, mu):
  """Batch/BatchOracle of one prompt for tabular logits."""
  mask = jnp.ones((1, P.shape[0]), bool)
  batch = algos.Batch(prompt=jnp.zeros((1,), jnp.int32),
                      prompt_features=jnp.zeros((1, 1)),
                      candidate_features=jnp.zeros((1, P.shape[0], 1)),
                      mask=mask, reference_logp=jnp.log(jnp.asarray(mu))[None])
  Pj = jnp.asarray(P, jnp.float32)[None]
  return batch, {"matrix": Pj, "reward": None}


@functools.partial(jax.jit, static_argnames=("name", "hp"))
def _grad(theta, batch, game, key, name, hp):
  matrix = game["matrix"]
  oracle = algos.BatchOracle(prefer=lambda a, b: matrix[0][a, b],
                             matrix=matrix, reward=game["reward"])

  def f(theta):
    logp = policy_lib.masked_log_softmax(theta, batch.mask)
    return algos.get_algorithm(name)(logp, batch, oracle, key, hp)[0]
  return jax.grad(f)(theta)


@pytest.mark.parametrize("name", ["nash_md", "mirror_descent", "sppo",
                                  "nash_rs"])
def test_exact_losses_are_stationary_at_regularised_equilibrium(name):
  P, mu = _random_game(3)
  tau = 0.3
  pi_tau = _regularised_equilibrium(P, mu, tau)
  # Independent certificate: zero duality gap in the KL-regularised game.
  gap = solvers.regularized_duality_gap(P - 0.5, pi_tau, pi_tau, tau, mu, mu)
  assert abs(float(gap)) < 1e-9
  batch, game = _tabular(P, mu)
  hp = algos.Hyperparams(tau=tau, beta=0.0, eta=0.5)
  key = jax.random.PRNGKey(0)
  g_eq = _grad(jnp.log(jnp.asarray(pi_tau, jnp.float32))[None], batch, game,
               key, name, hp)
  g_ref = _grad(batch.reference_logp, batch, game, key, name, hp)
  assert np.abs(g_eq).max() < 1e-5
  assert np.abs(g_ref).max() > 1e-2


def test_rlhf_loss_stationary_at_closed_form():
  P, mu = _random_game(4)
  r = jnp.asarray([[0.3, -1.0, 2.0, 0.1]])
  batch, game = _tabular(P, mu)
  game = dict(game, reward=r)
  tau = 0.5
  target = mu * np.exp(np.asarray(r[0]) / tau)
  target /= target.sum()
  hp = algos.Hyperparams(tau=tau)
  key = jax.random.PRNGKey(0)
  g = _grad(jnp.log(jnp.asarray(target, jnp.float32))[None], batch, game, key,
            "rlhf", hp)
  assert np.abs(g).max() < 1e-5
  with pytest.raises(ValueError, match="reward"):
    _grad(batch.reference_logp, batch, dict(game, reward=None), key,
          "rlhf", hp)


@pytest.mark.parametrize("name", ["nash_md", "rlhf", "sppo"])
def test_sampled_gradients_are_unbiased(name):
  P, mu = _random_game(5)
  batch, game = _tabular(P, mu)
  game = dict(game, reward=jnp.asarray([[0.3, -1.0, 2.0, 0.1]]))
  theta = jnp.asarray([[0.5, -0.2, 0.1, 0.3]])
  kw = dict(tau=0.2, beta=0.3, eta=0.5, num_samples=4, num_opponents=4)
  exact = _grad(theta, batch, game, jax.random.PRNGKey(0), name,
                algos.Hyperparams(estimator="exact", **kw))
  hp = algos.Hyperparams(estimator="sampled", **kw)
  keys = jax.random.split(jax.random.PRNGKey(1), 4000)
  samples = jax.vmap(lambda k: _grad(theta, batch, game, k, name, hp))(keys)
  mean = np.asarray(samples.mean(0))
  se = np.asarray(samples.std(0)) / np.sqrt(keys.shape[0])
  # The sampled losses are linear in the (zero-mean) sampling noise.
  np.testing.assert_array_less(np.abs(mean - exact), 5 * se + 1e-4)


def _chi2_pvalue(samples, probs):
  counts = np.bincount(samples, minlength=probs.size)
  return stats.chisquare(counts, probs * counts.sum()).pvalue


def test_nash_rs_rejection_sampler_matches_target():
  rng = np.random.default_rng(0)
  k, tau = 5, 0.3
  mu = rng.dirichlet(np.ones(k) * 2)
  g = rng.uniform(size=k)
  target = mu * np.exp(-g / tau)
  target /= target.sum()
  inverted = mu * (1 - np.exp(-g / tau))
  inverted /= inverted.sum()
  b, n = 400, 100
  sampler = jax.jit(algos.nash_rs_opponents, static_argnums=(3, 4, 5))
  args = (jnp.log(jnp.asarray(mu, jnp.float32))[None].repeat(b, 0),
          jnp.asarray(g, jnp.float32)[None].repeat(b, 0), tau, n)
  props, acc = sampler(jax.random.PRNGKey(0), *args, False)
  props, acc = np.asarray(props).ravel(), np.asarray(acc).ravel()
  assert acc.sum() > 5000
  # Accepted draws follow pi*(y) ∝ mu(y) exp(-g(y)/tau) ...
  assert _chi2_pvalue(props[acc], target) > 1e-3
  # ... and the inverted event (accept with prob 1 - exp(-g/tau)) does not.
  assert _chi2_pvalue(props[~acc], target) < 1e-8
  assert _chi2_pvalue(props[~acc], inverted) > 1e-3
  # Acceptance rate = sum_y mu(y) exp(-g(y)/tau).
  np.testing.assert_allclose(acc.mean(), np.sum(mu * np.exp(-g / tau)),
                             atol=4 * np.sqrt(0.25 / acc.size))
  # The shifted envelope exp(-(g - min g)/tau): same target, higher rate.
  props_s, acc_s = sampler(jax.random.PRNGKey(1), *args, True)
  props_s, acc_s = np.asarray(props_s).ravel(), np.asarray(acc_s).ravel()
  assert _chi2_pvalue(props_s[acc_s], target) > 1e-3
  np.testing.assert_allclose(
      acc_s.mean(), np.sum(mu * np.exp(-(g - g.min()) / tau)),
      atol=4 * np.sqrt(0.25 / acc_s.size))


def test_unknown_algorithm_and_estimator():
  with pytest.raises(ValueError, match="unknown algorithm 'dpo'"):
    algos.get_algorithm("dpo")
  with pytest.raises(ValueError, match="unknown estimator"):
    algos.check_hyperparams(algos.Hyperparams(estimator="mc"))
  P, mu = _random_game(0)
  batch, game = _tabular(P, mu)
  g = algos.BatchOracle(prefer=None, matrix=game["matrix"][:, :3, :3])
  with pytest.raises(ValueError, match=r"oracle.matrix must be \[B, K, K\]"):
    algos.nash_md_loss(batch.reference_logp, batch, g, jax.random.PRNGKey(0),
                       algos.Hyperparams())
  with pytest.raises(ValueError, match="batch.mask"):
    algos.sppo_loss(batch.reference_logp, batch._replace(mask=batch.mask[:, :3]),
                    g, jax.random.PRNGKey(0), algos.Hyperparams())


# ----------------------------------------------------------------- metrics


def test_exploitability_matches_duality_gap_and_vanishes_at_lottery():
  for seed in range(3):
    P, mu = _random_game(10 + seed, k=5)
    pi = np.random.default_rng(seed).dirichlet(np.ones(5))
    ours = float(metrics_lib.exploitability(jnp.asarray(P), jnp.asarray(pi)))
    ref = float(solvers.duality_gap(P - 0.5, pi, pi))
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    ml = solvers.solve_lp(P - 0.5).row
    assert abs(float(metrics_lib.exploitability(jnp.asarray(P),
                                                jnp.asarray(ml)))) < 1e-6
    lot = metrics_lib.maximal_lotteries(P[None])
    np.testing.assert_allclose(lot[0], ml, atol=1e-4)



def test_maximal_lotteries_with_mask_solve_the_restricted_game():
  # Two prompts of K = 5 with candidates masked out: each lottery must be the
  # HiGHS equilibrium of the valid block and zero on padded candidates.
  P = np.stack([_random_game(20, k=5)[0], _random_game(21, k=5)[0]])
  mask = np.array([[True, True, False, True, True],
                   [True, False, True, True, False]])
  lot = metrics_lib.maximal_lotteries(P, mask)
  for e in range(2):
    idx = np.flatnonzero(mask[e])
    ref = solvers.solve_lp(P[e][np.ix_(idx, idx)] - 0.5).row
    np.testing.assert_allclose(lot[e, idx], ref, atol=1e-4)
    assert np.all(lot[e, ~mask[e]] == 0.0)
  with pytest.raises(ValueError, match="at least one candidate"):
    metrics_lib.maximal_lotteries(P, np.zeros((2, 5), bool))

def test_policy_metrics_and_sampled_win_rate():
  P, mu = _random_game(7)
  pi = np.array([0.7, 0.1, 0.1, 0.1])
  logp = jnp.log(jnp.asarray(pi, jnp.float32))[None]
  ref = jnp.log(jnp.asarray(mu, jnp.float32))[None]
  mask = jnp.ones((1, 4), bool)
  Pj = jnp.asarray(P, jnp.float32)[None]
  m = metrics_lib.policy_metrics(logp, ref, mask, Pj, jnp.asarray(pi)[None])
  np.testing.assert_allclose(m["win_rate_vs_reference"], pi @ P @ mu,
                             rtol=1e-5)
  np.testing.assert_allclose(m["entropy"], -np.sum(pi * np.log(pi)),
                             rtol=1e-5)
  np.testing.assert_allclose(m["support_size"], 4)
  np.testing.assert_allclose(m["lottery_agreement"], 1.0, atol=1e-6)
  np.testing.assert_allclose(
      m["kl_to_reference"], np.sum(pi * np.log(pi / mu)), rtol=1e-4)
  self_play = metrics_lib.policy_metrics(ref, ref, mask, Pj)
  np.testing.assert_allclose(self_play["win_rate_vs_reference"], 0.5,
                             atol=1e-6)
  est = metrics_lib.sampled_win_rate(jax.random.PRNGKey(0),
                                     logp.repeat(50, 0), ref.repeat(50, 0),
                                     Pj.repeat(50, 0), 200)
  assert est.num_samples == 10000
  assert est.low < pi @ P @ mu < est.high
