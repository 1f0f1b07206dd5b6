"""Pairwise judgment tables: the shipped datasets and a reader for such CSVs.

A judgment table has one row per pairwise judgment: the prompt it was made
on, the response shown first (``model_a``), the response shown second
(``model_b``) and the verdict ``winner`` in ``{model_a, model_b, tie}``. It
turns into the pairwise counts of the library,

.. math::
  C_{ij} = \\#\\{i \\text{ judged better than } j\\}
           + \\tfrac12 \\#\\{\\text{ties between } i \\text{ and } j\\},

pooled over prompts or one matrix per prompt, and into the preference matrix
``P[i, j] = C[i, j] / (C[i, j] + C[j, i])`` (1/2 where a pair was never
judged), as ``nash_align.preferences.preference_matrix`` defines it. Ties
are split half-half and reported (``num_ties``), so ``C + C^T`` is the number
of judgments of each pair.

Shipped sets (``load(name)``; files, licenses and source notes under
``nash_align/data/files/``):

* ``"vicuna80_human"``: PRD human judgments of 9 chat models on the 80
  Vicuna questions (Li, Patel & Du, arXiv:2307.02762), 7,040 rows, MIT.
* ``"pandalm"``: the PandaLM human-annotated test set (Wang et al., ICLR 2024,
  arXiv:2306.05087), 999 items x 3 annotators = 2,997 rows over 5 open ~7B
  models, Apache-2.0.
* ``"qlora_oa"``: GPT-4-judged double round-robins of 7 chat models on the
  317 Open Assistant prompts with every ordered pair judged (QLoRA, Dettmers et
  al., NeurIPS 2023, arXiv:2305.14314), 13,314 rows, MIT.
* ``"qlora_vicuna"``: the QLoRA GPT-4 judgments of 8 models on the Vicuna-80
  questions, 4,467 rows, MIT.

PrefLib elections are read with ``read_preflib``; ``load`` also accepts the
names in ``PREFLIB_DATASETS`` and returns the parsed election.
"""

import csv
import dataclasses
import functools
import os
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import preferences
from nash_align.data import preflib as preflib_lib

__all__ = (
    "DATASETS",
    "FILES_DIR",
    "PREFLIB_DATASETS",
    "PairwiseJudgments",
    "dataset_path",
    "load",
    "read_pairwise_csv",
)

FILES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files")

_WINNER_SCORE = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}


@dataclasses.dataclass(frozen=True)
class _PairwiseSpec:
  relpath: str
  prompt_column: str
  annotator_column: str | None
  description: str
  license: str
  citation: str


DATASETS: Mapping[str, _PairwiseSpec] = {
    "pandalm": _PairwiseSpec(
        relpath="pandalm/pairwise.csv",
        prompt_column="item_id",
        annotator_column="annotator",
        description=("PandaLM test set: 999 items x 3 human annotators over 5 "
                     "open ~7B models (response order fixed, alphabetical)."),
        license="Apache-2.0",
        citation=("Wang et al. PandaLM: An Automatic Evaluation Benchmark for "
                  "LLM Instruction Tuning Optimization. ICLR 2024 "
                  "(arXiv:2306.05087)."),
    ),
    "qlora_oa": _PairwiseSpec(
        relpath="qlora_gpt4/pairwise.csv",
        prompt_column="prompt_id",
        annotator_column=None,
        description=("QLoRA GPT-4-judge ratings on Open Assistant prompts: 317 "
                     "prompts, complete double round-robin of 7 models."),
        license="MIT",
        citation=("Dettmers, Pagnoni, Holtzman, Zettlemoyer. QLoRA: Efficient "
                  "Finetuning of Quantized LLMs. NeurIPS 2023 "
                  "(arXiv:2305.14314)."),
    ),
    "qlora_vicuna": _PairwiseSpec(
        relpath="qlora_gpt4/pairwise_vicuna.csv",
        prompt_column="question_id",
        annotator_column=None,
        description=("QLoRA GPT-4-judge ratings on the Vicuna-80 questions, 8 "
                     "models, both presentation orders."),
        license="MIT",
        citation=("Dettmers, Pagnoni, Holtzman, Zettlemoyer. QLoRA: Efficient "
                  "Finetuning of Quantized LLMs. NeurIPS 2023 "
                  "(arXiv:2305.14314)."),
    ),
    "vicuna80_human": _PairwiseSpec(
        relpath="vicuna80_human/pairwise.csv",
        prompt_column="question_id",
        annotator_column=None,
        description=("PRD human pairwise judgments of 9 chat models on the "
                     "Vicuna-80 questions (mostly 3 raters per item, no rater "
                     "ids; claude x guanaco pairs missing)."),
        license="MIT",
        citation=("Li, Patel, Du. PRD: Peer Rank and Discussion Improve Large "
                  "Language Model based Evaluations. arXiv:2307.02762, 2023."),
    ),
}

