"""Counting kernels behind :mod:`nash_align.preferences`.

Two families of jitted kernels, shared by the public samplers and
``pairwise_counts``:

* **Pairwise counts of rankings**: positions from a one-hot reduction and
  comparisons of the ``n (n - 1) / 2`` pairs, streamed over voter blocks; for
  ``n <= 6`` a table of every ranking's pairwise bits packed in 8-bit lanes
  of uint32 words (SWAR), looked up by the ranking's base-``n`` code.
* **Exact impartial-culture counts from few random bits**
  (:func:`impartial_culture_counts_kernel`): each voter's ranking is coded by
  its insertion digits ``s_j ~ U{0, ..., j}`` (a factorial-number-system
  code, ``log2 n!`` bits), several digits share one 32-bit word (Lemire's
  multiply-shift with rejection, so no modulo bias), and the pairwise counts
  are read off the insertion itself, in 8-bit lanes summed over voters.

Everything here is private: shapes and arguments are checked by the public
functions in :mod:`nash_align.preferences`.
"""

import functools
import itertools
import math
import random
from typing import Optional, Tuple

import jax
from jax import lax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np

Array = jax.Array

# Pairwise comparisons per voter block in the streamed kernels (see
# voter_blocks): memory stays at tens of MiB whatever the number of voters.
BLOCK_ELEMENTS = 1 << 23

def lift(x, ndim: int):
  """Adds leading unit axes so ``x`` has rank ``ndim`` (explicit broadcasting,
  so the module also runs with ``jax_numpy_rank_promotion='raise'``)."""
  x = jnp.asarray(x)
  return x.reshape((1,) * (ndim - x.ndim) + x.shape)


def pairs(n: int):
  """Static ``i < j`` index lists, ``P = n (n - 1) / 2`` pairs."""
  iu, ju = np.triu_indices(n, 1)
  return iu.astype(np.int32), ju.astype(np.int32)


def assemble_counts(upper, total, n: int):
  """``[B, P]`` upper-triangle counts -> ``[B, n, n]`` with ``c + c^T = total``.

  ``c[i, j] = upper`` for ``i < j``, ``c[j, i] = total - upper``, 0 diagonal.
  Built with one static gather (no scatter).
  """
  num_pairs = upper.shape[-1]
  iu, ju = pairs(n)
  index = np.full((n, n), 2 * num_pairs, dtype=np.int32)  # -> the zero slot
  index[iu, ju] = np.arange(num_pairs)
  index[ju, iu] = num_pairs + np.arange(num_pairs)
  zero = jnp.zeros(upper.shape[:-1] + (1,), upper.dtype)
  flat = jnp.concatenate([upper, total - upper, zero], axis=-1)
  return jnp.take(flat, jnp.asarray(index.reshape(-1)), axis=-1).reshape(
      upper.shape[:-1] + (n, n))


def complete_triangle(known, known_t, fill, total: int, batch_shape):
  """Counts ``[*batch_shape, n, n]`` int32 from one triangle, ``[n, n, B]``.

  ``known`` holds the counts of one strict triangle (zero elsewhere),
  ``known_t`` its transpose; the other triangle (``fill``, static bool
  ``[n, n]``) is ``total - known_t`` (``c + c^T = total``). The profiles
  move to the front in ``known``'s dtype (narrow: a quarter of int32's bytes
  for the transpose) and are widened after.
  """
  n, _, batch = known.shape
  counts = jnp.where(jnp.asarray(fill[..., None]),
                     jnp.asarray(total, known.dtype) - known_t, known)
  counts = counts.reshape(n * n, batch).T.astype(jnp.int32)
  return counts.reshape(tuple(batch_shape) + (n, n))


