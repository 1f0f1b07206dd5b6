"""NLHF tasks on real text: prompts and answers embedded by a sentence encoder.

Three corpora of real prompts, real candidate responses and real judgments:

* ``"vicuna80_human"``: the 80 Vicuna questions, the answers of 8 chat models
  (bard, gpt35, gpt4, guanaco-7b/13b/33b/65b, vicuna-13b; the QLoRA answer
  files) and the PRD human judgments (3 for each of the 28 pairs on every
  question; Li, Patel & Du, arXiv:2307.02762). PRD's claude has no answer
  texts here and is dropped.
* ``"vicuna80_gpt4"``: the same questions and answers judged by GPT-4 (QLoRA,
  Dettmers et al., arXiv:2305.14314; both presentation orders).
* ``"qlora_oa"``: the 317 Open Assistant prompts with a complete GPT-4 double
  round-robin of 7 models. Only the prompt texts are available, so a
  candidate is its model's identity (one-hot) and the text enters through the
  prompt.

Features are all-MiniLM-L6-v2 embeddings (:mod:`nash_align.text`): the
prompt's ``[384]`` and each answer's ``[384]``. They ship with the package as
float16 (``nash_align/data/files/texts/embeddings_minilm_l6_v2.npz``, keyed by
a hash of the texts) and are recomputed -- and cached under ``cache_dir`` --
when missing or stale (:func:`corpus_embeddings`).

Prompts are split into training and held-out sets by a seed
(:func:`split_prompts`). A :class:`TextTask` keeps the two sets' judgments
apart: its ``task.oracle`` holds the training judgments only (held-out
prompts get the uninformative ``P = 1/2``), the held-out preference matrices
``heldout_matrices`` serve only evaluation, and :func:`fit_judgment_model`
fits the general preference model or the Bradley-Terry reward model on the
training rows only.
"""

import dataclasses
import gzip
import hashlib
import json
import os
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from nash_align import atomic_io
from nash_align.nlhf import oracles
from nash_align.nlhf import policy as policy_lib

__all__ = (
    "EMBEDDING_DIM",
    "FEATURES",
    "TEXT_TASKS",
    "TextCorpus",
    "TextPreferenceModel",
    "TextTask",
    "bootstrap_interval",
    "build_text_task",
    "corpus_embeddings",
    "fine_tune_preference_model",
    "fit_judgment_model",
    "heldout_win_rate",
    "load_corpus",
    "pairwise_accuracy",
    "policy_probabilities",
    "split_prompts",
    "write_shipped_embeddings",
)

TEXT_TASKS = ("vicuna80_human", "vicuna80_gpt4", "qlora_oa")
FEATURES = ("text", "identity", "text+identity")
EMBEDDING_DIM = 384

# PRD model names -> QLoRA answer-file names (same answers).
PRD_TO_QLORA = {
    "bard": "bard", "gpt35": "gpt35", "gpt4": "gpt4",
    "guanaco-7b": "7b-guanaco", "guanaco-13b": "13b-guanaco",
    "guanaco-33b": "30b-guanaco", "guanaco-65b": "65b-guanaco",
    "vicuna-13b": "vicuna-13b",
}


def _files_dir() -> str:
  from nash_align import data  # pylint: disable=g-import-not-at-top
  return data.FILES_DIR


def _texts_dir() -> str:
  return os.path.join(_files_dir(), "texts")


def shipped_embeddings_path() -> str:
  return os.path.join(_texts_dir(), "embeddings_minilm_l6_v2.npz")


def _read_jsonl_gz(path):
  with gzip.open(path, "rt", encoding="utf-8") as f:
    return [json.loads(line) for line in f]


