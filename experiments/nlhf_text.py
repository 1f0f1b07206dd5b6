r"""NLHF on real text: policy heads over sentence embeddings, held-out prompts.

For each configured text task (``nash_align.nlhf.text_tasks``: real prompts,
real answers of chat models, real human or GPT-4 judgments) and feature set
(``text``: all-MiniLM-L6-v2 embeddings of prompt and answer; ``identity``:
one-hot model identity, the baseline that cannot read), with the prompts split
into training and held-out sets by the seed:

1. fits a general preference model (antisymmetric, can represent cycles) and
   a Bradley-Terry reward model on the training prompts' judgments only, and
   reports both models' pairwise accuracy on the held-out judgments;
2. trains a policy head with nash_md, mirror_descent, sppo and nash_rs
   against the learned preference model, and rlhf against the BT reward, at
   each KL strength ``tau``;
3. evaluates every policy on the held-out prompts ``x`` against the uniform
   reference ``mu`` with the judged preferences:
   ``w_x = sum_a sum_b pi(a|x) mu(b) Phat_x(a > b)``, ``Phat_x(a > b) =
   (wins + ties/2) / judgments`` (both orders pooled, ``Phat_x(a > a) =
   1/2``); its mean over held-out prompts with a bootstrap interval over
   prompts, and the policy's entropy.

Writes ``metrics.json`` (``task``, ``train_prompts``, ``eval_prompts``,
``candidates``, ``algorithms`` {name: ``heldout_win_rate_vs_reference``,
``heldout_win_rate_ci95``, ``entropy``}, ``preference_model``
{``heldout_pairwise_accuracy``, ``bt_heldout_pairwise_accuracy``}, plus
``runs`` for every task / features / tau), ``policy_eval.csv``
(``algorithm,prompt_id,candidate,prob`` on the held-out prompts of the first
run; ``policy_eval_all.csv`` for every run) and ``results.csv``; the paper
preset adds figures (held-out win rate and entropy against tau, NLHF against
RLHF, the trained RLHF head against its exact optimum).

Usage::

  python -m experiments.nlhf_text --config=experiments/configs/nlhf_text.py:quick \
      --workdir=/tmp/nlhf_text

A killed run restarted with the same command resumes (policy heads from their
orbax checkpoints; embeddings from the workdir cache).
"""

import dataclasses
import os
import time

from flax import nnx
import jax
import numpy as np

from experiments import common
from nash_align.nlhf import metrics as metrics_lib
from nash_align.nlhf import oracles
from nash_align.nlhf import text_tasks
from nash_align.nlhf import training as nlhf_train

NASH_ALGORITHMS = ("nash_md", "mirror_descent", "sppo", "nash_rs")
# Nash-RS as the authors run it (arXiv:2503.10990v1 code): sampled, one policy
# sample, the literal acceptance exp(-g / tau), proposals until one opponent is
# accepted (capped at config.num_proposals; capped prompts are counted), at
# the authors' tau (config.authors_tau = 0.15) whatever the sweep's tau.
AUTHORS_NASH_RS = "nash_rs_authors"


def _split(value) -> list[str]:
  return [v.strip() for v in str(value).split(",") if v.strip()]


def _train_config(config, algorithm: str, tau: float, num_steps=None) -> dict:
  steps = int(num_steps or config.num_steps)
  every = min(int(config.eval_every), steps)
  if algorithm == AUTHORS_NASH_RS:
    return dict(_train_config(config, "nash_rs", config.authors_tau,
                              num_steps),
                estimator="sampled", num_samples=1, rs_shift=False,
                rs_until_accept=True, rs_num_accept=1)
  return dict(
      seed=int(config.seed), algorithm=algorithm, tau=float(tau),
      hidden_dim=int(config.hidden_dim), num_steps=steps, eval_every=every,
      checkpoint_every=steps, batch_size=int(config.batch_size),
      learning_rate=float(config.learning_rate), estimator=config.estimator,
      beta=float(config.beta), eta=float(config.eta),
      num_samples=int(config.num_samples),
      num_proposals=int(config.num_proposals), rs_shift=bool(config.rs_shift),
      eval_samples=16, progress=False, tensorboard=False)


def _entropy(p):
  p = np.asarray(p, np.float64)
  return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0),
                 -1)


