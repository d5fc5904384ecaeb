#' Generate single cells with scDiffusion
#'
#' Generates cells from a trained \code{\linkS4class{ScDiffusionModel}},
#' optionally guided towards labels (one label column for cells of one label,
#' several for a combination of labels). Called on a
#' \linkS4class{SingleCellExperiment} without a model, it first trains one on
#' it (see \code{\link{trainScDiffusion}}) and then generates. Argument names,
#' defaults and bounds are those of the Python core
#' (\code{ScDiffusion.generate}) and of \code{scdiffusion generate}.
#'
#' @section Masking:
#' \code{generate} is a common name: the CRAN package \pkg{infer} (and others)
#' export a \code{generate()} function too. Whichever package is attached last
#' masks the other; call \code{scDiffusion::generate(...)} to be sure to get
#' this one.
#'
#' @param x A trained \code{\linkS4class{ScDiffusionModel}}, or a
#' \linkS4class{SingleCellExperiment} with raw counts.
#' @param ... For the \linkS4class{SingleCellExperiment} method: arguments of
#' the \code{ScDiffusionModel} method (\code{guidance_scale}, \code{sampler},
#' ...) and, when \code{model} is \code{NULL}, of
#' \code{\link{trainScDiffusion}} (\code{max_time}, \code{max_steps},
#' \code{hidden}, ...).
#' @param n_cells Number of cells to generate.
#' @param condition \code{NULL} (unconditional), or a named character vector
#' or list \code{column = label}, e.g. \code{c(cell_type = "B")}; several
#' entries ask for the combination of labels. A list entry may also hold one
#' label per cell (\code{n_cells} labels).
#' @eval .rd_params("generate", c("guidance_scale", "sampler", "n_steps", "eta", "guidance_t_max", "seed",
#'     "progress"))
#' @param labels_keys For the \linkS4class{SingleCellExperiment} method without
#' a model: \code{colData} columns to train classifiers on (defaults to the
#' names of \code{condition}).
#' @param assay Assay with raw counts (training only).
#' @param model Optionally, a trained \code{\linkS4class{ScDiffusionModel}} to
#' use instead of training one on \code{x}.
#' @return A \linkS4class{SingleCellExperiment} with the generated cells: a
#' \code{logcounts} assay (log1p of counts normalised to 1e4 per cell) over
#' the model's genes (plus a \code{counts} assay of sampled counts when the
#' model has a count likelihood), the condition columns in \code{colData}, the
#' autoencoder latents as reduced dimension \code{"scDiffusion"}, and in
#' \code{metadata(.)$scDiffusion} the generation parameters and the model.
#' @examples
#' \dontrun{
#' sce <- scuttle::mockSCE(ncells = 200, ngenes = 500)
#' sce$cell_type <- sample(c("A", "B"), ncol(sce), replace = TRUE)
#' gen <- generate(sce, labels_keys = "cell_type", n_cells = 40,
#'                 condition = c(cell_type = "B"), seed = 1, max_time = 30)
#' model <- metadata(gen)$scDiffusion$model
#' more <- generate(model, n_cells = 100, condition = c(cell_type = "A"))
#' }
#' @include model.R
#' @export
setGeneric("generate", function(x, ...) standardGeneric("generate"))

#' @rdname generate
#' @export
setMethod("generate", "ScDiffusionModel", function(x, n_cells, condition = NULL, guidance_scale = 2,
    sampler = "dpmpp-sde", n_steps = NULL, eta = NULL, guidance_t_max = NULL, seed = 0L,
    progress = interactive()) {
    .check_model(x, "x")
    if (missing(n_cells)) {
        stop("'n_cells' is missing: how many cells should be generated?", call. = FALSE)
    }
    n_cells <- .check_count(n_cells, "n_cells")
    condition <- .check_condition(condition, modelLabels(x), n_cells)
    T <- .model_timesteps(x)
    opt <- function(arg, value) .check_option("generate", arg, value, n_timesteps = T)
    enc <- .scd_call(.generate_worker, model_dir = x@path, n_cells = n_cells, condition = condition,
        guidance_scale = .check_guidance(guidance_scale, condition), sampler = opt("sampler", sampler),
        n_steps = opt("n_steps", n_steps), eta = opt("eta", eta), guidance_t_max = opt("guidance_t_max", guidance_t_max),
        seed = opt("seed", seed), progress = opt("progress", progress))
    .generated_sce(enc, x)
})

