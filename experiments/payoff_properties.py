r"""Which payoff transforms Psi give which equilibrium properties?

The table of arXiv:2505.20627 (Shi, Liu, Long, Su, Xiao, "Fundamental limits
of game-theoretic LLM alignment: Smith consistency and preference matching"),
recomputed numerically: for each payoff transform Psi the symmetric zero-sum
game ``A = Psi(P)`` is checked for

* ``Psi > 0``: ``Psi(p) > 0`` on ``(1/2, 1]`` (grid); for antisymmetric Psi
  this is the exact criterion for the next three columns;
* Condorcet consistency: a Condorcet winner is the unique equilibrium;
* Smith consistency: equilibria are supported in the Smith set;
* mixed strategies whenever there is no Condorcet winner;
* preference matching under BTL: the unique equilibrium is ``w / sum(w)``.

Each verdict comes from ``nash_align.payoffs``' predicates on random games
with planted structure, solved by ``nash_align.solvers.solve``; every "no"
comes with a counterexample matrix (in ``payoff_properties.json``). Three
antisymmetric but not sign-preserving transforms (``reversed``,
``dead_zone``, ``sin3``) show that the checks do fail when they should.

Run: ``python -m experiments.payoff_properties --workdir=/tmp/pp
--config=experiments/configs/payoff_properties.py:quick``
"""

import hashlib
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from nash_align import payoffs

# Antisymmetric transforms that violate Psi(p) > 0 on (1/2, 1].
USER_PAYOFFS = {
    # The majority game of the reversed preferences: picks Condorcet losers.
    "reversed": lambda p: 0.5 - p,
    # Zero for margins below 0.1: near-ties become payoff ties.
    "dead_zone": lambda p: jnp.sign(p - 0.5) * jnp.maximum(
        jnp.abs(p - 0.5) - 0.1, 0.0),
    # Changes sign at p = 5/6: landslides count as losses.
    "sin3": lambda p: jnp.sin(3 * jnp.pi * (p - 0.5)),
}

PROPERTIES = ("sign_preserving", "condorcet_consistent", "smith_consistent",
              "mixed_without_condorcet_winner", "preference_matching_btl")


def parse_payoff(spec: str):
  """``"name"`` or ``"name:k=v,k2=v2"`` -> (label, transform)."""
  if spec in USER_PAYOFFS:
    return spec, payoffs.from_function(USER_PAYOFFS[spec], name=spec)
  name, _, rest = spec.partition(":")
  params = {}
  for item in filter(None, rest.split(",")):
    k, eq, v = item.partition("=")
    if not eq:
      raise ValueError(f"Bad payoff spec {spec!r}: expected name:key=value.")
    params[k.strip()] = float(v)
  return spec, payoffs.get_payoff(name, **params)