def _summary(pi, tt, config, seed_offset=0) -> dict:
  mu = np.asarray(tt.task.reference, np.float64)[np.asarray(
      tt.task.eval_prompts)]
  w = text_tasks.heldout_win_rate(pi, mu, tt.heldout_matrices)
  low, high = text_tasks.bootstrap_interval(
      w, seed=int(config.seed) + seed_offset,
      num_resamples=int(config.bootstrap_resamples))
  return {"heldout_win_rate_vs_reference": float(np.mean(w)),
          "heldout_win_rate_ci95": [low, high],
          "entropy": float(np.mean(_entropy(pi))),
          "support_size": float(np.mean(np.sum(pi > 1e-2, -1)))}


FINETUNED = "text_finetuned"


def _run_one(config, task_name, features, workdir, log):
  """One task x features: learned models, every algorithm x tau."""
  start = time.perf_counter()
  tt = text_tasks.build_text_task(
      task_name, seed=int(config.seed), num_eval=int(config.num_eval),
      features="text" if features == FINETUNED else features,
      cache_dir=os.path.join(workdir, "embeddings"))
  key = jax.random.PRNGKey(int(config.seed))
  fit = dict(hidden_dim=int(config.model_hidden_dim),
             num_steps=int(config.model_steps),
             learning_rate=float(config.model_learning_rate),
             weight_decay=float(config.model_weight_decay))
  if features == FINETUNED:
    # The top encoder layers fine-tuned with the general preference model on
    # the training judgments; both models then read the new embeddings.
    pref, _ = text_tasks.fine_tune_preference_model(
        jax.random.fold_in(key, 13), tt,
        num_trainable_layers=int(config.finetune_layers),
        hidden_dim=int(config.model_hidden_dim),
        num_steps=int(config.finetune_steps),
        learning_rate=float(config.model_learning_rate),
        encoder_learning_rate=float(config.finetune_learning_rate),
        weight_decay=float(config.model_weight_decay))
    tt = dataclasses.replace(tt, features=FINETUNED, task=tt.task.replace(
        prompt_features=pref.prompt_features,
        candidate_features=pref.candidate_features))
  else:
    pref = text_tasks.fit_judgment_model(jax.random.fold_in(key, 11), tt,
                                         "preference", **fit)
  bt = text_tasks.fit_judgment_model(jax.random.fold_in(key, 12), tt,
                                     "reward", **fit)
  acc = {
      "heldout_pairwise_accuracy":
          text_tasks.pairwise_accuracy(pref, tt)["accuracy"],
      "bt_heldout_pairwise_accuracy":
          text_tasks.pairwise_accuracy(bt, tt)["accuracy"],
      "heldout_log_loss": text_tasks.pairwise_accuracy(pref, tt)["log_loss"],
      "bt_heldout_log_loss": text_tasks.pairwise_accuracy(bt, tt)["log_loss"],
      "train_pairwise_accuracy": text_tasks.pairwise_accuracy(
          pref, tt, tt.train_rows)["accuracy"],
      "bt_train_pairwise_accuracy": text_tasks.pairwise_accuracy(
          bt, tt, tt.train_rows)["accuracy"],
  }
  # Ceiling: the held-out judgments' own per-prompt majority (in-sample).
  wins, totals = tt.corpus.counts()
  emp = oracles.EmpiricalOracle(matrices=wins / np.maximum(totals, 1))
  acc["heldout_empirical_majority_accuracy"] = text_tasks.pairwise_accuracy(
      emp, tt)["accuracy"]
  log(f"{task_name}/{features}: learned models fitted "
      f"(held-out accuracy {acc['heldout_pairwise_accuracy']:.3f} general, "
      f"{acc['bt_heldout_pairwise_accuracy']:.3f} BT)")
  ev = np.asarray(tt.task.eval_prompts)
  k = tt.corpus.num_candidates
  mu = np.full((ev.size, k), 1.0 / k)
  train_task = tt.task.replace(oracle=pref)
  runs = {}
  policies = {}
  for tau in [float(t) for t in _split(config.taus)]:
    row = {}
    for algorithm in _split(config.algorithms):
      run_tau = (float(config.authors_tau) if algorithm == AUTHORS_NASH_RS
                 else tau)
      rundir = os.path.join(workdir, "runs", task_name, features,
                            f"tau{run_tau:g}", algorithm)
      res = nlhf_train.train(_train_config(config, algorithm, tau), rundir,
                             task=train_task,
                             reward_oracle=bt if algorithm == "rlhf" else None)
      model = nnx.merge(res["graphdef"], res["params"])
      pi = text_tasks.policy_probabilities(model, train_task, ev)
      policies[(tau, algorithm)] = pi
      row[algorithm] = _summary(pi, tt, config)
      if algorithm == AUTHORS_NASH_RS:
        hist = [h for h in res["history"] if "train_rs_capped" in h]
        chunk = int(config.batch_size) * min(int(config.eval_every),
                                             int(config.num_steps))
        row[algorithm].update(
            rs_capped_share=float(np.mean([h["train_rs_capped"]
                                           for h in hist])),
            rs_capped_prompts=int(round(sum(h["train_rs_capped"] * chunk
                                            for h in hist))),
            rs_proposals_mean=float(np.mean([h["train_rs_proposals"]
                                             for h in hist])),
            rs_proposal_cap=int(config.num_proposals), tau=run_tau)
    # Exact optima of the learned models on the held-out prompts (no
    # training): NLHF's regularized equilibrium of the general model, and
    # RLHF's softmax(log mu + r / tau) of the BT reward.
    P = np.asarray(pref.matrix(ev), np.float64)
    nl = np.asarray(metrics_lib.nlhf_optimum(P, mu, tau).row, np.float64)
    rl = metrics_lib.rlhf_optimum(P, mu, tau,
                                  reward=np.asarray(bt.reward(ev)))
    policies[(tau, "nlhf_exact")] = nl
    policies[(tau, "rlhf_exact")] = rl
    row["nlhf_exact"] = _summary(nl, tt, config)
    row["rlhf_exact"] = _summary(rl, tt, config)
    runs[tau] = row
    log(f"{task_name}/{features} tau={tau:g}: " + ", ".join(
        f"{a} {r['heldout_win_rate_vs_reference']:.3f}"
        for a, r in row.items()))
  return dict(tt=tt, pref=pref, bt=bt, accuracy=acc, runs=runs,
              policies=policies, seconds=time.perf_counter() - start)


