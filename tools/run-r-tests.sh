#!/usr/bin/env bash
# Build, check and test the scDiffusion R package the way Bioconductor's build system and
# remotes::install_github() do: plain 'R CMD build' of a git checkout (no staging, no configure, no roxygen),
# then 'R CMD check' (which runs the examples and the testthat tests, with the package imported, not attached,
# as Bioconductor's builders do) and BiocCheck (offline) on that tarball. The tests run once, inside the check;
# their counts are read from the check's tests/testthat.Rout.
#
# Assumes R and the Debian packages of scripts/install-r.sh (SingleCellExperiment, basilisk, reticulate,
# testthat, knitr, rmarkdown, pandoc, BiocStyle, scuttle, HSMMSingleCell, roxygen2, BiocCheck, an optimised
# BLAS) are installed, and SCDIFFUSION_PYTHON points to a Python environment where 'import scdiffusion' works
# (e.g. the repository's .venv): examples, tests and vignettes run their Python code there instead of letting
# basilisk download Miniconda.
#
# Usage: tools/run-r-tests.sh            (from anywhere inside the repository)
# Env:   R_CHECK_DIR   work folder (default: a new temporary folder)
#        SKIP_VIGNETTES=1   do not build the vignettes (build, check and BiocCheck then skip them)
#        SKIP_BIOCCHECK=1   do not run BiocCheck
# The checkout is the working tree as git sees it: tracked and untracked-but-not-ignored files, symbolic links
# kept (in CI, where the tree is clean, exactly HEAD).
# Last line: "R tests: N passed, N failed". Exit status 0 only if the docs are up to date, R CMD check and
# BiocCheck report no ERROR or WARNING, no test failed and the vignettes built.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${R_CHECK_DIR:-$(mktemp -d -t scdiffusion-rcheck-XXXXXX)}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
status=0
passed=0
failed=0
t_start=$SECONDS

if [ -z "${SCDIFFUSION_PYTHON:-}" ]; then
    echo "WARNING: SCDIFFUSION_PYTHON is not set: Python-backed examples, tests and vignette code are skipped." >&2
fi
export SCDIFFUSION_PYTHON="${SCDIFFUSION_PYTHON:-}"
export _R_CHECK_FORCE_SUGGESTS_=false
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# BiocManager (used by BiocCheck) reads Bioconductor's release calendar from bioconductor.org; offline it reads
# this copy (R 4.2: Bioconductor 3.16 release, 3.17 devel) instead of failing the version checks
export BIOCONDUCTOR_CONFIG_FILE="${BIOCONDUCTOR_CONFIG_FILE:-$ROOT/tools/bioc-config.yaml}"

# A copy of the working tree as a checkout has it: what git tracks or would track, links as links.
checkout() {
    rm -rf "$1"
    mkdir -p "$1"
    # (files deleted but not yet committed are listed and skipped)
    (cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 -r cp --parents -P -t "$1" 2>/dev/null) || true
}

SRC="$WORK/checkout/scDiffusion"
if [ -z "$(cd "$ROOT" && git status --porcelain)" ]; then
    echo "== checkout of HEAD ($(cd "$ROOT" && git rev-parse --short HEAD)) in $SRC"
else
    echo "== checkout of HEAD ($(cd "$ROOT" && git rev-parse --short HEAD)) plus uncommitted changes in $SRC"
fi
checkout "$SRC"

echo "== NAMESPACE and man/ are up to date (roxygen2; tools/document.sh regenerates them)"
DOCS="$WORK/roxygen/scDiffusion"
checkout "$DOCS"
if (cd "$DOCS" && Rscript -e 'suppressMessages(roxygen2::roxygenise())' > "$WORK/roxygen.log" 2>&1); then
    if ! diff -r -q "$SRC/man" "$DOCS/man" > "$WORK/docs.diff" || ! diff -q "$SRC/NAMESPACE" "$DOCS/NAMESPACE" >> "$WORK/docs.diff"; then
        cat "$WORK/docs.diff"
        echo "man/ or NAMESPACE differ from what roxygen2 writes: run tools/document.sh and commit" >&2
        status=1
    fi
else
    cat "$WORK/roxygen.log"
    echo "roxygen2 failed" >&2
    status=1
fi

echo "== R CMD build"
BUILD_ARGS=()
[ -n "${SKIP_VIGNETTES:-}" ] && BUILD_ARGS+=(--no-build-vignettes)
(cd "$WORK" && R CMD build "${BUILD_ARGS[@]}" "$SRC") > "$WORK/build.log" 2>&1 || {
    cat "$WORK/build.log"
    echo "R CMD build failed" >&2
    status=1
}
tail -n 4 "$WORK/build.log"
TARBALL="$(ls -t "$WORK"/scDiffusion_*.tar.gz 2>/dev/null | head -n 1)"
echo "build took $((SECONDS - t_start)) s"

