"""Tests for nash_align.data: loaders, the PrefLib reader and the analysis."""

import csv
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nash_align as na
from nash_align.data import analysis
from nash_align.data import loaders

FILES = na.data.FILES_DIR

# Row counts, prompts and models from shared/data/README.md and the SOURCE notes.
SHIPPED = {
    "vicuna80_human": (7040, 80, [
        "bard", "claude", "gpt35", "gpt4", "guanaco-13b", "guanaco-33b",
        "guanaco-65b", "guanaco-7b", "vicuna-13b"]),
    "pandalm": (2997, 999, [
        "bloom-7b", "cerebras-gpt-6.7B", "llama-7b", "opt-7b", "pythia-6.9b"]),
    "qlora_oa": (13314, 317, [
        "13b-guanaco", "30b-guanaco", "65b-guanaco", "7b-guanaco", "gpt-3.5",
        "gpt-4", "vicuna-13b"]),
    "qlora_vicuna": (4467, 80, [
        "13b-guanaco", "30b-guanaco", "65b-guanaco", "7b-guanaco", "bard",
        "gpt35", "gpt4", "vicuna-13b"]),
}


def _write(path, text):
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return str(path)


def _csv_outcomes(path):
  """Independent count of (winner, loser) and ties straight from the CSV."""
  wins, ties = {}, {}
  with open(path, newline="") as f:
    for r in csv.DictReader(f):
      a, b, w = r["model_a"], r["model_b"], r["winner"]
      if w == "tie":
        key = tuple(sorted((a, b)))
        ties[key] = ties.get(key, 0) + 1
      else:
        win, lose = (a, b) if w == "model_a" else (b, a)
        wins[(win, lose)] = wins.get((win, lose), 0) + 1
  return wins, ties


# --------------------------------------------------------------- loaders
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_sizes_models_and_counts(name):
  rows, prompts, models = SHIPPED[name]
  ds = na.data.load(name)
  assert ds.num_judgments == rows
  assert len(ds.prompts) == prompts
  assert ds.alternatives == models
  c = np.asarray(ds.counts())
  assert c.shape == (len(models), len(models))
  wins, ties = _csv_outcomes(loaders.dataset_path(name))
  idx = {m: i for i, m in enumerate(models)}
  expect = np.zeros_like(c)
  for (w, l), k in wins.items():
    expect[idx[w], idx[l]] += k
  for (a, b), k in ties.items():
    expect[idx[a], idx[b]] += k / 2
    expect[idx[b], idx[a]] += k / 2
  np.testing.assert_array_equal(c, expect)
  assert ds.num_ties == sum(ties.values())
  np.testing.assert_array_equal(c + c.T, ds.num_comparisons())
  ids, per = ds.per_prompt_array()
  assert ids == ds.prompts and per.shape == (prompts,) + c.shape
  np.testing.assert_allclose(np.asarray(per).sum(0), c)
  assert ds.position_bias()["first_won"] + ds.position_bias()[
      "second_won"] + ds.num_ties == rows


def test_qlora_oa_prompts_are_complete_double_round_robins():
  per = na.data.load("qlora_oa").per_prompt()
  assert len(per) == 317
  off = 2.0 * (1 - np.eye(7))
  for c in per.values():
    np.testing.assert_array_equal(np.asarray(c + c.T), off)


def test_vicuna80_missing_pairs_and_pandalm_annotators():
  ds = na.data.load("vicuna80_human")
  m = ds.num_comparisons()
  claude = ds.alternatives.index("claude")
  guanaco = [i for i, a in enumerate(ds.alternatives) if "guanaco" in a]
  assert np.all(m[claude, guanaco] == 0)
  assert np.sum(np.triu(m, 1) > 0) == 32
  pandalm = na.data.load("pandalm")
  per = pandalm.by_annotator()
  assert sorted(per) == [1, 2, 3]
  np.testing.assert_allclose(sum(np.asarray(c) for c in per.values()),
                             pandalm.counts())
  with pytest.raises(ValueError, match="no annotator"):
    ds.by_annotator()


