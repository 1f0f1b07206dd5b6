r"""Benchmark: this library's certified Nash solvers against the usual baselines.

In ONE process and on the SAME games, every (family, n, batch) cell of the
config's grid is solved by

* this library: ``nash_align.solvers.solve(A, method=m)`` for every ``m`` in
  ``solvers.METHODS`` plus ``"auto"`` (eager calls: streamed in chunks and
  certified in float64 by the library itself);
* the baselines a user would otherwise pick:

  - ``highs``: scipy's HiGHS, one LP per game (``solvers.solve_lp``);
  - ``nashpy``: Lemke-Howson (or support enumeration), small ``n`` only, with
    a per-game time cap (SIGALRM);
  - ``pref_voting``: ``probabilistic_methods.maximal_lottery`` on the
    weighted margin graph ``{(i, j, A_ij) : A_ij > 0}`` (antisymmetric games;
    it returns one lottery, used for both players);
  - ``openspiel``: ``open_spiel.python.algorithms.lp_solver
    .solve_zero_sum_matrix_game`` (cvxpy + ECOS), if it installs;
  - ``mpax``: MPAX's restarted Halpern PDHG (``r2HPDHG``), batched with
    ``jax.vmap`` over the games. MPAX minimises, so each game is posed as
    :math:`\min 1^\top u` s.t. :math:`B^\top u \ge 1, u \ge 0` with
    :math:`B = A - \min A + 1 > 0`; then :math:`x = u / 1^\top u` and the
    column strategy is the normalised dual :math:`y = w / 1^\top w`;
  - ``linrax``: linrax's dense simplex (``linrax.linprog``, minimises, primal
    only), vmapped: two LPs per game (the one above for ``x`` and
    :math:`\min -1^\top w` s.t. :math:`B w \le 1, w \ge 0` for ``y``).

Every answer -- the library's included -- is certified here, independently
of the solver's own claims: strategies are put on the simplex (negative
entries clipped, renormalised; NaN counts as uncertified) and the float64
duality gap ``solvers.duality_gap`` (``solvers.regularized_duality_gap`` for
the KL-regularized family) must be ``<= tol``. A game the library reports
``converged`` but that fails this check is counted in ``false_certificates``.

MPAX and linrax run in a spawned child process on the same arrays, killed
after ``jax_baselines_timeout_s`` (linrax has no iteration cap and its
simplex can cycle on degenerate LPs; XLA cannot be interrupted). By default
they run in float64 (``jax.enable_x64``): in float32 they do not reach a
1e-6 certificate.

Timing: JAX solvers are compiled first (``first_call_s`` is the first call,
compile included: for the library a call on the first ``warmup_games``
games, which reaches the same pool shapes as the whole batch; for MPAX and
linrax an ahead-of-time compile) and the
following call is timed (repeated until ``min_timing_s`` for tiny cells;
the mean is reported). Host baselines are timed on the first
``min(batch, <name>_max_games)`` games of the cell (``games_run``;
``subsampled`` says when that is fewer than the batch), and stop early
after ``host_cell_time_cap_s``; their games/s comes from that subsample,
passed over again (same answers) until ``min_timing_s`` and averaged like
the JAX solvers' calls.
Peak memory is the peak resident-set growth of the process during the timed
call, sampled by a background thread, plus the device's peak bytes in use
where the backend reports memory stats (GPU/TPU).

Device-agnostic: games are generated and solved on
``jax.devices(config.backend or jax.default_backend())[0]``; on a GPU run
``--config.backend=gpu`` (install ``jax[cuda12]``); the host baselines stay
on the CPU, as a user would run them.

Families (``FAMILY_DOCS``): margin ``P - 1/2`` of impartial-culture profiles
(``num_voters`` voters, arXiv:2503.10990's setting), majority ``sign(P -
1/2)`` of uniformly random tournaments, log-odds ``log(P / (1 - P))`` of a
mixture of Bradley-Terry-Luce populations, and the KL-regularized margin
game ``x^T A y - beta KL(x||rho) + beta KL(y||rho)`` (Munos et al., 2023) that
no LP/LCP baseline solves (they are reported ``n/a``).
"""

import contextlib
import datetime
import functools
import hashlib
import json
import os
import platform
import signal
import sys
import threading
import time
import traceback
import warnings
from typing import Any, Callable, Dict, Optional

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

from experiments import common
from nash_align import payoffs
from nash_align import preferences
from nash_align import solvers

FAMILY_DOCS = {
    "margin": "P - 1/2 of impartial-culture profiles (num_voters voters)",
    "majority": "sign(P - 1/2) of uniformly random tournaments",
    "log_odds": "log(P/(1-P)) of a mixture of BTL populations",
    "kl_margin": ("margin game + beta KL(.||reference), reference = softmax "
                  "of Gaussian logits"),
}
_FAMILY_INDEX = {name: i for i, name in enumerate(FAMILY_DOCS)}

CSV_FIELDS = (
    "solver", "kind", "family", "n", "batch", "games_run", "subsampled",
    "seconds", "games_per_s", "certified_frac", "certified_per_s",
    "gap_median", "gap_max", "iters_mean", "iters_max", "first_call_s",
    "peak_rss_mb", "peak_device_mb", "false_certificates", "status", "note")


# ---------------------------------------------------------------------------
# Games.


