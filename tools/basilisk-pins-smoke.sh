#!/usr/bin/env bash
# The environment Bioconductor users get, tested: a virtualenv with exactly the pip pins of R/basilisk.R (written
# by tools/make_basilisk_pins.py from pyproject.toml) plus the Python core that the installed R package ships
# (system.file("python", package = "scDiffusion"), which basilisk installs the same way), then the R package
# driven against it by tools/basilisk-pins-smoke.R: generate -> evaluateGeneration -> plotComparison ->
# interpolate on the example model, every metric group computed.
#
# Needs python3 (basilisk uses Python 3.11), ./.venv (bash scripts/install.sh; it reads the pins) and R with
# this checkout's R package installed (bash scripts/install-r.sh && bash scripts/install-r-support.sh; a library
# given in SCDIFFUSION_R_LIBRARY is searched first).
# Env: PINS_VENV  where to build the environment (default .venv-pins; rebuilt when the pins or the core change)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="${PINS_VENV:-$ROOT/.venv-pins}"
t0=$SECONDS
export R_LIBS="${SCDIFFUSION_R_LIBRARY:+$SCDIFFUSION_R_LIBRARY:}$ROOT/.venv/R-library${R_LIBS:+:$R_LIBS}"
CORE="$(Rscript -e 'cat(system.file("python", package = "scDiffusion"))')"
if [ -z "$CORE" ] || [ ! -f "$CORE/scdiffusion/_version.py" ]; then
  echo "basilisk-pins-smoke.sh: the R package scDiffusion (with its Python core) is not installed; run" \
    "bash scripts/install-r-support.sh" >&2
  exit 1
fi
PINS="$(.venv/bin/python tools/make_basilisk_pins.py --print)"
STAMP="$( { echo "$PINS"; (cd "$CORE" && find . -type f -name '*.py' -o -name pyproject.toml | sort | xargs sha256sum); } |
  sha256sum | cut -c1-64)"
if [ -f "$VENV/PINS_SHA256" ] && [ "$(cat "$VENV/PINS_SHA256")" = "$STAMP" ]; then
  echo "== $VENV is up to date with the pins"
else
  echo "== building $VENV from the pins of R/basilisk.R: $(echo "$PINS" | tr '\n' ' ')"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  echo "$PINS" > "$VENV/pins.txt"
  # --no-compile: Python compiles what the test imports, not all of torch and sympy (a minute of CPU)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile -r "$VENV/pins.txt"
  # the core as basilisk installs it (BasiliskEnvironment(paths = "python")), from a copy: pip writes build files
  STAGE="$(mktemp -d -t scdiffusion-core-XXXXXX)"
  trap 'rm -rf "$STAGE"' EXIT
  cp -RL "$CORE" "$STAGE/python"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$STAGE/python"
  echo "$STAMP" > "$VENV/PINS_SHA256"
fi
# what is installed is exactly the pins (pip check: and nothing is broken), and the core is the installed copy
(cd /tmp && "$VENV/bin/python" - "$VENV/pins.txt" <<'EOF'
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

import scdiffusion

for line in Path(sys.argv[1]).read_text().split():
    req = Requirement(line)
    version = Version(metadata.version(req.name))
    assert version in req.specifier, f"{req.name} {version} installed, pinned {req}"
assert Path(scdiffusion.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), scdiffusion.__file__
print(f"== {sys.prefix}: the pins and scdiffusion {scdiffusion.__version__} from the R package's core")
EOF
)
"$VENV/bin/python" -m pip check --disable-pip-version-check
echo "== environment ready after $((SECONDS - t0)) s; the R package against it"
SCDIFFUSION_PYTHON="$VENV" OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" Rscript tools/basilisk-pins-smoke.R
echo "== basilisk pins smoke test took $((SECONDS - t0)) s"
