#!/usr/bin/env bash
# One command on a fresh machine: install everything, then train on the bundled PBMC data and generate
# every cell type (scdiffusion quickstart). Extra arguments go to the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/scdiffusion quickstart --output-dir scdiffusion_quickstart --overwrite "$@"
