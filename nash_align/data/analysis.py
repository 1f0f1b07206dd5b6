"""Majority analysis of real preference data: cycles, lotteries, bootstrap.

For a dataset's pooled counts ``C`` ``[n, n]`` (``PairwiseJudgments`` or
``PrefLibElection``) and its preference matrix ``P = C / (C + C^T)``:

* :func:`analyze`: the strict majority graph ``P > 1/2``, the Condorcet
  winner or its absence, every cyclic triple and a shortest majority cycle
  (naming the models/candidates in them), the Smith set, the maximal lottery
  (equilibrium of the margin game ``P - 1/2``; Fishburn 1984) and the
  bipartisan set (support of the equilibrium of the majority game
  ``sign(P - 1/2)``; Laffond, Laslier & Le Breton 1993), each with its float64
  duality-gap certificate, and the Bradley-Terry maximum-likelihood ranking
  beside the majority (Copeland) ranking -- the reward-model view against the
  majority view of Liu et al., arXiv:2503.10990 and Xiao et al.,
  arXiv:2506.12350.
* :func:`bootstrap`: resamples the data (judgments, prompts or ballots) with
  replacement and reports the bootstrap probability of a majority cycle and
  of a Condorcet winner (with Monte Carlo Wilson intervals) and each
  alternative's maximal-lottery probability (bootstrap mean with a
  percentile interval).
* :func:`per_prompt_cycles`: for per-prompt tournaments, the share of prompts
  whose own majority graph has a cycle or no Condorcet winner, against what a
  homogeneous population model fitted to the pooled data predicts (Monte
  Carlo via ``nash_align.montecarlo.estimate``) with the same per-prompt
  judgment design.

Resampling. A dataset exposes ``units()``: rows ``(a, b, score, unit)`` and a
weight per unit; a resample draws ``sum(weight)`` units with probabilities
``weight / sum(weight)`` (multinomial) and adds each drawn unit's rows. Units
are single judgments (the default "resampling judgments"), whole prompts (a
cluster bootstrap that keeps a prompt's judgments together) or ballots
(PrefLib: distinct orders weighted by their multiplicity, so voters are
resampled). Draws use inverse-CDF sampling on the cumulative weights and a
scatter-add, vmapped over resamples and jitted: ``O(B * (draws + rows))``.
"""

import dataclasses
import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import bradley_terry
from nash_align import montecarlo
from nash_align import payoffs
from nash_align import preferences
from nash_align import social_choice
from nash_align import solvers
from nash_align.data import preflib
from nash_align.types import Estimate
from nash_align.types import NashResult

__all__ = (
    "BootstrapResult",
    "MajorityAnalysis",
    "PromptCycles",
    "analyze",
    "bootstrap",
    "bootstrap_counts",
    "kendall_tau_distance",
    "majority_ranking",
    "pad_preference_matrix",
    "per_prompt_cycles",
    "population_model",
    "prompt_design",
    "prompt_sampler",
    "shortest_cycle",
    "three_cycles",
)


# ----------------------------------------------------------- graph helpers
def _strict(P) -> np.ndarray:
  P = np.asarray(P, np.float64)
  return P > 0.5


def three_cycles(P) -> list[tuple[int, int, int]]:
  """Cyclic triples of the strict majority graph of ``P`` ``[n, n]``.

  Returns:
    Every triple as ``(i, j, k)`` with ``i > j > k > i`` (each ``>`` a strict
    majority), ``i`` the smallest index of the three; sorted. Their number is
    ``social_choice.count_3cycles(P)``.
  """
  G = _strict(P)
  # cyc[i, j, k] = G[i, j] & G[j, k] & G[k, i]; keep i < j and i < k (j != k
  # holds since G[j, j] is False), i.e. each cycle once, from its smallest.
  cyc = G[:, :, None] & G[None, :, :] & G.T[:, None, :]
  n = G.shape[-1]
  r = np.arange(n)
  cyc &= (r[:, None, None] < r[None, :, None]) & (r[:, None, None] <
                                                  r[None, None, :])
  return sorted(tuple(int(v) for v in t) for t in np.argwhere(cyc))


