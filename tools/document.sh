#!/usr/bin/env bash
# Regenerate R/options.R (from python/scdiffusion/options.py), then NAMESPACE, man/ and DESCRIPTION's Collate
# (roxygen2), in a staged copy of the package, and copy them back. Run after changing options or R docs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
"$PY" "$ROOT/tools/make_r_options.py"
STAGE="$(mktemp -d -t scdiffusion-doc-XXXXXX)"
trap 'rm -rf "$STAGE"' EXIT
(cd "$ROOT" && git ls-files -co --exclude-standard -z) | (cd "$ROOT" && xargs -0 -I{} cp --parents -P "{}" "$STAGE/")
(cd "$STAGE" && Rscript -e 'suppressMessages(roxygen2::roxygenise())' > "$STAGE/roxygen.log" 2>&1) || {
    cat "$STAGE/roxygen.log" >&2
    exit 1
}
grep -i "warning" "$STAGE/roxygen.log" >&2 || true
rm -f "$ROOT"/man/*.Rd
cp "$STAGE"/man/*.Rd "$ROOT/man/"
cp "$STAGE/NAMESPACE" "$STAGE/DESCRIPTION" "$ROOT/"
echo "Updated R/options.R, NAMESPACE, DESCRIPTION and man/"
