## The R package against the environment Bioconductor users get (run by tools/basilisk-pins-smoke.sh, with
## SCDIFFUSION_PYTHON pointing to a virtualenv built from the pins of R/basilisk.R): generate ->
## evaluateGeneration -> plotComparison -> interpolate on the example model. Every metric group must be computed:
## a dependency missing from the pins shows up as a metric that errored or was skipped for want of a package.
suppressPackageStartupMessages(library(scDiffusion))
env <- Sys.getenv("SCDIFFUSION_PYTHON")
if (!nzchar(env)) stop("set SCDIFFUSION_PYTHON to the pinned environment (tools/basilisk-pins-smoke.sh does)")
stopifnot(identical(scDiffusionPython(), normalizePath(env)))
n_ok <- 0L
check <- function(ok, what, why = "") {
    if (!isTRUE(ok)) stop("basilisk pins smoke test failed: ", what, "; ", why, call. = FALSE)
    n_ok <<- n_ok + 1L
    cat("ok:", what, "\n")
}
t0 <- Sys.time()
check(identical(scDiffusionPythonVersion(), as.character(packageVersion("scDiffusion"))),
    "the Python core's version is the R package's")

model <- scDiffusionExampleModel()
sce <- scDiffusionExampleData()
gen <- generate(model, n_cells = 90, condition = list(cell_type = rep(c("A", "B", "C"), 30)),
    n_steps = 10, seed = 1)
check(ncol(gen) == 90L && all(c("counts", "logcounts") %in% SummarizedExperiment::assayNames(gen)),
    "generate: 90 cells with counts and logcounts")
check(identical(as.vector(table(gen$cell_type)), c(30L, 30L, 30L)), "generate: 30 cells of each label")

real <- sce[rownames(gen), ]
res <- evaluateGeneration(real, gen, labels_key = "cell_type", quick = TRUE, n_comps = 10)
failed <- !is.na(res$error) & nzchar(res$error)
check(!any(failed), "evaluateGeneration: no metric errored",
    paste(rownames(res)[failed], res$error[failed], collapse = "; "))
## CellTypist is optional (not a runtime dependency): its metric may be skipped, no other
skipped <- !is.na(res$skipped) & nzchar(res$skipped)
missing_pkg <- skipped & grepl("install|No module|not installed", res$skipped, ignore.case = TRUE) &
    rownames(res) != "celltypist_accuracy"
check(!any(missing_pkg), "evaluateGeneration: nothing skipped for want of a runtime dependency",
    paste(rownames(res)[missing_pkg], res$skipped[missing_pkg], collapse = "; "))
for (i in which(skipped)) cat("  skipped:", rownames(res)[i], "-", res$skipped[i], "\n")
check(all(c("wasserstein1", "wasserstein2") %in% rownames(res)) &&
    all(is.finite(res[c("wasserstein1", "wasserstein2"), "value"])),
    "evaluateGeneration: the distance group (POT's exact Wasserstein distances) was computed")
cat("metric groups:", paste(sort(unique(res$group)), collapse = ", "), "\n")

pdf(file.path(tempdir(), "comparison.pdf"))
panels <- plotComparison(real, gen, labels_key = "cell_type")
invisible(dev.off())
check(is.data.frame(panels$cells) && is.data.frame(panels$genes) && is.data.frame(panels$lfc),
    "plotComparison: the cell, gene and fold-change panels")

path <- interpolate(model, sce, labels_key = "cell_type", start = "A", end = "B", n_states = 3, n_cells = 10,
    t_start = 300, n_steps = 10)
check(ncol(path) == 30L && identical(sort(unique(as.integer(path$interpolation_state))), 0:2),
    "interpolate: 3 states of 10 cells")
cat(sprintf("basilisk pins smoke test: all %d checks hold (%.0f s in R)\n", n_ok,
    as.numeric(difftime(Sys.time(), t0, units = "secs"))))