def make_games(family: str, config, n: int, batch: int,
               device) -> Dict[str, Any]:
  """The cell's games, generated with JAX on ``device``.

  Args:
    family: a key of ``FAMILY_DOCS``.
    config: the benchmark config (seed, num_voters, BTL and KL parameters).
    n: number of alternatives.
    batch: number of games.
    device: the JAX device to generate (and keep) the games on.

  Returns:
    dict with ``A`` ``[batch, n, n]`` float32 (on ``device``; exactly
    antisymmetric: ``(A - A^T) / 2`` of the family's payoff), ``reference``
    ``[batch, n]`` or None and ``beta`` (float). The key depends only on the
    seed, the family and ``(n, batch)``, so every solver sees the same games.
  """
  if family not in FAMILY_DOCS:
    raise ValueError(f"Unknown family {family!r}; expected one of "
                     f"{sorted(FAMILY_DOCS)}.")
  key = jax.random.PRNGKey(config.seed)
  key = jax.random.fold_in(key, _FAMILY_INDEX[family])
  key = jax.random.fold_in(jax.random.fold_in(key, n), batch)
  shape = (batch,)
  reference, beta = None, 0.0
  with jax.default_device(device):
    if family in ("margin", "kl_margin"):
      k_games, k_ref = jax.random.split(key)
      counts = preferences.impartial_culture_counts(
          k_games, config.num_voters, n, shape=shape)
      A = payoffs.margin(preferences.preference_matrix(counts))
      if family == "kl_margin":
        logits = config.kl_reference_scale * jax.random.normal(
            k_ref, (batch, n))
        reference = jax.nn.softmax(logits, axis=-1)
        beta = float(config.kl_beta)
    elif family == "majority":
      A = payoffs.majority(preferences.random_tournament(key, n, shape=shape))
    else:  # log_odds
      k_w, k_p = jax.random.split(key)
      g = config.btl_num_groups
      log_w = config.btl_log_weight_scale * jax.random.normal(
          k_w, (batch, g, n))
      probs = jax.random.dirichlet(k_p, jnp.ones((g,)), (batch,))
      P = preferences.population_preference_matrix(jnp.exp(log_w), probs)
      A = payoffs.log_odds(P)
    # Float32 rounding leaves |A + A^T| ~ 1e-7 (1e-4 for large log-odds);
    # antisymmetrize exactly so that every preference game is a symmetric
    # game for all solvers (pref_voting needs a margin matrix).
    A = jnp.asarray(A, jnp.float32)
    A = 0.5 * (A - jnp.swapaxes(A, -1, -2))
  return dict(A=jax.block_until_ready(A), reference=reference, beta=beta)


# ---------------------------------------------------------------------------
# Certificates.


def _to_simplex(p: np.ndarray) -> np.ndarray:
  """Clips ``p`` ``[m, n]`` at 0 and renormalises (NaN rows stay NaN)."""
  p = np.clip(np.asarray(p, np.float64), 0.0, None)
  s = p.sum(-1, keepdims=True)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(s > 0, p / np.where(s > 0, s, 1.0), np.nan)


def certify(A64: np.ndarray, row, col, reference=None, beta: float = 0.0,
            chunk: int = 1000) -> np.ndarray:
  """Float64 gap ``[m]`` of ``(row, col)`` in the first ``m`` games of ``A64``.

  Uses ``solvers.duality_gap`` (``beta = 0``) or
  ``solvers.regularized_duality_gap`` (``beta > 0``, both players regularized
  toward ``reference``), after putting the strategies on the simplex.
  Missing/NaN strategies give ``inf``. Computed in chunks of ``chunk`` games.
  """
  row = _to_simplex(row)
  col = _to_simplex(col)
  m = row.shape[0]
  gaps = np.empty((m,), np.float64)
  for s in range(0, m, chunk):
    e = min(m, s + chunk)
    a = A64[s:e]
    if beta > 0:
      r = reference[s:e]
      g = solvers.regularized_duality_gap(a, row[s:e], col[s:e], beta, r, r)
    else:
      g = solvers.duality_gap(a, row[s:e], col[s:e])
    gaps[s:e] = g
  return np.where(np.isfinite(gaps), gaps, np.inf)


# ---------------------------------------------------------------------------
# Measurement helpers.


class _PeakMemory:
  """Peak resident-set size (and device bytes in use) over a ``with`` block.

  On Linux the kernel's high-water mark is reset on entry
  (``/proc/self/clear_refs`` = 5) and read on exit (``VmHWM``), so no thread
  runs beside the timed code (a polling thread costs the host loop GIL time:
  about 20% on the 2-core machine at a 5 ms period). Elsewhere, and for
  device memory without a ``peak_bytes_in_use`` statistic, a thread polls.
  """

  def __init__(self, device, period_s: float):
    self._device = device
    self._period = period_s
    self._stop = threading.Event()
    self._thread = None
    self.rss_peak = 0
    self.dev_peak = None

  def _rss(self) -> int:
    try:
      with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
      import resource  # pylint: disable=g-import-not-at-top
      return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

  @staticmethod
  def _reset_hwm() -> bool:
    try:
      with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
      return _PeakMemory._hwm() is not None
    except OSError:
      return False

  @staticmethod
  def _hwm() -> Optional[int]:
    try:
      with open("/proc/self/status") as f:
        for line in f:
          if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
      pass
    return None

  def _stats(self):
    try:
      return self._device.memory_stats() or None
    except Exception:  # pylint: disable=broad-except
      return None

  def _dev(self) -> Optional[int]:
    stats = self._stats()
    return None if stats is None else int(stats.get("bytes_in_use", 0))

  def _loop(self):
    while not self._stop.is_set():
      if not self._kernel_hwm:
        self.rss_peak = max(self.rss_peak, self._rss())
      d = self._dev()
      if d is not None:
        self.dev_peak = max(self.dev_peak or 0, d)
      self._stop.wait(self._period)

  def __enter__(self):
    self.rss0 = self._rss()
    self.dev0 = self._dev()
    self.rss_peak = self.rss0
    self._kernel_hwm = self._reset_hwm()
    stats = self._stats()
    # A device peak statistic is read at the end (it covers the process
    # lifetime, so it only counts when it rises above the start level).
    self._dev_peak_stat = stats is not None and "peak_bytes_in_use" in stats
    needs_dev_poll = stats is not None and not self._dev_peak_stat
    if not self._kernel_hwm or needs_dev_poll:
      self._thread = threading.Thread(target=self._loop, daemon=True)
      self._thread.start()
    return self

  def __exit__(self, *exc):
    if self._thread is not None:
      self._stop.set()
      self._thread.join()
    if self._kernel_hwm:
      self.rss_peak = max(self.rss_peak, self._hwm() or 0)
    self.rss_peak = max(self.rss_peak, self._rss())
    if self._dev_peak_stat:
      self.dev_peak = max(self.dev0 or 0,
                          int(self._stats().get("peak_bytes_in_use", 0)))

  @property
  def rss_mb(self) -> float:
    return (self.rss_peak - self.rss0) / 2**20

  @property
  def device_mb(self) -> float:
    if self.dev_peak is None or self.dev0 is None:
      return float("nan")
    return (self.dev_peak - self.dev0) / 2**20