def shortest_cycle(P) -> list[int] | None:
  """A shortest directed cycle of the strict majority graph, or None.

  Breadth-first search from every vertex (``O(n^3)`` on the host; ``n`` is a
  few dozen here). A tournament with a cycle has a 3-cycle; with ties or
  unjudged pairs (no edge either way) the shortest cycle can be longer.

  Returns:
    ``[v_0, v_1, ..., v_{L-1}]`` with ``v_t > v_{t+1}`` and ``v_{L-1} > v_0``,
    starting at its smallest vertex; None when the majority is acyclic.
  """
  G = _strict(P)
  n = G.shape[-1]
  best = None
  for s in range(n):
    parent = {s: None}
    frontier = [s]
    found = None
    while frontier and found is None:
      nxt = []
      for u in frontier:
        for v in np.flatnonzero(G[u]):
          v = int(v)
          if v == s:
            found = u
            break
          if v not in parent:
            parent[v] = u
            nxt.append(v)
        if found is not None:
          break
      frontier = nxt
    if found is not None:
      path = []
      u = found
      while u is not None:
        path.append(u)
        u = parent[u]
      path = path[::-1]
      if best is None or len(path) < len(best):
        best = path
  if best is None:
    return None
  k = int(np.argmin(best))
  return best[k:] + best[:k]


def majority_ranking(P) -> np.ndarray:
  """Alternatives best-first by Copeland score, ties broken by Borda score.

  When the strict majority relation is a linear order this is that order;
  with a cycle it is one reasonable linearisation (Copeland's).

  Returns:
    int ``[n]`` permutation.
  """
  cop = np.asarray(social_choice.copeland_scores(P, validate=False),
                   np.float64)
  bor = np.asarray(social_choice.borda_scores(P, validate=False), np.float64)
  return np.lexsort((np.arange(cop.size), -bor, -cop)).astype(np.int32)


def kendall_tau_distance(r1, r2) -> int:
  """Number of pairs two rankings (best-first permutations) order differently."""
  p1 = np.argsort(np.asarray(r1))
  p2 = np.argsort(np.asarray(r2))
  n = p1.size
  i, j = np.triu_indices(n, 1)
  return int(np.sum(np.sign(p1[i] - p1[j]) != np.sign(p2[i] - p2[j])))


# Games are padded to these sizes so that one compiled program serves every
# dataset of up to that many alternatives (see ``pad_preference_matrix``).
_BUCKETS = (12, 32, 64)


def _bucket(n: int) -> int:
  return next((b for b in _BUCKETS if b >= n), n)


def pad_preference_matrix(P, size: int, num_active=None) -> jax.Array:
  """Pads ``P`` with dummy alternatives that every real one beats surely.

  Returns ``[..., size, size]``: the first ``num_active`` alternatives keep
  their preferences, each beats every other one surely (``P_pad[i, d] = 1``),
  and those others (the ``size - n`` new ones and, with ``num_active < n``,
  the last ``n - num_active`` of ``P``) are ordered among themselves by
  index, a transitive order. Every question asked of the first
  ``num_active`` alternatives keeps its answer: Condorcet winner, cycles,
  transitivity of the majority relation and the Smith set are those of
  ``P[:num_active, :num_active]``; Copeland and Borda scores of real
  alternatives rise by the number of dummies; and no equilibrium of the
  margin or majority game puts mass on a dummy (see
  ``docs/padding.md``). A traced ``num_active`` lets a sweep over ``n``
  share one compiled program of size ``size``.

  Args:
    P: ``[..., n, n]`` preference matrix.
    size: ``>= n`` (static).
    num_active: number of real alternatives, ``2 <= num_active <= n`` (an
      int or an int32 scalar, may be traced); default ``n``.

  Returns:
    ``[..., size, size]`` preference matrix of ``P``'s dtype.
  """
  P = jnp.asarray(P)
  n = P.shape[-1]
  if size < n:
    raise ValueError(f"size must be >= n = {n}, got {size}.")
  if num_active is None:
    if size == n:
      return P
    num_active = n
  elif not isinstance(num_active, jax.core.Tracer):
    if not 2 <= int(num_active) <= n:
      raise ValueError(
          f"num_active must be in [2, n = {n}], got {int(num_active)}.")
  if size > n:
    P = jnp.pad(P, [(0, 0)] * (P.ndim - 2) + [(0, size - n)] * 2)
  idx = jnp.arange(size)
  active = idx < num_active
  ai, aj = active[:, None], active[None, :]
  order = jnp.where(idx[:, None] < idx[None, :], 1.0,
                    jnp.where(idx[:, None] == idx[None, :], 0.5, 0.0))
  one, zero = jnp.ones((), P.dtype), jnp.zeros((), P.dtype)
  return jnp.where(ai & aj, P,
                   jnp.where(ai, one, jnp.where(aj, zero,
                                                order.astype(P.dtype))))


