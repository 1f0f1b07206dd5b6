r"""Does RLHF's Bradley-Terry reward respect pairwise majority? (2506.12350)

Xiao, Shi, Liu, Long and Su, "Theoretical Tensions in RLHF" (arXiv:2506.12350)
argue that the reward model fitted by RLHF, although it can violate pairwise
majority and Condorcet consistency, satisfies both under mild conditions on
the preference profile, and that a slight change of the reward objective
restores them for every profile. This experiment measures both claims on
sampled profiles. Only the paper's abstract could be checked: the condition
("majority dominance") and the modified objective are our own formalisation
consistent with the abstract (``docs/bradley_terry.md``), not the paper's
stated assumptions or formula; the abstract's third claim (preference
matching, preference equivalence and group preference matching for RLHF) is
not covered.

1. Draw a profile: ``m`` labelers each rank ``n`` responses (``MODELS``).
   Its pairwise counts ``c`` are balanced (every pair judged ``m`` times).
2. Fit the RLHF reward, the Bradley-Terry maximum-likelihood log-strengths
   (``bradley_terry.fit``, ridge ``bt_l2`` only to keep separable samples
   finite; on full rankings its ranking is the Borda ranking for any
   ``l2``), and the modified reward (``bradley_terry.fit_majority``: BT fitted
   to the per-pair majority labels, ranking = Copeland ranking).
3. Classify the profile by the condition of ``bradley_terry`` ("majority
   dominance": a majority winner of a pair does at least as well as the loser
   against every third response; implied by strong stochastic transitivity),
   and by whether a Condorcet winner exists and whether the majority relation
   is a strict linear order.
4. Record, for each reward: does its top response equal the Condorcet winner
   (strictly above all others), does its ranking reproduce a linear majority
   order (pairwise-majority consistency), and the fraction of strict majority
   pairs it orders the majority's way.

Theory predicts (``docs/bradley_terry.md``, Facts 2 and 3): under the
condition the BT reward agrees with the majority on every pair, so its
conditional rates are exactly 1; without it the BT reward can fail; the
modified reward's rates are exactly 1 for every profile. Conditional rates
come with Wilson intervals over the number of profiles meeting the condition.

Models (``MODELS``; all draw rankings via ``nash_align.preferences``):
  * ``plackett_luce``: one BTL/PL population, log-utilities ``sigma Z`` drawn
    per profile (population meets the condition; small samples may not).
  * ``mallows``: dispersion ``phi`` around ``0 > 1 > ... > n-1``.
  * ``impartial_culture``: uniform rankings (a knife-edge population; samples
    often violate the condition). Counts via ``impartial_culture_counts``.
  * ``luce_mixture``: ``G`` PL groups with random log-utilities (the Luce
    model of arXiv:2503.10990); heterogeneous groups violate the condition.
  * ``opposed_groups``: a majority group ``0 > 1 > ... > n-1`` and a minority
    ``1 > ... > n-1 > 0`` (PL with a large gap): 0 is the Condorcet winner,
    Borda and BT put 1 first. The condition fails by construction.

Run: ``python -m experiments.rlhf_majority --workdir=/tmp/rlhf
--config=experiments/configs/rlhf_majority.py:quick``.
"""

import functools
import os
import sys
import time
import zlib

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from nash_align import bradley_terry
from nash_align import montecarlo
from nash_align import preferences
from nash_align import social_choice

MODELS = ("impartial_culture", "luce_mixture", "mallows", "opposed_groups",
          "plackett_luce")
METHODS = ("bt", "majority")
METHOD_LABELS = {"bt": "BT reward (RLHF)",
                 "majority": "modified (majority-label BT)"}
# Scores closer than this count as tied (a tie never counts as agreement).
# Newton converges quadratically: Borda-tied responses get scores within
# ~1e-7 of each other, distinct ones differ by > 1e-2 at these sizes.
SCORE_TOL = 1e-4
# Per-profile indicators summed per cell.
SUMS = ("profiles", "cond", "cw", "cw_cond", "linear", "linear_cond",
        "bt_cw", "bt_cw_cond", "bt_linear", "bt_linear_cond",
        "majority_cw", "majority_cw_cond", "majority_linear",
        "majority_linear_cond", "maj_pairs", "maj_pairs_cond", "bt_pairs",
        "bt_pairs_cond", "majority_pairs", "majority_pairs_cond", "sst")


