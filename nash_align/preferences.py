"""Preference models: samplers of rankings and preference matrices.

Two kinds of objects flow out of this module:

* **Profiles** ``r``: int32 ``[*shape, m, n]`` rankings of ``n`` alternatives
  by ``m`` voters (labelers); ``r[..., v, :]`` lists alternatives best-first,
  so ``r[..., v, 0]`` is voter ``v``'s top choice.
* **Pairwise data**: counts ``c`` ``[..., n, n]`` with ``c[i, j]`` the number
  of voters ranking ``i`` above ``j``, and preference matrices ``P``
  ``[..., n, n]`` with ``P[i, j] = Pr(i is preferred to j)``,
  ``P + P^T = 1`` and ``1/2`` on the diagonal.

Samplers (all keyed; ``shape`` is a leading batch shape; ``shape``,
``num_voters`` and ``num_alternatives`` are static Python ints, so call them
under ``jax.jit`` with those marked static, e.g. via ``functools.partial``):

* :func:`impartial_culture`: every ranking equally likely.
* :func:`impartial_culture_counts`: the pairwise counts of an impartial-culture
  profile, drawn without sorting and streamed over voter blocks.
* :func:`mallows`: Mallows' model, ``Pr(pi) ∝ phi^{d_K(pi, reference)}``,
  by the repeated insertion model.
* :func:`plackett_luce`: Plackett-Luce rankings from positive weights (the
  Gumbel-max trick); pairwise marginals are Bradley-Terry-Luce.
* :func:`population_mixture`: a population of labeler groups, each with its own
  PL/BTL weights (the probabilistic preference model of Liu, Long, Shi, Su and
  Xiao, arXiv:2503.10990); :func:`population_preference_matrix` gives its exact
  ``P`` and :func:`random_population` draws random groups.
* :func:`independent_pairwise` and :func:`random_tournament`: each ``P[i, j]``,
  ``i < j``, drawn independently.
* :func:`empirical_counts` / :func:`sample_empirical`: an empirical model from a
  table of pairwise judgments.

Random numbers depend only on the key and the static arguments: the same call
gives the same draw eagerly and under ``jit``. Every sampler also works under
``vmap`` over keys, but for large batches prefer ``shape=``: the streamed
kernels size their voter blocks from the batch they can see.

Bad input raises ``ValueError`` naming the argument. Shape checks are static
(they also run under ``jit``); value checks (NaN, ranges, permutations) run on
concrete inputs when ``validate=True`` and are skipped for tracers, as
documented in :mod:`nash_align._validation`.
"""

import functools
import operator
from typing import Any, Optional, Sequence, Tuple

import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from nash_align import _counting
from nash_align import _validation

__all__ = (
    "SAMPLERS",
    "bradley_terry_matrix",
    "empirical_counts",
    "impartial_culture",
    "impartial_culture_counts",
    "independent_pairwise",
    "luce_mixture",
    "mallows",
    "pairwise_counts",
    "plackett_luce",
    "population_mixture",
    "population_preference_matrix",
    "preference_matrix",
    "random_population",
    "random_tournament",
    "sample_empirical",
)

Array = jax.Array


# ----------------------------------------------------------------------------
# Argument checks and small helpers.
# ----------------------------------------------------------------------------


def _default_float():
  """float32, or float64 when ``jax_enable_x64`` is on."""
  return jax.dtypes.canonicalize_dtype(np.float64)


def _float_dtype(dtype, like=None):
  """Resolves ``dtype``: explicit, else ``like``'s float dtype, else default."""
  if dtype is not None:
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
      raise ValueError(f"dtype must be a floating dtype, got {dtype}.")
    return jax.dtypes.canonicalize_dtype(dtype)
  if like is not None:
    like_dtype = getattr(like, "dtype", None)
    if like_dtype is None:
      like_dtype = np.asarray(like).dtype
    if jnp.issubdtype(like_dtype, jnp.floating):
      return jax.dtypes.canonicalize_dtype(like_dtype)
  return _default_float()


def _sampling_dtype(like):
  """Float dtype for sampling arithmetic: ``like``'s, but at least float32
  (Gumbel noise or an inverse CDF in float16 would tie or bias)."""
  return jnp.promote_types(_float_dtype(None, like=like), jnp.float32)


def _check_int(value: Any, name: str, minimum: int) -> int:
  """A static Python int ``>= minimum`` (so it can size arrays)."""
  if isinstance(value, (bool, np.bool_)):
    raise ValueError(f"{name} must be an int, got {value!r}.")
  try:
    value = operator.index(value)
  except TypeError:
    raise ValueError(
        f"{name} must be a static Python int (mark it static under jit), got "
        f"{value!r} of type {type(value).__name__}.") from None
  if value < minimum:
    raise ValueError(f"{name} must be >= {minimum}, got {value}.")
  return value


def _check_shape(shape: Any, name: str = "shape") -> Tuple[int, ...]:
  if isinstance(shape, (int, np.integer)):
    shape = (shape,)
  try:
    shape = tuple(operator.index(s) for s in shape)
  except TypeError:
    raise ValueError(
        f"{name} must be a tuple of static ints, got {shape!r}.") from None
  if any(s < 0 for s in shape):
    raise ValueError(f"{name} must hold non-negative sizes, got {shape}.")
  return shape


def _check_broadcast(x_shape, target, name: str, target_name: str) -> None:
  """``x_shape`` broadcasts to exactly ``target`` (no growth of ``target``)."""
  x_shape, target = tuple(x_shape), tuple(target)
  ok = len(x_shape) <= len(target) and all(
      a in (1, b) for a, b in zip(x_shape[::-1], target[::-1]))
  if not ok:
    raise ValueError(
        f"{name} with shape {tuple(x_shape)} does not broadcast to "
        f"{target_name} {tuple(target)}.")


def _concrete_values(x, validate: bool):
  """``np.asarray(x)`` when ``x`` is concrete and ``validate``, else None."""
  if validate and _validation.is_concrete(x):
    return np.asarray(x)
  return None


def _check_positive_weights(w, name: str, validate: bool) -> None:
  a = _concrete_values(w, validate)
  if a is None:
    return
  if np.issubdtype(a.dtype, np.inexact) and np.any(np.isnan(a)):
    raise ValueError(f"{name} contains NaN values.")
  if not np.all(np.isfinite(a)):
    raise ValueError(f"{name} contains inf values.")
  if np.any(a <= 0):
    raise ValueError(
        f"{name} must be positive (PL/BTL weights), found min {a.min():.6g}.")


