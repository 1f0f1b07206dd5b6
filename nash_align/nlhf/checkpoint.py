"""Orbax checkpoints of an NLHF run: parameters, optimizer and RNG state.

A thin wrapper over ``orbax.checkpoint.CheckpointManager`` (save every
``save_every`` steps, keep the last ``max_to_keep``). Each checkpoint holds two
items: ``state`` (a pytree of arrays: the policy's ``nnx.State``, the optax
state and the PRNG key, via ``args.StandardSave``) and ``meta`` (JSON: the
run's configuration fingerprint, the step and the metric history).

Restoring never starts silently from scratch: a checkpoint that cannot be read
(corrupt files) or was written by a different configuration (fingerprint or
array shapes differ) raises :class:`CheckpointError` naming the directory.
"""

import json
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

__all__ = ("CheckpointError", "Checkpointer", "fingerprint")


class CheckpointError(ValueError):
  """A checkpoint exists but is corrupt or incompatible with the run."""


def fingerprint(config: dict[str, Any]) -> str:
  """A canonical JSON string of the configuration entries that shape a run."""
  return json.dumps({k: config[k] for k in sorted(config)}, sort_keys=True,
                    default=str)


class Checkpointer:
  """Saves/restores ``(state pytree, meta dict)`` under ``directory``.

  Args:
    directory: checkpoint root (created if missing).
    save_every: save interval in steps (``CheckpointManagerOptions
      .save_interval_steps``).
    max_to_keep: number of most recent checkpoints kept.
    config_fingerprint: :func:`fingerprint` of the run's configuration; a
      checkpoint with another fingerprint is refused on restore.
  """

  def __init__(self, directory: str, save_every: int, max_to_keep: int,
               config_fingerprint: str):
    self.directory = os.path.abspath(directory)
    self.fingerprint = config_fingerprint
    options = ocp.CheckpointManagerOptions(
        save_interval_steps=save_every, max_to_keep=max_to_keep, create=True)
    self.manager = ocp.CheckpointManager(
        self.directory, options=options,
        item_names=("state", "meta"))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: Any, meta: dict[str, Any],
           force: bool = False) -> bool:
    """Saves at ``step`` when the interval says so (or ``force``)."""
    meta = dict(meta, fingerprint=self.fingerprint, step=int(step))
    saved = self.manager.save(
        int(step),
        args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                meta=ocp.args.JsonSave(meta)),
        force=force)
    self.manager.wait_until_finished()
    return saved

  def restore(self, template: Any):
    """Restores the latest checkpoint shaped like ``template``.

    Returns:
      ``None`` when there is no checkpoint, else ``(step, state, meta)``.

    Raises:
      CheckpointError: the checkpoint is unreadable or incompatible.
    """
    step = self.manager.latest_step()
    if step is None:
      return None
    where = os.path.join(self.directory, str(step))
    try:
      meta = self.manager.restore(
          step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(
          f"checkpoint {where} is corrupt or unreadable (metadata: "
          f"{type(e).__name__}: {e}). Delete it or use a fresh workdir; "
          "refusing to start from scratch silently.") from e
    if not isinstance(meta, dict) or meta.get("fingerprint") != self.fingerprint:
      theirs = meta.get("fingerprint") if isinstance(meta, dict) else None
      raise CheckpointError(
          f"checkpoint {where} was written by a different configuration; "
          f"refusing to resume.\n  checkpoint: {theirs}\n  this run:   "
          f"{self.fingerprint}")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    try:
      state = self.manager.restore(
          step, args=ocp.args.Composite(
              state=ocp.args.StandardRestore(abstract)))["state"]
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(
          f"checkpoint {where} is corrupt or incompatible with this run's "
          f"parameters ({type(e).__name__}: {e}). Delete it or use a fresh "
          "workdir; refusing to start from scratch silently.") from e
    bad = [
        (jax.tree_util.keystr(p), np.shape(a), np.shape(b))
        for (p, a), b in zip(
            jax.tree_util.tree_flatten_with_path(template)[0],
            jax.tree.leaves(state))
        if np.shape(a) != np.shape(b)]
    if bad:
      raise CheckpointError(
          f"checkpoint {where} has arrays of other shapes than this run: "
          f"{bad[:3]}")
    for leaf in jax.tree.leaves(state):
      if (np.issubdtype(np.asarray(leaf).dtype, np.inexact)
          and not np.all(np.isfinite(np.asarray(leaf)))):
        raise CheckpointError(f"checkpoint {where} holds non-finite values.")
    return int(step), state, meta

  def close(self) -> None:
    self.manager.close()
