"""Streaming, sharded Monte Carlo estimates of social-choice probabilities.

``estimate(key, sampler, statistics, num_samples)`` draws ``num_samples``
independent preference matrices from a sampler, evaluates one or more
statistics on each, and returns an :class:`~nash_align.types.Estimate` per
statistic (mean, standard error, confidence interval, sample count).

Reproducibility. Samples are drawn in fixed blocks of ``block_size`` (128):
block ``b`` uses the key ``jax.random.fold_in(key, b)`` (the per-chunk
``fold_in`` of the team contract, with chunks of a fixed size). Jitted steps
process whole blocks and devices get whole blocks, so which samples are drawn
does not depend on ``chunk_size`` or on the devices.
The statistics in :data:`STATISTICS` are integer valued (indicators, counts)
and are accumulated in integers, so their estimates are *bit-identical* for a
seed whatever ``chunk_size``, the number of devices or hosts. A user statistic
with floating-point values is summed in float64 per chunk; its estimate is then
identical up to float64 rounding of the summation order.

Memory. Work is done in jitted chunks of ``chunk_size`` samples (the last one
padded and masked, so there is one compilation); inside a chunk each device
runs its blocks one at a time (``lax.map``), and only per-statistic sums stay
on the host, so memory is that of one block, flat in ``num_samples``.

Scale-out. Each chunk's block indices are sharded over a 1-D
``jax.sharding.Mesh`` of all devices (``NamedSharding(mesh, P("samples"))``)
and processed with ``jax.shard_map``: each device draws its blocks and
evaluates the statistics, and the integer sums are ``psum``-ed. Multi-host
runs call ``jax.distributed.initialize()`` first; then ``jax.devices()`` lists
every host's devices, each process builds the same chunk of block indices and
feeds its addressable shards
(``jax.make_array_from_callback``) and every process gets the same replicated
sums.

Intervals. Probabilities (boolean statistics and histogram bins) get the
Wilson score interval (Wilson, 1927), which keeps its coverage near 0 and 1
where the Wald interval collapses:

.. math::
  \\frac{\\hat p + z^2/2N
        \\pm z\\sqrt{\\hat p(1-\\hat p)/N + z^2/4N^2}}{1 + z^2/N}.

Real-valued statistics get the normal interval ``mean +- z * stderr``.

The statistics reproduce the quantities of Liu et al., "Statistical
Impossibility and Possibility of Aligning LLMs with Human Preferences: From
Condorcet Paradox to Nash Equilibrium" (arXiv:2503.10990): a reward model can
represent the majority preferences iff they are free of Condorcet cycles
(``majority_transitive``), and the Nash equilibrium of the preference game is
mixed iff there is no Condorcet winner (``nash_mixed`` against
``condorcet_winner_exists``).
"""

import dataclasses
import hashlib
import io
import os
import statistics as py_statistics
import sys
import time
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import atomic_io

from nash_align import preferences
from nash_align import social_choice
from nash_align import solvers
from nash_align.types import Estimate

__all__ = (
    "SAMPLERS",
    "STATISTICS",
    "StatisticSpec",
    "estimate",
    "make_sampler",
    "wilson_interval",
)

# Samples are indexed by uint32: at most 2**31 samples per call.
_MAX_SAMPLES = 2**31

# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StatisticSpec:
  """A statistic of one preference matrix and how to summarise it.

  Attributes:
    fn: ``fn(P) -> value`` for one preference matrix ``P`` ``[n, n]`` (it is
      vmapped by the engine). ``kind="probability"``: a bool scalar;
      ``"mean"``: an int or float scalar; ``"histogram"``: an int scalar in
      ``[0, n]``, summarised as the distribution over ``0..n``.
    kind: ``"probability"``, ``"mean"`` or ``"histogram"``.
    doc: one-line description.
    batched: ``fn`` takes the whole block ``[S, n, n]`` and returns ``[S]``
      (instead of being vmapped): statistics that call the solver run its
      batched kernel, whose batch-level branches a vmap would turn into
      both branches for every sample.
    certified: ``fn`` returns ``(value, certified)``, ``certified`` a bool
      from the solver's certificate; the engine counts the samples where it
      is False (:attr:`Estimate.uncertified`).
  """

  fn: Callable[[Any], Any]
  kind: str
  doc: str = ""
  batched: bool = False
  certified: bool = False


def _condorcet_winner_exists(P):
  return social_choice.condorcet_winner(P) >= 0


def _no_condorcet_winner(P):
  return social_choice.condorcet_winner(P) < 0


def _condorcet_cycle_exists(P):
  return social_choice.has_condorcet_cycle(P)


def _majority_transitive(P):
  return social_choice.is_majority_transitive(P)


def _smith_set_size(P):
  return jnp.sum(social_choice.smith_set(P), axis=-1, dtype=jnp.int32)