def test_hand_made_table(tmp_path):
  path = _write(tmp_path / "t.csv", (
      "prompt_id,model_a,model_b,winner\n"
      "p1,x,y,model_a\n"
      "p1,y,x,model_b\n"      # x beats y again (y shown first)
      "p1,y,z,tie\n"
      "p2,z,x,model_a\n"
      "p2,x,y,model_b\n"))
  ds = na.data.read_pairwise_csv(path)
  assert ds.alternatives == ["x", "y", "z"]
  np.testing.assert_array_equal(
      ds.counts(), [[0, 2, 0], [1, 0, 0.5], [1, 0.5, 0]])
  per = ds.per_prompt()
  assert sorted(per) == ["p1", "p2"]
  np.testing.assert_array_equal(per["p2"], [[0, 0, 0], [1, 0, 0], [1, 0, 0]])
  assert ds.num_ties == 1
  assert ds.position_bias() == {"first_won": 2, "second_won": 2, "tie": 1}


def test_integer_prompt_ids_sort_numerically(tmp_path):
  path = _write(tmp_path / "t.csv", "question_id,model_a,model_b,winner\n"
                "10,a,b,tie\n2,a,b,model_a\n")
  ds = na.data.read_pairwise_csv(path, prompt_column="question_id")
  assert ds.prompts == [2, 10]


@pytest.mark.parametrize("body, message", [
    ("p,a,b,draw\n", "winner must be one of"),
    ("p,a,a,tie\n", "judged against itself"),
    (",a,b,tie\n", "empty 'prompt_id'"),
    ("p,a,b\n", "fields"),
])
def test_malformed_rows_name_file_and_line(tmp_path, body, message):
  path = _write(tmp_path / "bad.csv",
                "prompt_id,model_a,model_b,winner\np0,a,b,tie\n" + body)
  with pytest.raises(ValueError, match=message) as err:
    na.data.read_pairwise_csv(path)
  assert f"{path}:3" in str(err.value)


def test_bad_tables(tmp_path):
  path = _write(tmp_path / "c.csv", "prompt,model_a,model_b,winner\n")
  with pytest.raises(ValueError, match=r"missing column.*prompt_id"):
    na.data.read_pairwise_csv(path)
  path = _write(tmp_path / "e.csv", "prompt_id,model_a,model_b,winner\n")
  with pytest.raises(ValueError, match="no judgments"):
    na.data.read_pairwise_csv(path)
  path = _write(tmp_path / "n.csv", "prompt_id,model_a,model_b,winner,r\n"
                "p,a,b,tie,x\n")
  with pytest.raises(ValueError, match=r"n.csv:2: annotator id"):
    na.data.read_pairwise_csv(path, annotator_column="r")
  path = _write(tmp_path / "m.csv", "prompt_id,model_a,model_b,winner\n"
                "p,a,q,tie\n")
  with pytest.raises(ValueError, match=r"\['q'\] are not in alternatives"):
    na.data.read_pairwise_csv(path, alternatives=["a", "b"])


def test_unknown_dataset_lists_known_ones():
  with pytest.raises(ValueError, match="vicuna80_human") as err:
    na.data.load("mt_bench")
  assert "mt_bench" in str(err.value) and "preflib_glasgow" in str(err.value)


def test_relabel_permutes_counts():
  ds = na.data.load("qlora_vicuna")
  perm = np.array([3, 0, 7, 1, 6, 2, 5, 4])
  re = ds.relabel(perm)
  assert re.alternatives == [ds.alternatives[k] for k in perm]
  c = np.asarray(ds.counts())
  np.testing.assert_array_equal(re.counts(), c[perm][:, perm])
  ids, per = ds.per_prompt_array()
  _, per2 = re.per_prompt_array()
  np.testing.assert_array_equal(per2, np.asarray(per)[:, perm][:, :, perm])


