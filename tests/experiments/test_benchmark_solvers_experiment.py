"""Smoke test of experiments/benchmark_solvers.py on a tiny grid (< 15 s).

Checks the harness end to end (games, library call, HiGHS / nashpy /
pref_voting baselines, independent certificates, n/a marking, CSV / markdown
/ PNG outputs, resume) and its certificate against brute force.
"""

import csv
import os

import numpy as np
import pytest

from experiments import benchmark_solvers as bench
from experiments.configs import benchmark_solvers as bench_config


def _tiny_config():
  c = bench_config.get_config("quick")
  c.ns = (4,)
  c.batches = (3,)
  c.families = "margin,kl_margin"
  c.methods = "auto"
  c.baselines = "highs,nashpy,pref_voting"
  c.nashpy_max_n = 4
  c.min_timing_s = 0.0
  c.max_timing_repeats = 1
  return c


def test_unknown_preset_and_names():
  with pytest.raises(ValueError, match="paper"):
    bench_config.get_config("paper")
  c = _tiny_config()
  c.methods = "no_such_method"
  with pytest.raises(ValueError, match="no_such_method"):
    bench.library_methods(c)
  c.methods = "auto,auto@jit,simplex@shard"
  assert bench.library_methods(c) == ("auto", "auto@jit", "simplex@shard")
  c.methods = "auto@gpu"
  with pytest.raises(ValueError, match="unknown path 'gpu'"):
    bench.library_methods(c)
  with pytest.raises(ValueError, match="host_devices"):
    bench.use_host_devices(-1)
  bench.use_host_devices(0)  # leaves JAX as it is


def test_certify_against_brute_force():
  # Rock-paper-scissors: uniform is the equilibrium, a pure strategy is not.
  rps = np.array([[[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]]])
  u = np.full((1, 3), 1 / 3)
  assert bench.certify(rps, u, u)[0] == pytest.approx(0.0, abs=1e-15)
  e0 = np.array([[1., 0., 0.]])
  assert bench.certify(rps, e0, e0)[0] == pytest.approx(2.0)
  # Off-simplex input is clipped and renormalised; NaN is uncertified.
  assert bench.certify(rps, 2 * u, u)[0] == pytest.approx(0.0, abs=1e-15)
  assert bench.certify(rps, np.full((1, 3), np.nan), u)[0] == np.inf
  # KL-regularized 2x2 game: closed-form gap vs a grid over both players'
  # deviations of f(x, y) = x^T A y - b KL(x||r) + b KL(y||r).
  rng = np.random.default_rng(0)
  a = rng.normal(size=(2, 2))
  r = np.array([0.3, 0.7])
  beta, x, y = 0.2, np.array([0.6, 0.4]), np.array([0.25, 0.75])
  t = np.linspace(1e-9, 1 - 1e-9, 200001)
  grid = np.stack([t, 1 - t], -1)

  def kl(p):
    return np.sum(p * np.log(p / r), -1)

  best_row = np.max(grid @ a @ y - beta * kl(grid)) + beta * kl(y)
  best_col = np.min(x @ a @ grid.T + beta * kl(grid)) - beta * kl(x)
  got = bench.certify(a[None], x[None], y[None], r[None], beta)[0]
  assert got == pytest.approx(best_row - best_col, rel=1e-6, abs=1e-9)


def test_tiny_grid_end_to_end(tmp_path):
  config = _tiny_config()
  workdir = str(tmp_path)
  text = bench.run(config, workdir, log=lambda *_: None)
  with open(os.path.join(workdir, "results.csv")) as f:
    rows = {(r["solver"], r["family"]): r for r in csv.DictReader(f)}
  assert set(rows) == {(s, f) for s in ("auto", "highs", "nashpy",
                                        "pref_voting")
                       for f in ("margin", "kl_margin")}
  for solver in ("auto", "highs", "pref_voting"):
    r = rows[(solver, "margin")]
    assert r["status"] == "ok", r
    assert int(r["games_run"]) == 3
    assert float(r["certified_frac"]) == 1.0
    assert float(r["gap_max"]) <= config.tol
    assert float(r["games_per_s"]) > 0
  assert rows[("auto", "margin")]["false_certificates"] == "0"
  # The regularized game: the library solves it, no baseline can.
  assert rows[("auto", "kl_margin")]["status"] == "ok"
  assert float(rows[("auto", "kl_margin")]["certified_frac"]) == 1.0
  for solver in ("highs", "nashpy", "pref_voting"):
    assert rows[(solver, "kl_margin")]["status"].startswith("n/a")
  assert "Command:" in text and "x_highs" in text
  assert os.path.getsize(os.path.join(workdir, "games_per_s.png")) > 1000
  # Resume: a second run reads the stored cells and recomputes nothing.
  text2 = bench.run(config, workdir, log=lambda *_: None)
  assert text2.split("### All results")[1] == text.split("### All results")[1]


def test_margin_games_are_exact_margins():
  config = _tiny_config()
  import jax  # pylint: disable=g-import-not-at-top
  cell = bench.make_games("margin", config, 5, 7, jax.devices()[0])
  A = np.asarray(cell["A"], np.float64)
  assert A.shape == (7, 5, 5)
  np.testing.assert_array_equal(A, -np.swapaxes(A, -1, -2))
  # 101 voters, no ties: 2 * 101 * A_ij = c_ij - c_ji is an odd integer.
  d = 2 * config.num_voters * A[:, ~np.eye(5, dtype=bool)]
  np.testing.assert_allclose(d, np.round(d), atol=1e-3)
  assert np.all(np.round(d) % 2 == 1)