def _equilibrium(P, payoff) -> tuple[NashResult, np.ndarray]:
  """Equilibrium of ``payoff(P)`` (``P`` ``[..., n, n]``) and its float64 gap.

  Solved by ``solvers.solve`` on the padded game (eager: streamed, certified
  in float64, uncertified games re-solved by the LP); the strategies are cut
  back to the ``n`` real alternatives and certified on the unpadded game.
  """
  n = P.shape[-1]
  res = solvers.solve(payoff(pad_preference_matrix(P, _bucket(n))),
                      fallback="lp")
  row = np.asarray(res.row, np.float64)[..., :n]
  col = np.asarray(res.col, np.float64)[..., :n]
  row /= row.sum(-1, keepdims=True)
  col /= col.sum(-1, keepdims=True)
  A = np.asarray(payoff(P), np.float64)
  gap = solvers.duality_gap(A, row, col)
  value = np.einsum("...i,...ij,...j->...", row, A, col)
  return NashResult(row=row, col=col, value=value, gap=gap,
                    iterations=np.asarray(res.iterations),
                    converged=np.asarray(res.converged),
                    row_support=np.asarray(res.row_support)[..., :n],
                    col_support=np.asarray(res.col_support)[..., :n]), gap


# -------------------------------------------------------------- analysis
# Probability above which an alternative is in an equilibrium's support (as
# social_choice.bipartisan_set's default).
_SUPPORT_TOL = 1e-6


@jax.jit
def _pooled_stats(P):
  """The social-choice outputs of one ``P`` ``[n, n]``, in one compiled call."""
  kw = {"validate": False}
  return {
      "majority": social_choice.majority_graph(P, **kw),
      "condorcet_winner": social_choice.condorcet_winner(P, **kw),
      "weak_condorcet_winners": social_choice.weak_condorcet_winners(P, **kw),
      "has_cycle": social_choice.has_condorcet_cycle(P, **kw),
      "smith_set": social_choice.smith_set(P, **kw),
      "copeland": social_choice.copeland_scores(P, **kw),
      "borda": social_choice.borda_scores(P, **kw),
  }


@functools.partial(jax.jit, static_argnames="num_steps")
def _bt_fit(c, num_steps):
  return bradley_terry.fit_with_info(c, num_steps=num_steps, validate=False)