def _check_config(config):
  for model in config.models:
    if model not in MODELS:
      raise ValueError(f"Unknown model {model!r} in config.models; known: "
                       f"{', '.join(MODELS)}.")
  for n in config.num_alternatives:
    if int(n) < 3:
      raise ValueError(f"num_alternatives must be >= 3, got {n}.")
  for m in config.num_voters:
    if int(m) < 1:
      raise ValueError(f"num_voters must be >= 1, got {m}.")
  if int(config.num_samples) < 1 or int(config.chunk_size) < 1:
    raise ValueError("num_samples and chunk_size must be >= 1, got "
                     f"{config.num_samples} and {config.chunk_size}.")
  if float(config.majority_l2) <= 0 or float(config.bt_l2) < 0:
    raise ValueError("need majority_l2 > 0 and bt_l2 >= 0, got "
                     f"{config.majority_l2} and {config.bt_l2}.")
  if not 0 < float(config.opposed_share) < 1:
    raise ValueError(f"opposed_share must be in (0, 1), got "
                     f"{config.opposed_share}.")


# Config fields that the sampling and fitting code reads.
PARAMS = ("bt_l2", "luce_groups", "luce_sigma", "majority_l2", "mallows_phi",
          "opposed_gap", "opposed_share")


def sample_counts(key, model: str, n: int, m: int, batch: int, params):
  """Pairwise counts ``[batch, n, n]`` of ``batch`` profiles of ``m`` x ``n``.

  Args:
    key: PRNG key (consumed).
    model: a name in ``MODELS``.
    n: responses per profile.
    m: labelers per profile.
    batch: number of profiles.
    params: mapping with the fields in ``PARAMS``.

  Returns:
    int32 ``[batch, n, n]`` counts (every pair judged ``m`` times).
  """
  shape = (batch,)
  k_w, k_r = jax.random.split(key)
  sigma = float(params["luce_sigma"])
  if model == "impartial_culture":
    return preferences.impartial_culture_counts(k_r, m, n, shape=shape)
  if model == "mallows":
    rankings = preferences.mallows(k_r, m, n, float(params["mallows_phi"]),
                                   shape=shape, validate=False)
  elif model == "plackett_luce":
    weights = jnp.exp(sigma * jax.random.normal(k_w, (batch, n)))
    rankings = preferences.plackett_luce(k_r, weights, m, shape=shape,
                                         validate=False)
  elif model == "luce_mixture":
    rankings = preferences.luce_mixture(key, int(params["luce_groups"]), m, n,
                                        sigma, shape)
  elif model == "opposed_groups":
    gap = float(params["opposed_gap"])
    steps = jnp.arange(n, dtype=jnp.float32)
    major = -gap * steps  # 0 > 1 > ... > n-1
    minor = jnp.concatenate([jnp.full((1,), -gap * n), -gap * steps[:-1]])
    weights = jnp.broadcast_to(jnp.exp(jnp.stack([major, minor])),
                               (batch, 2, n))
    share = float(params["opposed_share"])
    probs = jnp.broadcast_to(jnp.array([share, 1 - share]), (batch, 2))
    rankings = preferences.population_mixture(k_r, weights, probs, m,
                                              shape=shape, validate=False)
  else:
    raise ValueError(f"Unknown model {model!r}; known: {', '.join(MODELS)}.")
  return preferences.pairwise_counts(rankings, validate=False)


