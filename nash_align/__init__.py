"""nash_align: preference-game equilibria in JAX."""

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
    "payoffs",
    "preferences",
    "social_choice",
    "solvers",
    "types",
)
