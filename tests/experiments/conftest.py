"""Every test under tests/experiments/ is an end-to-end run: marked ``slow``."""

import importlib

import pytest


def pytest_collection_modifyitems(config, items):
  del config
  for item in items:
    if "tests/experiments/" in str(item.fspath).replace("\\", "/"):
      item.add_marker(pytest.mark.slow)


@pytest.fixture
def experiment_config():
  """``make(name, preset="quick", **overrides)``: an experiment's config."""

  def make(name, preset="quick", **overrides):
    config = importlib.import_module(
        f"experiments.configs.{name}").get_config(preset)
    config.update(overrides)
    return config

  return make
