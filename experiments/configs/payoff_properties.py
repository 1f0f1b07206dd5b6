"""Config for experiments.payoff_properties (presets: quick, paper)."""

import ml_collections

from experiments import common


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """Property table of payoff transforms Psi (arXiv:2505.20627).

  Args:
    preset: "quick" (well under 30 s of compute on 2 CPU cores) or "paper".

  Returns:
    The experiment's ConfigDict.
  """
  common.check_preset(preset, "payoff_properties")
  config = ml_collections.ConfigDict()
  config.preset = preset
  config.seed = 0
  # Registered transforms: "name" or "name:param=value" (nash_align.payoffs).
  config.payoffs = ("margin", "majority", "log_odds", "tanh:sharpness=0.5",
                    "tanh:sharpness=8.0", "power:exponent=0.5",
                    "power:exponent=3.0")
  # Antisymmetric transforms that are NOT sign preserving, defined in the
  # experiment, to show the checks find counterexamples.
  config.user_payoffs = ("reversed", "dead_zone", "sin3")
  config.num_games = 48  # random games per size and property
  # Sizes for Condorcet consistency / preference matching (n >= 2) and for
  # Smith consistency / mixed strategies (n >= 3).
  config.sizes = (3, 5)
  config.sizes_mixed = (3, 5)
  config.btl_scale = 1.0  # spread of the BTL log-strengths
  config.grid_points = 4096  # grid for Psi(p) > 0 on (1/2, 1]
  if preset == "paper":
    config.num_games = 1024
    config.sizes = (2, 3, 4, 5, 6, 8)
    config.sizes_mixed = (3, 4, 5, 6, 8)
    config.grid_points = 1 << 16
  return config
