r"""Which payoff transforms Psi give which equilibrium properties?

A numerical check of arXiv:2505.20627's (Shi, Liu, Long, Su, Xiao,
"Fundamental limits of game-theoretic LLM alignment: Smith consistency and
preference matching") Theorems 3.1, 3.2, 4.2, Examples 3.4/4.3 and Corollary
5.4. The paper has no experiments and no numerical table: its Table 1 lists
necessary and sufficient *conditions on Psi*; here, for each Psi, the class
those conditions predict (``payoff_properties.predicted_properties``, on a grid
of t) is shown next to what random games find. The game is ``A = Psi(P)``
(diagonal ``Psi(1/2)``), solved as a general zero-sum game; the alignment
result is the max player's Nash solution. Columns:

* Condorcet consistency: a Condorcet winner is the unique Nash solution;
* Smith consistency: every Nash solution is supported in the Smith set;
* mixed strategies: every Nash solution is mixed when there is no Condorcet
  winner;
* preference matching under BTL (Xiao et al. 2024, arXiv:2405.16455): the
  unique Nash solution is ``softmax(r)``.

Each verdict comes from ``nash_align.payoff_properties``' checks on random no-tie
games with planted structure (antisymmetric Psi: the original samplers and
exact skew-symmetric certificates; other Psi: every Nash solution of the max
player checked by an LP over the optimal set); every "no" comes with a
counterexample matrix (in ``payoff_properties.json``). Rows: the registered
(antisymmetric) transforms; three antisymmetric but not sign-preserving ones
(``reversed``, ``dead_zone``, ``sin3``); and general ones: ``identity``
(``Psi(t) = t``, the NLHF game of Munos et al. 2024), ``square`` (``t^2``:
Condorcet consistent and mixed, not Smith consistent), ``sqrt`` (Condorcet
consistent, not mixed: the Condorcet loser can be the whole Nash solution,
as in the paper's Table 3) and ``step`` (Examples 3.4/4.3: discontinuous at
1/2, fails Thm 3.2's condition, yet mixed and Smith consistent).

Run: ``python -m experiments.payoff_properties --workdir=/tmp/pp
--config=experiments/configs/payoff_properties.py:quick``
"""

import functools
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from nash_align import payoff_properties as props
from nash_align import payoffs

# Antisymmetric transforms that violate Psi(p) > 0 on (1/2, 1].
ANTISYMMETRIC_USER_PAYOFFS = {
    # The majority game of the reversed preferences: picks Condorcet losers.
    "reversed": lambda p: 0.5 - p,
    # Zero for margins below 0.1: near-ties become payoff ties.
    "dead_zone": lambda p: jnp.sign(p - 0.5) * jnp.maximum(
        jnp.abs(p - 0.5) - 0.1, 0.0),
    # Changes sign at p = 5/6: landslides count as losses.
    "sin3": lambda p: jnp.sin(3 * jnp.pi * (p - 0.5)),
}

# General Psi (not antisymmetric; the game is not symmetric).
GENERAL_USER_PAYOFFS = {
    "identity": lambda p: p,  # the NLHF game (Munos et al. 2024)
    "square": jnp.square,  # Thm 3.2 holds, Thm 4.2 fails
    "sqrt": jnp.sqrt,  # Thm 3.1 holds, Thm 3.2 fails
    # Examples 3.4 / 4.3 with M- = -3 < Psi(1/2) = 0 < M+ = 1.
    "step": lambda p: jnp.where(p > 0.5, 1.0, jnp.where(p < 0.5, -3.0, 0.0)),
}

USER_PAYOFFS = {**ANTISYMMETRIC_USER_PAYOFFS, **GENERAL_USER_PAYOFFS}

PROPERTIES = ("condorcet_consistent", "smith_consistent",
              "mixed_without_condorcet_winner", "preference_matching_btl")
TABLE1 = ("condorcet_consistent", "smith_consistent",
          "mixed_without_condorcet_winner")


def parse_payoff(spec: str):
  """``"name"`` or ``"name:k=v,k2=v2"`` -> (label, transform)."""
  if spec in USER_PAYOFFS:
    return spec, payoffs.from_function(
        USER_PAYOFFS[spec], name=spec,
        antisymmetric=spec in ANTISYMMETRIC_USER_PAYOFFS)
  name, _, rest = spec.partition(":")
  params = {}
  for item in filter(None, rest.split(",")):
    k, eq, v = item.partition("=")
    if not eq:
      raise ValueError(f"Bad payoff spec {spec!r}: expected name:key=value.")
    params[k.strip()] = float(v)
  return spec, payoffs.get_payoff(name, **params)


def _summary(check: props.PropertyCheck) -> dict:
  out = dict(holds=bool(check.holds), num_checked=int(check.num_checked),
             num_violations=int(check.num_violations))
  if check.counterexample is not None:
    out["counterexample"] = np.asarray(check.counterexample)
    out["details"] = {k: v for k, v in check.details.items()}
  return out


