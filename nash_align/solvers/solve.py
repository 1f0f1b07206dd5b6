"""``solve``: batched, certified Nash equilibria of zero-sum matrix games.

One algorithm on every path. The in-graph kernel
(:func:`nash_align.solvers.kernel.solve_batch`: a method's loop, the
double-float certificate with support refinement, the simplex's repair) is
what ``solve`` computes under ``jit``, ``vmap`` and sharding, on CPU, GPU and
TPU, with x64 off. Called eagerly on concrete arrays, ``solve`` runs the same
jitted ``solve_batch`` on chunks of ``chunk_size`` games (memory bounded for
any batch; the chunk padded to a power of two so that few shapes compile)
and re-checks every certificate in float64 on the host. Game by game the
answers are the kernel's.

Antisymmetric games (``A = -A^T``, every preference game) take a symmetric
path: one strategy ``x`` (row = col), value 0.
"""

import functools
import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import _validation
from nash_align.solvers import certificate
from nash_align.solvers import kernel
from nash_align.solvers import lp
from nash_align.solvers import refine
from nash_align.solvers import varying
from nash_align.solvers.kernel import DEFAULT_CHECK_EVERY
from nash_align.solvers.kernel import DEFAULT_MAX_ITERS
from nash_align.solvers.kernel import METHODS
from nash_align.types import NashResult

# Default chunk: about 2^19 payoff entries (2 MB of float32 tableaux), a
# power of two in [16, 16384]: 128 games at n = 50 on a CPU, where every
# kernel's [chunk, n, n] intermediates then stay in the caches (2^23 entries
# ran at about half the games/s; BENCHMARKS.md). At least 32 games up to
# 2^16 entries a game (n = 200: 32, not 16): below 32 the pivot loop cannot
# set its slowest games apart (kernel.method_kernel), and random
# tournaments at n = 200 ran 19% faster in chunks of 32 (margins 15% slower,
# log-odds faster; 2026-11-30).
_CHUNK_ENTRIES = 1 << 19
_MIN_CHUNK_ENTRIES = 1 << 16  # per game, for the floor of 32 games
_ACCELERATOR_CHUNK_ENTRIES = 1 << 28
# method="auto": tried in this order; games a method leaves uncertified go on
# to the next one (measured fastest first, see BENCHMARKS.md).
AUTO_METHODS = {False: ("simplex", "omd"), True: ("mmd", "omd")}


