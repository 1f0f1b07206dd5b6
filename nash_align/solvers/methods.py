"""First-order methods for ONE zero-sum matrix game, optax-shaped.

Every method is a pair of pure functions ``init(game) -> state`` and
``update(state, game) -> state`` on a single game (``A`` ``[n, k]``), plus
``candidates(state)``: the strategy profiles worth certifying (last and/or
average iterate). The kernel in :mod:`nash_align.solvers.kernel` vmaps them
over games and runs them in ``lax.while_loop`` with a certificate check.

A profile ``z`` is a tuple of strategies, one per player: ``(x [n], y [k])``
for a general game, or ``(x [n],)`` on the symmetric fast path, where the
payoff is antisymmetric (``A = -A^T``), both players play the same strategy
and only one is stored. :func:`operator` returns each player's payoff
gradient ``F(z)``: ``(A y, -A^T x)``, or ``(A x,)`` on the symmetric path
(there ``-A^T x = A x``, so the two players' updates coincide: half the work).

Regularized game (``beta > 0``, the KL-regularized NLHF game of Munos et al.,
2023): the row player maximises and the column player minimises

.. math::
  f(x, y) = x^T A y - \\beta\\,KL(x \\| \\rho_x) + \\beta\\,KL(y \\| \\rho_y).

Its gradient in logit space is ``F(z) - beta (log z - log rho)``; the
entropic methods (mwu, omd, mirror_prox) follow it explicitly, mmd and
nash_md take their own proximal steps. ``rm_plus`` is for ``beta = 0`` only.

Entropic methods keep logits ``l`` (``z = softmax(l)``), re-centred every
step, so they are stable in float32 for any number of steps.
"""

from typing import Any, Callable, NamedTuple, Tuple

import jax
import jax.numpy as jnp

from nash_align.solvers import compensated as cp
Profile = Tuple[jax.Array, ...]


class Game(NamedTuple):
  """One game as the methods see it (payoffs normalised by the driver).

  Attributes:
    A: ``[n, k]`` row payoff (scaled so ``max |A| = 1``).
    log_ref: profile of ``log rho`` (``([n], [k])`` or ``([n],)``).
    beta: scalar KL strength, in the scaled payoff's units.
    step: scalar step size ``eta``.
  """

  A: jax.Array  # [n, k]
  log_ref: Profile
  beta: jax.Array  # []
  step: jax.Array  # []


def operator(game: Game, z: Profile) -> Profile:
  """Payoff gradients ``F(z)``: ``(A y, -A^T x)``, or ``(A x,)`` if symmetric."""
  if len(z) == 1:
    return (cp.mm(game.A, z[0]),)
  x, y = z
  return (cp.mm(game.A, y), -cp.mm(x, game.A))


def _tmap(f, *trees):
  return tuple(f(*leaves) for leaves in zip(*trees))


def normalize(p):
  """``p`` clipped at 0 and scaled to sum 1 (uniform if nothing is left)."""
  p = jnp.maximum(p, 0.0)
  s = jnp.sum(p)
  return jnp.where(s > 0, p / jnp.where(s > 0, s, 1.0), 1.0 / p.shape[0])


def _softmax(l):
  return jax.nn.softmax(l)


def _reg_grad(game: Game, l: Profile, F: Profile) -> Profile:
  """Logit-space gradient of the regularized payoff ``F - beta (l - log rho)``.

  ``l`` are log-probabilities; with ``beta = 0`` this is ``F`` exactly (the
  ``where`` keeps ``-inf`` logits of a zero reference from making NaNs).
  """
  def one(li, fi, ri):
    reg = jnp.where(game.beta > 0, game.beta * (li - ri), 0.0)
    return fi - reg
  return _tmap(one, l, F, game.log_ref)


def _log_probs(l: Profile) -> Profile:
  return _tmap(jax.nn.log_softmax, l)


def _uniform_logits(game: Game, symmetric: bool) -> Profile:
  n, k = game.A.shape
  z = jnp.zeros((n,), game.A.dtype)
  return (z,) if symmetric else (z, jnp.zeros((k,), game.A.dtype))


def _uniform_start(game: Game, symmetric: bool):
  """``(count 0, uniform log-probabilities, uniform profile)`` of a state."""
  l = _uniform_logits(game, symmetric)
  return jnp.zeros((), jnp.int32), _log_probs(l), _tmap(_softmax, l)


