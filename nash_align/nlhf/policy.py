"""A flax NNX policy head over a variable set of candidate responses.

The head sits where a language model's pooled embeddings would: it scores the
``K`` candidate responses of a prompt from prompt features ``[B, d]`` and
candidate features ``[B, K, d']`` and returns logits ``[B, K]``. Padding
candidates (``mask == False``) get logit :data:`MASKED_LOGIT`, so they carry
probability exactly 0 after a softmax.

The policy is parameterised as a residual over the reference::

    log pi(y | x) = log mu(y | x) + f_theta(x, y) - log Z(x),

with the output layer of ``f_theta`` initialised at zero, so the policy at
initialisation *is* the reference ``mu`` (a frozen copy at initialisation, or a
given distribution when one is supplied).
"""

from typing import Any

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from nash_align import _validation

__all__ = (
    "MASKED_LOGIT",
    "PolicyHead",
    "check_candidates",
    "check_reference",
    "entropy",
    "kl_divergence",
    "masked_log_softmax",
)

# Large negative logit for padding candidates: exp underflows to exactly 0 in
# float32 and float64, and differences of two masked logits stay finite.
MASKED_LOGIT = -1e30


def masked_log_softmax(logits, mask):
  """``log_softmax`` over the valid candidates; padding gets ``MASKED_LOGIT``.

  Args:
    logits: ``[..., K]`` scores.
    mask: ``[..., K]`` bool, True for real candidates.

  Returns:
    ``[..., K]`` log-probabilities (``MASKED_LOGIT`` where ``mask`` is False).
  """
  logits = jnp.where(mask, logits, MASKED_LOGIT)
  logp = jax.nn.log_softmax(logits, axis=-1)
  return jnp.where(mask, logp, MASKED_LOGIT)


def kl_divergence(logp, logq, mask):
  """``KL(p || q) = sum_y p(y) (log p(y) - log q(y))`` over valid candidates.

  Args:
    logp: ``[..., K]`` log-probabilities of ``p``.
    logq: ``[..., K]`` log-probabilities of ``q``.
    mask: ``[..., K]`` bool.

  Returns:
    ``[...]`` KL divergences (0 terms on padding).
  """
  p = jnp.exp(logp)
  return jnp.sum(jnp.where(mask, p * (logp - logq), 0.0), axis=-1)


def entropy(logp, mask):
  """Shannon entropy ``-sum_y p(y) log p(y)`` in nats, ``[..., K] -> [...]``."""
  p = jnp.exp(logp)
  return -jnp.sum(jnp.where(mask, p * logp, 0.0), axis=-1)


def check_candidates(prompt_features, candidate_features, mask,
                     validate: bool = True) -> None:
  """Checks policy inputs; raises ValueError naming the argument.

  Static (also under ``jit``): ``prompt_features`` ``[B, d]``,
  ``candidate_features`` ``[B, K, d']`` with ``K >= 2``, ``mask`` ``[B, K]``.
  Values (concrete inputs and ``validate``): finite features and at least two
  valid candidates in every row of ``mask``.
  """
  if np.ndim(prompt_features) != 2:
    raise ValueError("prompt_features must be [B, d], got shape "
                     f"{np.shape(prompt_features)}.")
  if np.ndim(candidate_features) != 3:
    raise ValueError("candidate_features must be [B, K, d'], got shape "
                     f"{np.shape(candidate_features)}.")
  b, k = np.shape(candidate_features)[:2]
  if np.shape(prompt_features)[0] != b:
    raise ValueError(
        f"prompt_features has batch {np.shape(prompt_features)[0]} but "
        f"candidate_features has batch {b}.")
  if k < 2:
    raise ValueError(
        f"candidate sets must have size K >= 2, got K = {k} "
        f"(candidate_features shape {np.shape(candidate_features)}).")
  if tuple(np.shape(mask)) != (b, k):
    raise ValueError(f"mask must be [B, K] = {(b, k)}, got shape "
                     f"{np.shape(mask)}.")
  if validate:
    _validation.check_finite(prompt_features, "prompt_features")
    _validation.check_finite(candidate_features, "candidate_features")
    if _validation.is_concrete(mask):
      counts = np.sum(np.asarray(mask, bool), axis=-1)
      if counts.size and counts.min() < 2:
        row = int(np.argmin(counts))
        raise ValueError(
            f"every candidate set needs at least 2 valid candidates; mask row "
            f"{row} has {int(counts[row])}.")