def default_chunk_size(n: int, k: int, backend: Optional[str] = None) -> int:
  """Eager chunk used when ``chunk_size=None``: a power of two.

  Args:
    n, k: the game's shape.
    backend: ``"cpu"``, ``"gpu"``, ``"tpu"``; None: JAX's default backend.
  """
  backend = backend or jax.default_backend()
  entries, cap = ((_CHUNK_ENTRIES, 1 << 14) if backend == "cpu" else
                  (_ACCELERATOR_CHUNK_ENTRIES, 1 << 20))
  p = max(1, entries // (n * (k + 2)))
  floor = 32 if n * (k + 2) <= _MIN_CHUNK_ENTRIES else 16
  return int(min(cap, max(floor, 1 << (p.bit_length() - 1))))


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
  dtype = np.asarray(A).dtype if _validation.is_concrete(A) else A.dtype
  if np.issubdtype(dtype, np.complexfloating):
    raise ValueError(f"A must be real, got complex dtype {dtype} (the "
                     "imaginary part would be dropped).")
  if not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
    raise ValueError(f"A must be numeric, got dtype {dtype}.")
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
          validate: bool = True) -> NashResult:
  """Certified equilibria of zero-sum matrix games ``A`` ``[..., n, k]``.

  The row player maximises ``x^T A y`` and the column player minimises it;
  with ``beta > 0`` the game is the KL-regularized one,
  ``x^T A y - beta KL(x||rho_x) + beta KL(y||rho_y)`` (Munos et al., "Nash
  learning from human feedback", 2023), whose equilibrium is unique. See
  the module docstring for the algorithm.

  Every path computes the same answer, game by game: eagerly (``A``
  concrete) the batch runs in jitted chunks of ``chunk_size`` games and is
  returned as numpy arrays; under ``jit``/``vmap``/``shard_map`` one vmapped
  kernel runs in the graph and returns JAX arrays. The kernel computes in
  the working dtype (float32; float64 only with x64 on and float64 input);
  eager results are returned in ``A``'s float dtype (float32 for integer
  input), holding the kernel's values. ``gap`` is the duality gap of exactly
  the returned arrays as float64 arithmetic computes it (double-float in
  float32 programs, float64 on the host eagerly; for ``beta > 0`` an upper
  bound of it in the graph), and ``converged`` says it is at most ``tol``. ``row_support``/``col_support`` are the supports of the returned
  strategies: for ``beta = 0`` those of the equalizer system the kernel
  solved on the identified basis, exactly zero elsewhere.

  Args:
    A: ``[..., n, k]`` row payoff, finite, any leading batch shape, not 1x1.
    method: a key of :data:`METHODS`, or ``"auto"`` (:data:`AUTO_METHODS`:
      ``simplex`` then ``omd`` for ``beta = 0``; ``mmd`` (+ Newton) then
      ``omd`` for ``beta > 0``; measured fastest on the benchmark families).
      A game goes on to the next method only if the previous one did not
      certify it (under ``jit`` the next method runs when any game of the
      batch needs it).
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
    chunk_size: games solved together (memory ``O(chunk_size n k)``): per
      jitted call of the eager mode, per step of a ``lax.map`` under
      ``jit``; ``None``: :func:`default_chunk_size`. Results do not depend
      on it.
    validate: run the value checks on concrete input.

  Returns:
    ``NashResult(row [..., n], col [..., k], value [...], gap [...],
    iterations [...] int32, converged [...] bool, row_support [..., n] bool,
    col_support [..., k] bool)``. ``value`` is ``x^T A y``
    (the regularized objective when ``beta > 0``); ``iterations`` counts
    the kernel's iterations (exact simplex pivots, first-order steps in
    whole check intervals) over all methods tried, plus HiGHS's iterations
    for games that went to the LP fallback.

  Raises:
    ValueError: bad ``A`` (NaN/inf, complex, empty, 1x1), ``method``, ``tol``,
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
                        int(chunk_size), **opts)
  if fallback is not None:
    raise ValueError("fallback='lp' needs concrete input (HiGHS runs on the "
                     "host); under jit it is not available.")
  return _solve_traced(A, ref_row, ref_col, same_ref, symmetric,
                       int(chunk_size), **opts)



def _method_step(name, step_size):
  return METHODS[name].default_step if step_size is None else step_size


def _log_refs(ref_row, ref_col, batch, n, k, dt, xp):
  lrx = xp.broadcast_to(xp.log(xp.asarray(ref_row, dt)), batch + (n,))
  lry = xp.broadcast_to(xp.log(xp.asarray(ref_col, dt)), batch + (k,))
  return lrx.reshape((-1, n)), lry.reshape((-1, k))


def _kernel_opts(method, symmetric, regularized, beta, step_size, tol,
                 max_iters, check_every):
  return dict(method_name=method, symmetric=symmetric,
              regularized=regularized, beta=beta,
              step=_method_step(method, step_size), tol=tol,
              max_iters=max_iters, check_every=check_every)


def _chain(flat, lrx, lry, sym, methods, regularized, opts, exact_skew=False):
  """Runs ``methods`` in turn; later ones only if a game is uncertified."""
  log_ref = (lrx,) if sym else (lrx, lry)
  cert, its = None, None
  for method in methods:
    run = functools.partial(
        kernel.solve_batch, flat, log_ref, exact_skew if sym else False,
        **_kernel_opts(method, sym, regularized, **opts))
    if cert is None:
      cert, its = run()
      continue
    def fallback(cert=cert, its=its, run=run):
      new, it = run()
      take = ~cert.certified & (new.certified | (new.gap < cert.gap))
      pick = lambda a, b: jnp.where(
          take.reshape(take.shape + (1,) * (a.ndim - 1)), a, b)
      return jax.tree.map(pick, new, cert), its + it
    cert, its = jax.lax.cond(jnp.all(cert.certified), lambda c=cert, i=its:
                             (c, i), fallback)
  return cert, its


def _solve_traced(A, ref_row, ref_col, same_ref, symmetric, chunk_size, *,
                  tol, max_iters, beta, step_size, check_every, methods):
  dt = _working_dtype(A)
  A = jnp.asarray(A, dt)
  n, k = A.shape[-2:]
  batch = A.shape[:-2]
  flat = A.reshape((-1, n, k))
  lrx, lry = _log_refs(ref_row, ref_col, batch, n, k, dt, jnp)
  solve_flat = functools.partial(
      _solve_flat, same_ref=same_ref, symmetric=symmetric, tol=tol,
      max_iters=max_iters, beta=beta, step_size=step_size,
      check_every=check_every, methods=methods)
  games = flat.shape[0]
  if games > chunk_size:
    # Chunks in sequence: each game's answer does not depend on its batch,
    # and on a CPU a chunk's tableaux stay in cache (the default chunk is
    # the eager call's; on accelerators it is large enough to fill the
    # device). Each chunk is a slice of the input; the last one ends at the
    # last game (re-solving a few games of the one before, the same answers)
    # instead of padding a copy of the batch (a copy of 10,000 games at
    # n = 50 cost 3 us a game, a sixth of solving the margin games).
    num = -(-games // chunk_size)
    take = lambda a, start: jax.lax.dynamic_slice_in_dim(a, start, chunk_size)

    def piece(c, out):
      start = jnp.minimum(c * chunk_size, games - chunk_size)
      new = solve_flat(take(flat, start), take(lrx, start), take(lry, start))
      return jax.tree.map(
          lambda o, v: jax.lax.dynamic_update_slice_in_dim(o, v, start, 0),
          out, new)

    # Filled in place (stacking the chunks' outputs and concatenating them
    # was 10% slower at n = 50).
    empty = varying.like((refine.Certified.zeros(games, n, k, dt),
                          jnp.zeros((games,), jnp.int32)), flat)
    cert, its = jax.lax.fori_loop(0, num, piece, empty)
  else:
    cert, its = solve_flat(flat, lrx, lry)
  shape = lambda a, m=None: a.reshape(batch + (() if m is None else (m,)))
  return NashResult(
      row=shape(cert.row, n), col=shape(cert.col, k), value=shape(cert.value),
      gap=shape(cert.gap), iterations=shape(its),
      converged=shape(cert.certified), row_support=shape(cert.row_support, n),
      col_support=shape(cert.col_support, k))


def _solve_flat(flat, lrx, lry, *, same_ref, symmetric, tol, max_iters, beta,
                step_size, check_every, methods):
  """``(certificate, iterations)`` of the games ``flat`` ``[G, n, k]``."""
  n, k = flat.shape[-2:]
  regularized = beta > 0
  opts = dict(beta=beta, step_size=step_size, tol=tol, max_iters=max_iters,
              check_every=check_every)
  run = lambda sym, exact=False: _chain(flat, lrx, lry, sym, methods,
                                       regularized, opts, exact)
  if n != k or not same_ref or symmetric is False:
    cert, its = run(False)
  elif symmetric:
    cert, its = run(True)
  else:
    # Per game, as the eager call decides: the symmetric path for games with
    # max |A + A^T| <= tol / 4. Each path is compiled once and runs only
    # when some game of the batch takes it.
    # The transpose on its own (a barrier against fusing it into the
    # reduction, which XLA's CPU backend then does not vectorise): 0.8
    # instead of 1.3 us a game at n = 50.
    transposed = jax.lax.optimization_barrier(jnp.swapaxes(flat, -1, -2))
    skew_error = jnp.max(jnp.abs(flat + transposed), axis=(-2, -1))
    skew = skew_error <= tol / 4
    # Every game on the symmetric path exactly antisymmetric (tournaments,
    # margins, log-odds of a BTL model): one certificate product, not two.
    exact = jnp.all(jnp.where(skew, skew_error == 0, True))

    def maybe(sym, needed, exact=False):
      out = jax.eval_shape(lambda: run(sym, exact))
      zeros = lambda: varying.like(
          jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), out), flat)
      return jax.lax.cond(needed, lambda: run(sym, exact), zeros)

    (c1, i1), (c0, i0) = (maybe(True, jnp.any(skew), exact),
                          maybe(False, jnp.any(~skew)))
    pick = lambda a, b: jnp.where(
        skew.reshape(skew.shape + (1,) * (a.ndim - 1)), a, b)
    cert, its = jax.tree.map(pick, c1, c0), jnp.where(skew, i1, i0)
  return cert, its


# ----------------------------------------------------------------------------
# Eager mode.


@functools.lru_cache(maxsize=None)
def _solve_batch_fn(method, symmetric, regularized, beta, step, tol, max_iters,
                    check_every):
  return jax.jit(functools.partial(
      kernel.solve_batch, method_name=method, symmetric=symmetric,
      regularized=regularized, beta=beta, step=step, tol=tol,
      max_iters=max_iters, check_every=check_every))


def _bucketed(fn, G, *arrays):
  """``fn(*arrays)`` on ``G`` games padded to a power of two (>= 8, by
  repeating game 0) so that varying piece sizes reuse a few compiles."""
  size = max(8, 1 << (G - 1).bit_length())
  pad = lambda a: np.concatenate([a, np.repeat(a[:1], size - G, axis=0)])
  out = fn(*jax.tree.map(pad, arrays))
  return jax.tree.map(lambda a: np.array(a[:G]), out)


# Host pieces: games certified together (about 8 MB of float64 payoffs:
# cache-friendly, and host memory stays bounded for any batch).
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


def _solve_eager(A, ref_row, ref_col, same_ref, symmetric, fallback,
                 chunk_size, *, tol, max_iters, beta, step_size,
                 check_every, methods):
  A_in = np.asarray(A)
  n, k = A_in.shape[-2:]
  batch = A_in.shape[:-2]
  flat = A_in.reshape((-1, n, k))
  B = flat.shape[0]
  dt = _working_dtype(A_in)
  np_dt = np.dtype(dt)
  regularized = beta > 0
  lrx, lry = _log_refs(np.asarray(ref_row, np.float64),
                       np.asarray(ref_col, np.float64), batch, n, k,
                       np.float64, np)
  log_rx, log_ry = lrx.astype(np_dt), lry.astype(np_dt)
  H = max(1, _HOST_BLOCK_ELEMENTS // (n * k))
  sym_mask = np.zeros((B,), bool)
  exact_skew = np.zeros((B,), bool)  # A = -A^T exactly (cheaper certificate)
  if n == k and same_ref and symmetric is not False:
    for s in range(0, B, H):
      a = flat[s:s + H]
      if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
      err = _skew_error(a)
      sym_mask[s:s + H] = (err <= tol / 4) | bool(symmetric)
      exact_skew[s:s + H] = err == 0

  # Returned in A's float dtype (float32 for integer input): the kernel's
  # working-dtype answers exactly, and LP fallback answers (float64) as is.
  out_dt = (A_in.dtype if np.issubdtype(A_in.dtype, np.floating)
            and A_in.dtype.itemsize >= 4 else np.dtype(np.float32))
  X = np.full((B, n), 1.0 / n, out_dt)
  Y = np.full((B, k), 1.0 / k, out_dt)
  value = np.zeros((B,), out_dt)
  gap = np.full((B,), np.inf)
  its = np.zeros((B,), np.int32)
  conv = np.zeros((B,), bool)
  rs = np.zeros((B, n), bool)
  cs = np.zeros((B, k), bool)

  def store(gi, cert, it):
    # A later method's answer replaces an earlier one only if it is
    # certified or has the smaller gap (as _chain does under jit).
    its[gi] += it
    take = np.asarray(cert.certified) | (np.asarray(cert.gap) < gap[gi])
    gi = gi[take]
    pick = lambda a: np.asarray(a)[take]
    X[gi], Y[gi], value[gi], gap[gi] = (pick(cert.row), pick(cert.col),
                                        pick(cert.value), pick(cert.gap))
    rs[gi], cs[gi] = pick(cert.row_support), pick(cert.col_support)
    conv[gi] = pick(cert.certified)

  for method in methods:
    step = _method_step(method, step_size)
    for sym in (True, False):
      idx = np.flatnonzero(~conv & (sym_mask == sym))
      run = _solve_batch_fn(method, sym, regularized, beta, step, tol,
                            max_iters, check_every)
      for s0 in range(0, len(idx), chunk_size):
        gi = idx[s0:s0 + chunk_size]
        lr = (log_rx[gi],) if sym else (log_rx[gi], log_ry[gi])
        exact = np.bool_(sym and np.all(exact_skew[gi]))
        cert, it = _bucketed(lambda a, *r: run(a, r, exact), len(gi),
                             flat[gi].astype(np_dt), *lr)
        store(gi, cert, it)

  if fallback == "lp" and not regularized:
    for s0 in range(0, B, H):
      gi = np.flatnonzero(~conv[s0:s0 + H]) + s0
      if not len(gi):
        continue
      res = lp.solve_lp(flat[gi].astype(np.float64))
      x, y = res.row.astype(out_dt), res.col.astype(out_dt)
      g64 = certificate.duality_gap(flat[gi].astype(np.float64), x, y)
      # HiGHS's answer replaces the kernel's when it is certified or has the
      # smaller gap (its own tolerances are 1e-7: a tiny tol can miss).
      ok = (g64 <= tol) | (g64 < gap[gi])
      g = gi[ok]
      X[g], Y[g], gap[g], conv[g] = x[ok], y[ok], g64[ok], g64[ok] <= tol
      value[g] = np.einsum("bi,bij,bj->b", x[ok].astype(np.float64),
                           flat[g].astype(np.float64),
                           y[ok].astype(np.float64))
      rs[g], cs[g] = x[ok] > 0, y[ok] > 0
      its[g] += res.iterations[ok]

  # The float64 re-check of every certificate on the host.
  for s0 in range(0, B, H):
    sl = slice(s0, s0 + H)
    A64 = flat[sl].astype(np.float64)
    if regularized:  # of the distributions the arrays represent
      g64 = certificate.regularized_duality_gap(
          A64, X[sl] / X[sl].sum(-1, keepdims=True, dtype=np.float64),
          Y[sl] / Y[sl].sum(-1, keepdims=True, dtype=np.float64), beta,
          np.exp(lrx[sl]), np.exp(lry[sl]))
    else:
      g64 = certificate.duality_gap(A64, X[sl], Y[sl])
    # The reported gap is this float64 one: of exactly the returned arrays,
    # in the game as given (an input of more than the working precision
    # too); the kernel's own gap is the same for working-precision input.
    gap[sl] = np.where(np.isfinite(g64), g64, np.inf)
    conv[sl] &= g64 <= tol
  shape = lambda a, m=None: a.reshape(batch + (() if m is None else (m,)))
  return NashResult(
      row=shape(X, n), col=shape(Y, k), value=shape(value), gap=shape(gap),
      iterations=shape(its), converged=shape(conv), row_support=shape(rs, n),
      col_support=shape(cs, k))


__all__ = ("AUTO_METHODS", "METHODS", "default_chunk_size", "solve")
