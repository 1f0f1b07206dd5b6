"""Nash learning from human feedback: policy head, oracles, trainers, metrics.

* :mod:`~nash_align.nlhf.policy`: :class:`PolicyHead`, a flax NNX head
  ``[B, d], [B, K, d'] -> [B, K]`` log-probabilities over a masked candidate
  set, residual over the reference policy.
* :mod:`~nash_align.nlhf.oracles`: ``prob_prefer(prompt, a, b)`` oracles --
  population mixture of BTL groups, the QLoRA GPT-4 tournaments, learned
  general preference / Bradley-Terry reward models -- and tasks.
* :mod:`~nash_align.nlhf.algorithms`: Nash-MD, mirror descent (magnetic),
  SPPO/INPO, Nash-RS (arXiv:2503.10990v1) and the RLHF baseline, one loss
  each in :data:`ALGORITHMS`.
* :mod:`~nash_align.nlhf.metrics`: win rate, exploitability, entropy, support,
  maximal-lottery agreement.
* :mod:`~nash_align.nlhf.text_tasks`: real prompts, answers and judgments
  (Vicuna-80 human / GPT-4, QLoRA Open Assistant) over all-MiniLM-L6-v2
  embeddings, a seeded train / held-out split, preference and Bradley-Terry
  models fitted on the training judgments, held-out win rates.
* :mod:`~nash_align.nlhf.training` / :mod:`~nash_align.nlhf.checkpoint`:
  :func:`train` (jitted optax updates, orbax checkpoints with exact resume,
  CSV + TensorBoard logging).

Needs flax, optax, orbax and tensorboardX (``nash_align.nlhf`` is imported
lazily by ``nash_align``).
"""

from nash_align.nlhf import algorithms
from nash_align.nlhf import checkpoint
from nash_align.nlhf import metrics
from nash_align.nlhf import oracles
from nash_align.nlhf import policy
from nash_align.nlhf import text_tasks
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
    "text_tasks",
    "train",
    "training",
)
