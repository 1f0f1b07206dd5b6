"""The all-MiniLM-L6-v2 sentence encoder as a flax NNX module.

A BERT encoder (Devlin et al. 2019, arXiv:1810.04805) with the MiniLM-L6-H384
shape (Wang et al. 2020, arXiv:2002.10957) -- 6 post-LayerNorm transformer
layers of width 384 with 12 attention heads and a 1536-wide GELU MLP -- followed
by the sentence-transformers head of all-MiniLM-L6-v2 (Reimers & Gurevych
2019, arXiv:1908.10084): the mean of the last layer's token states over the
real (unpadded) tokens, L2-normalised::

    e(x) = m / ||m||,   m = sum_t mask_t h_t / sum_t mask_t.

The module holds only parameters (``nnx.Param``), so it can be fine-tuned with
optax like any NNX module; :func:`layer_mask` selects the top layers for a
partially frozen fine-tune. Pretrained weights are loaded by
:mod:`nash_align.text.pretrained`.
"""

import dataclasses
from typing import Any

from flax import nnx
import jax
import jax.numpy as jnp

__all__ = (
    "EncoderConfig",
    "MINILM_L6",
    "SentenceEncoder",
    "layer_mask",
    "mean_pool",
)


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """Shape of a BERT encoder.

  Attributes:
    vocab_size: WordPiece vocabulary size.
    hidden_size: width ``D``.
    num_layers: transformer layers.
    num_heads: attention heads (``D`` divisible by it).
    intermediate_size: width of each layer's MLP.
    max_positions: learned absolute positions.
    type_vocab_size: token-type (segment) embeddings.
    layer_norm_eps: LayerNorm epsilon.
    max_length: longest token sequence the sentence encoder reads (longer
      texts are truncated).
  """

  vocab_size: int = 30522
  hidden_size: int = 384
  num_layers: int = 6
  num_heads: int = 12
  intermediate_size: int = 1536
  max_positions: int = 512
  type_vocab_size: int = 2
  layer_norm_eps: float = 1e-12
  max_length: int = 256


MINILM_L6 = EncoderConfig()


def mean_pool(hidden, attention_mask):
  """Mean of token states over real tokens: ``[B, T, D], [B, T] -> [B, D]``."""
  m = attention_mask.astype(hidden.dtype)[..., None]
  total = jnp.sum(hidden * m, axis=-2)
  count = jnp.maximum(jnp.sum(m, axis=-2), 1e-9)
  return total / count


def _layer_norm(cfg, rngs, dtype):
  return nnx.LayerNorm(cfg.hidden_size, epsilon=cfg.layer_norm_eps,
                       use_fast_variance=False, rngs=rngs, param_dtype=dtype)


class _Embeddings(nnx.Module):
  """Word + position + token-type embeddings, then LayerNorm."""

  def __init__(self, cfg: EncoderConfig, *, rngs, dtype):
    self.word = nnx.Embed(cfg.vocab_size, cfg.hidden_size, rngs=rngs,
                          param_dtype=dtype)
    self.position = nnx.Embed(cfg.max_positions, cfg.hidden_size, rngs=rngs,
                              param_dtype=dtype)
    self.token_type = nnx.Embed(cfg.type_vocab_size, cfg.hidden_size,
                                rngs=rngs, param_dtype=dtype)
    self.norm = _layer_norm(cfg, rngs, dtype)

  def __call__(self, input_ids):
    t = input_ids.shape[-1]
    pos = jnp.arange(t, dtype=jnp.int32)[None, :]  # [1, T]
    # Single-segment input: token type 0 everywhere.
    h = (self.word(input_ids) + self.position(pos)
         + self.token_type.embedding[...][0][None, None, :])
    return self.norm(h)