def _check_distribution(p, name: str, validate: bool, atol: float = 1e-5):
  a = _concrete_values(p, validate)
  if a is None:
    return
  if np.issubdtype(a.dtype, np.inexact) and not np.all(np.isfinite(a)):
    raise ValueError(f"{name} contains NaN or inf values.")
  if np.any(a < 0):
    raise ValueError(
        f"{name} must be a probability distribution: found negative entry "
        f"{a.min():.6g}.")
  s = a.sum(axis=-1)
  if np.any(np.abs(s - 1) > atol):
    raise ValueError(
        f"{name} must be a probability distribution summing to 1 over its "
        f"last axis, found sums in [{s.min():.6g}, {s.max():.6g}].")


def _check_permutations(r, name: str, validate: bool) -> None:
  """Every ``r[..., v, :]`` is a permutation of ``0..n-1``."""
  a = _concrete_values(r, validate)
  if a is None or a.size == 0:
    return
  n = a.shape[-1]
  ok = np.all(np.sort(a, axis=-1) == np.arange(n), axis=-1)
  if not np.all(ok):
    bad = np.argwhere(~ok)[0]
    raise ValueError(
        f"{name} must list each of the n = {n} alternatives exactly once per "
        f"voter (a permutation of 0..{n - 1}); "
        f"{name}[{', '.join(map(str, bad))}] = {a[tuple(bad)].tolist()}.")



# ----------------------------------------------------------------------------
# Pairwise counts and preference matrices.
# ----------------------------------------------------------------------------



def pairwise_counts(rankings: Array, validate: bool = True,
                    block_size: Optional[int] = None) -> Array:
  """Pairwise majority counts of a profile.

  .. math:: c_{ij} = \\#\\{v : \\mathrm{pos}_v(i) < \\mathrm{pos}_v(j)\\}.

  Only the ``n (n - 1) / 2`` pairs ``i < j`` are compared (``c[j, i] = m -
  c[i, j]``) and a ``[..., m, n, n]`` tensor is never built. For
  ``7 <= n <= 64`` (and no ``block_size``) positions are computed once in
  uint8 with the profiles on the vector axis, and each row ``i`` is compared
  with ``i + 1 .. n - 1`` and summed over voters in uint8 lanes: memory is a
  quarter of the rankings' own size. Otherwise (``n > 64``, or a
  ``block_size``) the voters are streamed in blocks (``lax.scan``), positions
  from a one-hot reduction inside the block: memory is ``O(B n^2)`` plus one
  block, so 100,000 voters by 50 alternatives needs a few tens of MiB.

  For ``n <= 6`` a table lookup replaces the comparisons: a ranking's first
  ``n - 1`` entries, read as a base-``n`` number, index a static table of its
  ``n (n - 1) / 2`` pairwise bits packed in 8-bit lanes of uint32 words (4
  pairs a word, at most ``6^5 = 7776`` rows); the words are summed over groups
  of at most 255 voters (no lane overflows), unpacked and added up in int32.
  Memory is then ``O(B m)``, less than the rankings themselves. The counts are
  the same either way (for rows that are permutations).

  Args:
    rankings: int ``[..., m, n]``; ``rankings[..., v, :]`` lists the
      alternatives best-first (a permutation of ``0..n-1``).
    validate: check (on concrete input) that every row is a permutation.
    block_size: voters per block of the streamed comparison path (``n > 6``);
      ``None``: the row path for ``n <= 64``, else blocks of at most ``2^23``
      comparisons (32 voters when they fit). The counts do not depend on it.

  Returns:
    int32 ``[..., n, n]`` counts with ``c + c^T = m`` off the diagonal and 0 on
    it.

  Raises:
    ValueError: rank < 2, ``n < 2``, ``m < 1``, a non-integer dtype, or (when
      validating) rows that are not permutations.
  """
  _validation.check_rank_at_least(rankings, 2, "rankings")
  shape = tuple(np.shape(rankings))
  n, m = shape[-1], shape[-2]
  if n < 2:
    raise ValueError(
        f"rankings must rank n >= 2 alternatives, got n = {n} (shape {shape}).")
  if m < 1:
    raise ValueError(
        f"rankings must hold num_voters >= 1 rows, got {m} (shape {shape}).")
  if not jnp.issubdtype(jnp.result_type(rankings), jnp.integer):
    raise ValueError(
        f"rankings must be an integer array, got dtype "
        f"{jnp.result_type(rankings)}.")
  _check_permutations(rankings, "rankings", validate)
  batch = int(np.prod(shape[:-2], dtype=np.int64))
  if batch == 0:
    return jnp.zeros(shape[:-2] + (n, n), jnp.int32)
  if block_size is not None:
    block_size = _check_int(block_size, "block_size", 1)
  if n <= _counting.MAX_CODED_ALTERNATIVES:
    return _counting.pairwise_counts_coded_kernel(jnp.asarray(rankings))
  if block_size is None and n <= _counting.MAX_ROWS_ALTERNATIVES:
    return _counting.pairwise_counts_rows_kernel(jnp.asarray(rankings))
  bs, nb = _counting.voter_blocks(batch, m, n, block_size)
  return _counting.pairwise_counts_kernel(jnp.asarray(rankings), bs, nb)


def preference_matrix(counts: Array, dtype=None,
                      validate: bool = True, *,
                      num_voters: Optional[int] = None) -> Array:
  """Preference matrix of pairwise counts.

  .. math:: P_{ij} = \\frac{c_{ij}}{c_{ij} + c_{ji}},

  with ``P_ii = 1/2`` and ``P_ij = 1/2`` for unjudged pairs
  (``c_ij + c_ji = 0``), so ``P + P^T = 1`` always.

  Args:
    counts: ``[..., n, n]`` non-negative counts (int or float; fractional
      counts from split ties are fine).
    dtype: output float dtype; ``None`` keeps a floating ``counts`` dtype, else
      float32 (float64 when x64 is on).
    validate: check (on concrete input) for NaN/inf and negative counts.
    num_voters: when every one of ``m = num_voters`` labelers judged every
      pair (counts of complete rankings, ``c + c^T = m`` off the diagonal):
      ``P = c / m``, the same values without the transpose (the Monte Carlo
      engine's path). Validation then also checks ``c + c^T = m``.

  Returns:
    float ``[..., n, n]`` preference matrix.

  Raises:
    ValueError: rank < 2, non-square, ``n < 2``, a non-numeric (e.g. complex)
      dtype, or (when validating) NaN/inf or negative counts.
  """
  _validation.check_square(counts, "counts")
  _validation.check_real_dtype(counts, "counts")
  a = _concrete_values(counts, validate)
  if a is not None:
    _validation.check_finite(a, "counts")
    if np.any(a < 0):
      raise ValueError(
          f"counts must be non-negative, found min {a.min():.6g}.")
  dtype = _float_dtype(dtype, like=counts)
  if num_voters is None:
    return _preference_matrix_kernel(counts, dtype)
  m = _check_int(num_voters, "num_voters", 1)
  if a is not None:
    off = ~np.eye(a.shape[-1], dtype=bool)
    total = (a + np.swapaxes(a, -1, -2))[..., off]
    if not np.all(total == m):
      raise ValueError(
          f"num_voters = {m} needs c + c^T = {m} off the diagonal (complete "
          f"rankings), found totals from {total.min():.6g} to "
          f"{total.max():.6g}.")
  return _complete_preference_matrix_kernel(counts, dtype)