class _Timeout(Exception):
  pass


@contextlib.contextmanager
def _time_limit(seconds: float):
  """Raises ``_Timeout`` after ``seconds`` (main thread only; else no cap)."""
  if (seconds <= 0 or threading.current_thread() is not threading.main_thread()
      or not hasattr(signal, "setitimer")):
    yield
    return

  def handler(signum, frame):
    raise _Timeout()

  old = signal.signal(signal.SIGALRM, handler)
  signal.setitimer(signal.ITIMER_REAL, seconds)
  try:
    yield
  finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


def _block(tree):
  return jax.tree_util.tree_map(
      lambda x: x.block_until_ready() if hasattr(x, "block_until_ready") else x,
      tree)


# ---------------------------------------------------------------------------
# Solvers. Each returns dict(row [m, n], col [m, n], iterations [m] or None,
# seconds, first_call_s, memory, note); m = games solved (a prefix of the cell).


def _run_host_loop(solve_one: Callable, A64: np.ndarray, max_games: int,
                   cap_s: float, device, config):
  """Solves games one by one until ``max_games`` or ``cap_s`` seconds."""
  m = min(A64.shape[0], max_games)
  n = A64.shape[-1]
  rows = np.full((m, n), np.nan)
  cols = np.full((m, n), np.nan)
  its = np.full((m,), np.nan)
  notes = set()
  done = 0
  with _PeakMemory(device, config.memory_poll_s) as mem:
    t0 = time.perf_counter()
    for b in range(m):
      try:
        x, y, it = solve_one(A64[b])
        rows[b], cols[b] = x, y
        if it is not None:
          its[b] = it
      except _Timeout:
        notes.add("per-game time cap hit")
      except Exception as e:  # pylint: disable=broad-except
        notes.add(f"{type(e).__name__}: {str(e)[:80]}")
      done = b + 1
      if time.perf_counter() - t0 > cap_s:
        break
    seconds = time.perf_counter() - t0
    # Like the JAX solvers' timed calls: passes over the same games until
    # min_timing_s have passed, the mean pass reported (one short pass read
    # 466 or 653 games/s for the same cell on a shared VM).
    passes = 1
    while (done == m and not notes and passes < config.max_timing_repeats
           and seconds * passes < config.min_timing_s):
      t1 = time.perf_counter()
      for b in range(m):
        solve_one(A64[b])
      seconds = (seconds * passes + time.perf_counter() - t1) / (passes + 1)
      passes += 1
  if done < m:
    notes.add(f"cell time cap {cap_s:g}s: {done}/{m} games")
  return dict(row=rows[:done], col=cols[:done],
              iterations=None if np.all(np.isnan(its)) else its[:done],
              seconds=seconds, first_call_s=float("nan"), memory=mem,
              note="; ".join(sorted(notes)))


def run_highs(cell, config, device):
  """scipy HiGHS, one LP per game (``solvers.solve_lp``), on a subsample."""
  def one(a):
    r = solvers.solve_lp(a, tol=config.tol)
    return r.row, r.col, int(r.iterations)
  return _run_host_loop(one, cell["A64"], config.highs_max_games,
                        config.host_cell_time_cap_s, device, config)


def run_nashpy(cell, config, device):
  """nashpy Lemke-Howson / support enumeration with a per-game time cap."""
  import nashpy  # pylint: disable=g-import-not-at-top
  n = cell["A64"].shape[-1]
  if n > config.nashpy_max_n:
    return f"n/a: n={n} > nashpy_max_n={config.nashpy_max_n}"

  def one(a):
    game = nashpy.Game(a)
    with _time_limit(config.nashpy_game_timeout_s), warnings.catch_warnings():
      warnings.simplefilter("ignore", RuntimeWarning)
      if config.nashpy_algorithm == "support_enumeration":
        x, y = next(iter(game.support_enumeration()))
      else:
        x, y = game.lemke_howson(initial_dropped_label=0)
    return x, y, None
  return _run_host_loop(one, cell["A64"], config.nashpy_max_games,
                        config.host_cell_time_cap_s, device, config)


