"""Certified solvers for zero-sum matrix games (knows nothing of preferences)."""

from nash_align.solvers.certificate import duality_gap
from nash_align.solvers.lp import solve_lp
from nash_align.types import NashResult

__all__ = (
    "NashResult",
    "duality_gap",
    "solve_lp",
)
