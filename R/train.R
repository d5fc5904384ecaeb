#' Train an scDiffusion model
#'
#' Trains the autoencoder, the latent diffusion model and one noise-aware
#' classifier per label column on raw counts of a
#' \linkS4class{SingleCellExperiment}.
#'
#' @param x A \linkS4class{SingleCellExperiment} with raw integer counts.
#' @param labels Character vector of \code{colData} columns to train a
#' classifier on; their labels can be used as conditions in
#' \code{\link{generate}} and \code{\link{interpolate}}.
#' @param assay Assay holding raw counts.
#' @param max_time Wall-time budget for the whole training in seconds (split
#' 25\%/60\%/15\% over the stages), or \code{NULL}.
#' @param max_steps Optimiser steps per stage: one number for all stages, or a
#' named vector with any of \code{autoencoder}, \code{diffusion} and
#' \code{classifier}. \code{NULL} keeps the preset.
#' @param autoencoder,diffusion,classifier Named lists of further training
#' options of a stage (\code{batch_size}, \code{lr}, \code{eval_every},
#' \code{patience}, ...), passed to the Python core.
#' @param preset \code{"cpu"} (default budgets for a few thousand cells on a
#' CPU) or \code{"gpu"} (the original paper's scale).
#' @param likelihood Decoder output: \code{"nb"} (default; negative binomial over
#'   counts, generated cells get a \code{counts} assay), \code{"zinb"}, or
#'   \code{"mse"} (the paper's regression of log-normalised expression).
#' @param n_latent,hidden Autoencoder latent size and hidden layer sizes.
#' @param min_cells,min_counts Gene and cell filters of the preprocessing.
#' @param min_cells_per_label Labels with fewer cells are refused.
#' @param validation_fraction Fraction of cells held out for early stopping.
#' @param device \code{"auto"}, \code{"cpu"}, \code{"cuda"} or \code{"mps"}.
#' @param seed Random seed.
#' @param progress Show progress bars?
#' @return A \code{\linkS4class{ScDiffusionModel}}; its directory is a
#' temporary one until saved with \code{\link{saveScDiffusion}}.
#' @seealso \code{\link{generate}}, \code{\link{interpolate}}
#' @examples
#' \dontrun{
#' sce <- scuttle::mockSCE(ncells = 200, ngenes = 500)
#' sce$cell_type <- sample(c("A", "B"), ncol(sce), replace = TRUE)
#' model <- trainScDiffusion(sce, labels = "cell_type", max_time = 60)
#' }
#' @export
trainScDiffusion <- function(x, labels = NULL, assay = "counts", max_time = NULL,
    max_steps = NULL, autoencoder = list(), diffusion = list(), classifier = list(),
    preset = c("cpu", "gpu"), likelihood = c("nb", "zinb", "mse"), n_latent = 128L,
    hidden = c(1024L, 1024L, 1024L), min_cells = 3L, min_counts = 10L, min_cells_per_label = 5L, validation_fraction = 0.1,
    device = "auto", seed = 0L, progress = FALSE) {
    .check_sce(x)
    assay <- .check_assay(x, assay)
    labels <- .check_labels(x, labels)
    preset <- match.arg(preset)
    likelihood <- match.arg(likelihood)
    max_time <- .check_number(max_time, "max_time", 1e-3, Inf, null_ok = TRUE)
    stages <- list(autoencoder = autoencoder, diffusion = diffusion, classifier = classifier)
    for (s in names(stages)) {
        if (is.null(stages[[s]])) stages[[s]] <- list()
        if (!is.list(stages[[s]]) || (length(stages[[s]]) && (is.null(names(stages[[s]])) ||
            any(!nzchar(names(stages[[s]])))))) {
            stop(sprintf("'%s' must be a named list of training options, e.g. list(batch_size = 64).", s),
                call. = FALSE)
        }
    }
    if (!is.null(max_steps)) {
        if (is.null(names(max_steps))) {
            if (length(max_steps) != 1L) {
                stop("'max_steps' must be one number or a vector named by stage (autoencoder, diffusion, classifier).",
                    call. = FALSE)
            }
            max_steps <- stats::setNames(rep(max_steps, 3L), names(stages))
        }
        bad <- setdiff(names(max_steps), names(stages))
        if (length(bad)) {
            stop(sprintf("'max_steps' has unknown stage(s) %s; use autoencoder, diffusion, classifier.",
                paste0("'", bad, "'", collapse = ", ")), call. = FALSE)
        }
        for (s in names(max_steps)) {
            stages[[s]]$max_steps <- .check_count(max_steps[[s]], sprintf("max_steps[['%s']]", s))
        }
    }
    n_latent <- .check_count(n_latent, "n_latent", 2L)
    if (!is.numeric(hidden) || !length(hidden) || anyNA(hidden) || any(hidden < 1) ||
        any(hidden != round(hidden))) {
        stop("'hidden' must be a vector of positive whole numbers (hidden layer sizes).", call. = FALSE)
    }
    model_args <- list(n_latent = n_latent, hidden = as.list(as.integer(hidden)), likelihood = likelihood,
        min_cells = .check_count(min_cells, "min_cells", 0L),
        min_counts = .check_count(min_counts, "min_counts", 0L),
        min_cells_per_label = .check_count(min_cells_per_label, "min_cells_per_label", 1L),
        validation_fraction = .check_number(validation_fraction, "validation_fraction", 0, 0.499),
        device = .check_string(device, "device"), seed = .check_count(seed, "seed", 0L))
    progress <- .check_flag(progress, "progress")
    .check_counts(x, assay)
    for (l in labels) {
        v <- SummarizedExperiment::colData(x)[[l]]
        if (anyNA(v)) {
            stop(sprintf("colData column '%s' has NA labels; remove those cells or give them a label.", l),
                call. = FALSE)
        }
        if (length(unique(as.character(v))) < 2L) {
            stop(sprintf(paste0("colData column '%s' has a single label ('%s'); a classifier needs at ",
                "least two. Drop '%s' from 'labels' or use a column with several labels."),
                l, as.character(v[1L]), l), call. = FALSE)
        }
    }
    # send only what training needs: the counts and the label columns
    y <- x
    SummarizedExperiment::colData(y) <- SummarizedExperiment::colData(x)[, labels, drop = FALSE]
    for (l in labels) {
        v <- SummarizedExperiment::colData(y)[[l]]
        if (!is.factor(v)) SummarizedExperiment::colData(y)[[l]] <- as.character(v)
    }
    enc <- .encode_sce(y, assays = assay, row_data = FALSE, reduced_dims = FALSE)
    dir <- tempfile("scDiffusion_model_")
    train_args <- c(list(max_time = max_time, preset = preset, progress = progress),
        lapply(stages, function(s) if (length(s)) s else NULL))
    summary <- .scd_call("train", list(sce = enc, labels = as.list(labels),
        model_args = model_args, train_args = train_args, model_dir = dir))
    .new_model(dir, summary)
}