# PrefLib elections shipped under files/preflib/ (GPL-3.0; cite PrefLib,
# Mattei & Walsh, ADT 2013, and the dataset's required citation).
PREFLIB_DATASETS: Mapping[str, str] = {
    **{f"preflib_apa_{1997 + k}": f"preflib/apa/00028-{k:08d}.soi"
       for k in range(1, 13)},
    "preflib_education": "preflib/education/00032-00000004.toi",
    "preflib_ers": "preflib/ers/00007-00000005.soi",
    "preflib_glasgow": "preflib/glasgow/00008-00000009.soi",
}


def _float_dtype(dtype):
  if dtype is None:
    return jax.dtypes.canonicalize_dtype(jnp.float64)
  return dtype


def _counts_from_rows(model_a, model_b, score, n, multiplicity=None):
  """float64 ``[n, n]`` counts from judgment rows (host side, exact halves)."""
  w = np.ones(len(score)) if multiplicity is None else multiplicity
  c = np.zeros((n, n), np.float64)
  np.add.at(c, (model_a, model_b), w * score)
  np.add.at(c, (model_b, model_a), w * (1.0 - score))
  return c


@dataclasses.dataclass(frozen=True, eq=False)
class PairwiseJudgments:
  """A table of pairwise judgments over a fixed list of alternatives.

  Attributes:
    name: dataset name.
    alternatives: the models (responses' authors), sorted; index ``i`` of
      every matrix refers to ``alternatives[i]``.
    prompt: ``[K]`` prompt id of each judgment (int when all ids are integers,
      else str).
    model_a: ``[K]`` int32 index of the response shown first.
    model_b: ``[K]`` int32 index of the response shown second.
    score: ``[K]`` float64 score of ``model_a``: 1 (won), 1/2 (tie), 0 (lost).
    annotator: ``[K]`` int annotator ids, or None where the source has none.
    source: path of the file read ("" when built in memory).
    description, license, citation: provenance strings.
  """

  name: str
  alternatives: list[str]
  prompt: np.ndarray
  model_a: np.ndarray
  model_b: np.ndarray
  score: np.ndarray
  annotator: np.ndarray | None = None
  source: str = ""
  description: str = ""
  license: str = ""
  citation: str = ""

  def __post_init__(self):
    n = len(self.alternatives)
    if n < 2:
      raise ValueError(f"alternatives must list at least 2 models, got {n}.")
    if len(set(self.alternatives)) != n:
      raise ValueError("alternatives must be distinct.")
    k = np.shape(self.score)[0] if np.ndim(self.score) == 1 else -1
    arrays = {"prompt": self.prompt, "model_a": self.model_a,
              "model_b": self.model_b, "score": self.score}
    if self.annotator is not None:
      arrays["annotator"] = self.annotator
    for key, value in arrays.items():
      if np.ndim(value) != 1 or np.shape(value)[0] != k:
        raise ValueError(
            f"{key} must be a 1-D array with one entry per judgment (K = {k}),"
            f" got shape {np.shape(value)}.")
    a = np.asarray(self.model_a)
    b = np.asarray(self.model_b)
    s = np.asarray(self.score, np.float64)
    if k and (a.min() < 0 or b.min() < 0 or a.max() >= n or b.max() >= n):
      raise ValueError(f"model_a/model_b must index alternatives (0..{n - 1}).")
    if np.any(a == b):
      raise ValueError(
          f"a judgment compares a model with itself (row {np.argmax(a == b)}).")
    if not np.all(np.isin(s, (0.0, 0.5, 1.0))):
      raise ValueError("score must be 1 (model_a won), 1/2 (tie) or 0.")
    for key, value in (("model_a", a.astype(np.int32)),
                       ("model_b", b.astype(np.int32)), ("score", s),
                       ("prompt", np.asarray(self.prompt))):
      value = np.array(value)
      value.setflags(write=False)
      object.__setattr__(self, key, value)
    object.__setattr__(self, "alternatives", list(self.alternatives))

  # ---------------------------------------------------------------- sizes
  @property
  def num_alternatives(self) -> int:
    return len(self.alternatives)

  @property
  def num_judgments(self) -> int:
    return int(self.score.shape[0])

  @property
  def num_ties(self) -> int:
    """Number of tied judgments (each split half-half in the counts)."""
    return int(np.sum(self.score == 0.5))

  @property
  def prompts(self) -> list:
    """Distinct prompt ids, sorted."""
    return sorted(set(self.prompt.tolist()))

  def __len__(self) -> int:
    return self.num_judgments

  def __repr__(self) -> str:
    return (f"PairwiseJudgments(name={self.name!r}, n={self.num_alternatives},"
            f" judgments={self.num_judgments}, prompts={len(self.prompts)}, "
            f"ties={self.num_ties})")

  # --------------------------------------------------------------- counts
  def counts(self, dtype=None) -> jax.Array:
    """Pairwise counts pooled over prompts.

    Args:
      dtype: float dtype; None means float32 (float64 when x64 is on).

    Returns:
      ``[n, n]``: ``C[i, j]`` = wins of ``i`` over ``j`` plus half the ties
      between them, summed over every prompt and presentation order. The
      diagonal is 0 and ``C + C^T`` holds the number of judgments per pair.
    """
    c = _counts_from_rows(self.model_a, self.model_b, self.score,
                          self.num_alternatives)
    return jnp.asarray(c, dtype=_float_dtype(dtype))

  def num_comparisons(self) -> np.ndarray:
    """int64 ``[n, n]`` symmetric number of judgments of each pair."""
    n = self.num_alternatives
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (self.model_a, self.model_b), 1)
    return m + m.T

  def preference_matrix(self, dtype=None) -> jax.Array:
    """``[n, n]`` pooled preference matrix (1/2 where a pair was never judged).

    Exactly ``nash_align.preferences.preference_matrix(self.counts())``.
    """
    return preferences.preference_matrix(self.counts(dtype), dtype=dtype)

  def per_prompt_array(self, dtype=None) -> tuple[list, jax.Array]:
    """Counts of every prompt's tournament, stacked.

    Returns:
      ``(ids, C)`` with ``ids`` the sorted prompt ids (list of length ``T``)
      and ``C`` ``[T, n, n]`` the counts of the judgments made on each prompt
      (ties split half-half).
    """
    ids = self.prompts
    index = {p: t for t, p in enumerate(ids)}
    rows = np.fromiter((index[p] for p in self.prompt.tolist()), np.int64,
                       count=self.num_judgments)
    n = self.num_alternatives
    c = np.zeros((len(ids), n, n), np.float64)
    np.add.at(c, (rows, self.model_a, self.model_b), self.score)
    np.add.at(c, (rows, self.model_b, self.model_a), 1.0 - self.score)
    return ids, jnp.asarray(c, dtype=_float_dtype(dtype))

  def per_prompt(self, dtype=None) -> dict[Any, jax.Array]:
    """Prompt id -> that prompt's counts ``[n, n]`` (ties split half-half)."""
    ids, c = self.per_prompt_array(dtype)
    return dict(zip(ids, list(c)))

  def by_annotator(self, dtype=None) -> dict[int, jax.Array]:
    """Annotator id -> pooled counts ``[n, n]`` of that annotator's labels.

    Raises:
      ValueError: when the dataset carries no annotator ids.
    """
    if self.annotator is None:
      raise ValueError(f"dataset {self.name!r} has no annotator ids.")
    out = {}
    for r in sorted(set(np.asarray(self.annotator).tolist())):
      out[r] = self.subset(np.asarray(self.annotator) == r).counts(dtype)
    return out

  def subset(self, mask) -> "PairwiseJudgments":
    """The judgments where the boolean ``mask`` ``[K]`` is true (same models)."""
    mask = np.asarray(mask, bool)
    if mask.shape != (self.num_judgments,):
      raise ValueError(f"mask must have shape ({self.num_judgments},), got "
                       f"{mask.shape}.")
    return dataclasses.replace(
        self, prompt=self.prompt[mask], model_a=self.model_a[mask],
        model_b=self.model_b[mask], score=self.score[mask],
        annotator=None if self.annotator is None else
        np.asarray(self.annotator)[mask])

  def relabel(self, permutation) -> "PairwiseJudgments":
    """Same judgments with the models renumbered: new index ``k`` is old
    ``permutation[k]``. Matrices permute as ``C_new = C[perm][:, perm]``."""
    perm = np.asarray(permutation)
    n = self.num_alternatives
    if sorted(perm.tolist()) != list(range(n)):
      raise ValueError(f"permutation must be a permutation of 0..{n - 1}.")
    inverse = np.argsort(perm)
    return dataclasses.replace(
        self, alternatives=[self.alternatives[k] for k in perm],
        model_a=inverse[self.model_a], model_b=inverse[self.model_b])

  def position_bias(self) -> dict[str, int]:
    """Outcomes by presentation slot: first shown won / second won / tie."""
    return {"first_won": int(np.sum(self.score == 1.0)),
            "second_won": int(np.sum(self.score == 0.0)),
            "tie": self.num_ties}

  def units(self, by: str = "judgment"):
    """Judgment rows grouped into resampling units, for the bootstrap.

    Args:
      by: ``"judgment"`` (each row its own unit) or ``"prompt"`` (every
        judgment on one prompt forms one unit: a cluster bootstrap).

    Returns:
      ``(model_a [R], model_b [R], score [R], unit [R], weight [U])``: unit
      ``u`` is drawn with probability ``weight[u] / sum(weight)``, and
      ``sum(weight)`` units are drawn per bootstrap resample.
    """
    if by == "judgment":
      unit = np.arange(self.num_judgments)
    elif by == "prompt":
      index = {p: t for t, p in enumerate(self.prompts)}
      unit = np.fromiter((index[p] for p in self.prompt.tolist()), np.int64,
                         count=self.num_judgments)
    else:
      raise ValueError(f"by must be 'judgment' or 'prompt', got {by!r}.")
    weight = np.ones(int(unit.max()) + 1 if unit.size else 0, np.int64)
    return self.model_a, self.model_b, self.score, unit, weight