def _run_record(res) -> dict:
  tt = res["tt"]
  return {
      "task": tt.name, "features": tt.features,
      "train_prompts": tt.train_ids, "eval_prompts": tt.eval_ids,
      "candidates": list(tt.corpus.candidates),
      "preference_model": res["accuracy"],
      "by_tau": {f"{tau:g}": row for tau, row in res["runs"].items()},
      "seconds": res["seconds"],
  }


def _policy_rows(res, tau, with_run=False):
  tt = res["tt"]
  rows = []
  for (t, algorithm), pi in res["policies"].items():
    if t != tau:
      continue
    for e, pid in enumerate(tt.eval_ids):
      for c, name in enumerate(tt.corpus.candidates):
        row = dict(algorithm=algorithm, prompt_id=pid, candidate=name,
                   prob=float(pi[e, c]))
        if with_run:
          row = dict(task=tt.name, features=tt.features, tau=t, **row)
        rows.append(row)
  return rows


def _figures(results, taus, algorithms, workdir) -> str:
  """Held-out win rate / entropy against tau; NLHF against RLHF."""
  plt = common.pyplot()
  keys = list(results)
  taus = sorted(taus)
  fig, axes = plt.subplots(2, len(keys), figsize=(4.2 * len(keys), 6.4),
                           squeeze=False)
  names = list(algorithms) + ["nlhf_exact", "rlhf_exact"]
  for j, key in enumerate(keys):
    res = results[key]
    for i, a in enumerate(names):
      style = "--" if a.endswith("_exact") else "-"
      w = [res["runs"][t][a]["heldout_win_rate_vs_reference"] for t in taus]
      lo = [res["runs"][t][a]["heldout_win_rate_ci95"][0] for t in taus]
      hi = [res["runs"][t][a]["heldout_win_rate_ci95"][1] for t in taus]
      ent = [res["runs"][t][a]["entropy"] for t in taus]
      color = "C3" if a.startswith("rlhf") else f"C{i % 10}"
      axes[0, j].plot(taus, w, style, marker="o", color=color, label=a)
      if a in ("rlhf", "nash_md"):
        axes[0, j].fill_between(taus, lo, hi, color=color, alpha=0.12)
      axes[1, j].plot(taus, ent, style, marker="o", color=color, label=a)
    axes[0, j].axhline(0.5, color="gray", lw=0.8, ls=":")
    axes[0, j].set_xscale("log")
    axes[1, j].set_xscale("log")
    axes[0, j].set_title(f"{key[0]} / {key[1]}", fontsize=9)
    axes[0, j].set_ylabel("held-out win rate vs uniform mu")
    axes[1, j].set_ylabel("policy entropy (nats)")
    axes[1, j].set_xlabel("KL strength tau")
  axes[0, 0].legend(fontsize=6)
  common.save_figure(fig, os.path.join(workdir, "nlhf_text_tau.png"))
  return ("![held-out win rate and entropy against tau (bands: 95% "
          "bootstrap over held-out prompts for nash_md and rlhf)]"
          "(nlhf_text_tau.png)\n\n")


