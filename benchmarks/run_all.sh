#!/usr/bin/env bash
# Run the six benchmarks of the generated results section (full budgets) one after the other, then rebuild benchmarks/README.md's table.
# Usage: bash benchmarks/run_all.sh [extra args for every benchmark, e.g. --quick --output-dir is not shared]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# the baselines and readers of the benchmarks (scvi-tools, celltypist, pyreadr): the bench extra
[ -n "${PYTHON:-}" ] || bash scripts/install.sh bench
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mkdir -p benchmarks/results/tmp/logs
for b in unconditional conditional unseen_combination interpolation trajectory hsmm_trajectory; do
  echo "== $b"
  "$PY" benchmarks/$b.py "$@" 2>&1 | tee benchmarks/results/tmp/logs/$b.log
done
"$PY" benchmarks/make_table.py
