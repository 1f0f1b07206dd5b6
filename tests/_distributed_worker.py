"""One process of tests/test_distributed.py (run as a script, not collected).

``python tests/_distributed_worker.py PORT PROCESS_ID``: joins a 2-process
``jax.distributed`` job on localhost (2 CPU devices each, gloo collectives),
runs the Monte Carlo estimate and a batched ``solve`` sharded over the 4
global devices, and prints the results as one JSON line.
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=2")
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

# The test module imports these for the single-process reference.
MC_ARGS = dict(num_alternatives=5, num_voters=11, chunk_size=96,
               block_size=16, progress=False)
MC_STATISTICS = ("condorcet_winner_exists", "smith_set_size_distribution")
MC_SAMPLES = 700
SOLVE_TOL = 1e-5


def games():
  """16 random 6x6 zero-sum games (float32), the same in every process."""
  return np.random.default_rng(7).normal(size=(16, 6, 6)).astype(np.float32)


def main(port: int, process_id: int) -> None:
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address=f"localhost:{port}",
                             num_processes=2, process_id=process_id)
  # pylint: disable-next=g-import-not-at-top
  from nash_align import montecarlo, solvers
  assert jax.process_count() == 2 and jax.device_count() == 4, (
      jax.process_count(), jax.devices())
  assert jax.local_device_count() == 2

  est = montecarlo.estimate(jax.random.key(0), "impartial_culture_counts",
                            list(MC_STATISTICS), MC_SAMPLES, **MC_ARGS)
  out = {"estimate": {name: {"mean": np.asarray(e.mean).tolist(),
                             "low": np.asarray(e.low).tolist(),
                             "high": np.asarray(e.high).tolist(),
                             "num_samples": e.num_samples}
                      for name, e in est.items()}}

  a = games()
  mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("games",))
  sharding = jax.sharding.NamedSharding(mesh,
                                        jax.sharding.PartitionSpec("games"))
  a_global = jax.make_array_from_callback(a.shape, sharding,
                                          lambda index: a[index])
  result = jax.jit(lambda x: solvers.solve(x, method="simplex",
                                           tol=SOLVE_TOL))(a_global)
  gathered = {}
  for field in ("row", "col", "value", "gap", "converged"):
    x = getattr(result, field)
    gathered[field] = np.asarray(
        multihost_utils.process_allgather(x, tiled=True)).tolist()
  out["solve"] = gathered
  out["process_id"] = jax.process_index()
  print("RESULT " + json.dumps(out), flush=True)
  jax.distributed.shutdown()


if __name__ == "__main__":
  main(int(sys.argv[1]), int(sys.argv[2]))