@functools.partial(jax.jit, static_argnames=("dtype",))
def _preference_matrix_kernel(counts, dtype):
  c = jnp.asarray(counts).astype(dtype)
  total = c + jnp.swapaxes(c, -1, -2)
  judged = total > 0
  p = jnp.where(judged, c / jnp.where(judged, total, 1), 0.5)
  n = c.shape[-1]
  return jnp.where(_counting.lift(jnp.eye(n, dtype=bool), p.ndim),
                   jnp.asarray(0.5, dtype), p)


@functools.partial(jax.jit, static_argnames=("dtype",))
def _complete_preference_matrix_kernel(counts, dtype):
  # c / (c_01 + c_10) is c / (c + c^T) bit for bit when every pair's total
  # is m. The divisor is full-shape on purpose: XLA turns a division by a
  # broadcast (or constant) m into a multiplication by a rounded 1 / m, which
  # would move P by an ulp (and 1/2 below 1/2 for even m). c * 0 is not
  # simplified away for floats.
  c = jnp.asarray(counts).astype(dtype)
  total = c * 0 + (c[..., 0:1, 1:2] + c[..., 1:2, 0:1])
  p = c / total
  n = p.shape[-1]
  return jnp.where(_counting.lift(jnp.eye(n, dtype=bool), p.ndim),
                   jnp.asarray(0.5, dtype), p)


# ----------------------------------------------------------------------------
# Impartial culture.
# ----------------------------------------------------------------------------


def _swap_tied_neighbours(index, hi, coin_word):
  """Breaks 2-way ties of a sorted key row uniformly at random.

  After sorting keys whose random part is ``hi``, two alternatives with equal
  ``hi`` come out in index order. Swapping each tied adjacent pair with a fair
  coin makes the order of a tied pair uniform; only runs of 3+ equal keys
  (probability ``O(n^3 2^{-2b})`` for ``b`` random bits) keep a slight bias.

  Args:
    index: int32 ``[..., n]`` alternatives in sorted-key order.
    hi: ``[..., n]`` the random part of the sorted keys.
    coin_word: uint32 ``[...]``; bit ``l % 32`` decides the swap at slot
      ``l``.

  Returns:
    int32 ``[..., n]``.
  """
  n = index.shape[-1]
  eq = hi[..., 1:] == hi[..., :-1]  # [.., n-1]: l and l+1 tie
  first = jnp.concatenate(
      [jnp.zeros(eq.shape[:-1] + (1,), bool), eq[..., :-1]], axis=-1)
  shift = _counting.lift(jnp.arange(n - 1, dtype=jnp.uint32) % 32, coin_word.ndim + 1)
  coin = ((coin_word[..., None] >> shift) & 1).astype(bool)
  swap = eq & ~first & coin  # swap l <-> l+1, never two overlapping swaps
  pad = jnp.zeros(swap.shape[:-1] + (1,), bool)
  swap_here = jnp.concatenate([swap, pad], axis=-1)  # take from l+1
  swap_prev = jnp.concatenate([pad, swap], axis=-1)  # take from l-1
  nxt = jnp.concatenate([index[..., 1:], index[..., -1:]], axis=-1)
  prv = jnp.concatenate([index[..., :1], index[..., :-1]], axis=-1)
  return jnp.where(swap_here, nxt, jnp.where(swap_prev, prv, index))


@functools.partial(jax.jit, static_argnames=("shape",))
def _impartial_culture_kernel(key, shape):
  """int32 ``shape = [*batch, m, n]`` uniformly random rankings."""
  n = shape[-1]
  if n <= _counting.MAX_INDEXED_ALTERNATIVES:
    rankings, _ = _counting.permutation_tables(n)
    index = _counting.uniform_below(key, shape[:-1], len(rankings))
    return jnp.take(jnp.asarray(rankings), index.astype(jnp.int32), axis=0,
                    mode="clip")
  if n <= _counting.MAX_INSERTION_ALTERNATIVES:
    return _counting.impartial_culture_rankings_kernel(key, shape[:-2],
                                                       shape[-2], n)
  key_sort, key_coin = jax.random.split(key)
  bits = jax.random.bits(key_sort, shape, jnp.uint32)
  coins = jax.random.bits(key_coin, shape[:-1], jnp.uint32)
  k = max(1, (n - 1).bit_length())
  if 32 - k >= 24:
    # One sort of packed keys: 32-k random high bits | k bits of index.
    mask = jnp.uint32((1 << k) - 1)
    iota = lax.broadcasted_iota(jnp.uint32, shape, len(shape) - 1)
    packed = (bits & ~mask) | iota
    packed = lax.sort(packed, dimension=len(shape) - 1)
    index = (packed & mask).astype(jnp.int32)
    hi = packed >> k
  else:
    # Large n: sort full 32-bit keys carrying the index along.
    iota = lax.broadcasted_iota(jnp.int32, shape, len(shape) - 1)
    hi, index = lax.sort((bits, iota), dimension=len(shape) - 1, num_keys=1)
  return _swap_tied_neighbours(index, hi, coins)


