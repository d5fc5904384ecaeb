#!/usr/bin/env bash
# The oldest versions pyproject.toml allows, tested: a virtualenv with every runtime dependency at its floor (the
# '>=' bound of [project] dependencies, exactly), the package and pytest, then the Python tests that cover
# import, training a tiny model, generation, save/load, .h5ad input and output (in memory and backed) and the
# metrics with POT, scanpy, scikit-learn and matplotlib.
#
# torch is the exception: it is installed at 2.13.0, the CPU wheel this project's machines take locally; the
# torch wheels of older releases on PyPI pull several GB of CUDA libraries. The torch floor is what the code uses
# (nothing newer than 2.1), not a tested version.
#
# Needs ./.venv (bash scripts/install.sh test; it reads pyproject.toml with packaging).
# Env: FLOORS_VENV  where to build the environment (default .venv-floors; rebuilt when the floors change)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="${FLOORS_VENV:-$ROOT/.venv-floors}"
t0=$SECONDS
FLOORS="$(.venv/bin/python - <<'EOF'
import tomllib

from packaging.requirements import Requirement

for line in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    req = Requirement(line)
    floors = [s.version for s in req.specifier if s.operator == ">="]
    if len(floors) != 1:
        raise SystemExit(f"pyproject.toml: {line!r} needs exactly one '>=' floor")
    version = "2.13.0" if req.name == "torch" else floors[0]
    print(f"{req.name}=={version}")
EOF
)"
STAMP="$(echo "$FLOORS" | sha256sum | cut -c1-64)"
if [ -f "$VENV/FLOORS_SHA256" ] && [ "$(cat "$VENV/FLOORS_SHA256")" = "$STAMP" ]; then
  echo "== $VENV is up to date with the floors"
else
  echo "== building $VENV with the floors: $(echo "$FLOORS" | tr '\n' ' ')"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  echo "$FLOORS" > "$VENV/floors.txt"
  # the package without its dependencies: pip must not lift a floor to satisfy the package's own ranges
  # --no-compile: Python compiles what the tests import, not all of torch and sympy (a minute of CPU)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile -r "$VENV/floors.txt" "pytest>=7"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile --no-deps -e "$ROOT"
  echo "$STAMP" > "$VENV/FLOORS_SHA256"
fi
"$VENV/bin/python" -m pip check --disable-pip-version-check
"$VENV/bin/python" - "$VENV/floors.txt" <<'EOF'
import sys
from importlib import metadata

from packaging.version import Version

for line in open(sys.argv[1]).read().split():
    name, version = line.split("==")
    got = Version(metadata.version(name))
    assert Version(got.public) == Version(version), f"{name} {got} installed, the floor is {version}"
print("== installed at the floors:", ", ".join(open(sys.argv[1]).read().split()))
EOF
echo "== environment ready after $((SECONDS - t0)) s"
status=0
"$VENV/bin/python" -m pytest -q -p no:cacheprovider \
  tests/python/test_model.py tests/python/test_data.py tests/python/test_out_of_core.py \
  tests/python/test_distances.py tests/python/test_evaluation.py \
  -k "not same_distribution_pass_every_metric and not deeper_cells_fail" || status=$?
echo "== floors test took $((SECONDS - t0)) s"
exit $status
