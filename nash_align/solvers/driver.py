"""``solve``: batched, certified Nash equilibria of zero-sum matrix games.

How a game is solved (kernel written for one game, vmapped over games):

1. A method from :data:`METHODS` iterates in the working dtype (float32, or
   float64 with x64 on) inside ``lax.while_loop``: a first-order method
   (:mod:`nash_align.solvers.methods`) or the dense simplex
   (:mod:`nash_align.solvers.simplex`, exact in finitely many pivots).
2. Every ``check_every`` iterations the kernel takes an *exact step* from
   its candidates (:mod:`nash_align.solvers.exact`): for ``beta = 0`` the
   equalizer system on the support the iterate has identified (a padded,
   masked linear solve); for ``beta > 0`` Newton steps on the regularized
   fixed point. The duality gap of the result (working dtype) decides; a
   game stops once it is certified.
3. Eager calls stream the batch through pools of ``chunk_size`` slots
   (memory bounded for any batch size; up to 4 pools in flight, dispatched
   asynchronously): after each round finished games leave the pool and new
   games take their slots, so games that are done stop costing work and
   every game runs exactly the same iterations whatever the pool size
   (results do not depend on ``chunk_size``). A first-order method's round
   is ``round_iters`` iterations; the simplex pivots each game to its
   optimal basis (checked once, at the finish) and its round ends as soon
   as a quarter of the pool has finished. On the host, while the pools run,
   each finished piece of games is certified in float64; a miss is repaired
   by the float64 exact step on the identified support (then, for the
   simplex, the float64 simplex), then optionally by ``solve_lp``
   (``fallback="lp"``). A game that is still not certified has
   ``converged=False``: never a wrong answer silently.
4. Non-unique equilibria (``beta = 0``, eager calls): a certified answer
   whose support is not strictly complementary, or is not square, is
   replaced by the least-norm equilibrium on the sets of best responses
   (:func:`nash_align.solvers.host.least_norm_on_sets`) when that certifies.
   This choice is invariant under relabelling, puts equal weight on
   duplicate actions and is uniform on a game of ties (there it agrees with
   the maximum-entropy equilibrium, the limit of the entropy-regularized
   path). Under ``jit``/``vmap`` this host step is not available and the
   answer is the kernel's certified one.

Antisymmetric games (``A = -A^T``, every preference game) take a symmetric
fast path: one strategy ``x`` (row = col), value 0, half the work.
"""

import functools
import math
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import _validation
from nash_align.solvers import certificate
from nash_align.solvers import exact
from nash_align.solvers import host
from nash_align.solvers import lp
from nash_align.solvers.methods import FIRST_ORDER_METHODS
from nash_align.solvers.methods import Game
from nash_align.solvers.simplex import simplex
from nash_align.types import NashResult

# Every method by name: the first-order family plus the exact dense simplex.
METHODS = dict(sorted({**FIRST_ORDER_METHODS, "simplex": simplex()}.items()))

DEFAULT_MAX_ITERS = 2000
DEFAULT_CHECK_EVERY = 16
# Default pool: about 2^20 payoff entries (a few MB of tableaux in float32),
# rounded down to a power of two in [8, 1024]: 256 games at n = 50, 16 at
# n = 200 (measured: 4x faster than 256 there; the pivots are memory-bound).
_POOL_ENTRIES = 1 << 20