@dataclasses.dataclass(frozen=True)
class MajorityAnalysis:
  """Majority structure of one preference matrix (host numpy arrays).

  Attributes:
    alternatives: names, index ``i`` of every array.
    counts: ``[n, n]`` float64 pooled counts.
    P: ``[n, n]`` float64 preference matrix.
    majority: ``[n, n]`` bool strict majority graph ``P > 1/2``.
    condorcet_winner: index or -1.
    weak_condorcet_winners: ``[n]`` bool.
    has_cycle: whether the strict majority has a directed cycle.
    cycles3: cyclic triples ``(i, j, k)`` (``i > j > k > i``).
    shortest_cycle: a shortest cycle (list of indices) or None.
    smith_set: ``[n]`` bool.
    maximal_lottery: equilibrium of the margin game ``P - 1/2``.
    maximal_lottery_gap: float64 duality gap of it (the certificate).
    bipartisan: equilibrium of the majority game ``sign(P - 1/2)``.
    bipartisan_gap: float64 duality gap of it.
    bipartisan_set: ``[n]`` bool support of ``bipartisan`` (probability >
      1e-6), as ``social_choice.bipartisan_set(P)`` defines it.
    bt_scores: ``[n]`` Bradley-Terry MLE log-strengths (centred).
    bt_converged: whether the BT fit converged (the MLE exists iff the
      "beats" graph is strongly connected).
    bt_ranking: ``[n]`` best-first by ``bt_scores``.
    majority_ranking: ``[n]`` best-first by Copeland, then Borda.
    ranking_distance: Kendall tau distance between the two rankings.
  """

  alternatives: list[str]
  counts: np.ndarray
  P: np.ndarray
  majority: np.ndarray
  condorcet_winner: int
  weak_condorcet_winners: np.ndarray
  has_cycle: bool
  cycles3: list
  shortest_cycle: list | None
  smith_set: np.ndarray
  maximal_lottery: NashResult
  maximal_lottery_gap: float
  bipartisan: NashResult
  bipartisan_gap: float
  bipartisan_set: np.ndarray
  bt_scores: np.ndarray
  bt_converged: bool
  bt_ranking: np.ndarray
  majority_ranking: np.ndarray
  ranking_distance: int

  def names(self, indices) -> list[str]:
    """Names of alternatives given as indices or a boolean mask."""
    idx = np.asarray(indices)
    if idx.dtype == bool:
      idx = np.flatnonzero(idx)
    return [self.alternatives[int(i)] for i in idx]

  def summary(self) -> dict[str, Any]:
    """One row of plain values for a table."""
    cw = self.condorcet_winner
    cyc = self.shortest_cycle
    return {
        "n": len(self.alternatives),
        "condorcet_winner": self.alternatives[cw] if cw >= 0 else "none",
        "cycle": ("none" if cyc is None else
                  " > ".join(self.names(cyc + cyc[:1]))),
        "num_3cycles": len(self.cycles3),
        "smith_set": ", ".join(self.names(self.smith_set)),
        "bipartisan_set": ", ".join(self.names(self.bipartisan_set)),
        "maximal_lottery": ", ".join(
            f"{self.alternatives[i]} {p:.3f}"
            for i, p in enumerate(np.asarray(self.maximal_lottery.row))
            if p > 1e-6),
        "ml_gap": float(self.maximal_lottery_gap),
        "bt_ranking": " > ".join(self.names(self.bt_ranking)),
        "majority_ranking": " > ".join(self.names(self.majority_ranking)),
        "kendall_distance": self.ranking_distance,
    }