def voter_blocks(batch: int, num_voters: int, n: int,
                  block_size: Optional[int]) -> Tuple[int, int]:
  """Returns (voters per block, number of blocks) for the streamed kernels.

  A block compares ``batch * block * n (n - 1) / 2`` pairs with the voters on
  the minor axis. On XLA's CPU backend blocks of 32 voters vectorise well and
  1, 2 or 4 voters are cheap, while sizes in between (6-27) ran up to 5x
  slower (2-core timings); so 32 voters when the block stays under
  ``BLOCK_ELEMENTS`` (``2^23``) comparisons (e.g. 128 profiles by 50
  alternatives), else the largest of 4, 2, 1 that fits
  ``8 * BLOCK_ELEMENTS`` (large batches), else 1. The tail block is padded.
  """
  if block_size is None:
    per_voter = max(1, batch) * max(1, n * (n - 1) // 2)
    block_size = 1
    if 32 * per_voter <= BLOCK_ELEMENTS:
      block_size = 32
    else:
      for b in (4, 2):
        if b * per_voter <= 8 * BLOCK_ELEMENTS:
          block_size = b
          break
  block_size = max(1, min(block_size, num_voters))
  num_blocks = -(-num_voters // block_size)
  return block_size, num_blocks

# ----------------------------------------------------------------------------
# Small n: rankings by permutation index, pairwise bits packed in words.
# ----------------------------------------------------------------------------

# Largest n drawn by permutation index (n! = 40,320 table rows): one uint32
# per voter instead of n, and no sort.
MAX_INDEXED_ALTERNATIVES = 8
# Largest n whose pairwise_counts looks rankings up by code (n^(n-1) rows).
MAX_CODED_ALTERNATIVES = 6
# Pairwise bits are summed over voters in 8-bit lanes of uint32 words (SWAR):
# 4 pairs a word, so at most 255 voters before the lanes are unpacked.
_LANES = 4
_LANE_BITS = 8
_MAX_LANE_VOTERS = (1 << _LANE_BITS) - 1


def uniform_below(key, shape: Tuple[int, ...], modulus: int):
  """uint32 ``shape``, i.i.d. exactly uniform on ``{0, ..., modulus - 1}``.

  One 32-bit word ``u`` a draw; ``u mod modulus`` is kept when ``u < L``,
  ``L = floor(2^32 / modulus) * modulus``, so every residue has ``L / modulus``
  preimages. Rejected entries (probability ``(2^32 mod modulus) / 2^32``,
  ``< 6e-8`` for ``modulus = n!``, ``n <= 8``) are redrawn from fresh words in
  a ``lax.while_loop``: round ``r`` draws all of ``shape`` from
  ``fold_in(key, r)`` and replaces only the rejected entries, until none is
  left. Each entry is thus its first accepted word, so the law is exact.

  Args:
    key: PRNG key (consumed).
    shape: static output shape.
    modulus: static int in ``[1, 2^32)``.

  Returns:
    uint32 ``shape``.
  """
  def draw(r):
    return jax.random.bits(jax.random.fold_in(key, r), shape, jnp.uint32)

  u = draw(0)
  limit = (1 << 32) // modulus * modulus
  if limit < 1 << 32:
    limit = jnp.uint32(limit)

    def redraw(state):
      r, u = state
      return r + 1, jnp.where(u >= limit, draw(r), u)

    _, u = lax.while_loop(lambda state: jnp.any(state[1] >= limit), redraw,
                          (jnp.uint32(1), u))
  return u % jnp.uint32(modulus)


def pack_lanes(bits):
  """NumPy 0/1 ``[K, P]`` -> uint32 ``[K, ceil(P / 4)]``, pair ``p`` in lane
  ``p % 4`` (bits ``8 (p % 4)`` up) of word ``p // 4``."""
  k, num_pairs = bits.shape
  num_words = -(-num_pairs // _LANES)
  lanes = np.zeros((k, num_words * _LANES), np.uint32)
  lanes[:, :num_pairs] = bits
  shift = (_LANE_BITS * np.arange(_LANES)).astype(np.uint32)
  return np.bitwise_or.reduce(lanes.reshape(k, num_words, _LANES) << shift,
                              axis=-1)


def unpack_lanes(words, num_pairs: int):
  """uint32 ``[..., W]`` lane sums (each ``<= 255``) -> int32 ``[..., P]``."""
  shift = lift(jnp.arange(_LANES, dtype=jnp.uint32) * _LANE_BITS,
                words.ndim + 1)
  lanes = (words[..., None] >> shift) & jnp.uint32(_MAX_LANE_VOTERS)
  lanes = lanes.reshape(words.shape[:-1] + (-1,))[..., :num_pairs]
  return lanes.astype(jnp.int32)


@functools.lru_cache(maxsize=None)
def permutation_tables(n: int):
  """Static tables over the ``n!`` rankings in lexicographic order.

  Returns:
    ``(rankings, words)``: int32 ``[n!, n]`` rankings (best-first, as
    ``itertools.permutations`` lists them) and uint32 ``[n! + 1, W]``
    their packed pairwise bits ``[pos(i) < pos(j)]`` over the pairs
    ``i < j`` of :func:`pairs` (:func:`pack_lanes`); row ``n!`` is zero
    (the padding voter).
  """
  rankings = np.array(list(itertools.permutations(range(n))), np.int32)
  pos = np.argsort(rankings, axis=-1)
  iu, ju = pairs(n)
  words = pack_lanes(pos[:, iu] < pos[:, ju])
  words = np.concatenate([words, np.zeros_like(words[:1])])
  rankings.flags.writeable = words.flags.writeable = False  # cached
  return rankings, words


@functools.lru_cache(maxsize=None)
def ranking_code_table(n: int):
  """uint32 ``[n^(n-1) + 1, W]``: packed pairwise bits by ranking code.

  A ranking ``r`` has code ``sum_{k < n-1} r[k] n^(n-2-k)`` (its first
  ``n - 1`` entries in base ``n``; the last entry is then determined). Rows
  of codes that are no permutation's, and the last row, are zero.
  """
  rankings, words = permutation_tables(n)
  codes = rankings[:, :-1] @ (n ** np.arange(n - 2, -1, -1))
  table = np.zeros((n ** (n - 1) + 1, words.shape[-1]), np.uint32)
  table[codes] = words[:-1]
  table.flags.writeable = False  # cached
  return table


def sum_lanes(table, index, num_pairs: int):
  """Pairwise counts of voters given by table rows.

  Args:
    table: uint32 ``[K, W]`` packed pairwise bits (:func:`pack_lanes`); row
      ``K - 1`` is zero.
    index: int ``[B, m]`` rows of ``table``, one a voter.
    num_pairs: ``P``.

  Returns:
    int32 ``[B, P]``: for each pair, the number of voters whose bit is set.
    Voters are summed in groups of at most 255 in the lanes, each group
    unpacked, and the groups summed in int32.
  """
  batch, m = index.shape
  group = min(m, _MAX_LANE_VOTERS)
  num_groups = -(-m // group)
  index = jnp.pad(index, ((0, 0), (0, num_groups * group - m)),
                  constant_values=table.shape[0] - 1)
  words = jnp.take(jnp.asarray(table), index.reshape(batch, num_groups, group),
                   axis=0, mode="clip")  # [B, groups, group, W]
  lanes = unpack_lanes(jnp.sum(words, axis=-2, dtype=jnp.uint32), num_pairs)
  return jnp.sum(lanes, axis=-2, dtype=jnp.int32)



@functools.partial(jax.jit, static_argnames=("block_size", "num_blocks"))
def pairwise_counts_kernel(rankings, block_size: int, num_blocks: int):
  """``[..., m, n]`` rankings -> ``[..., n, n]`` int32 counts, streamed."""
  batch_shape, (m, n) = rankings.shape[:-2], rankings.shape[-2:]
  batch = int(np.prod(batch_shape, dtype=np.int64))
  r = rankings.astype(jnp.int32).reshape(batch, m, n)
  iu, ju = pairs(n)
  padded = block_size * num_blocks
  r = jnp.pad(r, ((0, 0), (0, padded - m), (0, 0)))
  # [num_blocks, B, block, n]
  blocks = jnp.moveaxis(r.reshape(batch, num_blocks, block_size, n), 1, 0)
  valid = (jnp.arange(padded) < m).reshape(num_blocks, block_size)
  # Positions in the narrowest integer type (int8 for n <= 127): the
  # comparisons then run on 4x more SIMD lanes than int32 on a CPU.
  pos_dtype = (jnp.int8 if n <= 127 else jnp.int16 if n <= 32767 else
               jnp.int32)
  alt = jnp.arange(n, dtype=jnp.int32)

  def body(upper, xs):
    rb, vb = xs  # [B, b, n], [b]
    # Position of each alternative: pos[.., i] = sum_l l [r[.., l] = i];
    # [B, b, n(l), n(i)] lives only inside this block (and is fused).
    onehot = rb[..., :, None] == lift(alt, 4)
    slot = lift(alt[:, None].astype(pos_dtype), 4)
    pos = jnp.sum(jnp.where(onehot, slot, jnp.zeros((), pos_dtype)),
                  axis=-2, dtype=pos_dtype)  # [B, b, n]
    pos = jnp.swapaxes(pos, -1, -2)  # [B, n, b]
    above = (pos[:, iu, :] < pos[:, ju, :]) & lift(vb, 3)  # [B, P, b]
    return upper + jnp.sum(above, axis=-1, dtype=jnp.int32), None

  upper0 = jnp.zeros((batch, iu.size), jnp.int32)
  upper, _ = lax.scan(body, upper0, (blocks, valid))
  return assemble_counts(upper, jnp.int32(m), n).reshape(batch_shape + (n, n))


# Largest n counted by rows of positions (pairwise_counts_rows_kernel):
# its program has one step per alternative.
MAX_ROWS_ALTERNATIVES = 64


@jax.jit
def pairwise_counts_rows_kernel(rankings):
  """``[..., m, n]`` rankings, ``n <= 64`` -> ``[..., n, n]`` int32 counts.

  Positions in uint8 with the profiles on the minor axis (``[n, m, B]``,
  one masked add a slot: no sort, no scatter), then for each ``i`` the
  comparisons ``pos[i] < pos[i + 1:]`` summed over voters in uint8 lanes of
  at most 255 voters (vertical adds, whole vectors of profiles), the lower
  triangle filled by :func:`complete_triangle`. Memory: the positions, a
  quarter of the input's size.
  """
  batch_shape, (m, n) = rankings.shape[:-2], rankings.shape[-2:]
  batch = math.prod(batch_shape)
  r = jnp.transpose(rankings.reshape(batch, m, n).astype(jnp.uint8),
                    (2, 1, 0))  # [n (slot), m, B]
  # pos[i] = sum_p p [r[p] = i], one slot at a time (a one-hot reduction
  # over p was 40x slower at n = 50 on XLA's CPU backend).
  def positions(r):
    alt = lax.broadcasted_iota(jnp.uint8, (n, 1, 1), 0)
    pos = jnp.zeros((n, m, batch), jnp.uint8)  # [n (alternative), m, B]
    for p in range(1, n):
      pos = pos + jnp.where(r[p][None] == alt, jnp.uint8(p), jnp.uint8(0))
    return pos

  # Computed in a branch so that it (and its operand, the transposed input)
  # is materialised once: fused into the comparisons, XLA would redo the n
  # slot steps for every row reading it (an optimization_barrier does not
  # stop that on the CPU backend).
  pos = lax.cond(r[0, 0, 0] < n, positions, positions, r)
  # Voters in groups of <= 255 (uint8 sums); padding voters have every
  # position 0, so no comparison counts them.
  group = min(m, _MAX_LANE_VOTERS)
  num_groups = -(-m // group)
  pos = jnp.pad(pos, ((0, 0), (0, num_groups * group - m), (0, 0)))
  pos = pos.reshape(n, num_groups, group, batch)
  acc = jnp.uint8 if m <= _MAX_LANE_VOTERS else jnp.int32
  rows = []
  for i in range(n - 1):  # (row n - 1 has no pair: no zero-size reduction)
    above = jnp.sum(pos[i][None] < pos[i + 1:], axis=2, dtype=jnp.uint8)
    above = jnp.sum(above, axis=1, dtype=acc)  # [n - 1 - i, B]
    rows.append(jnp.pad(above, ((i + 1, 0), (0, 0))))
  rows.append(jnp.zeros((n, batch), acc))
  upper, upper_t = jnp.stack(rows), jnp.stack(rows, axis=1)  # [n, n, B]
  return complete_triangle(upper, upper_t, np.tril(np.ones((n, n), bool), -1),
                           m, batch_shape)


@jax.jit
def pairwise_counts_coded_kernel(rankings):
  """``[..., m, n]`` rankings, ``n <= 6`` -> ``[..., n, n]`` int32 counts.

  Each ranking's code (:func:`ranking_code_table`) picks its packed pairwise
  bits; :func:`sum_lanes` adds them over voters.
  """
  batch_shape, (m, n) = rankings.shape[:-2], rankings.shape[-2:]
  batch = int(np.prod(batch_shape, dtype=np.int64))
  r = rankings.astype(jnp.int32).reshape(batch, m, n)
  radix = jnp.asarray(n ** np.arange(n - 2, -1, -1), jnp.int32)
  code = jnp.sum(r[..., :-1] * lift(radix, 3), axis=-1)  # [B, m]
  upper = sum_lanes(ranking_code_table(n), code, n * (n - 1) // 2)
  return assemble_counts(upper, jnp.int32(m), n).reshape(batch_shape + (n, n))



# ----------------------------------------------------------------------------
# Exact impartial culture from insertion digits (factorial number system).
# ----------------------------------------------------------------------------

_WORD = 1 << 32
# Digits and positions are uint8 up to this many alternatives, else uint16.
_MAX_UINT8_ALTERNATIVES = 256
# Up to this many alternatives the insertion steps are unrolled (triangular
# work); beyond, one lax.fori_loop over full-width masked steps.
_MAX_UNROLLED_ALTERNATIVES = 64
# Voters summed in uint8 lanes per streamed round (at most 255 a lane).
_MAX_ROUND_VOTERS = 255
# Elements ``n * voters * lanes`` of one round's positions (about 1 MiB).
_ROUND_ELEMENTS = 1 << 20
# Most voters sharing one set of words (small n).
_MAX_VOTERS_PER_UNIT = 8
# Voters per round assumed when weighing extra rejection rounds.
_PLAN_VOTERS = 1 << 14


def _rejection_probability(radix_product: int) -> float:
  """Lemire rejection probability ``(2^32 mod R) / 2^32`` of one word."""
  return (_WORD % radix_product) / _WORD


@functools.lru_cache(maxsize=None)
def _digit_layout(n: int, k: int, num_words: int):
  """Assigns the insertion digits of ``k`` voters to ``num_words`` words.

  The digits are ``(t, j)``: voter slot ``t < k``, alternative
  ``1 <= j < n`` with radix ``j + 1``. A word holds digits whose radix
  product ``R`` is below ``2^32``; it is rejected with probability
  ``(2^32 mod R) / 2^32``. A seeded local search (deterministic: it depends
  only on the arguments) minimises the summed rejection probability.

  Returns:
    ``(words, probability)``: per word a tuple of its ``(t, j)`` digits,
    most significant first, and the probability that some word of a unit is
    rejected; or None when the digits do not fit.
  """
  digits = [(t, j) for t in range(k) for j in range(1, n)]
  radix = [j + 1 for _, j in digits]
  rnd = random.Random(1_000_003 * n + 1009 * k + num_words)
  best = None
  for _ in range(4):
    assign, prods = [0] * len(digits), [1] * num_words
    order = sorted(range(len(digits)), key=lambda d: (-radix[d], rnd.random()))
    fits = True
    for d in order:
      open_words = [w for w in range(num_words) if prods[w] * radix[d] < _WORD]
      if not open_words:
        fits = False
        break
      w = min(open_words, key=lambda w: (prods[w], w))
      assign[d], prods[w] = w, prods[w] * radix[d]
    if not fits:
      continue
    cost = sum(map(_rejection_probability, prods))
    for _ in range(1500):
      a, b = rnd.randrange(len(digits)), rnd.randrange(len(digits))
      wa, wb = assign[a], assign[b]
      if wa == wb:
        continue
      new = list(prods)
      if rnd.random() < 0.5:  # move digit a to b's word
        new[wa] //= radix[a]
        new[wb] *= radix[a]
        moves = ((a, wb),)
      else:  # swap digits a and b
        new[wa] = new[wa] // radix[a] * radix[b]
        new[wb] = new[wb] // radix[b] * radix[a]
        moves = ((a, wb), (b, wa))
      if max(new) >= _WORD:
        continue
      c = sum(map(_rejection_probability, new))
      if c <= cost:
        cost, prods = c, new
        for d, w in moves:
          assign[d] = w
    if best is None or cost < best[0]:
      best = (cost, list(assign))
  if best is None:
    return None
  words = tuple(tuple(sorted(digits[d] for d in range(len(digits))
                             if best[1][d] == w)) for w in range(num_words))
  accept = 1.0
  for word in words:
    accept *= 1 - _rejection_probability(
        math.prod(j + 1 for _, j in word))
  return tuple(w for w in words if w), 1 - accept


def _expected_draws(p: float, units: int) -> float:
  """Expected draws of a round's words when each of ``units`` is rejected
  with probability ``p`` and rejected ones are redrawn until all pass:
  ``1 + sum_r (1 - (1 - p^r)^units)``."""
  total, r = 1.0, 1
  while r < 200:
    miss = -math.expm1(units * math.log1p(-p ** r)) if p ** r < 1 else 1.0
    total += miss
    if miss < 1e-9:
      break
    r += 1
  return total


@functools.lru_cache(maxsize=None)
def _digit_plan(n: int):
  """The cheapest ``(k, words, probability)`` for ``n`` alternatives.

  ``k`` voters share the ``words`` (see :func:`_digit_layout`). The cost per
  voter is ``len(words) / k`` random words times the expected number of
  draws of a round of ``_PLAN_VOTERS`` voters (:func:`_expected_draws`).
  """
  bits = math.log2(math.factorial(n))
  best = None
  for k in range(1, _MAX_VOTERS_PER_UNIT + 1):
    if k > 1 and k * bits > 30:
      break
    first = max(1, math.ceil(k * bits / 32))
    candidates = set(range(first, first + 6)) | {
        math.ceil(k * bits / (32 - slack)) for slack in (8, 12, 16)}
    for num_words in sorted(candidates):
      layout = _digit_layout(n, k, num_words)
      if layout is None:
        continue
      words, p = layout
      cost = len(words) / k * _expected_draws(p, _PLAN_VOTERS // k)
      if best is None or cost < best[0] - 1e-12:
        best = (cost, k, words, p)
  return best[1:]


def _random_words(key, shape: Tuple[int, ...]):
  """uint32 ``shape`` of random bits from ``key``.

  For threefry keys (JAX's default) the threefry-2x32 hash of a counter,
  two words a hash (``jax.random.bits`` uses one hash a word); other key
  implementations use ``jax.random.bits``.
  """
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    impl = str(jax.random.key_impl(key))
    data = jax.random.key_data(key)
  else:
    impl = jax.config.jax_default_prng_impl
    data = key
  if impl != "threefry2x32":
    return jax.random.bits(key, shape, jnp.uint32)
  size = math.prod(shape)
  count = lax.iota(jnp.uint32, size + size % 2)
  return jex.random.threefry_2x32(data, count)[:size].reshape(shape)


def _mulhi(x, r: int):
  """``floor(x r / 2^32)`` for uint32 ``x`` and a static ``r < 2^16``."""
  r = jnp.uint32(r)
  low = (x & jnp.uint32(0xFFFF)) * r
  return ((x >> 16) * r + (low >> 16)) >> 16


def _accepted(words, layout):
  """bool: every word of a unit passes Lemire's test ``u R mod 2^32 >= 2^32
  mod R``. ``words`` is ``[W, ...]``."""
  ok = None
  for w, word in enumerate(layout):
    product = math.prod(j + 1 for _, j in word)
    threshold = _WORD % product
    if threshold == 0:
      continue
    test = words[w] * jnp.uint32(product) >= jnp.uint32(threshold)
    ok = test if ok is None else ok & test
  if ok is None:
    ok = jnp.ones(words.shape[1:], bool)
  return ok


def _words_to_digits(words, layout, n: int, k: int, dtype):
  """Insertion digits of accepted words.

  Word ``u`` with radix product ``R`` codes ``floor(u R / 2^32)``, exactly
  uniform on ``[0, R)`` when accepted (Lemire, 2019); its mixed-radix digits,
  most significant first, are ``s = floor(x r / 2^32)``, ``x <- x r mod
  2^32`` for each radix ``r``.

  Args:
    words: uint32 ``[W, U, L]``.
    layout: per word its ``(t, j)`` digits (:func:`_digit_layout`).
    n: alternatives.
    k: voters per unit.
    dtype: digit dtype.

  Returns:
    ``[n, k U, L]`` digits: ``s[j]`` in ``{0, ..., j}`` (``s[0] = 0``);
    voter ``t U + u`` is slot ``t`` of unit ``u``.
  """
  digit = {}
  for w, word in enumerate(layout):
    x = words[w]
    for t, j in word:
      digit[t, j] = _mulhi(x, j + 1).astype(dtype)
      x = x * jnp.uint32(j + 1)
  zero = jnp.zeros(words.shape[1:], dtype)
  rows = [jnp.concatenate([digit.get((t, j), zero) for t in range(k)], axis=0)
          for j in range(n)]
  return jnp.stack(rows)


def insertion_counts(digits):
  """Pairwise counts of the rankings coded by insertion digits.

  Alternatives ``0, 1, ..., n - 1`` are inserted in turn into a ranking,
  alternative ``j`` at slot ``s_j`` from the top (``0 <= s_j <= j``); the
  digits ``s`` are a bijection with rankings, so i.i.d. uniform digits give a
  uniform ranking. Alternative ``j`` lands above an earlier ``i`` iff
  ``s_j <= pos_{j-1}(i)`` (its position among ``0..j-1``), and later
  insertions keep that order, so each pair costs one comparison and one
  position update. The number of voters ranking ``j`` above ``i`` is read as
  the difference of the voters' summed positions of ``i`` after and before
  step ``j`` (uint8 sums: exact mod 256, since at most 255 voters add at most
  one each), one summation a step instead of materialising the comparisons
  and summing them (1.3x faster on a CPU).

  Args:
    digits: unsigned ``[n, V, L]`` digits, ``V <= 255`` voters summed per
      lane ``L``; ``digits[0]`` is ignored.

  Returns:
    ``(lower, lower_t)``, uint8 ``[n, n, L]``: ``lower[j, i]`` (``i < j``) is
    the number of voters ranking ``j`` above ``i``, zero on and above the
    diagonal; ``lower_t`` is its transpose in the first two axes, built
    alongside (stacking whole ``L``-vectors is cheap where an XLA transpose
    of the assembled counts is not).
  """
  n, voters, lanes = digits.shape
  dtype = digits.dtype
  if n <= _MAX_UNROLLED_ALTERNATIVES:
    pos = jnp.zeros((1, voters, lanes), dtype)
    before = jnp.zeros((1, lanes), jnp.uint8)
    rows = [jnp.zeros((n, lanes), jnp.uint8)]
    for j in range(1, n):
      s = digits[j][None]
      pos = jnp.concatenate([pos + (s <= pos).astype(dtype), s], axis=0)
      after = jnp.sum(pos, axis=1, dtype=jnp.uint8)  # [j + 1, L], mod 256
      rows.append(jnp.pad(after[:j] - before, ((0, n - j), (0, 0))))
      before = after
    return jnp.stack(rows), jnp.stack(rows, axis=1)
  # Large n: full-width steps in a loop (twice the work, O(n) program size).
  row = lax.broadcasted_iota(jnp.int32, (n, 1, 1), 0)

  def step(j, carry):
    pos, counts = carry
    s = lax.dynamic_index_in_dim(digits, j, 0)
    above = ((s <= pos) & (row < j)).astype(dtype)
    pos = jnp.where(row == j, s, pos + above)
    counts = lax.dynamic_update_index_in_dim(
        counts, jnp.sum(above, axis=1, dtype=jnp.uint8)[None], j, 0)
    return pos, counts

  counts = jnp.zeros((n, n, lanes), jnp.uint8)  # [j, i, L]
  _, counts = lax.fori_loop(1, n, step,
                            (jnp.zeros((n, voters, lanes), dtype), counts))
  return counts, jnp.swapaxes(counts, 0, 1)


def _digit_dtype(n: int):
  return jnp.uint8 if n <= _MAX_UINT8_ALTERNATIVES else jnp.uint16


def exact_digits(key, words_shape: Tuple[int, int, int], n: int):
  """Exactly uniform insertion digits ``[n, k U, L]`` from ``key``.

  ``words_shape = (W, U, L)``: ``U`` units of the plan's ``k`` voters
  (:func:`_digit_plan`) in each of ``L`` lanes. The words come from
  ``fold_in(key, 0)``; rejected units take the words of ``fold_in(key, r)``
  for the first ``r = 1, 2, ...`` in which they pass (a
  ``lax.while_loop``), so each unit's digits are exactly uniform and
  independent of the others'. See :func:`_words_to_digits` for the layout.
  """
  k, layout, _ = _digit_plan(n)
  draw = lambda r: _random_words(jax.random.fold_in(key, r), words_shape)
  words = draw(0)

  def redraw(state):
    r, words, ok = state
    words = jnp.where(ok[None], words, draw(r))
    return r + 1, words, _accepted(words, layout)

  _, words, _ = lax.while_loop(lambda state: ~jnp.all(state[2]), redraw,
                               (jnp.uint32(1), words,
                                _accepted(words, layout)))
  # Materialised once: fused into the insertion steps, XLA would redo the
  # multiply-shift chain of a digit for every comparison that reads it.
  return lax.optimization_barrier(
      _words_to_digits(words, layout, n, k, _digit_dtype(n)))


def insertion_rankings(digits):
  """Rankings (best-first) coded by insertion digits.

  Alternative ``j`` is inserted at slot ``s_j`` of the list of ``0..j-1``:
  entries above the slot stay, the rest move down one (see
  :func:`insertion_counts` for the code).

  Args:
    digits: unsigned ``[n, V, L]``; ``digits[0]`` is ignored.

  Returns:
    ``[n, V, L]`` of the digits' dtype: entry ``p`` is the alternative at
    position ``p`` (0 = best).
  """
  n, voters, lanes = digits.shape
  dtype = digits.dtype
  ranking = jnp.zeros((1, voters, lanes), dtype)
  for j in range(1, n):
    s = digits[j][None]
    slot = lax.broadcasted_iota(dtype, (j + 1, 1, 1), 0)
    keep = jnp.concatenate([ranking, ranking[-1:]], axis=0)
    moved = jnp.concatenate([ranking[:1], ranking], axis=0)
    ranking = jnp.where(slot < s, keep,
                        jnp.where(slot == s, jnp.asarray(j, dtype), moved))
  return ranking


# Largest n whose impartial_culture rankings come from insertion digits.
MAX_INSERTION_ALTERNATIVES = _MAX_UNROLLED_ALTERNATIVES


@functools.partial(jax.jit, static_argnames=("batch_shape", "m", "n"))
def impartial_culture_rankings_kernel(key, batch_shape, m, n):
  """int32 ``[*batch_shape, m, n]`` i.i.d. exactly uniform rankings, from
  insertion digits (:func:`exact_digits`, :func:`insertion_rankings`)."""
  batch = math.prod(batch_shape)
  k, layout, _ = _digit_plan(n)
  units = -(-m // k)
  digits = exact_digits(jax.random.fold_in(key, 0),
                        (len(layout), units, batch), n)
  ranking = insertion_rankings(digits)[:, :m]  # [n, m, B]
  ranking = jnp.transpose(ranking, (2, 1, 0)).astype(jnp.int32)
  return ranking.reshape(batch_shape + (m, n))


def ic_rounds(batch: int, num_voters: int, n: int,
              block_size: Optional[int]) -> Tuple[int, int, int]:
  """``(voters, groups, rounds)`` of :func:`impartial_culture_counts_kernel`.

  A round draws ``voters * groups`` voters of every profile: ``groups`` lane
  groups of ``voters <= 255`` (a multiple of the plan's ``k``) summed in
  uint8. By default one round holds all ``m`` voters when its positions fit
  ``_ROUND_ELEMENTS``; ``block_size`` asks for that many voters a round.
  """
  k = _digit_plan(n)[0]
  cap = _MAX_ROUND_VOTERS // k * k
  want = num_voters if block_size is None else block_size
  voters = min(cap, -(-want // k) * k)
  groups = -(-want // voters)
  if block_size is None:
    fit = max(1, _ROUND_ELEMENTS // (n * voters * max(1, batch)))
    groups = max(1, min(groups, fit))
  rounds = -(-num_voters // (voters * groups))
  return voters, groups, rounds


@functools.partial(jax.jit, static_argnames=("batch_shape", "m", "n",
                                             "voters", "groups", "rounds"))
def impartial_culture_counts_kernel(key, batch_shape, m, n, voters, groups,
                                    rounds):
  """int32 ``[*batch_shape, n, n]`` counts of ``m`` i.i.d. uniform rankings.

  Round ``b`` (``voters * groups`` voters of each profile) uses
  ``fold_in(key, b)``: its words come from ``fold_in(., 0)``, and rejected
  units (a unit is the ``k`` voters sharing words) take the words of
  ``fold_in(., r)`` for the first ``r = 1, 2, ...`` in which they pass, in a
  ``lax.while_loop``. Each unit's digits are thus exactly uniform and
  independent of the others'. Padding voters (past ``m``) take the digits
  ``s_j = j`` (always inserted at the bottom), which rank no ``j`` above an
  ``i < j``, so they add nothing to the counts.
  """
  batch = math.prod(batch_shape)
  k, layout, _ = _digit_plan(n)
  dtype = _digit_dtype(n)
  units = voters // k
  lanes = groups * batch
  words_shape = (len(layout), units, lanes)
  # Voter v of lane (g, profile) in round b is number b * V G + g V + v.
  offset = (np.arange(voters)[:, None] +
            voters * (np.arange(lanes)[None, :] // batch)).astype(np.int32)
  bottom = jnp.asarray(np.arange(n, dtype=np.int64), dtype)[:, None, None]

  def one_round(b, total):
    digits = exact_digits(jax.random.fold_in(key, b), words_shape, n)
    if rounds * voters * groups > m:
      valid = jnp.asarray(offset) + b * (voters * groups) < m
      digits = jnp.where(valid[None], digits, bottom)
    lower, lower_t = insertion_counts(digits)
    return total[0] + lower.astype(acc), total[1] + lower_t.astype(acc)

  # Counts are at most m: summed in uint8 when that fits (4x less memory to
  # move in the final transpose than int32).
  acc = jnp.uint8 if m <= _MAX_ROUND_VOTERS else jnp.int32
  total = (jnp.zeros((n, n, lanes), acc),) * 2
  if rounds == 1:
    total = one_round(0, total)
  else:
    total = lax.fori_loop(0, rounds, one_round, total)
  # lower[j, i] (i < j) counts voters ranking j above i: c[j, i]; the upper
  # triangle is c[i, j] = m - c[j, i] = m - lower_t[i, j]. Dense, no gather.
  lower, lower_t = (jnp.sum(t.reshape(n, n, groups, batch), axis=2, dtype=acc)
                    for t in total)  # [n, n, B]
  return complete_triangle(lower, lower_t, np.triu(np.ones((n, n), bool), 1),
                           m, batch_shape)
