"""Config for experiments.mixed_strategies (presets: quick, paper)."""

import ml_collections

from experiments import common


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """P(mixed Nash equilibrium) against n, and the support-size distribution.

  Args:
    preset: "quick" (~30 s on 2 CPU cores) or "paper".

  Returns:
    The experiment's ConfigDict.
  """
  common.check_preset(preset, "mixed_strategies")
  config = ml_collections.ConfigDict()
  config.preset = preset
  config.seed = 1
  config.num_alternatives = (3, 4, 6, 8, 12)
  # Odd numbers of labelers: the margin game then has a unique equilibrium
  # (Laffond, Laslier and Le Breton, 1997).
  config.num_voters = (11,)
  config.models = ("impartial_culture", "luce_mixture")
  config.mallows_phi = 0.8
  config.mallows_num_voters = ()  # empty = config.num_voters
  # Per-model numbers of responses (models not listed use num_alternatives).
  config.num_alternatives_by_model = {}
  config.luce_groups = 3
  config.luce_sigma = 1.0
  # Sample the paddable models at max(n) and pad (one compilation per model
  # and m instead of one per n; see data.analysis.pad_preference_matrix).
  config.pad_alternatives = True
  config.num_samples = 200
  config.chunk_size = 200
  config.confidence = 0.95
  # Adaptive stopping and chunk checkpoints: see configs/condorcet_cycles.py.
  config.voters_by_model = {}
  config.target_width = None
  config.min_samples = 0
  config.checkpoint_every_s = 60.0
  if preset == "paper":
    # Sized for the 2-core development machine (~30 min): 108 cells, each
    # sampled until every 95% interval (P(mixed) and every support-size
    # bin) is at most 0.01 wide; every game solved and certified. Left out
    # for time: Mallows (one compile per n and m, ~25 s each with the
    # solver), the Luce mixture at m = 1001.
    config.num_alternatives = (3, 4, 5, 6, 8, 10, 12, 16, 20, 30, 40, 50)
    config.num_voters = (3, 11, 51, 101, 1001)
    config.models = ("impartial_culture", "luce_mixture")
    config.voters_by_model = {"luce_mixture": (3, 11, 51, 101)}
    config.pad_alternatives = True
    config.num_samples = 50000
    config.chunk_size = 4096
    config.target_width = 0.01
    config.min_samples = 4096
  return config