@dataclasses.dataclass(frozen=True, eq=False)
class TextCorpus:
  """Real prompts, candidate responses and pairwise judgments.

  Attributes:
    name: one of :data:`TEXT_TASKS`.
    prompt_ids: ``N`` prompt ids (Vicuna question ids or OA message ids),
      sorted; prompt ``i`` of every array is ``prompt_ids[i]``.
    prompt_texts: ``N`` prompt texts.
    candidates: ``K`` model names as in the judgment data.
    candidate_texts: ``[N][K]`` answer texts, or None when only the models'
      identities are known (``qlora_oa``).
    prompt: ``[R]`` int prompt index (into ``prompt_ids``) of each judgment.
    model_a: ``[R]`` int32 candidate shown first.
    model_b: ``[R]`` int32 candidate shown second.
    score: ``[R]`` float64: 1 ``model_a`` won, 1/2 tie, 0 ``model_b`` won.
  """

  name: str
  prompt_ids: list
  prompt_texts: list
  candidates: list
  candidate_texts: list | None
  prompt: np.ndarray
  model_a: np.ndarray
  model_b: np.ndarray
  score: np.ndarray

  @property
  def num_prompts(self) -> int:
    return len(self.prompt_ids)

  @property
  def num_candidates(self) -> int:
    return len(self.candidates)

  def counts(self, rows=None):
    """``(wins [N, K, K], judgments [N, K, K])`` of the selected rows.

    ``wins[x, a, b]`` = wins of ``a`` over ``b`` on prompt ``x`` plus half
    their ties, both presentation orders pooled; ``judgments = wins +
    wins^T``.
    """
    sel = (np.ones(self.score.shape, bool) if rows is None
           else np.asarray(rows, bool))
    n, k = self.num_prompts, self.num_candidates
    c = np.zeros((n, k, k), np.float64)
    p, a, b, s = (self.prompt[sel], self.model_a[sel], self.model_b[sel],
                  self.score[sel])
    np.add.at(c, (p, a, b), s)
    np.add.at(c, (p, b, a), 1.0 - s)
    return c, c + np.swapaxes(c, -1, -2)


def _vicuna_questions():
  path = os.path.join(_files_dir(), "vicuna80_human", "vicuna_questions.jsonl")
  with open(path, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
  return {int(r["question_id"]): r["text"] for r in rows}


def _vicuna_answers():
  rows = _read_jsonl_gz(os.path.join(_texts_dir(),
                                     "vicuna80_answers.jsonl.gz"))
  return {(int(r["question_id"]), r["model"]): r["text"] for r in rows}


def _oa_prompts():
  rows = _read_jsonl_gz(os.path.join(_texts_dir(),
                                     "qlora_oa_prompts.jsonl.gz"))
  return {r["message_id"]: r["text"] for r in rows}


def _clean_oa(text: str) -> str:
  """Drops the ``### Human:`` / trailing ``### Assistant:`` chat markers."""
  t = text.strip()
  if t.startswith("### Human:"):
    t = t[len("### Human:"):]
  if t.endswith("### Assistant:"):
    t = t[:-len("### Assistant:")]
  return t.strip()


def load_corpus(name: str) -> TextCorpus:
  """One of the :data:`TEXT_TASKS` corpora, from the files shipped with
  ``nash_align.data``."""
  if name not in TEXT_TASKS:
    raise ValueError(f"unknown text task {name!r}; expected one of "
                     f"{TEXT_TASKS}.")
  from nash_align import data  # pylint: disable=g-import-not-at-top
  source = {"vicuna80_human": "vicuna80_human",
            "vicuna80_gpt4": "qlora_vicuna", "qlora_oa": "qlora_oa"}[name]
  ds = data.load(source)
  if name == "vicuna80_human":
    candidates = sorted(PRD_TO_QLORA)
    qlora_name = PRD_TO_QLORA
  elif name == "vicuna80_gpt4":
    candidates = sorted(PRD_TO_QLORA.values())
    qlora_name = {c: c for c in candidates}
  else:
    candidates = list(ds.alternatives)
    qlora_name = None
  old_to_new = np.array([candidates.index(m) if m in candidates else -1
                         for m in ds.alternatives])
  a, b = old_to_new[ds.model_a], old_to_new[ds.model_b]
  keep = (a >= 0) & (b >= 0)
  if name == "qlora_oa":
    texts = _oa_prompts()
    prompt_ids = sorted(set(ds.prompt.tolist()))
    prompt_texts = [_clean_oa(texts[p]) for p in prompt_ids]
    candidate_texts = None
  else:
    questions = _vicuna_questions()
    answers = _vicuna_answers()
    prompt_ids = sorted(questions)
    prompt_texts = [questions[q] for q in prompt_ids]
    candidate_texts = [[answers[(q, qlora_name[c])] for c in candidates]
                       for q in prompt_ids]
  index = {p: i for i, p in enumerate(prompt_ids)}
  prompt = np.array([index[p] for p in ds.prompt[keep].tolist()], np.int64)
  return TextCorpus(
      name=name, prompt_ids=prompt_ids, prompt_texts=prompt_texts,
      candidates=candidates, candidate_texts=candidate_texts, prompt=prompt,
      model_a=a[keep].astype(np.int32), model_b=b[keep].astype(np.int32),
      score=np.asarray(ds.score, np.float64)[keep])


# ----------------------------------------------------------------- embeddings


def _text_groups(corpus: TextCorpus) -> dict[str, list[str]]:
  """Named flat text lists whose embeddings the corpus needs."""
  if corpus.name == "qlora_oa":
    return {"oa_prompts": list(corpus.prompt_texts)}
  # Both Vicuna tasks share one answer group, in QLoRA model order.
  answers = _vicuna_answers()
  qlora = sorted(PRD_TO_QLORA.values())
  return {
      "vicuna_questions": list(corpus.prompt_texts),
      "vicuna_answers": [answers[(q, m)] for q in corpus.prompt_ids
                         for m in qlora],
  }


def _digest(texts) -> str:
  return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False)
                        .encode("utf-8")).hexdigest()


