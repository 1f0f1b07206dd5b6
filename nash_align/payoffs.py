"""Payoff transforms ``Psi`` of a preference matrix, and their registry.

Game-theoretic alignment picks a policy by solving the two-player zero-sum
game ``max_pi min_pi' E_{y ~ pi, y' ~ pi'} Psi(P(y > y'))`` (arXiv:2505.20627,
problem (1.2)); ``Psi(p) = p`` (or ``p - 1/2``) is the NLHF game of Munos et
al. 2024 (arXiv:2312.00886), analysed in arXiv:2503.10990. The row (max)
player's payoff for responses ``(i, j)`` is ``A[i, j] = Psi(P[i, j])`` with
``P[i, j] = Pr(i beats j)``, so ``A[i, i] = Psi(1/2)``.

* Registered transforms (:data:`PAYOFFS`, by name with :func:`get_payoff`):
  ``margin``, ``majority``, ``log_odds``, ``tanh``, ``power``. All are
  antisymmetric about 1/2, ``Psi(1 - p) = -Psi(p)``, so ``A = -A^T`` and the
  game is symmetric with value 0.
* Any elementwise ``Psi`` (:func:`from_function`), e.g. ``p``, ``p ** 2``,
  ``sqrt(p)``: the game is then generally not symmetric and is solved as a
  general zero-sum game; the alignment result is the max player's Nash
  (maximin) strategy.

Which transforms give which equilibrium properties (Condorcet and Smith
consistency, mixed strategies, preference matching) is checked in
:mod:`nash_align.payoff_properties`; the theory is in
``docs/payoff_properties.md``.

Every transform takes ``P`` ``[..., n, n]`` with any leading batch shape, is
jit/vmap-compatible, keeps ``P``'s floating dtype, and validates ``P`` when it
is concrete and ``validate=True`` (see ``nash_align._validation``).
"""

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import _validation
from nash_align.types import PayoffTransform

__all__ = (
    "PAYOFFS",
    "from_function",
    "get_payoff",
    "is_antisymmetric",
    "log_odds",
    "majority",
    "margin",
    "power_payoff",
    "tanh_payoff",
)


def margin(P, *, validate: bool = True) -> jax.Array:
  """Margin payoff ``Psi(p) = p - 1/2`` (the NLHF game; maximal lotteries).

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    ``[..., n, n]``, same dtype as ``P``, values in ``[-1/2, 1/2]``.
  """
  P = _validation.as_preference_matrix(P, validate)
  return P - jnp.asarray(0.5, P.dtype)


def majority(P, *, validate: bool = True) -> jax.Array:
  """Majority payoff ``Psi(p) = sign(p - 1/2)`` (the tournament game).

  Args:
    P: ``[..., n, n]`` preference matrix.
    validate: check values when ``P`` is concrete.

  Returns:
    ``[..., n, n]`` in ``{-1, 0, 1}``, same dtype as ``P``.
  """
  P = _validation.as_preference_matrix(P, validate)
  return jnp.sign(P - jnp.asarray(0.5, P.dtype))


def log_odds(P, eps: float = 1e-6, *, validate: bool = True) -> jax.Array:
  """Log-odds payoff ``Psi(p) = log(p / (1 - p))``, safe at 0 and 1.

  ``p`` is clipped to ``[eps, 1 - eps]`` first, so ``Psi`` is finite (at most
  ``log((1 - eps) / eps)``, about 13.8 for the default) and its gradient is
  zero outside the clip range. Under BTL, ``log_odds(P)[i, j] = r_i - r_j``.

  Args:
    P: ``[..., n, n]`` preference matrix.
    eps: clip level, ``0 < eps < 1/2``.
    validate: check values when ``P`` is concrete.

  Returns:
    ``[..., n, n]``, same dtype as ``P``.
  """
  P = _validation.as_preference_matrix(P, validate)
  _validation.check_lower_bound(eps, "eps", 0.0, inclusive=False)
  if _validation.is_concrete(eps) and not float(eps) < 0.5:
    raise ValueError(f"eps must be < 1/2, got {eps!r}.")
  # Clip the distance to 1/2 symmetrically so Psi(1 - p) = -Psi(p) exactly.
  x = P - jnp.asarray(0.5, P.dtype)
  x = jnp.clip(x, -(0.5 - eps), 0.5 - eps)
  return jnp.log1p(2 * x) - jnp.log1p(-2 * x)


def tanh_payoff(P, sharpness: float = 1.0, *,
                validate: bool = True) -> jax.Array:
  """Tanh family ``Psi_s(p) = tanh(s (p - 1/2)) / (2 tanh(s / 2))``.

  Normalised so ``Psi_s(1) = 1/2``: it tends to the margin ``p - 1/2`` as
  ``s -> 0`` and to ``sign(p - 1/2) / 2`` (the majority game) as
  ``s -> inf``. Antisymmetric and strictly increasing for every ``s > 0``.

  Args:
    P: ``[..., n, n]`` preference matrix.
    sharpness: ``s > 0``.
    validate: check values when ``P`` is concrete.

  Returns:
    ``[..., n, n]``, same dtype as ``P``.
  """
  P = _validation.as_preference_matrix(P, validate)
  _validation.check_lower_bound(sharpness, "sharpness", 0.0,
                                inclusive=False)
  s = jnp.asarray(sharpness, P.dtype)
  return jnp.tanh(s * (P - 0.5)) / (2 * jnp.tanh(s / 2))