IMPLICIT_PI1 = (0.1, 0.3, 0.6, 0.9)
IMPLICIT_TAUS = (0.15, 0.1, 0.01)


def implicit_reward_figure(workdir) -> str:
  """Nash-RS's implicit rewards against RLHF's, two responses (analytic).

  For ``P(y_1 > y_2) = a`` in (0, 1), reference ``mu = (pi_1, 1 - pi_1)``
  and several ``tau``: Nash-RS's ``r_i = -log sum_y' mu(y') exp(-P(y_i >
  y') / tau)`` (:func:`nash_align.nlhf.algorithms.nash_rs_implicit_reward`)
  and RLHF's ``+-log(a / (1 - a)) / (2 tau)``, as in the authors' figure.
  """
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from nash_align.nlhf import algorithms  # pylint: disable=g-import-not-at-top
  a = np.linspace(0.01, 0.99, 99)
  P = np.zeros((a.size, 2, 2))
  P[:, 0, 0] = P[:, 1, 1] = 0.5
  P[:, 0, 1], P[:, 1, 0] = a, 1 - a
  plt = common.pyplot()
  fig, axes = plt.subplots(len(IMPLICIT_PI1), len(IMPLICIT_TAUS),
                           figsize=(3.6 * len(IMPLICIT_TAUS),
                                    2.6 * len(IMPLICIT_PI1)), squeeze=False)
  rows = []
  for i, pi1 in enumerate(IMPLICIT_PI1):
    ref = jnp.log(jnp.broadcast_to(jnp.asarray([pi1, 1 - pi1]), (a.size, 2)))
    for j, tau in enumerate(IMPLICIT_TAUS):
      r = np.asarray(algorithms.nash_rs_implicit_reward(jnp.asarray(P), ref,
                                                        tau), np.float64)
      q1, q2 = (np.asarray(x) for x in
                algorithms.rlhf_two_response_reward(jnp.asarray(a), tau))
      ax = axes[i, j]
      ax.plot(a, q1, color="C3", label="RLHF $r_1$")
      ax.plot(a, q2, color="C3", ls="--", label="RLHF $r_2$")
      ax.plot(a, r[:, 0], color="C0", label="Nash-RS $r_1$")
      ax.plot(a, r[:, 1], color="C0", ls="--", label="Nash-RS $r_2$")
      ax.set_yscale("symlog")
      ax.set_title(f"pi_1 = {pi1:g}, tau = {tau:g}", fontsize=8)
      ax.grid(alpha=0.4, ls=":")
      if i == len(IMPLICIT_PI1) - 1:
        ax.set_xlabel("preference a = P(y_1 > y_2)")
      mid = a.size // 2
      rows.append(dict(pi_1=pi1, tau=tau,
                       nash_rs_gap_at_a_0_5=float(r[mid, 0] - r[mid, 1]),
                       nash_rs_gap_at_a_0_99=float(r[-1, 0] - r[-1, 1]),
                       rlhf_gap_at_a_0_99=float(q1[-1] - q2[-1])))
  axes[0, 0].legend(fontsize=6)
  fig.tight_layout()
  common.save_figure(fig, os.path.join(workdir, "implicit_reward.png"))
  common.write_csv(os.path.join(workdir, "implicit_reward.csv"), rows)
  return ("### Implicit rewards, two responses (arXiv:2503.10990v1, "
          "analytic)\n\nNash-RS's implicit reward `r_i = -log sum_y' mu(y') "
          "exp(-P(y_i > y')/tau)` against RLHF's `+-log(a/(1-a))/(2 tau)`: "
          "RLHF's reward gap grows without bound as `a -> 1` or `tau -> 0`, "
          "Nash-RS's gap `r_1 - r_2` saturates at about `1/(2 tau)` "
          "(its levels, not its gap, depend on the reference `pi_1`).\n\n" + common.markdown_table(rows) +
          "\n![implicit rewards](implicit_reward.png)\n\n")