def _update_average(avg: Profile, z: Profile, w) -> Profile:
  """Running average ``avg + w (z - avg)`` (``w = 1 / t``: uniform weights)."""
  return _tmap(lambda a, zi: a + w * (zi - a), avg, z)


def _entropic_step(game: Game, l: Profile, g: Profile) -> Profile:
  """Entropic mirror step in logit space: ``log softmax(l + eta g)``."""
  return _log_probs(_tmap(lambda li, gi: li + game.step * gi, l, g))


def _last_and_average(state) -> Tuple[Profile, Profile]:
  """Candidates of the averaging entropic methods: last and average iterate."""
  return (_tmap(jnp.exp, state.logits), state.avg)


class Method(NamedTuple):
  """A registered first-order method (optax-shaped).

  Attributes:
    init: ``(game, symmetric) -> state``.
    update: ``(state, game) -> state``, one iteration.
    candidates: ``state -> tuple of profiles`` to certify.
    default_step: step size ``eta`` for payoffs scaled to ``max |A| = 1``.
    supports_beta: whether ``beta > 0`` is handled.
    doc: one-line summary.
    exact_step: whether the driver's check applies the exact step to the
      candidates (methods that are exact themselves skip it).
    check_every: iterations between checks (``None``: the driver's).
    finished: optional ``state -> bool``: the method has nothing left to do.
    stop: optional ``(state, mask) -> state`` that makes ``finished`` true
      (and ``update`` a no-op) where ``mask``: lets the driver freeze a game
      at its iteration cap (its state's ``count``) inside a pool-level
      loop. Methods with ``finished`` and ``stop`` (and no exact step) are
      run to the finish by the pool, which ends a round early once a
      quarter of its games have finished.
    support: optional ``state -> (rows [n], cols [k])`` bool: the support the
      method has identified (the simplex's basis); otherwise the driver
      takes it from the best iterate.
    reinvert: optional ``(state, game) -> state`` that recomputes the
      method's state from the game's data (the simplex's tableau from its
      basis), so it can go on after its answer failed the certificate.
    refined: optional ``(state, A, scale, duals) -> (x, y)``: the method's exact
      answer recomputed on the unscaled payoffs ``A`` (the simplex's basis
      system refined with double-float residuals), the candidate the kernel
      certifies in place of ``candidates``' at the finish (``duals=False``:
      only ``y`` is needed, the symmetric path).
  """

  init: Callable[..., Any]
  update: Callable[..., Any]
  candidates: Callable[..., Tuple[Profile, ...]]
  default_step: float
  supports_beta: bool
  doc: str
  exact_step: bool = True
  check_every: Any = None
  finished: Any = None
  stop: Any = None
  support: Any = None
  reinvert: Any = None
  refined: Any = None


# ----------------------------------------------------------------------------
# Multiplicative weights / entropic mirror descent.


class MWUState(NamedTuple):
  count: jax.Array  # [] int32
  logits: Profile  # log-probabilities, [n] (and [k])
  avg: Profile  # running average of the iterates


def mwu() -> Method:
  """Multiplicative weights (entropic mirror descent, simultaneous play).

  .. math::
    z_{t+1} \\propto z_t \\odot \\exp(\\eta\\, F(z_t)),\\qquad
    \\bar z_T = \\tfrac1T \\sum_t z_t,

  with ``F`` the (regularized) payoff gradient. The average iterate is an
  ``O(1/sqrt(T))``-equilibrium (Freund & Schapire, "Adaptive game playing
  using multiplicative weights", GEB 1999; Arora, Hazan & Kale, Theory of
  Computing 2012). Candidates: last and average iterate.
  """

  def init(game, symmetric):
    return MWUState(*_uniform_start(game, symmetric))

  def update(state, game):
    z = _tmap(jnp.exp, state.logits)
    g = _reg_grad(game, state.logits, operator(game, z))
    l = _entropic_step(game, state.logits, g)
    c = state.count + 1
    avg = _update_average(state.avg, z, 1.0 / c.astype(game.A.dtype))
    return MWUState(c, l, avg)

  candidates = _last_and_average

  return Method(init, update, candidates, 0.5, True, "multiplicative weights")


# ----------------------------------------------------------------------------
# Optimistic mirror descent.


class OMDState(NamedTuple):
  count: jax.Array
  logits: Profile
  prev_grad: Profile  # gradient at the previous iterate


