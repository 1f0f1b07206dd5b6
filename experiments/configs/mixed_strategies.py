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
  if preset == "paper":
    config.num_alternatives = (3, 4, 5, 6, 8, 10, 12, 16, 20, 30, 40, 50)
    config.num_voters = (11, 101, 1001)
    config.models = ("impartial_culture", "mallows", "luce_mixture")
    config.pad_alternatives = False
    config.num_samples = 5000
    config.chunk_size = 500
  return config
