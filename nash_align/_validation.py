"""Input checks shared by the public API.

Shape checks are static and run at trace time, also under ``jit``. Value checks
(NaN/inf, ranges, ``P + P^T = 1``) need concrete values: they run whenever the
input is concrete (eager calls, the common case) and ``validate=True``; under
``jit`` the input is a tracer and they are skipped. To validate inside a jitted
program, call the function once eagerly on the same data, or validate the data
before entering ``jit`` with the ``check_*`` helpers below.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(x: Any) -> bool:
  """True when ``x`` holds values (not a tracer inside ``jit``/``vmap``)."""
  return not isinstance(x, jax.core.Tracer)


def check_rank_at_least(x: Any, rank: int, name: str) -> None:
  if np.ndim(x) < rank:
    raise ValueError(
        f"{name} must have rank >= {rank}, got shape {np.shape(x)}.")


def check_square(x: Any, name: str, min_size: int = 2) -> int:
  """Checks ``x`` is ``[..., n, n]`` with ``n >= min_size``; returns ``n``."""
  check_rank_at_least(x, 2, name)
  shape = np.shape(x)
  if shape[-1] != shape[-2]:
    raise ValueError(
        f"{name} must be square in its last two axes [..., n, n], got shape "
        f"{shape}.")
  if shape[-1] < min_size:
    raise ValueError(
        f"{name} must have n >= {min_size} alternatives, got n = {shape[-1]} "
        f"(shape {shape}).")
  return shape[-1]


def check_real_dtype(x: Any, name: str) -> None:
  """Checks ``x`` has a bool, integer or real floating dtype (static)."""
  dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
  if not (dtype == np.bool_ or jnp.issubdtype(dtype, jnp.integer) or
          jnp.issubdtype(dtype, jnp.floating)):
    raise ValueError(
        f"{name} must be a real numeric array, got dtype {dtype}.")


def check_finite(x: Any, name: str) -> None:
  if is_concrete(x):
    a = np.asarray(x)
    # min and max (NaN propagates through both) instead of isfinite(a): no
    # full-size boolean temporary, so memory stays flat in the batch size.
    if (np.issubdtype(a.dtype, np.inexact) and a.size
        and not (np.isfinite(a.max()) and np.isfinite(a.min()))):
      bad = "NaN" if np.any(np.isnan(a)) else "inf"
      raise ValueError(f"{name} contains {bad} values.")


def check_lower_bound(value: Any, name: str, low: float,
                      inclusive: bool) -> None:
  """Checks a concrete number (or array) is finite and ``>= low`` / ``> low``."""
  if is_concrete(value):
    v = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(v)):
      raise ValueError(f"{name} must be finite, got {value!r}.")
    bad = np.any(v < low) if inclusive else np.any(v <= low)
    if bad:
      rel = ">=" if inclusive else ">"
      raise ValueError(f"{name} must be {rel} {low}, got {value!r}.")


def check_preference_matrix(P: Any, name: str = "P", atol: float = 1e-5,
                            validate: bool = True) -> int:
  """Checks a preference matrix ``[..., n, n]``; returns ``n``.

  Static: square, ``n >= 2``. Values (when concrete and ``validate``): finite,
  entries in ``[0, 1]``, ``P + P^T = 1`` within ``atol`` (diagonal included,
  so the diagonal is 1/2).
  """
  n = check_square(P, name)
  if validate and is_concrete(P):
    check_finite(P, name)
    a = np.asarray(P, dtype=np.float64)
    if a.size and (a.min() < -atol or a.max() > 1 + atol):
      raise ValueError(
          f"{name} must hold probabilities in [0, 1], found values in "
          f"[{a.min():.6g}, {a.max():.6g}].")
    err = np.abs(a + np.swapaxes(a, -1, -2) - 1.0)
    if err.size and err.max() > atol:
      i, j = np.unravel_index(np.argmax(err), err.shape)[-2:]
      raise ValueError(
          f"{name} must satisfy P + P^T = 1 (P[i, j] = Pr(i beats j)); "
          f"P[{i}, {j}] + P[{j}, {i}] is off by {err.max():.3g} > atol={atol}.")
  return n


def as_preference_matrix(P: Any, validate: bool = True,
                         name: str = "P") -> jax.Array:
  """Checks a preference matrix and returns it as a floating jax array.

  Runs :func:`check_real_dtype` and :func:`check_preference_matrix` (shape
  statically; values when ``P`` is concrete and ``validate``), then
  converts: floating dtypes are kept, integer or boolean input becomes the
  default float (float32, or float64 when x64 is on).

  Args:
    P: ``[..., n, n]`` preference matrix, ``n >= 2``.
    validate: run the value checks on concrete input.
    name: argument name used in error messages.

  Returns:
    ``[..., n, n]`` floating ``jax.Array``.
  """
  check_real_dtype(P, name)
  check_preference_matrix(P, name, validate=validate)
  P = jnp.asarray(P)
  if not jnp.issubdtype(P.dtype, jnp.floating):
    P = P.astype(jnp.result_type(float))
  return P
