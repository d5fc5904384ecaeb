#!/usr/bin/env bash
# Run every test: installs what is missing (Python venv; R and Bioconductor packages from Debian when the
# R package is present, with the Python package's R support for .rds files), then the Python tests, then the R
# tests and vignettes, then builds the documentation site (scripts/build-docs.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
with_r=0
if [ -f DESCRIPTION ] && [ -f tools/run-r-tests.sh ] && [ "${SCDIFFUSION_SKIP_R:-0}" != "1" ]; then
  bash scripts/install-r.sh   # also gives the HSMM benchmark its data
  bash scripts/install-r-support.sh   # rpy2 + the R package: the Python side reads/writes .rds files
  with_r=1
fi
status=0
# with R installed, the .rds tests must run, not skip
SCDIFFUSION_REQUIRE_R="$with_r" .venv/bin/python -m pytest tests/python -q -p no:cacheprovider || status=$?
if [ "$with_r" = 1 ]; then
  SCDIFFUSION_PYTHON="$PWD/.venv" bash tools/run-r-tests.sh || status=$?
fi
# the documentation site, offline, warnings as errors (tutorials executed: one short training on one thread)
if [ "${SCDIFFUSION_SKIP_DOCS:-0}" != "1" ]; then
  SCDIFFUSION_DOCS_VENV=.venv bash scripts/build-docs.sh || status=$?
fi
exit $status
