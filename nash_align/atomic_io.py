"""Atomic file writes shared by the library and the experiment binaries.

A reader (or a run resumed after a kill) sees either the previous file or the
complete new one, never a partial write.
"""

import os
import tempfile

__all__ = ("atomic_write_bytes", "atomic_write_text")


def atomic_write_bytes(path: str, data: bytes) -> None:
  """Writes ``data`` to ``path`` atomically (temp file + fsync + ``os.replace``).

  A reader sees the old file or the new one, never a partial write; a failed
  write leaves no temporary file behind.
  """
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
  """UTF-8 text version of :func:`atomic_write_bytes`."""
  atomic_write_bytes(path, text.encode("utf-8"))
