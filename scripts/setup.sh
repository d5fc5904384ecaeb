#!/usr/bin/env bash
# One command on a fresh machine: install everything, then train on the bundled PBMC data and generate
# every cell type (scdiffusion quickstart). Extra arguments go to the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# SingleCellExperiment .rds support (rpy2 + the R package) when R is installed, or when asked to install R
# from Debian first (SCDIFFUSION_WITH_R=1); README section "SingleCellExperiment .rds files".
if [ "${SCDIFFUSION_WITH_R:-0}" = 1 ]; then
  bash scripts/install-r.sh
fi
if command -v Rscript >/dev/null 2>&1; then
  bash scripts/install-r-support.sh || echo "setup.sh: .rds support was not installed (see above); .h5ad files work." >&2
else
  echo "setup.sh: R is not installed, so .rds files are not supported; for them run SCDIFFUSION_WITH_R=1 bash scripts/setup.sh" >&2
fi
# One CPU thread unless SCDIFFUSION_THREADS says otherwise: the trained model then depends neither on the number
# of cores nor on the load (bit-identical), so the figures printed are the README's, stored in
# benchmarks/results/quickstart/summary.json (other thread counts train a different, equally good model with
# somewhat different figures; a different torch build or CPU kind may also change the last digits).
SCDIFFUSION_THREADS="${SCDIFFUSION_THREADS:-1}" \
  .venv/bin/scdiffusion quickstart --output-dir scdiffusion_quickstart --overwrite "$@"
