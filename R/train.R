#' Train an scDiffusion model
#'
#' Trains the autoencoder, the latent diffusion model and one noise-aware
#' classifier per label column on raw counts of a
#' \linkS4class{SingleCellExperiment}. Argument names, defaults and bounds
#' are those of the Python core (\code{ScDiffusion(...)} and
#' \code{ScDiffusion.train(...)}) and of the command line
#' (\code{scdiffusion train}).
#'
#' @param x A \linkS4class{SingleCellExperiment} with raw integer counts.
#' @eval .rd_params("train", c("labels_keys", "assay", "pretrained", "likelihood", "noise_fit", "count_split",
#'     "n_latent",
#'     "hidden", "denoiser_hidden", "classifier_hidden", "classifier_free", "label_dropout", "continuous_keys",
#'     "continuous_pseudotime", "dropout",
#'     "input_dropout", "min_cells", "min_counts", "target_sum", "min_cells_per_label",
#'     "validation_fraction", "n_timesteps", "device", "mixed_precision", "seed", "preset", "max_time",
#'     "max_steps", "autoencoder", "diffusion", "classifier", "progress"))
#' @param ... Deprecated argument names of the previous release (\code{labels}
#' for \code{labels_keys}), accepted with a warning.
#' @return A \code{\linkS4class{ScDiffusionModel}}; its directory is a
#' temporary one until saved with \code{\link{saveScDiffusion}}.
#' @seealso \code{\link{generate}}, \code{\link{interpolate}}
#' @examples
#' sce <- scDiffusionExampleData()
#' sce
#' \donttest{
#' ## a tiny model (seconds); real data keep the default sizes and set max_time
#' model <- trainScDiffusion(sce, labels_keys = "cell_type", max_steps = 200,
#'     n_latent = 8, hidden = c(32, 32), denoiser_hidden = c(32, 16),
#'     classifier_hidden = 16, seed = 1)
#' model
#' }
#' @export
setGeneric("trainScDiffusion", function(x, ...) standardGeneric("trainScDiffusion"))

#' @rdname trainScDiffusion
#' @export
setMethod("trainScDiffusion", "SummarizedExperiment", function(x, labels_keys = NULL, assay = "counts",
    pretrained = NULL, likelihood = "nb", noise_fit = "eval-train", count_split = 0, n_latent = 128L,
    hidden = c(256L, 256L, 256L), denoiser_hidden = c(512L, 512L, 256L, 128L),
    classifier_hidden = c(512L, 512L, 256L), classifier_free = TRUE, label_dropout = 0.3, continuous_keys = NULL,
    continuous_pseudotime = NULL, dropout = 0.2,
    input_dropout = 0.2, min_cells = 3L, min_counts = 10L, target_sum = 10000, min_cells_per_label = 5L,
    validation_fraction = 0.1, n_timesteps = 1000L, device = "auto", mixed_precision = FALSE, seed = NULL,
    preset = "cpu", max_time = NULL,
    max_steps = NULL, autoencoder = NULL, diffusion = NULL, classifier = NULL, progress = interactive(), ...) {
    old <- .renamed_args("train", list(...), "trainScDiffusion", sys.call(-1))
    if (!is.null(old$labels_keys)) labels_keys <- old$labels_keys
    .check_sce(x)
    assay <- .check_assay(x, assay)
    labels <- .check_labels(x, labels_keys)
    continuous <- .check_labels(x, continuous_keys, "continuous_keys")
    opt <- function(arg, value) .check_option("train", arg, value)
    stages <- .check_stages(list(autoencoder = autoencoder, diffusion = diffusion, classifier = classifier))
    max_steps <- .check_max_steps(max_steps, names(stages))
    model_args <- list(pretrained = if (is.null(pretrained)) NULL else normalizePath(opt("pretrained", pretrained)),
        likelihood = opt("likelihood", likelihood), noise_fit = opt("noise_fit", noise_fit),
        count_split = opt("count_split", count_split),
        n_latent = opt("n_latent", n_latent), classifier_free = opt("classifier_free", classifier_free),
        label_dropout = opt("label_dropout", label_dropout), continuous_keys = as.list(continuous),
        continuous_pseudotime = opt("continuous_pseudotime", continuous_pseudotime),
        mixed_precision = opt("mixed_precision", mixed_precision),
        hidden = .check_sizes(hidden, "hidden"), denoiser_hidden = .check_sizes(denoiser_hidden, "denoiser_hidden"),
        classifier_hidden = .check_sizes(classifier_hidden, "classifier_hidden"), dropout = opt("dropout", dropout),
        input_dropout = opt("input_dropout", input_dropout), min_cells = opt("min_cells", min_cells),
        min_counts = opt("min_counts", min_counts), target_sum = opt("target_sum", target_sum),
        min_cells_per_label = opt("min_cells_per_label", min_cells_per_label),
        validation_fraction = opt("validation_fraction", validation_fraction),
        n_timesteps = opt("n_timesteps", n_timesteps), device = opt("device", device), seed = opt("seed", .draw_seed(seed)))
    preset <- opt("preset", preset)
    max_time <- opt("max_time", max_time)
    progress <- opt("progress", progress)
    .check_counts(x, assay)
    .check_label_columns(x, labels)
    enc <- .training_cells(x, assay, labels, continuous)
    dir <- tempfile("scDiffusion_model_")
    summary <- do.call(.scd_call, c(list(.train_worker, sce = enc, model_dir = dir, labels_keys = as.list(labels),
        preset = preset, max_time = max_time, max_steps = max_steps, autoencoder = stages$autoencoder,
        diffusion = stages$diffusion, classifier = stages$classifier, progress = progress), model_args))
    model <- .new_model(dir, summary)
    .report_training(model, rownames(x), model_args$min_cells)
    model
})