def impartial_culture(key: Array, num_voters: int, num_alternatives: int,
                      shape: Sequence[int] = ()) -> Array:
  """Impartial culture: each voter's ranking uniform over all ``n!`` rankings.

  For ``n <= 8`` each voter draws one permutation index, exactly uniform on
  ``{0, ..., n! - 1}`` (one 32-bit word ``u``, kept as ``u mod n!`` when
  ``u < floor(2^32 / n!) n!``; the rare rejected voters, probability
  ``< 6e-8``, redraw fresh words in a ``lax.while_loop`` until accepted), and
  its ranking is that row of a static table of the ``n!`` rankings in
  lexicographic order: the law is exactly uniform.

  For ``9 <= n <= 64`` each ranking is built from its insertion digits
  ``s_j ~ U{0, ..., j}`` (alternative ``j`` inserted at slot ``s_j`` of the
  list of ``0..j-1``), drawn exactly as in :func:`impartial_culture_counts`
  (few random bits, Lemire's multiply-shift with rejection): the law is
  exactly uniform, and on a CPU it is 3-4x faster than sorting random keys.

  For ``n > 64``: one sort of packed 32-bit integer keys (random high bits,
  the alternative's index in the low ``ceil(log2 n)`` bits), faster on a CPU
  than ``argsort`` of floats or ``jax.random.permutation``. Adjacent ties of
  the random part are broken by a fair coin, so the law is uniform up to
  3-way ties (probability ``< n^3 2^{-2(32 - ceil(log2 n))}`` per ranking;
  for ``n > 256`` a 2-operand sort of full 32-bit keys is used).

  Args:
    key: PRNG key (consumed).
    num_voters: ``m >= 1`` (static).
    num_alternatives: ``n >= 2`` (static).
    shape: leading batch shape (static).

  Returns:
    int32 ``[*shape, m, n]``; ``r[..., v, :]`` lists alternatives best-first.
  """
  m = _check_int(num_voters, "num_voters", 1)
  n = _check_int(num_alternatives, "num_alternatives", 2)
  shape = _check_shape(shape)
  return _impartial_culture_kernel(key, shape + (m, n))


def impartial_culture_counts(key: Array, num_voters: int, num_alternatives: int,
                             shape: Sequence[int] = (),
                             block_size: Optional[int] = None) -> Array:
  """Pairwise counts of an impartial-culture profile, from few random bits.

  The counts have exactly the law of ``pairwise_counts(impartial_culture(...))``
  (not the same draw for a key): each voter's ranking is exactly uniform over
  the ``n!`` rankings, with no ties and no modulo bias.

  A ranking is coded by its insertion digits: alternatives ``0, ..., n - 1``
  are inserted in turn, ``j`` at slot ``s_j`` from the top, ``s_j`` uniform on
  ``{0, ..., j}`` (a factorial-number-system code of ``log2 n!`` bits: 61 at
  ``n = 20`` instead of 20 words of utilities). Digits share 32-bit words: a
  word ``u`` holding digits with radix product ``R < 2^32`` codes
  ``floor(u R / 2^32)``, read digit by digit with multiply-shifts, and is
  kept when ``u R mod 2^32 >= 2^32 mod R`` (Lemire's test), so the code is
  exactly uniform on ``[0, R)``; a rejected word's voters (rare: the layout of
  digits in words is chosen to make ``2^32 mod R`` small) take fresh words
  in a ``lax.while_loop``. For small ``n`` several voters share words (three
  a word at ``n = 5``). Alternative ``j`` lands above an earlier ``i`` iff
  ``s_j <= pos(i)`` among ``0..j-1``, so the counts are read off the
  insertion: one comparison, one position update and one uint8 lane a pair
  and voter, summed over up to 255 voters a lane.

  Voters are streamed in rounds (``lax.fori_loop``; round ``b`` draws from
  ``fold_in(key, b)``); memory is ``O(shape * n^2)`` plus one round, at most
  about 1 MiB of positions by default.

  Args:
    key: PRNG key (consumed). Threefry keys (the default) are hashed in
      counter mode two words a hash; other implementations use
      ``jax.random.bits``.
    num_voters: ``m >= 1`` (static).
    num_alternatives: ``n >= 2`` (static).
    shape: leading batch shape (static).
    block_size: voters of each profile drawn per round (static); ``None``
      draws all ``m`` in one round when it fits about 1 MiB of positions. The
      draw for a key depends on it.

  Returns:
    int32 ``[*shape, n, n]`` with ``c + c^T = m`` off the diagonal.
  """
  m = _check_int(num_voters, "num_voters", 1)
  n = _check_int(num_alternatives, "num_alternatives", 2)
  shape = _check_shape(shape)
  if block_size is not None:
    block_size = _check_int(block_size, "block_size", 1)
  batch = int(np.prod(shape, dtype=np.int64))
  if batch == 0:
    return jnp.zeros(shape + (n, n), jnp.int32)
  voters, groups, rounds = _counting.ic_rounds(batch, m, n, block_size)
  return _counting.impartial_culture_counts_kernel(
      key, shape, m, n, voters, groups, rounds)


# ----------------------------------------------------------------------------
# Mallows.
# ----------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _mallows_kernel(key, phi, reference, shape, dtype):
  """``shape = [*b, m, n]``; phi -> ``[*b]``, reference -> ``[*b, n]``."""
  n = shape[-1]
  phi = jnp.broadcast_to(jnp.asarray(phi, dtype), shape[:-2])
  reference = jnp.broadcast_to(reference.astype(jnp.int32), shape[:-2] + (n,))
  u = jax.random.uniform(key, shape, dtype)
  i = _counting.lift(jnp.arange(n, dtype=dtype), len(shape))  # i earlier items
  ph = phi[..., None, None]
  # W_i in {0..i}, Pr(W_i = w) ∝ phi^w: inverse CDF of a truncated geometric.
  is_one = ph >= 1
  safe = jnp.where(is_one | (ph <= 0), 0.5, ph)
  tail = 1 - safe ** (i + 1)
  geo = jnp.floor(jnp.log1p(-u * tail) / jnp.log(safe))
  unif = jnp.floor(u * (i + 1))
  w = jnp.where(is_one, unif, jnp.where(ph <= 0, 0.0, geo))
  w = jnp.clip(w, 0, i).astype(jnp.int32)
  insert_at = i.astype(jnp.int32) - w  # [.., m, n], from the top
  slot = lax.broadcasted_iota(jnp.int32, shape, len(shape) - 1)

  def body(item, cur):
    j = lax.dynamic_index_in_dim(insert_at, item, axis=-1)  # [.., m, 1]
    shifted = jnp.concatenate([cur[..., :1], cur[..., :-1]], axis=-1)
    return jnp.where(slot < j, cur, jnp.where(slot == j, item, shifted))

  order = lax.fori_loop(0, n, body, jnp.zeros(shape, jnp.int32))
  # order lists reference positions best-first; map to alternatives.
  ref = jnp.broadcast_to(reference[..., None, :], shape)
  return jnp.take_along_axis(ref, order, axis=-1)