def profile_statistics(counts, bt_l2, majority_l2):
  """Per-profile indicators ``{name: [B]}`` for counts ``[B, n, n]``."""
  n = counts.shape[-1]
  P = preferences.preference_matrix(counts, validate=False)
  G = social_choice.majority_graph(P, validate=False)  # [B, n, n]
  off = ~jnp.eye(n, dtype=bool)[None]
  strict = jnp.all(G | jnp.swapaxes(G, -1, -2) | ~off, axis=(-2, -1))
  linear = strict & social_choice.is_majority_transitive(P, validate=False)
  cw = social_choice.condorcet_winner(P, validate=False)  # [B]
  cond = bradley_terry.satisfies_majority_dominance(P)
  sst = bradley_terry.is_strongly_stochastically_transitive(P)
  scores = {
      "bt": bradley_terry.fit(counts, l2=bt_l2, validate=False),
      "majority": bradley_terry.fit_majority(counts, l2=majority_l2,
                                             validate=False),
  }
  out = {"profiles": jnp.ones_like(cond), "cond": cond, "sst": sst,
         "cw": cw >= 0, "linear": linear}
  maj_pairs = jnp.sum(G, axis=(-2, -1))
  out["maj_pairs"] = maj_pairs
  for name, s in scores.items():
    gap = s[:, :, None] - s[:, None, :]  # [B, n, n]
    agree = G & (gap > SCORE_TOL)
    n_agree = jnp.sum(agree, axis=(-2, -1))
    cw_safe = jnp.maximum(cw, 0)
    s_cw = jnp.take_along_axis(s, cw_safe[:, None], axis=-1)[:, 0]
    others = jnp.where(jnp.arange(n)[None, :] == cw_safe[:, None], -jnp.inf, s)
    out[f"{name}_cw"] = (cw >= 0) & (s_cw > jnp.max(others, -1) + SCORE_TOL)
    out[f"{name}_linear"] = linear & (n_agree == maj_pairs)
    out[f"{name}_pairs"] = n_agree
  for key in list(out):
    if key not in ("profiles", "cond", "sst"):
      out[f"{key}_cond"] = jnp.where(cond, out[key], 0)
  return {k: out[k] for k in SUMS}


# One statistic per summed indicator: picks it from the sampler's output.
_STATISTICS = {k: (lambda stats, k=k: stats[k]) for k in SUMS}


@functools.lru_cache(maxsize=None)
def _profile_sampler(n, m, params_items):
  """Batched sampler for ``montecarlo.estimate``: profiles -> indicators.

  ``sample(key, (B,), model_index)`` draws ``B`` profiles of ``MODELS[
  model_index]`` (:func:`sample_counts`; the index is traced, so every model
  shares one compiled program per ``(n, m)``) and returns their indicators
  ``{name: [B]}`` (:func:`profile_statistics`): the reward fits are computed
  once per profile and shared by all sums.
  """
  params = dict(params_items)

  def sample(key, shape, model_index):
    branches = [functools.partial(sample_counts, model=model, n=n, m=m,
                                  batch=shape[0], params=params)
                for model in MODELS]
    counts = jax.lax.switch(model_index, branches, key)
    return profile_statistics(counts, float(params["bt_l2"]),
                              float(params["majority_l2"]))

  sample.batched = True
  return sample


def _cell_key(seed, model, m, n):
  """The cell's key depends only on the seed and the cell, not on the order."""
  base = jax.random.key(seed)
  tag = zlib.crc32(f"{model}/m={m}/n={n}".encode()) & 0x7FFFFFFF
  return jax.random.fold_in(base, tag)


def run_cell(config, model, m, n):
  """Sums of the per-profile indicators over ``num_samples`` profiles.

  Drawn and reduced by ``montecarlo.estimate`` (streaming chunks, blocks of
  profiles keyed by ``fold_in(cell_key, block)``), so the sums depend only on
  the seed and the cell, not on ``chunk_size`` or the devices.
  """
  params = tuple(sorted((k, config[k]) for k in PARAMS))
  sample = _profile_sampler(int(n), int(m), params)
  est = montecarlo.estimate(
      _cell_key(int(config.seed), model, m, n), sample, _STATISTICS,
      int(config.num_samples), chunk_size=int(config.chunk_size),
      sampler_args=(jnp.int32(MODELS.index(model)),))
  # Integer sums, recovered exactly from the float64 means.
  return {k: int(round(float(e.mean) * e.num_samples))
          for k, e in est.items()}


def _rate(k, total, confidence):
  if total == 0:
    return float("nan"), float("nan"), float("nan")
  low, high = montecarlo.wilson_interval(k, total, confidence)
  return k / total, float(low), float(high)