if [ -n "$TARBALL" ]; then
    tar -tzf "$TARBALL" > "$WORK/tarball.txt"
    echo "== tarball: $(du -k "$TARBALL" | cut -f1) kB; Python core: $(grep -c '^scDiffusion/inst/python/scdiffusion/.*\.py$' "$WORK/tarball.txt") files"
    grep -q '^scDiffusion/inst/python/scdiffusion/_version.py$' "$WORK/tarball.txt" || {
        echo "the tarball lacks the Python core (inst/python/scdiffusion)" >&2
        status=1
    }
    echo "== vignettes built into the tarball:"
    grep '^scDiffusion/inst/doc/.*\.html$' "$WORK/tarball.txt" || {
        [ -z "${SKIP_VIGNETTES:-}" ] && { echo "vignettes were not built" >&2; status=1; }
    }

    echo "== R CMD check --no-manual (examples and the testthat tests included, as Bioconductor's builders run them)"
    CHECK_ARGS=(--no-manual -o "$WORK")
    [ -n "${SKIP_VIGNETTES:-}" ] && CHECK_ARGS+=(--ignore-vignettes)
    # the vignettes were built (their code run) by R CMD build: check does not rebuild them
    (cd "$WORK" && R CMD check "${CHECK_ARGS[@]}" --no-build-vignettes "$TARBALL") > "$WORK/check.log" 2>&1
    grep -E "^\* checking .*(NOTE|WARNING|ERROR)|^Status" "$WORK/check.log" || true
    if grep -qE "^Status: .*(ERROR|WARNING)" "$WORK/check.log" || ! grep -q "^Status:" "$WORK/check.log"; then
        sed -n '/\(WARNING\|ERROR\)$/,+25p' "$WORK/check.log"
        echo "R CMD check reported an ERROR or WARNING (log: $WORK/check.log)" >&2
        status=1
    fi
    grep -A 12 -E "^\* checking .*NOTE$" "$WORK/check.log" | grep -v "^\* checking .* OK$" || true
    # the counts of the tests R CMD check ran: testthat's check reporter ends its output (tests/testthat.Rout,
    # or testthat.Rout.fail when a test failed) with "[ FAIL n | WARN n | SKIP n | PASS n ]"
    ROUT="$WORK/scDiffusion.Rcheck/tests/testthat.Rout"
    [ -f "$ROUT.fail" ] && ROUT="$ROUT.fail"
    counts="$(grep -E '^\[ FAIL [0-9]+ \| WARN [0-9]+ \| SKIP [0-9]+ \| PASS [0-9]+ \]' "$ROUT" 2>/dev/null | tail -n 1)"
    if [ -n "$counts" ]; then
        failed="$(echo "$counts" | sed -E 's/.*FAIL ([0-9]+).*/\1/')"
        passed="$(echo "$counts" | sed -E 's/.*PASS ([0-9]+).*/\1/')"
        echo "tests: $counts (output: $ROUT)"
        [ "$failed" != "0" ] && sed -n '/^══ Failed/,/^══ DONE/p' "$ROUT" | head -n 80
    else
        echo "R CMD check ran no testthat tests, or they stopped early (output: $ROUT)" >&2
        [ -f "$ROUT" ] && tail -n 40 "$ROUT"
        failed=1
    fi
    echo "check done after $((SECONDS - t_start)) s"

    if [ -z "${SKIP_BIOCCHECK:-}" ]; then
        echo "== BiocCheck (offline)"
        (cd "$WORK" && Rscript -e '
            res <- BiocCheck::BiocCheck(commandArgs(TRUE)[1], `no-check-deprecated` = TRUE, `no-check-CRAN` = TRUE,
                `no-check-bioc-help` = TRUE, `no-check-remotes` = TRUE)
            cat(sprintf("BIOCCHECK %d ERROR, %d WARNING, %d NOTE\n", res$getNum("error"), res$getNum("warning"),
                res$getNum("note")))
        ' "$TARBALL") > "$WORK/bioccheck.log" 2>&1
        # each condition with its details (indented lines below it)
        awk '/^ *\* (ERROR|WARNING|NOTE)/ {show = 1; print; next} /^ *\* |^─/ {show = 0} show && NF {print}' \
            "$WORK/bioccheck.log" | cut -c1-300
        summary="$(grep '^BIOCCHECK' "$WORK/bioccheck.log" | tail -n 1)"
        echo "$summary"
        if [ -z "$summary" ] || ! echo "$summary" | grep -q "^BIOCCHECK 0 ERROR, 0 WARNING"; then
            [ -z "$summary" ] && tail -n 30 "$WORK/bioccheck.log"
            echo "BiocCheck reported an ERROR or WARNING, or did not finish (log: $WORK/bioccheck.log)" >&2
            status=1
        fi
        echo "BiocCheck done after $((SECONDS - t_start)) s"
    fi
else
    failed=1
fi

[ "$failed" != "0" ] && status=1
echo "logs: $WORK; wall time $((SECONDS - t_start)) s"
echo "R tests: ${passed} passed, ${failed} failed"
exit $status
