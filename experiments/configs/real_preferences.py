"""Config for experiments.real_preferences (presets: quick, paper)."""

import ml_collections

from experiments import common

_APA = tuple(f"preflib_apa_{year}" for year in range(1998, 2010))


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """Majority structure, cycles and maximal lotteries of the shipped data.

  Args:
    preset: "quick" (one APA year, 200 bootstrap resamples, 2,000 Monte
      Carlo prompts per model; well under a minute on 2 CPU cores) or "paper"
      (every APA year, 2,000 resamples by judgment and by prompt, 20,000
      Monte Carlo prompts).

  Returns:
    The experiment's ConfigDict.
  """
  common.check_preset(preset, "real_preferences")
  config = ml_collections.ConfigDict()
  config.preset = preset
  config.seed = 0
  # LLM judgment tables (nash_align.data.DATASETS).
  config.pairwise_datasets = ("vicuna80_human", "pandalm", "qlora_oa",
                              "qlora_vicuna")
  # PrefLib elections (nash_align.data.PREFLIB_DATASETS).
  config.preflib_datasets = ("preflib_apa_1998", "preflib_glasgow",
                             "preflib_ers", "preflib_education")
  # Bootstrap: resamples, and the unit for judgment tables ("judgment" and/or
  # "prompt"; elections always resample ballots). The first one is plotted.
  config.num_resamples = 200
  config.bootstrap_by = ("judgment",)
  config.confidence = 0.95
  # Per-prompt tournaments: datasets, Monte Carlo prompts per population model.
  config.per_prompt_datasets = ("qlora_oa", "qlora_vicuna", "vicuna80_human")
  # "bradley_terry": BT fit + pooled tie rate; "pooled": per-ordered-pair
  # outcome frequencies (keeps position bias). Each costs one compilation.
  config.population_models = ("bradley_terry",)
  config.per_prompt_samples = 2000
  config.chunk_size = 1000
  # Majority-graph drawings show at most this many alternatives (the top of
  # the majority ranking).
  config.max_graph_nodes = 12
  if preset == "paper":
    config.preflib_datasets = _APA + ("preflib_glasgow", "preflib_ers",
                                      "preflib_education")
    # 1,000 resamples and 10,000 Monte Carlo prompts (not 2,000 / 20,000):
    # sized for the 2-core development machine.
    config.num_resamples = 1000
    config.bootstrap_by = ("judgment", "prompt")
    config.population_models = ("bradley_terry", "pooled")
    config.per_prompt_samples = 10000
    config.chunk_size = 4000
  return config