def _parse_id(values: Sequence[str]) -> np.ndarray:
  if all(v.isdigit() for v in values):
    return np.asarray([int(v) for v in values], np.int64)
  return np.asarray(values, dtype=object)


def read_pairwise_csv(path: str, prompt_column: str = "prompt_id",
                      annotator_column: str | None = None,
                      alternatives: Sequence[str] | None = None,
                      name: str | None = None, **provenance) -> PairwiseJudgments:
  """Reads a judgment table CSV (columns ``prompt, model_a, model_b, winner``).

  Args:
    path: CSV file with a header naming at least ``prompt_column``,
      ``model_a``, ``model_b`` and ``winner``; ``winner`` is ``model_a``,
      ``model_b`` or ``tie``. Other columns are ignored.
    prompt_column: the column holding the prompt id.
    annotator_column: optional column of integer annotator ids.
    alternatives: model order; default: the names found, sorted.
    name: dataset name (default: the file name).
    **provenance: ``description``, ``license``, ``citation`` strings.

  Returns:
    A ``PairwiseJudgments``.

  Raises:
    ValueError: naming the file and line of a malformed row (unknown winner,
      empty field, a model judged against itself, a bad annotator id, a model
      not in ``alternatives``), or a missing column.
  """
  path = os.fspath(path)
  required = [prompt_column, "model_a", "model_b", "winner"]
  if annotator_column is not None:
    required.append(annotator_column)
  prompts, a_names, b_names, scores, annotators = [], [], [], [], []
  with open(path, newline="", encoding="utf-8") as f:
    reader = csv.DictReader(f)
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    if missing:
      raise ValueError(f"{path}:1: missing column(s) {missing}; header is "
                       f"{header}.")
    for row in reader:
      where = f"{path}:{reader.line_num}"
      if None in row or any(row[c] is None for c in required):
        raise ValueError(f"{where}: expected {len(header)} fields, got a row "
                         f"of a different length.")
      values = {c: row[c].strip() for c in required}
      for c in required:
        if not values[c]:
          raise ValueError(f"{where}: empty {c!r}.")
      if values["winner"] not in _WINNER_SCORE:
        raise ValueError(f"{where}: winner must be one of model_a, model_b, "
                         f"tie; got {values['winner']!r}.")
      if values["model_a"] == values["model_b"]:
        raise ValueError(f"{where}: model {values['model_a']!r} is judged "
                         f"against itself.")
      if annotator_column is not None:
        try:
          annotators.append(int(values[annotator_column]))
        except ValueError:
          raise ValueError(
              f"{where}: annotator id must be an integer, got "
              f"{values[annotator_column]!r}.") from None
      prompts.append(values[prompt_column])
      a_names.append(values["model_a"])
      b_names.append(values["model_b"])
      scores.append(_WINNER_SCORE[values["winner"]])
  found = sorted(set(a_names) | set(b_names))
  if alternatives is None:
    alternatives = found
  else:
    alternatives = list(alternatives)
    unknown = sorted(set(found) - set(alternatives))
    if unknown:
      raise ValueError(f"{path}: models {unknown} are not in alternatives "
                       f"{alternatives}.")
  if not scores:
    raise ValueError(f"{path}: no judgments.")
  index = {m: i for i, m in enumerate(alternatives)}
  return PairwiseJudgments(
      name=name or os.path.splitext(os.path.basename(path))[0],
      alternatives=list(alternatives),
      prompt=_parse_id(prompts),
      model_a=np.asarray([index[m] for m in a_names], np.int32),
      model_b=np.asarray([index[m] for m in b_names], np.int32),
      score=np.asarray(scores, np.float64),
      annotator=(np.asarray(annotators, np.int64)
                 if annotator_column is not None else None),
      source=path, **provenance)


