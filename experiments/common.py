"""Helpers shared by the experiment binaries.

Every experiment module exposes ``run(config, workdir) -> str`` returning a
markdown section (figures referenced relative to ``workdir``) and starts as a
binary through :func:`app_main`. ``experiments.reproduce_figures`` calls the
``run`` functions. Here: atomic JSON/CSV/PNG outputs, the resume cache
(:class:`ResultCache`), progress bars (:func:`progress`), markdown tables and
the app entry with its console set-up (library logging to
``workdir/log.txt``).
"""

import csv
import hashlib
import io
import json
import logging as py_logging
import os
import re
import sys
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

import nash_align
from nash_align.atomic_io import atomic_write_bytes
from nash_align.atomic_io import atomic_write_text

# Name of the log file that takes library logging (absl, orbax, jax, Python
# warnings) under the workdir unless ``--verbosity`` is given.
LOG_FILE = "log.txt"


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
  """Writes ``obj`` as indented JSON (numpy arrays as lists), atomically."""
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


def progress(iterable: Iterable[Any], desc: str,
             total: int | None = None) -> Iterable[Any]:
  """A tqdm progress bar on stderr that disappears when done (``leave=False``).

  One bar at a time (position 0): it redraws its line with ``\\r`` and adds
  no lines to the console or a log of it.

  Args:
    iterable: the items to iterate over.
    desc: label shown before the bar.
    total: number of items, when ``iterable`` has no ``len``.

  Returns:
    An iterator over ``iterable`` that draws the bar.
  """
  from tqdm import auto as tqdm  # pylint: disable=g-import-not-at-top
  return tqdm.tqdm(iterable, desc=desc, total=total, leave=False,
                   dynamic_ncols=True, file=sys.stderr, position=0)


def _config_dict(config: Any) -> Any:
  return config.to_dict() if hasattr(config, "to_dict") else config


def fingerprint(config: Any, *modules: Any) -> str:
  """A hex digest of a config, the library version and experiment code.

  Args:
    config: an ``ml_collections.ConfigDict`` or a JSON-able mapping.
    *modules: the Python modules whose source computes the results (the
      experiment's own module, and any experiment module it calls into).

  Returns:
    16 hex digits of SHA-256 over the config as sorted JSON,
    ``nash_align.__version__`` and the source files of ``modules``: results
    saved under one fingerprint are reloaded only by the same program with
    the same settings.
  """
  h = hashlib.sha256()
  h.update(json.dumps(_jsonable(_config_dict(config)), sort_keys=True,
                      default=repr).encode())
  h.update(b"\0" + nash_align.__version__.encode())
  for module in modules:
    with open(module.__file__, "rb") as f:
      h.update(b"\0" + f.read())
  return h.hexdigest()[:16]


class ResultCache:
  """Saved per-cell results of one experiment, so a killed run resumes.

  Each cell is a JSON file ``workdir/<subdir>/<fingerprint>/<key>.json``,
  written atomically when the cell finishes. The fingerprint
  (:func:`fingerprint`) covers the whole config, the library version and the
  experiment's source, so a changed program or setting never reloads stale
  numbers (it computes into a new directory).

  Example::

    cache = common.ResultCache(workdir, config, sys.modules[__name__])
    row = cache.get_or_compute(f"{model}_n{n}", lambda: run_cell(model, n))
  """

  def __init__(self, workdir: str, config: Any, *modules: Any,
               subdir: str = "cells"):
    """Creates the cache (no files are touched until a cell is written).

    Args:
      workdir: the experiment's output directory.
      config: the experiment config (all of it is fingerprinted).
      *modules: modules whose source the results depend on (at least the
        experiment's own).
      subdir: folder under ``workdir`` holding the fingerprint folders.
    """
    if not modules:
      raise ValueError("modules must name at least the experiment's module.")
    self.fingerprint = fingerprint(config, *modules)
    self.directory = os.path.join(workdir, subdir, self.fingerprint)

  def path(self, key: str) -> str:
    """The JSON file of cell ``key`` (unsafe characters become ``_``)."""
    if not key:
      raise ValueError("key must be a non-empty string.")
    return os.path.join(self.directory,
                        re.sub(r"[^A-Za-z0-9._=-]", "_", key) + ".json")

  def partial_path(self, key: str) -> str:
    """A long cell's own checkpoint file (e.g. ``montecarlo.estimate``'s
    ``checkpoint``), beside the cells and under the same fingerprint;
    :meth:`get_or_compute` removes it once the cell is saved."""
    return os.path.join(self.directory, "partial",
                        os.path.basename(self.path(key))[:-len(".json")]
                        + ".npz")

  def get_or_compute(self, key: str, compute: Callable[[], Any]) -> Any:
    """Cell ``key``'s saved result, or ``compute()`` saved then returned.

    Args:
      key: the cell's name, unique within the experiment.
      compute: computes the cell's JSON-able result.

    Returns:
      The result in its JSON form (as a resumed run would read it: numpy
      arrays become lists, tuples become lists), whether computed now or
      loaded.
    """
    path = self.path(key)
    if not os.path.exists(path):
      write_json(path, compute())
      partial = self.partial_path(key)
      if os.path.exists(partial):
        os.remove(partial)
    with open(path) as f:
      return json.load(f)


def _route_library_logging(workdir: str) -> str:
  """Sends absl/orbax/jax logging and Python warnings to ``workdir/log.txt``."""
  from absl import logging  # pylint: disable=g-import-not-at-top
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, LOG_FILE)
  # Stays open for the life of the process (the handler writes to it).
  stream = open(path, "a", encoding="utf-8")  # pylint: disable=R1732
  logging.get_absl_handler().python_handler.stream = stream
  py_logging.captureWarnings(True)
  return path


def app_main(run: Callable[[Any, str], str | None],
             default_config: str | None,
             define_flags: Callable[[], None] | None = None) -> None:
  """The entry of every experiment binary: flags, console, ``run``.

  Defines ``--workdir`` (required) and, with ``default_config``, ``--config``
  (an ml_collections config file, ``lock_config=True``) only when called,
  i.e. from the binary's ``if __name__ == "__main__":`` block, so importing
  an experiment module (``experiments.reproduce_figures``, tests) defines no
  flags. Library logging (absl INFO, orbax's per-save lines, jax, Python
  warnings) goes to ``workdir/log.txt``; with ``--verbosity`` (or ``-v``)
  given it stays on stderr at that level. Then prints what
  ``run(config, workdir)`` returns (unless ``None``).

  Args:
    run: ``run(config, workdir) -> str | None``; ``config`` is the parsed
      ``--config``, or ``None`` for a binary without a config file.
    default_config: config file used when ``--config`` is not given, e.g.
      ``"experiments/configs/condorcet_cycles.py"``; ``None`` defines no
      ``--config``.
    define_flags: defines the binary's own extra flags, if any.
  """
  # pylint: disable=g-import-not-at-top
  from absl import app
  from absl import flags
  from ml_collections import config_flags
  # pylint: enable=g-import-not-at-top
  flags.DEFINE_string("workdir", None, "Output directory.")
  if default_config is not None:
    config_flags.DEFINE_config_file("config", default=default_config,
                                    lock_config=True)
  if define_flags is not None:
    define_flags()
  flags.mark_flag_as_required("workdir")

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"Too many command-line arguments: {argv[1:]}.")
    workdir = flags.FLAGS.workdir
    if not flags.FLAGS["verbosity"].present:
      _route_library_logging(workdir)
    config = flags.FLAGS.config if default_config is not None else None
    out = run(config, workdir)
    if out is not None:
      print(out)

  app.run(main)
