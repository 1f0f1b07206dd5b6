"""Config for experiments.rlhf_majority (presets: quick, paper)."""

import ml_collections

from experiments import common


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """Bradley-Terry reward vs pairwise majority (after arXiv:2506.12350).

  Args:
    preset: "quick" (about 30 s on 2 CPU cores) or "paper".

  Returns:
    The experiment's ConfigDict.
  """
  common.check_preset(preset, "rlhf_majority")
  config = ml_collections.ConfigDict()
  config.preset = preset
  config.seed = 0
  # Numbers of responses n ranked by every labeler.
  config.num_alternatives = (4, 7)
  # Numbers of labelers m (odd: no majority ties on any pair).
  config.num_voters = (25,)
  # Profile models; see experiments/rlhf_majority.py MODELS.
  config.models = ("plackett_luce", "mallows", "impartial_culture",
                   "luce_mixture", "opposed_groups")
  config.luce_sigma = 1.0  # log-utilities ~ N(0, sigma^2) (PL and mixture)
  config.luce_groups = 3  # groups in the random Luce mixture
  config.mallows_phi = 0.8  # Mallows dispersion (1 = impartial culture)
  # opposed_groups: a majority group ranks 0 > 1 > ... > n-1; the minority
  # ranks 1 > 2 > ... > n-1 > 0 (the 51/49 example of the module docstring);
  # both PL with log-utility gaps `opposed_gap` between consecutive ranks.
  config.opposed_share = 0.55
  config.opposed_gap = 2.0
  # Ridge penalties: bt_l2 only makes the RLHF fit finite on separable
  # samples (its ranking is the Borda ranking for any l2 on full rankings);
  # majority_l2 is required by the modified objective (any value > 0 gives
  # the same ranking).
  config.bt_l2 = 1e-3
  config.majority_l2 = 0.1
  config.num_samples = 512  # profiles per cell
  config.chunk_size = 512  # profiles per jitted chunk
  config.confidence = 0.95
  if preset == "paper":
    # Sized for the 2-core development machine (~6 min); n > 10 and
    # m = 1001 left out for time.
    config.num_alternatives = (3, 4, 6, 8, 10)
    # Odd m (no majority ties).
    config.num_voters = (5, 25, 101)
    config.num_samples = 2048
    config.chunk_size = 1024
  return config
