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
#' @eval .rd_params("train", c("labels_keys", "assay", "pretrained", "likelihood", "n_latent", "hidden",
#'     "denoiser_hidden", "classifier_hidden", "dropout", "input_dropout", "min_cells", "min_counts", "target_sum", "min_cells_per_label",
#'     "validation_fraction", "n_timesteps", "device", "seed", "preset", "max_time", "max_steps",
#'     "autoencoder", "diffusion", "classifier", "progress"))
#' @param ... Deprecated argument names of the previous release (\code{labels}
#' for \code{labels_keys}), accepted with a warning.
#' @return A \code{\linkS4class{ScDiffusionModel}}; its directory is a
#' temporary one until saved with \code{\link{saveScDiffusion}}.
#' @seealso \code{\link{generate}}, \code{\link{interpolate}}
#' @examples
#' \dontrun{
#' sce <- scuttle::mockSCE(ncells = 200, ngenes = 500)
#' sce$cell_type <- sample(c("A", "B"), ncol(sce), replace = TRUE)
#' model <- trainScDiffusion(sce, labels_keys = "cell_type", max_time = 60)
#' }
#' @export
trainScDiffusion <- function(x, labels_keys = NULL, assay = "counts", pretrained = NULL, likelihood = "nb",
    n_latent = 128L, hidden = c(1024L, 1024L, 1024L), denoiser_hidden = c(512L, 512L, 256L, 128L),
    classifier_hidden = c(512L, 512L, 256L), dropout = 0.2, input_dropout = 0.2, min_cells = 3L,
    min_counts = 10L, target_sum = 10000, min_cells_per_label = 5L, validation_fraction = 0.1,
    n_timesteps = 1000L, device = "auto", seed = 0L, preset = "cpu", max_time = NULL, max_steps = NULL,
    autoencoder = NULL, diffusion = NULL, classifier = NULL, progress = interactive(), ...) {
    old <- .renamed_args("train", list(...), "trainScDiffusion", sys.call())
    if (!is.null(old$labels_keys)) labels_keys <- old$labels_keys
    .check_sce(x)
    assay <- .check_assay(x, assay)
    labels <- .check_labels(x, labels_keys)
    opt <- function(arg, value) .check_option("train", arg, value)
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
        max_steps <- lapply(stats::setNames(names(max_steps), names(max_steps)),
            function(s) .check_count(max_steps[[s]], sprintf("max_steps[['%s']]", s)))
    }
    sizes <- function(v, arg) {
        if (!is.numeric(v) || !length(v) || anyNA(v) || any(v < 1) || any(v != round(v))) {
            stop(sprintf("'%s' must be a vector of positive whole numbers (layer sizes).", arg), call. = FALSE)
        }
        as.list(as.integer(v))
    }
    model_args <- list(pretrained = if (is.null(pretrained)) NULL else normalizePath(opt("pretrained", pretrained)),
        likelihood = opt("likelihood", likelihood), n_latent = opt("n_latent", n_latent),
        hidden = sizes(hidden, "hidden"), denoiser_hidden = sizes(denoiser_hidden, "denoiser_hidden"),
        classifier_hidden = sizes(classifier_hidden, "classifier_hidden"), dropout = opt("dropout", dropout),
        input_dropout = opt("input_dropout", input_dropout), min_cells = opt("min_cells", min_cells),
        min_counts = opt("min_counts", min_counts), target_sum = opt("target_sum", target_sum),
        min_cells_per_label = opt("min_cells_per_label", min_cells_per_label),
        validation_fraction = opt("validation_fraction", validation_fraction),
        n_timesteps = opt("n_timesteps", n_timesteps), device = opt("device", device), seed = opt("seed", seed))
    preset <- opt("preset", preset)
    max_time <- opt("max_time", max_time)
    progress <- opt("progress", progress)
    .check_counts(x, assay)
    for (l in labels) {
        v <- SummarizedExperiment::colData(x)[[l]]
        if (anyNA(v)) {
            stop(sprintf("colData column '%s' has NA labels; remove those cells or give them a label.", l),
                call. = FALSE)
        }
        if (length(unique(as.character(v))) < 2L) {
            stop(sprintf(paste0("colData column '%s' has a single label ('%s'); a classifier needs at ",
                "least two. Drop '%s' from 'labels_keys' or use a column with several labels."),
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
    summary <- do.call(.scd_call, c(list(.train_worker, sce = enc, model_dir = dir, labels_keys = as.list(labels),
        preset = preset, max_time = max_time, max_steps = max_steps, autoencoder = stages$autoencoder,
        diffusion = stages$diffusion, classifier = stages$classifier, progress = progress), model_args))
    .new_model(dir, summary)
}