def compute_embeddings(texts, batch_size: int = 32,
                       progress: bool = False) -> np.ndarray:
  """``nash_align.text.encode(texts)`` (float32 ``[N, 384]``)."""
  from nash_align import text  # pylint: disable=g-import-not-at-top
  return text.encode(texts, batch_size=batch_size, progress=progress)


def _group_embeddings(group: str, texts, cache_dir, recompute, batch_size,
                      progress):
  digest = _digest(texts)
  if not recompute:
    path = shipped_embeddings_path()
    if os.path.isfile(path):
      with np.load(path) as z:
        if f"{group}_sha256" in z and str(z[f"{group}_sha256"]) == digest:
          return np.asarray(z[group], np.float32)
  cache = None
  if cache_dir is not None:
    cache = os.path.join(cache_dir, f"{group}-{digest[:16]}.npy")
    if not recompute and os.path.isfile(cache):
      return np.load(cache)
  emb = compute_embeddings(texts, batch_size=batch_size, progress=progress)
  if cache is not None:
    os.makedirs(cache_dir, exist_ok=True)
    import io  # pylint: disable=g-import-not-at-top
    buf = io.BytesIO()
    np.save(buf, emb)
    atomic_io.atomic_write_bytes(cache, buf.getvalue())
  return emb


def corpus_embeddings(corpus: TextCorpus, cache_dir: str | None = None,
                      recompute: bool = False, batch_size: int = 32,
                      progress: bool = False):
  """Encoder embeddings of a corpus's prompts and answers.

  Uses the shipped float16 embeddings when their text hash matches, else a
  cached ``cache_dir/<group>-<hash>.npy``, else computes them with
  :func:`nash_align.text.encode` (and caches them when ``cache_dir`` is set).

  Args:
    corpus: a :class:`TextCorpus`.
    cache_dir: directory for recomputed embeddings (e.g. under a workdir).
    recompute: ignore the shipped and cached embeddings.
    batch_size: encoder batch size.
    progress: tqdm bar while encoding.

  Returns:
    ``(prompts [N, 384], answers [N, K, 384] or None)`` float32 (None for
    ``qlora_oa``, whose answers are not available).
  """
  groups = _text_groups(corpus)
  emb = {g: _group_embeddings(g, t, cache_dir, recompute, batch_size,
                              progress) for g, t in groups.items()}
  if corpus.name == "qlora_oa":
    return emb["oa_prompts"], None
  n = corpus.num_prompts
  qlora = sorted(PRD_TO_QLORA.values())
  answers = emb["vicuna_answers"].reshape(n, len(qlora), EMBEDDING_DIM)
  to_qlora = (PRD_TO_QLORA if corpus.name == "vicuna80_human"
              else {c: c for c in qlora})
  order = [qlora.index(to_qlora[c]) for c in corpus.candidates]
  return emb["vicuna_questions"], answers[:, order]


