#' Evaluate generated cells against real cells
#'
#' Runs the metric suite of the Python core (\code{scdiffusion.evaluation.evaluate}):
#' Spearman correlation of gene means, gene-gene correlation error, MMD,
#' iLISI, random-forest and kNN real-vs-generated AUCs, 1-NN accuracy,
#' zero-fraction gap, mean-variance agreement; with raw counts on both sides
#' SimBench's count-level properties; with labels per-label metrics,
#' differential-expression fidelity and distances on the real cells'
#' principal components. Every metric is marked pass or fail against a
#' real-vs-real control. \code{\link{plotComparison}} draws the comparison
#' panels.
#'
#' @section Verdicts:
#' \code{threshold} is not a cut-off on \code{value}: it is a distance from
#' the metric's \code{ideal} (e.g. 0 for an MMD, 1 for a correlation, 0.5 for
#' a classifier AUC). A metric passes (\code{pass = TRUE}) when the generated
#' cells' distance from the ideal, \code{abs(matched - ideal)}, is at most
#' \code{threshold}: twice the real-vs-real control's mean distance from the
#' ideal, \code{abs(control - ideal)} (for classifier AUCs and shares of
#' cells at least their chance scatter). So generated cells pass when they
#' are about as close to the reference cells as other real cells are; the
#' rule is in \code{metadata(res)$meta$control$rule}. \code{pass} is
#' \code{NA} where there is no control.
#'
#' @section Scales:
#' Both objects must be compared on one scale. By default, when both have a
#' \code{counts} assay of raw counts, both are normalised from their counts in
#' the same way (\code{log1p} of counts per 10,000, the suite's scale), so
#' \code{evaluateGeneration(real, gen)} compares like with like whatever
#' \code{logcounts} either holds. Otherwise the \code{logcounts} (or
#' \code{log1pCP10k}) assays are compared, a \code{log1pCP10k} assay (of a
#' model without counts) with the other object's counts, or the assays named
#' by \code{real_assay} and \code{generated_assay}; an assay of raw counts is
#' normalised as above, anything else is taken as log-normalised already. The
#' scale of each assay is then checked against the object's counts:
#' natural-log values (\code{log1p} of scaled counts, as the Python core and
#' Seurat write them) and log2 values (\code{log2} of scaled counts plus 1, as
#' \code{scuttle::logNormCounts()} and \code{\link{generate}} write
#' \code{logcounts}) are not comparable, and mixing them is an error that says
#' how to compare counts instead. When an assay's scale cannot be checked (no
#' counts to compare with) a warning says so. A message names the assays and
#' the scale compared; \code{metadata(.)$inputs} records them.
#'
#' @param real,generated \linkS4class{SingleCellExperiment} objects with the
#' same genes (any order).
#' @param labels_key Optional \code{colData} column present in both (per-label
#' metrics).
#' @param real_assay,generated_assay Assays to compare (see Scales); by
#' default \code{"counts"} when both objects have counts, else
#' \code{"logcounts"} (or \code{"log1pCP10k"}, or \code{"counts"}) of each.
#' @param train Optionally, the training cells (a
#' \linkS4class{SingleCellExperiment} with the genes of \code{real} and its
#' assay \code{real_assay}), for the memorisation check
#' (\code{memorization} rows): are generated cells closer to training cells
#' than held-out real cells are? Without it those rows are skipped. Pass
#' \code{real} cells the model did not see when \code{train} is given.
#' @param quick Cheaper settings (fewer trees, at most 2000 cells per side).
#' @param max_cells Cap on cells per side (\code{NULL}: 2000 if \code{quick},
#' else 10000).
#' @param n_comps Principal components for the PCA-space metrics.
#' @param seed Random seed (subsampling, classifiers); \code{NULL} draws it
#' from R's random number generator, so \code{set.seed()} repeats a call.
#' @param ... Deprecated argument names of the previous release (\code{labels}
#' for \code{labels_key}), accepted with a warning.
#' @return A \code{\link[S4Vectors]{DataFrame}} with one row per metric, the
#' table of the Python core (\code{scdiffusion.evaluation.results_table}) and
#' of \code{scdiffusion evaluate}'s report: \code{group}, \code{value} (all
#' cells), \code{matched} (generated cells against held-out reference cells
#' at the control's sizes), \code{control} (other real cells against the
#' same reference cells), \code{threshold} and \code{pass} (the verdict
#' against the real-vs-real control; \code{NA} where there is none),
#' \code{ideal}, \code{better}, \code{space}, \code{description},
#' \code{skipped} and \code{error} (why a metric was not computed);
#' the suite's input description is in \code{metadata(.)$meta}, the assays
#' and scale compared in \code{metadata(.)$inputs}. Warnings of the suite
#' (e.g. that a kNN AUC of 0.5 is uninformative) are R warnings.
#' @seealso \code{\link{plotComparison}} (the comparison panels)
#' @examples
#' model <- scDiffusionExampleModel()
#' sce <- scDiffusionExampleData()
#' gen <- generate(model, n_cells = 60, condition = c(cell_type = "B"),
#'     n_steps = 10, seed = 1)
#' real <- sce[rownames(gen), sce$cell_type == "B"]
#' res <- evaluateGeneration(real, gen, quick = TRUE, n_comps = 10)
#' res[c("scc_gene_means", "mmd_rbf", "library_size"), c("value", "control", "pass")]
#' table(res$group, res$pass, useNA = "ifany")
#' @export
evaluateGeneration <- function(real, generated, labels_key = NULL, real_assay = NULL,
    generated_assay = NULL, train = NULL, quick = FALSE, max_cells = NULL, n_comps = 50L, seed = NULL, ...) {
    old <- .renamed_args("evaluate", list(...), "evaluateGeneration", sys.call())
    if (!is.null(old$labels_key)) labels_key <- old$labels_key
    labels <- labels_key
    .check_sce(real, "real")
    .check_sce(generated, "generated")
    assays <- .evaluation_assays(real, generated, real_assay, generated_assay)
    real_assay <- assays[["real"]]
    generated_assay <- assays[["generated"]]
    .check_same_genes(real, generated)
    if (!is.null(labels)) {
        labels <- .check_string(labels, "labels_key")
        .check_labels(real, labels, "labels_key")
        .check_labels(generated, labels, "labels_key")
    }
    if (!is.null(train)) {
        .check_sce(train, "train")
        if (is.null(rownames(train)) || !setequal(rownames(train), rownames(real))) {
            stop("'train' must have the genes (rownames) of 'real', e.g. train[rownames(real), ].", call. = FALSE)
        }
        .check_assay(train, real_assay)
        train <- .evaluation_cells(train, real_assay, NULL)
    }
    inputs <- .check_same_scale(real, real_assay, generated, generated_assay)
    opt <- function(arg, value) .check_option("evaluate", arg, value)
    res <- .scd_call(.evaluate_worker, real = .evaluation_cells(real, real_assay, labels),
        generated = .evaluation_cells(generated, generated_assay, labels), train = train, labels_key = labels,
        quick = opt("quick", quick), max_cells = opt("max_cells", max_cells),
        n_comps = opt("n_comps", n_comps), seed = opt("seed", .draw_seed(seed)))
    res <- jsonlite::fromJSON(res, simplifyVector = FALSE)
    meta <- res$meta
    res$meta <- NULL
    field <- function(e, f, fun) {
        v <- e[[f]]
        if (is.null(v) || is.list(v) || length(v) != 1L) fun(NA) else fun(v)
    }
    num <- function(f) vapply(res, field, numeric(1), f = f, fun = as.numeric)
    chr <- function(f) vapply(res, field, character(1), f = f, fun = as.character)
    out <- S4Vectors::DataFrame(group = chr("group"), value = num("value"), matched = num("matched"),
        control = num("control"), threshold = num("threshold"),
        pass = vapply(res, field, logical(1), f = "pass", fun = as.logical), ideal = num("ideal"),
        better = chr("better"), space = chr("space"), description = chr("description"),
        skipped = chr("skipped"), error = chr("error"), row.names = names(res))
    S4Vectors::metadata(out) <- list(meta = meta, details = res, inputs = inputs)
    out
}

