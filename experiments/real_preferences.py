r"""Condorcet cycles and maximal lotteries in real human and LLM-judge data.

The theory (Liu et al., arXiv:2503.10990; arXiv:2505.20627; Xiao et al.,
arXiv:2506.12350) says majority preferences can be cyclic, that a reward model
then cannot represent them, and that the preference game's equilibrium (the
maximal lottery) is mixed exactly when there is no Condorcet winner. This
experiment looks for those effects in the data shipped with the library
(``nash_align.data``): human and GPT-4 pairwise judgments of chat models
(PRD Vicuna-80, PandaLM, QLoRA) and PrefLib elections (APA, Glasgow, ERS,
Cujae survey).

For every dataset (``nash_align.data.analysis``): the strict majority graph,
Condorcet winner or cycles (naming the models in them), Smith set, maximal
lottery and bipartisan set with their float64 duality-gap certificates, the
Bradley-Terry ranking beside the majority ranking, and bootstrap
probabilities of a cycle / a Condorcet winner and intervals for each
maximal-lottery probability. For the per-prompt tournaments (QLoRA OA and
Vicuna-80, PRD human) it compares the share of prompts with a cycle and with no
Condorcet winner to two population models fitted to the pooled data (Monte
Carlo with the same per-prompt judgment design).

Results are written per dataset (``results/<fingerprint>/<name>.json``,
atomic; reused by a re-run of the same code and config), then ``summary.csv``, ``per_prompt.csv``,
``majority_graphs.png``, ``lotteries.png`` and ``report.md``.

Run: ``python -m experiments.real_preferences --workdir=/tmp/real
--config=experiments/configs/real_preferences.py:quick``.
"""

import functools
import os
import sys
import time

import jax
import numpy as np

from experiments import common
from nash_align import data
from nash_align.data import analysis

_COMMAND = ("python -m experiments.real_preferences --workdir={workdir} "
            "--config=experiments/configs/real_preferences.py:{preset}")


def _estimate(e) -> dict:
  return {"mean": e.mean, "stderr": e.stderr, "low": e.low, "high": e.high,
          "num_samples": e.num_samples}


def analyse_dataset(name: str, index: int, config) -> dict:
  """Runs the analysis of one dataset; returns a JSON-able dict."""
  ds = data.load(name)
  key = jax.random.fold_in(jax.random.key(int(config.seed)), index)
  start = time.perf_counter()
  res = analysis.analyze(ds)
  is_election = isinstance(ds, data.PrefLibElection)
  out = {
      "name": name,
      "kind": "election" if is_election else "judgments",
      "alternatives": res.alternatives,
      "size": ds.num_voters if is_election else ds.num_judgments,
      "ties": None if is_election else ds.num_ties,
      "counts": res.counts,
      "P": res.P,
      "majority": res.majority,
      "summary": res.summary(),
      "condorcet_winner": res.condorcet_winner,
      "cycles3": [list(c) for c in res.cycles3],
      "shortest_cycle": res.shortest_cycle,
      "smith_set": res.smith_set,
      "maximal_lottery": np.asarray(res.maximal_lottery.row),
      "maximal_lottery_gap": res.maximal_lottery_gap,
      "bipartisan_lottery": np.asarray(res.bipartisan.row),
      "bipartisan_gap": res.bipartisan_gap,
      "bt_scores": res.bt_scores,
      "bt_converged": res.bt_converged,
      "majority_ranking": res.majority_ranking,
      "bt_ranking": res.bt_ranking,
      "bootstrap": {},
  }
  units = ("ballot",) if is_election else tuple(config.bootstrap_by)
  for u, by in enumerate(units):
    b = analysis.bootstrap(jax.random.fold_in(key, u), ds,
                           int(config.num_resamples),
                           by="judgment" if is_election else by,
                           confidence=float(config.confidence))
    out["bootstrap"][by] = {
        "p_cycle": _estimate(b.p_cycle),
        "p_condorcet_winner": _estimate(b.p_condorcet_winner),
        "winner_frequency": b.winner_frequency,
        "lottery": _estimate(b.lottery),
        "lottery_gap": b.lottery_gap,
    }
  if name in config.per_prompt_datasets and not is_election:
    pc = analysis.per_prompt_cycles(
        jax.random.fold_in(key, 1000), ds, int(config.per_prompt_samples),
        models=tuple(config.population_models),
        confidence=float(config.confidence),
        chunk_size=int(config.chunk_size))
    out["per_prompt"] = {
        "num_prompts": pc.num_prompts,
        "observed_cycle": _estimate(pc.observed_cycle),
        "observed_no_winner": _estimate(pc.observed_no_winner),
        "predicted": {m: {k: _estimate(v) for k, v in est.items()}
                      for m, est in pc.predicted.items()},
        "cycle_examples": [[str(p), c] for p, c in pc.cycle_examples],
    }
  out["seconds"] = time.perf_counter() - start
  return out