def default_chunk_size(n: int, k: int) -> int:
  """Pool size used when ``chunk_size=None``: cache-sized, a power of two."""
  p = max(1, _POOL_ENTRIES // (n * (k + 2)))
  return int(min(1024, max(8, 1 << (p.bit_length() - 1))))
# method="auto": tried in this order; games a method leaves uncertified go on
# to the next one (measured fastest first, see BENCHMARKS.md).
AUTO_METHODS = {False: ("simplex", "omd"), True: ("mmd", "omd")}
_EXIT_NUM, _EXIT_DEN = 3, 4  # a simplex round ends when 1/4 has finished
_REPAIR_POOL = 8  # pool size of the float64 simplex repair
# From this game size the float64 simplex repair runs the jitted kernel
# under x64 (a compile, once per shape); below it numpy's pivot loop is
# cheap enough (about 5 ms per game at n = 50, 90 ms at n = 200).
_JAX_REPAIR_MIN_SIZE = 100
SUPPORT_THRESHOLD = 1e-3  # support guess: z_i > threshold * max(z)


class _Slot(NamedTuple):
  state: Any  # method state
  z: Any  # best profile so far
  gap: jax.Array  # [] its gap (scaled payoff units)
  done: jax.Array  # [] bool, certified to the stop gap
  iters: jax.Array  # [] int32


def _support(z):
  return z > SUPPORT_THRESHOLD * jnp.max(z)


def _keep_better(z, g, z_new, g_new):
  """One game: ``z_new`` where its gap ``g_new`` is smaller, else ``z``."""
  better = g_new < g
  return (jax.tree.map(lambda a, b: jnp.where(better, a, b), z_new, z),
          jnp.minimum(g_new, g))


def _exact_steps(game, zs, regularized):
  """Exact steps from the candidates ``zs``: one linear solve for all of
  them (see :func:`nash_align.solvers.exact.solve_stacked`: separate solves
  can deadlock XLA's CPU thread pool)."""
  if regularized:
    return exact.newton_regularized_many(game, zs)
  if len(zs[0]) == 1:
    res = exact.equalizers_symmetric(game.A, [_support(z[0]) for z in zs])
    return [(x,) for x, _ in res]
  res = exact.equalizers_general(
      game.A, [(_support(z[0]), _support(z[1])) for z in zs])
  return [(x, y) for x, y, _ in res]


def _kernel(method_name, symmetric, regularized, check_every):
  """Per-game ``init`` and the batched round ``run_batch`` of a configuration.

  ``run_batch(game, slots, num_iters, max_iters, stop_gap, refill)`` runs one
  round on a batch of slots: the vmapped per-game loop of a first-order
  method, or the pool-level loop of an exact method (the simplex).
  """
  method = METHODS[method_name]

  def init(game):
    state = method.init(game, symmetric)
    z = method.candidates(state)[0]
    if symmetric and len(z) == 2:
      z = (z[1],)
    return _Slot(state, z, jnp.asarray(jnp.inf, game.A.dtype),
                 jnp.zeros((), bool), jnp.zeros((), jnp.int32))

  every = method.check_every or check_every

  def check(game, state):
    best_z, best_g = None, None
    zs = []
    for z in method.candidates(state):
      if symmetric and len(z) == 2:
        z = (z[1],)
      zs.append(z)
    exact_zs = (_exact_steps(game, zs, regularized) if method.exact_step
                else [None] * len(zs))
    for z, ez in zip(zs, exact_zs):
      cands = (z, ez) if method.exact_step else (z,)
      for cand in cands:
        g = exact.gap(game, cand, regularized)
        g = jnp.where(jnp.isfinite(g), g, jnp.inf)
        if best_g is None:
          best_z, best_g = cand, g
        else:
          best_z, best_g = _keep_better(best_z, best_g, cand, g)
    return best_z, best_g

  def run(game, slot, num_iters, max_iters, stop_gap):
    it_end = jnp.minimum(slot.iters + num_iters, max_iters)

    def cond(s):
      return (~s.done) & (s.iters < it_end)

    def body(s):
      state = jax.lax.fori_loop(
          0, every, lambda _, st: method.update(st, game), s.state)
      z, g = _keep_better(s.z, s.gap, *check(game, state))
      done = g <= stop_gap
      if method.finished is not None:
        done = done | method.finished(state)
      return _Slot(state, z, g, done, s.iters + every)

    return jax.lax.while_loop(cond, body, slot)

  if method.finished is None or method.stop is None or method.exact_step:
    vrun = jax.vmap(run, in_axes=(0, 0, None, None, 0))

    def run_vmapped(game, slots, num_iters, max_iters, stop_gap, refill):
      del refill  # every game runs its own round
      return vrun(game, slots, num_iters, max_iters, stop_gap)

    return init, run_vmapped

  update_all = jax.vmap(method.update)
  finished_all = jax.vmap(method.finished)
  stop_all = jax.vmap(method.stop)

  def run_pool(game, slots, num_iters, max_iters, stop_gap, refill):
    """Pool-level round for an exact method (``game``/``slots`` batched).

    Each game pivots until it is finished or at ``max_iters`` (frozen by
    ``stop``, pivot by pivot: its trajectory does not depend on the pool).
    The round ends after ``num_iters`` or as soon as a quarter of the games
    that were live at its start have finished (``_EXIT_NUM / _EXIT_DEN`` of
    them still live) and ``refill`` (games are waiting for slots), so easy
    games are not kept waiting for hard ones; without waiting games it runs
    until all are finished. Then one certificate check per game.
    """
    del stop_gap  # an exact method is certified at its finish
    frozen = slots.done

    def freeze(state):
      return stop_all(state, frozen | (state.count >= max_iters))

    def pivot(_, state):
      return freeze(update_all(state, game))

    state = freeze(slots.state)
    live0 = jnp.sum(~finished_all(state))

    def cond(c):
      state, it = c
      live = jnp.sum(~finished_all(state))
      exit_num = jnp.where(refill, _EXIT_NUM, 0)
      return (it < num_iters) & (_EXIT_DEN * live > exit_num * live0)

    def body(c):
      state, it = c
      return jax.lax.fori_loop(0, every, pivot, state), it + every

    state, _ = jax.lax.while_loop(cond, body, (state, jnp.int32(0)))
    z, g = jax.vmap(_keep_better)(slots.z, slots.gap,
                                  *jax.vmap(check)(game, state))
    done = slots.done | finished_all(state)
    return _Slot(state, z, g, done, state.count)

  return init, run_pool


@functools.lru_cache(maxsize=None)
def _pool_fns(method_name, symmetric, regularized, check_every):
  """Jitted, vmapped pool step (refill + one round) for a configuration."""
  init, run_batch = _kernel(method_name, symmetric, regularized, check_every)

  @functools.partial(jax.jit, static_argnames=("num_iters", "max_iters"))
  def step(pool_A, log_ref, beta, eta, tol, slots, fresh, empty, refill,
           num_iters, max_iters):
    game, scale = _make_game(pool_A, log_ref, beta, eta)
    eps = jnp.finfo(pool_A.dtype).eps
    stop_gap = jnp.maximum(0.5 * tol / scale, 8 * eps)
    new = jax.vmap(init)(game)
    def pick(a, b):
      m = fresh.reshape(fresh.shape + (1,) * (a.ndim - 1))
      return jnp.where(m, a, b)
    slots = jax.tree.map(pick, new, slots)
    slots = slots._replace(done=slots.done | empty)
    slots = run_batch(game, slots, num_iters, max_iters, stop_gap, refill)
    return slots, scale

  @jax.jit
  def first(pool_A, log_ref, beta, eta):
    return jax.vmap(init)(_make_game(pool_A, log_ref, beta, eta)[0])

  return step, first


def _make_game(A, log_ref, beta, step):
  """Scaled batched ``Game`` ``[B, ...]`` and the scales ``[B]``."""
  scale = jnp.max(jnp.abs(A), axis=(-2, -1))
  scale = jnp.where(scale > 0, scale, 1.0)
  beta_s = beta / scale
  return Game(A / scale[:, None, None], log_ref, beta_s,
              jnp.full_like(scale, step)), scale


# ----------------------------------------------------------------------------
# Input checks.


def _check_scalar(value, name, allow_zero):
  if not _validation.is_concrete(value):
    raise ValueError(f"{name} must be a concrete number (static under jit), "
                     f"got a traced value.")
  v = float(np.asarray(value))
  if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
    cmp = ">= 0" if allow_zero else "> 0"
    raise ValueError(f"{name} must be finite and {cmp}, got {value!r}.")
  return v


def _check_reference(reference, n, k, batch, validate):
  """Returns ``(ref_row [..., n], ref_col [..., k], same)`` or raises."""
  if isinstance(reference, (tuple, list)):
    if len(reference) != 2:
      raise ValueError("reference must be one distribution [..., n] (both "
                       "players, square games) or a pair (row [..., n], "
                       f"col [..., k]); got a sequence of {len(reference)}.")
    refs, same = tuple(reference), False
  else:
    if n != k:
      raise ValueError(f"reference for a rectangular {n}x{k} game must be a "
                       "pair (row [..., n], col [..., k]).")
    refs, same = (reference, reference), True
  out = []
  for r, m, who in zip(refs, (n, k), ("row", "col")):
    if np.ndim(r) < 1 or np.shape(r)[-1] != m:
      raise ValueError(f"reference ({who}) must have last axis {m}, got shape "
                       f"{np.shape(r)}.")
    try:
      np.broadcast_shapes(np.shape(r)[:-1], batch)
    except ValueError:
      raise ValueError(f"reference ({who}) shape {np.shape(r)} does not "
                       f"broadcast to the batch shape {batch}.") from None
    if validate and _validation.is_concrete(r):
      a = np.asarray(r, np.float64)
      if not np.all(np.isfinite(a)):
        raise ValueError(f"reference ({who}) contains NaN or inf values.")
      if np.any(a <= 0):
        raise ValueError(f"reference ({who}) must have positive entries, "
                         f"found min {a.min():.3g}.")
      err = np.max(np.abs(a.sum(-1) - 1.0))
      if err > 1e-5:
        raise ValueError(f"reference ({who}) must sum to 1, off by "
                         f"{err:.3g}.")
    out.append(r)
  return out[0], out[1], same


def _check_A(A):
  _validation.check_rank_at_least(A, 2, "A")
  n, k = np.shape(A)[-2:]
  if n < 1 or k < 1 or n * k < 2:
    raise ValueError(f"A must be a game with at least 2 actions in all "
                     f"([..., n, k], n, k >= 1, not 1x1), got shape "
                     f"{np.shape(A)}.")
  if np.prod(np.shape(A)[:-2], dtype=np.int64) == 0:
    raise ValueError(f"A has an empty batch: shape {np.shape(A)}.")
  if not (np.issubdtype(np.asarray(A).dtype if _validation.is_concrete(A)
                        else A.dtype, np.number)):
    raise ValueError(f"A must be numeric, got dtype {A.dtype}.")
  _validation.check_finite(A, "A")
  return n, k


def _working_dtype(A):
  dt = jnp.asarray(np.zeros((), np.asarray(A).dtype if
                            _validation.is_concrete(A) else A.dtype)).dtype
  if not jnp.issubdtype(dt, jnp.floating) or dt == jnp.float16 or (
      dt == jnp.bfloat16):
    dt = jnp.zeros(()).dtype
  return dt


# ----------------------------------------------------------------------------
# Public API.


def solve(A, method: str = "auto", tol: float = 1e-6,
          max_iters: Optional[int] = None, reference=None, beta: float = 0.0,
          *, symmetric: Optional[bool] = None, fallback: Optional[str] = None,
          step_size: Optional[float] = None,
          check_every: int = DEFAULT_CHECK_EVERY,
          chunk_size: Optional[int] = None,
          round_iters: Optional[int] = None,
          select_least_norm: bool = True, validate: bool = True) -> NashResult:
  """Certified equilibria of zero-sum matrix games ``A`` ``[..., n, k]``.

  The row player maximises ``x^T A y`` and the column player minimises it;
  with ``beta > 0`` the game is the KL-regularized one,
  ``x^T A y - beta KL(x||rho_x) + beta KL(y||rho_y)`` (Munos et al., "Nash
  learning from human feedback", 2023), whose equilibrium is unique. See
  the module docstring for the algorithm (first-order method, exact step on
  the identified support, float64 certificate, non-unique choice).

  Two modes:

  * eager (``A`` concrete): the batch is streamed through a pool of
    ``chunk_size`` slots; strategies are certified in float64 on the host and
    returned as numpy arrays in ``A``'s float dtype (float32 for integer
    input); ``gap`` is the float64 duality gap of exactly those arrays.
  * traced (``solve`` called under ``jit``/``vmap``): one vmapped
    ``while_loop``; ``gap`` is computed in the working dtype (float32, or
    float64 when x64 is on and ``A`` is float64) and ``converged`` is
    ``gap <= tol``. No host step (no float64 repair, no least-norm choice,
    no fallback).

  Args:
    A: ``[..., n, k]`` row payoff, finite, any leading batch shape, not 1x1.
    method: a key of :data:`METHODS`, or ``"auto"`` (:data:`AUTO_METHODS`:
      ``simplex`` then ``omd`` for ``beta = 0``; ``mmd`` (+ Newton) then
      ``omd`` for ``beta > 0``; measured fastest on the benchmark families.
      Eagerly, a game goes on to the next method only if the previous one
      did not certify it; under ``jit`` only the first is run).
    tol: duality-gap tolerance ``> 0`` for ``converged``.
    max_iters: iteration budget per game and method (default 2000).
    reference: ``rho``: ``None`` (uniform), one distribution ``[..., n]``
      for both players (square games), or a pair ``(row [..., n], col [...,
      k])``; entries positive, summing to 1. Used only when ``beta > 0``.
    beta: KL strength ``>= 0`` (a concrete number). The regularized gap is
      quadratic in the distance to the equilibrium (``gap <= tol`` pins the
      strategies to about ``sqrt(2 tol / beta)``); pass a smaller ``tol`` for
      tighter strategies.
    symmetric: use the symmetric fast path; ``None`` detects it: games with
      ``max |A + A^T| <= tol / 4`` (and a shared reference) take it.
    fallback: ``None`` or ``"lp"``: solve games still uncertified with
      :func:`solve_lp` (HiGHS; eager, ``beta = 0`` only).
    step_size: ``eta`` for payoffs scaled to ``max |A| = 1`` (per game); default
      the method's own.
    check_every: iterations between certificate checks.
    chunk_size: pool size of the eager mode (memory ``O(chunk_size n k)``);
      ``None``: :func:`default_chunk_size` (cache-sized). Results do not
      depend on it.
    round_iters: iterations per pool round (default twice the method's
      check interval); games join and leave the pool between rounds.
    select_least_norm: apply the documented choice among non-unique
      equilibria (eager, ``beta = 0``).
    validate: run the value checks on concrete input.

  Returns:
    ``NashResult(row [..., n], col [..., k], value [...], gap [...],
    iterations [...] int32, converged [...] bool)``. ``value`` is ``x^T A y``
    (the regularized objective when ``beta > 0``); ``iterations`` counts
    the kernel's iterations (exact simplex pivots, first-order steps in
    whole check intervals) over all methods tried, plus HiGHS's iterations
    for games that went to the LP fallback.

  Raises:
    ValueError: bad ``A`` (NaN/inf, empty, 1x1), ``method``, ``tol``,
      ``beta``, ``reference``, ``max_iters``, ``fallback`` or ``symmetric``.
  """
  n, k = _check_A(A)
  tol = _check_scalar(tol, "tol", allow_zero=False)
  beta = _check_scalar(beta, "beta", allow_zero=True)
  if method != "auto" and method not in METHODS:
    raise ValueError(f"method must be 'auto' or one of {sorted(METHODS)}, got "
                     f"{method!r}.")
  regularized = beta > 0
  if regularized and method != "auto" and not METHODS[method].supports_beta:
    raise ValueError(f"method {method!r} does not handle beta > 0; use one "
                     f"of {sorted(m for m in METHODS if METHODS[m].supports_beta)}.")
  if max_iters is None:
    max_iters = DEFAULT_MAX_ITERS
  if int(max_iters) != max_iters or max_iters < 1:
    raise ValueError(f"max_iters must be a positive integer, got {max_iters!r}.")
  max_iters = int(max_iters)
  if fallback not in (None, "lp"):
    raise ValueError(f"fallback must be None or 'lp', got {fallback!r}.")
  if symmetric is not None and not isinstance(symmetric, (bool, np.bool_)):
    raise ValueError(f"symmetric must be None, True or False, got "
                     f"{symmetric!r}.")
  if int(check_every) != check_every or check_every < 1:
    raise ValueError(f"check_every must be a positive integer, got "
                     f"{check_every!r}.")
  if round_iters is not None and (int(round_iters) != round_iters
                                  or round_iters < 1):
    raise ValueError(f"round_iters must be a positive integer, got "
                     f"{round_iters!r}.")
  if chunk_size is None:
    chunk_size = default_chunk_size(n, k)
  if int(chunk_size) != chunk_size or chunk_size < 1:
    raise ValueError(f"chunk_size must be a positive integer, got "
                     f"{chunk_size!r}.")
  if step_size is not None:
    step_size = _check_scalar(step_size, "step_size", allow_zero=False)
  batch = tuple(np.shape(A)[:-2])
  if reference is None:
    ref_row = np.full((n,), 1.0 / n)
    ref_col = np.full((k,), 1.0 / k)
    same_ref = True
  else:
    ref_row, ref_col, same_ref = _check_reference(reference, n, k, batch,
                                                  validate)
  methods = (AUTO_METHODS[regularized] if method == "auto" else (method,))
  methods = tuple(m for m in methods
                  if METHODS[m].supports_beta or not regularized)
  opts = dict(tol=tol, max_iters=max_iters, beta=beta,
              step_size=step_size, check_every=int(check_every),
              methods=methods)
  concrete = all(_validation.is_concrete(a) for a in (A, ref_row, ref_col))
  if concrete:
    return _solve_eager(A, ref_row, ref_col, same_ref, symmetric, fallback,
                        int(chunk_size), round_iters, select_least_norm,
                        **opts)
  return _solve_traced(A, ref_row, ref_col, same_ref, symmetric, **opts)


def _method_step(name, step_size):
  return METHODS[name].default_step if step_size is None else step_size


# ----------------------------------------------------------------------------
# Traced mode.


def _solve_traced(A, ref_row, ref_col, same_ref, symmetric, *, tol, max_iters,
                  beta, step_size, check_every, methods):
  dt = _working_dtype(A)
  A = jnp.asarray(A, dt)
  n, k = A.shape[-2:]
  batch = A.shape[:-2]
  flat = A.reshape((-1, n, k))
  B = flat.shape[0]
  lrx = jnp.broadcast_to(jnp.log(jnp.asarray(ref_row, dt)), batch + (n,))
  lry = jnp.broadcast_to(jnp.log(jnp.asarray(ref_col, dt)), batch + (k,))
  lrx, lry = lrx.reshape((B, n)), lry.reshape((B, k))
  regularized = beta > 0
  method = methods[0]
  step = _method_step(method, step_size)

  def run(sym):
    init, run_batch = _kernel(method, sym, regularized, check_every)
    game, scale = _make_game(flat, (lrx,) if sym else (lrx, lry),
                             jnp.asarray(beta, dt), step)
    slots = jax.vmap(init)(game)
    stop = jnp.asarray(tol, dt) / scale
    slots = run_batch(game, slots, max_iters, max_iters, stop, False)
    x = slots.z[0]
    y = x if sym else slots.z[1]
    return x, y, slots.gap * scale, slots.iters

  if n != k or not same_ref or symmetric is False:
    x, y, g, its = run(False)
  elif symmetric:
    x, y, g, its = run(True)
  elif not METHODS[method].exact_step:
    # The simplex solves the same LP either way: run it once and, per
    # antisymmetric game, return its column strategy for both players (it is
    # optimal for both there), instead of a lax.cond that vmap would turn
    # into running both kernels.
    x, y, g, its = run(False)
    skew = jnp.max(jnp.abs(flat + jnp.swapaxes(flat, -1, -2)),
                   axis=(-2, -1)) <= tol / 4
    ay = jnp.einsum("bij,bj->bi", flat, y)
    ya = jnp.einsum("bi,bij->bj", y, flat)
    g_sym = jnp.max(ay, -1) - jnp.min(ya, -1)
    x = jnp.where(skew[:, None], y, x)
    g = jnp.where(skew, g_sym, g)
  else:
    skew = jnp.max(jnp.abs(flat + jnp.swapaxes(flat, -1, -2))) <= tol / 4
    x, y, g, its = jax.lax.cond(skew, lambda: run(True), lambda: run(False))
  value = jnp.einsum("bi,bij,bj->b", x, flat, y)
  if regularized:
    kl = lambda p, lr: jnp.sum(jnp.where(p > 0, p * (jnp.log(
        jnp.where(p > 0, p, 1.0)) - lr), 0.0), -1)
    value = value - beta * kl(x, lrx) + beta * kl(y, lry)
  return NashResult(
      row=x.reshape(batch + (n,)), col=y.reshape(batch + (k,)),
      value=value.reshape(batch), gap=g.reshape(batch),
      iterations=its.reshape(batch).astype(jnp.int32),
      converged=(g <= tol).reshape(batch))


# ----------------------------------------------------------------------------
# Eager mode.


def _run_pool(A, lrx, lry, index, sym, regularized, method, step, beta, tol,
              max_iters, check_every, chunk_size, round_iters, dt,
              pools_in_flight=None, on_piece=None, piece_size=None):
  """Streams games ``A[index]`` (numpy ``A`` ``[B, n, k]``, log-references
  ``lrx [B, n]``, ``lry [B, k]``) through pools of slots; a game's rows are
  copied into a pool (in the working dtype) only when it enters one.

  ``pools_in_flight`` pools take turns: while one pool's round runs (JAX
  dispatches asynchronously), the host harvests and refills the others, so
  host bookkeeping overlaps device work and independent pools can run on
  separate cores. ``None``: as many as the batch fills, at most 4, for
  methods without an exact step (the simplex); 1 for the others.
  Per-game results do not depend on this (nor on the pool size).

  ``on_piece(sl, x, y)``, if given, is called with each consecutive piece
  ``sl`` of ``piece_size`` games (in ``index`` order) as soon as all of its
  games are out of the pool, while the pools' next rounds run: the host's
  float64 work on finished games overlaps the device's work.

  Returns ``(x [G, n], y [G, k], gap [G] working-dtype estimate, iters [G],
  done [G])`` as numpy arrays, ``G = len(index)``, in ``index`` order.
  """
  G = len(index)
  n, k = A.shape[-2:]
  # Pool size: a power of two up to chunk_size, so varying batch sizes reuse
  # a few compiled shapes.
  P = min(chunk_size, 1 << (G - 1).bit_length())
  if pools_in_flight is None:
    # 4 measured best on 2 cores (vs 1, 2, 3) for the simplex. Kernels with
    # an exact step call batched LAPACK solves, and concurrent ones can
    # deadlock jaxlib 0.10's CPU thread pool (BUILD_NOTES.md): one at a time.
    pools_in_flight = (1 if METHODS[method].exact_step else
                       max(1, min(4, G // P)))
  step_fn, first_fn = _pool_fns(method, sym, regularized, check_every)
  np_dt = np.dtype(dt)
  out_x = np.zeros((G, n), np_dt)
  out_y = np.zeros((G, k), np_dt)
  out_gap = np.full((G,), np.inf)
  out_it = np.zeros((G,), np.int32)
  out_done = np.zeros((G,), bool)
  nxt = 0

  class _Pool:  # one pool's host-side buffers and its round in flight
    def __init__(self):
      self.A = np.zeros((P, n, k), np_dt)
      self.lx = np.zeros((P, n), np_dt)
      self.ly = np.zeros((P, k), np_dt)
      self.game = np.full((P,), -1, np.int64)
      self.slots = None
      self.result = None  # (slots, scale, empty) of the round in flight

  def launch(pool):
    nonlocal nxt
    free = np.flatnonzero(pool.game < 0)
    take = min(len(free), G - nxt)
    fresh = np.zeros((P,), bool)
    if take:
      idx = free[:take]
      games = np.arange(nxt, nxt + take)
      nxt += take
      pool.game[idx] = games
      pool.A[idx] = A[index[games]]
      pool.lx[idx] = lrx[index[games]]
      pool.ly[idx] = lry[index[games]]
      fresh[idx] = True
    empty = pool.game < 0
    if empty.all():
      return False
    lr = (pool.lx,) if sym else (pool.lx, pool.ly)
    # Copies: the host refills its buffers while this round runs.
    args = (pool.A.copy(), tuple(a.copy() for a in lr),
            np.asarray(beta, np_dt), np.asarray(step, np_dt))
    if pool.slots is None:
      pool.slots = first_fn(*args)
    slots, scale = step_fn(*args, np.asarray(tol, np_dt), pool.slots, fresh,
                           empty, np.asarray(nxt < G),
                           num_iters=round_iters, max_iters=max_iters)
    pool.slots, pool.result = slots, (slots, scale, empty)
    return True

  def harvest(pool):
    slots, scale, empty = pool.result
    pool.result = None
    done = np.asarray(slots.done)
    iters = np.asarray(slots.iters)
    fin = np.flatnonzero((~empty) & (done | (iters >= max_iters)))
    if len(fin):
      g = pool.game[fin]
      zx = np.asarray(slots.z[0])
      out_x[g] = zx[fin]
      out_y[g] = zx[fin] if sym else np.asarray(slots.z[1])[fin]
      out_gap[g] = np.asarray(slots.gap)[fin] * np.asarray(scale)[fin]
      out_it[g] = iters[fin]
      out_done[g] = done[fin]
      out_ready[g] = True
      pool.game[fin] = -1

  out_ready = np.zeros((G,), bool)
  next_piece = 0

  def flush(final):
    nonlocal next_piece
    while on_piece is not None and next_piece < G:
      sl = slice(next_piece, min(next_piece + piece_size, G))
      if not (final or out_ready[sl].all()):
        break
      on_piece(sl, out_x[sl], out_y[sl])
      next_piece = sl.stop

  pools = [_Pool() for _ in range(pools_in_flight)]
  active = [p for p in pools if launch(p)]
  while active:
    pool = active.pop(0)
    harvest(pool)
    if launch(pool):
      active.append(pool)
    flush(final=False)  # the pools' rounds are in flight meanwhile
  flush(final=True)
  return out_x, out_y, out_gap, out_it, out_done


# Host pieces: games certified together in float64 (about 8 MB of float64
# payoffs: cache-friendly, and host memory stays bounded for any batch).
_HOST_BLOCK_ELEMENTS = 1 << 20


def _skew_error(A, games_per_piece=64):
  """``[G]`` ``max |A + A^T|`` per game, in cache-sized pieces (the
  transposed add over a whole host block is several times slower)."""
  out = np.empty(A.shape[0])
  for s in range(0, A.shape[0], games_per_piece):
    a = A[s:s + games_per_piece]
    out[s:s + games_per_piece] = np.max(np.abs(a + np.swapaxes(a, 1, 2)),
                                        axis=(1, 2))
  return out


def _to_simplex(p):
  p = np.clip(np.asarray(p, np.float64), 0.0, None)
  return p / np.maximum(p.sum(-1, keepdims=True), np.finfo(np.float64).tiny)


def _take_better(X, Y, gap, idx, x2, y2, g2, ok=True):
  """In place: rows ``idx`` of ``(X, Y, gap)`` take ``(x2, y2, g2)`` where
  ``ok`` and the new gap is smaller."""
  better = ok & (g2 < gap[idx])
  sel = idx[better]
  X[sel], Y[sel], gap[sel] = x2[better], y2[better], g2[better]


def _certifier(out_dt, beta, rx, ry):
  """``certify(A64 [h, n, k], X, Y, gi) -> (Xo, Yo, gap)`` for games ``gi``.

  Returned strategies are put on the simplex first, and the certificate is
  computed for exactly the distribution the returned (possibly float32)
  vector represents, so off-simplex rounding cannot flatter it.
  """
  def certify(A64, X, Y, gi):
    Xo, Yo = _to_simplex(X).astype(out_dt), _to_simplex(Y).astype(out_dt)
    X64, Y64 = _to_simplex(Xo), _to_simplex(Yo)
    if beta > 0:
      g = certificate.regularized_duality_gap(A64, X64, Y64, beta, rx[gi],
                                              ry[gi])
    else:
      g = certificate.duality_gap(A64, X64, Y64)
    return Xo, Yo, np.where(np.isfinite(g), g, np.inf)

  return certify


def _solve_eager(A, ref_row, ref_col, same_ref, symmetric, fallback,
                 chunk_size, round_iters, select_least_norm, *, tol,
                 max_iters, beta, step_size, check_every, methods):
  A_in = np.asarray(A)
  out_dt = (A_in.dtype if np.issubdtype(A_in.dtype, np.floating)
            and A_in.dtype.itemsize >= 4 else np.dtype(np.float32))
  n, k = A_in.shape[-2:]
  batch = A_in.shape[:-2]
  flat = A_in.reshape((-1, n, k))
  B = flat.shape[0]
  dt = _working_dtype(A_in)
  np_dt = np.dtype(dt)

  def per_game(ref, size):
    # Normalised (and logged) before broadcasting: a shared reference stays a
    # view, so nothing of size [B, n] is made for it.
    ref = np.asarray(ref, np.float64)
    ref = ref / ref.sum(-1, keepdims=True)
    view = lambda a: np.broadcast_to(a, batch + (size,)).reshape((B, size))
    return view(ref), view(np.log(ref).astype(np_dt))

  rx, log_rx = per_game(ref_row, n)
  ry, log_ry = per_game(ref_col, k)
  regularized = beta > 0
  certify = _certifier(out_dt, beta, rx, ry)
  H = max(1, _HOST_BLOCK_ELEMENTS // (n * k))

  def pieces(idx):  # host pieces of the games ``idx``, with their payoffs
    for s in range(0, len(idx), H):
      gi = idx[s:s + H]
      yield slice(s, s + len(gi)), gi, flat[gi].astype(np.float64)

  # Per-game scale and symmetric-path test, on the input's own float dtype
  # (no float64 copy: max |A| is exact, and the skew test only picks the
  # path; the float64 certificate decides correctness).
  scale64 = np.empty((B,))
  sym_mask = np.zeros((B,), bool)
  for s in range(0, B, H):
    a = flat[s:s + H]
    if not np.issubdtype(a.dtype, np.floating):
      a = a.astype(np.float64)
    scale64[s:s + H] = np.max(np.abs(a), axis=(1, 2))
    if n == k and same_ref and symmetric is not False:
      sym_mask[s:s + H] = (_skew_error(a) <= tol / 4) | bool(symmetric)

  X = np.full((B, n), 1.0 / n, out_dt)
  Y = np.full((B, k), 1.0 / k, out_dt)
  gap = np.full((B,), np.inf)
  its = np.zeros((B,), np.int32)
  value = np.empty((B,), out_dt)
  finalized = np.zeros((B,), bool)

  def finalize(gi, A64):
    """The documented choice among equilibria, and the value, for ``gi``."""
    if not regularized and select_least_norm:
      X[gi], Y[gi], gap[gi], value[gi] = _least_norm_choice(
          A64, X[gi], Y[gi], gap[gi], tol,
          lambda A_, X_, Y_, s_: certify(A_, X_, Y_, gi[s_]), sym_mask[gi],
          scale64[gi])
    elif regularized:
      value[gi] = certificate.regularized_value(A64, X[gi], Y[gi], beta,
                                                rx[gi], ry[gi])
    else:
      value[gi] = np.einsum("bi,bij,bj->b", X[gi].astype(np.float64), A64,
                            Y[gi].astype(np.float64))
    finalized[gi] = True

  for method in methods:
    step = _method_step(method, step_size)
    every = METHODS[method].check_every or check_every
    # Pool-level exact methods end a round early (a quarter of the pool
    # finished): a long cap costs nothing; the others check every ``every``
    # iterations.
    r_iters = round_iters if round_iters is not None else (
        16 * every if METHODS[method].stop is not None else 2 * every)
    for sym in (True, False):
      idx = np.flatnonzero(~(gap <= tol) & (sym_mask == sym))
      if not len(idx):
        continue
      def certify_piece(sl, x, y, idx=idx, sym=sym, method=method):
        gi = idx[sl]
        A64 = flat[gi].astype(np.float64)
        xg, yg, g = _certify_and_repair(
            A64, x.copy(), y.copy(), gi, certify, scale64[gi], sym, method,
            regularized, beta, rx, ry, tol, out_dt, np_dt)
        _take_better(X, Y, gap, gi, xg, yg, g)
        # Certified answers are final: choose among equilibria and take the
        # value now, while the pool runs.
        ok = gap[gi] <= tol
        if ok.any():
          finalize(gi[ok], A64[ok])

      # The pool streams over the whole batch (no drain per host piece);
      # finished pieces are certified while it runs.
      _, _, _, it, _ = _run_pool(
          flat, log_rx, log_ry, idx, sym, regularized, method, step, beta,
          tol, max_iters, check_every, chunk_size, r_iters, dt,
          on_piece=certify_piece, piece_size=H)
      its[idx] += it

  if fallback == "lp" and not regularized:
    for _, gi, A64 in pieces(np.flatnonzero(~(gap <= tol))):
      res = lp.solve_lp(A64)
      _take_better(X, Y, gap, gi, *certify(A64, res.row, res.col, gi))
      its[gi] += res.iterations

  for _, gi, A64 in pieces(np.flatnonzero(~finalized)):
    finalize(gi, A64)
  return NashResult(
      row=X.reshape(batch + (n,)), col=Y.reshape(batch + (k,)),
      value=value.reshape(batch), gap=gap.reshape(batch),
      iterations=its.reshape(batch), converged=(gap <= tol).reshape(batch))


def _certify_and_repair(A64, x, y, gi, certify, scale64, sym, method,
                        regularized, beta, rx, ry, tol, out_dt, work_dt):
  """Certifies one host piece of kernel answers and repairs the misses.

  ``A64 [h, n, k]`` are the payoffs of games ``gi`` ``[h]``; ``x``, ``y``
  the kernel's strategies. Games whose float64 gap misses the target get
  the float64 exact step on their identified support, then (simplex only)
  the simplex again in float64: for games of ``n`` or ``k >= 100`` the same
  jitted kernel under ``jax.enable_x64`` when the kernel ran in float32 (a
  float32 basis can end a few actions off after hundreds of pivots, e.g.
  tournaments at n = 200: 16% of them), else the numpy one. Returns
  ``(x, y, gap)`` for the piece.
  """
  n, k = A64.shape[-2:]
  x, y, g = certify(A64, x, y, gi)
  # float64 output: polish every game to float64 accuracy, not just to tol
  # (float32 iterates are certified but carry float32 rounding).
  polish = (np.minimum(tol, 1e-13 * max(n, k) * scale64)
            if out_dt == np.float64 else np.full(len(gi), tol))
  bad = np.flatnonzero(~(g <= polish))
  if len(bad):  # float64 exact step on the identified support
    if regularized:
      x2, y2 = host.newton_regularized(A64[bad], x[bad], y[bad], beta,
                                       rx[gi[bad]], ry[gi[bad]])
      ok = np.ones(len(bad), bool)
    else:
      x2, y2, ok = host.equalizer(
          A64[bad], x[bad] > 1e-7 * x[bad].max(1, keepdims=True),
          y[bad] > 1e-7 * y[bad].max(1, keepdims=True), symmetric=sym)
    if sym:  # x = y exactly on the symmetric path
      y2 = x2
    _take_better(x, y, g, bad, *certify(A64[bad], x2, y2, gi[bad]), ok)
    bad = np.flatnonzero(~(g <= polish))
    if len(bad) and not regularized and method == "simplex":
      # The float32 basis was wrong: redo the simplex in float64.
      if work_dt == np.float32 and max(n, k) >= _JAX_REPAIR_MIN_SIZE:
        # Pools of _REPAIR_POOL games (the batch padded by repeating its
        # first game), so the float64 kernel compiles once per game shape.
        pad = np.concatenate([bad, np.full(max(0, _REPAIR_POOL - len(bad)),
                                           bad[0])])
        with jax.enable_x64(True):
          res = solve(A64[pad], method="simplex", tol=tol,
                      symmetric=True if sym else None,
                      chunk_size=_REPAIR_POOL, select_least_norm=False,
                      validate=False)
        x2 = np.asarray(res.row)[:len(bad)]
        y2 = np.asarray(res.col)[:len(bad)]
        ok = np.ones(len(bad), bool)
      else:
        x2, y2, ok = host.simplex(A64[bad])
      if sym:
        y2 = x2
      _take_better(x, y, g, bad, *certify(A64[bad], x2, y2, gi[bad]), ok)
  return x, y, g


def _least_norm_choice(A64, X, Y, gap, tol, certify, sym_mask, scale):
  """Replaces certified answers at non-unique equilibria by the least-norm one.

  A certified ``(x, y)`` is provably the unique equilibrium when it is
  strictly complementary (every action off the support does strictly worse
  than the value, by more than ``tol``) and its supports have equal size (the
  equalizer system is then square). Otherwise the best-response sets to
  ``(x, y)`` contain every equilibrium's support; the least-norm
  equilibrium on them is taken when it certifies.
  """
  scale = np.maximum(scale, 1e-300)  # max |A| per game
  ay = np.einsum("bij,bj->bi", A64, Y.astype(np.float64))
  xa = np.einsum("bi,bij->bj", X.astype(np.float64), A64)
  value = np.einsum("bi,bi->b", X.astype(np.float64), ay)
  # Ties up to the rounding of the returned strategies count as ties.
  eps = np.finfo(X.dtype).eps * 16 * np.sqrt(max(X.shape[1], Y.shape[1]))
  margin = np.maximum(tol, eps * scale)[:, None]
  br_rows = ay >= value[:, None] - margin
  br_cols = xa <= value[:, None] + margin
  # Weight below 1e-6 of the largest counts as off the support (float32
  # rounding leaves such crumbs); an action that is a best response but gets
  # no real weight means complementarity is not strict.
  sx = X > 1e-6 * X.max(1, keepdims=True)
  sy = Y > 1e-6 * Y.max(1, keepdims=True)
  unique = ((br_rows.sum(1) == sx.sum(1)) & (br_cols.sum(1) == sy.sum(1)) &
            (sx.sum(1) == sy.sum(1)))
  sel = np.flatnonzero((gap <= tol) & ~unique)
  if len(sel):
    x2, y2, ok = host.least_norm_on_sets(A64[sel], value[sel], br_rows[sel],
                                         br_cols[sel])
    if X.shape[1] == Y.shape[1]:  # x = y exactly on the symmetric path
      y2 = np.where(sym_mask[sel][:, None], x2, y2)
    x2, y2, g2 = certify(A64[sel], x2, y2, sel)
    keep = ok & (g2 <= tol)
    X[sel[keep]], Y[sel[keep]], gap[sel[keep]] = x2[keep], y2[keep], g2[keep]
    s = sel[keep]
    value[s] = np.einsum("bi,bij,bj->b", X[s].astype(np.float64), A64[s],
                         Y[s].astype(np.float64))
  return X, Y, gap, value


__all__ = ("AUTO_METHODS", "METHODS", "default_chunk_size", "solve")