def omd() -> Method:
  """Optimistic multiplicative weights (optimistic entropic mirror descent).

  .. math::
    z_{t+1} \\propto z_t \\odot \\exp\\big(\\eta\\,(2F(z_t) - F(z_{t-1}))\\big).

  Rakhlin & Sridharan, "Optimization, learning, and games with predictable
  sequences", NeurIPS 2013; the last iterate converges linearly to a unique
  equilibrium (Daskalakis & Panageas, ITCS 2019; Wei, Lee, Zhang & Luo,
  "Linear last-iterate convergence in constrained saddle-point
  optimization", ICLR 2021). Candidate: last iterate.
  """

  def init(game, symmetric):
    l = _log_probs(_uniform_logits(game, symmetric))
    g = _reg_grad(game, l, operator(game, _tmap(jnp.exp, l)))
    return OMDState(jnp.zeros((), jnp.int32), l, g)

  def update(state, game):
    z = _tmap(jnp.exp, state.logits)
    g = _reg_grad(game, state.logits, operator(game, z))
    l = _log_probs(_tmap(lambda li, gi, pi: li + game.step * (2 * gi - pi),
                         state.logits, g, state.prev_grad))
    return OMDState(state.count + 1, l, g)

  def candidates(state):
    return (_tmap(jnp.exp, state.logits),)

  return Method(init, update, candidates, 0.5, True,
                "optimistic mirror descent")


# ----------------------------------------------------------------------------
# Mirror-prox (extragradient).


class ProxState(NamedTuple):
  count: jax.Array
  logits: Profile
  avg: Profile  # running average of the extrapolated points


def mirror_prox() -> Method:
  """Mirror-prox / entropic extragradient.

  .. math::
    z_{t+1/2} \\propto z_t \\odot e^{\\eta F(z_t)},\\qquad
    z_{t+1} \\propto z_t \\odot e^{\\eta F(z_{t+1/2})}.

  Nemirovski, "Prox-method with rate of convergence O(1/t) for variational
  inequalities...", SIAM J. Optim. 2004 (the averaged ``z_{t+1/2}`` is an
  ``O(1/T)``-equilibrium); the last iterate converges linearly to a unique
  equilibrium (Wei et al., ICLR 2021). Two gradient evaluations per
  iteration. Candidates: last iterate and average.
  """

  def init(game, symmetric):
    return ProxState(*_uniform_start(game, symmetric))

  def update(state, game):
    l = state.logits
    g = _reg_grad(game, l, operator(game, _tmap(jnp.exp, l)))
    lh = _entropic_step(game, l, g)
    zh = _tmap(jnp.exp, lh)
    gh = _reg_grad(game, lh, operator(game, zh))
    ln = _entropic_step(game, l, gh)
    c = state.count + 1
    avg = _update_average(state.avg, zh, 1.0 / c.astype(game.A.dtype))
    return ProxState(c, ln, avg)

  candidates = _last_and_average

  return Method(init, update, candidates, 0.5, True, "mirror-prox")


# ----------------------------------------------------------------------------
# Regret matching+.


class RMPlusState(NamedTuple):
  count: jax.Array
  regrets: Profile  # cumulative clipped regrets Q >= 0
  avg: Profile  # linearly weighted average of the iterates


def _rm_strategy(q):
  s = jnp.sum(q)
  return jnp.where(s > 0, q / jnp.where(s > 0, s, 1.0), 1.0 / q.shape[0])


def rm_plus() -> Method:
  """Regret matching+ with linear averaging (``beta = 0`` only).

  .. math::
    Q_{t+1} = \\big[Q_t + F(z_t) - \\langle z_t, F(z_t)\\rangle\\mathbf 1\\big]_+,
    \\quad z_t = Q_t / \\mathbf 1^T Q_t,\\quad
    \\bar z_T \\propto \\textstyle\\sum_t t\\, z_t.

  Tammelin, "Solving large imperfect information games using CFR+", 2014;
  Farina, Kroer & Sandholm, "Faster game solving via predictive Blackwell
  approachability", AAAI 2021. Scale-free: no step size. Candidates: last
  iterate and linear average.
  """

  def init(game, symmetric):
    l = _uniform_logits(game, symmetric)
    z = _tmap(_softmax, l)
    return RMPlusState(jnp.zeros((), jnp.int32), _tmap(jnp.zeros_like, l), z)

  def update(state, game):
    z = _tmap(_rm_strategy, state.regrets)
    F = operator(game, z)
    q = _tmap(lambda qi, fi, zi: jnp.maximum(qi + fi - jnp.dot(zi, fi, precision=cp.HIGHEST), 0.0),
              state.regrets, F, z)
    c = state.count + 1
    cf = c.astype(game.A.dtype)
    # Linear weights: w = t / sum_{s<=t} s = 2 / (t + 1).
    avg = _update_average(state.avg, z, 2.0 / (cf + 1.0))
    return RMPlusState(c, q, avg)

  def candidates(state):
    return (_tmap(_rm_strategy, state.regrets), state.avg)

  return Method(init, update, candidates, 1.0, False, "regret matching+")


