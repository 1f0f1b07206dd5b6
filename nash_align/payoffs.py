"""Payoff transforms ``Psi`` of a preference matrix, and their properties.

NLHF aligns a policy by solving the symmetric two-player zero-sum game whose
row payoff for responses ``(i, j)`` is ``A[i, j] = Psi(P[i, j])``, with
``P[i, j] = Pr(i beats j)``. ``Psi = p - 1/2`` is the original NLHF game
(arXiv:2503.10990); arXiv:2505.20627 (Shi, Liu, Long, Su, Xiao, "Fundamental
limits of game-theoretic LLM alignment: Smith consistency and preference
matching") studies other choices. All transforms here are antisymmetric about
1/2, ``Psi(1 - p) = -Psi(p)``, so ``A = -A^T`` and the game is symmetric with
value 0.

Properties (each predicate below checks one numerically, on random games it
builds, and returns a counterexample when it finds one):

* Condorcet consistency: when a Condorcet winner exists it is the unique
  equilibrium. Lemma (used as the exact certificate): for skew-symmetric
  ``A``, the pure strategy ``w`` is the unique equilibrium iff
  ``A[w, j] > 0`` for all ``j != w``. So an antisymmetric ``Psi`` is
  Condorcet consistent iff ``Psi(p) > 0`` on ``(1/2, 1]`` ("sign preserving";
  2505.20627's condition specialised to antisymmetric ``Psi``).
* Smith consistency: every equilibrium is supported inside the Smith set.
  Holds for every sign-preserving antisymmetric ``Psi`` (if ``S`` dominates
  its complement with ``A[S, S^c] > 0``, mass outside ``S`` is a strict loss
  against the equilibrium itself), and fails otherwise (a Condorcet winner is
  a Smith set of size 1).
* Mixed strategies without a Condorcet winner: for skew-symmetric ``A``, a
  pure equilibrium ``i`` exists iff ``A[i, j] >= 0`` for all ``j``; for a
  sign-preserving ``Psi`` and ``P`` without ties that happens iff ``i`` is a
  Condorcet winner (arXiv:2503.10990, Thm. 3.1, for ``Psi = p - 1/2``).
* Preference matching under Bradley-Terry-Luce (BTL): with
  ``P[i, j] = w_i / (w_i + w_j)``, the unique equilibrium equals
  ``w / sum(w)``. Impossible for antisymmetric ``Psi``: with two
  alternatives ``A = [[0, a], [-a, 0]]`` has a pure equilibrium when
  ``a != 0`` and every strategy is one when ``a = 0``; 2505.20627 shows no
  smooth ``Psi`` achieves it in general.

Every transform takes ``P`` ``[..., n, n]`` with any leading batch shape, is
jit/vmap-compatible, keeps ``P``'s floating dtype, and validates ``P`` when it
is concrete and ``validate=True`` (see ``nash_align._validation``).
"""

import functools
from typing import Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import _validation
from nash_align import solvers
from nash_align.types import NashResult
from nash_align.types import PayoffTransform

__all__ = (
    "PAYOFFS",
    "PropertyCheck",
    "from_function",
    "get_payoff",
    "gives_mixed_strategies",
    "is_antisymmetric",
    "is_condorcet_consistent",
    "is_preference_matching",
    "is_sign_preserving",
    "is_smith_consistent",
    "log_odds",
    "majority",
    "margin",
    "power_payoff",
    "tanh_payoff",
)


def _check_param(value, name: str, low: float, inclusive: bool) -> None:
  if _validation.is_concrete(value):
    v = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(v)):
      raise ValueError(f"{name} must be finite, got {value!r}.")
    bad = np.any(v < low) if inclusive else np.any(v <= low)
    if bad:
      rel = ">=" if inclusive else ">"
      raise ValueError(f"{name} must be {rel} {low}, got {value!r}.")


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
  _check_param(eps, "eps", 0.0, inclusive=False)
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
  _check_param(sharpness, "sharpness", 0.0, inclusive=False)
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
  _check_param(exponent, "exponent", 0.0, inclusive=True)
  x = P - jnp.asarray(0.5, P.dtype)
  mag = jnp.power(jnp.abs(2 * x), jnp.asarray(exponent, P.dtype))
  return jnp.sign(x) * mag / 2