def summarise(sums, confidence):
  """Conditional rates with Wilson intervals from one cell's sums."""
  row = {"profiles": sums["profiles"],
         "frac_condition": sums["cond"] / max(sums["profiles"], 1),
         "frac_sst": sums["sst"] / max(sums["profiles"], 1),
         "frac_cw": sums["cw"] / max(sums["profiles"], 1),
         "frac_linear": sums["linear"] / max(sums["profiles"], 1)}
  for method in METHODS:
    for what, base in (("cw", "cw"), ("linear", "linear")):
      for part, suffix in (("all", ""), ("cond", "_cond"), ("viol", "_viol")):
        if part == "viol":
          k = sums[f"{method}_{what}"] - sums[f"{method}_{what}_cond"]
          t = sums[base] - sums[f"{base}_cond"]
        else:
          k = sums[f"{method}_{what}{suffix}"]
          t = sums[f"{base}{suffix}"]
        p, lo, hi = _rate(k, t, confidence)
        name = f"{method}_{what}_{part}"
        row[name], row[name + "_low"], row[name + "_high"] = p, lo, hi
        row[f"n_{what}_{part}"] = t
    pairs = sums["maj_pairs"]
    row[f"{method}_pair_agreement"] = (sums[f"{method}_pairs"] / pairs
                                       if pairs else float("nan"))
  return row


def run_cells(config, workdir):
  """Runs every (model, m, n) cell, resuming from saved per-cell JSON.

  Each cell is saved by :class:`experiments.common.ResultCache` when it
  finishes and reused by a re-run of the same code and config, so a killed
  sweep resumes where it stopped.
  """
  _check_config(config)
  cells = [(model, int(m), int(n)) for model in config.models
           for m in config.num_voters for n in config.num_alternatives]
  cache = common.ResultCache(workdir, config, sys.modules[__name__])

  def compute(model, m, n):
    start = time.perf_counter()
    sums = run_cell(config, model, m, n)
    row = {"model": model, "num_voters": m, "num_alternatives": n}
    row.update(summarise(sums, float(config.confidence)))
    row["sums"] = sums
    row["seconds"] = round(time.perf_counter() - start, 3)
    logging.info("%s m=%d n=%d: bt_cw=%.3f maj_cw=%.3f", model, m, n,
                 row["bt_cw_all"], row["majority_cw_all"])
    return row

  return [cache.get_or_compute(f"rlhf_{model}_m{m}_n{n}",
                               functools.partial(compute, model, m, n))
          for model, m, n in common.progress(cells, desc="rlhf_majority")]


def pooled(rows, confidence):
  """Per-model rates pooled over the cells (sums added)."""
  out = {}
  for r in rows:
    acc = out.setdefault(r["model"], {k: 0 for k in SUMS})
    for k in SUMS:
      acc[k] += int(r["sums"][k])
  return {model: summarise(s, confidence) for model, s in out.items()}


