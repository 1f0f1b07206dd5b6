"""Helpers shared by the experiment binaries: atomic outputs and plotting.

Every experiment module exposes ``run(config, workdir) -> str`` returning a
markdown section (figures referenced relative to ``workdir``) and a thin absl
``main``. ``experiments.reproduce_figures`` calls the ``run`` functions.
"""

import csv
import io
import json
import os
import tempfile
from typing import Any, Iterable, Mapping, Sequence

import numpy as np


def atomic_write_bytes(path: str, data: bytes) -> None:
  """Writes ``data`` to ``path`` atomically (temp file + ``os.replace``)."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def atomic_write_text(path: str, text: str) -> None:
  atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(x: Any) -> Any:
  if isinstance(x, Mapping):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if hasattr(x, "tolist"):
    return _jsonable(np.asarray(x).tolist())
  if isinstance(x, float) and not np.isfinite(x):
    return str(x)
  return x


def write_json(path: str, obj: Any) -> None:
  atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=True))


def write_csv(path: str, rows: Sequence[Mapping[str, Any]],
              fieldnames: Iterable[str] | None = None) -> None:
  """Writes a list of dict rows as CSV, atomically."""
  rows = list(rows)
  if fieldnames is None:
    fieldnames = []
    for r in rows:
      for k in r:
        if k not in fieldnames:
          fieldnames.append(k)
  buf = io.StringIO()
  writer = csv.DictWriter(buf, fieldnames=list(fieldnames))
  writer.writeheader()
  for r in rows:
    writer.writerow({k: _jsonable(v) for k, v in r.items()})
  atomic_write_text(path, buf.getvalue())


def save_figure(fig, path: str) -> None:
  """Saves a matplotlib figure as PNG atomically and closes it."""
  buf = io.BytesIO()
  fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
  atomic_write_bytes(path, buf.getvalue())
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  plt.close(fig)


def pyplot():
  """matplotlib.pyplot with the headless Agg backend."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def markdown_table(rows: Sequence[Mapping[str, Any]],
                   columns: Sequence[str] | None = None) -> str:
  rows = list(rows)
  if not rows:
    return "(no rows)\n"
  columns = list(columns or rows[0].keys())

  def fmt(v):
    if isinstance(v, float):
      return f"{v:.4g}"
    return str(v)

  lines = ["| " + " | ".join(columns) + " |",
           "|" + "---|" * len(columns)]
  for r in rows:
    lines.append("| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |")
  return "\n".join(lines) + "\n"