class _Layer(nnx.Module):
  """One post-LayerNorm BERT layer: self-attention, then the GELU MLP."""

  def __init__(self, cfg: EncoderConfig, *, rngs, dtype):
    d = cfg.hidden_size
    self.num_heads = cfg.num_heads
    lin = lambda i, o: nnx.Linear(i, o, rngs=rngs, param_dtype=dtype)  # pylint: disable=unnecessary-lambda-assignment
    self.query = lin(d, d)
    self.key = lin(d, d)
    self.value = lin(d, d)
    self.attention_out = lin(d, d)
    self.attention_norm = _layer_norm(cfg, rngs, dtype)
    self.intermediate = lin(d, cfg.intermediate_size)
    self.output = lin(cfg.intermediate_size, d)
    self.output_norm = _layer_norm(cfg, rngs, dtype)

  def __call__(self, h, attention_mask):
    b, t, d = h.shape
    nh = self.num_heads
    split = lambda x: x.reshape(b, t, nh, d // nh)  # pylint: disable=unnecessary-lambda-assignment
    q, k, v = split(self.query(h)), split(self.key(h)), split(self.value(h))
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(
        jnp.asarray(d // nh, h.dtype))
    keep = attention_mask[:, None, None, :].astype(bool)
    scores = jnp.where(keep, scores, jnp.finfo(scores.dtype).min)
    attn = jax.nn.softmax(scores, axis=-1)
    ctx = jnp.einsum("bhqk,bkhd->bqhd", attn, v).reshape(b, t, d)
    h = self.attention_norm(h + self.attention_out(ctx))
    mlp = self.output(jax.nn.gelu(self.intermediate(h), approximate=False))
    return self.output_norm(h + mlp)


class SentenceEncoder(nnx.Module):
  """BERT encoder + mean pooling + L2 normalisation (all-MiniLM-L6-v2).

  ``__call__(input_ids [B, T], attention_mask [B, T]) -> [B, D]`` unit-norm
  sentence embeddings; :meth:`token_states` gives the last layer's
  ``[B, T, D]``. Token ids come from the model's WordPiece tokenizer
  (``[CLS] ... [SEP]``, padding id 0, mask 0 on padding).

  Attributes:
    config: the :class:`EncoderConfig`.
  """

  def __init__(self, config: EncoderConfig = MINILM_L6, *, rngs: nnx.Rngs,
               param_dtype: Any = jnp.float32):
    self.config = config
    self.embeddings = _Embeddings(config, rngs=rngs, dtype=param_dtype)
    self.layers = nnx.List([_Layer(config, rngs=rngs, dtype=param_dtype)
                            for _ in range(config.num_layers)])

  def token_states(self, input_ids, attention_mask, num_layers=None):
    """Token states ``[B, T, D]`` after the first ``num_layers`` layers
    (default: all)."""
    h = self.embeddings(input_ids)
    n = self.config.num_layers if num_layers is None else num_layers
    for layer in self.layers[:n]:
      h = layer(h, attention_mask)
    return h

  def embed_from(self, hidden, attention_mask, start_layer: int):
    """Sentence embeddings ``[B, D]`` from the token states ``[B, T, D]``
    entering layer ``start_layer``: the remaining layers, mean pooling, L2
    normalisation. With the states of the frozen lower layers computed once
    (:meth:`token_states`), a partial fine-tune runs only the top layers."""
    h = hidden
    for layer in self.layers[start_layer:]:
      h = layer(h, attention_mask)
    pooled = mean_pool(h, attention_mask)
    norm = jnp.sqrt(jnp.sum(pooled * pooled, axis=-1, keepdims=True))
    return pooled / jnp.maximum(norm, 1e-12)

  def __call__(self, input_ids, attention_mask):
    """Unit-norm sentence embeddings ``[B, D]`` (float32 for float32 params)."""
    return self.embed_from(self.embeddings(input_ids), attention_mask, 0)


def layer_mask(model: SentenceEncoder, num_trainable_layers: int):
  """Boolean pytree over ``nnx.state(model, nnx.Param)``: the top layers.

  True for the parameters of the last ``num_trainable_layers`` transformer
  layers (embeddings and lower layers stay frozen), for
  ``optax.masked`` / ``optax.multi_transform`` in a partial fine-tune.

  Args:
    model: the encoder.
    num_trainable_layers: ``0 <= L <= num_layers``.

  Returns:
    A pytree of bools with the structure of the model's parameter state.
  """
  n = model.config.num_layers
  if not 0 <= num_trainable_layers <= n:
    raise ValueError(f"num_trainable_layers must be in [0, {n}], got "
                     f"{num_trainable_layers}.")
  first = n - num_trainable_layers
  state = nnx.state(model, nnx.Param)

  def trainable(path, _):
    keys = [getattr(p, "key", p) for p in path]
    return (len(keys) > 1 and keys[0] == "layers"
            and int(keys[1]) >= first)

  return jax.tree_util.tree_map_with_path(trainable, state)
