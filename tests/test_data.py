"""Tests for nash_align.data: loaders, the PrefLib reader and the analysis."""

import csv
import os

import jax
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
  with jax.enable_x64(True):
    assert ds.counts().dtype == np.float64
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
