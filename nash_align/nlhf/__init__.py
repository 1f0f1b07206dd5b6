"""Nash learning from human feedback: policy head, oracles, trainers, metrics.

Needs flax, optax and orbax (imported lazily by ``nash_align.nlhf``).
"""

from nash_align.nlhf import algorithms
from nash_align.nlhf import checkpoint
from nash_align.nlhf import metrics
from nash_align.nlhf import oracles
from nash_align.nlhf import policy
from nash_align.nlhf import training
from nash_align.nlhf.algorithms import ALGORITHMS
from nash_align.nlhf.algorithms import get_algorithm
from nash_align.nlhf.algorithms import Hyperparams
from nash_align.nlhf.checkpoint import CheckpointError
from nash_align.nlhf.oracles import EmpiricalOracle
from nash_align.nlhf.oracles import LearnedOracle
from nash_align.nlhf.oracles import PopulationOracle
from nash_align.nlhf.oracles import PreferenceTask
from nash_align.nlhf.policy import PolicyHead
from nash_align.nlhf.training import DEFAULT_CONFIG
from nash_align.nlhf.training import train

__all__ = (
    "ALGORITHMS",
    "CheckpointError",
    "DEFAULT_CONFIG",
    "EmpiricalOracle",
    "Hyperparams",
    "LearnedOracle",
    "PolicyHead",
    "PopulationOracle",
    "PreferenceTask",
    "algorithms",
    "checkpoint",
    "get_algorithm",
    "metrics",
    "oracles",
    "policy",
    "train",
    "training",
)