#' @rdname trainScDiffusion
#' @export
setMethod("trainScDiffusion", "ANY", function(x, ...) {
    sce <- .as_counts_sce(x)
    trainScDiffusion(sce, ...)
})

## Only what training needs travels to Python: the counts, the label
## columns (labels as character, factors as they are) and the continuous
## columns (as they are: numbers, or labels the Python core parses as numbers).
.training_cells <- function(x, assay, labels, continuous = character(0)) {
    y <- x
    SummarizedExperiment::colData(y) <- SummarizedExperiment::colData(x)[, union(labels, continuous), drop = FALSE]
    for (l in labels) {
        v <- SummarizedExperiment::colData(y)[[l]]
        if (!is.factor(v)) SummarizedExperiment::colData(y)[[l]] <- as.character(v)
    }
    .encode_sce(y, assays = assay, row_data = FALSE, reduced_dims = FALSE)
}

## Messages after training: genes the gene filter dropped, and stages the
## wall-time budget stopped (their number of steps, hence the model, can
## differ between runs with the same seed).
.report_training <- function(model, input_genes, min_cells) {
    dropped <- setdiff(input_genes, modelGenes(model))
    if (length(dropped)) {
        message(sprintf("trainScDiffusion(): the gene filter dropped %d of %d genes ", length(dropped),
            length(input_genes)), sprintf("(detected in fewer than min_cells = %d cells): ", min_cells),
            .some(dropped), ". Generated cells have the model's ", length(modelGenes(model)),
            " genes; generate(..., genes = rownames(x)) returns every gene, the dropped ones as zero rows.")
    }
    hist <- model@info$history
    timed <- names(hist)[vapply(hist, function(h) identical(h$stopped, "max_time"), logical(1))]
    if (length(timed)) {
        steps <- vapply(hist[timed], function(h) as.integer(h$n_steps %||% NA), integer(1))
        message("trainScDiffusion(): the wall-time budget (max_time) stopped ",
            paste(sprintf("%s after %d steps", timed, steps), collapse = ", "),
            ". How many steps fit in max_time depends on the machine's speed and load, so a run with the ",
            "same seed can give another model; use max_steps for repeatable training.")
    }
    invisible(model)
}

`%||%` <- function(a, b) if (is.null(a)) b else a
