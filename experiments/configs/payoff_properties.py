"""Config for experiments.payoff_properties (presets: quick, paper)."""

import ml_collections

from experiments import common


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """Property table of payoff transforms Psi (checks arXiv:2505.20627).

  A numerical check of the paper's Thms 3.1, 3.2, 4.2 and Cor. 5.4; the paper
  itself has no numerical table.

  Args:
    preset: "quick" (about 1 min on 2 CPU cores, mostly compilation) or
      "paper".

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
  # Defined in the experiment: antisymmetric transforms that are NOT sign
  # preserving (the checks must find counterexamples), then general Psi
  # (not antisymmetric) separating the three conditions of the paper's
  # Table 1, and its Examples 3.4/4.3 (step).
  config.user_payoffs = ("reversed", "dead_zone", "sin3", "identity",
                         "square", "sqrt", "step")
  config.num_games = 48  # random games per size and property
  # Sizes for Condorcet consistency / preference matching (n >= 2) and for
  # Smith consistency / mixed strategies (n >= 3).
  config.sizes = (3, 5)
  # n = 6 holds the paper's Table 4 structure (two 3-cycles), which the
  # Smith-consistency violations of square/sqrt need.
  config.sizes_mixed = (4, 6)
  config.btl_scale = 1.0  # spread of the BTL log-strengths
  config.grid_points = 4096  # grid of t for the Table 1 conditions
  if preset == "paper":
    # Sized for the 2-core development machine (a few minutes); n = 8 left
    # out for time.
    config.num_games = 256
    config.sizes = (2, 3, 4, 5, 6)
    config.sizes_mixed = (3, 4, 5, 6)
    config.grid_points = 1 << 14
  return config