def write_shipped_embeddings(batch_size: int = 32,
                             progress: bool = False) -> str:
  """Recomputes every corpus's embeddings into the shipped float16 file."""
  arrays = {}
  for name in ("vicuna80_gpt4", "qlora_oa"):
    for group, texts in _text_groups(load_corpus(name)).items():
      arrays[group] = compute_embeddings(texts, batch_size,
                                         progress).astype(np.float16)
      arrays[f"{group}_sha256"] = np.array(_digest(texts))
  import io  # pylint: disable=g-import-not-at-top
  buf = io.BytesIO()
  np.savez_compressed(buf, **arrays)
  path = shipped_embeddings_path()
  atomic_io.atomic_write_bytes(path, buf.getvalue())
  return path


# ---------------------------------------------------------------- the task


def split_prompts(num_prompts: int, seed: int, num_eval: int):
  """Seeded split ``(train, eval)`` of ``range(num_prompts)``, each sorted.

  ``eval`` is the first ``num_eval`` entries of
  ``jax.random.permutation(PRNGKey(seed), num_prompts)``.
  """
  if not 1 <= int(num_eval) < int(num_prompts):
    raise ValueError(f"num_eval must be in [1, {num_prompts}), got "
                     f"{num_eval}.")
  perm = np.asarray(jax.random.permutation(jax.random.PRNGKey(seed),
                                           int(num_prompts)))
  return (np.sort(perm[num_eval:]).astype(np.int32),
          np.sort(perm[:num_eval]).astype(np.int32))


def _preference(wins, totals):
  with np.errstate(invalid="ignore", divide="ignore"):
    p = np.where(totals > 0, wins / np.where(totals > 0, totals, 1.0), 0.5)
  k = p.shape[-1]
  p[:, np.arange(k), np.arange(k)] = 0.5
  return p


@dataclasses.dataclass(frozen=True, eq=False)
class TextTask:
  """A :class:`TextCorpus` as an NLHF problem with a train / held-out split.

  Attributes:
    corpus: the corpus.
    features: ``"text"``, ``"identity"`` or ``"text+identity"``.
    task: the :class:`~nash_align.nlhf.oracles.PreferenceTask` (features,
      mask, uniform reference, ``train_prompts`` / ``eval_prompts``); its
      oracle is the empirical preference of the *training* judgments
      (``P = 1/2`` on held-out prompts).
    train_rows: ``[R]`` bool, judgments on training prompts.
    heldout_matrices: ``[E, K, K]`` float64 ``Phat_x(a > b) = (wins + ties/2)
      / judgments`` on the held-out prompts (both orders pooled, ``1/2`` on
      the diagonal and for unjudged pairs), evaluation only.
  """

  corpus: TextCorpus
  features: str
  task: oracles.PreferenceTask
  train_rows: np.ndarray
  heldout_matrices: np.ndarray

  @property
  def name(self) -> str:
    return self.corpus.name

  @property
  def train_ids(self) -> list:
    return [self.corpus.prompt_ids[i] for i in np.asarray(
        self.task.train_prompts)]

  @property
  def eval_ids(self) -> list:
    return [self.corpus.prompt_ids[i] for i in np.asarray(
        self.task.eval_prompts)]

  @property
  def eval_rows(self) -> np.ndarray:
    return ~self.train_rows


def _check_width(x, name, width=EMBEDDING_DIM, rank=2):
  x = np.asarray(x)
  if x.ndim != rank or x.shape[-1] != width:
    raise ValueError(f"{name} must have rank {rank} with last dimension "
                     f"{width}, got shape {x.shape}.")
  return x


