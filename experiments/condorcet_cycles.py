r"""How often are majority preferences cyclic? P(cycle) and P(no winner) vs n.

Reproduces the impossibility side of Liu et al., "Statistical Impossibility
and Possibility of Aligning LLMs with Human Preferences: From Condorcet Paradox
to Nash Equilibrium" (arXiv:2503.10990): a reward model represents the
majority preferences iff they have no Condorcet cycle, and under the Luce
model cycles appear with probability tending to one exponentially fast in the
number of responses ``n``. We estimate, for each preference model, number of
labelers ``m`` and ``n``, P(Condorcet cycle) and P(no Condorcet winner) with
Wilson intervals, and plot ``1 - P(cycle)`` on a log scale.

Models (``MODELS``):
  * ``impartial_culture``: every labeler ranks the ``n`` responses uniformly at
    random (drawn as pairwise counts, ``preferences.impartial_culture_counts``).
  * ``mallows``: rankings concentrated around one reference ranking with
    dispersion ``phi`` (``phi = 1`` is impartial culture).
  * ``luce_mixture``: the paper's probabilistic (Luce) model of a
    heterogeneous population: ``G`` labeler groups, each with Plackett-Luce
    (BTL on pairs) utilities ``w_g = exp(sigma Z)``, ``Z ~ N(0, I_n)`` drawn
    afresh for every sample (``preferences.random_population``), equal group
    shares; each labeler draws a group, then a PL ranking. ``m = 0`` uses
    the population limit, the exact
    mixture of BTL matrices ``sum_g pi_g w_gi / (w_gi + w_gj)``.
  * ``independent_pairwise``: ``P[i, j] ~ U(0, 1)`` independently for
    ``i < j`` (no labelers; a population-level model).

Run: ``python -m experiments.condorcet_cycles --workdir=/tmp/cc
--config=experiments/configs/condorcet_cycles.py:quick``.
"""

import functools
import os
import sys
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from nash_align import montecarlo
from nash_align import preferences
from nash_align.data import analysis

MODELS = ("impartial_culture", "independent_pairwise", "luce_mixture",
          "mallows")
# Models without labelers: one row per n, reported with m = 0 ("population").
POPULATION_ONLY = ("independent_pairwise",)
# Models with an exact population matrix (m = 0 allowed).
HAS_POPULATION_LIMIT = ("independent_pairwise", "luce_mixture")


# Models whose restriction to the first n of N alternatives is the same model
# on n alternatives (impartial culture: a uniform ranking restricted to a
# subset is uniform; Luce: independence of irrelevant alternatives, with i.i.d.
# utilities per alternative; independent pairwise: i.i.d. entries). For these a
# sweep over n can sample at N = max(n) and pad: alternatives >= n become
# sure losers (``analysis.pad_preference_matrix``), which changes none of the
# statistics below and lets every n share one compilation.
PADDABLE = ("impartial_culture", "independent_pairwise", "luce_mixture")


@functools.lru_cache(maxsize=64)
def _sampler(model, n, m, mallows_phi, groups, sigma, padded):
  """Batched ``sample(key, shape, n_active) -> P [*shape, n, n]`` (cached).

  Batched (``sample.batched = True``): ``montecarlo.estimate`` draws a whole
  block of samples with one call of the ``preferences`` samplers. Cached, so
  a sweep reuses one compilation per shape.
  """
  if model == "impartial_culture":
    base = montecarlo.make_sampler("impartial_culture_counts", n, m)
  elif model == "mallows":
    base = montecarlo.make_sampler("mallows", n, m, phi=mallows_phi)
  elif model == "independent_pairwise":
    base = montecarlo.make_sampler("independent_pairwise", n)
  elif m == 0:  # the population limit of luce_mixture
    def base(key, shape):
      weights, probs = preferences.random_population(
          jax.random.split(key)[0], groups, n, shape=shape,
          distribution="lognormal", scale=sigma)
      return preferences.population_preference_matrix(weights, probs)
  else:
    def base(key, shape):
      rankings = preferences.luce_mixture(key, groups, m, n, sigma, shape)
      return preferences.preference_matrix(
          preferences.pairwise_counts(rankings))

  def sample(key, shape, n_active):
    P = base(key, tuple(shape))
    if not padded:
      return P
    return analysis.pad_preference_matrix(P, n, num_active=n_active)

  sample.batched = True
  return sample


