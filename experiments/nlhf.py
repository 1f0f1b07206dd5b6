r"""NLHF fine-tuning of a policy head: Nash trainers vs RLHF on the same oracles.

Trains the flax policy head of ``nash_align.nlhf`` with each configured
algorithm on each configured preference oracle, evaluates it on held-out
prompts (win rate against the reference, exploitability, entropy, support,
agreement with the per-prompt maximal lottery) and writes

* ``metrics.json`` (at least ``win_rate_vs_reference``, ``exploitability``,
  ``entropy``, ``steps``; with several runs also ``runs``), ``metrics.csv``,
* ``nlhf_curves.png`` (win rate and exploitability against steps),
* ``nlhf_diversity.png`` (policy of each algorithm on a prompt without a
  Condorcet winner, next to the maximal lottery: RLHF collapses, NLHF stays
  mixed),
* ``nlhf_limits.png`` / ``nlhf_limits.csv``: the exact, training-free optima
  on the held-out population prompts without a Condorcet winner, swept over
  the KL strength ``tau`` (:func:`exact_limits`): RLHF's
  ``pi ∝ mu exp(r / tau)`` (Bradley-Terry reward) collapses to one response
  as ``tau -> 0`` while the regularized Nash equilibrium stays mixed and
  tends to the maximal lottery, and
* per-run ``checkpoints/`` and ``tensorboard/`` (one run: directly under the
  workdir; several: under ``runs/<oracle>/<algorithm>/``).

Usage::

  python -m experiments.nlhf --config=experiments/configs/nlhf.py:quick \
      --workdir=/tmp/nlhf [--config.oracle=population|qlora_gpt4|learned] \
      [--config.algorithm=nash_rs|nash_md|mirror_descent|sppo|rlhf]

A killed run restarted with the same command resumes from its checkpoints.
"""

import os

from flax import nnx
import jax.numpy as jnp
import numpy as np

from experiments import common
from nash_align import bradley_terry
from nash_align import social_choice
from nash_align.nlhf import metrics as metrics_lib
from nash_align.nlhf import training as nlhf_train

# KL strengths of the exact sweep (the config's tau is added).
LIMIT_TAUS = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
_LIMIT_COLUMNS = ("tau", "rlhf_entropy", "nlhf_entropy", "rlhf_support",
                  "nlhf_support", "rlhf_top_prob", "nlhf_top_prob",
                  "nlhf_tv_to_lottery", "nlhf_max_gap", "nlhf_uncertified")

_METRICS = ("win_rate_vs_reference", "exploitability", "entropy",
            "support_size", "lottery_agreement", "kl_to_reference",
            "win_rate_sampled", "win_rate_sampled_low",
            "win_rate_sampled_high")


def _split(value: str) -> list[str]:
  return [v.strip() for v in str(value).split(",") if v.strip()]


def _final_policies(result, ids):
  """``(pi [E, K], mu [E, K])``: final policy and reference on prompts ``ids``."""
  task = result["task"]
  model = nnx.merge(result["graphdef"], result["params"])
  ref = task.reference_logp(ids)
  logp = model(task.prompt_features[ids], task.candidate_features[ids],
               task.mask[ids], ref)
  return np.exp(np.asarray(logp)), np.exp(np.asarray(ref))


def _entropy(p):
  p = np.asarray(p, np.float64)
  return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0),
                 -1)