def _summary(check: payoffs.PropertyCheck) -> dict:
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
  return {
      "payoff": label,
      "sign_preserving": _summary(
          payoffs.is_sign_preserving(psi, num_points=config.grid_points)),
      "condorcet_consistent": _summary(payoffs.is_condorcet_consistent(
          psi, k_cc, num_alternatives=config.sizes, **common_kw)),
      "smith_consistent": _summary(payoffs.is_smith_consistent(
          psi, k_smith, num_alternatives=config.sizes_mixed, **common_kw)),
      "mixed_without_condorcet_winner": _summary(
          payoffs.gives_mixed_strategies(
              psi, k_mixed, num_alternatives=config.sizes_mixed,
              **common_kw)),
      "preference_matching_btl": _summary(payoffs.is_preference_matching(
          psi, k_pm, num_alternatives=config.sizes, scale=config.btl_scale,
          **common_kw)),
  }


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
    v = np.asarray(psi(grid))[:, 0, 1]
    v = v / max(np.max(np.abs(v)), 1e-12) / 2  # scale to [-1/2, 1/2]
    ax.plot(p, v, label=label, lw=1.2,
            ls="--" if label in USER_PAYOFFS else "-")
  ax.axhline(0, color="k", lw=0.5)
  ax.axvline(0.5, color="k", lw=0.5)
  ax.set_xlabel("p = P(i beats j)")
  ax.set_ylabel("Psi(p), scaled to max |Psi| = 1/2")
  ax.set_title("Payoff transforms (dashed: not sign preserving)")
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
  # Cells are keyed by the settings that change them, so a resumed run never
  # mixes results of different configs.
  fingerprint = hashlib.sha1(json.dumps(
      [config.seed, config.num_games, list(config.sizes),
       list(config.sizes_mixed), config.btl_scale, config.grid_points],
      sort_keys=True).encode()).hexdigest()[:10]
  cell_dir = os.path.join(workdir, "payoff_properties_cells", fingerprint)
  key = jax.random.PRNGKey(config.seed)
  results = []
  for label, psi in specs:
    # The same key for every transform: all are checked on the same games.
    path = os.path.join(cell_dir, f"{label.replace(':', '_')}.json")
    if os.path.exists(path):  # resume: cells already computed are kept
      with open(path) as f:
        results.append(json.load(f))
      continue
    res = check_payoff(label, psi, config, key)
    common.write_json(path, res)
    results.append(res)

  rows = []
  for res in results:
    row = {"payoff": res["payoff"]}
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
  for res in results:
    sp = res["sign_preserving"]["holds"]
    table_rows.append({
        "Psi": res["payoff"],
        "Psi>0 on (1/2,1]": _cell(res["sign_preserving"]),
        "Condorcet consistent": _cell(res["condorcet_consistent"]),
        "Smith consistent": _cell(res["smith_consistent"]),
        "mixed w/o CW": _cell(res["mixed_without_condorcet_winner"]),
        "pref. matching (BTL)": _cell(res["preference_matching_btl"]),
    })
    # Theory for antisymmetric Psi: the three properties hold iff Psi > 0
    # on (1/2, 1] (a "no" found must match; a sampler may miss a "no" for
    # Smith consistency when the violation needs payoff ties), and
    # preference matching never holds.
    for prop in ("condorcet_consistent", "mixed_without_condorcet_winner"):
      if res[prop]["holds"] != sp:
        disagreements.append(f"{res['payoff']}: {prop}")
    if res["smith_consistent"]["holds"] and not sp:
      disagreements.append(f"{res['payoff']}: smith_consistent not refuted")
    if res["smith_consistent"]["holds"] is False and sp:
      disagreements.append(f"{res['payoff']}: smith_consistent")
    if res["preference_matching_btl"]["holds"]:
      disagreements.append(f"{res['payoff']}: preference_matching_btl")

  examples = []
  for res in results:
    for prop in PROPERTIES[1:]:
      if "counterexample" in res[prop] and (
          prop != "preference_matching_btl" or res["payoff"] == "margin"):
        d = res[prop]["details"]
        examples.append(
            f"- `{res['payoff']}`, {prop}: P = {_matrix(res[prop]['counterexample'])}; "
            f"{d.get('reason', '')}; solver's row strategy "
            f"{_matrix([d['equilibrium_row']])} (gap {d['gap']:.1e}).")
  return (
      "## Payoff transforms and equilibrium properties (arXiv:2505.20627)\n\n"
      f"Preset `{config.preset}`: {config.num_games} random games per size "
      f"(n in {tuple(config.sizes)}; n in {tuple(config.sizes_mixed)} for "
      "Smith/mixed) per property, planted Condorcet winner / Smith set / no "
      "Condorcet winner / BTL strengths, each game solved by "
      "`solvers.solve` and checked by an exact certificate where one exists "
      "(see `nash_align.payoffs`). Cells: verdict (violations/games).\n\n"
      + common.markdown_table(table_rows) +
      "\nTheory (antisymmetric Psi): Condorcet consistency, Smith "
      "consistency and mixed strategies without a Condorcet winner hold iff "
      "Psi(p) > 0 on (1/2, 1]; preference matching under BTL fails for "
      "every such Psi (n = 2 already: a 2x2 skew-symmetric game has a pure "
      "or a non-unique equilibrium). Disagreements with theory: "
      + (", ".join(disagreements) if disagreements else "none") + ".\n\n"
      "Counterexamples found (all in `payoff_properties.json`):\n\n"
      + "\n".join(examples) +
      "\n\n![Payoff transforms](payoff_curves.png)\n\n"
      f"{seconds:.1f} s. Command: `python -m experiments.payoff_properties "
      "--workdir=DIR "
      f"--config=experiments/configs/payoff_properties.py:{config.preset}`\n")


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/payoff_properties.py")