def test_counts_dtype():
  ds = na.data.load("pandalm")
  assert ds.counts().dtype == np.float32
  e = na.data.load("preflib_apa_1998")
  assert e.counts().dtype == ds.preference_matrix().dtype == np.float32
  with jax.enable_x64(True):
    assert ds.counts().dtype == np.float64
    assert e.counts().dtype == e.preference_matrix().dtype == np.float64
  assert ds.counts(dtype=np.float16).dtype == np.float16


# ---------------------------------------------------------------- PrefLib
_HEAD = ("# FILE NAME: t.{ext}\n# DATA TYPE: {ext}\n# NUMBER ALTERNATIVES: 3\n"
         "# NUMBER VOTERS: {v}\n# ALTERNATIVE NAME 1: A\n"
         "# ALTERNATIVE NAME 2: B\n# ALTERNATIVE NAME 3: C\n")


def _preflib(tmp_path, ext, lines, voters=None, fname="t"):
  v = voters if voters is not None else sum(
      int(line.split(":")[0]) for line in lines)
  return _write(tmp_path / f"{fname}.{ext}",
                _HEAD.format(ext=ext, v=v) + "\n".join(lines) + "\n")


def test_preflib_soc(tmp_path):
  e = na.data.read_preflib(_preflib(tmp_path, "soc", ["3: 1,2,3", "2: 3,2,1"]))
  assert e.alternatives == ["A", "B", "C"] and e.num_voters == 5
  assert e.is_strict and e.is_complete
  np.testing.assert_array_equal(e.rankings, [[0, 1, 2], [2, 1, 0]])
  np.testing.assert_array_equal(e.multiplicities, [3, 2])
  c = [[0, 3, 3], [2, 0, 3], [2, 2, 0]]
  np.testing.assert_array_equal(e.counts(), c)
  np.testing.assert_array_equal(e.counts(ties="drop"), c)
  assert e.voter_rankings().shape == (5, 3)


def test_preflib_soi_unranked_tied_last(tmp_path):
  e = na.data.read_preflib(_preflib(tmp_path, "soi", ["4: 2", "1: 3,1"]))
  assert e.is_strict and not e.is_complete
  np.testing.assert_array_equal(e.rankings, [[1, -1, -1], [2, 0, -1]])
  # Ballot "2": B above A and C, A~C unranked (1/2 each). Ballot "3,1": C>A>B.
  np.testing.assert_array_equal(
      e.counts(), [[0, 1, 2], [4, 0, 4], [3, 1, 0]])
  np.testing.assert_array_equal(
      e.counts(ties="drop"), [[0, 1, 0], [4, 0, 4], [1, 1, 0]])
  with pytest.raises(ValueError, match="complete strict"):
    e.voter_rankings()


def test_preflib_toc_and_toi(tmp_path):
  toc = na.data.read_preflib(_preflib(tmp_path, "toc", ["2: {1,2},3",
                                                        "1: 3,{1,2}"]))
  assert not toc.is_strict and toc.is_complete and toc.rankings is None
  np.testing.assert_array_equal(
      toc.counts(), [[0, 1.5, 2], [1.5, 0, 2], [1, 1, 0]])
  toi = na.data.read_preflib(_preflib(tmp_path, "toi", ["2: {1,2}", "1: 3"]))
  # {A,B} tied above unranked C; then C above the unranked {A, B}.
  np.testing.assert_array_equal(
      toi.counts(), [[0, 1.5, 2], [1.5, 0, 2], [1, 1, 0]])
  # A toi whose groups are all singletons is strict.
  strict = na.data.read_preflib(_preflib(tmp_path, "toi", ["1: 2,1"],
                                         fname="s"))
  np.testing.assert_array_equal(strict.rankings, [[1, 0, -1]])


@pytest.mark.parametrize("ext, lines, message", [
    ("soi", ["1: {1,2}"], "tied group"),
    ("soc", ["1: 1,2"], "must rank all 3"),
    ("soi", ["1: 1,4"], "out of range"),
    ("soi", ["1: 1,1"], "appears twice"),
    ("soi", ["x: 1"], "expected 'count: order'"),
    ("soi", ["0: 1"], "count must be positive"),
    ("toi", ["1: {1,2"], "unclosed"),
    ("toi", ["1: {}"], "bad alternative"),
    ("soi", ["1: 1,2,"], "trailing"),
])
def test_preflib_malformed_lines(tmp_path, ext, lines, message):
  path = _preflib(tmp_path, ext, ["1: 1,2,3"] + lines, voters=0)
  with pytest.raises(ValueError, match=message) as err:
    na.data.read_preflib(path)
  assert f"{path}:9:" in str(err.value)