# ----------------------------------------------------------------------------
# Magnetic mirror descent.


class MMDState(NamedTuple):
  count: jax.Array
  logits: Profile


def mmd() -> Method:
  """Magnetic mirror descent: entropic MD with a KL magnet toward ``rho``.

  .. math::
    z_{t+1} = \\arg\\max_z\\ \\eta\\langle F(z_t), z\\rangle
      - \\eta\\beta\\,KL(z\\|\\rho) - KL(z\\|z_t)
    \\iff \\log z_{t+1} = \\frac{\\log z_t + \\eta\\beta\\log\\rho
      + \\eta F(z_t)}{1 + \\eta\\beta} + c.

  Sokota et al., "A unified approach to reinforcement learning, quantal
  response equilibria, and two-player zero-sum games", ICLR 2023: the last
  iterate converges linearly to the unique equilibrium of the regularized
  game (for ``beta > 0``); with ``beta = 0`` it is multiplicative weights.
  Candidate: last iterate.
  """

  def init(game, symmetric):
    return MMDState(jnp.zeros((), jnp.int32),
                    _log_probs(_uniform_logits(game, symmetric)))

  def update(state, game):
    z = _tmap(jnp.exp, state.logits)
    F = operator(game, z)
    eb = game.step * game.beta
    def one(li, fi, ri):
      mag = jnp.where(game.beta > 0, eb * ri, 0.0)
      return (li + mag + game.step * fi) / (1.0 + eb)
    l = _log_probs(_tmap(one, state.logits, F, game.log_ref))
    return MMDState(state.count + 1, l)

  def candidates(state):
    return (_tmap(jnp.exp, state.logits),)

  return Method(init, update, candidates, 0.5, True,
                "magnetic mirror descent")


# ----------------------------------------------------------------------------
# Nash-MD.


class NashMDState(NamedTuple):
  count: jax.Array
  logits: Profile
  avg: Profile


def nash_md() -> Method:
  """Nash-MD: mirror descent against the reference-mixed opponent.

  .. math::
    \\log z^\\mu_t = (1 - \\eta\\beta)\\log z_t + \\eta\\beta\\log\\rho + c,
    \\qquad
    z_{t+1} \\propto z^\\mu_t \\odot \\exp(\\eta\\,F(z^\\mu_t)).

  Munos et al., "Nash learning from human feedback", ICML 2024 (arXiv
  2312.00886), Sec. 6. With a constant step its fixed point is biased by
  ``O(eta)`` from the regularized equilibrium (their Theorem 1 bounds the KL
  by ``O(eta / beta)``); the driver's exact step (Newton on the regularized
  fixed point) removes the bias before certifying. Requires
  ``eta * beta < 1``. Candidates: last iterate and average.
  """

  def init(game, symmetric):
    return NashMDState(*_uniform_start(game, symmetric))

  def update(state, game):
    eb = jnp.minimum(game.step * game.beta, 0.5)
    def mix(li, ri):
      return jnp.where(game.beta > 0, (1.0 - eb) * li + eb * ri, li)
    lm = _log_probs(_tmap(mix, state.logits, game.log_ref))
    zm = _tmap(jnp.exp, lm)
    F = operator(game, zm)
    l = _entropic_step(game, lm, F)
    c = state.count + 1
    avg = _update_average(state.avg, zm, 1.0 / c.astype(game.A.dtype))
    return NashMDState(c, l, avg)

  candidates = _last_and_average

  return Method(init, update, candidates, 0.5, True, "Nash-MD")


FIRST_ORDER_METHODS = {
    "mirror_prox": mirror_prox(),
    "mmd": mmd(),
    "mwu": mwu(),
    "nash_md": nash_md(),
    "omd": omd(),
    "rm_plus": rm_plus(),
}

__all__ = (
    "FIRST_ORDER_METHODS",
    "Game",
    "Method",
    "mirror_prox",
    "mmd",
    "mwu",
    "nash_md",
    "omd",
    "operator",
    "rm_plus",
)
