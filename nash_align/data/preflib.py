"""Reader for PrefLib's ordinal formats: ``.soc``, ``.soi``, ``.toc``, ``.toi``.

PrefLib (Mattei & Walsh, "PrefLib: A Library of Preference Data", ADT 2013;
https://www.preflib.org) stores elections as text. Header lines are
``# KEY: value`` (``NUMBER ALTERNATIVES``, ``NUMBER VOTERS``, ``ALTERNATIVE
NAME i``, ...); each data line ``count: order`` stands for ``count`` ballots
with that order, alternatives numbered from 1, best first, comma-separated,
``{a,b,c}`` a group of tied alternatives. The four ordinal formats:

* ``soc``: strict complete orders; ``soi``: strict incomplete orders;
* ``toc``: complete orders with ties; ``toi``: incomplete orders with ties.

Pairwise counts. A ballot prefers ``a`` to ``b`` when it places ``a`` in an
earlier group than ``b``; an unranked alternative sits below every ranked
one (in one tied group at the bottom, as PrefLib's ``toc`` "imbued" files
make explicit). With ``ties="split"`` (the default) a pair the ballot leaves
tied -- in one group, or both unranked -- counts 1/2 for each side:

.. math::
  C_{ab} = \\sum_{\\text{ballots } v} w_v \\left( [a \\succ_v b]
           + \\tfrac12 [a \\sim_v b] \\right),

so ``C + C^T`` is the number of voters for every pair and a ``soi`` file and
its ``toc`` twin give the same counts. ``ties="drop"`` keeps only the strict
preferences (``C[a, b]`` = voters ranking ``a`` above ``b``, as pref_voting's
``ProfileWithTies.support``); both give the same majority relation.
"""

import dataclasses
import os
import re

import jax
import jax.numpy as jnp
import numpy as np

from nash_align import preferences

__all__ = (
    "FORMATS",
    "PrefLibElection",
    "read_preflib",
)

FORMATS = ("soc", "soi", "toc", "toi")
# Formats PrefLib also uses, rejected by name.
_OTHER_FORMATS = ("tog", "mjg", "wmg", "pwg", "wmd", "cat", "dat", "csv")
_STRICT = {"soc": True, "soi": True, "toc": False, "toi": False}
_COMPLETE = {"soc": True, "soi": False, "toc": True, "toi": False}
_HEADER = re.compile(r"^#\s*([^:]+?)\s*:\s?(.*)$")
_LINE = re.compile(r"^\s*(\d+)\s*:\s*(.*?)\s*$")


def _float_dtype(dtype):
  if dtype is None:
    return jax.dtypes.canonicalize_dtype(jnp.float64)
  return dtype


