#!/usr/bin/env bash
# R support of the Python package: read and write SingleCellExperiment .rds files (README section
# "SingleCellExperiment .rds files"). Installs rpy2 into ./.venv (the extra [r]; it builds against the R found
# on PATH) and this repository's R package scDiffusion, which holds the conversion, into a library R sees:
# $SCDIFFUSION_R_LIBRARY if set, else R's first writable library (e.g. /usr/local/lib/R/site-library as root),
# else .venv/R-library (scdiffusion looks there by itself).
# Needs ./.venv (bash scripts/install.sh) and R with SingleCellExperiment (bash scripts/install-r.sh).
# Idempotent: the R package is reinstalled only when its sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
if ! command -v Rscript >/dev/null 2>&1; then
  echo "install-r-support.sh: R is not installed; run 'bash scripts/install-r.sh' first (Debian/Ubuntu)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "install-r-support.sh: ./.venv is missing; run 'bash scripts/install.sh' first." >&2
  exit 1
fi

# rpy2 (<3.6 for R 4.2): compiled against R, so installed after R
if ! .venv/bin/python -c 'import rpy2, sys; sys.exit(not rpy2.__version__.startswith("3.5."))' 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[r]"
fi

# the R package scDiffusion, from a copy of its sources as git sees them (inst/python/scdiffusion is a symbolic
# link to python/scdiffusion, which R CMD INSTALL follows; the working tree stays clean)
SCDIFFUSION_R_LIBRARY="${SCDIFFUSION_R_LIBRARY:-}"
LIB="${SCDIFFUSION_R_LIBRARY%%:*}"
if [ -z "$LIB" ]; then
  LIB="$(Rscript -e 'p <- .libPaths(); p <- p[file.access(p, 2) == 0]; cat(if (length(p)) p[1] else "")')"
  [ -n "$LIB" ] || LIB="$ROOT/.venv/R-library"
fi
mkdir -p "$LIB"
SOURCES=(DESCRIPTION NAMESPACE LICENSE R man inst configure configure.win python/scdiffusion)
# files by content, symbolic links by target (sha256sum cannot read a link to a folder)
hash_sources() {
  while IFS= read -r -d '' f; do
    if [ -L "$f" ]; then echo "link $f -> $(readlink "$f")"; elif [ -f "$f" ]; then sha256sum "$f"; fi
  done
}
HASH="$(git ls-files -co --exclude-standard -z -- "${SOURCES[@]}" | sort -z | hash_sources | sha256sum | cut -c1-64)"
STAMP="$LIB/scDiffusion/SCDIFFUSION_SOURCES_SHA256"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  echo "R package scDiffusion is up to date in $LIB"
else
  STAGE="$(mktemp -d -t scdiffusion-rpkg-XXXXXX)"
  trap 'rm -rf "$STAGE"' EXIT
  mkdir -p "$STAGE/scDiffusion"
  git ls-files -co --exclude-standard -z -- "${SOURCES[@]}" |
    xargs -0 -I{} cp --parents -P "{}" "$STAGE/scDiffusion/"
  chmod +x "$STAGE/scDiffusion/configure"
  if ! R CMD INSTALL --no-test-load -l "$LIB" "$STAGE/scDiffusion" > "$STAGE/install.log" 2>&1; then
    cat "$STAGE/install.log" >&2
    echo "install-r-support.sh: R CMD INSTALL failed" >&2
    exit 1
  fi
  echo "$HASH" > "$STAMP"
  echo "Installed the R package scDiffusion into $LIB"
fi

SCDIFFUSION_R_LIBRARY="$LIB${SCDIFFUSION_R_LIBRARY:+:$SCDIFFUSION_R_LIBRARY}" .venv/bin/python -c '
from scdiffusion.data.rds import r_support_problem
problem = r_support_problem()
if problem:
    raise SystemExit(f"install-r-support.sh: .rds support does not work: {problem}")
print("scdiffusion reads and writes SingleCellExperiment .rds files")'
