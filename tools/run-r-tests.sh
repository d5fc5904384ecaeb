#!/usr/bin/env bash
# Build, check and test the scDiffusion R package, and build both vignettes.
#
# Assumes R and the Debian packages (r-bioc-singlecellexperiment, r-bioc-basilisk,
# r-cran-reticulate, r-cran-testthat, r-cran-knitr, r-cran-rmarkdown, pandoc,
# r-bioc-biocstyle, r-bioc-scuttle, r-bioc-hsmmsinglecell, r-cran-roxygen2,
# libopenblas0-pthread) are installed, and SCDIFFUSION_PYTHON points to a Python
# environment where 'import scdiffusion' works (e.g. the repository's .venv).
#
# Usage: tools/run-r-tests.sh            (from anywhere inside the repository)
# Env:   R_CHECK_DIR   work folder (default: a new temporary folder)
#        SKIP_VIGNETTES=1   skip building the vignettes (check then runs with --no-build-vignettes)
# Last line: "R tests: N passed, N failed". Exit status 0 only if check has no ERROR/WARNING,
# no test failed and the vignettes built.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${R_CHECK_DIR:-$(mktemp -d -t scdiffusion-rcheck-XXXXXX)}"
mkdir -p "$WORK"
status=0
passed=0
failed=0

if [ -z "${SCDIFFUSION_PYTHON:-}" ]; then
    echo "WARNING: SCDIFFUSION_PYTHON is not set: Python-backed tests and vignette code will be skipped." >&2
fi
export SCDIFFUSION_PYTHON="${SCDIFFUSION_PYTHON:-}"
export _R_CHECK_FORCE_SUGGESTS_=false
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

echo "== staging the package sources in $WORK/src"
# Copy only the files git knows about (tracked or untracked but not ignored): no .venv,
# no caches. R CMD build copies the whole folder before applying .Rbuildignore.
rm -rf "$WORK/src"
mkdir -p "$WORK/src/scDiffusion"
(cd "$ROOT" && git ls-files -co --exclude-standard -z) |
    (cd "$ROOT" && xargs -0 -I{} cp --parents -P "{}" "$WORK/src/scDiffusion/" 2>/dev/null || true)
chmod +x "$WORK/src/scDiffusion/configure" "$WORK/src/scDiffusion/configure.win" 2>/dev/null || true

echo "== regenerating NAMESPACE and man/ (roxygen2)"
if Rscript -e 'quit(status = !requireNamespace("roxygen2", quietly = TRUE))' >/dev/null 2>&1; then
    (cd "$WORK/src/scDiffusion" && Rscript -e 'suppressMessages(roxygen2::roxygenise())' >/dev/null 2>&1) ||
        echo "roxygen2 failed; keeping the committed NAMESPACE and man/" >&2
fi

echo "== copying the Python core into inst/python (configure)"
(cd "$WORK/src/scDiffusion" && sh ./configure) || status=1

echo "== R CMD build"
BUILD_ARGS=()
[ -n "${SKIP_VIGNETTES:-}" ] && BUILD_ARGS+=(--no-build-vignettes)
(cd "$WORK/src" && R CMD build "${BUILD_ARGS[@]}" scDiffusion) > "$WORK/build.log" 2>&1 || {
    cat "$WORK/build.log"
    echo "R CMD build failed" >&2
    status=1
}
tail -n 5 "$WORK/build.log"
TARBALL="$(ls -t "$WORK"/src/scDiffusion_*.tar.gz 2>/dev/null | head -n 1)"

if [ -n "$TARBALL" ]; then
    echo "== vignettes built into the tarball:"
    tar -tzf "$TARBALL" | grep '^scDiffusion/inst/doc/.*\.html$' || {
        [ -z "${SKIP_VIGNETTES:-}" ] && { echo "vignettes were not built" >&2; status=1; }
    }
    echo "== R CMD check --no-manual"
    CHECK_ARGS=(--no-manual -o "$WORK")
    [ -n "${SKIP_VIGNETTES:-}" ] && CHECK_ARGS+=(--no-build-vignettes --ignore-vignettes)
    # the tests run below with a result count; the vignettes were already built by R CMD build
    (cd "$WORK" && R CMD check "${CHECK_ARGS[@]}" --no-tests --no-vignettes --no-build-vignettes "$TARBALL") \
        > "$WORK/check.log" 2>&1
    cat "$WORK/check.log" | grep -E "^\* checking .*(NOTE|WARNING|ERROR)|^Status" || true
    if grep -qE "^Status: .*(ERROR|WARNING)" "$WORK/check.log" || ! grep -q "^Status:" "$WORK/check.log"; then
        sed -n '/\(WARNING\|ERROR\)/,+15p' "$WORK/check.log"
        echo "R CMD check reported an ERROR or WARNING (log: $WORK/check.log)" >&2
        status=1
    fi

    echo "== installing and running the testthat tests"
    LIB="$WORK/lib"
    mkdir -p "$LIB"
    if R CMD INSTALL -l "$LIB" "$TARBALL" > "$WORK/install.log" 2>&1; then
        TESTS_DIR="$WORK/src/scDiffusion/tests/testthat"
        R_LIBS="$LIB${R_LIBS:+:$R_LIBS}" Rscript -e '
            suppressPackageStartupMessages({library(testthat); library(scDiffusion)})
            res <- as.data.frame(test_dir(commandArgs(TRUE)[1], reporter = ProgressReporter$new(show_praise = FALSE),
                stop_on_failure = FALSE, stop_on_warning = FALSE))
            n_fail <- sum(res$failed) + sum(res$error)
            n_pass <- sum(res$passed)
            cat(sprintf("TESTCOUNTS %d %d %d\n", n_pass, n_fail, sum(res$skipped)))
        ' "$TESTS_DIR" 2>&1 | tee "$WORK/tests.log"
        counts="$(grep '^TESTCOUNTS' "$WORK/tests.log" | tail -n 1)"
        if [ -n "$counts" ]; then
            passed="$(echo "$counts" | cut -d' ' -f2)"
            failed="$(echo "$counts" | cut -d' ' -f3)"
            echo "skipped: $(echo "$counts" | cut -d' ' -f4)"
        else
            failed=1
        fi
    else
        cat "$WORK/install.log"
        failed=1
    fi
else
    failed=1
fi

[ "$failed" != "0" ] && status=1
echo "logs: $WORK"
echo "R tests: ${passed} passed, ${failed} failed"
exit $status