@dataclasses.dataclass(frozen=True, eq=False)
class PrefLibElection:
  """A parsed PrefLib election.

  Attributes:
    path: the file read.
    data_type: ``"soc"``, ``"soi"``, ``"toc"`` or ``"toi"``.
    alternatives: names (``ALTERNATIVE NAME i`` headers, else ``"i"``); index
      ``k`` of every array is PrefLib's alternative ``k + 1``.
    orders: one entry per data line: a tuple of groups (tuples of 0-based
      alternative indices), best group first; a strict order has singleton
      groups. Unlisted alternatives are unranked.
    multiplicities: ``[U]`` int64 number of voters casting each order.
    metadata: every ``# KEY: value`` header line.
  """

  path: str
  data_type: str
  alternatives: list[str]
  orders: tuple
  multiplicities: np.ndarray
  metadata: dict[str, str]

  @property
  def num_alternatives(self) -> int:
    return len(self.alternatives)

  @property
  def num_voters(self) -> int:
    return int(self.multiplicities.sum())

  @property
  def num_orders(self) -> int:
    """Number of distinct orders (data lines)."""
    return len(self.orders)

  @property
  def is_strict(self) -> bool:
    """True when no ballot ties two ranked alternatives (soc/soi data, or
    toc/toi data whose groups are all singletons)."""
    return all(len(g) == 1 for order in self.orders for g in order)

  @property
  def is_complete(self) -> bool:
    """True when every ballot lists every alternative."""
    n = self.num_alternatives
    return all(sum(len(g) for g in order) == n for order in self.orders)

  def __repr__(self) -> str:
    return (f"PrefLibElection({os.path.basename(self.path)!r}, "
            f"type={self.data_type}, n={self.num_alternatives}, "
            f"voters={self.num_voters}, orders={self.num_orders})")

  def positions(self) -> np.ndarray:
    """``[U, n]`` int32 group index of each alternative on each order (0 =
    best); unranked alternatives share the index ``len(order)`` (tied last)."""
    n = self.num_alternatives
    pos = np.empty((self.num_orders, n), np.int32)
    for u, order in enumerate(self.orders):
      pos[u] = len(order)
      for g, group in enumerate(order):
        pos[u, list(group)] = g
    return pos

  @property
  def rankings(self) -> np.ndarray | None:
    """``[U, n]`` int32 strict rankings, best first, one row per distinct order
    (``multiplicities`` gives the voters of each), or None if a ballot has
    ties. Incomplete ballots are padded with -1 after their last ranked
    alternative."""
    if not self.is_strict:
      return None
    n = self.num_alternatives
    r = np.full((self.num_orders, n), -1, np.int32)
    for u, order in enumerate(self.orders):
      r[u, :len(order)] = [g[0] for g in order]
    return r

  def voter_rankings(self) -> np.ndarray:
    """``[num_voters, n]`` int32 complete strict rankings, one row per voter
    (the input of ``nash_align.preferences.pairwise_counts``).

    Raises:
      ValueError: when some ballot has ties or is incomplete.
    """
    r = self.rankings
    if r is None or not self.is_complete:
      raise ValueError(f"{self.path}: voter_rankings needs complete strict "
                       f"orders (data type {self.data_type}, strict="
                       f"{self.is_strict}, complete={self.is_complete}).")
    return np.repeat(r, self.multiplicities, axis=0)

  def order_counts(self, ties: str = "split") -> np.ndarray:
    """float64 ``[U, n, n]`` pairwise counts of one ballot of each order."""
    if ties not in ("split", "drop"):
      raise ValueError(f"ties must be 'split' or 'drop', got {ties!r}.")
    pos = self.positions()
    above = (pos[:, :, None] < pos[:, None, :]).astype(np.float64)
    if ties == "split":
      tied = pos[:, :, None] == pos[:, None, :]
      above += 0.5 * tied
      idx = np.arange(self.num_alternatives)
      above[:, idx, idx] = 0.0
    return above

  def counts(self, ties: str = "split", dtype=None) -> jax.Array:
    """Pairwise counts over all voters.

    Args:
      ties: ``"split"`` (unranked or tied pairs count 1/2 each way) or
        ``"drop"`` (strict preferences only).
      dtype: float dtype; None means float32 (float64 when x64 is on).

    Returns:
      ``[n, n]``: ``C[a, b]`` = voters placing ``a`` above ``b`` (+ half of
      those leaving them tied, with ``"split"``); 0 on the diagonal.
    """
    c = np.einsum("u,uij->ij", self.multiplicities.astype(np.float64),
                  self.order_counts(ties))
    return jnp.asarray(c, dtype=_float_dtype(dtype))

  def preference_matrix(self, dtype=None) -> jax.Array:
    """``[n, n]`` ``nash_align.preferences.preference_matrix(self.counts())``."""
    return preferences.preference_matrix(self.counts(dtype=dtype), dtype=dtype)

  def units(self, ties: str = "split"):
    """Ballots as resampling units for the bootstrap.

    Returns:
      ``(a [R], b [R], score [R], unit [R], weight [U])``: one row per pair
      ``a < b`` of each distinct order (``score`` is the order's count of
      ``a`` over ``b``), ``unit`` its order and ``weight`` the multiplicities,
      so resampling ``num_voters`` ballots in proportion to ``weight``
      resamples voters.
    """
    if ties != "split":
      raise ValueError("units() needs ties='split' (each pair's two counts "
                       f"must sum to 1), got {ties!r}.")
    n = self.num_alternatives
    a, b = np.triu_indices(n, 1)
    per = self.order_counts(ties)[:, a, b]  # [U, n(n-1)/2]
    u = self.num_orders
    return (np.tile(a, u).astype(np.int32), np.tile(b, u).astype(np.int32),
            per.reshape(-1), np.repeat(np.arange(u), a.size),
            self.multiplicities.astype(np.int64))


def _fail(path, line_no, message):
  raise ValueError(f"{path}:{line_no}: {message}")


def _parse_order(text: str, n: int, strict: bool, path, line_no):
  """Parses ``1,{2,3},4`` into ``((0,), (1, 2), (3,))``."""
  groups = []
  seen = set()
  i = 0
  text = text.replace(" ", "")
  if not text:
    return ()
  while i < len(text):
    if text[i] == "{":
      if strict:
        _fail(path, line_no, "tied group '{...}' in a strict-order file "
              "(soc/soi); use .toc/.toi for ties.")
      j = text.find("}", i)
      if j < 0:
        _fail(path, line_no, f"unclosed '{{' in order {text!r}.")
      items = text[i + 1:j].split(",")
      i = j + 1
    else:
      j = text.find(",", i)
      j = len(text) if j < 0 else j
      items = [text[i:j]]
      i = j
    group = []
    for item in items:
      if not item.isdigit():
        _fail(path, line_no, f"bad alternative {item!r} in order {text!r}.")
      k = int(item)
      if not 1 <= k <= n:
        _fail(path, line_no, f"alternative {k} out of range 1..{n}.")
      if k in seen:
        _fail(path, line_no, f"alternative {k} appears twice in the order.")
      seen.add(k)
      group.append(k - 1)
    if not group:
      _fail(path, line_no, "empty tied group '{}'.")
    groups.append(tuple(group))
    if i < len(text):
      if text[i] != ",":
        _fail(path, line_no, f"expected ',' at position {i} of {text!r}.")
      i += 1
      if i == len(text):
        _fail(path, line_no, f"trailing ',' in order {text!r}.")
  return tuple(groups)


