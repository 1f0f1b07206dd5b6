"""The device kernel: one game's method loop, certificate and repair, vmapped.

Written for one game and vmapped over games (the same code under ``jit``,
``vmap``, sharding, and in the eager call's chunks):

1. A method from :data:`METHODS` iterates in the working dtype (float32, or
   float64 with x64 on) inside ``lax.while_loop``: a first-order method
   (:mod:`nash_align.solvers.methods`, with an exact step on the support its
   iterate identifies every ``check_every`` iterations) or the dense simplex
   (:mod:`nash_align.solvers.simplex`, exact in finitely many pivots).
2. A first-order answer is certified by :func:`finalize` on the original
   payoffs (:mod:`nash_align.solvers.refine`): the candidate's own
   double-float gap (for ``beta > 0`` a double-float bound of the
   regularized gap), and if that misses ``tol``, :func:`polish`: the
   equalizer system on the identified support solved with mixed-precision
   refinement, or Newton steps with double-float residuals for ``beta > 0``.
3. A simplex answer is its final basis' solution refined with the tableau's
   own inverse, certified as it is; a game it misses goes to
   :func:`resume`: refresh-and-continue rounds (prices and right-hand sides
   recomputed in O(n k), more pivots), then reinversion rounds with the
   support system (O(n^3)), each a bounded number of times.

A game whose answer is not certified keeps ``certified=False``: never a wrong
answer silently.
"""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nash_align.solvers import exact
from nash_align.solvers import refine
from nash_align.solvers import simplex as simplex_lib
from nash_align.solvers import varying
from nash_align.solvers.methods import FIRST_ORDER_METHODS
from nash_align.solvers.methods import Game

# Every method by name: the first-order family plus the exact dense simplex.
METHODS = dict(sorted({**FIRST_ORDER_METHODS,
                       "simplex": simplex_lib.simplex()}.items()))

DEFAULT_MAX_ITERS = 2000
DEFAULT_CHECK_EVERY = 16
REPAIR_ROUNDS = 3
REFRESH_ROUNDS = 2
SUPPORT_THRESHOLD = 1e-3  # first-order support guess: z_i > threshold max(z)


class _Slot(NamedTuple):
  state: Any  # method state
  z: Any  # best profile so far
  gap: jax.Array  # [] its gap (scaled payoff units, working dtype)
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


def method_kernel(method_name, symmetric, regularized, check_every):
  """Per-game ``init`` and the batched round ``run_batch`` of a configuration.

  ``run_batch(game, slots, num_iters, max_iters, stop_gap)`` runs a batch
  of slots: the vmapped per-game loop of a first-order method, or the
  batch-level pivot loop of an exact method (the simplex).
  """
  method = METHODS[method_name]

  def init(game):
    state = method.init(game, symmetric)
    z = method.candidates(state)[0]
    if symmetric and len(z) == 2:
      z = (z[1],)
    return varying.like(
        _Slot(state, z, jnp.asarray(jnp.inf, game.A.dtype),
              jnp.zeros((), bool), jnp.zeros((), jnp.int32)), game.A)

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

    def run_vmapped(game, slots, num_iters, max_iters, stop_gap):
      return vrun(game, slots, num_iters, max_iters, stop_gap)

    return init, run_vmapped

  update_all = jax.vmap(method.update)
  finished_all = jax.vmap(method.finished)
  stop_all = jax.vmap(method.stop)

  def run_pool(game, slots, num_iters, max_iters, stop_gap):
    """Batch-level loop for an exact method (``game``/``slots`` batched).

    Each game pivots until it is finished or at ``max_iters`` (frozen by
    ``stop``, pivot by pivot: its trajectory does not depend on the batch),
    for at most ``num_iters`` pivots. Then one certificate check per game
    (none for a method with a ``refined`` answer: :func:`solve_batch`
    certifies that one).

    Pivot counts vary (random tournaments at n = 50: 57 on average, 100 the
    slowest of 128), and a vmapped pivot costs the same for a finished game:
    once at most a quarter of the games are left, they are gathered into a
    batch a quarter the size (padding games frozen) and go on there, twice
    at most (each level is another compile of the pivot loop) and down to
    batches of 8; their states are scattered back at the end.
    """
    del stop_gap  # an exact method is certified at its finish

    def freeze(state, frozen):
      return stop_all(state, frozen | (state.count >= max_iters))

    def run(state, game, frozen, it, size_left):
      """Pivots until at most ``size_left`` games are unfinished."""

      def pivot(_, state):
        return freeze(update_all(state, game), frozen)

      def cond(c):
        state, it = c
        return (it < num_iters) & (
            jnp.sum(~finished_all(state)) > size_left)

      def body(c):
        state, it = c
        return jax.lax.fori_loop(0, every, pivot, state), it + every

      return jax.lax.while_loop(cond, body, (state, it))

    def solve_level(state, game, frozen, it, levels=2):
      B = frozen.shape[0]
      small = B // 4
      if small < 8 or not levels:
        return run(state, game, frozen, it, 0)
      state, it = run(state, game, frozen, it, small)
      idx = jnp.nonzero(~finished_all(state), size=small, fill_value=B)[0]
      take = lambda a: a[jnp.where(idx < B, idx, 0)]
      pad = idx >= B
      sub, it = solve_level(
          freeze(jax.tree.map(take, state), pad), jax.tree.map(take, game),
          take(frozen) | pad, it, levels - 1)
      state = jax.tree.map(lambda a, b: a.at[idx].set(b, mode="drop"),
                           state, sub)
      return state, it

    frozen = slots.done
    state, _ = solve_level(freeze(slots.state, frozen), game, frozen,
                           jnp.int32(0))
    if method.refined is None:
      z, g = jax.vmap(_keep_better)(slots.z, slots.gap,
                                    *jax.vmap(check)(game, state))
    else:  # solve_batch certifies the refined answer instead
      z, g = slots.z, slots.gap
    done = slots.done | finished_all(state)
    return _Slot(state, z, g, done, state.count)

  return init, run_pool