def mallows(key: Array, num_voters: int, num_alternatives: int, phi,
            reference: Optional[Array] = None, shape: Sequence[int] = (),
            validate: bool = True) -> Array:
  """Mallows' model by the repeated insertion model (Doignon et al., 2004).

  .. math:: \\Pr(\\pi) = \\frac{\\phi^{d_K(\\pi, \\pi_0)}}{Z(\\phi)},
     \\quad Z(\\phi) = \\prod_{i=1}^{n} \\frac{1 - \\phi^i}{1 - \\phi},

  with ``d_K`` the Kendall tau distance (number of discordant pairs) to the
  reference ``pi_0``. The ``i``-th reference alternative is inserted into the
  ranking of the first ``i - 1`` with ``W_i`` of them below it,
  ``Pr(W_i = w) ∝ phi^w``, ``w = 0..i-1``; the ``W_i`` are independent and
  ``d_K = sum_i W_i``. ``phi = 0`` gives the reference, ``phi = 1`` impartial
  culture.

  Args:
    key: PRNG key (consumed).
    num_voters: ``m >= 1`` (static).
    num_alternatives: ``n >= 2`` (static).
    phi: dispersion in ``[0, 1]``; a scalar or ``[...]`` broadcastable to
      ``shape``.
    reference: int ``[..., n]`` reference ranking (best-first), broadcastable
      to ``[*shape, n]``; default ``0, 1, ..., n-1``.
    shape: leading batch shape (static).
    validate: check (concrete inputs) ``phi`` range and that ``reference`` is a
      permutation.

  Returns:
    int32 ``[*shape, m, n]`` rankings, best-first.
  """
  m = _check_int(num_voters, "num_voters", 1)
  n = _check_int(num_alternatives, "num_alternatives", 2)
  shape = _check_shape(shape)
  _check_broadcast(np.shape(phi), shape, "phi", "shape")
  a = _concrete_values(phi, validate)
  if a is not None:
    if np.any(np.isnan(a)) or np.any(a < 0) or np.any(a > 1):
      raise ValueError(
          f"phi must lie in [0, 1] (Mallows dispersion), got {a.tolist()}.")
  if reference is None:
    reference = jnp.arange(n, dtype=jnp.int32)
  else:
    if np.ndim(reference) < 1 or np.shape(reference)[-1] != n:
      raise ValueError(
          f"reference must have shape [..., n] with n = {n}, got "
          f"{np.shape(reference)}.")
    _check_broadcast(np.shape(reference), shape + (n,), "reference",
                     "[*shape, n]")
    if not jnp.issubdtype(jnp.result_type(reference), jnp.integer):
      raise ValueError(
          f"reference must be an integer permutation, got dtype "
          f"{jnp.result_type(reference)}.")
    _check_permutations(reference, "reference", validate)
  return _mallows_kernel(key, phi, jnp.asarray(reference), shape + (m, n),
                         _sampling_dtype(phi))


# ----------------------------------------------------------------------------
# Plackett-Luce / Bradley-Terry-Luce and populations of labeler groups.
# ----------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _plackett_luce_weights_kernel(key, weights, shape, dtype):
  """weights ``[.., n]`` -> ``shape = [*batch, m, n]`` PL rankings."""
  logw = jnp.log(jnp.asarray(weights, dtype))
  logw = jnp.broadcast_to(logw[..., None, :], shape)
  return _plackett_luce_kernel(key, logw)


def _plackett_luce_kernel(key, log_weights):
  """Gumbel-max: sort ``log w + Gumbel`` descending. ``[.., m, n]``."""
  g = jax.random.gumbel(key, log_weights.shape, log_weights.dtype)
  perturbed = -(log_weights + g)
  axis = log_weights.ndim - 1
  iota = lax.broadcasted_iota(jnp.int32, log_weights.shape, axis)
  _, order = lax.sort((perturbed, iota), dimension=axis, num_keys=1)
  return order


def plackett_luce(key: Array, weights: Array, num_voters: int,
                  shape: Sequence[int] = (), validate: bool = True) -> Array:
  """Plackett-Luce rankings (Luce, 1959; Plackett, 1975).

  .. math:: \\Pr(\\pi) = \\prod_{k=1}^{n}
     \\frac{w_{\\pi_k}}{\\sum_{l \\ge k} w_{\\pi_l}},
     \\qquad \\Pr(i \\text{ before } j) = \\frac{w_i}{w_i + w_j}.

  Sampled with the Gumbel-max trick: sorting ``log w_i + G_i`` (i.i.d.
  standard Gumbel ``G``) in decreasing order gives a PL ranking.

  Args:
    key: PRNG key (consumed).
    weights: positive float ``[..., n]``, broadcastable to ``[*shape, n]``.
    num_voters: ``m >= 1`` (static).
    shape: leading batch shape (static).
    validate: check (concrete inputs) that weights are finite and positive.

  Returns:
    int32 ``[*shape, m, n]`` rankings, best-first.
  """
  m = _check_int(num_voters, "num_voters", 1)
  shape = _check_shape(shape)
  _validation.check_rank_at_least(weights, 1, "weights")
  n = np.shape(weights)[-1]
  if n < 2:
    raise ValueError(
        f"weights must have n >= 2 alternatives, got shape "
        f"{np.shape(weights)}.")
  _check_broadcast(np.shape(weights), shape + (n,), "weights", "[*shape, n]")
  _check_positive_weights(weights, "weights", validate)
  return _plackett_luce_weights_kernel(key, weights, shape + (m, n),
                                       _sampling_dtype(weights))


def bradley_terry_matrix(weights: Array, validate: bool = True) -> Array:
  """Bradley-Terry-Luce preference matrix.

  .. math:: P_{ij} = \\frac{w_i}{w_i + w_j}
     = \\sigma(\\log w_i - \\log w_j),

  computed in the logistic form (exactly 1/2 on the diagonal, no overflow).

  Args:
    weights: positive ``[..., n]``.
    validate: check (concrete inputs) that weights are finite and positive.

  Returns:
    float ``[..., n, n]`` (weights' float dtype, else the default float).
  """
  _validation.check_rank_at_least(weights, 1, "weights")
  n = np.shape(weights)[-1]
  if n < 2:
    raise ValueError(
        f"weights must have n >= 2 alternatives, got shape "
        f"{np.shape(weights)}.")
  _check_positive_weights(weights, "weights", validate)
  return _bradley_terry_kernel(weights, _float_dtype(None, like=weights))


@functools.partial(jax.jit, static_argnames=("dtype",))
def _bradley_terry_kernel(weights, dtype):
  logw = jnp.log(jnp.asarray(weights, dtype))
  return jax.nn.sigmoid(logw[..., :, None] - logw[..., None, :])