def test_preflib_bad_files(tmp_path):
  for ext in ("wmd", "txt"):
    path = _write(tmp_path / f"x.{ext}", "1: 1\n")
    with pytest.raises(ValueError, match=f"unsupported format '{ext}'"):
      na.data.read_preflib(path)
  path = _preflib(tmp_path, "soi", ["1: 1"], voters=7)
  with pytest.raises(ValueError, match="NUMBER VOTERS is 7"):
    na.data.read_preflib(path)
  path = _write(tmp_path / "d.soc", "# DATA TYPE: soi\n")
  with pytest.raises(ValueError, match="disagrees with the file extension"):
    na.data.read_preflib(path)
  path = _write(tmp_path / "h.soi", "1: 1\n")
  with pytest.raises(ValueError, match="before the NUMBER ALTERNATIVES"):
    na.data.read_preflib(path)


PREFLIB_SHIPPED = {
    "preflib_apa_1998": (5, 18723),
    "preflib_apa_2007": (5, 13318),
    "preflib_glasgow": (11, 9560),
    "preflib_ers": (26, 104),
    "preflib_education": (12, 15),
}


@pytest.mark.parametrize("name", sorted(PREFLIB_SHIPPED))
def test_preflib_shipped_against_toc_twin_and_pref_voting(name):
  from pref_voting.io import readers  # pylint: disable=g-import-not-at-top
  n, voters = PREFLIB_SHIPPED[name]
  e = na.data.load(name)
  assert e.num_alternatives == n and e.num_voters == voters
  twin = os.path.splitext(e.path)[0] + ".toc"
  t = na.data.read_preflib(twin)
  assert t.data_type == "toc" and t.alternatives == e.alternatives
  np.testing.assert_array_equal(e.counts(), t.counts())
  c = np.asarray(e.counts())
  np.testing.assert_array_equal(c + c.T, voters * (1 - np.eye(n)))
  profile = readers.preflib_to_profile(twin)
  cands = sorted(profile.candidates)
  support = np.array([[profile.support(a, b) if a != b else 0 for b in cands]
                      for a in cands])
  np.testing.assert_array_equal(e.counts(ties="drop"), support)


def test_preflib_apa_names_match_titles():
  for year in range(1998, 2010):
    e = na.data.load(f"preflib_apa_{year}")
    assert e.metadata["TITLE"] == f"APA_{year}"


def test_preflib_glasgow_names():
  e = na.data.load("preflib_glasgow")
  assert e.alternatives[:3] == ["Shaukat Butt", "Michael Cobley",
                                "Stephen Dornan"]
  assert e.data_type == "soi" and e.num_orders == 2306


def test_shipped_files_have_licenses_and_sources():
  for folder in ("vicuna80_human", "pandalm", "qlora_gpt4", "preflib"):
    names = os.listdir(os.path.join(FILES, folder))
    assert "SOURCE.md" in names
    assert any(x.startswith("LICENSE") for x in names)


def test_preference_matrix_and_voter_rankings():
  ds = na.data.load("vicuna80_human")
  P = np.asarray(ds.preference_matrix())
  np.testing.assert_array_equal(
      P, na.preferences.preference_matrix(ds.counts()))
  claude = ds.alternatives.index("claude")
  guanaco = ds.alternatives.index("guanaco-7b")
  assert P[claude, guanaco] == 0.5 == P[guanaco, claude]
  e = na.data.load("preflib_apa_1998")
  np.testing.assert_array_equal(
      e.preference_matrix(), na.preferences.preference_matrix(e.counts()))