def run_pref_voting(cell, config, device):
  """pref_voting's maximal lottery of the weighted margin graph."""
  from pref_voting import probabilistic_methods  # pylint: disable=g-import-not-at-top
  from pref_voting.weighted_majority_graphs import MarginGraph  # pylint: disable=g-import-not-at-top
  A64 = cell["A64"]
  skew = np.max(np.abs(A64 + np.swapaxes(A64, -1, -2)))
  if skew > 1e-6 * max(1.0, float(np.max(np.abs(A64)))):
    return "n/a: maximal lotteries need an antisymmetric (margin) matrix"
  n = A64.shape[-1]
  cands = list(range(n))

  def one(a):
    ii, jj = np.nonzero(a > 0)
    mg = MarginGraph(cands, [(int(i), int(j), float(a[i, j]))
                             for i, j in zip(ii, jj)])
    lot = probabilistic_methods.maximal_lottery(mg)
    x = np.array([lot[c] for c in cands])
    return x, x, None
  return _run_host_loop(one, A64, config.pref_voting_max_games,
                        config.host_cell_time_cap_s, device, config)


def run_openspiel(cell, config, device):
  """OpenSpiel's LP solver for zero-sum matrix games (cvxpy + ECOS)."""
  import pyspiel  # pylint: disable=g-import-not-at-top
  from open_spiel.python.algorithms import lp_solver  # pylint: disable=g-import-not-at-top

  def one(a):
    game = pyspiel.create_matrix_game(a.tolist(), (-a).tolist())
    x, y, _, _ = lp_solver.solve_zero_sum_matrix_game(game)
    return np.ravel(x), np.ravel(y), None
  return _run_host_loop(one, cell["A64"], config.openspiel_max_games,
                        config.host_cell_time_cap_s, device, config)


def _jax_lp_context(config):
  return (jax.enable_x64(True) if config.jax_baselines_x64
          else contextlib.nullcontext())


def _run_jax_batched(fn, cell, max_games, config, device):
  """AOT-compiles ``jit(vmap(fn))`` on the subsample, then times one call."""
  m = min(cell["A64"].shape[0], max_games)
  with _jax_lp_context(config):
    dtype = jnp.float64 if config.jax_baselines_x64 else jnp.float32
    A = jax.device_put(jnp.asarray(cell["A64"][:m], dtype), device)
    t0 = time.perf_counter()
    compiled = jax.jit(jax.vmap(fn)).lower(A).compile()
    first = time.perf_counter() - t0
    with _PeakMemory(device, config.memory_poll_s) as mem:
      out, seconds = _timed(lambda: compiled(A), config.min_timing_s,
                            config.max_timing_repeats)
  x, y, its = (np.asarray(o) for o in out)
  return dict(row=x, col=y, iterations=its, seconds=seconds,
              first_call_s=first, memory=mem, note="")


def _shifted(a):
  """``B = a - min a + 1 > 0``: same equilibria, positive value."""
  return a - jnp.min(a) + 1.0


def run_mpax(cell, config, device):
  """MPAX r2HPDHG on the game's LP, vmapped (its dual is the column player)."""
  import mpax  # pylint: disable=g-import-not-at-top
  n = cell["A64"].shape[-1]
  if n > config.mpax_max_n:
    return f"n/a: n={n} > mpax_max_n={config.mpax_max_n}"
  solver = mpax.r2HPDHG(eps_abs=config.mpax_eps, eps_rel=config.mpax_eps,
                        iteration_limit=config.mpax_iteration_limit,
                        verbose=False)

  def one(a):
    b = _shifted(a)
    k = b.shape[1]
    # min 1^T u  s.t.  B^T u >= 1, u >= 0 (MPAX: min c x, Gx >= h, l <= x).
    lp = mpax.create_lp(jnp.ones((n,), b.dtype), jnp.zeros((0, n), b.dtype),
                        jnp.zeros((0,), b.dtype), b.T, jnp.ones((k,), b.dtype),
                        jnp.zeros((n,), b.dtype),
                        jnp.full((n,), jnp.inf, b.dtype),
                        use_sparse_matrix=False)
    r = solver.optimize(lp)
    return r.primal_solution, r.dual_solution, r.iteration_count
  return _run_jax_batched(one, cell, config.mpax_max_games, config, device)


def run_linrax(cell, config, device):
  """linrax's simplex, vmapped: one LP per player (it returns primals only)."""
  import linrax  # pylint: disable=g-import-not-at-top
  n = cell["A64"].shape[-1]
  if n > config.linrax_max_n:
    return f"n/a: n={n} > linrax_max_n={config.linrax_max_n}"

  def one(a):
    b = _shifted(a)
    ones = jnp.ones((n,), b.dtype)
    s_row, _ = linrax.linprog(ones, A_ub=-b.T, b_ub=-ones)
    s_col, _ = linrax.linprog(-ones, A_ub=b, b_ub=ones)
    return s_row.x, s_col.x, jnp.full((), jnp.nan, b.dtype)
  out = _run_jax_batched(one, cell, config.linrax_max_games, config, device)
  out["iterations"] = None  # linrax does not report pivots
  return out


class _Memory:
  """Peak-memory numbers reported by a child process."""

  def __init__(self, rss_mb: float, device_mb: float):
    self.rss_mb = rss_mb
    self.device_mb = device_mb