def _rlhf_collapse(config, results, workdir) -> str:
  """Trained-to-convergence RLHF head against its exact optimum, per tau.

  On the training prompts (where the head is fitted: does training reach the
  optimum?) and on the held-out prompts (does it generalise there?).
  """
  key = next(iter(results))
  res = results[key]
  tt, bt = res["tt"], res["bt"]
  k = tt.corpus.num_candidates
  splits = {"train": np.asarray(tt.task.train_prompts),
            "heldout": np.asarray(tt.task.eval_prompts)}
  taus = sorted({float(t) for t in _split(config.taus)} | {0.003})
  rows = []
  for tau in taus:
    rundir = os.path.join(workdir, "runs", key[0], key[1], f"tau{tau:g}",
                          "rlhf_converged")
    out = nlhf_train.train(
        _train_config(config, "rlhf", tau, config.rlhf_converged_steps),
        rundir, task=tt.task.replace(oracle=res["pref"]), reward_oracle=bt)
    model = nnx.merge(out["graphdef"], out["params"])
    row = dict(tau=tau)
    for name, ids in splits.items():
      pi = text_tasks.policy_probabilities(model, tt.task, ids)
      mu = np.full((ids.size, k), 1.0 / k)
      exact = metrics_lib.rlhf_optimum(None, mu, tau,
                                       reward=np.asarray(bt.reward(ids)))
      row.update({
          f"{name}_trained_support": float(np.mean(np.sum(pi > 1e-2, -1))),
          f"{name}_exact_support": float(np.mean(np.sum(exact > 1e-2, -1))),
          f"{name}_trained_top_prob": float(np.mean(pi.max(-1))),
          f"{name}_exact_top_prob": float(np.mean(exact.max(-1))),
          f"{name}_tv": float(np.mean(0.5 * np.abs(pi - exact).sum(-1)))})
    rows.append(row)
  common.write_csv(os.path.join(workdir, "rlhf_collapse.csv"), rows)
  plt = common.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
  t = [r["tau"] for r in rows]
  for ax, stat, label in zip(axes, ("support", "top_prob"),
                             ("mean support (prob > 1e-2)",
                              "mean top probability")):
    for name, style in (("train", "-"), ("heldout", ":")):
      ax.plot(t, [r[f"{name}_trained_{stat}"] for r in rows], "o" + style,
              color="C3", label=f"trained RLHF head, {name} prompts")
      ax.plot(t, [r[f"{name}_exact_{stat}"] for r in rows], "s" + style,
              color="k", label=f"exact optimum, {name} prompts")
    ax.set_xscale("log")
    ax.set_xlabel("KL strength tau")
    ax.set_ylabel(label)
  axes[0].legend(fontsize=6)
  axes[0].set_title(f"{key[0]} / {key[1]}, "
                    f"{config.rlhf_converged_steps} steps", fontsize=9)
  common.save_figure(fig, os.path.join(workdir, "rlhf_collapse.png"))
  return ("### RLHF collapse: trained head against its exact optimum\n\n"
          "Exact optimum `softmax(log mu + r / tau)` of the learned BT "
          "reward `r`; `tv` = mean total variation between trained and "
          "exact.\n\n" + common.markdown_table(rows) +
          "\n![trained vs exact RLHF](rlhf_collapse.png)\n\n")