def build_sampler(model: str, n: int, m: int, config):
  """``(sample, args)`` for one model, ``n`` responses, ``m`` labelers.

  ``sample(key, shape, *args)`` returns preference matrices ``[*shape, N, N]``
  (a batched sampler for ``montecarlo.estimate``): ``N = n``, or ``N`` the
  largest ``n`` swept for the model, padded by
  ``analysis.pad_preference_matrix`` when
  ``config.pad_alternatives`` and the model is in ``PADDABLE``.

  Args:
    model: a name in ``MODELS``.
    n: number of responses, ``>= 2``.
    m: number of labelers ``>= 1``, or ``0`` for the population limit.
    config: the experiment config (model parameters).

  Returns:
    ``(sample, args)`` for ``montecarlo.estimate(..., sampler_args=args)``.
  """
  if model not in MODELS:
    raise ValueError(f"Unknown model {model!r}; known: {', '.join(MODELS)}.")
  if n < 2:
    raise ValueError(f"num_alternatives must be >= 2, got {n}.")
  if m < 0 or (m == 0 and model not in HAS_POPULATION_LIMIT):
    raise ValueError(f"num_voters must be >= 1 for model {model!r}, got {m}.")
  if model == "independent_pairwise":
    m = 0
  padded = bool(config.get("pad_alternatives", False)) and model in PADDABLE
  size = max(_model_alternatives(config, model)) if padded else n
  fn = _sampler(model, int(size), int(m), float(config.mallows_phi),
                int(config.luce_groups), float(config.luce_sigma), padded)
  return fn, (jnp.int32(n),)


def _model_alternatives(config, model):
  """The numbers of responses swept for ``model``."""
  by_model = config.get("num_alternatives_by_model") or {}
  return tuple(by_model.get(model) or config.num_alternatives)


def cells(config):
  """The sweep's (model, m, n) cells, in a fixed order."""
  for model in config.models:
    if model not in MODELS:
      raise ValueError(f"Unknown model {model!r} in config.models; known: "
                       f"{', '.join(MODELS)}.")
    voters = config.num_voters
    if model == "mallows" and config.get("mallows_num_voters"):
      voters = config.mallows_num_voters
    voters = tuple((config.get("voters_by_model") or {}).get(model, voters))
    voters = (0,) if model in POPULATION_ONLY else tuple(
        m for m in voters if m > 0 or model in HAS_POPULATION_LIMIT)
    ns = _model_alternatives(config, model)
    for m in voters:
      for n in ns:
        yield model, int(m), int(n)


def run_cells(config, workdir, statistics, tag, modules=()):
  """Estimates ``statistics`` for every cell; resumes from saved cells.

  Each cell's result is saved by :class:`experiments.common.ResultCache`
  (fingerprint: the config, the library version, this module and
  ``modules``) when it finishes and reused by a re-run, so a killed sweep
  resumes.

  Args:
    config: the experiment config.
    workdir: output directory.
    statistics: names in ``montecarlo.STATISTICS``.
    tag: prefix of the cells' file names.
    modules: further experiment modules the results depend on (a caller's).

  Returns:
    A list of row dicts (one per cell), as saved.
  """
  for m in config.num_voters:
    if m < 0:
      raise ValueError(f"num_voters must be >= 0, got {m}.")
  for model in config.models:
    for n in _model_alternatives(config, model):
      if n < 2:
        raise ValueError(f"num_alternatives must be >= 2, got {n}.")
  if config.num_samples < 1:
    raise ValueError(f"num_samples must be >= 1, got {config.num_samples}.")
  if config.chunk_size < 1:
    raise ValueError(f"chunk_size must be >= 1, got {config.chunk_size}.")
  if not 0.0 < config.confidence < 1.0:
    raise ValueError(f"confidence must be in (0, 1), got {config.confidence}.")
  todo = list(cells(config))
  for name in statistics:
    if name not in montecarlo.STATISTICS:
      raise ValueError(f"Unknown statistic {name!r}.")
  base = jax.random.key(config.seed)
  cache = common.ResultCache(workdir, config, sys.modules[__name__],
                             *modules)

  target_width = config.get("target_width", None)
  if target_width is not None and not 0.0 < target_width <= 1.0:
    raise ValueError(f"target_width must be in (0, 1], got {target_width}.")

  def compute(model, m, n):
    # The cell's key depends only on the seed and the cell, not on the order.
    key = jax.random.fold_in(
        jax.random.fold_in(jax.random.fold_in(base, MODELS.index(model)), m),
        n)
    start = time.perf_counter()
    sample, args = build_sampler(model, n, m, config)
    est = montecarlo.estimate(
        key, sample, statistics, int(config.num_samples),
        chunk_size=int(config.chunk_size),
        confidence=float(config.confidence), sampler_args=args,
        target_width=target_width,
        min_samples=int(config.get("min_samples", 0)),
        checkpoint=cache.partial_path(f"{tag}_{model}_m{m}_n{n}"),
        checkpoint_every_s=float(config.get("checkpoint_every_s", 60.0)))
    used = int(next(iter(est.values())).num_samples)
    row = {"model": model, "num_voters": m, "num_alternatives": n,
           "num_samples": used,
           "seconds": round(time.perf_counter() - start, 3)}
    for name, e in est.items():
      if np.ndim(e.mean):  # histogram over 0..N: keep the bins 0..n
        e = type(e)(*(f[:n + 1] if np.ndim(f) else f for f in e))
      row[name] = e.mean
      row[name + "_low"] = e.low
      row[name + "_high"] = e.high
      row[name + "_uncertified"] = int(e.uncertified)
    logging.info("%s m=%d n=%d: %s", model, m, n,
                 {k: float(row[k]) for k in statistics if np.ndim(row[k]) == 0})
    return row

  return [cache.get_or_compute(f"{tag}_{model}_m{m}_n{n}",
                               functools.partial(compute, model, m, n))
          for model, m, n in common.progress(todo, desc=tag)]