def _check_population(group_weights, group_probs, validate: bool):
  _validation.check_rank_at_least(group_weights, 2, "group_weights")
  _validation.check_rank_at_least(group_probs, 1, "group_probs")
  gshape = tuple(np.shape(group_weights))
  num_groups, n = gshape[-2], gshape[-1]
  if n < 2:
    raise ValueError(
        f"group_weights must be [..., G, n] with n >= 2, got shape {gshape}.")
  if num_groups < 1:
    raise ValueError(
        f"group_weights must hold G >= 1 groups, got shape {gshape}.")
  if np.shape(group_probs)[-1] != num_groups:
    raise ValueError(
        f"group_probs must be [..., G] with G = {num_groups} (the groups of "
        f"group_weights {gshape}), got shape {np.shape(group_probs)}.")
  _check_positive_weights(group_weights, "group_weights", validate)
  _check_distribution(group_probs, "group_probs", validate)
  return num_groups, n


@functools.partial(jax.jit, static_argnames=("shape", "num_voters", "dtype"))
def _population_kernel(key, group_weights, group_probs, shape, num_voters,
                       dtype):
  """group_weights to ``[*s, G, n]``, probs to ``[*s, G]`` -> ``[*s, m, n]``."""
  num_groups, n = group_weights.shape[-2:]
  log_weights = jnp.broadcast_to(jnp.log(group_weights.astype(dtype)),
                                 shape + (num_groups, n))
  log_probs = jnp.broadcast_to(jnp.log(group_probs.astype(dtype)),
                               shape + (num_groups,))
  key_group, key_rank = jax.random.split(key)
  logits = jnp.broadcast_to(
      log_probs[..., None, :],
      log_probs.shape[:-1] + (num_voters,) + log_probs.shape[-1:])
  group = jax.random.categorical(key_group, logits, axis=-1)  # [*s, m]
  logw = jnp.take_along_axis(log_weights, group[..., None], axis=-2)
  return _plackett_luce_kernel(key_rank, logw), group


def population_mixture(key: Array, group_weights: Array, group_probs: Array,
                       num_voters: int, shape: Sequence[int] = (),
                       validate: bool = True,
                       return_groups: bool = False):
  """Rankings from a population of labeler groups (a mixture of PL models).

  The probabilistic preference model of arXiv:2503.10990: the population of
  labelers consists of ``G`` groups; group ``g`` has proportion ``p_g`` and
  its own Luce (PL/BTL) utilities ``w_g``. Each labeler draws a group
  ``g ~ Categorical(p)``, then a ranking ``~ PL(w_g)``, so that

  .. math:: \\Pr(i \\succ j) = \\sum_g p_g \\frac{w_{g,i}}{w_{g,i} + w_{g,j}}

  (:func:`population_preference_matrix`). Random populations come from
  :func:`random_population`.

  Args:
    key: PRNG key (consumed).
    group_weights: positive ``[..., G, n]``, broadcastable to
      ``[*shape, G, n]``.
    group_probs: ``[..., G]`` distribution over groups, broadcastable to
      ``[*shape, G]`` (zeros allowed).
    num_voters: ``m >= 1`` (static).
    shape: leading batch shape (static).
    validate: check (concrete inputs) weights positive and probs a
      distribution.
    return_groups: also return each labeler's group, int32 ``[*shape, m]``.

  Returns:
    int32 ``[*shape, m, n]`` rankings, best-first (and the groups if asked).
  """
  m = _check_int(num_voters, "num_voters", 1)
  shape = _check_shape(shape)
  num_groups, n = _check_population(group_weights, group_probs, validate)
  _check_broadcast(np.shape(group_weights), shape + (num_groups, n),
                   "group_weights", "[*shape, G, n]")
  _check_broadcast(np.shape(group_probs), shape + (num_groups,),
                   "group_probs", "[*shape, G]")
  rankings, groups = _population_kernel(
      key, jnp.asarray(group_weights), jnp.asarray(group_probs), shape, m,
      _sampling_dtype(group_weights))
  if return_groups:
    return rankings, groups.astype(jnp.int32)
  return rankings


def population_preference_matrix(group_weights: Array, group_probs: Array,
                                 validate: bool = True) -> Array:
  """Exact preference matrix of a population of labeler groups.

  .. math:: P_{ij} = \\sum_{g=1}^{G} p_g \\frac{w_{g,i}}{w_{g,i} + w_{g,j}},

  the mixture of the groups' Bradley-Terry-Luce matrices (arXiv:2503.10990's
  population preference; the limit of :func:`population_mixture`'s
  ``preference_matrix(pairwise_counts(.))`` as ``m -> infinity``).

  Args:
    group_weights: positive ``[..., G, n]``.
    group_probs: ``[..., G]`` distribution over groups; batch dims broadcast
      with ``group_weights``'.
    validate: check (concrete inputs) as in :func:`population_mixture`.

  Returns:
    float ``[..., n, n]``.
  """
  _check_population(group_weights, group_probs, validate)
  return _population_matrix_kernel(group_weights, group_probs,
                                   _float_dtype(None, like=group_weights))


@functools.partial(jax.jit, static_argnames=("dtype",))
def _population_matrix_kernel(group_weights, group_probs, dtype):
  btl = _bradley_terry_kernel(group_weights, dtype)  # [..., G, n, n]
  p = jnp.asarray(group_probs, dtype)[..., :, None, None]
  ndim = max(p.ndim, btl.ndim)
  return jnp.sum(_counting.lift(p, ndim) * _counting.lift(btl, ndim), axis=-3)