def build_text_task(name: str, seed: int = 0, num_eval: int = 20,
                    features: str = "text", cache_dir: str | None = None,
                    embeddings=None, corpus: TextCorpus | None = None,
                    dtype=None) -> TextTask:
  """The NLHF task of a text corpus with a seeded train / held-out split.

  Features: ``"text"`` -- prompt embedding ``[384]`` and answer embedding
  ``[384]`` (``qlora_oa``: one-hot model identity, no answer texts);
  ``"identity"`` -- a constant prompt feature ``[1]`` and the one-hot model
  identity ``[K]`` (what a policy can learn without reading the text);
  ``"text+identity"`` -- both, concatenated. The reference ``mu`` is uniform.

  Args:
    name: one of :data:`TEXT_TASKS`.
    seed: split seed.
    num_eval: number of held-out prompts.
    features: one of :data:`FEATURES`.
    cache_dir: where recomputed embeddings are cached.
    embeddings: optional ``(prompts [N, 384], answers [N, K, 384] or None)``
      to use instead of :func:`corpus_embeddings`.
    corpus: optional preloaded corpus (default :func:`load_corpus`).
    dtype: float dtype (None: float32).

  Returns:
    A :class:`TextTask`.
  """
  if features not in FEATURES:
    raise ValueError(f"unknown features {features!r}; expected one of "
                     f"{FEATURES}.")
  corpus = load_corpus(name) if corpus is None else corpus
  n, k = corpus.num_prompts, corpus.num_candidates
  dtype = dtype or jnp.float32
  if embeddings is None and features != "identity":
    embeddings = corpus_embeddings(corpus, cache_dir=cache_dir)
  if embeddings is not None:
    zp, ec = embeddings
    zp = _check_width(zp, "embeddings[0] (prompt embeddings)")
    if zp.shape[0] != n:
      raise ValueError(f"embeddings[0] (prompt embeddings) must have {n} "
                       f"rows, got {zp.shape[0]}.")
    if ec is not None:
      ec = _check_width(ec, "embeddings[1] (answer embeddings)", rank=3)
      if ec.shape[:2] != (n, k):
        raise ValueError(f"embeddings[1] (answer embeddings) must be "
                         f"[{n}, {k}, 384], got {ec.shape}.")
  one_hot = np.broadcast_to(np.eye(k), (n, k, k))
  if features == "identity":
    zp, ec = np.ones((n, 1)), one_hot
  else:
    if ec is None:
      ec = one_hot
    elif features == "text+identity":
      ec = np.concatenate([ec, one_hot], -1)
  train, ev = split_prompts(n, seed, num_eval)
  is_train = np.zeros(n, bool)
  is_train[train] = True
  train_rows = is_train[corpus.prompt]
  wins, totals = corpus.counts(train_rows)
  p_train = _preference(wins, totals)
  wins_all, totals_all = corpus.counts()
  heldout = _preference(wins_all, totals_all)[ev]
  task = oracles.PreferenceTask(
      prompt_features=jnp.asarray(zp, dtype),
      candidate_features=jnp.asarray(ec, dtype),
      mask=jnp.ones((n, k), bool),
      reference=jnp.full((n, k), 1.0 / k, dtype),
      oracle=oracles.EmpiricalOracle(matrices=jnp.asarray(p_train, dtype)),
      train_prompts=jnp.asarray(train), eval_prompts=jnp.asarray(ev))
  return TextTask(corpus=corpus, features=features, task=task,
                  train_rows=train_rows, heldout_matrices=heldout)


# ------------------------------------------------------- learned models


