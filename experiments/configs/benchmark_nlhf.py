"""Config for experiments.benchmark_nlhf (presets: quick, full)."""

import ml_collections

from experiments import common


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """NLHF train steps per second for batch 256, K in {8, 64}.

  Args:
    preset: "quick" (Nash-RS and RLHF; a few minutes on 2 CPU cores) or
      "full" (every algorithm of ``nash_align.nlhf.ALGORITHMS``).

  Returns:
    The benchmark's ConfigDict.
  """
  common.check_preset(preset, "benchmark_nlhf", ("quick", "full"))
  config = ml_collections.ConfigDict()
  config.preset = preset
  # Comma-separated algorithm names (nash_align.nlhf.algorithms.ALGORITHMS);
  # "all" = every registered algorithm.
  config.algorithms = "nash_rs,rlhf"
  config.batch_size = 256  # prompts per step
  config.num_candidates = (8, 64)  # K values
  config.chunk = 10  # train steps per jitted lax.scan call
  config.repeats = 3  # timed calls (median)
  config.machine = ""  # machine description for the report
  if preset == "full":
    config.algorithms = "all"
  return config