def random_population(key: Array, num_groups: int, num_alternatives: int,
                      shape: Sequence[int] = (),
                      distribution: str = "exponential",
                      concentration: Optional[float] = None,
                      scale: float = 1.0, dtype=None) -> Tuple[Array, Array]:
  """Random population of labeler groups for :func:`population_mixture`.

  Random Luce (PL/BTL) utilities for each group, in the spirit of the Luce
  model of arXiv:2503.10990 (only its abstract could be checked when this was
  written, so the utility laws below are this library's choices, not quotes of
  the paper). Each group's weights ``w_{g,i}`` are i.i.d. from
  ``distribution``:

  * ``"exponential"``: ``Exp(1)`` (``scale`` unused),
  * ``"uniform"``: ``U(0, 1]``,
  * ``"lognormal"``: ``exp(scale * N(0, 1))`` (``scale`` is the spread of
    log-utilities; larger means more decisive groups).

  Group proportions are uniform ``1/G`` when ``concentration`` is None, else
  ``Dirichlet(concentration, ..., concentration)``.

  Args:
    key: PRNG key (consumed).
    num_groups: ``G >= 1`` (static).
    num_alternatives: ``n >= 2`` (static).
    shape: leading batch shape (static).
    distribution: one of the above.
    concentration: Dirichlet concentration ``> 0`` or None.
    scale: lognormal spread ``> 0``.
    dtype: float dtype (default float32, float64 under x64).

  Returns:
    ``(group_weights [*shape, G, n], group_probs [*shape, G])``.
  """
  g = _check_int(num_groups, "num_groups", 1)
  n = _check_int(num_alternatives, "num_alternatives", 2)
  shape = _check_shape(shape)
  dtype = _float_dtype(dtype)
  if distribution not in ("exponential", "uniform", "lognormal"):
    raise ValueError(
        f"distribution must be 'exponential', 'uniform' or 'lognormal', got "
        f"{distribution!r}.")
  if not (np.isfinite(scale) and scale > 0):
    raise ValueError(f"scale must be positive and finite, got {scale}.")
  if concentration is not None and not (
      np.isfinite(concentration) and concentration > 0):
    raise ValueError(
        f"concentration must be positive and finite, got {concentration}.")
  return _random_population_kernel(key, shape + (g, n), distribution,
                                   concentration, float(scale), dtype)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _random_population_kernel(key, wshape, distribution, concentration, scale,
                              dtype):
  shape, g = wshape[:-2], wshape[-2]
  key_w, key_p = jax.random.split(key)
  tiny = jnp.finfo(dtype).tiny
  if distribution == "exponential":
    w = jax.random.exponential(key_w, wshape, dtype)
  elif distribution == "uniform":
    w = 1 - jax.random.uniform(key_w, wshape, dtype)  # (0, 1]
  else:
    w = jnp.exp(scale * jax.random.normal(key_w, wshape, dtype))
  w = jnp.maximum(w, tiny)
  if concentration is None:
    p = jnp.full(shape + (g,), 1.0 / g, dtype)
  else:
    p = jax.random.dirichlet(key_p, jnp.full((g,), concentration, dtype),
                             shape, dtype)
  return w, p


# ----------------------------------------------------------------------------
# Independent pairwise preferences and tournaments.
# ----------------------------------------------------------------------------


def _antisymmetrize(x):
  """Upper triangle of ``x`` ``[.., n, n]`` -> P with ``P + P^T = 1``."""
  n = x.shape[-1]
  upper = _counting.lift(jnp.triu(jnp.ones((n, n), bool), 1), x.ndim)
  xt = jnp.swapaxes(x, -1, -2)
  half = jnp.asarray(0.5, x.dtype)
  lower = jnp.swapaxes(upper, -1, -2)
  return jnp.where(upper, x, jnp.where(lower, 1 - xt, half))


def independent_pairwise(key: Array, num_alternatives: int,
                         shape: Sequence[int] = (), a=1.0, b=1.0, dtype=None,
                         validate: bool = True) -> Array:
  """Independent pairwise preferences.

  .. math:: P_{ij} \\sim \\mathrm{Beta}(a, b) \\text{ i.i.d. for } i < j,
     \\quad P_{ji} = 1 - P_{ij}, \\quad P_{ii} = 1/2.

  ``a = b = 1`` is uniform.

  Args:
    key: PRNG key (consumed).
    num_alternatives: ``n >= 2`` (static).
    shape: leading batch shape (static).
    a, b: Beta parameters ``> 0``; scalars or ``[...]`` broadcastable to
      ``shape``.
    dtype: float dtype (default float32, float64 under x64).
    validate: check (concrete inputs) ``a, b > 0``.

  Returns:
    float ``[*shape, n, n]`` preference matrix.
  """
  n = _check_int(num_alternatives, "num_alternatives", 2)
  shape = _check_shape(shape)
  dtype = _float_dtype(dtype)
  for name, v in (("a", a), ("b", b)):
    _check_broadcast(np.shape(v), shape, name, "shape")
    c = _concrete_values(v, validate)
    if c is not None and (np.any(np.isnan(c)) or np.any(c <= 0) or
                          not np.all(np.isfinite(c))):
      raise ValueError(
          f"{name} must be a positive finite Beta parameter, got {c.tolist()}.")
  return _independent_pairwise_kernel(key, a, b, shape + (n, n), dtype)


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _independent_pairwise_kernel(key, a, b, shape, dtype):
  aa = _counting.lift(jnp.asarray(a, dtype)[..., None, None], len(shape))
  bb = _counting.lift(jnp.asarray(b, dtype)[..., None, None], len(shape))
  return _antisymmetrize(jax.random.beta(key, aa, bb, shape, dtype))


def random_tournament(key: Array, num_alternatives: int,
                      shape: Sequence[int] = (), dtype=None) -> Array:
  """Uniform random tournament as a preference matrix.

  ``P[i, j]`` for ``i < j`` is 0 or 1 with probability 1/2 each, independently
  (the sign of :func:`independent_pairwise` with ``a = b``), ``P[j, i] = 1 -
  P[i, j]``, 1/2 on the diagonal.

  Args:
    key: PRNG key (consumed).
    num_alternatives: ``n >= 2`` (static).
    shape: leading batch shape (static).
    dtype: float dtype (default float32, float64 under x64).

  Returns:
    float ``[*shape, n, n]`` with off-diagonal entries in ``{0, 1}``.
  """
  n = _check_int(num_alternatives, "num_alternatives", 2)
  shape = _check_shape(shape)
  dtype = _float_dtype(dtype)
  return _random_tournament_kernel(key, shape + (n, n), dtype)


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _random_tournament_kernel(key, shape, dtype):
  return _antisymmetrize(jax.random.bernoulli(key, 0.5, shape).astype(dtype))


# ----------------------------------------------------------------------------
# Empirical model from a table of pairwise judgments.
# ----------------------------------------------------------------------------