def fit_judgment_model(key, text_task: TextTask, model: str = "preference",
                       hidden_dim: int = 64, num_steps: int = 300,
                       learning_rate: float = 3e-3,
                       weight_decay: float = 1e-2) -> oracles.LearnedOracle:
  """Fits a pairwise model to the training judgments (full batch, AdamW).

  Minimises the mean logistic loss ``-s log sigma(f) - (1 - s) log
  sigma(-f)`` of ``f = model.logit(z_x, e_a, e_b)`` over the judgments on
  training prompts (``s`` = 1, 1/2 for a tie, 0), with decoupled weight
  decay; the loop is one ``lax.scan``. Held-out judgments are never read.

  Args:
    key: PRNG key (consumed; initialises the model).
    text_task: the task (its ``train_rows``).
    model: ``"preference"`` (general, antisymmetric, cycles allowed:
      :class:`~nash_align.nlhf.oracles.PreferenceModel`) or ``"reward"``
      (Bradley-Terry: :class:`~nash_align.nlhf.oracles.RewardModel`).
    hidden_dim: MLP width.
    num_steps: full-batch steps.
    learning_rate: AdamW learning rate.
    weight_decay: AdamW weight decay.

  Returns:
    A :class:`~nash_align.nlhf.oracles.LearnedOracle` over the task's
    features (all prompts).
  """
  classes = {"preference": oracles.PreferenceModel,
             "reward": oracles.RewardModel}
  if model not in classes:
    raise ValueError(f"unknown model {model!r}; expected one of "
                     f"{sorted(classes)}.")
  task = text_task.task
  m = classes[model](task.prompt_features.shape[-1],
                     task.candidate_features.shape[-1], hidden_dim,
                     rngs=nnx.Rngs(key))
  graphdef, params = nnx.split(m)
  c = text_task.corpus
  sel = text_task.train_rows
  prompt = jnp.asarray(c.prompt[sel], jnp.int32)
  a = jnp.asarray(c.model_a[sel])
  b = jnp.asarray(c.model_b[sel])
  label = jnp.asarray(c.score[sel], task.prompt_features.dtype)
  opt = optax.adamw(learning_rate, weight_decay=weight_decay)

  @jax.jit
  def run(params, zp, ec):
    def loss_fn(params):
      f = nnx.merge(graphdef, params).logit(zp[prompt], ec[prompt, a],
                                            ec[prompt, b])
      return jnp.mean(optax.sigmoid_binary_cross_entropy(f, label))

    def step(carry, _):
      params, state = carry
      loss, grads = jax.value_and_grad(loss_fn)(params)
      updates, state = opt.update(grads, state, params)
      return (optax.apply_updates(params, updates), state), loss

    (params, _), losses = jax.lax.scan(step, (params, opt.init(params)),
                                       None, length=num_steps)
    return params, losses

  params, _ = run(params, task.prompt_features, task.candidate_features)
  return oracles.LearnedOracle(graphdef=graphdef, params=params,
                               prompt_features=task.prompt_features,
                               candidate_features=task.candidate_features)


def pairwise_accuracy(oracle: oracles.PreferenceOracle, text_task: TextTask,
                      rows=None) -> dict[str, float]:
  """Agreement of an oracle with judgments (default: the held-out ones).

  Args:
    oracle: answers ``prob_prefer(prompt, a, b)`` over the task's prompts.
    text_task: the task.
    rows: ``[R]`` bool selection of judgments (default ``eval_rows``).

  Returns:
    dict: ``accuracy`` -- share of decisive (non-tie) judgments whose winner
    the oracle prefers (``P > 1/2``; ``P = 1/2`` counts half);
    ``log_loss`` -- mean logistic loss over all selected judgments, ties as
    label 1/2; ``num_decisive``, ``num_judgments``.
  """
  c = text_task.corpus
  sel = text_task.eval_rows if rows is None else np.asarray(rows, bool)
  p = np.asarray(oracle.prob_prefer(jnp.asarray(c.prompt[sel], jnp.int32),
                                    jnp.asarray(c.model_a[sel]),
                                    jnp.asarray(c.model_b[sel])), np.float64)
  s = c.score[sel]
  decisive = s != 0.5
  hit = np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, 0.5))
  correct = np.where(s == 1.0, hit, 1.0 - hit)[decisive]
  pc = np.clip(p, 1e-7, 1 - 1e-7)
  log_loss = -(s * np.log(pc) + (1 - s) * np.log(1 - pc))
  return {"accuracy": float(np.mean(correct)) if correct.size else float("nan"),
          "log_loss": float(np.mean(log_loss)),
          "num_decisive": int(decisive.sum()), "num_judgments": int(sel.sum())}


# -------------------------------------------------------------- evaluation


def heldout_win_rate(policy, reference, matrices) -> np.ndarray:
  r"""Per-prompt win rate against the reference under judged preferences.

  .. math::
      w_x = \sum_a \sum_b \pi(a \mid x)\, \mu(b \mid x)\, \hat P_x(a \succ b).

  Args:
    policy: ``[E, K]`` probabilities.
    reference: ``[E, K]`` probabilities (``[K]`` broadcasts).
    matrices: ``[E, K, K]`` judged preference matrices.

  Returns:
    float64 numpy ``[E]``.
  """
  pi = np.asarray(policy, np.float64)
  P = np.asarray(matrices, np.float64)
  mu = np.broadcast_to(np.asarray(reference, np.float64), pi.shape)
  if P.shape != pi.shape + pi.shape[-1:]:
    raise ValueError(f"matrices must be [E, K, K] = "
                     f"{pi.shape + pi.shape[-1:]}, got {P.shape}.")
  return np.einsum("ea,eab,eb->e", pi, P, mu)


