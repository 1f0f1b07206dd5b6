"""Config for experiments/benchmark_solvers.py (presets "quick" and "full").

Usage::

  python -m experiments.benchmark_solvers \
      --config=experiments/configs/benchmark_solvers.py:quick --workdir=/tmp/bench

Every field can be overridden on the command line, e.g.
``--config.ns=50, --config.batches=10000, --config.families=margin``
(``ns``/``batches`` are tuples: a trailing comma makes a 1-tuple; ``families``,
``baselines`` and ``methods`` are comma-separated strings).
"""

import ml_collections

# The baselines, in the order they are run (each is skipped cleanly with a
# recorded reason when its package is not installed).
BASELINES = "highs,nashpy,pref_voting,openspiel,mpax,linrax"
FAMILIES = "margin,majority,log_odds,kl_margin"


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """Returns the benchmark config for ``preset`` ("quick" or "full")."""
  if preset not in ("quick", "full", "accelerator"):
    raise ValueError(
        f"Unknown preset {preset!r} for benchmark_solvers; expected 'quick', "
        "'full' or 'accelerator'.")
  c = ml_collections.ConfigDict()
  c.preset = preset
  c.seed = 0
  # Grid: number of alternatives n (games are n x n) and batch sizes.
  c.ns = (10, 50, 200)
  c.batches = (1, 1000, 10000)
  # Payoff families (see benchmark_solvers.FAMILY_DOCS):
  #   margin     P - 1/2 of impartial-culture profiles with num_voters voters;
  #   majority   sign(P - 1/2) of uniformly random tournaments;
  #   log_odds   log(P / (1 - P)) of a mixture of BTL populations;
  #   kl_margin  margin game regularized by beta * KL(. || reference).
  c.families = FAMILIES
  c.num_voters = 101
  c.btl_num_groups = 3  # groups in the BTL mixture (log_odds family)
  c.btl_log_weight_scale = 1.0  # log-strengths ~ N(0, scale^2) per group
  c.kl_beta = 0.01  # regularization strength of the kl_margin family
  c.kl_reference_scale = 1.0  # reference = softmax(scale * N(0, 1) logits)
  # Certification threshold on the float64 duality gap.
  c.tol = 1e-6
  # This library: "all" = every method in solvers.METHODS plus "auto";
  # otherwise comma-separated method names, e.g. "auto,omd". A suffix picks
  # the path: "auto" the eager call, "auto@jit" jax.jit(solve), "auto@shard"
  # the jitted call in jax.shard_map over every device of the backend.
  # With host_devices = N > 0 the CPU backend has N devices (XLA's
  # --xla_force_host_platform_device_count, set before JAX starts): with one
  # per core, "auto@shard" runs a share of the batch on each core.
  c.methods = "all"
  c.max_iters = 0  # 0: the library's default
  c.host_devices = 0  # 0: JAX's default (one CPU device)
  # Baselines and how many games each solves per cell (they solve the first
  # min(batch, cap) games of the cell and report games/s from that subsample).
  c.baselines = BASELINES
  c.highs_max_games = 200
  c.nashpy_max_games = 20
  c.nashpy_max_n = 50  # nashpy is skipped above this n
  c.nashpy_algorithm = "lemke_howson"  # or "support_enumeration" (tiny n only)
  c.nashpy_game_timeout_s = 2.0  # per-game cap; a timed-out game is uncertified
  c.pref_voting_max_games = 200
  c.openspiel_max_games = 100
  c.mpax_max_games = 100
  c.mpax_iteration_limit = 20000
  c.mpax_eps = 1e-8  # eps_abs = eps_rel of MPAX's termination test
  c.mpax_max_n = 200
  c.linrax_max_games = 100
  c.linrax_max_n = 50  # linrax traces a Python loop per constraint row
  # Run the JAX LP baselines (MPAX, linrax) under float64 (jax.enable_x64):
  # in float32 they do not reach a 1e-6 certificate.
  c.jax_baselines_x64 = True
  # The JAX LP baselines run in a spawned child process (same games) that is
  # killed after this many seconds (compile + solve): linrax has no
  # iteration cap and XLA cannot be interrupted.
  c.jax_baselines_timeout_s = 300.0
  # Families the JAX LP baselines run on (each new shape costs a compile).
  c.jax_baselines_families = FAMILIES
  # Host baselines stop a cell after this many seconds (games/s is then
  # measured on the games solved so far; the count is reported).
  c.host_cell_time_cap_s = 60.0
  # JAX backend to run on ("" = jax.default_backend(), or "cpu", "gpu",
  # "tpu"). Nothing in the harness assumes a CPU.
  c.backend = ""
  # Library warm-up (compile) call on the first warmup_games games (0: the
  # whole batch, the default: a method that only some later game needs, the
  # auto chain's first-order fallback, would otherwise compile inside the
  # timed calls), at least twice solve's default chunk for the cell's n.
  c.warmup_games = 0
  # JAX solvers: the timed call is repeated until min_timing_s have passed
  # (at most max_timing_repeats calls) and the mean is reported.
  c.min_timing_s = 0.2
  c.max_timing_repeats = 20
  # Games are certified (float64, on the host) in chunks of this many games.
  c.certify_chunk = 1000
  # Peak-memory sampler period (seconds).
  c.memory_poll_s = 0.005
  # Skip (solver, family, n, batch) cells whose result file already exists
  # with the same config (resume after a kill).
  c.resume = True
  c.plot = True
  # Cells with batch * n * (n + 2) above this are skipped (the in-graph
  # path holds the whole batch's tableaux: 4 bytes an entry in float32).
  c.max_batch_entries = 4 * 10**9

  if preset == "accelerator":
    # One GPU/TPU, about 5 minutes: the jitted and the eager path at n = 50
    # and 200 up to 10^6 games where memory allows (10^6 x 50 x 52 float32 is
    # 10 GB of tableaux; n = 200 stops at 10^5, 16 GB), certified share. The
    # cells of one (n, batch) share their compiles across families.
    c.ns = (50, 200)
    c.batches = (10000, 100000, 1000000)
    c.families = "margin,majority,log_odds"
    c.methods = "auto@jit,auto"
    c.baselines = ""
    c.max_batch_entries = 5 * 10**9
    c.warmup_games = 0
    c.min_timing_s = 0.0
    c.max_timing_repeats = 1

  if preset == "quick":
    c.ns = (10, 50)
    c.batches = (1, 100)
    c.highs_max_games = 100
    c.nashpy_max_games = 5
    c.nashpy_max_n = 10
    c.pref_voting_max_games = 50
    c.openspiel_max_games = 20
    c.mpax_max_games = 20
    c.mpax_max_n = 10
    c.linrax_max_games = 20
    c.linrax_max_n = 10
    c.jax_baselines_families = "margin"
    c.jax_baselines_timeout_s = 60.0
    c.host_cell_time_cap_s = 5.0
    # One library call per cell ("auto"); --config.methods=all adds every
    # method of solvers.METHODS (a compile each, ~3 s on a loaded 2-core CPU).
    c.methods = "auto"
  return c