def power_payoff(P, exponent: float = 1.0, *,
                 validate: bool = True) -> jax.Array:
  """Power family ``Psi_e(p) = sign(x) |2 x|^e / 2`` with ``x = p - 1/2``.

  ``e = 1`` is the margin, ``e -> 0`` the majority game (``e = 0`` gives
  ``sign(x) / 2`` exactly), large ``e`` flattens small margins towards 0.
  Antisymmetric with ``Psi_e(1) = 1/2``; strictly increasing for ``e > 0``.

  Args:
    P: ``[..., n, n]`` preference matrix.
    exponent: ``e >= 0``.
    validate: check values when ``P`` is concrete.

  Returns:
    ``[..., n, n]``, same dtype as ``P``.
  """
  P = _validation.as_preference_matrix(P, validate)
  _validation.check_lower_bound(exponent, "exponent", 0.0, inclusive=True)
  x = P - jnp.asarray(0.5, P.dtype)
  mag = jnp.power(jnp.abs(2 * x), jnp.asarray(exponent, P.dtype))
  return jnp.sign(x) * mag / 2


def from_function(psi: Callable[[jax.Array], jax.Array], *, name=None,
                  antisymmetric: bool = False,
                  atol: float = 1e-5) -> PayoffTransform:
  """Wraps a user's elementwise ``Psi: [0, 1] -> R`` as a payoff transform.

  The transform maps ``P`` ``[..., n, n]`` to ``A = Psi(P)`` elementwise, so
  ``A[i, i] = Psi(1/2)``. Any ``Psi`` is accepted (2505.20627's problem (1.2)
  allows arbitrary mappings; the game is then generally not symmetric). With
  ``antisymmetric=True`` it must also satisfy ``psi(1 - p) = -psi(p)``
  (tolerance ``atol * (1 + |psi(p)|)``). ``psi`` is checked at construction on
  the dyadic grid ``p = k / 1024``, ``k = 1, ..., 1023`` (exact ``1 - p`` in
  float32, includes ``p = 1/2``): it must map an array elementwise to finite
  values there. The endpoints 0 and 1 are not checked (``psi`` may be
  infinite there, e.g. unclipped log-odds; the property checks then reject
  games with 0/1 entries by a ValueError).

  Args:
    psi: elementwise jax function of an array of probabilities.
    name: name of the transform (defaults to ``psi.__name__``).
    antisymmetric: also require ``psi(1 - p) = -psi(p)``.
    atol: antisymmetry tolerance.

  Returns:
    ``transform(P, *, validate=True) -> [..., n, n]``.

  Raises:
    ValueError: ``psi`` is not callable, not elementwise, not finite inside
      ``(0, 1)``, or (``antisymmetric=True``) not antisymmetric.
  """
  if not callable(psi):
    raise ValueError(f"psi must be callable, got {type(psi).__name__}.")
  p = jnp.arange(1, 1024, dtype=jnp.float32) / 1024
  try:
    a = np.asarray(psi(p), dtype=np.float64)
    b = np.asarray(psi(1 - p), dtype=np.float64)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"psi must map an array of probabilities elementwise; "
                     f"calling it failed: {e}") from e
  if a.shape != p.shape:
    raise ValueError(f"psi must be elementwise: input shape {p.shape}, output "
                     f"shape {a.shape}.")
  if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
    k = int(np.argmin(np.isfinite(a)))
    raise ValueError(f"psi must be finite on (0, 1); psi({float(p[k]):.6g}) "
                     f"= {a[k]}.")
  if antisymmetric:
    err = np.abs(a + b)
    if np.any(err > atol * (1 + np.abs(a))):
      k = int(np.argmax(err - atol * (1 + np.abs(a))))
      raise ValueError(
          f"psi must be antisymmetric, psi(1 - p) = -psi(p); at p = "
          f"{float(p[k]):.6g}: psi(p) = {a[k]:.6g}, psi(1 - p) = {b[k]:.6g}.")
  label = name or getattr(psi, "__name__", "psi")

  def transform(P, *, validate: bool = True) -> jax.Array:
    P = _validation.as_preference_matrix(P, validate)
    A = jnp.asarray(psi(P))
    if A.shape != P.shape:
      raise ValueError(f"psi must be elementwise: P has shape {P.shape}, "
                       f"psi(P) has shape {A.shape}.")
    return A.astype(P.dtype)

  transform.__name__ = label
  transform.__doc__ = (f"User payoff transform {label!r}: A = Psi(P) "
                       "elementwise (see from_function).")
  return transform


PAYOFFS = {
    "log_odds": log_odds,
    "majority": majority,
    "margin": margin,
    "power": power_payoff,
    "tanh": tanh_payoff,
}


def get_payoff(name: str, **params) -> PayoffTransform:
  """Looks up a payoff transform by name and binds its parameters.

  Args:
    name: a key of ``PAYOFFS``.
    **params: e.g. ``sharpness=5.0`` for ``"tanh"``.

  Returns:
    ``transform(P, *, validate=True)``.

  Raises:
    ValueError: unknown name or bad parameters (checked on a 2x2 probe).
  """
  if name not in PAYOFFS:
    raise ValueError(f"Unknown payoff {name!r}; known: {sorted(PAYOFFS)}.")
  fn = functools.partial(PAYOFFS[name], **params)
  try:
    fn(jnp.array([[0.5, 0.75], [0.25, 0.5]]))
  except TypeError as e:
    raise ValueError(f"Bad parameters {params} for payoff {name!r}: {e}") from e
  functools.update_wrapper(fn, PAYOFFS[name])
  return fn


def is_antisymmetric(A, atol: float = 1e-6) -> jax.Array:
  """Whether ``A = -A^T`` within ``atol`` (diagonal included).

  Args:
    A: ``[..., n, n]`` payoff matrix.
    atol: absolute tolerance.

  Returns:
    bool ``[...]``.
  """
  _validation.check_square(A, "A", min_size=1)
  A = jnp.asarray(A)
  return jnp.all(jnp.abs(A + jnp.swapaxes(A, -1, -2)) <= atol, axis=(-2, -1))