def plot(pool, path):
  plt = common.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
  models = list(pool)
  bars = (("bt", "cond", "BT, condition holds"),
          ("bt", "viol", "BT, condition violated"),
          ("majority", "all", "modified objective, all profiles"))
  width = 0.8 / len(bars)
  x = np.arange(len(models))
  for ax, what, title in (
      (axes[0], "cw", "P(top reward = Condorcet winner | CW exists)"),
      (axes[1], "linear",
       "P(reward ranking = majority order | majority linear)")):
    for b, (method, part, label) in enumerate(bars):
      name = f"{method}_{what}_{part}"
      p = np.array([pool[mo][name] for mo in models], dtype=float)
      lo = np.array([pool[mo][name + "_low"] for mo in models], dtype=float)
      hi = np.array([pool[mo][name + "_high"] for mo in models], dtype=float)
      ok = np.isfinite(p)
      ax.bar(x[ok] + (b - 1) * width, p[ok], width,
             yerr=[p[ok] - lo[ok], hi[ok] - p[ok]], capsize=2, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(models, rotation=20, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
  axes[0].legend(fontsize=8, loc="lower left")
  common.save_figure(fig, path)


def run(config, workdir: str) -> str:
  """Runs the sweep; writes CSV/JSON/PNG under ``workdir``; returns markdown."""
  start = time.perf_counter()
  rows = run_cells(config, workdir)
  flat = [{k: v for k, v in r.items() if k != "sums"} for r in rows]
  common.write_csv(os.path.join(workdir, "rlhf_majority.csv"), flat)
  pool = pooled(rows, float(config.confidence))
  common.write_json(os.path.join(workdir, "rlhf_majority_pooled.json"), pool)
  plot(pool, os.path.join(workdir, "rlhf_majority.png"))
  seconds = time.perf_counter() - start
  common.write_json(os.path.join(workdir, "timing.json"),
                    {"seconds": seconds, "preset": config.preset})

  def fmt(p, n):
    return "n/a" if not n else f"{p:.3f} ({n})"

  pooled_table = common.markdown_table([
      {"model": mo,
       "P(condition)": s["frac_condition"],
       "BT top=CW, cond": fmt(s["bt_cw_cond"], s["n_cw_cond"]),
       "BT top=CW, viol": fmt(s["bt_cw_viol"], s["n_cw_viol"]),
       "mod. top=CW": fmt(s["majority_cw_all"], s["n_cw_all"]),
       "BT = maj. order, cond": fmt(s["bt_linear_cond"],
                                     s["n_linear_cond"]),
       "BT = maj. order, viol": fmt(s["bt_linear_viol"],
                                     s["n_linear_viol"]),
       "mod. = maj. order": fmt(s["majority_linear_all"],
                                s["n_linear_all"]),
       "BT pair agr.": s["bt_pair_agreement"],
       "mod. pair agr.": s["majority_pair_agreement"]}
      for mo, s in pool.items()])
  cell_table = common.markdown_table([
      {"model": r["model"], "m": r["num_voters"], "n": r["num_alternatives"],
       "P(cond)": r["frac_condition"], "P(CW)": r["frac_cw"],
       "BT top=CW": fmt(r["bt_cw_all"], r["n_cw_all"]),
       "mod. top=CW": fmt(r["majority_cw_all"], r["n_cw_all"]),
       "BT=maj. order": fmt(r["bt_linear_all"], r["n_linear_all"]),
       "mod.=maj. order": fmt(r["majority_linear_all"], r["n_linear_all"])}
      for r in rows])
  ok_cond = all(
      (not s["n_cw_cond"] or s["bt_cw_cond"] == 1.0)
      and (not s["n_linear_cond"] or s["bt_linear_cond"] == 1.0)
      for s in pool.values())
  ok_mod = all(
      (not s["n_cw_all"] or s["majority_cw_all"] == 1.0)
      and (not s["n_linear_all"] or s["majority_linear_all"] == 1.0)
      for s in pool.values())
  return (
      "## RLHF reward vs pairwise majority (motivated by arXiv:2506.12350)"
      "\n\nThe condition and the modified objective are our formalisation "
      "of the abstract (the paper's body was not checked); its third claim "
      "(preference matching / equivalence / group matching) is not "
      "covered.\n\n"
      f"Preset `{config.preset}`: {config.num_samples} sampled profiles per "
      f"cell (models x m in {tuple(config.num_voters)} x n in "
      f"{tuple(config.num_alternatives)}), every labeler ranks all n "
      f"responses; {seconds:.1f} s. The RLHF reward is the Bradley-Terry MLE "
      "(`bradley_terry.fit`), the modified reward fits BT to per-pair "
      "majority labels (`bradley_terry.fit_majority`). 'condition' is the "
      "majority-dominance condition of `bradley_terry` (implied by strong "
      "stochastic transitivity). Rates are conditional on the event named; "
      "the number of profiles in that event is in parentheses; Wilson "
      f"{config.confidence:.0%} intervals in `rlhf_majority.csv`.\n\n"
      "![RLHF vs majority](rlhf_majority.png)\n\n"
      "Pooled over the cells of each model:\n\n" + pooled_table +
      f"\nTheory check: BT agrees with the majority whenever the condition "
      f"holds: **{'yes' if ok_cond else 'NO'}**; the modified objective is "
      f"Condorcet and pairwise-majority consistent on every profile: "
      f"**{'yes' if ok_mod else 'NO'}**.\n\nPer cell:\n\n" + cell_table +
      "\nCommand: `python -m experiments.rlhf_majority --workdir=DIR "
      f"--config=experiments/configs/rlhf_majority.py:{config.preset}`\n")


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/rlhf_majority.py")
