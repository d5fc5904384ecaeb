#!/usr/bin/env bash
# Run every test: installs what is missing (Python venv with the test extra; R and Bioconductor packages from
# Debian when the R package is present, with the Python package's R support for .rds files), then lints the
# Python code (ruff check, configuration in ruff.toml), then the Python tests, the oldest allowed dependency
# versions (tools/test-floors.sh), the R package against an environment built from its basilisk pins
# (tools/basilisk-pins-smoke.sh), then the R tests and vignettes.
# The benchmarks' --quick runs go without the bench extra (scvi-tools, celltypist, pyreadr): they skip those rows
# (measured 2026-12-02: the four --quick tests 159 s without it, 181 s with it, plus ~80 s to install it).
# Cost of the two extra environments on the shared 2-core machine (cold venv, cached wheels): floors 228 s
# (build 80 s, tests 140 s), basilisk pins 194 s (build 98 s, R 85 s); a fresh clone builds both, a checkout
# reuses them until the floors or pins change.
# Last, the documentation site (scripts/build-docs.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
status=0
# lint first (ruff.toml; ruff pinned in the test extra): well under a second, and its failure fails the run
.venv/bin/ruff check --no-cache . || status=$?
with_r=0
if [ -f DESCRIPTION ] && [ -f tools/run-r-tests.sh ] && [ "${SCDIFFUSION_SKIP_R:-0}" != "1" ]; then
  bash scripts/install-r.sh   # also gives the HSMM benchmark its data
  bash scripts/install-r-support.sh   # rpy2 + the R package: the Python side reads/writes .rds files
  with_r=1
fi
# with R installed, the .rds tests must run, not skip. Two pytest-xdist workers, each test file on one worker
# (a module's tests keep their order and module state) and one torch thread per worker, so the two do not
# oversubscribe the cores: on the 2-core machine 14.8 min instead of 28.1 in one process (2026-12-07; the longest
# file, test_benchmarks_quick.py at ~13 min of one worker, bounds it).
# SCDIFFUSION_TEST_WORKERS=1 runs it in one process.
workers=${SCDIFFUSION_TEST_WORKERS:-2}
SCDIFFUSION_REQUIRE_R="$with_r" SCDIFFUSION_THREADS=1 .venv/bin/python -m pytest tests/python -q -p no:cacheprovider \
  -n "$workers" --dist loadfile || status=$?
bash tools/test-floors.sh || status=$?
if [ "$with_r" = 1 ]; then
  bash tools/basilisk-pins-smoke.sh || status=$?
  SCDIFFUSION_PYTHON="$PWD/.venv" bash tools/run-r-tests.sh || status=$?
fi
# the documentation site, offline, warnings as errors (tutorials executed: one short training on one thread)
if [ "${SCDIFFUSION_SKIP_DOCS:-0}" != "1" ]; then
  SCDIFFUSION_DOCS_VENV=.venv bash scripts/build-docs.sh || status=$?
fi
exit $status