def empirical_counts(winner: Array, loser: Array, num_alternatives: int,
                     tie: Optional[Array] = None, dtype=None,
                     validate: bool = True) -> Array:
  """Pairwise counts from a table of judgments.

  Row ``k`` of the table says ``winner[k]`` was preferred to ``loser[k]``; a
  tie (``tie[k]`` True) adds 1/2 to both ``c[winner, loser]`` and
  ``c[loser, winner]``.

  Args:
    winner: int ``[K]`` (any shape; flattened) alternative indices.
    loser: int, same shape as ``winner``.
    num_alternatives: ``n >= 2`` (static).
    tie: optional bool, same shape; True marks a tie.
    dtype: float dtype of the counts (default float32, float64 under x64).
    validate: check (concrete inputs) indices in ``[0, n)`` and
      ``winner != loser``.

  Returns:
    float ``[n, n]`` counts (feed to :func:`preference_matrix` or
    :func:`sample_empirical`).
  """
  n = _check_int(num_alternatives, "num_alternatives", 2)
  dtype = _float_dtype(dtype)
  if np.shape(winner) != np.shape(loser):
    raise ValueError(
        f"winner and loser must have the same shape, got {np.shape(winner)} "
        f"and {np.shape(loser)}.")
  if tie is not None and np.shape(tie) != np.shape(winner):
    raise ValueError(
        f"tie must have the shape of winner {np.shape(winner)}, got "
        f"{np.shape(tie)}.")
  for name, x in (("winner", winner), ("loser", loser)):
    if not jnp.issubdtype(jnp.result_type(x), jnp.integer):
      raise ValueError(
          f"{name} must hold integer alternative indices, got dtype "
          f"{jnp.result_type(x)}.")
    c = _concrete_values(x, validate)
    if c is not None and c.size and (c.min() < 0 or c.max() >= n):
      raise ValueError(
          f"{name} must hold indices in [0, {n}), found values in "
          f"[{c.min()}, {c.max()}].")
  w = _concrete_values(winner, validate)
  l = _concrete_values(loser, validate)
  if w is not None and l is not None and np.any(w == l):
    k = int(np.argmax(np.ravel(w == l)))
    raise ValueError(
        f"winner and loser must differ; judgment {k} compares alternative "
        f"{np.ravel(w)[k]} with itself.")
  if tie is None:
    tie = np.zeros(np.shape(winner), bool)
  return _empirical_counts_kernel(winner, loser, tie, n, dtype)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _empirical_counts_kernel(winner, loser, tie, n, dtype):
  w = jnp.ravel(jnp.asarray(winner)).astype(jnp.int32)
  l = jnp.ravel(jnp.asarray(loser)).astype(jnp.int32)
  t = jnp.ravel(jnp.asarray(tie)).astype(bool)
  one = jnp.asarray(1.0, dtype)
  half = jnp.asarray(0.5, dtype)
  c = jnp.zeros((n, n), dtype)
  c = c.at[w, l].add(jnp.where(t, half, one))
  return c.at[l, w].add(jnp.where(t, half, 0))


@functools.partial(jax.jit, static_argnames=("num_voters", "shape", "dtype"))
def _sample_empirical_kernel(key, counts, num_voters, shape, dtype):
  n = counts.shape[-1]
  p = _preference_matrix_kernel(counts, dtype)
  judged = (counts + jnp.swapaxes(counts, -1, -2)) > 0
  p = jnp.broadcast_to(p, shape + (n, n))
  judged = jnp.broadcast_to(judged, shape + (n, n))
  k = jax.random.binomial(key, num_voters, p, shape + (n, n), p.dtype)
  k = jnp.where(judged, jnp.round(k), 0).astype(jnp.int32)
  upper = _counting.lift(jnp.triu(jnp.ones((n, n), bool), 1), k.ndim)
  kt = jnp.swapaxes(k, -1, -2)
  judged_t = jnp.swapaxes(judged, -1, -2)
  lower = jnp.swapaxes(upper, -1, -2)
  return jnp.where(upper, k,
                   jnp.where(lower & judged_t, num_voters - kt, 0))


def sample_empirical(key: Array, counts: Array, num_voters: int,
                     shape: Sequence[int] = (),
                     validate: bool = True) -> Array:
  """Resamples pairwise judgments from an empirical model.

  For each judged pair ``i < j`` (``c_ij + c_ji > 0``), ``num_voters`` new
  judgments are drawn independently with the empirical rate:

  .. math:: \\tilde c_{ij} \\sim \\mathrm{Binomial}(m,
     \\tfrac{c_{ij}}{c_{ij} + c_{ji}}),
     \\qquad \\tilde c_{ji} = m - \\tilde c_{ij}.

  Unjudged pairs stay unjudged (0 both ways), so
  ``preference_matrix`` gives them 1/2.

  Args:
    key: PRNG key (consumed).
    counts: non-negative ``[..., n, n]`` (e.g. :func:`empirical_counts`),
      broadcastable to ``[*shape, n, n]``.
    num_voters: judgments per pair ``m >= 1`` (static).
    shape: leading batch shape (static).
    validate: check counts (concrete inputs) as :func:`preference_matrix`.

  Returns:
    int32 ``[*shape, n, n]`` counts.
  """
  m = _check_int(num_voters, "num_voters", 1)
  shape = _check_shape(shape)
  n = _validation.check_square(counts, "counts")
  _check_broadcast(np.shape(counts), shape + (n, n), "counts",
                   "[*shape, n, n]")
  a = _concrete_values(counts, validate)
  if a is not None:
    _validation.check_finite(a, "counts")
    if np.any(a < 0):
      raise ValueError(
          f"counts must be non-negative, found min {a.min():.6g}.")
  return _sample_empirical_kernel(key, jnp.asarray(counts), m, shape,
                                  _sampling_dtype(counts))


SAMPLERS = {
    "impartial_culture": impartial_culture,
    "impartial_culture_counts": impartial_culture_counts,
    "independent_pairwise": independent_pairwise,
    "mallows": mallows,
    "plackett_luce": plackett_luce,
    "population_mixture": population_mixture,
    "random_tournament": random_tournament,
}


def luce_mixture(key: Array, num_groups: int, num_voters: int,
                 num_alternatives: int, scale: float = 1.0,
                 shape: Sequence[int] = ()) -> Array:
  """Rankings from a random Luce mixture (the model of arXiv:2503.10990).

  Draws a population of ``G`` equally large labeler groups with lognormal
  Luce (PL/BTL) utilities ``w_g = exp(scale Z_g)``, ``Z_g ~ N(0, I_n)``
  (:func:`random_population`, fresh for every batch element), then
  ``num_voters`` labelers from it (:func:`population_mixture`). The key is
  split as ``(k_population, k_rankings)``, so
  ``random_population(k_population, ...)`` reproduces the population (for
  example for its exact matrix, :func:`population_preference_matrix`).

  Args:
    key: PRNG key (consumed).
    num_groups: ``G >= 1`` (static).
    num_voters: ``m >= 1`` labelers (static).
    num_alternatives: ``n >= 2`` (static).
    scale: spread ``> 0`` of the log-utilities.
    shape: leading batch shape (static).

  Returns:
    int32 rankings ``[*shape, m, n]``.
  """
  k_population, k_rankings = jax.random.split(key)
  weights, probs = random_population(
      k_population, num_groups, num_alternatives, shape=shape,
      distribution="lognormal", scale=scale)
  return population_mixture(k_rankings, weights, probs, num_voters,
                            shape=shape, validate=False)
