"""Certified solvers for zero-sum matrix games (knows nothing of preferences).

``solve`` (batched, jit/vmap-compatible, certified) drives the first-order
methods of :data:`METHODS` with an exact step on the identified support;
``solve_lp`` is the HiGHS reference; ``duality_gap`` and
``regularized_duality_gap`` are the float64 certificates.
"""

from nash_align.solvers.certificate import duality_gap
from nash_align.solvers.certificate import regularized_duality_gap
from nash_align.solvers.driver import AUTO_METHODS
from nash_align.solvers.driver import METHODS
from nash_align.solvers.driver import default_chunk_size
from nash_align.solvers.driver import solve
from nash_align.solvers.lp import solve_lp
from nash_align.types import NashResult

__all__ = (
    "AUTO_METHODS",
    "METHODS",
    "NashResult",
    "default_chunk_size",
    "duality_gap",
    "regularized_duality_gap",
    "solve",
    "solve_lp",
)