def _child_main(conn, name, A64, config_dict, backend):
  """Runs JAX LP baseline ``name`` in a spawned process; sends its output."""
  # The parent may hold most of an accelerator's memory: allocate on demand.
  os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
  import ml_collections  # pylint: disable=g-import-not-at-top
  try:
    config = ml_collections.ConfigDict(config_dict)
    device = jax.devices(backend)[0]
    out = _JAX_BASELINES[name]({"A64": A64}, config, device)
    if not isinstance(out, str):
      mem = out.pop("memory")
      out["memory"] = _Memory(mem.rss_mb, mem.device_mb)
  except Exception as e:  # pylint: disable=broad-except
    out = f"error: {type(e).__name__}: {str(e)[:160]}"
  conn.send(out)
  conn.close()


def _run_isolated(name, cell, config, device):
  """Runs a JAX LP baseline in a child process, killed after a timeout.

  linrax has no iteration cap (its simplex can cycle on degenerate LPs) and
  neither can be interrupted inside XLA, so they run in a spawned process
  on the same games; ``jax_baselines_timeout_s`` bounds compile + run.
  """
  import multiprocessing  # pylint: disable=g-import-not-at-top
  max_games = getattr(config, f"{name}_max_games")
  ctx = multiprocessing.get_context("spawn")
  recv, send = ctx.Pipe(duplex=False)
  proc = ctx.Process(target=_child_main,
                     args=(send, name, cell["A64"][:max_games],
                           config.to_dict(), device.platform), daemon=True)
  proc.start()
  send.close()
  timeout = config.jax_baselines_timeout_s
  try:
    if not recv.poll(timeout):
      return (f"timeout: no answer within jax_baselines_timeout_s={timeout:g}"
              " s (compile + solve; killed)")
    return recv.recv()
  except EOFError:
    return f"error: child process died (exit code {proc.exitcode})"
  finally:
    if proc.is_alive():
      proc.kill()
    proc.join()


_JAX_BASELINES = {"mpax": run_mpax, "linrax": run_linrax}

BASELINES = {
    "highs": run_highs,
    "nashpy": run_nashpy,
    "pref_voting": run_pref_voting,
    "openspiel": run_openspiel,
    "mpax": functools.partial(_run_isolated, "mpax"),
    "linrax": functools.partial(_run_isolated, "linrax"),
}
_BASELINE_MODULES = {
    "highs": ("scipy",), "nashpy": ("nashpy",), "pref_voting": ("pref_voting",),
    "openspiel": ("pyspiel", "open_spiel.python.algorithms.lp_solver"),
    "mpax": ("mpax",), "linrax": ("linrax",),
}


def baseline_unavailable(name: str) -> Optional[str]:
  """None if the baseline's packages import, else the reason."""
  import importlib  # pylint: disable=g-import-not-at-top
  for mod in _BASELINE_MODULES[name]:
    try:
      importlib.import_module(mod)
    except Exception as e:  # pylint: disable=broad-except
      return f"skipped: cannot import {mod} ({type(e).__name__}: {e})"
  return None


def _timed(call: Callable, min_seconds: float, max_repeats: int):
  """Calls ``call()`` until ``min_seconds`` have passed (at most
  ``max_repeats`` times); returns (last output, mean seconds per call)."""
  total, reps, out = 0.0, 0, None
  while reps < max(1, max_repeats) and (reps == 0 or total < min_seconds):
    t0 = time.perf_counter()
    out = _block(call())
    total += time.perf_counter() - t0
    reps += 1
  return out, total / reps


