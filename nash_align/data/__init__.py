"""Real preference data: shipped judgment tables, PrefLib elections, analysis.

``load(name)`` returns a shipped dataset (``PairwiseJudgments`` for the LLM
judgment sets, ``PrefLibElection`` for the PrefLib elections);
``read_preflib(path)`` reads any ``.soc/.soi/.toc/.toi`` file and
``read_pairwise_csv(path)`` any judgment table in the shipped CSV layout.
``nash_align.data.analysis`` runs the library's social-choice tools on them.
Files, licenses and citations: ``nash_align/data/files/`` (README.md there).
"""

from nash_align.data import analysis
from nash_align.data.loaders import DATASETS
from nash_align.data.loaders import dataset_path
from nash_align.data.loaders import FILES_DIR
from nash_align.data.loaders import load
from nash_align.data.loaders import PairwiseJudgments
from nash_align.data.loaders import PREFLIB_DATASETS
from nash_align.data.loaders import read_pairwise_csv
from nash_align.data.preflib import FORMATS
from nash_align.data.preflib import PrefLibElection
from nash_align.data.preflib import read_preflib

__all__ = (
    "DATASETS",
    "FILES_DIR",
    "FORMATS",
    "PREFLIB_DATASETS",
    "PairwiseJudgments",
    "PrefLibElection",
    "analysis",
    "dataset_path",
    "load",
    "read_pairwise_csv",
    "read_preflib",
)