.check_same_genes <- function(real, generated) {
    if (is.null(rownames(real)) || is.null(rownames(generated))) {
        stop("'real' and 'generated' need gene names (rownames).", call. = FALSE)
    }
    if (!setequal(rownames(real), rownames(generated))) {
        common <- intersect(rownames(real), rownames(generated))
        stop(sprintf("'real' and 'generated' have different genes (%d and %d, %d shared); ",
            nrow(real), nrow(generated), length(common)),
            "subset both to the same genes, e.g. real[rownames(generated), ].", call. = FALSE)
    }
    invisible(TRUE)
}

## What the suite needs of one object, encoded for the bridge: the assay, the
## gene and (unique) cell names, and the label column as character.
.evaluation_cells <- function(x, assay, labels) {
    cd <- if (is.null(labels)) S4Vectors::make_zero_col_DFrame(ncol(x)) else {
        d <- S4Vectors::DataFrame(as.character(SummarizedExperiment::colData(x)[[labels]]))
        colnames(d) <- labels
        d
    }
    y <- SummarizedExperiment::SummarizedExperiment(
        assays = stats::setNames(list(SummarizedExperiment::assay(x, assay, withDimnames = FALSE)), assay),
        colData = cd)
    rownames(y) <- rownames(x)
    colnames(y) <- make.unique(if (is.null(colnames(x))) paste0("c", seq_len(ncol(x))) else colnames(x))
    .encode_sce(y, assays = assay, row_data = FALSE, reduced_dims = FALSE)
}