def analyze(counts, alternatives: Sequence[str] | None = None, *,
            bt_steps: int = 100) -> MajorityAnalysis:
  """Majority analysis of pooled counts (see the module docstring).

  Args:
    counts: ``[n, n]`` pairwise counts (``C[i, j]`` = judgments of ``i`` over
      ``j``, ties split), e.g. ``dataset.counts()``; or a dataset with a
      ``counts()`` method and ``alternatives``.
    alternatives: names (default: the dataset's, else ``"0".."n-1"``).
    bt_steps: Newton steps of the Bradley-Terry fit.

  Returns:
    A :class:`MajorityAnalysis`. Everything is computed in float64 on the
    host except the library calls (social_choice, bradley_terry, solvers),
    which run in the default dtype.
  """
  if hasattr(counts, "counts"):
    if alternatives is None:
      alternatives = counts.alternatives
    counts = counts.counts()
  c = np.asarray(counts, np.float64)
  if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 2:
    raise ValueError(f"counts must be [n, n] with n >= 2, got {c.shape}.")
  if not np.all(np.isfinite(c)) or np.any(c < 0):
    raise ValueError("counts must be finite and non-negative.")
  n = c.shape[0]
  alternatives = (list(alternatives) if alternatives is not None
                  else [str(i) for i in range(n)])
  if len(alternatives) != n:
    raise ValueError(f"alternatives has {len(alternatives)} names for n = {n}.")
  Pj = preferences.preference_matrix(jnp.asarray(c))
  P = np.asarray(Pj, np.float64)
  stats = jax.device_get(_pooled_stats(pad_preference_matrix(Pj, _bucket(n))))
  stats = {k: v[..., :n, :n] if v.ndim == 2 else v[..., :n] if v.ndim == 1
           else v for k, v in stats.items()}
  ml, ml_gap = _equilibrium(Pj, payoffs.margin)
  bp, bp_gap = _equilibrium(Pj, payoffs.majority)
  fit = _bt_fit(jnp.asarray(c), bt_steps)
  bt = np.asarray(fit.scores, np.float64)
  bt_rank = np.argsort(-bt, kind="stable").astype(np.int32)
  maj_rank = np.lexsort((np.arange(n), -stats["borda"],
                         -stats["copeland"])).astype(np.int32)
  return MajorityAnalysis(
      alternatives=alternatives,
      counts=c,
      P=P,
      majority=stats["majority"],
      condorcet_winner=int(stats["condorcet_winner"]),
      weak_condorcet_winners=stats["weak_condorcet_winners"],
      has_cycle=bool(stats["has_cycle"]),
      cycles3=three_cycles(P),
      shortest_cycle=shortest_cycle(P),
      smith_set=stats["smith_set"],
      maximal_lottery=ml,
      maximal_lottery_gap=float(ml_gap),
      bipartisan=bp,
      bipartisan_gap=float(bp_gap),
      bipartisan_set=bp.row > _SUPPORT_TOL,
      bt_scores=bt,
      bt_converged=bool(np.asarray(fit.converged)),
      bt_ranking=bt_rank,
      majority_ranking=maj_rank,
      ranking_distance=kendall_tau_distance(bt_rank, maj_rank),
  )


# ------------------------------------------------------------- bootstrap
@functools.partial(jax.jit, static_argnames=("num_alternatives", "num_draws"))
def _resample(keys, a, b, score, unit, cum_weight, num_alternatives,
              num_draws):
  """``[B, n, n]`` counts of ``B`` multinomial resamples of the units."""
  n = num_alternatives
  num_units = cum_weight.shape[0]
  total = cum_weight[-1]
  flat_ab = a * n + b
  flat_ba = b * n + a

  def one(key):
    u = jax.random.uniform(key, (num_draws,), dtype=cum_weight.dtype) * total
    drawn = jnp.clip(jnp.searchsorted(cum_weight, u, side="right"), 0,
                     num_units - 1)
    m = jnp.zeros((num_units,), score.dtype).at[drawn].add(1.0)
    w = m[unit]
    c = jnp.zeros((n * n,), score.dtype)
    c = c.at[flat_ab].add(w * score).at[flat_ba].add(w * (1.0 - score))
    return c.reshape(n, n)

  return jax.vmap(one)(keys)


