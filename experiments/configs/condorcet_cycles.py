"""Config for experiments.condorcet_cycles (presets: quick, paper)."""

import ml_collections

from experiments import common


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """P(Condorcet cycle) and P(no Condorcet winner) against n.

  Args:
    preset: "quick" (a smoke-sized sweep, ~30 s on 2 CPU cores) or "paper".

  Returns:
    The experiment's ConfigDict.
  """
  common.check_preset(preset, "condorcet_cycles")
  config = ml_collections.ConfigDict()
  config.preset = preset
  config.seed = 0
  # Numbers of responses (alternatives) n.
  config.num_alternatives = (3, 4, 5, 6, 8, 10, 14, 20, 50)
  # Numbers of labelers m (odd: no majority ties). 0 = the population limit
  # (m -> infinity), used by the models that have an exact population matrix.
  config.num_voters = (11, 101)
  # Preference models; see experiments/condorcet_cycles.py MODELS.
  config.models = ("impartial_culture", "mallows", "luce_mixture",
                   "independent_pairwise")
  config.mallows_phi = 0.8  # dispersion in (0, 1]; 1 = impartial culture
  # Labeler counts for Mallows (not paddable: one compilation per n and m);
  # empty = config.num_voters.
  config.mallows_num_voters = (101,)
  # Per-model labeler counts (models not listed use num_voters).
  config.voters_by_model = {}
  # Per-model numbers of responses (models not listed use num_alternatives).
  # Mallows compiles once per n; independent_pairwise's Beta draws are slow
  # on a CPU and its P(cycle) is already ~1 at n = 10.
  config.num_alternatives_by_model = {"mallows": (3, 10, 30),
                                      "independent_pairwise": (3, 4, 5, 6, 8,
                                                               10)}
  config.luce_groups = 3  # labeler groups in the Luce (PL) mixture
  config.luce_sigma = 1.0  # log-utilities ~ Normal(0, sigma^2) per group
  # Sample the paddable models at max(n) and pad (one compilation per model
  # and m instead of one per n; see data.analysis.pad_preference_matrix).
  config.pad_alternatives = True
  config.num_samples = 400
  config.chunk_size = 400
  config.confidence = 0.95
  # Adaptive stopping: None draws num_samples; a width w draws chunks until
  # every probability's interval is at most w wide (at least min_samples,
  # at most num_samples). Long cells checkpoint their sums every
  # checkpoint_every_s seconds and resume from them after a kill.
  config.target_width = None
  config.min_samples = 0
  config.checkpoint_every_s = 60.0
  if preset == "paper":
    # Sized for the 2-core development machine (~15 min): 106 cells, each
    # sampled until its 95% intervals are at most 0.01 wide. Left out for
    # time: n > 50, m = 1001 for the Luce mixture and Mallows (their
    # samplers cost O(m n log n) a profile), Mallows above n = 30 (one
    # compile per n).
    config.num_alternatives = (3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 50)
    config.num_voters = (3, 11, 101, 1001)
    config.models = ("impartial_culture", "mallows", "luce_mixture",
                     "independent_pairwise")
    config.voters_by_model = {"luce_mixture": (11, 101, 0),
                              "independent_pairwise": (0,)}
    config.mallows_num_voters = (11, 101)
    config.num_alternatives_by_model = {
        "mallows": (3, 4, 5, 6, 8, 10, 12, 15, 20, 30),
        "independent_pairwise": (3, 4, 5, 6, 8, 10, 12, 15, 20)}
    config.pad_alternatives = True
    config.num_samples = 50000
    config.chunk_size = 2048
    config.target_width = 0.01
    config.min_samples = 2048
  return config
