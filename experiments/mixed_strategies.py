r"""How often is the Nash equilibrium of the preference game mixed?

Reproduces the possibility side of Liu et al. (arXiv:2503.10990, Sec. 3): the
symmetric zero-sum game with payoff ``P - 1/2`` (the NLHF preference game) has
a mixed equilibrium iff there is no Condorcet winner, and under the Luce model
this happens with probability tending to one. For each cell we solve every
sampled game with ``nash_align.solvers.solve`` (inside the jitted Monte Carlo
step), call the equilibrium mixed when the solver's certified support has
more than one response, count the games it could not certify, and report

  * P(mixed equilibrium) next to P(no Condorcet winner),
  * the sample-by-sample agreement of the two events (1 in theory for an odd
    number of labelers, where the equilibrium is unique), and
  * the distribution of the equilibrium's support size.

Run: ``python -m experiments.mixed_strategies --workdir=/tmp/ms
--config=experiments/configs/mixed_strategies.py:quick``.
"""

import os
import sys
import time

import numpy as np

from experiments import common
from experiments import condorcet_cycles

STATISTICS = ("nash_mixed", "no_condorcet_winner",
              "nash_mixed_iff_no_condorcet_winner", "support_size")


def plot(rows, path):
  plt = common.pyplot()
  groups = {}
  for r in rows:
    groups.setdefault((r["model"], r["num_voters"]), []).append(r)
  fig, axes = plt.subplots(1, 1 + len(groups),
                           figsize=(5 * (1 + len(groups)), 4.2))
  for k, ((model, m), rs) in enumerate(groups.items()):
    rs = sorted(rs, key=lambda r: r["num_alternatives"])
    n = np.array([r["num_alternatives"] for r in rs])
    label = f"{model}, m={'inf' if m == 0 else m}"
    mixed = np.array([r["nash_mixed"] for r in rs])
    lo = np.array([r["nash_mixed_low"] for r in rs])
    hi = np.array([r["nash_mixed_high"] for r in rs])
    line = axes[0].errorbar(n, mixed, yerr=[mixed - lo, hi - mixed],
                            marker="o", ms=3, capsize=2,
                            label=f"P(mixed), {label}")
    axes[0].plot(n, [r["no_condorcet_winner"] for r in rs], ls="--",
                 marker="x", color=line[0].get_color(),
                 label=f"P(no CW), {label}")
    # Support-size distribution per n: stacked bars.
    ax = axes[1 + k]
    bottom = np.zeros(len(rs))
    max_size = max(len(r["support_size"]) for r in rs)
    for size in range(1, max_size):
      frac = np.array([r["support_size"][size]
                       if size < len(r["support_size"]) else 0.0 for r in rs])
      if np.any(frac > 0):
        ax.bar(np.arange(len(rs)), frac, bottom=bottom, label=f"|supp|={size}")
        bottom += frac
    ax.set_xticks(np.arange(len(rs)), [str(x) for x in n])
    ax.set_xlabel("number of responses n")
    ax.set_title(f"support size, {label}")
    ax.legend(fontsize=6, ncol=2)
  axes[0].set_xlabel("number of responses n")
  axes[0].set_title("P(mixed equilibrium) vs P(no Condorcet winner)")
  axes[0].legend(fontsize=6)
  axes[0].grid(alpha=0.3)
  common.save_figure(fig, path)


def run(config, workdir: str) -> str:
  """Runs the sweep; writes CSV/PNG under ``workdir``; returns markdown."""
  start = time.perf_counter()
  rows = condorcet_cycles.run_cells(config, workdir, STATISTICS, "ms",
                                    modules=(sys.modules[__name__],))
  common.write_csv(os.path.join(workdir, "mixed_strategies.csv"), rows)
  plot(rows, os.path.join(workdir, "mixed_strategies.png"))
  seconds = time.perf_counter() - start
  common.write_json(os.path.join(workdir, "timing.json"),
                    {"seconds": seconds, "preset": config.preset})

  def mode(r):
    dist = np.asarray(r["support_size"])
    return int(np.argmax(dist))

  table = common.markdown_table(
      [{"model": r["model"],
        "m": "inf" if r["num_voters"] == 0 else r["num_voters"],
        "n": r["num_alternatives"],
        "N": r["num_samples"],
        "P(mixed)": r["nash_mixed"],
        "95% CI": f"[{r['nash_mixed_low']:.3f}, {r['nash_mixed_high']:.3f}]",
        "P(no CW)": r["no_condorcet_winner"],
        "agree": r["nash_mixed_iff_no_condorcet_winner"],
        "modal |supp|": mode(r),
        "mean |supp|": float(np.dot(np.arange(len(r["support_size"])),
                                    r["support_size"])),
        "uncertified": r["support_size_uncertified"]} for r in rows])
  uncertified = sum(r["support_size_uncertified"] for r in rows)
  return (
      "## Mixed strategies (arXiv:2503.10990, Sec. 3)\n\n"
      f"Preset `{config.preset}`, "
      f"{condorcet_cycles.sampling_note(config, rows)}, each game "
      "solved by `solvers.solve` on the margin game P - 1/2; support = the "
      "solver's certified support (the equalizer system solved on the "
      "simplex's basis, certified by its duality gap <= 1e-6). "
      f"Uncertified games in all cells: {uncertified}. `agree` is the "
      "fraction of samples where "
      "'mixed' equals 'no Condorcet winner' (Theorem: 1).\n\n"
      "![Mixed strategies](mixed_strategies.png)\n\n" + table +
      f"\n{seconds:.1f} s. Command: `python -m experiments.mixed_strategies "
      "--workdir=DIR "
      f"--config=experiments/configs/mixed_strategies.py:{config.preset}`\n")


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/mixed_strategies.py")
