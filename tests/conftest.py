"""Shared test configuration and fixtures.

Strict rank promotion (as equinox's tests do) and fixtures used by several
test files. The experiment end-to-end tests under ``tests/experiments/`` are
marked ``slow`` (registered in setup.cfg); they run by default, and
``-m "not slow"`` skips them.
"""

import os

# The suite's cost is XLA compiling small programs, not running them: compile
# with LLVM's cheap pipeline (about a third less CPU for the suite on 2
# cores, measured). Same semantics (no fast-math either way); the library's
# own runs keep XLA's defaults. Set before JAX starts its backend; workers
# and subprocesses inherit it. NASH_ALIGN_TEST_XLA_FLAGS=0 turns it off.
_FAST_COMPILE = ("--xla_backend_optimization_level=0",
                 "--xla_llvm_disable_expensive_passes=true")
if os.environ.get("NASH_ALIGN_TEST_XLA_FLAGS", "1") != "0":
  _flags = os.environ.get("XLA_FLAGS", "").split()
  os.environ["XLA_FLAGS"] = " ".join(
      _flags + [f for f in _FAST_COMPILE if f not in _flags])

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import numpy as np
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
  """Drops JAX's compiled programs after each test file.

  Every program XLA's CPU backend compiles keeps its own memory mappings:
  test_preferences.py alone left a worker with ~17,000, and a worker that
  compiled half the suite passed Linux's vm.max_map_count (65,530), after
  which XLA segfaulted inside its next compile. ``jax.clear_caches()``
  brings a process back to ~1,100 maps; later files recompile what they use.
  """
  yield
  jax.clear_caches()


@pytest.fixture
def nlhf_tiny():
  """A tiny NLHF training configuration (one compile of the train step)."""
  return dict(num_prompts=128, num_candidates=5, hidden_dim=16, batch_size=16,
              num_steps=40, eval_every=10, checkpoint_every=20,
              eval_samples=16, learning_rate=1e-2, progress=False,
              algorithm="nash_rs")


@pytest.fixture
def cyclic_population():
  """``(P [1, 3, 3], mu [1, 3])``: a non-symmetric 3-cycle, non-uniform mu.

  Three labeler groups with rankings a > b > c, b > c > a and c > a > b and
  shares 0.4, 0.33, 0.27 (a population oracle of ``nash_align.nlhf``).
  """
  from nash_align.nlhf import oracles  # pylint: disable=g-import-not-at-top
  rank = np.array([[2.0, 1.0, 0.0],   # a > b > c
                   [0.0, 2.0, 1.0],   # b > c > a
                   [1.0, 0.0, 2.0]])  # c > a > b
  oracle = oracles.PopulationOracle(
      utilities=jnp.asarray(8.0 * rank[None], jnp.float32),
      group_probs=jnp.asarray([0.4, 0.33, 0.27], jnp.float32))
  P = np.asarray(oracle.matrix(jnp.zeros((1,), jnp.int32)), np.float64)
  mu = np.array([[0.2, 0.5, 0.3]])
  return P, mu