def exact_limits(P, reference, taus=LIMIT_TAUS, support_threshold=1e-2):
  """Exact RLHF and NLHF optima over a sweep of the KL strength ``tau``.

  For each ``tau`` (one batched call each, over all prompts): RLHF's optimum
  ``softmax(log mu + r / tau)`` with the Bradley-Terry MLE reward ``r`` of
  ``P`` (:func:`nash_align.nlhf.metrics.rlhf_optimum`) and NLHF's
  KL-regularized equilibrium of ``P - 1/2`` toward ``mu``
  (:func:`nash_align.nlhf.metrics.nlhf_optimum`, certified by its regularized
  duality gap); and the ``tau -> 0`` limit of the latter, the maximal lottery.

  Args:
    P: ``[E, K, K]`` preference matrices.
    reference: ``[E, K]`` positive reference policies.
    taus: KL strengths ``> 0``.
    support_threshold: probability above which a response counts as played.

  Returns:
    ``(rows, lottery_row, policies)``: one dict per ``tau`` (means over the
    ``E`` prompts of the columns of :data:`_LIMIT_COLUMNS`), the same
    statistics of the maximal lotteries, and ``{tau: (rlhf [E, K], nlhf [E,
    K])}``.
  """
  P = np.asarray(P, np.float64)
  mu = np.asarray(reference, np.float64)
  reward = np.asarray(bradley_terry.fit(jnp.asarray(P)), np.float64)
  ml = metrics_lib.maximal_lotteries(P)
  rows, policies = [], {}
  for tau in sorted({float(t) for t in taus}, reverse=True):
    rl = metrics_lib.rlhf_optimum(P, mu, tau, reward=reward)
    res = metrics_lib.nlhf_optimum(P, mu, tau, on_uncertified="report")
    nl = np.asarray(res.row, np.float64)
    policies[tau] = (rl, nl)
    rows.append(dict(
        tau=tau,
        rlhf_entropy=float(np.mean(_entropy(rl))),
        nlhf_entropy=float(np.mean(_entropy(nl))),
        rlhf_support=float(np.mean(np.sum(rl > support_threshold, -1))),
        nlhf_support=float(np.mean(np.sum(nl > support_threshold, -1))),
        rlhf_top_prob=float(np.mean(rl.max(-1))),
        nlhf_top_prob=float(np.mean(nl.max(-1))),
        nlhf_tv_to_lottery=float(np.mean(0.5 * np.abs(nl - ml).sum(-1))),
        nlhf_max_gap=float(np.max(res.gap)),
        nlhf_uncertified=int(np.sum(~np.asarray(res.converged)))))
  lottery = dict(entropy=float(np.mean(_entropy(ml))),
                 support=float(np.mean(np.sum(ml > support_threshold, -1))),
                 top_prob=float(np.mean(ml.max(-1))))
  return rows, lottery, policies


def _limits_section(config, results, oracles, algorithms, workdir):
  """Exact sweep on the population oracle's held-out prompts without a CW."""
  key = next(((o, a) for o in oracles for a in algorithms
              if o == "population"), None)
  if key is not None:
    task, eval_oracle = results[key]["task"], results[key]["eval_oracle"]
  else:  # Same task as a population run: a deterministic function of seed.
    cfg = {k: v for k, v in config.to_dict().items()
           if k not in ("oracle", "algorithm")}
    task, eval_oracle, _ = nlhf_train.build_task(nlhf_train.resolve_config(
        dict(cfg, oracle="population", algorithm="nash_rs")))
  ids = jnp.asarray(task.eval_prompts)
  P = np.asarray(eval_oracle.matrix(ids), np.float64)
  no_cw = np.asarray(social_choice.condorcet_winner(jnp.asarray(P))) < 0
  if not no_cw.any():
    return ("### Exact optima vs tau\n\nNo held-out population prompt "
            "without a Condorcet winner.\n")
  mu = np.asarray(task.reference, np.float64)[np.asarray(ids)][no_cw]
  taus = tuple(LIMIT_TAUS) + ((float(config.tau),) if config.tau > 0 else ())
  rows, lottery, _ = exact_limits(P[no_cw], mu, taus)
  common.write_csv(os.path.join(workdir, "nlhf_limits.csv"),
                   rows + [dict(tau=0.0, nlhf_entropy=lottery["entropy"],
                                nlhf_support=lottery["support"],
                                nlhf_top_prob=lottery["top_prob"],
                                nlhf_tv_to_lottery=0.0)],
                   fieldnames=_LIMIT_COLUMNS)
  plt = common.pyplot()
  t = [r["tau"] for r in rows]
  fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
  for ax, stat, label in zip(
      axes, ("entropy", "support", "top_prob"),
      ("mean entropy (nats)", "mean support size (prob > 1e-2)",
       "mean top-response prob. (dotted: TV)")):
    ax.plot(t, [r[f"rlhf_{stat}"] for r in rows], "o-", color="C3",
            label="RLHF optimum (BT reward)")
    ax.plot(t, [r[f"nlhf_{stat}"] for r in rows], "s-", color="C0",
            label="NLHF (regularized Nash)")
    ax.axhline(lottery[stat], color="k", ls="--", lw=1,
               label="maximal lottery (tau -> 0)")
    ax.axvline(float(config.tau), color="gray", ls=":", lw=0.8,
               label=f"training tau = {config.tau:g}")
    ax.set_xscale("log")
    ax.set_xlabel("KL strength tau")
    ax.set_ylabel(label)
  axes[2].plot(t, [r["nlhf_tv_to_lottery"] for r in rows], "^:", color="C0",
               alpha=0.6, label="NLHF: TV to maximal lottery")
  axes[0].set_title(f"{int(no_cw.sum())} held-out population prompts "
                    "without a Condorcet winner", fontsize=8)
  axes[2].legend(fontsize=7)
  common.save_figure(fig, os.path.join(workdir, "nlhf_limits.png"))
  return (
      "### Exact optima vs tau (no training)\n\n"
      f"On the {int(no_cw.sum())} of {P.shape[0]} held-out population prompts "
      "without a Condorcet winner: RLHF's optimum `pi ∝ mu exp(r / tau)` "
      "with `r` the Bradley-Terry MLE reward of the prompt's preference "
      "matrix, and NLHF's optimum, the KL-regularized equilibrium of the "
      "margin game `P - 1/2` toward `mu` (max regularized duality gap in "
      "`nlhf_max_gap`; games above 1e-10 counted in `nlhf_uncertified`); "
      "support = responses with probability > 1e-2, "
      "means over prompts. The maximal lottery (tau -> 0 limit of NLHF) has "
      f"entropy {lottery['entropy']:.3g}, support {lottery['support']:.3g}, "
      f"top probability {lottery['top_prob']:.3g}.\n\n"
      + common.markdown_table(rows, _LIMIT_COLUMNS) +
      "\n![exact RLHF vs NLHF optima against tau](nlhf_limits.png)\n\n")