def run(config, workdir: str) -> str:
  """Runs every task x features; returns a markdown report section."""
  tasks = _split(config.tasks)
  features = _split(config.features)
  algorithms = _split(config.algorithms)
  taus = [float(t) for t in _split(config.taus)]
  if not tasks or not features or not algorithms or not taus:
    raise ValueError("config.tasks, features, algorithms and taus must not "
                     "be empty.")
  for t in tasks:
    if t not in text_tasks.TEXT_TASKS:
      raise ValueError(f"unknown task {t!r} in config.tasks; expected one "
                       f"of {text_tasks.TEXT_TASKS}.")
  for f in features:
    if f not in text_tasks.FEATURES + (FINETUNED,):
      raise ValueError(f"unknown features {f!r} in config.features; "
                       f"expected one of {text_tasks.FEATURES}.")
  for a in algorithms:
    nlhf_train.resolve_config(_train_config(config, a, taus[0]))
  os.makedirs(workdir, exist_ok=True)
  start = time.perf_counter()

  def log(msg):
    print(f"[nlhf_text {time.perf_counter() - start:6.1f}s] {msg}",
          flush=True)

  results = {}
  for t in tasks:
    for f in features:
      if f == FINETUNED and t == "qlora_oa":
        log("qlora_oa has no answer texts: text_finetuned skipped")
        continue
      results[(t, f)] = _run_one(config, t, f, workdir, log)
  if (tasks[0], features[0]) not in results:
    raise ValueError(f"the first task x features ({tasks[0]}, "
                     f"{features[0]}) cannot run.")
  first = results[(tasks[0], features[0])]
  tau0 = taus[0]
  record = _run_record(first)
  summary = {
      "task": record["task"], "features": record["features"], "tau": tau0,
      "train_prompts": record["train_prompts"],
      "eval_prompts": record["eval_prompts"],
      "candidates": record["candidates"],
      "algorithms": {a: first["runs"][tau0][a] for a in algorithms},
      "exact_optima": {a: first["runs"][tau0][a]
                       for a in ("nlhf_exact", "rlhf_exact")},
      "preference_model": record["preference_model"],
      "runs": {f"{t}/{f}": _run_record(r) for (t, f), r in results.items()},
  }
  table = []
  for (t, f), r in results.items():
    for tau, row in r["runs"].items():
      for a, m in row.items():
        table.append(dict(task=t, features=f, tau=tau, algorithm=a,
                          heldout_win_rate=m["heldout_win_rate_vs_reference"],
                          ci_low=m["heldout_win_rate_ci95"][0],
                          ci_high=m["heldout_win_rate_ci95"][1],
                          entropy=m["entropy"], support=m["support_size"]))
  acc_table = [dict(task=t, features=f, **r["accuracy"])
               for (t, f), r in results.items()]
  section = [
      "## NLHF on real text (held-out prompts)\n\n",
      "Policy heads over all-MiniLM-L6-v2 embeddings (`text`) or one-hot "
      "model identities (`identity`), trained against a general preference "
      "model (Nash trainers) or a Bradley-Terry reward (rlhf), both fitted on "
      "the training prompts' judgments only; evaluated on held-out prompts "
      "against the uniform reference with the held-out judgments "
      "(`*_exact`: the exact optimum of the learned model, no training).\n\n",
      "### Learned models: pairwise accuracy on held-out judgments "
      "(decisive judgments; ties excluded)\n\n",
      common.markdown_table(acc_table),
      "\n### Held-out win rate against the uniform reference\n\n",
      common.markdown_table(table), "\n"]
  if len(taus) > 1:
    section.append(_figures(results, taus, algorithms, workdir))
  section.append(implicit_reward_figure(workdir))
  if int(config.rlhf_converged_steps) > 0 and "rlhf" in algorithms:
    section.append(_rlhf_collapse(config, results, workdir))
  summary["seconds"] = time.perf_counter() - start
  common.write_csv(os.path.join(workdir, "results.csv"), table)
  common.write_csv(os.path.join(workdir, "policy_eval.csv"),
                   [r for r in _policy_rows(first, tau0)
                    if r["algorithm"] in algorithms],
                   fieldnames=("algorithm", "prompt_id", "candidate", "prob"))
  common.write_csv(os.path.join(workdir, "policy_eval_all.csv"),
                   [row for r in results.values() for tau in taus
                    for row in _policy_rows(r, tau, with_run=True)])
  common.write_json(os.path.join(workdir, "metrics.json"), summary)
  section.append(
      f"Reproduce: `python -m experiments.nlhf_text "
      f"--config=experiments/configs/nlhf_text.py:{config.preset} "
      f"--workdir=DIR` ({summary['seconds']:.0f} s).\n")
  return "".join(section)


if __name__ == "__main__":
  common.app_main(run, "experiments/configs/nlhf_text.py",
                  log_level="warning")