def run_library(method: str, cell, config, device):
  """``solvers.solve`` on the whole batch: a warm-up call, then timed calls.

  ``method@jit`` times ``jax.jit(solve)`` on the batch as a device array (the
  in-graph path, one compile for the batch's shape) instead of the eager
  call. ``method@shard`` times the same jitted call inside ``jax.shard_map``
  over every device of the backend, the batch split evenly (on a CPU, with
  ``config.host_devices`` > 1, one device per core: XLA runs each device's
  program on its own thread). The batch is padded with copies of its last
  game to a multiple of the device count (their answers are dropped; the
  games/s counts the cell's games only).
  """
  method, path = _split_method(method)
  jitted = path in ("jit", "shard")
  if cell["beta"] > 0 and method != "auto" and not getattr(
      solvers.METHODS[method], "supports_beta", True):
    return f"n/a: method {method!r} does not handle beta > 0"
  kwargs = dict(method=method, tol=config.tol)
  if config.max_iters:
    kwargs["max_iters"] = int(config.max_iters)
  if cell["beta"] > 0:
    kwargs.update(reference=cell["reference"], beta=cell["beta"])
  A = cell["A"]
  if jitted:
    ref = kwargs.pop("reference", None)
    solve = lambda a, r: solvers.solve(a, reference=r, **kwargs)
    m = A.shape[0]
    note = "jit"
    if path == "shard":
      devices = jax.devices(config.backend or jax.default_backend())
      mesh = jax.sharding.Mesh(np.asarray(devices), ("games",))
      spec = jax.sharding.PartitionSpec("games")
      pad = -m % len(devices)
      padded = lambda x: jnp.concatenate(
          [x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x
      put = lambda x: None if x is None else jax.device_put(
          padded(x), jax.sharding.NamedSharding(mesh, spec))
      A, ref = put(A), put(ref)
      fn = jax.jit(jax.shard_map(
          solve, mesh=mesh, in_specs=(spec, None if ref is None else spec),
          out_specs=spec))
      note = f"jit, shard_map over {len(devices)} devices"
    else:
      fn = jax.jit(solve)
    t0 = time.perf_counter()
    _block(fn(A, ref))
    first = time.perf_counter() - t0
    with _PeakMemory(device, config.memory_poll_s) as mem:
      res, seconds = _timed(lambda: fn(A, ref), config.min_timing_s,
                            config.max_timing_repeats)
    return dict(row=np.asarray(res.row)[:m], col=np.asarray(res.col)[:m],
                iterations=np.asarray(res.iterations)[:m], seconds=seconds,
                first_call_s=first, memory=mem, note=note,
                converged=np.asarray(res.converged)[:m])
  # Warm-up (compiles): enough games to reach the same pool shapes as the
  # whole batch (pools of at most default_chunk_size games; two of them).
  n, k = A.shape[-2:]
  w = A.shape[0] if config.warmup_games <= 0 else min(
      A.shape[0], max(config.warmup_games,
                      2 * solvers.default_chunk_size(n, k)))
  warm = dict(kwargs)
  if cell["beta"] > 0:
    warm["reference"] = cell["reference"][:w]
  t0 = time.perf_counter()
  _block(solvers.solve(A[:w], **warm))
  first = time.perf_counter() - t0
  with _PeakMemory(device, config.memory_poll_s) as mem:
    res, seconds = _timed(lambda: solvers.solve(A, **kwargs),
                          config.min_timing_s, config.max_timing_repeats)
  return dict(row=np.asarray(res.row), col=np.asarray(res.col),
              iterations=np.asarray(res.iterations), seconds=seconds,
              first_call_s=first, memory=mem, note="",
              converged=np.asarray(res.converged))


_PATHS = ("eager", "jit", "shard")


def _split_method(name: str):
  """``"auto@jit"`` -> ``("auto", "jit")``; no suffix: the eager call."""
  method, _, path = name.partition("@")
  path = path or "eager"
  if path not in _PATHS:
    raise ValueError(f"config.methods: unknown path {path!r} in {name!r}; "
                     "expected METHOD, METHOD@jit or METHOD@shard.")
  return method, path


def _names(value) -> tuple:
  """A comma-separated string (or a sequence) of names as a tuple."""
  if isinstance(value, str):
    return tuple(v.strip() for v in value.split(",") if v.strip())
  return tuple(value)


def library_methods(config):
  """The library methods to run: ``config.methods`` ("all" or names)."""
  if config.methods.strip() == "all":
    return tuple(sorted(solvers.METHODS)) + ("auto",)
  methods = _names(config.methods)
  for m in methods:
    m, _ = _split_method(m)
    if m != "auto" and m not in solvers.METHODS:
      raise ValueError(f"config.methods: unknown method {m!r}; expected "
                       f"'auto' or one of {sorted(solvers.METHODS)}.")
  return methods


# ---------------------------------------------------------------------------
# One cell.


def _row(solver, kind, family, n, batch, status, note="", **kw):
  r = {f: "" for f in CSV_FIELDS}
  r.update(solver=solver, kind=kind, family=family, n=n, batch=batch,
           status=status, note=note)
  r.update(kw)
  return r


def _summarize(solver, kind, family, n, batch, out, cell, config):
  m = out["row"].shape[0]
  if m == 0:
    return _row(solver, kind, family, n, batch, "error: no game solved",
                note=out["note"])
  gaps = certify(cell["A64"], out["row"], out["col"], cell["reference64"],
                 cell["beta"], config.certify_chunk)
  ok = gaps <= config.tol
  its = out["iterations"]
  its = None if its is None else np.asarray(its, np.float64).reshape(-1)
  false_cert = ""
  if "converged" in out:
    false_cert = int(np.sum(np.asarray(out["converged"]).reshape(-1) & ~ok))
  sec = max(out["seconds"], 1e-12)
  mem = out["memory"]
  return _row(
      solver, kind, family, n, batch, "ok", note=out["note"],
      games_run=m, subsampled=bool(m < batch), seconds=sec,
      games_per_s=m / sec, certified_frac=float(np.mean(ok)),
      certified_per_s=float(np.sum(ok)) / sec,
      gap_median=float(np.median(gaps)), gap_max=float(np.max(gaps)),
      iters_mean="" if its is None else float(np.nanmean(its)),
      iters_max="" if its is None else float(np.nanmax(its)),
      first_call_s=out["first_call_s"], peak_rss_mb=mem.rss_mb,
      peak_device_mb=mem.device_mb, false_certificates=false_cert)


def _config_fingerprint(config) -> str:
  """Hash of the settings a cell's result depends on (not the grid choice)."""
  d = config.to_dict()
  for k in ("resume", "plot", "preset", "ns", "batches", "families", "methods",
            "baselines", "jax_baselines_families", "certify_chunk"):
    d.pop(k, None)
  return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()
                        ).hexdigest()[:16]


def _solve_cell(solver, kind, fn, family, n, batch, cell, config, device):
  try:
    out = fn(cell, config, device)
  except Exception as e:  # pylint: disable=broad-except
    tb = traceback.format_exc(limit=3).replace("\n", " | ")
    return _row(solver, kind, family, n, batch,
                f"error: {type(e).__name__}: {str(e)[:160]}", note=tb[-300:])
  if isinstance(out, str):
    return _row(solver, kind, family, n, batch, out)
  return _summarize(solver, kind, family, n, batch, out, cell, config)


def run_grid(config, workdir: str, log=print):
  """Runs every cell; returns the list of CSV rows."""
  backend = config.backend or jax.default_backend()
  device = jax.devices(backend)[0]
  fingerprint = _config_fingerprint(config)
  cells_dir = os.path.join(workdir, "cells")
  os.makedirs(cells_dir, exist_ok=True)
  methods = library_methods(config)
  baselines = _names(config.baselines)
  families = _names(config.families)
  for b in baselines:
    if b not in BASELINES:
      raise ValueError(f"config.baselines: unknown baseline {b!r}; expected "
                       f"one of {sorted(BASELINES)}.")
  for f in families:
    if f not in FAMILY_DOCS:
      raise ValueError(f"config.families: unknown family {f!r}; expected "
                       f"one of {sorted(FAMILY_DOCS)}.")
  unavailable = {b: baseline_unavailable(b) for b in baselines}
  jax_lp_families = _names(config.jax_baselines_families)
  rows = []
  for family in families:
    for n in config.ns:
      for batch in config.batches:
        if batch * n * (n + 2) > config.max_batch_entries:
          rows.append(_row("all", "library", family, n, batch,
                           "skipped: batch * n * (n + 2) > "
                           f"max_batch_entries = {config.max_batch_entries}"))
          continue
        solvers_here = ([(m, "library", functools.partial(run_library, m))
                         for m in methods]
                        + [(b, "baseline", BASELINES[b])
                           for b in baselines])
        cell = None
        for name, kind, fn in solvers_here:
          path = os.path.join(cells_dir,
                              f"{family}__n{n}__b{batch}__{name}.json")
          if config.resume and os.path.exists(path):
            with open(path) as f:
              saved = json.load(f)
            if saved.get("fingerprint") == fingerprint:
              rows.append(saved["row"])
              continue
          if kind == "baseline" and unavailable[name]:
            row = _row(name, kind, family, n, batch, unavailable[name])
          elif kind == "baseline" and family == "kl_margin":
            row = _row(name, kind, family, n, batch,
                       "n/a: cannot solve the KL-regularized game")
          elif name in ("mpax", "linrax") and family not in jax_lp_families:
            row = _row(name, kind, family, n, batch,
                       "skipped: family not in config.jax_baselines_families")
          else:
            if cell is None:
              cell = make_games(family, config, n, batch, device)
              cell["A64"] = np.asarray(cell["A"], np.float64)
              cell["reference64"] = (None if cell["reference"] is None else
                                     np.asarray(cell["reference"], np.float64))
            row = _solve_cell(name, kind, fn, family, n, batch, cell, config,
                              device)
          cert = row["certified_frac"]
          log(f"[{family} n={n} b={batch}] {name}: {row['status']} "
              f"games/s={_fmt(row['games_per_s'])} "
              f"cert={cert if cert == '' else format(cert, '.4f')} "
              f"{row['note'][:80]}")
          common.write_json(path, dict(fingerprint=fingerprint, row=row))
          rows.append(row)
  return rows


# ---------------------------------------------------------------------------
# Report.


def _fmt(v):
  if isinstance(v, float):
    return f"{v:.3g}"
  return str(v)


def machine_info(config) -> Dict[str, Any]:
  backend = config.backend or jax.default_backend()
  dev = jax.devices(backend)[0]
  return dict(
      date_utc=datetime.datetime.now(datetime.timezone.utc).strftime(
          "%Y-%m-%d %H:%M UTC"),
      platform=platform.platform(), processor=platform.processor(),
      cpu_count=os.cpu_count(), python=platform.python_version(),
      jax=jax.__version__, jax_backend=backend, device=str(dev),
      device_count=len(jax.devices(backend)),
      device_kind=getattr(dev, "device_kind", ""),
      loadavg=(os.getloadavg() if hasattr(os, "getloadavg") else None))


def ratio_rows(rows, reference="highs"):
  """games/s of each library method divided by ``reference``'s, per cell."""
  by_cell = {}
  for r in rows:
    if r["status"] == "ok":
      by_cell.setdefault((r["family"], r["n"], r["batch"]), {})[r["solver"]] = r
  out = []
  for (family, n, batch), d in sorted(by_cell.items()):
    ref = d.get(reference)
    if ref is None:
      continue
    for name, r in sorted(d.items()):
      if r["kind"] != "library":
        continue
      out.append(dict(
          family=family, n=n, batch=batch, method=name,
          games_per_s=r["games_per_s"], certified_frac=r["certified_frac"],
          **{f"{reference}_games_per_s": ref["games_per_s"],
             f"x_{reference}": r["games_per_s"] / ref["games_per_s"],
             f"{reference}_games_run": ref["games_run"]}))
  return out


def plot(rows, path):
  """games/s vs n per solver, one panel per (family, batch), log scale."""
  plt = common.pyplot()
  ok = [r for r in rows if r["status"] == "ok"]
  families = sorted({r["family"] for r in ok})
  batches = sorted({r["batch"] for r in ok})
  if not families:
    return False
  ns = sorted({r["n"] for r in ok})
  fig, axes = plt.subplots(len(families), len(batches), squeeze=False,
                           figsize=(4.2 * len(batches), 3.0 * len(families)),
                           constrained_layout=True)
  names = sorted({r["solver"] for r in ok})
  cmap = plt.get_cmap("tab20")
  colors = {s: cmap(i % 20) for i, s in enumerate(names)}
  library = {r["solver"] for r in ok if r["kind"] == "library"}
  for i, fam in enumerate(families):
    for j, b in enumerate(batches):
      ax = axes[i][j]
      for s in names:
        pts = sorted((r["n"], r["games_per_s"]) for r in ok
                     if r["family"] == fam and r["batch"] == b
                     and r["solver"] == s)
        if pts:
          ax.plot([p[0] for p in pts], [p[1] for p in pts],
                  "o-" if s in library else "s--", color=colors[s], label=s,
                  ms=4)
      ax.set_xscale("log")
      ax.set_yscale("log")
      ax.set_xticks(ns)
      ax.set_xticklabels([str(v) for v in ns])
      ax.xaxis.set_minor_locator(plt.NullLocator())
      ax.set_title(f"{fam}, batch {b}", fontsize=9)
      ax.set_xlabel("n")
      ax.set_ylabel("games/s")
      ax.grid(True, which="both", alpha=0.3)
  handles, labels = [], []
  for ax in axes.ravel():
    for h, l in zip(*ax.get_legend_handles_labels()):
      if l not in labels:
        handles.append(h)
        labels.append(l)
  fig.legend(handles, labels, loc="outside upper center",
             ncol=min(8, len(labels)), fontsize=8, title_fontsize=9,
             title="games/s vs n (solid: nash_align.solvers.solve; dashed: "
             "baselines, measured on subsamples)")
  common.save_figure(fig, path)
  return True


def use_host_devices(count: int):
  """Makes JAX's CPU backend ``count`` devices (0: leave it as it is).

  XLA reads the flag when the backend starts, so this must run before any
  JAX computation of the process.
  """
  if count < 0:
    raise ValueError(f"config.host_devices must be >= 0, got {count}.")
  if not count:
    return
  from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
  if xla_bridge.backends_are_initialized():
    raise RuntimeError("config.host_devices: JAX's backends already started; "
                       "set it before the first JAX computation.")
  flags_ = [f for f in os.environ.get("XLA_FLAGS", "").split()
            if not f.startswith("--xla_force_host_platform_device_count")]
  os.environ["XLA_FLAGS"] = " ".join(
      flags_ + [f"--xla_force_host_platform_device_count={count}"])


def default_command(config, workdir: str) -> str:
  return (f"python -m experiments.benchmark_solvers "
          f"--config=experiments/configs/benchmark_solvers.py:{config.preset} "
          f"--workdir={workdir}")


def run(config, workdir: str, command: Optional[str] = None, log=print) -> str:
  """Runs the benchmark; writes results.csv, results.md, games_per_s.png.

  Args:
    config: see ``experiments/configs/benchmark_solvers.py``.
    workdir: output directory (created).
    command: the command line to record (default: the preset's command).
    log: progress printer.

  Returns:
    The markdown report (also written to ``workdir/results.md``).
  """
  os.makedirs(workdir, exist_ok=True)
  command = command or default_command(config, workdir)
  t0 = time.perf_counter()
  rows = run_grid(config, workdir, log=log)
  total = time.perf_counter() - t0
  info = machine_info(config)
  info.update(command=command, total_seconds=total,
              config=config.to_dict())
  common.write_csv(os.path.join(workdir, "results.csv"), rows, CSV_FIELDS)
  ratios = ratio_rows(rows)
  if ratios:
    common.write_csv(os.path.join(workdir, "ratios_vs_highs.csv"), ratios)
  common.write_json(os.path.join(workdir, "machine.json"), info)
  have_plot = bool(config.plot) and plot(
      rows, os.path.join(workdir, "games_per_s.png"))
  cols = ("solver", "family", "n", "batch", "games_run", "games_per_s",
          "certified_frac", "gap_max", "iters_mean", "iters_max",
          "first_call_s", "peak_rss_mb", "false_certificates", "status")
  table_rows = [{c: r[c] for c in cols} for r in rows]
  md = [
      "## Solver benchmark (`experiments/benchmark_solvers.py`)\n",
      f"Command: `{command}`  ",
      f"Machine: {info['platform']}, {info['cpu_count']} CPUs, JAX "
      f"{info['jax']} backend `{info['jax_backend']}` ({info['device']}, "
      f"{info['device_count']} device(s)); "
      f"date {info['date_utc']}; load average at the end "
      f"{info['loadavg']}; total {total:.0f} s.\n",
      "Games per second of the timed call (JAX solvers: second call, after "
      "compiling; `first_call_s` includes the compile). Every answer is "
      f"certified here in float64 (gap <= {config.tol:g}); "
      "`certified_frac` is the fraction that passes. Baselines run on "
      "subsamples: the first `games_run` games of the cell "
      f"(HiGHS <= {config.highs_max_games}, nashpy <= "
      f"{config.nashpy_max_games}, pref_voting <= "
      f"{config.pref_voting_max_games}, OpenSpiel <= "
      f"{config.openspiel_max_games}, MPAX <= {config.mpax_max_games}, "
      f"linrax <= {config.linrax_max_games}), and their games/s is measured "
      "on that subsample. Peak memory: growth of the process RSS during the "
      "timed call (sampled).\n",
  ]
  if ratios:
    md.append("### Library methods vs HiGHS (games/s ratio, same cell)\n")
    md.append(common.markdown_table(ratios))
  md.append("### All results\n")
  md.append(common.markdown_table(table_rows, cols))
  if have_plot:
    md.append("\n![games per second](games_per_s.png)\n")
  text = "\n".join(md)
  common.atomic_write_text(os.path.join(workdir, "results.md"), text)
  return text


_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory.")
_CONFIG = config_flags.DEFINE_config_file(
    "config", default="experiments/configs/benchmark_solvers.py",
    lock_config=True)


def main(argv):
  del argv
  if not _WORKDIR.value:
    raise app.UsageError("--workdir is required.")
  use_host_devices(_CONFIG.value.host_devices)
  command = "python -m experiments.benchmark_solvers " + " ".join(
      sys.argv[1:])
  print(run(_CONFIG.value, _WORKDIR.value, command=command))


if __name__ == "__main__":
  app.run(main)
