#!/usr/bin/env bash
# Runs the accelerator presets of the benchmarks on one GPU/TPU host, each
# under its own time cap, and gathers their results in one folder.
#
#   bash experiments/accelerator_presets.sh OUT_DIR [MC_SECONDS] [SOLVERS_SECONDS]
#
# OUT_DIR receives env.txt, montecarlo.{json,log}, solvers.log and
# solver_cells.jsonl (one JSON row per finished cell, also when the solver
# benchmark hit its cap). Run from the repository root with nash_align and its
# dependencies importable (pip install -e . or PYTHONPATH=.).
set -uo pipefail
out="${1:?usage: accelerator_presets.sh OUT_DIR [MC_SECONDS] [SOLVERS_SECONDS]}"
mc_seconds="${2:-170}"
solvers_seconds="${3:-330}"
mkdir -p "$out"
work="$(mktemp -d)"
export PYTHONUNBUFFERED=1
# The memory probes start JAX in subprocesses: no process may hold 75% of the
# device up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

{
  date -u '+%Y-%m-%d %H:%M UTC'
  nvidia-smi -L 2>/dev/null || true
  python3 -c 'import jax, jaxlib, flax, optax, numpy; print("jax", jax.__version__, "jaxlib", jaxlib.__version__, "flax", flax.__version__, "optax", optax.__version__, "numpy", numpy.__version__); print(jax.devices())'
  # Smoke: one certified jitted solve on the device, gap re-checked in float64.
  python3 - <<'EOF'
import time, jax, jax.numpy as jnp, numpy as np
from nash_align import solvers
key = jax.random.PRNGKey(0)
U = jax.random.normal(key, (512, 50, 50))
A = U - jnp.swapaxes(U, -1, -2)
f = jax.jit(lambda a: solvers.solve(a, tol=1e-6))
t = time.perf_counter(); r = f(A); jax.block_until_ready(r)
print("smoke: first jitted call (compile + run) %.1f s" % (time.perf_counter() - t))
gap = solvers.duality_gap(np.asarray(A, np.float64), np.asarray(r.row, np.float64), np.asarray(r.col, np.float64))
conv = np.asarray(r.converged)
print("smoke: converged %d/512, max float64 gap of converged %.3g, false certificates %d"
      % (conv.sum(), gap[conv].max(), int((gap[conv] > 1e-6).sum())))
EOF
} 2>&1 | tee "$out/env.txt"

timeout "$mc_seconds" python3 -m experiments.benchmark_montecarlo \
  --config=experiments/configs/benchmark_montecarlo.py:accelerator \
  --workdir="$work/montecarlo" 2>&1 | tee "$out/montecarlo.log"
cp "$work/montecarlo/benchmark_montecarlo.json" "$out/montecarlo.json" 2>/dev/null

timeout "$solvers_seconds" python3 -m experiments.benchmark_solvers \
  --config=experiments/configs/benchmark_solvers.py:accelerator \
  --workdir="$work/solvers" 2>&1 | tee "$out/solvers.log"
for f in "$work"/solvers/cells/*.json; do
  [ -e "$f" ] && python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["row"]))' "$f"
done > "$out/solver_cells.jsonl"
cp "$work/solvers/results.md" "$out/solvers_results.md" 2>/dev/null
echo "accelerator_presets: done; cells: $(wc -l < "$out/solver_cells.jsonl")"