def test_soc_voter_rankings_match_pairwise_counts(tmp_path):
  e = na.data.read_preflib(_preflib(tmp_path, "soc", [
      "3: 1,2,3", "2: 3,2,1", "1: 2,3,1"]))
  np.testing.assert_array_equal(
      na.preferences.pairwise_counts(e.voter_rankings()), e.counts())


# ---------------------------------------------------------------- analysis
def _table(rows, name="t"):
  """PairwiseJudgments from (prompt, a, b, score) tuples over models 0..n-1."""
  rows = list(rows)
  n = 1 + max(max(r[1], r[2]) for r in rows)
  return na.data.PairwiseJudgments(
      name=name, alternatives=[f"m{i}" for i in range(n)],
      prompt=np.array([r[0] for r in rows]),
      model_a=np.array([r[1] for r in rows]),
      model_b=np.array([r[2] for r in rows]),
      score=np.array([r[3] for r in rows], float))


def _counts(pairs, n):
  c = np.zeros((n, n))
  for (i, j), (w, l) in pairs.items():
    c[i, j], c[j, i] = w, l
  return c


def test_three_cycles_and_shortest_cycle():
  # 0 > 1 > 2 > 3 > 0, 0 ~ 2 and 1 ~ 3 unjudged: a 4-cycle, no 3-cycle.
  c4 = _counts({(0, 1): (2, 1), (1, 2): (2, 1), (2, 3): (2, 1),
                (3, 0): (2, 1)}, 4)
  P4 = na.preferences.preference_matrix(c4)
  assert analysis.three_cycles(P4) == []
  assert analysis.shortest_cycle(P4) == [0, 1, 2, 3]
  # Add 2 > 0: the 3-cycle 0 > 1 > 2 > 0 appears and is the shortest.
  c4[2, 0] = 1
  P = na.preferences.preference_matrix(c4)
  assert analysis.three_cycles(P) == [(0, 1, 2)]
  assert analysis.shortest_cycle(P) == [0, 1, 2]
  assert int(na.social_choice.count_3cycles(P)) == 1
  # Against brute force on random tournaments: acyclic iff some order makes
  # every edge point forward.
  import itertools  # pylint: disable=g-import-not-at-top
  T = np.asarray(na.preferences.random_tournament(jax.random.key(3), 5,
                                                  shape=(30,)))
  for P in T:
    G = P > 0.5
    acyclic = any(all(G[o[a], o[b]] or not G[o[b], o[a]]
                      for a in range(5) for b in range(a + 1, 5))
                  for o in itertools.permutations(range(5)))
    cyc = analysis.shortest_cycle(P)
    assert (cyc is None) == acyclic
    if cyc is not None:
      assert all(G[cyc[t], cyc[(t + 1) % len(cyc)]] for t in range(len(cyc)))
    assert len(analysis.three_cycles(P)) == int(
        na.social_choice.count_3cycles(P))


def test_analyze_known_cycle_lottery():
  # P[0,1] = .6, P[1,2] = .7, P[2,0] = .8: margins a=.1, c=.2, b=.3 and the
  # maximal lottery is proportional to (c, b, a) = (1/3, 1/2, 1/6).
  c = _counts({(0, 1): (6, 4), (1, 2): (7, 3), (2, 0): (8, 2)}, 3)
  r = analysis.analyze(c, ["x", "y", "z"])
  np.testing.assert_allclose(r.maximal_lottery.row, [1 / 3, 1 / 2, 1 / 6],
                             atol=1e-5)
  assert r.maximal_lottery_gap < 1e-6 and r.bipartisan_gap < 1e-6
  lp = na.solvers.solve_lp(r.P - 0.5)
  np.testing.assert_allclose(r.maximal_lottery.row, lp.row, atol=1e-5)
  # Majority game of a 3-cycle: uniform bipartisan lottery.
  np.testing.assert_allclose(r.bipartisan.row, [1 / 3] * 3, atol=1e-5)
  assert r.condorcet_winner == -1 and r.has_cycle
  assert r.cycles3 == [(0, 1, 2)] and r.shortest_cycle == [0, 1, 2]
  assert r.smith_set.all() and r.bipartisan_set.all()
  s = r.summary()
  assert s["condorcet_winner"] == "none" and s["cycle"] == "x > y > z > x"