def make_game(A, log_ref, beta, step):
  """Scaled batched ``Game`` ``[B, ...]`` and the scales ``[B]``."""
  scale = jnp.max(jnp.abs(A), axis=(-2, -1))
  scale = jnp.where(scale > 0, scale, 1.0)
  beta_s = beta / scale
  return Game(A / scale[:, None, None], log_ref, beta_s,
              jnp.full_like(scale, step)), scale


def supports(method_name, symmetric, slot):
  """``(rows [n], cols [k])`` bool: the support a method identified.

  The simplex's optimal basis (on the symmetric path the basic columns for
  both players), otherwise the best iterate's entries above
  ``SUPPORT_THRESHOLD`` of its largest. Only a guess: :func:`finalize`
  certifies what is solved on it.
  """
  method = METHODS[method_name]
  if method.support is not None:
    rows, cols = method.support(slot.state)
    return (cols, cols) if symmetric else (rows, cols)
  z = slot.z
  if symmetric:
    s = _support(z[0])
    return s, s
  return _support(z[0]), _support(z[1])


def certify_raw(A, z, log_ref, *, symmetric, regularized, beta, tol,
                skew=False):
  """Certificate of ONE game's candidate ``z`` as it is (sums fixed).

  Args:
    A: ``[n, k]`` payoff in the working dtype, unscaled.
    z: candidate profile ``(x,)`` (symmetric) or ``(x, y)``.
    log_ref: ``(log rho_x,)`` or ``(log rho_x, log rho_y)``.
    symmetric: static, the symmetric path (``x = y``).
    regularized: static, ``beta > 0``.
    beta: KL strength (unscaled).
    tol: gap tolerance.
    skew: static; on the symmetric path, the caller's promise that
      ``A = -A^T`` exactly (one product instead of two,
      :func:`nash_align.solvers.refine.certificate`).

  Returns:
    :class:`nash_align.solvers.refine.Certified`.
  """
  x = refine.sum_to_one(z[0])
  y = x if symmetric else refine.sum_to_one(z[1])
  if regularized:
    lr = log_ref[0]
    lc = log_ref[0] if symmetric else log_ref[1]
    return refine.certify_regularized(A, x, y, beta, lr, lc, tol)
  return refine.certify_candidate(A, x, y, tol, skew=symmetric and skew)


def certify_batch(A, z, log_ref, exact_skew=False, **opts):
  """:func:`certify_raw` of a batch ``[B]``.

  ``exact_skew``: a bool for the whole batch (Python or traced) that every
  game is exactly antisymmetric; on the symmetric path it then takes one
  double-float product a game instead of two (a traced flag picks the
  branch with ``lax.cond``: both are compiled, one runs).
  """
  run = lambda skew: jax.vmap(functools.partial(
      certify_raw, skew=skew, **opts))(A, z, log_ref)
  if not opts["symmetric"] or opts["regularized"] or exact_skew is False:
    return run(False)
  if exact_skew is True:
    return run(True)
  return jax.lax.cond(exact_skew, lambda: run(True), lambda: run(False))


