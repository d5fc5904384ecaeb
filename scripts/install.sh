#!/usr/bin/env bash
# Install the Python package and its dependencies into ./.venv (idempotent).
# torch is pinned to 2.13.0: on this project's CPU machines pip takes a local CPU wheel in seconds,
# where an unpinned torch would pull several GB of CUDA libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test,bench]"
.venv/bin/python -c "import scdiffusion, torch; print(f'scdiffusion {scdiffusion.__version__} with torch {torch.__version__} in .venv')"