def test_analyze_condorcet_winner_and_rankings():
  # 1 beats everyone; 0 > 2; BT and majority agree.
  c = _counts({(1, 0): (7, 3), (1, 2): (8, 2), (0, 2): (6, 4)}, 3)
  r = analysis.analyze(c)
  assert r.condorcet_winner == 1 and not r.has_cycle
  np.testing.assert_allclose(r.maximal_lottery.row, [0, 1, 0], atol=1e-6)
  np.testing.assert_array_equal(r.smith_set, [False, True, False])
  np.testing.assert_array_equal(r.majority_ranking, [1, 0, 2])
  np.testing.assert_array_equal(r.bt_ranking, [1, 0, 2])
  assert r.ranking_distance == 0 and r.bt_converged
  assert r.shortest_cycle is None and r.cycles3 == []
  with pytest.raises(ValueError, match="counts must be"):
    analysis.analyze(np.ones((2, 3)))
  with pytest.raises(ValueError, match="non-negative"):
    analysis.analyze(-np.ones((3, 3)))


def _smith_brute_force(P):
  """Smallest nonempty set whose members all strictly beat every outsider."""
  import itertools  # pylint: disable=g-import-not-at-top
  n = P.shape[0]
  for k in range(1, n + 1):
    for S in itertools.combinations(range(n), k):
      out = [j for j in range(n) if j not in S]
      if all(P[i, j] > 0.5 for i in S for j in out):
        return np.isin(np.arange(n), S)


def test_pad_preference_matrix_changes_nothing():
  Ps = np.asarray(na.preferences.independent_pairwise(jax.random.key(1), 5,
                                                      shape=(3,)), np.float64)
  Ps[0] = np.round(Ps[0] * 4) / 4  # some exact ties
  for P in Ps:
    Pp = analysis.pad_preference_matrix(P, 12)
    assert Pp.shape == (12, 12)
    na._validation.check_preference_matrix(Pp)
    stats = jax.device_get(analysis._pooled_stats(Pp))
    G = P > 0.5
    winners = [i for i in range(5) if all(G[i, j] for j in range(5) if j != i)]
    assert int(stats["condorcet_winner"]) == (winners[0] if winners else -1)
    assert bool(stats["has_cycle"]) == (analysis.shortest_cycle(P) is not None)
    np.testing.assert_array_equal(stats["smith_set"][:5],
                                  _smith_brute_force(P))
    assert not np.any(stats["smith_set"][5:])
    lp = na.solvers.solve_lp(np.asarray(Pp, np.float64) - 0.5)
    np.testing.assert_allclose(lp.row[5:], 0, atol=1e-9)
    assert na.solvers.duality_gap(P - 0.5, lp.row[:5], lp.col[:5]) < 1e-9
  with pytest.raises(ValueError, match="size must be"):
    analysis.pad_preference_matrix(P, 4)
  with pytest.raises(ValueError, match="num_active"):
    analysis.pad_preference_matrix(P, 8, num_active=6)


def test_pad_preference_matrix_traced_num_active_keeps_statistics():
  # Alternatives >= n of an [N, N] matrix become sure losers under jit: the
  # statistics and equilibria are those of the leading n x n block.
  n, size = 5, 8
  P = na.preferences.independent_pairwise(jax.random.key(0), n, shape=(30,))
  big = na.preferences.independent_pairwise(jax.random.key(1), size,
                                            shape=(30,))
  big = big.at[:, :n, :n].set(P)
  Q = jax.jit(analysis.pad_preference_matrix, static_argnums=1)(
      big, size, jnp.int32(n))
  na._validation.check_preference_matrix(Q)
  names = ("condorcet_winner_exists", "condorcet_cycle_exists",
           "majority_transitive", "smith_set_size")
  stats = jax.jit(jax.vmap(
      lambda p: [na.montecarlo.STATISTICS[s].fn(p) for s in names]))
  for name, a, b in zip(names, stats(P), stats(Q)):
    np.testing.assert_array_equal(a, b, err_msg=name)
  lp_p = na.solvers.solve_lp(np.asarray(P, np.float64) - 0.5)
  lp_q = na.solvers.solve_lp(np.asarray(Q, np.float64) - 0.5)
  np.testing.assert_allclose(lp_q.row[:, n:], 0.0, atol=1e-9)
  np.testing.assert_allclose(lp_q.row[:, :n], lp_p.row, atol=1e-6)


