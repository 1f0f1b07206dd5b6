"""NLHF trainers: one loss per algorithm, registered by name.

Each algorithm is one function ``loss(logp, batch, oracle, key, hp) -> (loss,
aux)`` of the policy's log-probabilities ``logp`` ``[B, K]`` (differentiable);
:func:`nash_align.nlhf.training.train_chunk` turns it into jitted optax
updates.
All of them target (a regularised version of) the symmetric two-player
constant-sum *preference game* on each prompt ``x``::

    max_pi min_pi'  P(pi > pi' | x) - tau KL(pi || mu) + tau KL(pi' || mu),

whose unique equilibrium is symmetric, ``pi_tau = pi'_tau`` with
``pi_tau(y) ∝ mu(y) exp(P(y > pi_tau) / tau)``; ``tau -> 0`` gives a Nash
equilibrium of the unregularised game (the per-prompt maximal lottery). The
RLHF baseline instead maximises a Bradley-Terry reward.

Expectations over candidates are exact (``hp.estimator == "exact"``: the
prompt's whole ``K x K`` preference matrix is queried; right for small ``K``)
or sampled (``"sampled"``: only sampled pairs are queried; policy gradients use
REINFORCE with a leave-one-out baseline for variance reduction). The KL terms
are always exact: they need only the policy's and reference's log-probabilities
over the candidate set, never the oracle.

Notation: ``P(y > q) = sum_{y'} q(y') P(y, y')`` is the win probability of a
response against a distribution; ``mu`` the reference policy.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from nash_align.nlhf import policy as policy_lib

__all__ = (
    "ALGORITHMS",
    "Batch",
    "BatchOracle",
    "Hyperparams",
    "check_hyperparams",
    "get_algorithm",
    "mirror_descent_loss",
    "nash_md_loss",
    "nash_rs_implicit_reward",
    "nash_rs_loss",
    "nash_rs_opponents",
    "rlhf_loss",
    "rlhf_two_response_reward",
    "sppo_loss",
)

ESTIMATORS = ("exact", "sampled")


class Hyperparams(NamedTuple):
  """Hyperparameters shared by the algorithms (hashable: a jit static).

  Attributes:
    tau: KL regularisation towards the reference (all algorithms); Nash-RS's
      temperature.
    beta: Nash-MD's mixture weight of the reference in the geometric mixture.
    eta: step size of the mirror-descent / SPPO targets.
    estimator: ``"exact"`` or ``"sampled"``.
    num_samples: ``S`` policy samples per prompt (sampled estimator).
    num_opponents: ``M`` opponent samples per prompt (sampled estimator).
    num_proposals: ``N`` reference proposals per prompt for Nash-RS's
      rejection sampler (sampled estimator).
    rs_shift: Nash-RS accepts with probability ``exp(-(g - min g) / tau)``
      instead of the paper's ``exp(-g / tau)``: the same target distribution
      (a constant shift of ``g`` cancels in the normalisation), with an
      acceptance rate larger by ``exp(min g / tau)`` -- at small ``tau`` the
      literal rule rejects nearly everything.
    rs_until_accept: Nash-RS keeps proposing until ``rs_num_accept``
      opponents are accepted, as the authors' sampler does (their loop has no
      cap; here at most ``num_proposals`` proposals, and the share of prompts
      that reach the cap is reported as ``rs_capped``), instead of
      averaging over every accepted one of ``num_proposals`` proposals.
    rs_num_accept: opponents to accept per prompt with ``rs_until_accept``
      (the authors use 1).
  """

  tau: float = 0.05
  beta: float = 0.1
  eta: float = 1.0
  estimator: str = "exact"
  num_samples: int = 8
  num_opponents: int = 8
  num_proposals: int = 32
  rs_shift: bool = True
  rs_until_accept: bool = False
  rs_num_accept: int = 1


class Batch(NamedTuple):
  """A batch of prompts with their candidate sets.

  Attributes:
    prompt: ``[B]`` int32 prompt ids (for the oracle).
    prompt_features: ``[B, d]``.
    candidate_features: ``[B, K, d']``.
    mask: ``[B, K]`` bool.
    reference_logp: ``[B, K]`` log-probabilities of the reference ``mu``.
  """

  prompt: Any
  prompt_features: Any
  candidate_features: Any
  mask: Any
  reference_logp: Any


class BatchOracle(NamedTuple):
  """The preference oracle restricted to one batch of prompts.

  Attributes:
    prefer: ``(a, b) -> P(a > b)`` for int32 candidate indices ``[B, ...]``.
    matrix: ``[B, K, K]`` preference matrices (exact estimator) or None.
    reward: ``[B, K]`` Bradley-Terry rewards (RLHF only) or None.
  """

  prefer: Callable[[Any, Any], Any]
  matrix: Any = None
  reward: Any = None


sg = jax.lax.stop_gradient


def check_hyperparams(hp: Hyperparams) -> None:
  """Raises ValueError naming the field of ``hp`` that is out of range.

  Args:
    hp: the hyperparameters shared by the losses.

  Raises:
    ValueError: unknown ``estimator`` or ``tau < 0``.
  """
  if hp.estimator not in ESTIMATORS:
    raise ValueError(f"unknown estimator {hp.estimator!r}; expected one of "
                     f"{ESTIMATORS}.")
  if hp.tau < 0:
    raise ValueError(f"tau must be >= 0, got {hp.tau}.")


def _check_shapes(logp, batch: Batch, oracle: BatchOracle) -> None:
  """Trace-time shape checks: ``logp``, mask, reference ``[B, K]``, ``K >= 2``."""
  if logp.ndim != 2 or logp.shape[-1] < 2:
    raise ValueError(f"logp must be [B, K] with K >= 2, got {logp.shape}.")
  for name in ("mask", "reference_logp"):
    if getattr(batch, name).shape != logp.shape:
      raise ValueError(f"batch.{name} must have the shape of logp "
                       f"{logp.shape}, got {getattr(batch, name).shape}.")
  if oracle.matrix is not None and oracle.matrix.shape != logp.shape + (
      logp.shape[-1],):
    raise ValueError(f"oracle.matrix must be [B, K, K] = "
                     f"{logp.shape + (logp.shape[-1],)}, got "
                     f"{oracle.matrix.shape}.")
  if oracle.reward is not None and oracle.reward.shape != logp.shape:
    raise ValueError(f"oracle.reward must be [B, K] = {logp.shape}, got "
                     f"{oracle.reward.shape}.")


def _sample(key, logp, num):
  """``num`` iid candidates per row of ``logp`` ``[B, K]`` -> int32 ``[B, num]``."""
  b = logp.shape[0]
  return jax.random.categorical(key, logp[:, None, :], axis=-1,
                                shape=(b, num)).astype(jnp.int32)


def _win_exact(matrix, q):
  """``P(y > q)`` for every candidate: ``[B, K, K], [B, K] -> [B, K]``."""
  return jnp.einsum("bij,bj->bi", matrix, q)


def _win_sampled(oracle, ys, opponents, weights=None):
  """Mean preference of ``ys`` ``[B, S]`` over ``opponents`` ``[B, M]``.

  With ``weights`` ``[B, M]`` (e.g. acceptance indicators) a weighted mean.
  Returns ``[B, S]`` (and the weight total ``[B]`` when weighted).
  """
  p = oracle.prefer(ys[:, :, None], opponents[:, None, :])  # [B, S, M]
  if weights is None:
    return jnp.mean(p, axis=-1)
  total = jnp.sum(weights, axis=-1)  # [B]
  mean = jnp.sum(p * weights[:, None, :], -1) / jnp.maximum(total, 1)[:, None]
  return mean, total


def _policy_value(logp, mask, reward_fn_exact, reward_fn_sampled, key, hp,
                  row_weight=None):
  """Surrogate of ``E_{y ~ pi}[r(y)]`` whose gradient is the policy gradient.

  Exact: ``sum_y pi(y) r(y)`` with ``r`` ``[B, K]`` held fixed. Sampled:
  REINFORCE, ``mean_s (r(y_s) - b_s) log pi(y_s)`` with ``y_s ~ pi`` and the
  leave-one-out baseline ``b_s = mean_{s' != s} r(y_s')`` (unbiased: ``b_s``
  is independent of ``y_s``).

  Returns:
    ``(surrogate [B], value estimate [B])``.
  """
  if hp.estimator == "exact":
    r = sg(reward_fn_exact())
    pi = jnp.exp(logp)
    v = jnp.sum(jnp.where(mask, pi * r, 0.0), -1)
    return v, v
  ys = _sample(key, sg(logp), hp.num_samples)  # [B, S]
  r = sg(reward_fn_sampled(ys))  # [B, S]
  s = hp.num_samples
  baseline = (jnp.sum(r, -1, keepdims=True) - r) / max(s - 1, 1)
  lp = jnp.take_along_axis(logp, ys, axis=-1)
  surrogate = jnp.mean((r - baseline) * lp, -1)
  value = jnp.mean(r, -1)
  if row_weight is not None:
    surrogate = surrogate * row_weight
  return surrogate, value


def _kl_to_reference(logp, batch):
  return policy_lib.kl_divergence(logp, batch.reference_logp, batch.mask)


def nash_md_loss(logp, batch: Batch, oracle: BatchOracle, key,
                 hp: Hyperparams):
  r"""Nash-MD policy gradient (Munos et al. 2023, arXiv:2312.00886, Sec. 7).

  The opponent is the geometric mixture of the current policy and the
  reference,

  .. math::
      \pi^\beta(y) \propto \pi(y)^{1-\beta} \mu(y)^\beta,

  held fixed (stop-gradient), and the policy ascends

  .. math::
      J(\pi) = \mathbb{E}_{y \sim \pi, y' \sim \pi^\beta} P(y \succ y')
               - \tau\, \mathrm{KL}(\pi \| \mu).

  For ``beta = 0`` (regularised self-play) its stationary point is the
  regularised equilibrium ``pi_tau``; for ``beta > 0`` it is
  ``pi ∝ mu exp(P(y > pi^beta) / tau)``, within ``O(beta)`` of ``pi_tau``
  (Munos et al. tie ``beta = eta tau`` to the step size ``eta -> 0``).
  """
  _check_shapes(logp, batch, oracle)
  mix = policy_lib.masked_log_softmax(
      (1.0 - hp.beta) * sg(logp) + hp.beta * batch.reference_logp, batch.mask)
  k_pi, k_opp = jax.random.split(key)
  surrogate, value = _policy_value(
      logp, batch.mask,
      lambda: _win_exact(oracle.matrix, jnp.exp(mix)),
      lambda ys: _win_sampled(oracle, ys,
                              _sample(k_opp, mix, hp.num_opponents)),
      k_pi, hp)
  kl = _kl_to_reference(logp, batch)
  loss = jnp.mean(-surrogate + hp.tau * kl)
  return loss, {"objective": jnp.mean(value - hp.tau * kl), "kl": jnp.mean(kl)}


def _win_vs_current(logp, oracle, key, hp):
  """``P(y > pi_t)`` for all candidates ``[B, K]`` (pi_t = stop-grad policy)."""
  pi_t = jnp.exp(sg(logp))
  if hp.estimator == "exact":
    return _win_exact(oracle.matrix, pi_t)
  k = logp.shape[-1]
  opp = _sample(key, sg(logp), hp.num_opponents)
  ys = jnp.broadcast_to(jnp.arange(k, dtype=jnp.int32), logp.shape)
  return _win_sampled(oracle, ys, opp)


def mirror_descent_loss(logp, batch: Batch, oracle: BatchOracle, key,
                        hp: Hyperparams):
  r"""Online mirror descent self-play on the KL-regularised (magnetic) game.

  Magnetic mirror descent (Sokota et al. 2023, arXiv:2206.05825, Eq. 2) with
  the reference as magnet; in self-play each iterate plays against itself:

  .. math::
      \pi_{t+1}(y) \propto \big[\pi_t(y)\, \mu(y)^{\eta\tau}
        \exp(\eta P(y \succ \pi_t))\big]^{1/(1 + \eta\tau)}.

  The parametric policy is moved towards that target by minimising
  ``KL(pi_{t+1} || pi)`` (one optax step per batch; target recomputed from the
  current policy, held fixed). The fixed point is ``pi_tau``. The sampled
  estimator replaces ``P(y > pi_t)`` by its mean over ``M`` opponents
  ``y' ~ pi_t`` for every candidate ``y`` (``K M`` oracle queries).
  """
  _check_shapes(logp, batch, oracle)
  w = _win_vs_current(logp, oracle, key, hp)
  et = hp.eta * hp.tau
  target = policy_lib.masked_log_softmax(
      (sg(logp) + et * batch.reference_logp + hp.eta * w) / (1.0 + et),
      batch.mask)
  loss_rows = policy_lib.kl_divergence(target, logp, batch.mask)
  kl = _kl_to_reference(logp, batch)
  return jnp.mean(loss_rows), {"kl": jnp.mean(kl),
                               "objective": -jnp.mean(loss_rows)}


def sppo_loss(logp, batch: Batch, oracle: BatchOracle, key,
              hp: Hyperparams):
  r"""Self-play preference optimisation (SPPO/INPO-style squared loss).

  SPPO (Wu et al. 2024, arXiv:2405.00675) regresses the log-ratio of the new
  policy onto the multiplicative-weights step ``eta (P(y > pi_t) - 1/2)``;
  INPO (Zhang et al. 2024, arXiv:2407.00617) adds the reference and uses
  pairwise differences so the normaliser cancels. With
  ``h(y) = (1 - eta tau) log pi_t(y) + eta tau log mu(y) + eta P(y > pi_t)``
  the loss is

  .. math::
      \tfrac12 \sum_{y, y'} \pi_t(y) \pi_t(y')
        \big[(\log\pi(y) - \log\pi(y')) - (h(y) - h(y'))\big]^2
      = \mathrm{Var}_{y \sim \pi_t}[\log\pi(y) - h(y)],

  minimised by ``pi ∝ exp(h)`` (``tau = 0``: SPPO's update). Fixed point:
  ``pi_tau``. Sampled: ``y ~ pi_t`` (``S`` samples), ``P(y > pi_t)`` from
  ``M`` opponents, and the sample variance.
  """
  _check_shapes(logp, batch, oracle)
  mask = batch.mask
  et = hp.eta * hp.tau
  k_w, k_y = jax.random.split(key)
  if hp.estimator == "exact":
    w = _win_vs_current(logp, oracle, k_w, hp)
    h = (1.0 - et) * sg(logp) + et * batch.reference_logp + hp.eta * w
    d = jnp.where(mask, logp - h, 0.0)
    q = jnp.exp(sg(logp))
    mean = jnp.sum(q * d, -1, keepdims=True)
    rows = jnp.sum(jnp.where(mask, q * (d - mean) ** 2, 0.0), -1)
  else:
    ys = _sample(k_y, sg(logp), hp.num_samples)
    opp = _sample(k_w, sg(logp), hp.num_opponents)
    w = _win_sampled(oracle, ys, opp)
    g = lambda a: jnp.take_along_axis(a, ys, -1)  # pylint: disable=unnecessary-lambda-assignment
    h = (1.0 - et) * g(sg(logp)) + et * g(batch.reference_logp) + hp.eta * w
    d = g(logp) - h
    s = hp.num_samples
    rows = jnp.sum((d - jnp.mean(d, -1, keepdims=True)) ** 2, -1) / max(s - 1, 1)
  kl = _kl_to_reference(logp, batch)
  return jnp.mean(rows), {"kl": jnp.mean(kl), "objective": -jnp.mean(rows)}


def nash_rs_opponents(key, reference_logp, g, tau, num_proposals: int,
                      shift: bool = False):
  r"""Rejection sampler for Nash-RS's opponent (Liu et al., arXiv:2503.10990v1).

  Target: the best response of the regularised min player,

  .. math::
      \pi^*(y') \propto \mu(y')\, \exp(-P(\pi \succ y') / \tau).

  Propose ``y' ~ mu`` and accept with probability ``exp(-g(y') / tau)``, where
  ``g(y') = P(pi > y') in [0, 1]``; the envelope constant is 1 because
  ``exp(-g / tau) <= 1``, so every accepted draw is an exact sample from
  ``pi^*`` (given exact ``g``). Note the acceptance event is ``u <
  exp(-g/tau)`` (opponents that the policy beats are *rejected* more often);
  the authors' public code has been reported to use the inverted event, which
  samples ``∝ mu (1 - exp(-g/tau))`` instead (tests check the distribution).

  Args:
    key: PRNG key (consumed).
    reference_logp: ``[B, K]`` log-probabilities of ``mu``.
    g: ``[B, K]`` ``P(pi > y')`` for every candidate (exact or estimated).
    tau: temperature ``> 0``.
    num_proposals: ``N`` proposals per prompt.
    shift: accept with probability ``exp(-(g - min_y g) / tau)`` (min over the
      valid candidates; the target is unchanged, the acceptance rate is
      higher). ``g`` of padding candidates must be ``+inf`` or large, as their
      reference probability is 0 anyway.

  Returns:
    ``(proposals [B, N] int32, accepted [B, N] bool)``; the accepted entries
    are iid draws from ``pi^*``.
  """
  k_prop, k_acc = jax.random.split(key)
  proposals = _sample(k_prop, reference_logp, num_proposals)
  if shift:
    g = g - jnp.min(g, axis=-1, keepdims=True)
  log_accept = -jnp.take_along_axis(g, proposals, -1) / tau
  u = jax.random.uniform(k_acc, proposals.shape, dtype=g.dtype)
  return proposals, jnp.log(u) < log_accept


def nash_rs_loss(logp, batch: Batch, oracle: BatchOracle, key,
                 hp: Hyperparams):
  r"""Nash rejection sampling, Nash-RS (Liu et al., arXiv:2503.10990v1, Sec. 5).

  The opponent is the min player's regularised best response to the current
  policy, ``pi^*(y') ∝ mu(y') exp(-P(pi > y') / tau)``
  (:func:`nash_rs_opponents`), and a response's reward is its mean preference
  over the accepted opponents; the policy ascends

  .. math::
      J(\pi) = \mathbb{E}_{y \sim \pi, y' \sim \pi^*} P(y \succ y')
               - \tau\, \mathrm{KL}(\pi \| \mu)

  (the paper scales the reward by ``1/tau`` under KL coefficient 1; the same
  objective up to the factor ``tau``). A fixed point ``pi = pi^*`` is the
  regularised equilibrium ``pi_tau``. Exact estimator: ``pi^*`` in closed form.
  Sampled: ``g(y') = P(pi > y')`` is estimated from ``S`` policy samples,
  ``N`` proposals ``y' ~ mu`` are accepted with probability
  ``exp(-g/tau)``, and prompts with no accepted opponent are skipped. With
  ``hp.rs_until_accept`` only the first ``hp.rs_num_accept`` accepted
  proposals are used (the authors' propose-until-accepted loop, capped at
  ``num_proposals``), and the share of prompts that reach the cap is reported
  as ``rs_capped`` instead of being dropped silently. The authors' setting is
  ``num_samples = 1`` (one policy sample for ``g`` and the policy gradient),
  ``rs_num_accept = 1`` and ``tau = 0.15`` (their ``kl_coef``).
  """
  _check_shapes(logp, batch, oracle)
  if hp.tau <= 0:
    raise ValueError("nash_rs needs tau > 0.")
  mask = batch.mask
  extra = {}
  if hp.estimator == "exact":
    g = jnp.einsum("bi,bij->bj", jnp.exp(sg(logp)), oracle.matrix)
    opp = policy_lib.masked_log_softmax(batch.reference_logp - g / hp.tau,
                                        mask)
    surrogate, value = _policy_value(
        logp, mask, lambda: _win_exact(oracle.matrix, jnp.exp(opp)), None,
        key, hp)
    accepted_frac = jnp.ones(())
  else:
    k_g, k_rs, k_pi = jax.random.split(key, 3)
    k = logp.shape[-1]
    ys_g = _sample(k_g, sg(logp), hp.num_samples)  # [B, S]
    cands = jnp.broadcast_to(jnp.arange(k, dtype=jnp.int32), logp.shape)
    # g(y') = P(pi > y') estimated from policy samples, for every candidate.
    g = jnp.mean(oracle.prefer(ys_g[:, None, :], cands[:, :, None]), -1)
    g = jnp.where(mask, g, jnp.inf)
    proposals, accepted = nash_rs_opponents(k_rs, batch.reference_logp, g,
                                            hp.tau, hp.num_proposals,
                                            hp.rs_shift)
    accepted_frac = jnp.mean(accepted.astype(logp.dtype))
    if hp.rs_until_accept:
      accepted, used, capped = _first_accepted(accepted, hp.rs_num_accept)
      extra = {"rs_capped": jnp.mean(capped.astype(logp.dtype)),
               "rs_proposals": jnp.mean(used.astype(logp.dtype))}
    total = jnp.sum(accepted, -1)
    row_weight = (total > 0).astype(logp.dtype)
    acc = accepted.astype(logp.dtype)
    surrogate, value = _policy_value(
        logp, mask, None,
        lambda ys: _win_sampled(oracle, ys, proposals, acc)[0], k_pi, hp,
        row_weight=row_weight)
  kl = _kl_to_reference(logp, batch)
  loss = jnp.mean(-surrogate + hp.tau * kl)
  return loss, {"objective": jnp.mean(value - hp.tau * kl), "kl": jnp.mean(kl),
                "accept_rate": accepted_frac, **extra}


def _first_accepted(accepted, num_accept: int):
  """The first ``num_accept`` accepted proposals of each row.

  Proposals are iid, so keeping the first ``M`` accepted ones of a sequence
  of ``N`` is exactly what proposing one at a time until ``M`` are accepted
  returns, for the rows where that happens within ``N`` proposals.

  Args:
    accepted: ``[B, N]`` bool acceptance of ``N`` proposals in order.
    num_accept: ``M >= 1``.

  Returns:
    ``(kept [B, N] bool, proposals_used [B] int32, capped [B] bool)``:
    ``proposals_used`` is the index of the ``M``-th acceptance plus one (``N``
    when capped); ``capped`` marks rows with fewer than ``M`` acceptances
    among the ``N`` proposals (they keep what was accepted).
  """
  if num_accept < 1:
    raise ValueError(f"rs_num_accept must be >= 1, got {num_accept}.")
  rank = jnp.cumsum(accepted.astype(jnp.int32), axis=-1)
  kept = accepted & (rank <= num_accept)
  n = accepted.shape[-1]
  capped = rank[..., -1] < num_accept
  used = jnp.where(capped, n,
                   jnp.argmax(rank >= num_accept, axis=-1) + 1).astype(jnp.int32)
  return kept, used, capped


def nash_rs_implicit_reward(P, reference_logp, tau):
  r"""Nash-RS's implicit reward of each response (arXiv:2503.10990v1, Sec. 5).

  Against the opponent's regularised best response to the point mass on
  ``y``, ``pi^*_y(y') ∝ mu(y') exp(-P(y > y') / tau)``, a response's value is
  the log of that response's normaliser with the sign flipped:

  .. math::
      r(y) = -\log \sum_{y'} \mu(y')\, e^{-P(y \succ y') / \tau}.

  With two responses, ``P(y_1 > y_2) = a`` and ``mu = (pi_1, 1 - pi_1)``,
  ``r_1 = -log(pi_2 e^{-a/tau} + pi_1 e^{-1/(2 tau)})``, the curve the
  authors plot against RLHF's ``r_1 = -r_2 = log(a / (1 - a)) / (2 tau)``
  (:func:`rlhf_two_response_reward`).

  Args:
    P: ``[..., K, K]`` preference matrices.
    reference_logp: ``[..., K]`` log-probabilities of ``mu``.
    tau: ``> 0``.

  Returns:
    ``[..., K]`` implicit rewards.
  """
  return -jax.nn.logsumexp(reference_logp[..., None, :] - P / tau, axis=-1)


def rlhf_two_response_reward(a, tau):
  """RLHF's rewards ``(r_1, r_2) = (+-) log(a / (1 - a)) / (2 tau)`` for two
  responses with ``P(y_1 > y_2) = a`` (Bradley-Terry, centred; scaled by
  ``1 / tau`` as Nash-RS's reward is)."""
  r = jnp.log(a / (1.0 - a)) / (2.0 * tau)
  return r, -r


def rlhf_loss(logp, batch: Batch, oracle: BatchOracle, key,
              hp: Hyperparams):
  r"""RLHF baseline: KL-regularised reward maximisation.

  With a Bradley-Terry reward model ``r`` fitted to pairwise labels
  (Christiano et al. 2017; Ouyang et al. 2022, arXiv:2203.02155),

  .. math::
      J(\pi) = \mathbb{E}_{y \sim \pi} r(y) - \tau\,\mathrm{KL}(\pi \| \mu),

  maximised by ``pi(y) ∝ mu(y) exp(r(y) / tau)``; as ``tau -> 0`` it collapses
  onto the reward's argmax, a single response.
  """
  _check_shapes(logp, batch, oracle)
  if oracle.reward is None:
    raise ValueError("rlhf needs a reward model (BatchOracle.reward).")
  surrogate, value = _policy_value(
      logp, batch.mask, lambda: oracle.reward,
      lambda ys: jnp.take_along_axis(oracle.reward, ys, -1), key, hp)
  kl = _kl_to_reference(logp, batch)
  loss = jnp.mean(-surrogate + hp.tau * kl)
  return loss, {"objective": jnp.mean(value - hp.tau * kl), "kl": jnp.mean(kl)}


ALGORITHMS = {
    "mirror_descent": mirror_descent_loss,
    "nash_md": nash_md_loss,
    "nash_rs": nash_rs_loss,
    "rlhf": rlhf_loss,
    "sppo": sppo_loss,
}


def get_algorithm(name: str):
  """The loss of the algorithm called ``name`` (see :data:`ALGORITHMS`)."""
  if name not in ALGORITHMS:
    raise ValueError(f"unknown algorithm {name!r}; expected one of "
                     f"{sorted(ALGORITHMS)}.")
  return ALGORITHMS[name]
