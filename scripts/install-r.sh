#!/usr/bin/env bash
# R 4.2 and the Bioconductor packages the R package needs, from Debian (idempotent).
set -euo pipefail
PKGS="r-base-core r-base-dev r-bioc-singlecellexperiment r-bioc-basilisk r-cran-reticulate r-cran-testthat
r-cran-knitr r-cran-rmarkdown pandoc r-bioc-hsmmsinglecell r-bioc-scuttle r-bioc-biocstyle r-cran-roxygen2
libopenblas0-pthread r-cran-jsonlite r-cran-matrix r-bioc-bioccheck"
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