## The assays to compare: given ones are checked; by default both objects'
## counts when both have them, else each one's logcounts, log1pCP10k or
## counts, where a natural-log log1pCP10k assay on one side is compared with
## the other side's counts (which the suite normalises to that scale).
.evaluation_assays <- function(real, generated, real_assay, generated_assay) {
    has <- function(x, a) a %in% SummarizedExperiment::assayNames(x)
    own <- function(x) {
        if (has(real, "counts") && has(generated, "counts")) return("counts")
        intersect(c("logcounts", .LOG1P_ASSAY, "counts"), SummarizedExperiment::assayNames(x))[1L]
    }
    default <- c(real = own(real), generated = own(generated))
    if (identical(default[["real"]], .LOG1P_ASSAY) && has(generated, "counts")) default[["generated"]] <- "counts"
    if (identical(default[["generated"]], .LOG1P_ASSAY) && has(real, "counts")) default[["real"]] <- "counts"
    pick <- function(x, a, arg) {
        if (is.null(a)) a <- default[[arg]]
        if (is.na(a)) {
            stop(sprintf("'%s' has no 'counts', 'logcounts' or '%s' assay; name the assay to compare ",
                arg, .LOG1P_ASSAY), sprintf("with '%s_assay'.", arg), call. = FALSE)
        }
        .check_assay(x, a)
    }
    c(real = pick(real, real_assay, "real"), generated = pick(generated, generated_assay, "generated"))
}

## Refuse to compare assays on different scales (natural log vs log2, or raw
## counts, which the suite normalises to natural log, vs log2); warn when a
## scale cannot be checked; say what is compared. Returns that description.
.check_same_scale <- function(real, real_assay, generated, generated_assay, caller = "evaluateGeneration") {
    sc <- c(real = .assay_scale(real, real_assay), generated = .assay_scale(generated, generated_assay))
    as_compared <- ifelse(sc == "counts", "ln", sc)
    describe <- c(counts = "raw counts", ln = "natural-log values, log1p of scaled counts",
        log2 = "log2 values, log2 of scaled counts + 1 (as scuttle::logNormCounts)",
        unknown = "values of unknown scale")
    if (all(as_compared %in% c("ln", "log2")) && as_compared[[1L]] != as_compared[[2L]]) {
        stop(sprintf("assay '%s' of 'real' holds %s, but assay '%s' of 'generated' %s: ", real_assay,
            describe[[sc[["real"]]]], generated_assay, describe[[sc[["generated"]]]]), "they are not comparable. ",
            "Compare raw counts, which are normalised alike (real_assay = \"counts\", generated_assay = ",
            "\"counts\"), or put both on one scale, e.g. with scuttle::logNormCounts().", call. = FALSE)
    }
    unknown <- names(sc)[sc == "unknown"]
    if (length(unknown)) {
        warning(sprintf("%s(): cannot check the scale of %s (no raw counts in the object ", caller,
            paste0("'", unknown, "'", collapse = " and ")), "to compare with); make sure both ",
            "objects are on the same log-normalised scale, or compare counts.", call. = FALSE)
    }
    scale <- if (all(sc == "counts")) "log1p(counts per 10,000) of each object's counts" else
        paste(unique(describe[as_compared]), collapse = " / ")
    message(sprintf("%s(): comparing assay '%s' of 'real' with assay '%s' of 'generated' ", caller,
        real_assay, generated_assay), sprintf("on one scale: %s.", scale))
    list(real_assay = real_assay, generated_assay = generated_assay, real_scale = sc[["real"]],
        generated_scale = sc[["generated"]], scale = scale)
}

## The scale of an assay: "counts" (non-negative whole numbers), "ln" (log1p
## of scaled counts), "log2" (log2 of scaled counts + 1) or "unknown". Log
## scales are recognised against the object's raw counts on up to 50 cells:
## in each cell, expm1(value) / count (ln) or (2^value - 1) / count (log2) is
## one constant, the cell's scaling, whatever the size factors, totals or
## gene subset.
.assay_scale <- function(x, assay) {
    cells <- unique(round(seq(1, ncol(x), length.out = min(ncol(x), 50L))))
    sampled <- function(a) {
        as.matrix(SummarizedExperiment::assay(x, a, withDimnames = FALSE)[, cells, drop = FALSE])
    }
    m <- sampled(assay)
    if (.whole_counts(m)) return("counts")
    if (identical(assay, .LOG1P_ASSAY)) return("ln")
    if ("counts" %in% SummarizedExperiment::assayNames(x)) {
        cnt <- sampled("counts")
        if (.whole_counts(cnt)) {
            if (.scaled_counts(expm1(m), cnt)) return("ln")
            if (.scaled_counts(2^m - 1, cnt)) return("log2")
        }
    }
    "unknown"
}

.whole_counts <- function(m) {
    length(m) > 0L && all(is.finite(m)) && all(m >= 0) && all(abs(m - round(m)) < 1e-8)
}

## Is 'back' (an assay transformed back) the counts scaled per cell?
.scaled_counts <- function(back, counts, tol = 1e-3) {
    if (!all(is.finite(back)) || any(abs(back[counts == 0]) > 1e-6)) return(FALSE)
    nz <- counts > 0
    if (!any(nz)) return(FALSE)
    ratio <- back[nz] / counts[nz]
    cell <- col(counts)[nz]
    lo <- tapply(ratio, cell, min)
    hi <- tapply(ratio, cell, max)
    all(lo > 0) && all(hi - lo <= tol * hi)
}
