#!/usr/bin/env bash
# Build the documentation site into docs/_build/html, offline, every warning an error (-W).
# Installs the package with its `docs` extra (pinned Sphinx, sphinx-gallery, myst-parser, sphinx-click) into
# its own virtualenv, docs/_build/venv, or into SCDIFFUSION_DOCS_VENV (scripts/test.sh uses .venv). The
# tutorials run during the build: one short training on one thread, its model cached in
# docs/_build/tutorial-cache/ (sphinx-gallery re-runs only changed tutorials on a rebuild).
# Extra arguments go to sphinx-build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SCDIFFUSION_DOCS_VENV:-docs/_build/venv}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
# torch pinned first: an unpinned torch would pull several GB of CUDA libraries (see scripts/install.sh)
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[docs]"
export SCDIFFUSION_THREADS="${SCDIFFUSION_THREADS:-1}" MPLBACKEND=Agg
"$VENV/bin/python" -m sphinx -W --keep-going -b html docs docs/_build/html "$@"
echo "Documentation: $PWD/docs/_build/html/index.html"