#' @rdname generate
#' @export
setMethod("generate", "SingleCellExperiment", function(x, n_cells, condition = NULL,
    ..., labels_keys = names(condition), assay = "counts", model = NULL) {
    .check_sce(x)
    if (missing(n_cells)) {
        stop("'n_cells' is missing: how many cells should be generated?", call. = FALSE)
    }
    n_cells <- .check_count(n_cells, "n_cells")
    dots <- list(...)
    if (length(dots) && (is.null(names(dots)) || any(!nzchar(names(dots))))) {
        stop("generate(): every argument after 'condition' must be named; see ?generate.", call. = FALSE)
    }
    if ("labels" %in% names(dots)) {
        labels_keys <- .renamed_args("train", dots["labels"], "generate")$labels_keys
        dots$labels <- NULL
    }
    gen_args <- setdiff(names(.scd_options$generate), c("n_cells", "condition"))
    train_formals <- setdiff(names(formals(trainScDiffusion)), c("x", "labels_keys", "assay", "..."))
    unknown <- setdiff(names(dots), c(gen_args, train_formals))
    if (length(unknown)) {
        stop(sprintf("unknown argument(s) %s; see ?generate and ?trainScDiffusion.",
            paste0("'", unknown, "'", collapse = ", ")), call. = FALSE)
    }
    # check the generation arguments before spending time on training
    for (a in intersect(names(dots), setdiff(gen_args, "guidance_scale"))) .check_option("generate", a, dots[[a]])
    if (!is.null(dots$guidance_scale)) .check_guidance(dots$guidance_scale, .check_condition(condition))
    if (is.null(model)) {
        condition <- .check_condition(condition, n_cells = n_cells)
        labels <- .check_labels(x, labels_keys)
        missing_lab <- setdiff(names(condition), labels)
        if (length(missing_lab)) {
            stop(sprintf("condition column(s) %s must be among 'labels_keys'.",
                paste0("'", missing_lab, "'", collapse = ", ")), call. = FALSE)
        }
        for (k in names(condition)) {
            known <- unique(as.character(SummarizedExperiment::colData(x)[[k]]))
            unknown_lab <- setdiff(unique(condition[[k]]), known)
            if (length(unknown_lab)) {
                stop(sprintf("Unknown label '%s' for column '%s'. Known labels: %s.", unknown_lab[1L], k,
                    paste(sort(known), collapse = ", ")), call. = FALSE)
            }
        }
        targs <- dots[intersect(names(dots), train_formals)]
        if ("seed" %in% names(dots)) targs$seed <- dots$seed
        if ("progress" %in% names(dots)) targs$progress <- dots$progress
        model <- do.call(trainScDiffusion, c(list(x = x, labels_keys = labels, assay = assay), targs))
    }
    .check_model(model)
    do.call(generate, c(list(x = model, n_cells = n_cells, condition = condition),
        dots[intersect(names(dots), gen_args)]))
})

#' @rdname generate
#' @export
setMethod("generate", "ANY", function(x, ...) {
    stop(sprintf(paste0("'x' must be a ScDiffusionModel (from trainScDiffusion() or loadScDiffusion()) ",
        "or a SingleCellExperiment with raw counts to train on, not a %s. Wrap a genes x cells matrix ",
        "of counts with SingleCellExperiment(assays = list(counts = m))."), class(x)[1L]), call. = FALSE)
})

.generated_sce <- function(enc, model) {
    sce <- .decode_sce(enc)  # X is "logcounts"; models with a count likelihood add "counts"
    if ("X_scdiffusion" %in% SingleCellExperiment::reducedDimNames(sce)) {
        SingleCellExperiment::reducedDimNames(sce)[
            SingleCellExperiment::reducedDimNames(sce) == "X_scdiffusion"] <- "scDiffusion"
    }
    params <- jsonlite::fromJSON(enc$params, simplifyVector = TRUE)
    S4Vectors::metadata(sce)$scDiffusion <- list(params = params, model = model)
    sce
}