def dataset_path(name: str) -> str:
  """Path of the shipped file behind a dataset name."""
  if name in DATASETS:
    return os.path.join(FILES_DIR, DATASETS[name].relpath)
  if name in PREFLIB_DATASETS:
    return os.path.join(FILES_DIR, PREFLIB_DATASETS[name])
  raise ValueError(_unknown(name))


def _unknown(name) -> str:
  return (f"unknown dataset {name!r}; known pairwise sets: "
          f"{sorted(DATASETS)}; PrefLib elections: {sorted(PREFLIB_DATASETS)}.")


@functools.lru_cache(maxsize=None)
def _load_cached(name: str):
  if name in PREFLIB_DATASETS:
    return preflib_lib.read_preflib(dataset_path(name))
  spec = DATASETS[name]
  return read_pairwise_csv(
      dataset_path(name), prompt_column=spec.prompt_column,
      annotator_column=spec.annotator_column, name=name,
      description=spec.description, license=spec.license,
      citation=spec.citation)


def load(name: str):
  """Loads a shipped dataset by name.

  Args:
    name: one of ``DATASETS`` (``"vicuna80_human"``, ``"pandalm"``,
      ``"qlora_oa"``, ``"qlora_vicuna"``) -> ``PairwiseJudgments``, or one of
      ``PREFLIB_DATASETS`` -> ``PrefLibElection``.

  Returns:
    The dataset (parsed once per process and cached; its arrays are
    read-only).

  Raises:
    ValueError: for an unknown name, listing the known ones.
  """
  if not isinstance(name, str) or (name not in DATASETS and
                                   name not in PREFLIB_DATASETS):
    raise ValueError(_unknown(name))
  return _load_cached(name)
