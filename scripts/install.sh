#!/usr/bin/env bash
# Install the Python package and its dependencies into ./.venv (idempotent).
#   bash scripts/install.sh              the package and what it needs to run (the quickstart included)
#   bash scripts/install.sh test         ... plus the test tools (scripts/test.sh does this)
#   bash scripts/install.sh bench        ... plus the benchmarks' baselines and readers (scvi-tools, celltypist,
#                                        pyreadr); extras combine: bash scripts/install.sh test bench
# Extras installed earlier stay installed.
# torch is pinned to 2.13.0: on this project's CPU machines pip takes a local CPU wheel in seconds,
# where an unpinned torch would pull several GB of CUDA libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
extras=""
for extra in "$@"; do
  case "$extra" in
    test|bench|r) extras="${extras:+$extras,}$extra" ;;
    *) echo "install.sh: unknown extra '$extra' (known: test, bench, r)" >&2; exit 2 ;;
  esac
done
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
.venv/bin/python -c "import scdiffusion, torch; print(f'scdiffusion {scdiffusion.__version__} with torch {torch.__version__} in .venv')"