def sampling_note(config, rows) -> str:
  """How many samples each cell drew, for the reports."""
  width = config.get("target_width", None)
  if width is None:
    return f"{config.num_samples} samples per cell"
  used = [int(r["num_samples"]) for r in rows]
  return (f"each cell sampled until every {config.confidence:.0%} interval "
          f"was at most {width} wide (at least {config.get('min_samples', 0)},"
          f" at most {config.num_samples} samples; {min(used)} to "
          f"{max(used)} used, column N)")


def _label(model, m):
  return f"{model}, m={'inf' if m == 0 else m}"


def plot(rows, path):
  plt = common.pyplot()
  fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
  groups = {}
  for r in rows:
    groups.setdefault((r["model"], r["num_voters"]), []).append(r)
  for (model, m), rs in groups.items():
    rs = sorted(rs, key=lambda r: r["num_alternatives"])
    n = np.array([r["num_alternatives"] for r in rs])
    for ax, stat in ((axes[0], "condorcet_cycle_exists"),
                     (axes[1], "no_condorcet_winner")):
      p = np.array([r[stat] for r in rs])
      lo = np.array([r[stat + "_low"] for r in rs])
      hi = np.array([r[stat + "_high"] for r in rs])
      ax.errorbar(n, p, yerr=[p - lo, hi - p], marker="o", ms=3, capsize=2,
                  label=_label(model, m))
    # 1 - P(cycle) on a log scale; where no acyclic sample was seen the
    # Wilson upper bound is drawn as a hollow marker.
    q = 1 - np.array([r["condorcet_cycle_exists"] for r in rs])
    q_hi = 1 - np.array([r["condorcet_cycle_exists_low"] for r in rs])
    seen = q > 0
    line, = axes[2].semilogy(n[seen], q[seen], marker="o", ms=3,
                             label=_label(model, m))
    if np.any(~seen):
      axes[2].semilogy(n[~seen], q_hi[~seen], ls="none", marker="v",
                       mfc="none", color=line.get_color())
  axes[0].set_title("P(Condorcet cycle)")
  axes[1].set_title("P(no Condorcet winner)")
  axes[2].set_title("1 - P(cycle) (log scale; v = upper bound when 0 seen)")
  for ax in axes:
    ax.set_xlabel("number of responses n")
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=7)
  common.save_figure(fig, path)


def run(config, workdir: str) -> str:
  """Runs the sweep; writes CSV/JSON/PNG under ``workdir``; returns markdown."""
  start = time.perf_counter()
  stats = ["condorcet_cycle_exists", "no_condorcet_winner",
           "majority_transitive"]
  rows = run_cells(config, workdir, stats, "cc")
  common.write_csv(os.path.join(workdir, "condorcet_cycles.csv"), rows)
  plot(rows, os.path.join(workdir, "condorcet_cycles.png"))
  seconds = time.perf_counter() - start
  common.write_json(os.path.join(workdir, "timing.json"),
                    {"seconds": seconds, "preset": config.preset})
  table = common.markdown_table(
      [{"model": r["model"],
        "m": "inf" if r["num_voters"] == 0 else r["num_voters"],
        "n": r["num_alternatives"],
        "N": r["num_samples"],
        "P(cycle)": r["condorcet_cycle_exists"],
        "95% CI": (f"[{r['condorcet_cycle_exists_low']:.3f}, "
                   f"{r['condorcet_cycle_exists_high']:.3f}]"),
        "P(no CW)": r["no_condorcet_winner"],
        "P(transitive)": r["majority_transitive"]} for r in rows])
  return (
      "## Condorcet cycles (arXiv:2503.10990, Sec. 2)\n\n"
      f"Preset `{config.preset}`, {sampling_note(config, rows)}, "
      f"Wilson {config.confidence:.0%} intervals, {seconds:.1f} s.\n\n"
      "![Condorcet cycles](condorcet_cycles.png)\n\n"
      "P(cycle) rises to 1 and 1 - P(cycle) falls along a straight line on "
      "the log scale (exponential approach) for every model with "
      "heterogeneous labelers; data: `condorcet_cycles.csv`.\n\n"
      + table +
      "\nCommand: `python -m experiments.condorcet_cycles --workdir=DIR "
      f"--config=experiments/configs/condorcet_cycles.py:{config.preset}`\n")


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/condorcet_cycles.py")