def bootstrap_counts(key, units, num_alternatives: int, num_resamples: int,
                     dtype=None, chunk_size: int = 256) -> jax.Array:
  """Bootstrap resamples of pooled counts.

  Args:
    key: PRNG key; it is consumed (resample ``r`` uses ``fold_in(key, r)``,
      so a resample does not depend on how many are drawn).
    units: ``(a [R], b [R], score [R], unit [R], weight [U])`` as returned by
      ``dataset.units()``: row ``r`` adds ``score[r]`` to ``C[a, b]`` and
      ``1 - score[r]`` to ``C[b, a]`` once per draw of unit ``unit[r]``.
    num_alternatives: ``n``.
    num_resamples: ``B``.
    dtype: float dtype (None: float32, float64 with x64).
    chunk_size: resamples per compiled call (memory ``O(chunk_size *
      sum(weight))``); the result does not depend on it.

  Returns:
    ``[B, n, n]`` resampled counts; each draws ``sum(weight)`` units.
  """
  a, b, score, unit, weight = units
  weight = np.asarray(weight)
  if weight.ndim != 1 or weight.size < 1 or np.any(weight < 0) or (
      weight.sum() < 1):
    raise ValueError("units weight must be a non-empty [U] array of "
                     "non-negative counts with a positive sum.")
  if int(num_resamples) < 1:
    raise ValueError(f"num_resamples must be >= 1, got {num_resamples}.")
  if int(chunk_size) < 1:
    raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
  dt = jax.dtypes.canonicalize_dtype(jnp.float64) if dtype is None else dtype
  B = int(num_resamples)
  chunk = int(chunk_size)
  # Cumulative weights in float32 are exact up to 2**24 units/draws.
  cum = jnp.asarray(np.cumsum(weight), dt)
  args = (jnp.asarray(a, jnp.int32), jnp.asarray(b, jnp.int32),
          jnp.asarray(score, dt), jnp.asarray(unit, jnp.int32), cum)
  out = []
  for start in range(0, B, chunk):
    # Every chunk has the same shape (one compilation for any B); the
    # surplus resamples of the last one are dropped.
    idx = jnp.arange(start, start + chunk)
    keys = jax.vmap(lambda r: jax.random.fold_in(key, r))(idx)
    out.append(_resample(keys, *args, int(num_alternatives),
                         int(weight.sum()))[:B - start])
  return jnp.concatenate(out, axis=0)


@jax.jit
def _majority_stats(P):
  return (social_choice.has_condorcet_cycle(P, validate=False),
          social_choice.condorcet_winner(P, validate=False))


@dataclasses.dataclass(frozen=True)
class BootstrapResult:
  """Bootstrap distribution of the majority structure.

  Attributes:
    p_cycle: :class:`Estimate` of the probability that a resample's strict
      majority graph has a cycle (Wilson interval for the Monte Carlo error).
    p_condorcet_winner: the same for "has a Condorcet winner".
    winner_frequency: ``[n]`` share of resamples in which each alternative is
      the Condorcet winner.
    lottery: :class:`Estimate` with ``[n]`` fields: each alternative's
      maximal-lottery probability -- bootstrap mean, standard deviation, and
      the percentile interval ``[low, high]``.
    lottery_gap: largest duality gap over the resampled lotteries.
    num_resamples: ``B``.
    by: the resampling unit.
  """

  p_cycle: Estimate
  p_condorcet_winner: Estimate
  winner_frequency: np.ndarray
  lottery: Estimate
  lottery_gap: float
  num_resamples: int
  by: str


def _proportion(x, confidence: float) -> Estimate:
  """Share of True in the bool array ``x`` ``[N]``, with its Wilson interval."""
  x = np.asarray(x)
  total = x.size
  k = int(np.sum(x))
  low, high = montecarlo.wilson_interval(k, total, confidence)
  p = k / total
  return Estimate(mean=p, stderr=float(np.sqrt(p * (1 - p) / total)),
                  low=float(low), high=float(high), num_samples=total)