def polish(A, raw, rows, cols, log_ref, *, symmetric, regularized, beta,
           tol):
  """ONE game whose raw candidate missed: the support system (``beta = 0``:
  refined on ``rows``/``cols``, the method's identified support) or Newton
  steps with double-float residuals (``beta > 0``); the better answer."""
  if regularized:
    lr = log_ref[0]
    lc = log_ref[0] if symmetric else log_ref[1]
    x2, y2 = refine.newton_regularized(A, raw.row, raw.col, beta, lr, lc,
                                       symmetric)
    new = refine.certify_regularized(A, x2, y2, beta, lr, lc, tol)
  elif symmetric:
    new = refine.refine_symmetric(A, cols, tol)
  else:
    new = refine.refine_general(A, rows, cols, tol)
  return _keep_certified(raw, new)


def finalize(A, z, rows, cols, log_ref, **opts):
  """Certified answer for ONE game: the candidate itself when it certifies,
  else :func:`polish`. (Batched by :func:`finalize_batch`.)"""
  raw = certify_raw(A, z, log_ref, **opts)
  new = polish(A, raw, rows, cols, log_ref, **opts)
  return jax.tree.map(lambda a, b: jnp.where(raw.certified, a, b), raw, new)


def compacted(mask, fn, operands, out):
  """``out`` with rows ``mask`` ``[B]`` replaced by ``vmap(fn)(*operands)``.

  Only the masked games are computed: their indices are gathered into
  chunks of fixed size (about ``B / 32``, at least 2, so it jits: a rare
  failure then costs little) and the chunks run in a
  ``while_loop`` until none is left. Game by game the same as computing every
  game and selecting, at a fraction of the cost when few games need ``fn``.
  """
  B = mask.shape[0]
  chunk = min(B, max(2, 1 << max(0, (B // 32 - 1).bit_length())))
  vfn = jax.vmap(fn)

  def body(c):
    mask, out = c
    idx = jnp.nonzero(mask, size=chunk, fill_value=B)[0]
    safe = jnp.where(idx < B, idx, 0)
    new = vfn(*jax.tree.map(lambda a: a[safe], operands))
    out = jax.tree.map(lambda o, v: o.at[idx].set(v, mode="drop"), out, new)
    return mask.at[idx].set(False, mode="drop"), out

  return jax.lax.while_loop(lambda c: jnp.any(c[0]), body, (mask, out))[1]


def finalize_batch(A, z, rows, cols, log_ref, exact_skew=False, **opts):
  """:func:`finalize` of a batch ``[B]``; the polish runs only on the games
  whose raw candidate missed (:func:`compacted`). ``exact_skew``: see
  :func:`certify_batch`."""
  raw = certify_batch(A, z, log_ref, exact_skew, **opts)
  return compacted(~raw.certified, functools.partial(polish, **opts),
                   (A, raw, rows, cols, log_ref), raw)


def _keep_certified(old, new):
  """The new answer where it certifies, or neither does and its gap is less."""
  take = (new.certified & ~old.certified) | (
      (new.certified == old.certified) & (new.gap < old.gap))
  return jax.tree.map(lambda a, b: jnp.where(take, a, b), new, old)


def _refined_profile(method, symmetric, state, A, scale):
  """The method's refined answer (one game); on the symmetric path only
  from a symmetric basis (tight rows = support), else its raw candidate,
  left to the support system and the repair."""
  x, y = method.refined(state, A, scale, duals=not symmetric)
  if not symmetric:
    return (x, y)
  rows, cols = method.support(state)
  raw = method.candidates(state)[0][1]
  return (jnp.where(jnp.all(rows == cols), y, raw),)


def _simplex_pivots(state, game, max_iters):
  """Primal pivots to an optimal basis, then dual pivots to a feasible one
  for the true right-hand side (ONE game)."""
  method = METHODS["simplex"]

  def pivots(state, update):
    return jax.lax.while_loop(
        lambda s: (~s.optimal) & (s.count < max_iters),
        lambda s: update(s, game), varying.like(state, game.A))

  state = pivots(state, method.update)
  return pivots(state._replace(optimal=jnp.zeros((), bool)),
                lambda s, g: simplex_lib.dual_update(s))


def resume(A, game, scale, state, cert, max_iters, *, symmetric, tol):
  """Makes ONE uncertified simplex game certified if it can.

  First refresh-and-continue rounds: the tableau's prices and right-hand
  sides are recomputed from the refined basis solution
  (:func:`nash_align.solvers.simplex.refresh`, O(n k)), the pivots go on
  to an optimal and feasible basis (at most ``n + k`` more a round: a
  tableau that drifted too far is left to the next stage), and its refined
  answer is certified; at most :data:`REFRESH_ROUNDS` rounds. What still
  misses is repaired from the original state: the tableau rebuilt from the
  basis (:func:`nash_align.solvers.simplex.reinvert`, O(n^3)), pivots, and
  :func:`finalize` with the support system; at most :data:`REPAIR_ROUNDS`
  rounds.

  Returns ``(cert, pivots)``.
  """
  method = METHODS["simplex"]
  n, k = A.shape
  opts = dict(symmetric=symmetric, regularized=False, beta=0.0, tol=tol)

  def rounds(state, cert, limit, start, pivots_per_round, certify):
    """Up to ``limit`` rounds of ``start``, pivots, refined answer."""
    def cond(c):
      state, cert, r = c
      return (~cert.certified) & (r < limit) & (state.count < max_iters)

    def body(c):
      state, cert, r = c
      state = start(state)
      cap = jnp.minimum(max_iters, state.count + pivots_per_round)
      state = _simplex_pivots(state, game, cap)
      z = _refined_profile(method, symmetric, state, A, scale)
      return state, _keep_certified(cert, certify(state, z)), r + 1

    state, cert, _ = jax.lax.while_loop(
        cond, body, varying.like((state, cert, jnp.int32(0)), A))
    return state, cert

  def support_system(state, z):
    rows, cols = supports("simplex", symmetric,
                          _Slot(state, None, None, None, None))
    return finalize(A, z, rows, cols, game.log_ref, **opts)

  resumed, cert = rounds(
      state, cert, REFRESH_ROUNDS,
      lambda s: simplex_lib.refresh(s, A, scale), n + k,
      lambda s, z: certify_raw(A, z, game.log_ref, **opts))
  repaired, cert = rounds(
      state, cert, REPAIR_ROUNDS, lambda s: simplex_lib.reinvert(s, game),
      max_iters, support_system)
  return cert, jnp.maximum(resumed.count, repaired.count)


def solve_batch(A, log_ref, exact_skew=False, *, method_name, symmetric,
                regularized, beta, step, tol, max_iters, check_every):
  """Solves and certifies the games ``A`` ``[B, n, k]`` (working dtype).

  ``exact_skew``: bool (Python or a traced scalar), every game of the batch
  exactly antisymmetric (the symmetric path's certificate then takes one
  product a game; :func:`certify_batch`).

  The in-graph path: every game runs its method to the end (its own
  ``while_loop``, vmapped), then :func:`finalize` (first-order methods) or
  the refined basis solution and, for the games it misses, :func:`resume`
  (the simplex).
  The eager call runs exactly this on chunks of games.

  Returns ``(Certified [B, ...], iterations [B] int32)``.
  """
  dt = A.dtype
  init, run_batch = method_kernel(method_name, symmetric, regularized,
                                  check_every)
  game, scale = make_game(A, log_ref, jnp.asarray(beta, dt), step)
  slots = jax.vmap(init)(game)
  stop = jnp.maximum(0.5 * tol / scale, 8 * jnp.finfo(dt).eps)
  slots = run_batch(game, slots, max_iters, max_iters, stop)
  method = METHODS[method_name]
  iters = slots.iters
  if method.reinvert is None or regularized:
    cert = finalize_slots(A, slots, log_ref, method_name=method_name,
                          symmetric=symmetric, regularized=regularized,
                          beta=beta, tol=tol, exact_skew=exact_skew)
    return cert, iters.astype(jnp.int32)
  # The simplex: its refined answer, certified as it is; only the games it
  # misses pay for the refresh rounds, and only those still missing for
  # the reinversions (each stage compacted).
  z = jax.vmap(functools.partial(_refined_profile, method, symmetric))(
      slots.state, A, scale)
  cert = certify_batch(A, z, log_ref, exact_skew, symmetric=symmetric,
                       regularized=False, beta=beta, tol=tol)
  fn = functools.partial(resume, max_iters=max_iters, symmetric=symmetric,
                         tol=tol)
  cert, iters = compacted(~cert.certified, fn,
                          (A, game, scale, slots.state, cert), (cert, iters))
  return cert, iters.astype(jnp.int32)


def finalize_slots(A, slots, log_ref, *, method_name, symmetric, regularized,
                   beta, tol, exact_skew=False):
  """:func:`finalize_batch` of a batch of slots ``[B]``."""
  rows, cols = jax.vmap(functools.partial(supports, method_name, symmetric))(
      slots)
  return finalize_batch(A, slots.z, rows, cols, log_ref, exact_skew,
                        symmetric=symmetric, regularized=regularized,
                        beta=beta, tol=tol)
