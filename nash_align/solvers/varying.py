"""Loop carries that vary like the data, so the solver runs in ``shard_map``.

Inside ``jax.shard_map`` (``check_vma=True``, the default) every value has a
set of mesh axes along which it varies. A loop carry started from a constant
(a zero count, an ``arange`` of labels) is invariant, while the step that
updates it from the sharded payoffs returns a varying value, and
``while_loop``/``fori_loop``/``cond`` reject the mismatch. The solver casts
such carries to vary along the axes of its input first; outside
``shard_map`` (no varying axes) this is the identity.
"""

import jax


def _varying_axes(x):
  aval = jax.typeof(x)
  manual = getattr(aval, "manual_axis_type", None)
  if manual is not None:
    return frozenset(manual.varying)
  return frozenset(getattr(aval, "vma", ()))  # older jax


def like(tree, ref):
  """``tree`` with every leaf cast to vary along the mesh axes ``ref`` varies
  along (``pcast(..., to="varying")``); unchanged outside ``shard_map``."""
  axes = _varying_axes(ref)
  if not axes:
    return tree

  def cast(leaf):
    missing = tuple(sorted(axes - _varying_axes(leaf)))
    return jax.lax.pcast(leaf, missing, to="varying") if missing else leaf

  return jax.tree.map(cast, tree)