def test_relabelling_permutes_and_duplicating_keeps_results():
  ds = na.data.load("vicuna80_human")
  perm = np.array([4, 8, 0, 2, 6, 1, 7, 3, 5])
  r = analysis.analyze(ds)
  q = analysis.analyze(ds.relabel(perm))
  np.testing.assert_allclose(q.P, r.P[perm][:, perm])
  np.testing.assert_allclose(q.maximal_lottery.row,
                             r.maximal_lottery.row[perm], atol=1e-6)
  np.testing.assert_array_equal(q.smith_set, r.smith_set[perm])
  assert q.alternatives[q.condorcet_winner] == r.alternatives[
      r.condorcet_winner] == "gpt4"
  names = lambda res: {frozenset(res.names(c)) for c in res.cycles3}
  assert names(q) == names(r) == {
      frozenset({"guanaco-33b", "guanaco-7b", "guanaco-65b"})}
  np.testing.assert_allclose(q.bt_scores, r.bt_scores[perm], atol=1e-4)
  # Every judgment twice: counts double, P and the analysis do not change.
  double = na.data.PairwiseJudgments(
      name="x2", alternatives=ds.alternatives,
      prompt=np.concatenate([ds.prompt, ds.prompt]),
      model_a=np.concatenate([ds.model_a, ds.model_a]),
      model_b=np.concatenate([ds.model_b, ds.model_b]),
      score=np.concatenate([ds.score, ds.score]))
  np.testing.assert_array_equal(double.counts(), 2 * np.asarray(ds.counts()))
  np.testing.assert_array_equal(double.preference_matrix(),
                                ds.preference_matrix())
  d = analysis.analyze(double)
  np.testing.assert_allclose(d.maximal_lottery.row, r.maximal_lottery.row,
                             atol=1e-6)
  assert d.cycles3 == r.cycles3 and d.condorcet_winner == r.condorcet_winner