def bootstrap(key, dataset, num_resamples: int = 200, *, by: str = "judgment",
              confidence: float = 0.95) -> BootstrapResult:
  """Bootstrap of cycles, Condorcet winners and maximal lotteries.

  Args:
    key: PRNG key; it is consumed.
    dataset: a ``PairwiseJudgments`` or ``PrefLibElection``.
    num_resamples: ``B``.
    by: resampling unit: ``"judgment"`` or ``"prompt"`` for judgment tables;
      ignored for elections (ballots are resampled).
    confidence: interval level.

  Returns:
    A :class:`BootstrapResult`. The lotteries of the ``B`` resampled games are
    solved in one batched call (``solvers.solve`` with the LP fallback) and
    certified by their float64 duality gaps.
  """
  if not 0.0 < confidence < 1.0:
    raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
  if isinstance(dataset, preflib.PrefLibElection):
    units = dataset.units()
    by = "ballot"
  else:
    units = dataset.units(by)
  n = dataset.num_alternatives
  c = bootstrap_counts(key, units, n, num_resamples)
  P = preferences.preference_matrix(c)
  cyc, cw = jax.device_get(_majority_stats(pad_preference_matrix(P, _bucket(n))))
  B = int(num_resamples)
  prob = lambda x: _proportion(x, confidence)

  ml, gap = _equilibrium(P, payoffs.margin)
  rows = ml.row
  q = (1.0 - confidence) / 2.0
  lottery = Estimate(mean=rows.mean(0), stderr=rows.std(0, ddof=1),
                     low=np.quantile(rows, q, axis=0),
                     high=np.quantile(rows, 1.0 - q, axis=0), num_samples=B)
  cw = np.asarray(cw)
  freq = np.bincount(cw[cw >= 0], minlength=n)[:n] / B
  return BootstrapResult(p_cycle=prob(cyc), p_condorcet_winner=prob(cw >= 0),
                         winner_frequency=freq, lottery=lottery,
                         lottery_gap=float(np.max(gap)), num_resamples=B,
                         by=by)


# ------------------------------------------------- per-prompt tournaments
def prompt_design(dataset) -> np.ndarray:
  """int32 ``[T, n, n]``: judgments of each prompt with ``a`` shown first and
  ``b`` second (``D[t, a, b]``), prompts in ``dataset.prompts`` order."""
  index = {p: t for t, p in enumerate(dataset.prompts)}
  rows = np.fromiter((index[p] for p in dataset.prompt.tolist()), np.int64,
                     count=dataset.num_judgments)
  n = dataset.num_alternatives
  d = np.zeros((len(index), n, n), np.int32)
  np.add.at(d, (rows, dataset.model_a, dataset.model_b), 1)
  return d


def population_model(dataset, kind: str = "pooled"):
  """Outcome probabilities of one judgment, fitted to the pooled data.

  Args:
    dataset: a ``PairwiseJudgments``.
    kind: ``"pooled"``: every judgment of ``a`` (shown first) against ``b``
      is drawn from the pooled frequencies of that ordered pair (keeps
      position bias and pair-specific tie rates); ``"bradley_terry"``: a
      Bradley-Terry model fitted to the pooled counts with the pooled tie rate
      ``t``, ``Pr(a wins) = (1 - t) sigma(r_a - r_b)``, ``Pr(tie) = t``.

  Returns:
    ``(p_win [n, n], p_tie [n, n])`` float64: outcome probabilities for ``a``
    shown first against ``b`` (zero for ordered pairs never judged).
  """
  n = dataset.num_alternatives
  a, b, s = dataset.model_a, dataset.model_b, dataset.score
  if kind == "pooled":
    total = np.zeros((n, n))
    win = np.zeros((n, n))
    tie = np.zeros((n, n))
    np.add.at(total, (a, b), 1.0)
    np.add.at(win, (a, b), (s == 1.0).astype(float))
    np.add.at(tie, (a, b), (s == 0.5).astype(float))
    safe = np.maximum(total, 1.0)
    return win / safe, tie / safe
  if kind == "bradley_terry":
    scores = np.asarray(_bt_fit(dataset.counts(), 100).scores, np.float64)
    t = dataset.num_ties / dataset.num_judgments
    p = 1.0 / (1.0 + np.exp(-(scores[:, None] - scores[None, :])))
    off = 1.0 - np.eye(n)
    return (1.0 - t) * p * off, t * off
  raise ValueError(f"kind must be 'pooled' or 'bradley_terry', got {kind!r}.")