# ------------------------------------------------------------------ plots
def _draw_majority_graph(ax, r, max_nodes: int):
  alts = r["alternatives"]
  order = list(r["majority_ranking"])[:max_nodes]
  k = len(order)
  P = np.asarray(r["P"])
  G = np.asarray(r["majority"], bool)
  # Edges on a cycle: i -> j with j reaching i (transitive closure).
  reach = G.copy()
  for _ in range(len(alts)):
    reach = reach | ((reach.astype(int) @ reach.astype(int)) > 0)
  angle = np.pi / 2 - 2 * np.pi * np.arange(k) / k
  xy = np.stack([np.cos(angle), np.sin(angle)], 1)
  smith = np.asarray(r["smith_set"], bool)
  for a in range(k):
    for b in range(k):
      i, j = order[a], order[b]
      if not G[i, j]:
        continue
      on_cycle = reach[j, i]
      margin = abs(P[i, j] - 0.5)
      ax.annotate(
          "", xy=xy[b] * 0.88 + xy[a] * 0.0, xytext=xy[a] * 0.88,
          arrowprops=dict(
              arrowstyle="-|>", color="tab:red" if on_cycle else "0.55",
              lw=0.6 + 6 * margin, alpha=0.9 if on_cycle else 0.5,
              shrinkA=9, shrinkB=9))
  for a in range(k):
    i = order[a]
    face = ("gold" if i == r["condorcet_winner"] else
            "tab:orange" if smith[i] else "white")
    ax.scatter(*xy[a] * 0.88, s=260, c=face, edgecolors="k", zorder=3)
    ax.text(*(xy[a] * 1.12), alts[i], ha="center", va="center", fontsize=7)
  shown = "" if k == len(alts) else f" (top {k} of {len(alts)})"
  ax.set_title(f"{r['name']}{shown}", fontsize=9)
  ax.set_xlim(-1.45, 1.45)
  ax.set_ylim(-1.3, 1.3)
  ax.set_aspect("equal")
  ax.axis("off")