def _equilibrium_support(P):
  """``([S, n] support, [S] certified)`` of the margin games ``P - 1/2``.

  The support is the solver's certified one (the equalizer system solved on
  the simplex's basis, exactly zero elsewhere), not a threshold on
  probabilities; ``P - 1/2`` is antisymmetric, so the symmetric path.
  """
  result = solvers.solve(P - 0.5, symmetric=True)
  return result.row_support, result.converged


def _nash_mixed(P):
  support, ok = _equilibrium_support(P)
  return jnp.sum(support, axis=-1) > 1, ok


def _support_size(P):
  support, ok = _equilibrium_support(P)
  return jnp.sum(support, axis=-1, dtype=jnp.int32), ok


def _nash_mixed_iff_no_condorcet_winner(P):
  mixed, ok = _nash_mixed(P)
  no_winner = social_choice.condorcet_winner(P) < 0
  return mixed == no_winner, ok


STATISTICS: Mapping[str, StatisticSpec] = {
    "condorcet_cycle_exists": StatisticSpec(
        _condorcet_cycle_exists, "probability",
        "the strict majority relation has a directed cycle"),
    "condorcet_winner_exists": StatisticSpec(
        _condorcet_winner_exists, "probability",
        "some alternative beats every other by a strict majority"),
    "majority_transitive": StatisticSpec(
        _majority_transitive, "probability",
        "the majority relation is transitive (representable by a reward)"),
    "nash_mixed": StatisticSpec(
        _nash_mixed, "probability",
        "the equilibrium of the margin game P - 1/2 has support size > 1 "
        "(the solver's certified support)", batched=True, certified=True),
    "nash_mixed_iff_no_condorcet_winner": StatisticSpec(
        _nash_mixed_iff_no_condorcet_winner, "probability",
        "sample by sample, nash_mixed equals 'no Condorcet winner'",
        batched=True, certified=True),
    "no_condorcet_winner": StatisticSpec(
        _no_condorcet_winner, "probability",
        "no alternative beats every other by a strict majority"),
    "smith_set_size": StatisticSpec(
        _smith_set_size, "mean", "size of the Smith set"),
    "smith_set_size_distribution": StatisticSpec(
        _smith_set_size, "histogram", "distribution of the Smith-set size"),
    "support_size": StatisticSpec(
        _support_size, "histogram",
        "distribution of the equilibrium support size of the margin game",
        batched=True, certified=True),
}

# ---------------------------------------------------------------------------
# Samplers: each registered name becomes ``sample(key) -> P [n, n]``.
# ---------------------------------------------------------------------------

# What each preferences sampler returns: rankings [m, n] (best-first),
# counts [n, n], or a preference matrix [n, n].
_SAMPLER_OUTPUT = {
    "impartial_culture": "rankings",
    "impartial_culture_counts": "counts",
    "independent_pairwise": "matrix",
    "luce_mixture": "rankings",
    "mallows": "rankings",
    "plackett_luce": "rankings",
    "population_mixture": "rankings",
    "random_tournament": "matrix",
}
SAMPLERS = tuple(sorted(_SAMPLER_OUTPUT))
_NEEDS_VOTERS = {k for k, v in _SAMPLER_OUTPUT.items() if v != "matrix"}


def _check_int(value, name, minimum):
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise ValueError(f"{name} must be an integer, got {value!r}.")
  if value < minimum:
    raise ValueError(f"{name} must be >= {minimum}, got {value}.")
  return int(value)