def from_function(psi: Callable[[jax.Array], jax.Array], *, name=None,
                  atol: float = 1e-5) -> PayoffTransform:
  """Wraps a user's elementwise ``Psi`` as a payoff transform.

  ``psi`` must be antisymmetric about 1/2, ``psi(1 - p) = -psi(p)``; this is
  checked at construction on the dyadic grid ``p = k / 1024``,
  ``k = 1, ..., 1023`` (exact ``1 - p`` in float32), with tolerance
  ``atol * (1 + |psi(p)|)``. The endpoints 0 and 1 are not checked (``psi``
  may be infinite there, e.g. unclipped log-odds).

  Args:
    psi: elementwise jax function of an array of probabilities.
    name: name of the transform (defaults to ``psi.__name__``).
    atol: antisymmetry tolerance.

  Returns:
    ``transform(P, *, validate=True) -> [..., n, n]``.

  Raises:
    ValueError: ``psi`` is not callable, not elementwise, not finite inside
      ``(0, 1)`` or not antisymmetric.
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
    raise ValueError("psi must be finite on (0, 1).")
  err = np.abs(a + b)
  if np.any(err > atol * (1 + np.abs(a))):
    k = int(np.argmax(err - atol * (1 + np.abs(a))))
    raise ValueError(
        f"psi must be antisymmetric, psi(1 - p) = -psi(p); at p = "
        f"{float(p[k]):.6g}: psi(p) = {a[k]:.6g}, psi(1 - p) = {b[k]:.6g}.")
  label = name or getattr(psi, "__name__", "psi")

  def transform(P, *, validate: bool = True) -> jax.Array:
    P = _validation.as_preference_matrix(P, validate)
    return jnp.asarray(psi(P)).astype(P.dtype)

  transform.__name__ = label
  transform.__doc__ = f"User payoff transform {label!r} (see from_function)."
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


# ---------------------------------------------------------------------------
# Property predicates.


class PropertyCheck(NamedTuple):
  """Verdict of a numerical property check of a payoff transform.

  Attributes:
    holds: no violation among the games checked (evidence, not proof: a
      violation confined to a region the sampler misses is not seen).
    num_checked: number of games (or grid points) checked.
    num_violations: how many violated the property.
    counterexample: ``[n, n]`` float64 preference matrix of the first
      violation found (``None`` if none). For ``is_sign_preserving``, a
      ``[2, 2]`` matrix with the offending ``p`` in entry ``[0, 1]``.
    details: dict about the counterexample (payoff matrix, equilibrium the
      solver found, certificate value, reason) and the checker's settings.
  """

  holds: bool
  num_checked: int
  num_violations: int
  counterexample: Optional[np.ndarray]
  details: dict


def _solve(A) -> NashResult:
  """Solves a batch of games (eager, certified; HiGHS for any left over)."""
  return solvers.solve(A, fallback="lp")


def _pair_matrix(u: jax.Array) -> jax.Array:
  """``[B, n, n]`` preference matrices from the strict upper triangle of u."""
  n = u.shape[-1]
  i = jnp.arange(n)[:, None]
  j = jnp.arange(n)[None, :]
  upper = jnp.broadcast_to(i < j, u.shape)
  lower = jnp.broadcast_to(i > j, u.shape)
  return jnp.where(upper, u,
                   jnp.where(lower, 1 - jnp.swapaxes(u, -1, -2), 0.5))


def _random_entries(key, batch: int, n: int) -> jax.Array:
  """Uniform entries on ``[0, 1]``, 15% replaced by tournament 0/1 values."""
  k1, k2, k3 = jax.random.split(key, 3)
  u = jax.random.uniform(k1, (batch, n, n))
  t = jax.random.bernoulli(k2, 0.5, (batch, n, n)).astype(u.dtype)
  use_t = jax.random.bernoulli(k3, 0.15, (batch, n, n))
  return jnp.where(use_t, t, u)


def _force(P: jax.Array, F: jax.Array) -> jax.Array:
  """Makes ``P[i, j] > 1/2`` where ``F[i, j]`` (``F`` never both ways)."""
  up = jnp.where(P > 0.5, P, jnp.where(P < 0.5, 1 - P, 0.75))
  return jnp.where(F, up, jnp.where(jnp.swapaxes(F, -1, -2), 1 - up, P))


def _permute(key, P: jax.Array, mask: jax.Array):
  """Relabels each game by a random permutation; returns ``(P', mask')``."""
  b, n = P.shape[0], P.shape[-1]
  # Uniformly random permutations as argsorts of iid uniforms (ties have
  # probability ~0 and would only bias the labelling, not the game).
  perm = jnp.argsort(jax.random.uniform(key, (b, n)), axis=-1)  # [B, n]
  bi = jnp.arange(b)[:, None, None]
  P2 = P[bi, perm[:, :, None], perm[:, None, :]]
  mask2 = jnp.take_along_axis(mask, perm, axis=-1)
  return P2, mask2


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _sample_games(key, kind: str, batch: int, n: int):
  """Random preference matrices with a planted structure.

  kind:
    "condorcet": a Condorcet winner (mask marks it);
    "smith": a planted Smith set ``D`` of random size ``s in [1, n - 1]``
      (mask marks it): ``D`` strictly beats its complement, and inside ``D``
      there is a strict Hamiltonian cycle (``s >= 3``) or a tie (``s = 2``),
      so that ``D`` is exactly the Smith set;
    "cycle": no Condorcet winner: half with a planted strict Hamiltonian
      cycle through all ``n``, half unconstrained games (rejection sampled,
      so Condorcet losers occur); mask is all True.
  """
  k_entries, k_size, k_perm = jax.random.split(key, 3)
  P = _pair_matrix(_random_entries(k_entries, batch, n))
  i = jnp.arange(n)[None, :, None]  # [1, n, 1]
  j = jnp.arange(n)[None, None, :]  # [1, 1, n]
  if kind == "condorcet":
    F = jnp.broadcast_to((i == 0) & (j != 0), (batch, n, n))
    mask = jnp.broadcast_to((jnp.arange(n) == 0)[None], (batch, n))
  elif kind == "smith":
    s = jax.random.randint(k_size, (batch, 1, 1), 1, n)
    cross = (i < s) & (j >= s)
    cycle = (i < s) & (j == (i + 1) % s) & (s >= 3)
    F = cross | cycle
    tie = (s == 2) & (i < 2) & (j < 2) & (i != j)
    P = jnp.where(tie, 0.5, P)
    mask = jnp.arange(n)[None, :] < s[:, :, 0]  # [B, n]
    F = jnp.broadcast_to(F, (batch, n, n))
  elif kind == "cycle":
    # Half: a planted strict Hamiltonian cycle. Other half: unconstrained
    # games without a Condorcet winner (rejection from a pool of 8x, padded
    # with planted ones in the unlikely case the pool is short); these may
    # have Condorcet losers, which the planted ones never do.
    F = jnp.broadcast_to(j == (i + 1) % n, (batch, n, n))
    planted = _force(P, F)
    pool = _pair_matrix(_random_entries(k_size, 8 * batch, n))
    eye = jnp.broadcast_to(jnp.eye(n, dtype=bool), pool.shape)
    no_cw = ~jnp.any(jnp.all((pool > 0.5) | eye, axis=-1), axis=-1)
    half = batch // 2
    cand = jnp.concatenate([pool, planted[:half]], axis=0)
    ok = jnp.concatenate([no_cw, jnp.ones((half,), bool)])
    order = jnp.argsort(~ok, stable=True)[:batch - half]
    P = jnp.concatenate([cand[order], planted[half:]], axis=0)
    F = jnp.zeros((batch, n, n), bool)
    mask = jnp.ones((batch, n), bool)
  else:
    raise ValueError(f"unknown kind {kind!r}")
  P = _force(P, F)
  return _permute(k_perm, P, mask)


def _check_psi(psi) -> None:
  if not callable(psi):
    raise ValueError(f"psi must be a callable payoff transform P -> Psi(P), "
                     f"got {type(psi).__name__}.")


def _check_sizes(num_games, num_alternatives, min_n: int):
  if not isinstance(num_games, (int, np.integer)) or num_games < 1:
    raise ValueError(f"num_games must be a positive int, got {num_games!r}.")
  sizes = tuple(int(n) for n in num_alternatives)
  if not sizes or min(sizes) < min_n:
    raise ValueError(
        f"num_alternatives must be a nonempty sequence of sizes >= {min_n}, "
        f"got {num_alternatives!r}.")
  return sizes


def _payoff_of(psi, P: jax.Array) -> np.ndarray:
  A = np.asarray(psi(P), dtype=np.float64)
  if A.shape != P.shape:
    raise ValueError(f"psi must return [..., n, n] of P's shape {P.shape}, got "
                     f"{A.shape}.")
  if not np.all(np.isfinite(A)):
    raise ValueError("psi returned non-finite payoffs.")
  # Loose relative tolerance: float32 rounding of 1 - p is amplified by steep
  # transforms (log-odds near its clip); from_function checks Psi properly.
  if not np.all(np.abs(A + np.swapaxes(A, -1, -2))
                <= 1e-3 * (1 + np.abs(A))):
    raise ValueError("psi must be antisymmetric (Psi(1 - p) = -Psi(p)), so "
                     "that Psi(P) is a skew-symmetric payoff matrix.")
  # Remove the float rounding left in A + A^T: the games are then exactly
  # skew-symmetric (the certificates and the solver's symmetric path use it).
  return (A - np.swapaxes(A, -1, -2)) / 2


def _verdict(total: int, bad_total: int, first: Optional[dict],
             details: dict) -> PropertyCheck:
  """Assembles a ``PropertyCheck``.

  ``first`` describes the first violation found (``None`` if none); its
  ``"counterexample"`` entry becomes the counterexample and the rest is merged
  into ``details``.
  """
  counterexample = None
  if first is not None:
    counterexample = first.pop("counterexample")
    details.update(first)
  return PropertyCheck(holds=bad_total == 0, num_checked=total,
                       num_violations=bad_total, counterexample=counterexample,
                       details=details)


def _run_check(psi, key, kind: str, num_games: int, sizes: Sequence[int],
               violation_fn, eq_tol: float) -> PropertyCheck:
  """Samples games of each size, solves them, and applies ``violation_fn``.

  ``violation_fn(A, mask, row, col, gap) -> (bad [B] bool, reason [B],
  certificate [B] float)`` works on float64 numpy arrays.
  """
  total = 0
  bad_total = 0
  first = None
  keys = jax.random.split(key, len(sizes))
  for k, n in zip(keys, sizes):
    P, mask = _sample_games(k, kind, num_games, n)
    A = _payoff_of(psi, P)
    res = _solve(A)
    row = np.asarray(res.row, np.float64)
    col = np.asarray(res.col, np.float64)
    gap = np.asarray(res.gap, np.float64)
    bad, reasons, cert = violation_fn(A, np.asarray(mask), row, col, gap)
    total += num_games
    bad_total += int(bad.sum())
    if first is None and bad.any():
      b = int(np.argmax(bad))
      first = dict(
          counterexample=np.asarray(P[b], np.float64),
          payoff_matrix=A[b],
          planted=np.asarray(mask[b]),
          equilibrium_row=row[b],
          equilibrium_col=col[b],
          gap=float(gap[b]),
          certificate=float(cert[b]),
          reason=str(reasons[b]),
      )
  details = dict(kind=kind, num_alternatives=tuple(sizes), eq_tol=eq_tol)
  return _verdict(total, bad_total, first, details)


_TINY = 1e-300


def is_condorcet_consistent(psi: PayoffTransform, key, *,
                            num_games: int = 128,
                            num_alternatives: Sequence[int] = (2, 3, 4, 5),
                            eq_tol: float = 1e-4) -> PropertyCheck:
  """Checks that a Condorcet winner is the unique equilibrium of ``Psi(P)``.

  Draws ``num_games`` preference matrices of each size with a planted
  Condorcet winner ``w`` (other entries uniform or 0/1, random labels),
  solves the games and flags a game when either

  * the exact certificate fails: ``c = min_{j != w} Psi(P)[w, j] <= 0`` (for
    skew-symmetric payoffs ``w`` is the unique equilibrium iff ``c > 0``;
    see the module docstring), or
  * the solver contradicts it: a ``g``-optimal row strategy ``x`` (``g`` the
    duality gap) of such a game has ``1 - x_w <= g / c`` (play column ``w``
    against ``x``), so ``1 - x_w > eq_tol + g / c`` is a solver error.

  The tolerance-free certificate keeps transforms that are tiny near 1/2
  (e.g. ``power_payoff`` with a large exponent) from being flagged for
  near-ties a solver cannot resolve. Not jit-able (returns Python objects);
  sampling and payoffs are batched and each size is solved in one batched
  call. The key is consumed.

  Args:
    psi: payoff transform ``P [..., n, n] -> [..., n, n]`` (antisymmetric).
    key: PRNG key.
    num_games: games per size.
    num_alternatives: sizes ``n >= 2`` to try.
    eq_tol: slack on the solver's strategy.

  Returns:
    ``PropertyCheck``; ``details["certificate"]`` is ``c``.
  """
  _check_psi(psi)
  sizes = _check_sizes(num_games, num_alternatives, 2)

  def violation(A, mask, row, col, gap):
    del col
    # mask marks the winner w: w_row = A[w, :], cert = min_{j != w} A[w, j].
    w_row = np.einsum("bn,bnk->bk", mask.astype(np.float64), A)
    cert = np.min(np.where(mask, np.inf, w_row), axis=-1)
    away = 1 - np.sum(row * mask, axis=-1)
    bad_cert = cert <= 0
    bad_eq = ~bad_cert & (away > eq_tol + gap / np.maximum(cert, _TINY))
    reasons = np.where(
        bad_cert, "Psi(P[w, j]) <= 0 for some j: the Condorcet winner w is "
        "not the unique equilibrium", "solver contradicts the certificate")
    return bad_cert | bad_eq, reasons, cert

  return _run_check(psi, key, "condorcet", num_games, sizes, violation,
                    eq_tol)


def is_smith_consistent(psi: PayoffTransform, key, *,
                        num_games: int = 128,
                        num_alternatives: Sequence[int] = (3, 4, 5, 6),
                        eq_tol: float = 1e-4) -> PropertyCheck:
  """Checks that equilibria of ``Psi(P)`` are supported inside the Smith set.

  Draws games with a planted Smith set ``D`` of random size ``1 <= s < n``
  (``D`` strictly beats its complement; a strict Hamiltonian cycle inside
  ``D`` when ``s >= 3``, a tie when ``s = 2``, so ``D`` is exactly the
  Smith set), solves them and flags a game when the solver's row or column
  strategy puts mass ``t`` outside ``D`` beyond what its duality gap ``g``
  allows: with ``c = min_{i in D, j not in D} Psi(P)[i, j]``, every
  ``g``-optimal strategy has ``t <= g / c`` when ``c > 0`` (from
  ``sum_j x_j (x^T A)_j = 0``), so a game is flagged when
  ``t > eq_tol + g / c`` (``c > 0``) or ``t > eq_tol`` (``c <= 0``). A game
  with ``c <= 0`` whose equilibrium happens to stay in ``D`` is not flagged:
  this check finds counterexamples, it proves nothing. The key is consumed.

  Args:
    psi: payoff transform (antisymmetric).
    key: PRNG key.
    num_games: games per size.
    num_alternatives: sizes ``n >= 2``.
    eq_tol: slack on the mass outside the Smith set.

  Returns:
    ``PropertyCheck``; ``details["certificate"]`` is the mass outside.
  """
  _check_psi(psi)
  sizes = _check_sizes(num_games, num_alternatives, 2)

  def violation(A, mask, row, col, gap):
    cross = mask[:, :, None] & ~mask[:, None, :]
    c = np.min(np.where(cross, A, np.inf), axis=(-2, -1))
    out = np.maximum(np.sum(row * ~mask, axis=-1),
                     np.sum(col * ~mask, axis=-1))
    allowed = eq_tol + np.where(c > 0, gap / np.maximum(c, _TINY), 0.0)
    reasons = np.where(c > 0, "solver contradicts the certificate",
                       "equilibrium mass outside the Smith set")
    return out > allowed, reasons, out

  return _run_check(psi, key, "smith", num_games, sizes, violation, eq_tol)


def gives_mixed_strategies(psi: PayoffTransform, key, *,
                           num_games: int = 128,
                           num_alternatives: Sequence[int] = (3, 4, 5, 6),
                           eq_tol: float = 1e-4) -> PropertyCheck:
  """Checks that every equilibrium is mixed when there is no Condorcet winner.

  Draws games without a Condorcet winner (half with a planted strict
  Hamiltonian majority cycle, half rejection-sampled from uniform entries)
  and flags a game when either

  * the exact certificate finds a pure equilibrium: some ``i`` with
    ``min_j Psi(P)[i, j] >= 0`` (for skew-symmetric payoffs, pure ``i`` is
    an equilibrium iff its row is nonnegative), or
  * the solver contradicts it: its row strategy is within ``eq_tol`` of a
    pure ``e_i`` while its gap is below ``e_i``'s exploitability
    ``-min_j A[i, j]`` minus ``2 eq_tol max |A|``.

  The key is consumed.

  Args:
    psi: payoff transform (antisymmetric).
    key: PRNG key.
    num_games: games per size.
    num_alternatives: sizes ``n >= 3``.
    eq_tol: slack on the solver's strategy.

  Returns:
    ``PropertyCheck``; ``details["certificate"]`` is the best pure row's
    worst payoff ``max_i min_j A[i, j]``.
  """
  _check_psi(psi)
  sizes = _check_sizes(num_games, num_alternatives, 3)

  def violation(A, mask, row, col, gap):
    del mask, col
    worst = np.min(A, axis=-1)  # [B, n]
    cert = np.max(worst, axis=-1)
    bad_cert = cert >= 0
    i = np.argmax(row, axis=-1)
    near_pure = np.take_along_axis(row, i[:, None], -1)[:, 0] >= 1 - eq_tol
    expl = -np.take_along_axis(worst, i[:, None], -1)[:, 0]
    scale = np.max(np.abs(A), axis=(-2, -1))
    bad_eq = ~bad_cert & near_pure & (gap < expl - 2 * eq_tol * scale)
    reasons = np.where(bad_cert, "a pure strategy is an equilibrium",
                       "solver contradicts the certificate")
    return bad_cert | bad_eq, reasons, cert

  return _run_check(psi, key, "cycle", num_games, sizes, violation, eq_tol)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _btl_games(key, batch: int, n: int, scale):
  """BTL games: log-strengths ``r [B, n]``, ``P [B, n, n]``, ``softmax(r)``."""
  r = scale * jax.random.normal(key, (batch, n))
  P = _pair_matrix(jax.nn.sigmoid(r[:, :, None] - r[:, None, :]))
  return r, P, jax.nn.softmax(r, axis=-1)


def is_preference_matching(psi: PayoffTransform, key, *,
                           num_games: int = 128,
                           num_alternatives: Sequence[int] = (2, 3, 4, 5),
                           scale: float = 1.0,
                           atol: float = 1e-6,
                           eq_tol: float = 1e-3) -> PropertyCheck:
  """Checks preference matching under Bradley-Terry-Luce preferences.

  Draws log-strengths ``r ~ N(0, scale^2)``, sets
  ``P[i, j] = sigmoid(r_i - r_j)`` and the target ``pi* = softmax(r)``
  (arXiv:2505.20627's preference matching: the unique equilibrium is
  ``pi*``). Flags a game when either

  * ``A = 0`` (every strategy is an equilibrium), or
  * the exact certificate fails: ``pi*`` is exploitable,
    ``max_i (A pi*)_i > atol max|A|`` (then ``pi*`` is no equilibrium;
    relative, so transforms that are tiny near 1/2 are judged fairly), or
  * the solver's equilibrium differs from ``pi*`` by more than ``eq_tol`` in
    L1 (then ``pi*`` is not the unique equilibrium).

  The key is consumed.

  Args:
    psi: payoff transform (antisymmetric).
    key: PRNG key.
    num_games: games per size.
    num_alternatives: sizes ``n >= 2``.
    scale: spread of the log-strengths.
    atol: relative certificate tolerance.
    eq_tol: L1 tolerance between the solver's strategy and ``pi*``.

  Returns:
    ``PropertyCheck``; ``details["target"]`` is ``pi*`` of the
    counterexample.
  """
  _check_psi(psi)
  sizes = _check_sizes(num_games, num_alternatives, 2)
  _check_param(scale, "scale", 0.0, inclusive=False)
  total, bad_total, first = 0, 0, None
  for k, n in zip(jax.random.split(key, len(sizes)), sizes):
    r, P, target = _btl_games(k, num_games, n, scale)
    target = np.asarray(target, np.float64)
    A = _payoff_of(psi, P)
    res = _solve(A)
    cert = np.max(np.einsum("bij,bj->bi", A, target), axis=-1)
    amax = np.max(np.abs(A), axis=(-2, -1))
    dist = np.sum(np.abs(np.asarray(res.row) - target), axis=-1)
    # amax == 0: every strategy is an equilibrium (not unique).
    bad = (amax == 0) | (cert > atol * amax) | (dist > eq_tol)
    total += num_games
    bad_total += int(bad.sum())
    if first is None and bad.any():
      b = int(np.argmax(bad))
      first = dict(
          counterexample=np.asarray(P[b], np.float64), payoff_matrix=A[b],
          target=target[b], log_strengths=np.asarray(r[b], np.float64),
          equilibrium_row=np.asarray(res.row[b], np.float64),
          gap=float(np.asarray(res.gap)[b]), certificate=float(cert[b]),
          l1_distance=float(dist[b]),
          reason=("Psi(P) = 0: every strategy is an equilibrium"
                  if amax[b] == 0 else
                  "target is exploitable (not an equilibrium)"
                  if cert[b] > atol * amax[b] else
                  "solver found another equilibrium"))
  details = dict(kind="btl", num_alternatives=sizes, scale=scale, atol=atol,
                 eq_tol=eq_tol)
  return _verdict(total, bad_total, first, details)


def is_sign_preserving(psi: PayoffTransform, *,
                       num_points: int = 4096) -> PropertyCheck:
  """Checks ``Psi(p) > 0`` for ``p in (1/2, 1]`` on a grid (and antisymmetry).

  For antisymmetric ``Psi`` this is the exact criterion for Condorcet
  consistency, Smith consistency and mixed strategies without a Condorcet
  winner (module docstring). ``psi`` is evaluated on the 2x2 games
  ``[[1/2, p], [1 - p, 1/2]]`` at ``p = 1/2 + k / (2 num_points)``,
  ``k = 1..num_points``.

  Args:
    psi: payoff transform.
    num_points: grid size.

  Returns:
    ``PropertyCheck``; the counterexample is the 2x2 matrix of the first
    ``p`` with ``Psi(p) <= 0`` (``details["p"]``).
  """
  _check_psi(psi)
  if num_points < 1:
    raise ValueError(f"num_points must be >= 1, got {num_points}.")
  p = 0.5 + jnp.arange(1, num_points + 1, dtype=jnp.float32) / (2 * num_points)
  half = jnp.full_like(p, 0.5)
  P = jnp.stack([jnp.stack([half, p], -1), jnp.stack([1 - p, half], -1)], -2)
  A = _payoff_of(psi, P)
  vals = A[:, 0, 1]
  bad = vals <= 0
  details = dict(kind="grid", num_points=num_points,
                 min_value=float(vals.min()))
  cx = None
  if bad.any():
    b = int(np.argmax(bad))
    cx = np.asarray(P[b], np.float64)
    details.update(p=float(p[b]), psi_p=float(vals[b]))
  return PropertyCheck(not bool(bad.any()), num_points, int(bad.sum()), cx,
                       details)
