"""Helpers shared by the experiment binaries: atomic outputs and plotting.

Every experiment module exposes ``run(config, workdir) -> str`` returning a
markdown section (figures referenced relative to ``workdir``) and a thin absl
``main``. ``experiments.reproduce_figures`` calls the ``run`` functions.
"""

import csv
import io
import json
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from nash_align._io import atomic_write_bytes
from nash_align._io import atomic_write_text


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


def check_preset(preset: str, experiment: str,
                 presets: Sequence[str] = ("quick", "paper")) -> None:
  """Raises ValueError naming ``preset`` unless it is one of ``presets``.

  Shared by the ``get_config(preset)`` functions of ``experiments/configs``.
  """
  if preset not in presets:
    raise ValueError(
        f"Unknown preset {preset!r} for {experiment}; use one of "
        f"{', '.join(repr(p) for p in presets)}.")


def app_main(run: Callable[[Any, str], str], default_config: str,
             log_level: str | None = None) -> None:
  """Runs an experiment binary: ``print(run(--config, --workdir))``.

  Defines ``--workdir`` (required) and ``--config`` (an ml_collections config
  file, ``lock_config=True``) only when called, i.e. from the binary's
  ``if __name__ == "__main__":`` block, so that importing an experiment module
  (``experiments.reproduce_figures``, tests) defines no flags.

  Args:
    run: the experiment's ``run(config, workdir) -> str`` (markdown section).
    default_config: config file used when ``--config`` is not given, e.g.
      ``"experiments/configs/condorcet_cycles.py"``.
    log_level: absl verbosity to set before ``run`` (e.g. ``"warning"`` to
      silence orbax's per-save INFO lines) unless ``--verbosity`` was given.
  """
  # pylint: disable=g-import-not-at-top
  from absl import app
  from absl import flags
  from absl import logging
  from ml_collections import config_flags
  # pylint: enable=g-import-not-at-top
  flags.DEFINE_string("workdir", None, "Output directory.")
  config_flags.DEFINE_config_file("config", default=default_config,
                                  lock_config=True)
  flags.mark_flag_as_required("workdir")

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"Too many command-line arguments: {argv[1:]}.")
    if log_level is not None and not flags.FLAGS["verbosity"].present:
      logging.set_verbosity(log_level)
    print(run(flags.FLAGS.config, flags.FLAGS.workdir))

  app.run(main)