def make_sampler(name: str, num_alternatives: int | None = None,
                 num_voters: int | None = None, dtype=None,
                 **params) -> Callable[..., jax.Array]:
  """Builds ``sample(key, shape=()) -> P [*shape, n, n]`` from ``preferences``.

  Rankings ``[m, n]`` go through ``preferences.pairwise_counts`` and counts
  through ``preferences.preference_matrix``; matrix samplers are used as they
  are. Arguments are checked here, before any work.

  Args:
    name: one of :data:`SAMPLERS`.
    num_alternatives: ``n >= 2`` (``plackett_luce``/``population_mixture``
      take it from their weights when omitted).
    num_voters: ``m >= 1`` labelers (ranking and count samplers only).
    dtype: float dtype of ``P`` (``None``: float32, float64 under x64).
    **params: the sampler's own parameters (``phi``, ``weights``,
      ``group_weights``, ``group_probs``, ``num_groups``, ``scale``, ``a``,
      ``b``, ...).

  Returns:
    A batched sampler (attribute ``batched = True``): ``sample(key, shape)``
    draws ``[*shape, n, n]`` preference matrices with one call of the
    ``preferences`` sampler, so its own memory blocking applies.

  Raises:
    ValueError: unknown name, ``n < 2``, ``m < 1`` or missing arguments.
  """
  if name not in _SAMPLER_OUTPUT:
    raise ValueError(
        f"Unknown sampler {name!r}; known samplers: {', '.join(SAMPLERS)}.")
  if name == "plackett_luce" and num_alternatives is None:
    num_alternatives = np.shape(params.get("weights", ()))[-1:] or None
    num_alternatives = num_alternatives[0] if num_alternatives else None
  if name == "population_mixture" and num_alternatives is None:
    shape = np.shape(params.get("group_weights", ()))
    num_alternatives = shape[-1] if len(shape) >= 2 else None
  if num_alternatives is None:
    raise ValueError(f"sampler {name!r} needs num_alternatives.")
  n = _check_int(num_alternatives, "num_alternatives", 2)
  kind = _SAMPLER_OUTPUT[name]
  if kind != "matrix":
    if num_voters is None:
      raise ValueError(f"sampler {name!r} needs num_voters (labelers).")
    m = _check_int(num_voters, "num_voters", 1)
  elif num_voters is not None:
    raise ValueError(
        f"sampler {name!r} draws preference matrices directly; num_voters "
        f"does not apply (got {num_voters}).")
  fn = getattr(preferences, name, None)
  if fn is None:
    raise ValueError(f"sampler {name!r} is not available in "
                     "nash_align.preferences in this checkout.")

  if name in ("impartial_culture", "impartial_culture_counts", "mallows"):
    draw = lambda key, shape: fn(key, m, n, shape=shape, **params)
  elif name == "luce_mixture":
    if "num_groups" not in params:
      raise ValueError("sampler 'luce_mixture' needs num_groups (labeler "
                       "groups, in sampler_params).")
    draw = lambda key, shape: fn(key, params["num_groups"], m, n,
                                 scale=params.get("scale", 1.0), shape=shape)
  elif name == "plackett_luce":
    draw = lambda key, shape: fn(key, params["weights"], m, shape=shape)
  elif name == "population_mixture":
    draw = lambda key, shape: fn(key, params["group_weights"],
                                 params["group_probs"], m, shape=shape)
  else:  # independent_pairwise, random_tournament
    draw = lambda key, shape: fn(key, n, shape=shape, dtype=dtype, **params)

  def sample(key, shape=()):
    x = draw(key, tuple(shape))
    if kind == "rankings":
      x = preferences.pairwise_counts(x)
    if kind != "matrix":
      # Every labeler ranks every pair: P = c / m (no transpose).
      x = preferences.preference_matrix(x, dtype=dtype, num_voters=m)
    return x

  sample.batched = True
  return sample


_SAMPLER_CACHE: dict[Any, Any] = {}


def _make_sampler_cached(name, num_alternatives, num_voters, dtype, params):
  """``make_sampler``, memoised for hashable arguments (reuses compilations)."""
  try:
    cache_key = (name, num_alternatives, num_voters,
                 None if dtype is None else np.dtype(dtype).name,
                 tuple(sorted(params.items())))
    hash(cache_key)
  except TypeError:  # array-valued parameters: build afresh
    return make_sampler(name, num_alternatives, num_voters, dtype=dtype,
                        **params)
  if cache_key not in _SAMPLER_CACHE:
    if len(_SAMPLER_CACHE) >= _STEP_CACHE_SIZE:
      _SAMPLER_CACHE.pop(next(iter(_SAMPLER_CACHE)))
    _SAMPLER_CACHE[cache_key] = make_sampler(
        name, num_alternatives, num_voters, dtype=dtype, **params)
  return _SAMPLER_CACHE[cache_key]


# ---------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------


