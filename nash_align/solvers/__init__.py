"""Certified solvers for zero-sum matrix games (knows nothing of preferences).

``solve`` (batched; the same certified kernel eagerly and under
jit/vmap/sharding) runs the simplex or the first-order methods of
:data:`METHODS`, then certifies every answer in the graph (double-float
duality gap, refined support system); ``solve_lp`` is the HiGHS reference
(and ``max_weight_guaranteeing`` its LP over the strategies that guarantee a
value, for the payoff property checks);
``duality_gap`` and ``regularized_duality_gap`` are the float64 host
certificates.
"""

from nash_align.solvers.certificate import duality_gap
from nash_align.solvers.certificate import regularized_duality_gap
from nash_align.solvers.certificate import require_certified
from nash_align.solvers.kernel import METHODS
from nash_align.solvers.solve import AUTO_METHODS
from nash_align.solvers.solve import default_chunk_size
from nash_align.solvers.solve import solve
from nash_align.solvers.lp import max_weight_guaranteeing
from nash_align.solvers.lp import solve_lp
from nash_align.types import NashResult

__all__ = (
    "AUTO_METHODS",
    "METHODS",
    "NashResult",
    "default_chunk_size",
    "duality_gap",
    "max_weight_guaranteeing",
    "regularized_duality_gap",
    "require_certified",
    "solve",
    "solve_lp",
)