def run(config, workdir: str) -> str:
  """Runs every (oracle, algorithm) pair; returns a markdown report section."""
  oracles = _split(config.oracle)
  algorithms = _split(config.algorithm)
  base = {k: v for k, v in config.to_dict().items()
          if k not in ("oracle", "algorithm")}
  pairs = [(o, a) for o in oracles for a in algorithms]
  if not pairs:
    raise ValueError("config.oracle and config.algorithm must not be empty.")
  # Every run's config is checked (names, sizes) before the first one trains.
  for oracle, algorithm in pairs:
    nlhf_train.resolve_config(dict(base, oracle=oracle, algorithm=algorithm))
  results = {}
  rows = []
  for oracle, algorithm in pairs:
    rundir = (workdir if len(pairs) == 1
              else os.path.join(workdir, "runs", oracle, algorithm))
    res = nlhf_train.train(dict(base, oracle=oracle, algorithm=algorithm),
                           rundir)
    results[(oracle, algorithm)] = res
    for row in res["history"]:
      rows.append(dict(oracle=oracle, algorithm=algorithm,
                       **{k: row[k] for k in ("step",) + _METRICS
                          if k in row}))
  first = results[pairs[0]]
  summary = {k: first["final"][k] for k in _METRICS}
  summary.update(steps=first["steps"], oracle=pairs[0][0],
                 algorithm=pairs[0][1])
  if len(pairs) > 1:
    summary["runs"] = {
        f"{o}/{a}": dict({k: r["final"][k] for k in _METRICS},
                         steps=r["steps"])
        for (o, a), r in results.items()}
  common.write_json(os.path.join(workdir, "metrics.json"), summary)
  common.write_csv(os.path.join(workdir, "metrics_all.csv"), rows)

  plt = common.pyplot()
  # Figure 1: win rate and exploitability against steps.
  fig, axes = plt.subplots(2, len(oracles), figsize=(4.2 * len(oracles), 6),
                           squeeze=False)
  for j, oracle in enumerate(oracles):
    for algorithm in algorithms:
      hist = results[(oracle, algorithm)]["history"]
      steps = [h["step"] for h in hist]
      axes[0, j].plot(steps, [h["win_rate_vs_reference"] for h in hist],
                      label=algorithm)
      axes[0, j].fill_between(
          steps, [h["win_rate_sampled_low"] for h in hist],
          [h["win_rate_sampled_high"] for h in hist], alpha=0.15)
      axes[1, j].plot(steps, [h["exploitability"] for h in hist],
                      label=algorithm)
    axes[0, j].axhline(0.5, color="gray", lw=0.8, ls=":")
    axes[0, j].set_title(f"oracle: {oracle}")
    axes[0, j].set_ylabel("win rate vs reference")
    axes[1, j].set_ylabel("exploitability (duality gap)")
    axes[1, j].set_xlabel("training step")
    axes[0, j].legend(fontsize=7)
  common.save_figure(fig, os.path.join(workdir, "nlhf_curves.png"))

  # Figure 2: policies on a held-out prompt of the first oracle without a
  # Condorcet winner (where the theory predicts a mixed equilibrium).
  oracle = oracles[0]
  res0 = results[(oracle, algorithms[0])]
  task = res0["task"]
  ids = jnp.asarray(task.eval_prompts)
  eval_oracle = res0["eval_oracle"]  # the truth (not the learned model)
  P = np.asarray(eval_oracle.matrix(ids), np.float64)
  cw = np.asarray(social_choice.condorcet_winner(jnp.asarray(P)))
  no_cw = np.flatnonzero(cw < 0)
  e = int(no_cw[0]) if no_cw.size else 0
  ml = metrics_lib.maximal_lotteries(P[e:e + 1])[0]
  fig, (ax, ax2) = plt.subplots(
      1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [2.2, 1]})
  k = P.shape[-1]
  width = 0.8 / (len(algorithms) + 2)
  _, mu = _final_policies(res0, ids)
  ax.bar(np.arange(k) - 0.4, mu[e], width, label="reference", align="edge")
  for i, algorithm in enumerate(algorithms):
    pi, _ = _final_policies(results[(oracle, algorithm)], ids)
    ax.bar(np.arange(k) - 0.4 + (i + 1) * width, pi[e], width,
           label=algorithm, align="edge")
  ax.bar(np.arange(k) - 0.4 + (len(algorithms) + 1) * width, ml, width,
         label="maximal lottery", align="edge", color="k")
  ax.set_xlabel("candidate response")
  ax.set_ylabel("probability")
  ax.set_title(f"{oracle}: held-out prompt {int(ids[e])} "
               f"({'no ' if no_cw.size else ''}Condorcet winner)")
  ax.legend(fontsize=7)
  # Right: mean support size (prob > 1e-2) on the held-out prompts without a
  # Condorcet winner, where the equilibrium is mixed (all prompts if none).
  sel = no_cw if no_cw.size else np.arange(P.shape[0])
  supports = [
      float(np.mean(np.sum(_final_policies(results[(oracle, a)], ids)[0][sel]
                           > 1e-2, -1))) for a in algorithms]
  ax2.bar(np.arange(len(algorithms)), supports,
          color=[f"C{i + 1}" for i in range(len(algorithms))])
  all_ml = metrics_lib.maximal_lotteries(P[sel])
  ax2.axhline(float(np.mean(np.sum(all_ml > 1e-2, -1))), color="k", ls="--",
              label="maximal lottery")
  ax2.axhline(1.0, color="gray", ls=":", lw=0.8)
  ax2.set_xticks(np.arange(len(algorithms)), algorithms, rotation=30,
                 fontsize=7)
  ax2.set_ylabel(f"mean support size ({sel.size} prompts)")
  ax2.legend(fontsize=7)
  common.save_figure(fig, os.path.join(workdir, "nlhf_diversity.png"))

  table = [dict(oracle=o, algorithm=a,
                **{m: r["final"][m] for m in
                   ("win_rate_vs_reference", "exploitability", "entropy",
                    "support_size", "lottery_agreement")})
           for (o, a), r in results.items()]
  limits = _limits_section(config, results, oracles, algorithms, workdir)
  command = _command(config)
  return (
      "## NLHF fine-tuning of a policy head\n\n"
      "Policy head (flax NNX) trained against preference oracles with Nash "
      "trainers and the RLHF baseline; metrics on held-out prompts "
      "(exploitability = duality gap of (pi, pi) in each prompt's margin "
      "game, lottery agreement = 1 - TV to the maximal lottery).\n\n"
      + common.markdown_table(table) +
      "\n![win rate and exploitability](nlhf_curves.png)\n\n"
      "![policies on a prompt without a Condorcet winner]"
      "(nlhf_diversity.png)\n\n" + limits +
      f"Reproduce: `{command}`\n")


def _command(config) -> str:
  """The command line reproducing ``config`` (nearest preset + overrides)."""
  from experiments.configs import nlhf as config_lib  # pylint: disable=g-import-not-at-top
  mine = config.to_dict()
  best = None
  for preset in ("quick", "paper"):
    ref = config_lib.get_config(preset).to_dict()
    diff = {k: v for k, v in mine.items() if ref.get(k) != v}
    if best is None or len(diff) < len(best[1]):
      best = (preset, diff)
  preset, diff = best
  flags_ = "".join(f" --config.{k}={v}" for k, v in sorted(diff.items()))
  return ("python -m experiments.nlhf --config=experiments/configs/nlhf.py:"
          f"{preset}{flags_} --workdir=DIR")


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/nlhf.py")