def _cyclic_table(reps=30, prompts=3):
  rows = []
  for p in range(prompts):
    for _ in range(reps // prompts):
      rows += [(p, 0, 1, 1.0), (p, 1, 2, 1.0), (p, 0, 2, 0.0)]
  return _table(rows)


def test_bootstrap_known_answers():
  ds = _cyclic_table()
  b = analysis.bootstrap(jax.random.key(0), ds, 64)
  # Every resample keeps the unanimous 3-cycle (a pair is dropped with
  # probability about 3 * e^-10): always a cycle, uniform lottery.
  assert b.p_cycle.mean == 1.0 and b.p_condorcet_winner.mean == 0.0
  np.testing.assert_allclose(b.lottery.low, 1 / 3, atol=1e-5)
  np.testing.assert_allclose(b.lottery.high, 1 / 3, atol=1e-5)
  assert b.lottery_gap < 1e-6 and b.by == "judgment"
  again = analysis.bootstrap(jax.random.key(0), ds, 64, by="prompt")
  assert again.by == "prompt" and again.p_cycle.mean == 1.0
  with pytest.raises(ValueError, match="by must be"):
    analysis.bootstrap(jax.random.key(0), ds, 8, by="rater")


def test_bootstrap_counts_resample_judgments():
  # One pair, 40 judgments, 10 won by 0, 4 ties: C*[0, 1] is 1/2 * ties* +
  # wins* with (wins*, ties*, losses*) ~ Multinomial(40, (10, 4, 26) / 40).
  rows = ([(0, 0, 1, 1.0)] * 10 + [(0, 0, 1, 0.5)] * 4 +
          [(0, 0, 1, 0.0)] * 26)
  ds = _table(rows)
  c = np.asarray(analysis.bootstrap_counts(jax.random.key(1), ds.units(), 2,
                                           2000))
  np.testing.assert_allclose(c.sum((1, 2)), 40)
  x = c[:, 0, 1]
  mean = 40 * (10 + 2) / 40
  var = 40 * (10 / 40 * 1 + 4 / 40 * 0.25 - (12 / 40) ** 2)
  assert abs(x.mean() - mean) < 4 * np.sqrt(var / 2000)
  assert abs(x.var() / var - 1) < 0.15
  # Same key, same resamples; resample r does not depend on how many.
  c2 = np.asarray(analysis.bootstrap_counts(jax.random.key(1), ds.units(), 2,
                                            10))
  np.testing.assert_array_equal(c2, c[:10])
  c3 = np.asarray(analysis.bootstrap_counts(jax.random.key(1), ds.units(), 2,
                                            10, chunk_size=4))
  np.testing.assert_array_equal(c3, c2)
  # Ballots: every resample has num_voters voters on every pair.
  e = na.data.load("preflib_education")
  ce = np.asarray(analysis.bootstrap_counts(jax.random.key(2), e.units(), 12,
                                            5))
  np.testing.assert_allclose(ce + np.swapaxes(ce, 1, 2),
                             np.broadcast_to(15 * (1 - np.eye(12)), ce.shape))


def test_per_prompt_cycles_against_brute_force_and_models():
  cyc = _cyclic_table(reps=6, prompts=6)  # every prompt: a unanimous 3-cycle
  res = analysis.per_prompt_cycles(jax.random.key(0), cyc, 500,
                                   models=("bradley_terry",), chunk_size=500)
  assert res.num_prompts == 6 and res.observed_cycle.mean == 1.0
  assert res.observed_no_winner.mean == 1.0
  # The BT fit of a symmetric cycle gives equal strengths: each prompt is a
  # uniformly random 3-tournament, cyclic with probability 2/8.
  bt = res.predicted["bradley_terry"]["condorcet_cycle_exists"]
  assert bt.low <= 0.25 <= bt.high
  assert res.cycle_examples[0][1] == ["m0", "m1", "m2"]
  pw, pt = analysis.population_model(cyc, "pooled")
  np.testing.assert_array_equal(pw, [[0, 1, 0], [0, 0, 1], [0, 0, 0]])
  np.testing.assert_array_equal(pt, np.zeros((3, 3)))
  # Real data: the observed share matches a brute-force count.
  ds = na.data.load("vicuna80_human")
  ids, per = ds.per_prompt_array()
  P = np.asarray(na.preferences.preference_matrix(per))
  res = analysis.per_prompt_cycles(jax.random.key(0), ds, models=())
  assert res.observed_cycle.mean == pytest.approx(
      np.mean([analysis.shortest_cycle(p) is not None for p in P]))
  assert res.predicted == {} and res.num_prompts == len(ids) == 80
  pw, pt = analysis.population_model(ds, "bradley_terry")
  off = 1 - np.eye(9)
  # Win, tie and loss (= the other's win: no position effect) sum to one.
  np.testing.assert_allclose((pw + pw.T + pt) * off, off, atol=1e-6)
  np.testing.assert_allclose(pt * off, ds.num_ties / len(ds) * off)
  with pytest.raises(ValueError, match="kind must be"):
    analysis.population_model(ds, "mallows")


def test_prompt_sampler_follows_design():
  design = np.zeros((2, 3, 3), np.int32)
  design[:, 0, 1] = 2  # only pair (0, 1), shown in one order, twice
  pw = np.zeros((3, 3))
  pw[0, 1] = 1.0
  sample = jax.jit(analysis.prompt_sampler(design, pw, np.zeros((3, 3))))
  P = np.asarray(sample(jax.random.key(0)))
  np.testing.assert_array_equal(P, [[.5, 1, .5], [0, .5, .5], [.5, .5, .5]])