def bootstrap_interval(values, seed: int = 0, num_resamples: int = 2000,
                       level: float = 0.95):
  """Percentile bootstrap interval of the mean of ``values`` ``[E]``.

  Resamples the ``E`` values (the held-out prompts) with replacement.

  Returns:
    ``(low, high)`` python floats.
  """
  v = np.asarray(values, np.float64)
  if v.ndim != 1 or v.size == 0:
    raise ValueError(f"values must be a non-empty 1-D array, got {v.shape}.")
  rng = np.random.default_rng(seed)
  idx = rng.integers(0, v.size, size=(num_resamples, v.size))
  means = v[idx].mean(-1)
  alpha = (1.0 - level) / 2
  return (float(np.quantile(means, alpha)),
          float(np.quantile(means, 1.0 - alpha)))


def policy_probabilities(model: policy_lib.PolicyHead, task, prompts):
  """``[E, K]`` probabilities of a policy head on ``prompts`` ``[E]``."""
  ids = jnp.asarray(prompts)
  logp = model(task.prompt_features[ids], task.candidate_features[ids],
               task.mask[ids], task.reference_logp(ids))
  return np.exp(np.asarray(logp, np.float64))



# ------------------------------------------- fine-tuning the encoder's top


class TextPreferenceModel(nnx.Module):
  """A sentence encoder under a general preference model, for fine-tuning.

  ``P(a > b | x) = sigmoid(s(e_x, e_a, e_b) - s(e_x, e_b, e_a))`` with
  ``e = encoder(text)`` (:class:`~nash_align.nlhf.oracles.PreferenceModel`
  on the encoder's embeddings); the lower encoder layers are frozen by an
  optax mask and their token states computed once.
  """

  def __init__(self, encoder, hidden_dim: int, *, rngs: nnx.Rngs):
    self.encoder = encoder
    d = encoder.config.hidden_size
    self.head = oracles.PreferenceModel(d, d, hidden_dim, rngs=rngs)


def _param_labels(params, start_layer: int):
  """optax labels of a :class:`TextPreferenceModel`'s parameter state: the
  head ``"train"``, encoder layers ``>= start_layer`` ``"train_encoder"``,
  every other encoder parameter ``"frozen"``."""

  def label(path, _):
    keys = [getattr(p, "key", p) for p in path]
    if keys[0] == "head":
      return "train"
    if len(keys) > 2 and keys[1] == "layers" and int(keys[2]) >= start_layer:
      return "train_encoder"
    return "frozen"

  return jax.tree_util.tree_map_with_path(label, params)