def check_payoff(label, psi, config, key) -> dict:
  """All property checks for one transform (one JSON cell)."""
  k_cc, k_smith, k_mixed, k_pm = jax.random.split(key, 4)
  common_kw = dict(num_games=config.num_games)
  pred = props.predicted_properties(psi, num_points=config.grid_points)
  return {
      "payoff": label,
      "table1": dict(
          predicted={p: getattr(pred, p) for p in TABLE1},
          conditions=pred.conditions, sources=pred.sources,
          details=pred.details),
      "condorcet_consistent": _summary(props.is_condorcet_consistent(
          psi, k_cc, num_alternatives=config.sizes, **common_kw)),
      "smith_consistent": _summary(props.is_smith_consistent(
          psi, k_smith, num_alternatives=config.sizes_mixed, **common_kw)),
      "mixed_without_condorcet_winner": _summary(
          props.gives_mixed_strategies(
              psi, k_mixed, num_alternatives=config.sizes_mixed,
              **common_kw)),
      "preference_matching_btl": _summary(props.is_preference_matching(
          psi, k_pm, num_alternatives=config.sizes, scale=config.btl_scale,
          **common_kw)),
  }


def _yes_no(value) -> str:
  return "?" if value is None else ("yes" if value else "no")


def _cell(summary: dict) -> str:
  frac = f"{summary['num_violations']}/{summary['num_checked']}"
  return f"yes (0/{summary['num_checked']})" if summary["holds"] else (
      f"**no** ({frac})")


def _matrix(m) -> str:
  return "[" + "; ".join(" ".join(f"{v:.3f}" for v in row)
                         for row in np.asarray(m)) + "]"


def plot_curves(specs, path):
  plt = common.pyplot()
  fig, ax = plt.subplots(figsize=(6, 4))
  p = np.linspace(0.0, 1.0, 401, dtype=np.float32)
  grid = np.stack([np.stack([np.full_like(p, 0.5), p], -1),
                   np.stack([1 - p, np.full_like(p, 0.5)], -1)], -2)
  for label, psi in specs:
    A = np.asarray(psi(grid), np.float64)
    v = A[:, 0, 1] - A[:, 0, 0]  # Psi(p) - Psi(1/2)
    v = v / max(np.max(np.abs(v)), 1e-12) / 2  # scale to [-1/2, 1/2]
    ls = ("--" if label in ANTISYMMETRIC_USER_PAYOFFS else
          ":" if label in GENERAL_USER_PAYOFFS else "-")
    ax.plot(p, v, label=label, lw=1.2, ls=ls)
  ax.axhline(0, color="k", lw=0.5)
  ax.axvline(0.5, color="k", lw=0.5)
  ax.set_xlabel("p = P(i beats j)")
  ax.set_ylabel("Psi(p) - Psi(1/2), scaled to max |.| = 1/2")
  ax.set_title("Payoff transforms (dashed: antisymmetric, not sign "
               "preserving; dotted: general)")
  ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
  common.save_figure(fig, path)