def prompt_sampler(design, p_win, p_tie, dtype=None):
  """``sample(key) -> P [n, n]``: a simulated prompt's preference matrix.

  A prompt's design ``D`` is drawn uniformly from ``design`` ``[T, n, n]``
  (``D[a, b]`` judgments with ``a`` shown first), then each judgment's outcome
  independently: ``a`` wins with ``p_win[a, b]``, tie with ``p_tie[a, b]``,
  else ``b`` wins; ties split half-half in the counts.
  """
  design = jnp.asarray(design, jnp.int32)
  max_k = max(int(np.max(np.asarray(design))), 1)
  dt = jax.dtypes.canonicalize_dtype(jnp.float64) if dtype is None else dtype
  pw = jnp.asarray(p_win, dt)
  pt = jnp.asarray(p_tie, dt)
  n = pw.shape[-1]

  def sample(key):
    k_design, k_out = jax.random.split(key)
    t = jax.random.randint(k_design, (), 0, design.shape[0])
    d = design[t]  # [n, n]
    u = jax.random.uniform(k_out, (max_k, n, n), dtype=dt)
    score = jnp.where(u < pw[None], 1.0,
                      jnp.where(u < (pw + pt)[None], 0.5, 0.0))
    live = jnp.arange(max_k)[:, None, None] < d[None]
    s = jnp.sum(jnp.where(live, score, 0.0), axis=0)  # a's score as first
    lost = jnp.sum(jnp.where(live, 1.0 - score, 0.0), axis=0)
    counts = s + lost.T
    return preferences.preference_matrix(counts.astype(dt), dtype=dt)

  return sample


@jax.jit
def _prompt_stats(P):
  return (social_choice.has_condorcet_cycle(P, validate=False),
          social_choice.condorcet_winner(P, validate=False) < 0)


@dataclasses.dataclass(frozen=True)
class PromptCycles:
  """Per-prompt majority structure, observed and predicted.

  Attributes:
    num_prompts: ``T``.
    observed_cycle: :class:`Estimate` of the share of prompts whose majority
      graph has a cycle (Wilson interval over prompts).
    observed_no_winner: the same for "no Condorcet winner".
    predicted: model name -> ``{"condorcet_cycle_exists": Estimate,
      "no_condorcet_winner": Estimate}`` from Monte Carlo.
    cycle_examples: up to ``max_examples`` ``(prompt id, [names in a
      shortest cycle])``.
  """

  num_prompts: int
  observed_cycle: Estimate
  observed_no_winner: Estimate
  predicted: dict
  cycle_examples: list


def per_prompt_cycles(key, dataset, num_samples: int = 2000,
                      models: Sequence[str] = ("pooled", "bradley_terry"),
                      confidence: float = 0.95, max_examples: int = 5,
                      chunk_size: int = 1024) -> PromptCycles:
  """Cycles in per-prompt tournaments against a population model.

  Args:
    key: PRNG key; it is consumed.
    dataset: a ``PairwiseJudgments`` with several models judged per prompt.
    num_samples: Monte Carlo prompts per population model.
    models: population models (see :func:`population_model`).
    confidence: interval level.
    max_examples: cyclic prompts to list.
    chunk_size: Monte Carlo chunk.

  Returns:
    A :class:`PromptCycles`.
  """
  ids, per = dataset.per_prompt_array()
  P = preferences.preference_matrix(per)
  cyc, nowin = (np.asarray(x) for x in _prompt_stats(P))
  T = len(ids)
  share = lambda x: _proportion(x, confidence)

  design = prompt_design(dataset)
  predicted = {}
  for m, name in enumerate(models):
    pw, pt = population_model(dataset, name)
    predicted[name] = montecarlo.estimate(
        jax.random.fold_in(key, m), prompt_sampler(design, pw, pt),
        ["condorcet_cycle_exists", "no_condorcet_winner"], int(num_samples),
        chunk_size=chunk_size, confidence=confidence, progress=False)
  examples = []
  Pn = np.asarray(P)
  for t in np.flatnonzero(cyc)[:max_examples]:
    cycle = shortest_cycle(Pn[t])
    examples.append((ids[t], [dataset.alternatives[i] for i in cycle]))
  return PromptCycles(num_prompts=T, observed_cycle=share(cyc),
                      observed_no_winner=share(nowin), predicted=predicted,
                      cycle_examples=examples)
