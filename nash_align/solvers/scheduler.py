"""The eager scheduler: streams a batch of concrete games through pools.

Memory stays bounded for any batch: games enter pools of ``chunk_size``
slots as others leave, and each round is one call of the jitted pool step of
:mod:`nash_align.solvers.kernel`. A game's trajectory does not depend on the
pool (every game runs exactly its own iterations, frozen pivot by pivot at
its cap), so the scheduler computes what the in-graph kernel computes, game
by game; it only decides which games share a call.
"""

import numpy as np

from nash_align.solvers import kernel


def run_pool(A, lrx, lry, index, sym, regularized, method, step, beta, tol,
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

  ``on_piece(sl, x, y, rows, cols, iters)`` is called with each
  consecutive piece ``sl`` of ``piece_size`` games (in ``index`` order) as
  soon as all of its games are out of the pool, with their candidate
  strategies, identified supports and iteration counts, while the pools'
  next rounds run: certifying finished games overlaps the pools' work.

  Returns ``iters [G]`` (numpy), ``G = len(index)``, in ``index`` order.
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
    pools_in_flight = (1 if kernel.METHODS[method].exact_step else
                       max(1, min(4, G // P)))
  step_fn, first_fn = kernel.pool_fns(method, sym, regularized, check_every)
  np_dt = np.dtype(dt)
  out_x = np.zeros((G, n), np_dt)
  out_y = np.zeros((G, k), np_dt)
  out_gap = np.full((G,), np.inf)
  out_it = np.zeros((G,), np.int32)
  out_done = np.zeros((G,), bool)
  out_rows = np.zeros((G, n), bool)
  out_cols = np.zeros((G, k), bool)
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
    slots, scale, rows, cols = step_fn(*args, np.asarray(tol, np_dt), pool.slots, fresh,
                           empty, np.asarray(nxt < G),
                           num_iters=round_iters, max_iters=max_iters)
    pool.slots, pool.result = slots, (slots, scale, empty, rows, cols)
    return True

  def harvest(pool):
    slots, scale, empty, rows, cols = pool.result
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
      out_rows[g] = np.asarray(rows)[fin]
      out_cols[g] = np.asarray(cols)[fin]
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
      on_piece(sl, out_x[sl], out_y[sl], out_rows[sl], out_cols[sl],
               out_it[sl])
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
  return out_it


# Host pieces: games certified together in float64 (about 8 MB of float64
# payoffs: cache-friendly, and host memory stays bounded for any batch).
_HOST_BLOCK_ELEMENTS = 1 << 20

__all__ = ("run_pool",)
