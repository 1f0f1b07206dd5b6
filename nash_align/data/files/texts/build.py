"""Builds the shipped text files from the project's data snapshot.

    python nash_align/data/files/texts/build.py /path/to/shared/data [--no-embeddings]

Writes, next to this script:

* ``vicuna80_answers.jsonl.gz``: one line per (question, model) with the
  answer text of the 8 QLoRA Vicuna-80 models (``question_id``, ``model`` as
  QLoRA names it, ``text``), from ``qlora_gpt4/raw/vicuna_answers/``
  (Guanaco files: the ``generation`` field; ``answer_*`` files: ``text``).
* ``qlora_oa_prompts.jsonl.gz``: ``message_id, lang, text`` of the 317 Open
  Assistant prompts of ``qlora_gpt4/pairwise.csv`` (from
  ``qlora_gpt4/raw/oa_prompts.jsonl.gz``).
* ``embeddings_minilm_l6_v2.npz`` (unless ``--no-embeddings``): float16
  all-MiniLM-L6-v2 embeddings of those texts and of the Vicuna-80 questions,
  computed by ``nash_align.nlhf.text_tasks.compute_embeddings`` (the library
  recomputes them the same way when the file is missing or stale).
"""

import csv
import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

VICUNA_FILES = {
    "13b-guanaco": "13b-guanaco-vicuna-generations-topp0.9-temp0.7.jsonl",
    "30b-guanaco": "30b-guanaco-vicuna-generations-topp0.9-temp0.7.jsonl",
    "65b-guanaco": "65b-guanaco-vicuna-generations-topp0.9-temp0.7.jsonl",
    "7b-guanaco": "7b-guanaco-vicuna-generations-topp0.9-temp0.7.jsonl",
    "bard": "answer_bard.jsonl",
    "gpt35": "answer_gpt35.jsonl",
    "gpt4": "answer_gpt4.jsonl",
    "vicuna-13b": "answer_vicuna-13b.jsonl",
}


def _write_gz(path, rows):
  data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
  with open(path, "wb") as f:
    with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9) as g:
      g.write(data.encode("utf-8"))


def main(src, embeddings=True):
  rows = []
  for model, name in sorted(VICUNA_FILES.items()):
    with open(os.path.join(src, "qlora_gpt4", "raw", "vicuna_answers", name),
              encoding="utf-8") as f:
      for line in f:
        r = json.loads(line)
        text = r["generation"] if "generation" in r else r["text"]
        rows.append({"question_id": int(r["question_id"]), "model": model,
                     "text": text})
  rows.sort(key=lambda r: (r["question_id"], r["model"]))
  _write_gz(os.path.join(HERE, "vicuna80_answers.jsonl.gz"), rows)

  with open(os.path.join(src, "qlora_gpt4", "pairwise.csv"),
            newline="") as f:
    used = {r["prompt_id"] for r in csv.DictReader(f)}
  with gzip.open(os.path.join(src, "qlora_gpt4", "raw", "oa_prompts.jsonl.gz"),
                 "rt", encoding="utf-8") as f:
    prompts = [json.loads(line) for line in f]
  prompts = sorted((p for p in prompts if p["message_id"] in used),
                   key=lambda p: p["message_id"])
  assert len(prompts) == len(used), (len(prompts), len(used))
  _write_gz(os.path.join(HERE, "qlora_oa_prompts.jsonl.gz"),
            [{k: p[k] for k in ("message_id", "lang", "text")}
             for p in prompts])
  print(f"{len(rows)} Vicuna-80 answers, {len(prompts)} OA prompts")
  if embeddings:
    from nash_align.nlhf import text_tasks  # pylint: disable=g-import-not-at-top
    text_tasks.write_shipped_embeddings(progress=True)


if __name__ == "__main__":
  main(sys.argv[1], embeddings="--no-embeddings" not in sys.argv[2:])