def _figures(results, workdir, config) -> tuple[str, str]:
  plt = common.pyplot()
  cols = 4
  rows = -(-len(results) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows))
  axes = np.atleast_1d(axes).reshape(-1)
  for ax, r in zip(axes, results):
    _draw_majority_graph(ax, r, int(config.max_graph_nodes))
  for ax in axes[len(results):]:
    ax.axis("off")
  fig.suptitle("Strict majority graphs (arrow: majority preference, width ~ "
               "margin; red: on a cycle; gold: Condorcet winner; orange: "
               "Smith set)", fontsize=10)
  graphs = "majority_graphs.png"
  common.save_figure(fig, os.path.join(workdir, graphs))

  fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows))
  axes = np.atleast_1d(axes).reshape(-1)
  for ax, r in zip(axes, results):
    by = next(iter(r["bootstrap"]))
    boot = r["bootstrap"][by]["lottery"]
    ml = np.asarray(r["maximal_lottery"])
    low, high = np.asarray(boot["low"]), np.asarray(boot["high"])
    # Alternatives with any mass in the point estimate or the interval.
    show = np.flatnonzero((ml > 1e-6) | (high > 1e-6))
    if show.size == 0:
      show = np.arange(len(ml))
    show = show[np.argsort(-ml[show], kind="stable")][:12]
    x = np.arange(show.size)
    ax.bar(x, ml[show], color="tab:blue", alpha=0.7, label="maximal lottery")
    mean = np.asarray(boot["mean"])[show]
    yerr = np.maximum(np.stack([mean - low[show], high[show] - mean]), 0.0)
    ax.errorbar(x, mean, yerr=yerr,
                fmt="o", color="k", ms=3, capsize=3,
                label=f"bootstrap mean, {int(100 * config.confidence)}% "
                "interval")
    ax.set_xticks(x)
    ax.set_xticklabels([r["alternatives"][i] for i in show], rotation=45,
                       ha="right", fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{r['name']} (bootstrap by {by})", fontsize=9)
  for ax in axes[len(results):]:
    ax.axis("off")
  axes[0].legend(fontsize=7)
  fig.tight_layout()
  lotteries = "lotteries.png"
  common.save_figure(fig, os.path.join(workdir, lotteries))
  return graphs, lotteries


def _interval(e) -> str:
  return f"{e['mean']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def run(config, workdir: str) -> str:
  """Analyses every configured dataset; returns the report's markdown section."""
  os.makedirs(workdir, exist_ok=True)
  names = list(config.pairwise_datasets) + list(config.preflib_datasets)
  unknown = [n for n in names + list(config.per_prompt_datasets)
             if n not in data.DATASETS and n not in data.PREFLIB_DATASETS]
  if unknown:
    raise ValueError(f"unknown datasets in config: {unknown}.")
  # The rest of the config, checked before any dataset is analysed.
  bad_by = [b for b in config.bootstrap_by if b not in ("judgment", "prompt")]
  if bad_by or not config.bootstrap_by:
    raise ValueError(f"config.bootstrap_by must list 'judgment' and/or "
                     f"'prompt', got {tuple(config.bootstrap_by)}.")
  bad_models = [m for m in config.population_models
                if m not in ("pooled", "bradley_terry")]
  if bad_models:
    raise ValueError(f"unknown config.population_models {bad_models}; use "
                     "'pooled' and/or 'bradley_terry'.")
  for field in ("num_resamples", "per_prompt_samples", "chunk_size"):
    if int(config[field]) < 1:
      raise ValueError(f"config.{field} must be >= 1, got {config[field]}.")
  if not 0.0 < float(config.confidence) < 1.0:
    raise ValueError(
        f"config.confidence must be in (0, 1), got {config.confidence}.")
  start = time.perf_counter()
  cache = common.ResultCache(workdir, config, sys.modules[__name__],
                             subdir="results")
  results = [cache.get_or_compute(
      name, functools.partial(analyse_dataset, name, i, config))
             for i, name in common.progress(list(enumerate(names)),
                                            desc="real_preferences")]

  rows = []
  for r in results:
    s = r["summary"]
    row = {"dataset": r["name"], "kind": r["kind"], "n": s["n"],
           "judgments_or_voters": r["size"],
           "ties": "" if r["ties"] is None else r["ties"],
           "condorcet_winner": s["condorcet_winner"],
           "shortest_cycle": s["cycle"], "num_3cycles": s["num_3cycles"],
           "smith_set": s["smith_set"],
           "bipartisan_set": s["bipartisan_set"],
           "maximal_lottery": s["maximal_lottery"],
           "ml_gap": f"{r['maximal_lottery_gap']:.1e}",
           "bp_gap": f"{r['bipartisan_gap']:.1e}"}
    for by, b in r["bootstrap"].items():
      row[f"P(cycle) by {by}"] = _interval(b["p_cycle"])
      row[f"P(CW) by {by}"] = _interval(b["p_condorcet_winner"])
    row.update({"bt_ranking": s["bt_ranking"],
                "majority_ranking": s["majority_ranking"],
                "kendall_distance": s["kendall_distance"]})
    rows.append(row)
  common.write_csv(os.path.join(workdir, "summary.csv"), rows)

  prompt_rows = []
  for r in results:
    pp = r.get("per_prompt")
    if not pp:
      continue
    row = {"dataset": r["name"], "prompts": pp["num_prompts"],
           "cycle observed": _interval(pp["observed_cycle"])}
    for m, est in pp["predicted"].items():
      row[f"cycle {m}"] = _interval(est["condorcet_cycle_exists"])
    row["no CW observed"] = _interval(pp["observed_no_winner"])
    for m, est in pp["predicted"].items():
      row[f"no CW {m}"] = _interval(est["no_condorcet_winner"])
    prompt_rows.append(row)
  if prompt_rows:
    common.write_csv(os.path.join(workdir, "per_prompt.csv"), prompt_rows)
  graphs, lotteries = _figures(results, workdir, config)
  seconds = time.perf_counter() - start

  main_cols = ["dataset", "n", "judgments_or_voters", "ties",
               "condorcet_winner", "shortest_cycle", "num_3cycles",
               "smith_set", "maximal_lottery", "ml_gap", "bipartisan_set",
               "bp_gap"]
  boot_cols = ["dataset"] + [c for c in rows[0] if c.startswith("P(")]
  for r in rows[1:]:
    boot_cols += [c for c in r if c.startswith("P(") and c not in boot_cols]
  rank_cols = ["dataset", "majority_ranking", "bt_ranking",
               "kendall_distance"]
  cyclic = [r["name"] for r in results if r["shortest_cycle"] is not None]
  no_winner = [r["name"] for r in results if r["condorcet_winner"] < 0]
  mixed = [r["name"] for r in results
           if np.sum(np.asarray(r["maximal_lottery"]) > 1e-6) > 1]
  lines = [
      "## Real preference data: cycles and maximal lotteries",
      "",
      "Human and GPT-4 pairwise judgments of chat models and PrefLib "
      "elections, analysed with `nash_align.data.analysis` (ties split "
      "half-half; strict majority `P > 1/2`). Lotteries come with the float64 "
      "duality gap of the returned equilibrium (`ml_gap`: margin game "
      "`P - 1/2`; `bp_gap`: majority game `sign(P - 1/2)`).",
      "",
      f"Pooled majority relation has a cycle in: "
      f"{', '.join(cyclic) if cyclic else 'none'}; no Condorcet winner in: "
      f"{', '.join(no_winner) if no_winner else 'none'}; mixed maximal "
      f"lottery in: {', '.join(mixed) if mixed else 'none'}. (A cycle below "
      "a Condorcet winner leaves the lottery pure.) Where margins tie (an "
      "even electorate, ties, unjudged pairs) the maximal lottery need not be "
      "unique; the solver's equilibrium is shown, with its certificate.",
      "",
      common.markdown_table(rows, main_cols),
      f"Bootstrap ({config.num_resamples} resamples; judgment tables resample "
      "judgments or whole prompts, elections resample ballots): probability "
      "that the resampled majority has a cycle / a Condorcet winner, with "
      f"{int(100 * config.confidence)}% Wilson intervals for the resampling "
      "Monte Carlo error.",
      "",
      common.markdown_table(rows, boot_cols),
      "Majority (Copeland, then Borda) ranking against the Bradley-Terry "
      "maximum-likelihood ranking (RLHF's reward model) and their Kendall "
      "distance:",
      "",
      common.markdown_table(rows, rank_cols),
  ]
  if prompt_rows:
    lines += [
        "Per-prompt tournaments: share of prompts whose own majority graph "
        "has a cycle / no Condorcet winner (observed, Wilson interval over "
        "prompts) against population models fitted to the pooled data "
        f"({config.per_prompt_samples} Monte Carlo prompts each, same "
        "per-prompt design): `pooled` draws each judgment from the pooled "
        "outcome frequencies of its ordered pair (position bias kept), "
        "`bradley_terry` from a BT fit with the pooled tie rate.",
        "",
        common.markdown_table(prompt_rows),
    ]
    for r in results:
      pp = r.get("per_prompt")
      if pp and pp["cycle_examples"]:
        ex = "; ".join(f"prompt `{p}`: {' > '.join(c + c[:1])}"
                       for p, c in pp["cycle_examples"][:3])
        lines += [f"Cyclic prompts in {r['name']}: {ex}.", ""]
  lines += [
      f"![majority graphs]({graphs})",
      "",
      f"![maximal lotteries]({lotteries})",
      "",
      "Data: PRD (Li et al., arXiv:2307.02762, MIT), PandaLM (Wang et al., "
      "ICLR 2024, Apache-2.0), QLoRA (Dettmers et al., NeurIPS 2023, MIT), "
      "PrefLib (Mattei & Walsh, ADT 2013; GPL-3.0; APA: Popov, Popova & "
      "Regenwetter 2015; Glasgow: O'Neill, OpenSTV). Files, licenses and "
      "sources: `nash_align/data/files/`.",
      "",
      f"Computed in {seconds:.1f} s (preset `{config.preset}`). Reproduce: "
      f"`{_COMMAND.format(workdir=workdir, preset=config.preset)}`",
      "",
  ]
  report = "\n".join(lines)
  common.atomic_write_text(os.path.join(workdir, "report.md"), report)
  return report


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/real_preferences.py")
