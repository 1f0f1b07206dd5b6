"""nash_align: preference-game equilibria in JAX."""

import importlib

from nash_align import atomic_io
from nash_align import bradley_terry
from nash_align import data
from nash_align import montecarlo
from nash_align import payoff_properties
from nash_align import payoffs
from nash_align import preferences
from nash_align import social_choice
from nash_align import solvers
from nash_align import types
from nash_align.types import Estimate
from nash_align.types import NashResult

__version__ = "0.1.0"

__all__ = (
    "Estimate",
    "NashResult",
    "atomic_io",
    "bradley_terry",
    "data",
    "montecarlo",
    "nlhf",
    "payoff_properties",
    "payoffs",
    "preferences",
    "social_choice",
    "solvers",
    "types",
)


def __getattr__(name):
  # nlhf pulls in flax/optax/orbax: import it only when asked for.
  if name == "nlhf":
    return importlib.import_module("nash_align.nlhf")
  raise AttributeError(f"module 'nash_align' has no attribute {name!r}")