def read_preflib(path) -> PrefLibElection:
  """Reads a PrefLib ``.soc``/``.soi``/``.toc``/``.toi`` file.

  The format comes from the file extension and must agree with a ``# DATA
  TYPE`` header when there is one. Complete formats (soc, toc) must list
  every alternative on every line; strict formats (soc, soi) may not contain
  tied groups.

  Args:
    path: the file.

  Returns:
    A ``PrefLibElection``.

  Raises:
    ValueError: for a format other than the four (named), a missing
      ``NUMBER ALTERNATIVES`` header, or a malformed line (with file and line
      number): bad count, unknown or repeated alternative, ties in a strict
      format, a missing alternative in a complete format, or voter/order
      totals that disagree with the headers.
  """
  path = os.fspath(path)
  ext = os.path.splitext(path)[1].lstrip(".").lower()
  if ext not in FORMATS:
    known = ("a PrefLib format this reader does not handle"
             if ext in _OTHER_FORMATS else "not a PrefLib ordinal format")
    raise ValueError(f"{path}: unsupported format {ext!r} ({known}); "
                     f"read_preflib reads {', '.join(FORMATS)}.")
  metadata: dict[str, str] = {}
  names: dict[int, str] = {}
  orders, mult = [], []
  n = None
  with open(path, encoding="utf-8") as f:
    for line_no, raw in enumerate(f, start=1):
      line = raw.rstrip("\n").rstrip("\r")
      if not line.strip():
        continue
      if line.startswith("#"):
        m = _HEADER.match(line)
        if not m:
          continue  # a free comment
        key, value = m.group(1).strip().upper(), m.group(2).strip()
        metadata[key] = value
        if key.startswith("ALTERNATIVE NAME"):
          try:
            names[int(key.split()[-1])] = value
          except ValueError:
            _fail(path, line_no, f"bad header {line!r}.")
        elif key == "NUMBER ALTERNATIVES":
          if not value.isdigit() or int(value) < 1:
            _fail(path, line_no, f"bad NUMBER ALTERNATIVES {value!r}.")
          n = int(value)
        elif key == "DATA TYPE" and value.lower() != ext:
          _fail(path, line_no, f"DATA TYPE {value!r} disagrees with the file "
                f"extension .{ext}.")
        continue
      if n is None:
        _fail(path, line_no, "data line before the NUMBER ALTERNATIVES "
              "header.")
      m = _LINE.match(line)
      if not m:
        _fail(path, line_no, f"expected 'count: order', got {line.strip()!r}.")
      count = int(m.group(1))
      if count < 1:
        _fail(path, line_no, f"count must be positive, got {count}.")
      order = _parse_order(m.group(2), n, _STRICT[ext], path, line_no)
      if _COMPLETE[ext] and sum(len(g) for g in order) != n:
        _fail(path, line_no, f"a .{ext} order must rank all {n} alternatives,"
              f" this one ranks {sum(len(g) for g in order)}.")
      orders.append(order)
      mult.append(count)
  if n is None:
    raise ValueError(f"{path}: missing '# NUMBER ALTERNATIVES' header.")
  if not orders:
    raise ValueError(f"{path}: no data lines.")
  multiplicities = np.asarray(mult, np.int64)
  if "NUMBER VOTERS" in metadata and metadata["NUMBER VOTERS"].isdigit() and (
      int(metadata["NUMBER VOTERS"]) != multiplicities.sum()):
    raise ValueError(f"{path}: NUMBER VOTERS is {metadata['NUMBER VOTERS']} "
                     f"but the data lines hold {multiplicities.sum()} voters.")
  if ("NUMBER UNIQUE ORDERS" in metadata and
      metadata["NUMBER UNIQUE ORDERS"].isdigit() and
      int(metadata["NUMBER UNIQUE ORDERS"]) != len(orders)):
    raise ValueError(f"{path}: NUMBER UNIQUE ORDERS is "
                     f"{metadata['NUMBER UNIQUE ORDERS']} but there are "
                     f"{len(orders)} data lines.")
  bad = sorted(k for k in names if not 1 <= k <= n)
  if bad:
    raise ValueError(f"{path}: ALTERNATIVE NAME {bad[0]} out of range 1..{n}.")
  multiplicities.setflags(write=False)
  return PrefLibElection(
      path=path, data_type=ext,
      alternatives=[names.get(k, str(k)) for k in range(1, n + 1)],
      orders=tuple(orders), multiplicities=multiplicities, metadata=metadata)