def _z_value(confidence: float) -> float:
  return py_statistics.NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes, num_samples, confidence: float = 0.95):
  """Wilson score interval for a binomial proportion (numpy, float64).

  Args:
    successes: ``[...]`` counts ``k`` in ``[0, N]``.
    num_samples: trials ``N >= 1``.
    confidence: two-sided level in ``(0, 1)``.

  Returns:
    ``(low, high)`` float64 arrays ``[...]`` with
    ``low <= k / N <= high`` inside ``[0, 1]``.

  Raises:
    ValueError: ``N < 1``, ``confidence`` outside ``(0, 1)`` or counts
      outside ``[0, N]``.
  """
  if not (np.ndim(num_samples) == 0 and np.isfinite(num_samples)
          and num_samples >= 1):
    raise ValueError(f"num_samples must be a number >= 1, got "
                     f"{num_samples!r}.")
  if not (np.ndim(confidence) == 0 and 0.0 < confidence < 1.0):
    raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
  k = np.asarray(successes, dtype=np.float64)
  n = float(num_samples)
  if k.size and (np.any(~np.isfinite(k)) or k.min() < 0 or k.max() > n):
    raise ValueError(f"successes must be counts in [0, num_samples = {n:g}], "
                     f"got values in [{k.min():g}, {k.max():g}].")
  z = _z_value(confidence)
  p = k / n
  denom = 1.0 + z * z / n
  centre = (p + z * z / (2 * n)) / denom
  half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
  # Exact endpoints at k = 0 and k = N (avoid rounding just off them).
  low = np.where(k <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
  high = np.where(k >= n, 1.0, np.clip(centre + half, 0.0, 1.0))
  return low, high


def _summarise(kind, total, total_sq, count, confidence) -> Estimate:
  n = int(count)
  if kind in ("probability", "histogram"):
    k = np.asarray(total, dtype=np.float64)
    mean = k / n
    stderr = np.sqrt(mean * (1 - mean) / n)
    low, high = wilson_interval(k, n, confidence)
  else:
    s = np.asarray(total, dtype=np.float64)
    ss = np.asarray(total_sq, dtype=np.float64)
    mean = s / n
    var = np.maximum(ss / n - mean * mean, 0.0) * (n / max(n - 1, 1))
    stderr = np.sqrt(var / n)
    z = _z_value(confidence)
    low, high = mean - z * stderr, mean + z * stderr
  as_out = lambda a: np.float64(a) if np.ndim(a) == 0 else np.asarray(
      a, np.float64)
  return Estimate(mean=as_out(mean), stderr=as_out(stderr), low=as_out(low),
                  high=as_out(high), num_samples=n, uncertified=0)


# ---------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------


def _resolve_statistics(statistics) -> dict[str, StatisticSpec]:
  if isinstance(statistics, str):
    statistics = [statistics]
  if isinstance(statistics, Mapping):
    items = list(statistics.items())
  else:
    items = []
    for s in statistics:
      if not isinstance(s, str):
        raise ValueError(
            "statistics must be a name, a list of names or a dict name -> "
            f"callable/StatisticSpec; got {type(s).__name__} in the list.")
      items.append((s, s))
  if not items:
    raise ValueError("statistics must name at least one statistic.")
  specs = {}
  for name, s in items:
    if isinstance(s, StatisticSpec):
      spec = s
    elif isinstance(s, str):
      if s not in STATISTICS:
        raise ValueError(
            f"Unknown statistic {s!r}; known statistics: "
            f"{', '.join(sorted(STATISTICS))}.")
      spec = STATISTICS[s]
    elif callable(s):
      spec = StatisticSpec(s, "auto")
    else:
      raise ValueError(f"statistic {name!r} must be a registered name, a "
                       f"callable or a StatisticSpec, got {s!r}.")
    if spec.kind not in ("probability", "mean", "histogram", "auto"):
      raise ValueError(f"statistic {name!r} has unknown kind {spec.kind!r}.")
    specs[str(name)] = spec
  return specs


def _block_sampler(sample_fn, block_size):
  """``draw(block_key, *args) -> x [block_size, ...]`` for one sample block."""
  if getattr(sample_fn, "batched", False):
    return lambda key, *args: sample_fn(key, (block_size,), *args)

  def draw(key, *args):
    keys = jax.vmap(lambda j: jax.random.fold_in(key, j))(
        jnp.arange(block_size, dtype=jnp.uint32))
    return jax.vmap(lambda k: sample_fn(k, *args))(keys)

  return draw


def _evaluate(spec, x):
  """``(values [S], certified [S] or None)`` of a statistic on a block."""
  out = spec.fn(x) if spec.batched else jax.vmap(spec.fn)(x)
  return out if spec.certified else (out, None)


def _block_sums(draw, specs, n_bins, block_size, key, block, num_samples,
                args):
  """Per-statistic sums over one block: ``(sum, sum of squares,
  uncertified count)``. Integer sums stay in int32 within a block (at most
  ``block_size`` terms); blocks are added on the host in int64."""
  x = draw(jax.random.fold_in(key, block), *args)
  index = block * jnp.uint32(block_size) + jnp.arange(block_size,
                                                      dtype=jnp.uint32)
  valid = index < num_samples  # [S]
  out = {}
  for name, spec in specs.items():
    v, ok = _evaluate(spec, x)  # [S]
    unc = (jnp.zeros((), jnp.int32) if ok is None else
           jnp.sum(valid & ~ok, dtype=jnp.int32))
    if spec.kind == "histogram":
      bins = jnp.arange(n_bins[name])[None, :]
      one_hot = (v[:, None] == bins) & valid[:, None]  # [S, n + 1]
      out[name] = (jnp.sum(one_hot, axis=0, dtype=jnp.int32), None, unc)
    elif jnp.issubdtype(v.dtype, jnp.bool_) or jnp.issubdtype(
        v.dtype, jnp.integer):
      v = jnp.where(valid, v.astype(jnp.int32), 0)
      out[name] = (jnp.sum(v, dtype=jnp.int32),
                   jnp.sum(v * v, dtype=jnp.int32), unc)
    else:
      v = jnp.where(valid, v, 0)
      out[name] = (jnp.sum(v), jnp.sum(v * v), unc)
  return out


def _kinds_and_bins(draw, specs, key, args):
  """Resolves ``auto`` kinds and histogram bins from abstract evaluation."""
  x = jax.eval_shape(lambda k: draw(k, *args), key)
  kinds, bins = {}, {}
  leaves = jax.tree_util.tree_leaves(x)
  n = leaves[0].shape[-1] if leaves and leaves[0].ndim > 1 else 1
  for name, spec in specs.items():
    v = jax.eval_shape(lambda b, spec=spec: _evaluate(spec, b)[0], x)
    if v.shape[1:] != ():
      raise ValueError(
          f"statistic {name!r} must return a scalar per sample, got shape "
          f"{v.shape[1:]}.")
    kind = spec.kind
    if kind == "auto":
      kind = "probability" if v.dtype == jnp.bool_ else "mean"
    if kind == "histogram":
      if not jnp.issubdtype(v.dtype, jnp.integer):
        raise ValueError(f"histogram statistic {name!r} must return an "
                         f"integer, got {v.dtype}.")
      bins[name] = n + 1
    if kind == "probability" and v.dtype != jnp.bool_:
      raise ValueError(f"probability statistic {name!r} must return a bool, "
                       f"got {v.dtype}.")
    kinds[name] = kind
  return kinds, bins


_STEP_CACHE: dict[Any, Any] = {}
_STEP_CACHE_SIZE = 64


def _jitted_step(sample_fn, block_size, spec_items, bin_items, typed_key,
                 key_impl, devices):
  """One jitted chunk step, reused across calls with the same functions.

  The chunk is ``[num_blocks]`` block indices, sharded over a 1-D mesh of
  ``devices`` with ``shard_map``; each device runs its blocks one after the
  other (``lax.map``, memory of one block) and the per-device sums are
  ``psum``-ed, so every device (and host) ends with the same totals.
  """
  cache_key = (sample_fn, block_size, spec_items, bin_items, typed_key,
               key_impl, tuple(devices))
  try:
    step = _STEP_CACHE.get(cache_key)
  except TypeError:  # unhashable user statistic
    cache_key, step = None, None
  if step is not None:
    return step
  specs, bins = dict(spec_items), dict(bin_items)
  draw = _block_sampler(sample_fn, block_size)
  mesh = jax.sharding.Mesh(np.asarray(devices), ("samples",))
  spec_p = jax.sharding.PartitionSpec

  def chunk_fn(kd, blocks, n_cap, args):
    k = jax.random.wrap_key_data(kd, impl=key_impl) if typed_key else kd

    def local(local_blocks):
      sums = jax.lax.map(
          lambda b: _block_sums(draw, specs, bins, block_size, k, b, n_cap,
                                args), local_blocks)
      # Per-block sums, gathered (not added) on the device: the host adds
      # them in int64 / float64, so no int32 overflow, and the same order
      # whatever the chunking or the devices.
      return jax.lax.all_gather(sums, "samples", tiled=True)

    return jax.shard_map(local, mesh=mesh, in_specs=spec_p("samples"),
                         out_specs=spec_p(), check_vma=False)(blocks)

  step = jax.jit(chunk_fn)
  if cache_key is not None:
    if len(_STEP_CACHE) >= _STEP_CACHE_SIZE:
      _STEP_CACHE.pop(next(iter(_STEP_CACHE)))
    _STEP_CACHE[cache_key] = step
  return step


def _device_put_blocks(blocks_np, devices):
  sharding = jax.sharding.NamedSharding(
      jax.sharding.Mesh(np.asarray(devices), ("samples",)),
      jax.sharding.PartitionSpec("samples"))
  return jax.make_array_from_callback(blocks_np.shape, sharding,
                                      lambda index: blocks_np[index])


def _to_host(x):
  if x is None:
    return None
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    x = x.addressable_data(0)
  return np.asarray(x)


class _Plan(NamedTuple):
  """What :func:`estimate` runs, checked and laid out before any work."""
  specs: dict  # name -> StatisticSpec, kinds resolved
  step: Any  # the jitted, sharded chunk step
  key_data: np.ndarray  # the key as host data
  devices: list
  sampler_args: tuple
  num_samples: int
  chunk_size: int  # whole blocks, a multiple of the device count
  blocks_per_chunk: int
  total_blocks: int
  confidence: float
  target_width: Any
  min_samples: int


def _plan(key, sampler, statistics, num_samples, chunk_size, *, block_size,
          num_alternatives, num_voters, sampler_params, sampler_args, dtype,
          confidence, target_width, min_samples, devices) -> _Plan:
  """Planning: validates the arguments (before any work), resolves the
  statistics' kinds at trace time, and lays out blocks, chunks and devices."""
  specs = _resolve_statistics(statistics)
  if isinstance(sampler, str):
    sample_fn = _make_sampler_cached(sampler, num_alternatives, num_voters,
                                     dtype, dict(sampler_params or {}))
  elif callable(sampler):
    if num_alternatives is not None or num_voters is not None or (
        sampler_params):
      raise ValueError("num_alternatives, num_voters and sampler_params only "
                       "apply to a named sampler; bind them into the "
                       "callable sampler instead.")
    sample_fn = sampler
  else:
    raise ValueError(f"sampler must be a name in {SAMPLERS} or a callable, "
                     f"got {sampler!r}.")
  if isinstance(sampler, str):
    if tuple(sampler_args):
      raise ValueError("sampler_args only apply to a callable sampler; use "
                       "sampler_params for a named one.")
  if isinstance(num_samples, bool) or not isinstance(
      num_samples, (int, np.integer)):
    raise ValueError(f"num_samples must be an integer, got {num_samples!r}.")
  if num_samples < 1:
    raise ValueError(f"num_samples must be >= 1, got {num_samples}.")
  if num_samples > _MAX_SAMPLES:
    raise ValueError(f"num_samples must be <= 2**31 (samples are indexed "
                     f"by uint32), got {num_samples}.")
  chunk_size = _check_int(chunk_size, "chunk_size", 1)
  if not 0.0 < confidence < 1.0:
    raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
  if target_width is not None and not 0.0 < target_width <= 1.0:
    raise ValueError(f"target_width must be in (0, 1], got {target_width}.")
  min_samples = _check_int(min_samples, "min_samples", 0)
  block_size = _check_int(block_size, "block_size", 1)
  num_samples = int(num_samples)
  if (-(-num_samples // block_size) + 1) * block_size > 2**32 - 1:
    raise ValueError(f"num_samples = {num_samples} with block_size = "
                     f"{block_size} overflows the uint32 sample index.")

  # --- trace-time checks on shapes -----------------------------------------
  sampler_args = tuple(sampler_args)
  kinds, bins = _kinds_and_bins(_block_sampler(sample_fn, block_size), specs,
                                key, sampler_args)
  specs = {name: dataclasses.replace(spec, kind=kinds[name])
           for name, spec in specs.items()}

  # --- devices and sharding -------------------------------------------------
  devices = list(jax.devices() if devices is None else devices)
  if not devices:
    raise ValueError("devices must not be empty.")
  num_devices = len(devices)
  total_blocks = -(-num_samples // block_size)
  blocks_per_chunk = -(-chunk_size // block_size)
  blocks_per_chunk = min(blocks_per_chunk, total_blocks)
  blocks_per_chunk = -(-blocks_per_chunk // num_devices) * num_devices
  chunk_size = blocks_per_chunk * block_size
  # The key travels as host data (replicated on every process), re-wrapped
  # inside the step, so the same code runs on one device, many, or many hosts.
  typed_key = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
  if typed_key:
    key_impl = jax.random.key_impl(key)
    key_data = np.asarray(jax.random.key_data(key))
  else:
    key_impl = None
    key_data = np.asarray(key)

  step = _jitted_step(sample_fn, block_size, tuple(specs.items()),
                      tuple(sorted(bins.items())), typed_key,
                      None if key_impl is None else str(key_impl), devices)

  return _Plan(specs, step, key_data, devices, sampler_args, num_samples,
               chunk_size, blocks_per_chunk, total_blocks, confidence,
               target_width, min_samples)


class _Totals(NamedTuple):
  sums: dict  # name -> int64 / float64 sums (arrays for histograms)
  sums_sq: dict  # name -> sums of squares (None for histograms)
  uncertified: dict  # name -> int
  count: int  # samples covered


def _plan_fingerprint(plan: _Plan, sampler, sampler_params) -> str:
  """What a chunk checkpoint must match to be resumed: the key, the sample
  layout, the statistics, the stopping rule, the named sampler and the
  sampler's array arguments (a callable sampler's code is the caller's
  responsibility: give each cell its own checkpoint path)."""
  h = hashlib.sha256()
  h.update(plan.key_data.tobytes())
  h.update(repr((plan.num_samples, plan.chunk_size, plan.blocks_per_chunk,
                 plan.total_blocks, plan.confidence, plan.target_width,
                 plan.min_samples,
                 sorted((n, s.kind) for n, s in plan.specs.items()),
                 sampler if isinstance(sampler, str) else None,
                 sorted((sampler_params or {}).items()))).encode())
  for leaf in jax.tree_util.tree_leaves(plan.sampler_args):
    h.update(np.asarray(leaf).tobytes())
  return h.hexdigest()


def _save_checkpoint(path, fingerprint, next_chunk, totals: _Totals):
  """Writes the running sums after chunk ``next_chunk - 1`` atomically."""
  arrays = {"fingerprint": np.array(fingerprint),
            "next_chunk": np.int64(next_chunk),
            "count": np.int64(totals.count)}
  for name in totals.sums:
    arrays[f"sum:{name}"] = np.asarray(totals.sums[name])
    arrays[f"unc:{name}"] = np.int64(totals.uncertified[name])
    if totals.sums_sq[name] is not None:
      arrays[f"sumsq:{name}"] = np.asarray(totals.sums_sq[name])
  buf = io.BytesIO()
  np.savez(buf, **arrays)
  atomic_io.atomic_write_bytes(path, buf.getvalue())


def _load_checkpoint(path, fingerprint, names):
  """``(next_chunk, _Totals)`` from a matching checkpoint, else None."""
  if not path or not os.path.exists(path):
    return None
  with np.load(path) as z:
    if str(z["fingerprint"]) != fingerprint:
      return None
    sums = {n: z[f"sum:{n}"] for n in names}
    sums_sq = {n: (z[f"sumsq:{n}"] if f"sumsq:{n}" in z else None)
               for n in names}
    unc = {n: int(z[f"unc:{n}"]) for n in names}
    return int(z["next_chunk"]), _Totals(sums, sums_sq, unc, int(z["count"]))


def _narrow_enough(plan: _Plan, totals, totals_sq, count) -> bool:
  """The ``target_width`` stopping rule after ``count`` samples."""
  if plan.target_width is None or count < max(plan.min_samples, 1):
    return False
  widths = []
  for nm, spec in plan.specs.items():
    if spec.kind in ("probability", "histogram"):
      est = _summarise(spec.kind, totals[nm], totals_sq[nm], count,
                       plan.confidence)
      widths.append(float(np.max(est.high - est.low)))
  return bool(widths) and max(widths) <= plan.target_width


def _run_chunks(plan: _Plan, progress, checkpoint=None, fingerprint="",
                checkpoint_every_s=60.0) -> _Totals:
  """The chunk loop: one jitted step a chunk, sums added on the host in
  int64 / float64; stops early once every probability interval is at most
  ``target_width`` wide. With ``checkpoint`` it starts from the sums saved
  there (same ``fingerprint``) and saves them every ``checkpoint_every_s``."""
  specs, devices = plan.specs, plan.devices
  kinds = {name: spec.kind for name, spec in specs.items()}
  totals = {name: None for name in specs}
  totals_sq = {name: None for name in specs}
  uncertified = {name: 0 for name in specs}
  num_chunks = -(-plan.num_samples // plan.chunk_size)
  count, first_chunk = 0, 0
  resumed = _load_checkpoint(checkpoint, fingerprint, list(specs))
  if resumed is not None:
    first_chunk, saved = resumed
    totals, totals_sq = dict(saved.sums), dict(saved.sums_sq)
    uncertified, count = dict(saved.uncertified), saved.count
    if _narrow_enough(plan, totals, totals_sq, count):
      first_chunk = num_chunks  # it had stopped: nothing left to draw
  # Only process 0 writes (all processes hold the same sums).
  writer = checkpoint is not None and jax.process_index() == 0
  last_save = time.monotonic()
  if progress is None:
    progress = num_chunks >= 20 and jax.process_index() == 0
  bar = None
  if progress:
    from tqdm import auto as tqdm_auto  # pylint: disable=g-import-not-at-top
    bar = tqdm_auto.tqdm(total=plan.num_samples, initial=count, unit="sample",
                         file=sys.stderr, desc="montecarlo")
  n_cap = np.uint32(plan.num_samples)
  try:
    for chunk in range(first_chunk, num_chunks):
      start = chunk * plan.chunk_size
      blocks = np.arange(chunk * plan.blocks_per_chunk,
                         (chunk + 1) * plan.blocks_per_chunk, dtype=np.uint64)
      blocks = np.minimum(blocks, plan.total_blocks).astype(np.uint32)
      out = plan.step(plan.key_data, _device_put_blocks(blocks, devices),
                      n_cap, plan.sampler_args)
      out = jax.tree_util.tree_map(_to_host, out,
                                   is_leaf=lambda x: x is None)
      for name, (s, ss, unc) in out.items():
        wide = (np.float64 if kinds[name] == "mean" and not np.issubdtype(
            s.dtype, np.integer) else np.int64)
        s = np.sum(s.astype(wide), axis=0)
        ss = None if ss is None else np.sum(ss.astype(wide), axis=0)
        uncertified[name] += int(np.sum(unc.astype(np.int64)))
        totals[name] = s if totals[name] is None else totals[name] + s
        if ss is not None:
          totals_sq[name] = (ss if totals_sq[name] is None
                             else totals_sq[name] + ss)
      new_count = min(start + plan.chunk_size, plan.num_samples)
      if bar is not None:
        bar.update(new_count - count)
      count = new_count
      done = _narrow_enough(plan, totals, totals_sq, count)
      if writer and not done and chunk + 1 < num_chunks and (
          time.monotonic() - last_save >= checkpoint_every_s):
        _save_checkpoint(checkpoint, fingerprint, chunk + 1,
                         _Totals(totals, totals_sq, uncertified, count))
        last_save = time.monotonic()
      if done:
        break
  finally:
    if bar is not None:
      bar.close()
  return _Totals(totals, totals_sq, uncertified, count)


def _reduce(plan: _Plan, totals: _Totals) -> dict:
  """The reduction: an :class:`Estimate` per statistic from the sums."""
  return {name: _summarise(spec.kind, totals.sums[name], totals.sums_sq[name],
                           totals.count, plan.confidence)._replace(
                               uncertified=totals.uncertified[name])
          for name, spec in plan.specs.items()}


def estimate(key: jax.Array,
             sampler: str | Callable[[jax.Array], Any],
             statistics: str | Sequence[str] | Mapping[str, Any],
             num_samples: int,
             chunk_size: int = 4096,
             *,
             block_size: int = 128,
             num_alternatives: int | None = None,
             num_voters: int | None = None,
             sampler_params: Mapping[str, Any] | None = None,
             sampler_args: Sequence[Any] = (),
             dtype=None,
             confidence: float = 0.95,
             target_width: float | None = None,
             min_samples: int = 0,
             devices: Sequence[Any] | None = None,
             progress: bool | None = None,
             checkpoint: str | None = None,
             checkpoint_every_s: float = 60.0) -> dict[str, Estimate]:
  """Estimates statistics of sampled preference matrices, in streaming chunks.

  For each statistic ``s`` returns the sample mean ``(1/N) sum_{i<N} s(P_i)``,
  its standard error and a ``confidence`` interval (Wilson for probabilities
  and histogram bins, normal otherwise). Samples come in fixed blocks of
  ``block_size``: block ``b`` (samples ``b S .. b S + S - 1``) is drawn from
  ``fold_in(key, b)`` (a batched sampler draws the whole block with that key;
  a per-sample one uses ``fold_in(fold_in(key, b), i - b S)`` for sample
  ``i``), so for a given ``block_size`` the estimate does not depend on
  ``chunk_size`` or the devices.

  Args:
    key: PRNG key; it is consumed.
    sampler: a name in :data:`SAMPLERS` (then pass ``num_alternatives``,
      ``num_voters`` for ranking/count samplers, and ``sampler_params``), or a
      function ``sample(key, *sampler_args) -> x`` of one key returning one
      sample (a preference matrix ``[n, n]`` for the registered statistics);
      a function with attribute ``batched = True`` (as :func:`make_sampler`
      returns) is called ``sample(key, (block_size,), *sampler_args)`` and
      returns the block ``[block_size, ...]``.
    statistics: a name in :data:`STATISTICS`, a list of names, or a dict
      ``name -> registered name | callable | StatisticSpec``. A callable maps
      one sample to a scalar: bool -> a probability, number -> a mean.
    num_samples: ``N >= 1`` samples (at most ``2**31``); with
      ``target_width`` the most that will be drawn.
    chunk_size: samples per jitted step (rounded up to whole blocks, a
      multiple of the device count); memory is that of one block per device,
      flat in ``num_samples``.
    block_size: ``S >= 1`` samples drawn together (part of the seed's
      definition of the samples; the default is fixed).
    num_alternatives: ``n >= 2`` for a named sampler.
    num_voters: ``m >= 1`` labelers for a ranking or count sampler.
    sampler_params: the named sampler's own keyword arguments.
    sampler_args: for a callable sampler, extra positional arguments (arrays
      or pytrees of arrays), called as ``sampler(key, *sampler_args)``. They
      are traced arguments of the jitted step: a sweep that changes their
      values (not shapes) reuses one compilation when it passes the same
      sampler and statistics objects.
    dtype: float dtype of the preference matrices of a named sampler.
    confidence: interval level in ``(0, 1)``.
    target_width: stop after the first chunk (and at least ``min_samples``)
      at which every probability interval (every bin of a histogram) is at
      most this wide. Stops fall on chunk boundaries, so the sample count then
      depends on ``chunk_size``; the estimate for a given count does not.
    min_samples: least samples before ``target_width`` may stop the run.
    devices: devices to shard chunks over (default: ``jax.devices()``, all
      hosts' after ``jax.distributed.initialize()``).
    progress: show a tqdm bar (``None``: when there are >= 20 chunks and on
      process 0 only).
    checkpoint: a ``.npz`` path for the running sums, so a killed run resumes
      at its last saved chunk and ends with the same estimate as an
      uninterrupted one. A file whose fingerprint (key, sample layout,
      statistics, stopping rule, named sampler and ``sampler_args``) does not
      match is ignored and overwritten. Written atomically by process 0 (on
      several hosts, a path all of them can read); the caller removes it once
      the result is stored.
    checkpoint_every_s: least seconds between checkpoint writes.

  Returns:
    ``dict`` name -> :class:`Estimate` with float64 numpy fields (``[n + 1]``
    arrays for histograms over ``0..n``) and ``num_samples`` the count used.

  Raises:
    ValueError: before any work, for unknown sampler or statistic names,
      ``n < 2``, ``m < 1``, ``num_samples < 1``, bad ``chunk_size``,
      ``confidence`` or ``target_width``.
  """
  plan = _plan(key, sampler, statistics, num_samples, chunk_size,
               block_size=block_size, num_alternatives=num_alternatives,
               num_voters=num_voters, sampler_params=sampler_params,
               sampler_args=sampler_args, dtype=dtype, confidence=confidence,
               target_width=target_width, min_samples=min_samples,
               devices=devices)
  if checkpoint_every_s < 0:
    raise ValueError(
        f"checkpoint_every_s must be >= 0, got {checkpoint_every_s}.")
  fingerprint = (_plan_fingerprint(plan, sampler, sampler_params)
                 if checkpoint else "")
  return _reduce(plan, _run_chunks(plan, progress, checkpoint, fingerprint,
                                   checkpoint_every_s))