def check_reference(reference, mask=None, atol: float = 1e-4,
                    name: str = "reference") -> None:
  """Checks a reference distribution ``[..., K]``: finite, >= 0, sums to 1.

  Padding candidates (``mask == False``) must have probability 0.
  """
  _validation.check_rank_at_least(reference, 1, name)
  if not _validation.is_concrete(reference):
    return
  _validation.check_finite(reference, name)
  r = np.asarray(reference, np.float64)
  if r.size and r.min() < 0:
    raise ValueError(f"{name} has negative probabilities (min {r.min():.3g}).")
  sums = r.sum(-1)
  err = np.abs(sums - 1.0)
  if err.size and err.max() > atol:
    idx = np.unravel_index(np.argmax(err), err.shape)
    raise ValueError(
        f"{name} must sum to 1 over the candidates; row {tuple(int(i) for i in idx)} "
        f"sums to {float(sums[idx]):.6g}.")
  if mask is not None:
    off = np.where(np.asarray(mask, bool), 0.0, r)
    if off.size and off.max() > 0:
      raise ValueError(f"{name} puts mass on padding candidates (mask False).")


class PolicyHead(nnx.Module):
  r"""Scores candidates given a prompt: ``[B, d], [B, K, d'] -> [B, K]``.

  .. math::
      f(x, y) = w^\top \tanh\big(U z_x + V e_y + (U' z_x) \odot (V' e_y)\big),

  a one-hidden-layer network on the prompt embedding ``z_x`` and the response
  embedding ``e_y`` with a multiplicative interaction, so that which response
  is preferred can depend on the prompt. ``w`` starts at zero.

  Attributes:
    hidden_dim: width of the hidden layer.
  """

  def __init__(self, prompt_dim: int, candidate_dim: int, hidden_dim: int = 64,
               *, rngs: nnx.Rngs, param_dtype: Any = jnp.float32):
    self.hidden_dim = hidden_dim
    self.prompt_in = nnx.Linear(prompt_dim, hidden_dim, rngs=rngs,
                                param_dtype=param_dtype)
    self.candidate_in = nnx.Linear(candidate_dim, hidden_dim, use_bias=False,
                                   rngs=rngs, param_dtype=param_dtype)
    self.prompt_gate = nnx.Linear(prompt_dim, hidden_dim, rngs=rngs,
                                  param_dtype=param_dtype)
    self.candidate_gate = nnx.Linear(candidate_dim, hidden_dim, rngs=rngs,
                                     param_dtype=param_dtype)
    # Zero output layer: the initial policy equals the reference.
    self.out = nnx.Linear(hidden_dim, 1, use_bias=False, rngs=rngs,
                          param_dtype=param_dtype,
                          kernel_init=nnx.initializers.zeros)

  def __call__(self, prompt_features, candidate_features, mask,
               reference_logp=None):
    """Policy log-probabilities.

    Args:
      prompt_features: ``[B, d]``.
      candidate_features: ``[B, K, d']``.
      mask: ``[B, K]`` bool, True for real candidates.
      reference_logp: optional ``[B, K]`` log-probabilities of the reference;
        the head's scores are added to them (residual parameterisation).

    Returns:
      ``[B, K]`` log-probabilities, ``MASKED_LOGIT`` on padding.
    """
    check_candidates(prompt_features, candidate_features, mask,
                     validate=False)
    zp = self.prompt_in(prompt_features)[:, None, :]  # [B, 1, H]
    ec = self.candidate_in(candidate_features)  # [B, K, H]
    gate = (self.prompt_gate(prompt_features)[:, None, :]
            * self.candidate_gate(candidate_features))  # [B, K, H]
    h = jnp.tanh(zp + ec + gate)
    scores = self.out(h)[..., 0]  # [B, K]
    if reference_logp is not None:
      scores = scores + jnp.where(mask, reference_logp, 0.0)
    return masked_log_softmax(scores, mask)
