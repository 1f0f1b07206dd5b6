"""Runs every experiment and writes DIR/report.md with all figures and tables.

Each experiment module ``experiments.<name>`` exposes ``run(config, workdir)``
returning a markdown section whose figures are relative to ``workdir``; its
config is ``experiments/configs/<name>.py:get_config(preset)``. This binary
runs them in order, each in ``DIR/<name>/``, and stitches the sections into
``DIR/report.md`` (figure paths rewritten relative to ``DIR``), with the time
each took and the commands that reproduce them. An experiment that fails is
reported (with its traceback) and the others still run; the binary then exits
non-zero. Cells already computed are reused (the sweeps resume).

The console shows progress bars and one line per experiment; library logging
goes to ``DIR/log.txt`` (``--verbosity=0`` puts it back on the console).

Run: ``python -m experiments.reproduce_figures --preset=quick --workdir=DIR``.
The quick preset runs everything in under 5 minutes on 2 CPU cores.
"""

import importlib
import os
import platform
import re
import time
import traceback

from absl import flags
import jax

from experiments import common

# Order of the report: experiments motivated by the three papers (only
# arXiv:2503.10990 has figures; 2505.20627 is purely theoretical, and for
# 2506.12350 only the abstract was checked).
EXPERIMENTS = (
    "condorcet_cycles",  # arXiv:2503.10990, Sec. 2
    "mixed_strategies",  # arXiv:2503.10990, Sec. 3
    "payoff_properties",  # checks arXiv:2505.20627 Thms 3.1, 3.2, 4.2
    "rlhf_majority",  # our formalisation of arXiv:2506.12350's abstract
    "nlhf",  # NLHF (Munos et al. 2024, arXiv:2312.00886), 2503.10990
    "nlhf_text",  # NLHF on real text; 2503.10990's implicit-reward figure
    "real_preferences",  # real datasets
)
PRESETS = ("quick", "paper")


def _relink(section: str, name: str) -> str:
  """Rewrites a section's relative links to point under ``name/``."""

  def fix(match):
    text, target = match.group(1), match.group(2)
    if re.match(r"^([a-z]+:|/|#)", target):
      return match.group(0)
    return f"{text}({name}/{target})"

  return re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", fix, section)


def environment(preset: str, experiments=EXPERIMENTS) -> str:
  """Markdown: versions, machine and each experiment's seed for the report."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import nash_align  # pylint: disable=g-import-not-at-top
  versions = {"nash_align": nash_align.__version__,
              "python": platform.python_version(), "jax": jax.__version__,
              "numpy": np.__version__}
  for name in ("jaxlib", "flax", "optax", "orbax.checkpoint", "scipy"):
    try:
      versions[name] = importlib.import_module(name).__version__
    except (ImportError, AttributeError):
      pass
  seeds = []
  for name in experiments:
    config = importlib.import_module(
        f"experiments.configs.{name}").get_config(preset)
    seeds.append(f"{name}: {config.get('seed', 'n/a')}")
  return (
      f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, JAX devices "
      f"{', '.join(str(d) for d in jax.devices())}. Versions: "
      + ", ".join(f"{k} {v}" for k, v in versions.items())
      + f". Seeds: {'; '.join(seeds)}. Started "
      + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + ".\n")


def run_all(preset: str, workdir: str,
            experiments=EXPERIMENTS) -> tuple[str, list[str]]:
  """Runs ``experiments`` with ``preset``; returns (report markdown, failures).

  Raises:
    ValueError: before any work, for an unknown preset or experiment name.
  """
  if preset not in PRESETS:
    raise ValueError(f"Unknown preset {preset!r}; use one of {PRESETS}.")
  for name in experiments:
    if name not in EXPERIMENTS:
      raise ValueError(f"Unknown experiment {name!r}; known: "
                       f"{', '.join(EXPERIMENTS)}.")
  if not workdir:
    raise ValueError("workdir must be a directory path.")
  os.makedirs(workdir, exist_ok=True)
  env = environment(preset, experiments)
  sections, timings, failures = [], [], []
  total_start = time.perf_counter()
  for name in experiments:
    start = time.perf_counter()
    try:
      module = importlib.import_module(f"experiments.{name}")
      config = importlib.import_module(
          f"experiments.configs.{name}").get_config(preset)
      section = module.run(config, os.path.join(workdir, name))
      status = "ok"
      sections.append(_relink(section, name))
    except Exception:  # pylint: disable=broad-except
      status = "FAILED"
      failures.append(name)
      sections.append(f"## {name}: FAILED\n\n```\n{traceback.format_exc()}"
                      "```\n")
    seconds = time.perf_counter() - start
    # Each compiled program keeps memory mappings on XLA's CPU backend; one
    # process compiling every experiment can pass vm.max_map_count, and XLA
    # then segfaults in a compile. Experiments share no programs: drop them.
    jax.clear_caches()
    timings.append({"experiment": name, "status": status,
                    "seconds": round(seconds, 1)})
    print(f"[reproduce_figures] {name}: {status} in {seconds:.1f} s",
          flush=True)
  total = time.perf_counter() - total_start
  header = (
      "# nash_align: reproduced figures\n\n"
      f"Preset `{preset}`; total {total:.1f} s.\n\n"
      f"Command: `python -m experiments.reproduce_figures --preset={preset} "
      f"--workdir={workdir}`\n\n" + env + "\n"
      + common.markdown_table(timings) + "\n")
  report = header + "\n".join(sections)
  common.atomic_write_text(os.path.join(workdir, "report.md"), report)
  common.write_json(os.path.join(workdir, "timings.json"),
                    {"preset": preset, "total_seconds": total,
                     "experiments": timings})
  return report, failures


def _define_flags():
  flags.DEFINE_enum("preset", "quick", PRESETS, "Config preset for all.")
  flags.DEFINE_list("only", None, "Run only these experiments.")


def main(unused_config, workdir: str) -> str:
  """Runs the experiments named by ``--only`` (default all) with ``--preset``."""
  f = flags.FLAGS
  experiments = tuple(f.only) if f.only else EXPERIMENTS
  _, failures = run_all(f.preset, workdir, experiments)
  if failures:
    raise SystemExit(f"experiments failed: {', '.join(failures)}")
  return f"report: {os.path.join(workdir, 'report.md')}"


if __name__ == "__main__":
  common.app_main(main, None, define_flags=_define_flags)
