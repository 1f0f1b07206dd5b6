"""Multi-process runs: 2 processes x 2 CPU devices on localhost.

Each process joins a ``jax.distributed`` job (gloo CPU collectives) and runs
``tests/_distributed_worker.py``; the Monte Carlo estimate over the 4 global
devices must equal, bit for bit, the single-process estimate, and a batched
``solve`` of games sharded over the 4 devices must give in every process the answers
of one unsharded call (the same convergence flags; strategies, values and
gaps up to float32 rounding).
"""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from nash_align import montecarlo
from nash_align import solvers

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import _distributed_worker as worker  # pylint: disable=g-import-not-at-top,wrong-import-position

_TIMEOUT_S = 240


def _free_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


@pytest.fixture(scope="module")
def worker_results():
  port = _free_port()
  env = dict(os.environ)
  root = os.path.dirname(_HERE)
  env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
  env.pop("XLA_FLAGS", None)
  procs = [subprocess.Popen(
      [sys.executable, os.path.join(_HERE, "_distributed_worker.py"),
       str(port), str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True, env=env, cwd=root) for i in range(2)]
  outputs = []
  try:
    for p in procs:
      stdout, stderr = p.communicate(timeout=_TIMEOUT_S)
      outputs.append((p.returncode, stdout, stderr))
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.communicate()
  results = []
  for i, (rc, stdout, stderr) in enumerate(outputs):
    lines = [l for l in stdout.splitlines() if l.startswith("RESULT ")]
    assert rc == 0 and lines, (
        f"process {i} exited with {rc}:\n{stdout[-2000:]}\n{stderr[-4000:]}")
    results.append(json.loads(lines[-1][len("RESULT "):]))
  return results


def test_distributed_montecarlo_equals_single_process(worker_results):
  ref = montecarlo.estimate(jax.random.key(0), "impartial_culture_counts",
                            list(worker.MC_STATISTICS), worker.MC_SAMPLES,
                            devices=jax.devices()[:1], **worker.MC_ARGS)
  for res in worker_results:
    for name, e in ref.items():
      got = res["estimate"][name]
      assert got["num_samples"] == e.num_samples == worker.MC_SAMPLES
      for field in ("mean", "low", "high"):
        np.testing.assert_array_equal(np.asarray(got[field]),
                                      np.asarray(getattr(e, field)))


def test_distributed_sharded_solve_equals_one_call(worker_results):
  a = worker.games()
  ref = jax.jit(lambda x: solvers.solve(x, method="simplex",
                                        tol=worker.SOLVE_TOL))(a)
  first = worker_results[0]["solve"]
  for res in worker_results:
    assert res["solve"] == first  # every process gathers the same answers
  for field in ("row", "col", "value", "gap"):
    # Equal up to float32 rounding: a device's batch of 4 games is vectorised
    # differently from one call's 16 (differences of 1 ulp were seen).
    np.testing.assert_allclose(np.asarray(first[field]),
                               np.asarray(getattr(ref, field)),
                               rtol=0, atol=1e-6, err_msg=field)
  np.testing.assert_array_equal(np.asarray(first["converged"]),
                                np.asarray(ref.converged))
  assert np.all(np.asarray(first["converged"]))