def fine_tune_preference_model(key, text_task: TextTask,
                               num_trainable_layers: int = 1,
                               hidden_dim: int = 16, num_steps: int = 200,
                               batch_size: int = 16,
                               learning_rate: float = 3e-3,
                               encoder_learning_rate: float = 1e-4,
                               weight_decay: float = 1.0,
                               max_length: int = 64, encoder=None):
  """Fine-tunes the encoder's top layers with a general preference model.

  The lower ``num_layers - num_trainable_layers`` encoder layers are frozen:
  their token states for every prompt and answer are computed once, and
  ``optax.multi_transform`` gives them ``optax.set_to_zero`` (so neither
  the gradient step nor the weight decay moves them); the top layers get
  AdamW at ``encoder_learning_rate``, the preference head AdamW at
  ``learning_rate``. Each step draws ``batch_size`` judgments of the
  training prompts (held-out judgments are never read) and minimises their
  logistic loss. Texts are truncated to ``max_length`` tokens.

  Args:
    key: PRNG key (consumed).
    text_task: a task with answer texts (not ``qlora_oa``).
    num_trainable_layers: top encoder layers to train (0: head only).
    hidden_dim: preference head width.
    num_steps: optimisation steps (one ``lax.scan``).
    batch_size: judgments per step.
    learning_rate: head learning rate.
    encoder_learning_rate: top layers' learning rate.
    weight_decay: AdamW decay of the trained parameters.
    max_length: token truncation.
    encoder: starting encoder (default: the pretrained all-MiniLM-L6-v2).

  Returns:
    ``(oracle, model)``: a :class:`~nash_align.nlhf.oracles.LearnedOracle`
    over the fine-tuned embeddings of every prompt and answer (its
    ``prompt_features`` ``[N, 384]`` and ``candidate_features`` ``[N, K,
    384]`` replace the task's to train a policy), and the trained
    :class:`TextPreferenceModel`.
  """
  from nash_align import text  # pylint: disable=g-import-not-at-top
  c = text_task.corpus
  if c.candidate_texts is None:
    raise ValueError(f"text_task {c.name!r} has no answer texts to encode.")
  enc = text.load_encoder() if encoder is None else encoder
  n_layers = enc.config.num_layers
  if not 0 <= num_trainable_layers <= n_layers:
    raise ValueError(f"num_trainable_layers must be in [0, {n_layers}], got "
                     f"{num_trainable_layers}.")
  start = n_layers - num_trainable_layers
  n, k = c.num_prompts, c.num_candidates
  texts = list(c.prompt_texts) + [t for row in c.candidate_texts for t in row]
  ids, mask = text.tokenize(texts, max_length=max_length, pad_to=max_length)
  lower = jax.jit(lambda i, m: enc.token_states(i, m, start))
  states = jnp.concatenate([lower(ids[s:s + 64], mask[s:s + 64])
                            for s in range(0, len(texts), 64)])  # [M, T, D]
  mask = jnp.asarray(mask)
  k_init, k_train = jax.random.split(key)
  model = TextPreferenceModel(enc, hidden_dim, rngs=nnx.Rngs(k_init))
  graphdef, params = nnx.split(model, nnx.Param)
  labels = _param_labels(params, start)
  tx = optax.multi_transform(
      {"train": optax.adamw(learning_rate, weight_decay=weight_decay),
       "train_encoder": optax.adamw(encoder_learning_rate,
                                    weight_decay=weight_decay),
       "frozen": optax.set_to_zero()}, labels)
  sel = np.flatnonzero(text_task.train_rows)
  rp = jnp.asarray(c.prompt[sel], jnp.int32)
  ra = jnp.asarray(c.model_a[sel], jnp.int32)
  rb = jnp.asarray(c.model_b[sel], jnp.int32)
  rs = jnp.asarray(c.score[sel], jnp.float32)

  def embed(m, rows):
    return m.encoder.embed_from(states[rows], mask[rows], start)

  def loss_fn(params, idx):
    m = nnx.merge(graphdef, params)
    p, a, b = rp[idx], ra[idx], rb[idx]
    rows = jnp.concatenate([p, n + p * k + a, n + p * k + b])
    e = embed(m, rows)
    z, ea, eb = e[:idx.size], e[idx.size:2 * idx.size], e[2 * idx.size:]
    f = m.head.logit(z, ea, eb)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(f, rs[idx]))

  @jax.jit
  def run(params):
    def step(carry, t):
      params, state = carry
      idx = jax.random.randint(jax.random.fold_in(k_train, t), (batch_size,),
                               0, sel.size)
      loss, grads = jax.value_and_grad(loss_fn)(params, idx)
      updates, state = tx.update(grads, state, params)
      return (optax.apply_updates(params, updates), state), loss

    (params, _), losses = jax.lax.scan(step, (params, tx.init(params)),
                                       jnp.arange(num_steps))
    return params, losses

  params, _ = run(params)
  model = nnx.merge(graphdef, params)
  emb_fn = jax.jit(lambda rows: model.encoder.embed_from(states[rows],
                                                         mask[rows], start))
  emb = jnp.concatenate([emb_fn(jnp.arange(s, min(s + 64, len(texts))))
                         for s in range(0, len(texts), 64)])
  zp = emb[:n]
  ec = emb[n:].reshape(n, k, -1)
  head_graph, head_params = nnx.split(model.head)
  oracle = oracles.LearnedOracle(graphdef=head_graph, params=head_params,
                                 prompt_features=zp, candidate_features=ec)
  return oracle, model