def run(config, workdir: str) -> str:
  """Computes the property table; writes CSV/JSON/PNG; returns markdown."""
  start = time.time()
  os.makedirs(workdir, exist_ok=True)
  specs = [parse_payoff(s) for s in
           tuple(config.payoffs) + tuple(config.user_payoffs)]
  # Sizes and counts, checked before any game is drawn.
  if int(config.num_games) < 1:
    raise ValueError(f"config.num_games must be >= 1, got {config.num_games}.")
  if not config.sizes or min(config.sizes) < 2:
    raise ValueError(f"config.sizes must be n >= 2, got {tuple(config.sizes)}.")
  if not config.sizes_mixed or min(config.sizes_mixed) < 3:
    raise ValueError("config.sizes_mixed must be n >= 3, got "
                     f"{tuple(config.sizes_mixed)}.")
  if int(config.grid_points) < 2:
    raise ValueError(
        f"config.grid_points must be >= 2, got {config.grid_points}.")
  # Cells are saved as they finish and reused by a re-run of the same code
  # and config (a killed run resumes).
  cache = common.ResultCache(workdir, config, sys.modules[__name__],
                             subdir="payoff_properties_cells")
  # The same key for every transform: all are checked on the same games.
  key = jax.random.PRNGKey(config.seed)
  results = [cache.get_or_compute(
      label, functools.partial(check_payoff, label, psi, config, key))
             for label, psi in common.progress(specs,
                                               desc="payoff_properties")]

  rows = []
  for res in results:
    row = {"payoff": res["payoff"]}
    for prop in TABLE1:
      row[prop + "_predicted"] = res["table1"]["predicted"][prop]
    for prop in PROPERTIES:
      row[prop] = res[prop]["holds"]
      row[prop + "_violations"] = res[prop]["num_violations"]
      row[prop + "_checked"] = res[prop]["num_checked"]
    rows.append(row)
  common.write_csv(os.path.join(workdir, "payoff_properties.csv"), rows)
  common.write_json(os.path.join(workdir, "payoff_properties.json"),
                    dict(preset=config.preset, seed=config.seed,
                         results=results))
  plot_curves(specs, os.path.join(workdir, "payoff_curves.png"))
  seconds = time.time() - start

  table_rows = []
  disagreements = []
  not_refuted = []
  for res in results:
    pred = res["table1"]["predicted"]
    table_rows.append({
        "Psi": res["payoff"],
        "Table 1 predicts (CC/Smith/mixed)": "/".join(
            _yes_no(pred[p]) for p in TABLE1),
        "Condorcet consistent": _cell(res["condorcet_consistent"]),
        "Smith consistent": _cell(res["smith_consistent"]),
        "mixed w/o CW": _cell(res["mixed_without_condorcet_winner"]),
        "pref. matching (BTL)": _cell(res["preference_matching_btl"]),
    })
    # A "no" found where Table 1 predicts "yes" contradicts a theorem (or
    # the code); a "yes" where it predicts "no" is a sampler miss (the
    # checks find counterexamples, they prove nothing).
    for prop in TABLE1:
      if pred[prop] is True and not res[prop]["holds"]:
        disagreements.append(f"{res['payoff']}: {prop}")
      if pred[prop] is False and res[prop]["holds"]:
        not_refuted.append(f"{res['payoff']}: {prop}")
    # Cor. 5.4 (smooth Psi) and BTL's Condorcet winner: never matching here.
    if res["preference_matching_btl"]["holds"]:
      disagreements.append(f"{res['payoff']}: preference_matching_btl")

  # Positive control for preference matching (2505.20627 Remark 5.3): an
  # n-dependent payoff whose unique Nash solution is a random pi.
  control = []
  for n, k in zip(config.sizes, jax.random.split(
      jax.random.fold_in(key, 53), len(config.sizes))):
    pi = np.asarray(jax.random.dirichlet(k, jnp.ones(n)), np.float64)
    _, spread, low, high = props.nash_solution_spread(
        props.preference_matching_payoff(pi))
    err = float(max(np.abs(low - pi).max(), np.abs(high - pi).max()))
    control.append(f"n = {n}: spread of the Nash solutions {spread:.1e}, "
                   f"max |x - pi| {err:.1e}")

  examples = []
  for res in results:
    for prop in PROPERTIES:
      if "counterexample" in res[prop] and (
          prop != "preference_matching_btl" or res["payoff"] == "margin"):
        d = res[prop]["details"]
        witness = ("" if d.get("witness") is None else
                   f"; a Nash solution {_matrix([d['witness']])}")
        examples.append(
            f"- `{res['payoff']}`, {prop}: P = "
            f"{_matrix(res[prop]['counterexample'])}; {d.get('reason', '')}"
            f"{witness}; solver's row strategy "
            f"{_matrix([d['equilibrium_row']])} (gap {d['gap']:.1e}).")
  return (
      "## Payoff transforms and equilibrium properties: a numerical check "
      "of arXiv:2505.20627 Thms 3.1, 3.2, 4.2 and Cor. 5.4\n\n"
      f"Preset `{config.preset}`: {config.num_games} random games per size "
      f"(n in {tuple(config.sizes)}; n in {tuple(config.sizes_mixed)} for "
      "Smith/mixed) per property, planted Condorcet winner / Smith set / no "
      "Condorcet winner / BTL strengths, each game solved by "
      "`solvers.solve` (general zero-sum game; the max player's Nash "
      "solution is the alignment result) and checked by an exact "
      "certificate or an LP over the optimal set (see `nash_align.payoff_properties`). "
      "Cells: verdict (violations/games). \"Table 1 predicts\": the "
      "paper's conditions evaluated on a grid of t by "
      "`payoff_properties.predicted_properties` (`?`: no result applies).\n\n"
      + common.markdown_table(table_rows) +
      "\nA \"no\" found where Table 1 predicts \"yes\" (contradiction): "
      + (", ".join(disagreements) if disagreements else "none") +
      ". Predicted \"no\" but no counterexample found (sampler miss): "
      + (", ".join(not_refuted) if not_refuted else "none") +
      ". Preference matching under BTL fails for every Psi here (BTL has a "
      "Condorcet winner; Cor. 5.4 for smooth Psi). Positive control "
      "(Remark 5.3; `payoff_properties.preference_matching_payoff`, "
      "alpha_ij = pi_j / pi_i - n delta_ij, whose n-dependent diagonal "
      "Asm. 5.2 forbids): " + "; ".join(control) + ".\n\n"
      "Counterexamples found (all in `payoff_properties.json`):\n\n"
      + "\n".join(examples) +
      "\n\n![Payoff transforms](payoff_curves.png)\n\n"
      f"{seconds:.1f} s. Command: `python -m experiments.payoff_properties "
      "--workdir=DIR "
      f"--config=experiments/configs/payoff_properties.py:{config.preset}`\n")


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/payoff_properties.py")
