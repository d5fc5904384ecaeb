#' Evaluate generated cells against real cells
#'
#' Runs the metric suite of the Python core (\code{scdiffusion.evaluation.evaluate}):
#' Spearman correlation of gene means, gene-gene correlation error, MMD,
#' iLISI, random-forest and kNN real-vs-generated AUCs, 1-NN accuracy,
#' zero-fraction gap, mean-variance agreement and, with labels, per-label
#' metrics.
#'
#' Each object is put on the log-normalised scale independently: an assay
#' holding raw counts (non-negative integers) is normalised to 1e4 counts per
#' cell and log1p-transformed, anything else is taken as log-normalised
#' already (as \code{\link{generate}} returns).
#'
#' @param real,generated \linkS4class{SingleCellExperiment} objects with the
#' same genes (any order).
#' @param labels_key Optional \code{colData} column present in both (per-label
#' metrics).
#' @param real_assay,generated_assay Assays to compare; by default
#' \code{"logcounts"} when present, else \code{"counts"}.
#' @param quick Cheaper settings (fewer trees, at most 2000 cells per side).
#' @param max_cells Cap on cells per side (\code{NULL}: 2000 if \code{quick},
#' else 10000).
#' @param n_comps Principal components for the PCA-space metrics.
#' @param seed Random seed.
#' @param ... Deprecated argument names of the previous release (\code{labels}
#' for \code{labels_key}), accepted with a warning.
#' @return A \code{\link[S4Vectors]{DataFrame}} with one row per metric and
#' columns \code{value}, \code{ideal}, \code{better}, \code{space},
#' \code{description} and \code{error} (why a metric could not be computed);
#' the suite's input description is in \code{metadata(.)$meta}.
#' @examples
#' \dontrun{
#' res <- evaluateGeneration(sce[modelGenes(model), ], gen, quick = TRUE)
#' res["mmd_rbf", "value"]
#' }
#' @export
evaluateGeneration <- function(real, generated, labels_key = NULL, real_assay = NULL,
    generated_assay = NULL, quick = FALSE, max_cells = NULL, n_comps = 50L, seed = 0L, ...) {
    old <- .renamed_args("evaluate", list(...), "evaluateGeneration", sys.call())
    if (!is.null(old$labels_key)) labels_key <- old$labels_key
    labels <- labels_key
    .check_sce(real, "real")
    .check_sce(generated, "generated")
    pick <- function(x, a, arg) {
        if (is.null(a)) {
            a <- intersect(c("logcounts", "counts"), SummarizedExperiment::assayNames(x))[1L]
            if (is.na(a)) {
                stop(sprintf("'%s' has neither a 'logcounts' nor a 'counts' assay; name one with '%s_assay'.",
                    arg, arg), call. = FALSE)
            }
        }
        .check_assay(x, a)
    }
    real_assay <- pick(real, real_assay, "real")
    generated_assay <- pick(generated, generated_assay, "generated")
    if (is.null(rownames(real)) || is.null(rownames(generated))) {
        stop("'real' and 'generated' need gene names (rownames).", call. = FALSE)
    }
    if (!setequal(rownames(real), rownames(generated))) {
        common <- intersect(rownames(real), rownames(generated))
        stop(sprintf(paste0("'real' and 'generated' have different genes (%d and %d, %d shared); ",
            "subset both to the same genes, e.g. real[rownames(generated), ]."),
            nrow(real), nrow(generated), length(common)), call. = FALSE)
    }
    if (!is.null(labels)) {
        labels <- .check_string(labels, "labels_key")
        .check_labels(real, labels, "labels_key")
        .check_labels(generated, labels, "labels_key")
    }
    strip <- function(x, a) {
        cd <- if (is.null(labels)) S4Vectors::make_zero_col_DFrame(ncol(x)) else {
            d <- S4Vectors::DataFrame(as.character(SummarizedExperiment::colData(x)[[labels]]))
            colnames(d) <- labels
            d
        }
        y <- SummarizedExperiment::SummarizedExperiment(
            assays = stats::setNames(list(SummarizedExperiment::assay(x, a, withDimnames = FALSE)), a),
            colData = cd)
        rownames(y) <- rownames(x)
        colnames(y) <- make.unique(if (is.null(colnames(x))) paste0("c", seq_len(ncol(x))) else colnames(x))
        .encode_sce(y, assays = a, row_data = FALSE, reduced_dims = FALSE)
    }
    opt <- function(arg, value) .check_option("evaluate", arg, value)
    res <- .scd_call(.evaluate_worker, real = strip(real, real_assay),
        generated = strip(generated, generated_assay), labels_key = labels,
        quick = opt("quick", quick), max_cells = opt("max_cells", max_cells),
        n_comps = opt("n_comps", n_comps), seed = opt("seed", seed))
    res <- jsonlite::fromJSON(res, simplifyVector = FALSE)
    meta <- res$meta
    res$meta <- NULL
    field <- function(e, f, fun) {
        v <- e[[f]]
        if (is.null(v) || is.list(v) || length(v) != 1L) fun(NA) else fun(v)
    }
    out <- S4Vectors::DataFrame(
        value = vapply(res, field, numeric(1), f = "value", fun = as.numeric),
        ideal = vapply(res, field, numeric(1), f = "ideal", fun = as.numeric),
        better = vapply(res, field, character(1), f = "better", fun = as.character),
        space = vapply(res, field, character(1), f = "space", fun = as.character),
        description = vapply(res, field, character(1), f = "description", fun = as.character),
        error = vapply(res, field, character(1), f = "error", fun = as.character),
        row.names = names(res))
    S4Vectors::metadata(out) <- list(meta = meta, details = res)
    out
}
