#' Generate single cells with scDiffusion
#'
#' Generates cells from a trained \code{\linkS4class{ScDiffusionModel}},
#' optionally guided towards labels (one label column for cells of one label,
#' several for a combination of labels). Called on a
#' \linkS4class{SingleCellExperiment} (or any
#' \linkS4class{SummarizedExperiment}, or a genes x cells count matrix)
#' without a model, it first trains one on it (see
#' \code{\link{trainScDiffusion}}) and then generates. Argument names,
#' defaults and bounds are those of the Python core
#' (\code{ScDiffusion.generate}) and of \code{scdiffusion generate}.
#'
#' @section Masking:
#' \code{generate} is a common name: the CRAN package \pkg{infer} (and others)
#' export a \code{generate()} function too. Whichever package is attached last
#' masks the other; call \code{scDiffusion::generate(...)} to be sure to get
#' this one.
#'
#' @section Reproducibility:
#' With \code{seed = NULL} (the default) the seed is drawn from R's random
#' number generator, as other Bioconductor functions do: \code{set.seed()}
#' before the call repeats it, and successive calls give new cells (and new
#' cell names). The seed used is recorded in
#' \code{metadata(gen)$scDiffusion$params$seed}; an explicit \code{seed}
#' ignores R's generator.
#' A trained model gives the same cells for the same \code{seed} on the same
#' machine, also after \code{\link{saveScDiffusion}} and
#' \code{\link{loadScDiffusion}}. The one-call form also trains, and training
#' repeats exactly for a seed only when no stage is stopped by the wall-time
#' budget \code{max_time}: how many steps fit in \code{max_time} depends on
#' the machine's speed and load. When \code{max_time} stops a stage,
#' \code{trainScDiffusion} says so in a message; train with \code{max_steps}
#' instead for repeatable training, or keep the model
#' (\code{metadata(gen)$scDiffusion$model}) and generate from it.
#'
#' @param x A trained \code{\linkS4class{ScDiffusionModel}}; or a
#' \linkS4class{SingleCellExperiment} (any
#' \linkS4class{SummarizedExperiment}) with raw counts to train on; or a
#' genes x cells matrix of raw counts (dense, sparse or
#' \code{DelayedArray}), for unconditional generation.
#' @param ... For the \linkS4class{SummarizedExperiment} and matrix methods:
#' arguments of the \code{ScDiffusionModel} method (\code{guidance_scale},
#' \code{sampler}, ..., \code{genes}, \code{prefix}) and, when \code{model}
#' is \code{NULL}, of \code{\link{trainScDiffusion}} (\code{max_time},
#' \code{max_steps}, \code{hidden}, ...).
#' @param n_cells Number of cells to generate.
#' @param condition \code{NULL} (unconditional: with a classifier-free
#' model, each cell's labels are drawn from the training cells and recorded in
#' \code{colData}; \code{guidance = "classifier"} uses the null label), or a
#' named vector or list
#' \code{column = label}, e.g. \code{c(cell_type = "B")}; several entries ask
#' for the combination of labels. Labels may be character, factor, numeric
#' or logical values of the \code{colData} column (e.g.
#' \code{c(treated = TRUE)}, \code{c(hours = 24)}). A list entry may also hold
#' one label per cell (\code{n_cells} labels).
#' @eval .rd_params("generate", c("guidance_scale", "guidance", "cfg_scale", "drawn_cfg_scale", "sampler",
#'     "n_steps", "eta", "guidance_t_max", "seed", "progress", "genes", "prefix"))
#' @param like Optionally, a \linkS4class{SingleCellExperiment} (usually
#' the training data) that the result should bind with:
#' \code{cbind(like, gen)} then works as is. The result has the genes
#' (rows, in that order) and \code{rowData} of \code{like}, its assays
#' (an assay that is not generated, e.g. \code{"normcounts"}, is all
#' \code{NA}; generated assays it lacks are dropped), its \code{colData}
#' columns (a condition column holds the generated labels, converted to the
#' column's type; other columns are \code{NA}; generated columns such as
#' \code{library_size} move to \code{metadata(gen)$scDiffusion$colData})
#' and its reduced dimension names (all \code{NA}; the generated latent
#' moves to \code{metadata(gen)$scDiffusion$latent}). In the
#' \linkS4class{SummarizedExperiment} method, \code{genes = rownames(x)}
#' implies \code{like = x}.
#' @param labels_keys For the \linkS4class{SummarizedExperiment} method
#' without a model: \code{colData} columns to train classifiers on (defaults
#' to the names of \code{condition}).
#' @param assay Assay with raw counts (training only).
#' @param model Optionally, a trained \code{\linkS4class{ScDiffusionModel}} to
#' use instead of training one on \code{x}; training arguments are then an
#' error.
#' @return A \linkS4class{SingleCellExperiment} with the generated cells over
#' the model's genes (or \code{genes}). With a count likelihood (the default,
#' \code{likelihood = "nb"}): a sparse \code{counts} assay
#' (\code{dgCMatrix} of sampled integer counts), \code{sizeFactors} (library
#' size factors centred at 1) and \code{logcounts}, log2 of counts divided by
#' the size factor plus 1, as \code{scuttle::logNormCounts()} computes them.
#' Models without counts (\code{likelihood = "mse"}) give the decoder's
#' expected expression as assay \code{log1pCP10k} (natural-log \code{log1p}
#' of counts per 10,000, the Python core's scale). \code{colData} holds the
#' condition columns and, with counts, \code{library_size}: the library size
#' drawn from training cells of the same labels that the decoder's means were
#' scaled to (\code{colSums(counts)} scatters around it, counting the model's
#' genes only). The autoencoder latents are the reduced dimension
#' \code{"scDiffusion"}; \code{metadata(.)$scDiffusion} holds the generation
#' parameters and the model.
#' @seealso \code{\link{trainScDiffusion}}, \code{\link{evaluateGeneration}},
#' \code{\link{scDiffusionExampleModel}} (the model of the examples)
#' @examples
#' model <- scDiffusionExampleModel()
#' gen <- generate(model, n_cells = 20, condition = c(cell_type = "B"),
#'     n_steps = 10, seed = 1)
#' gen
#' table(gen$cell_type)
#' ## same seed, same cells; other parameters, other cell names
#' again <- generate(model, n_cells = 20, condition = c(cell_type = "B"),
#'     n_steps = 10, seed = 1)
#' identical(gen, again)
#' other <- generate(model, n_cells = 20, condition = c(cell_type = "C"),
#'     n_steps = 10, seed = 1)
#' ncol(cbind(gen, other))
#' ## the layout of the training data, so that the result binds with it
#' sce <- scDiffusionExampleData()
#' gen_all <- generate(model, n_cells = 5, n_steps = 10, like = sce,
#'     condition = c(cell_type = "A"), prefix = "gen_")
#' both <- cbind(sce, gen_all)
#' table(both$cell_type)
#' \donttest{
#' ## train and generate in one call
#' gen <- generate(sce, labels_keys = "cell_type", n_cells = 40,
#'     condition = c(cell_type = "B"), seed = 1, max_steps = 200,
#'     n_latent = 8, hidden = c(32, 32), denoiser_hidden = c(32, 16),
#'     classifier_hidden = 16)
#' }
#' @include model.R
#' @export
setGeneric("generate", function(x, ...) standardGeneric("generate"))

#' @rdname generate
#' @export
setMethod("generate", "ScDiffusionModel", function(x, n_cells, condition = NULL, guidance_scale = 2,
    guidance = "auto", cfg_scale = 4, drawn_cfg_scale = NULL, sampler = "dpmpp-sde", n_steps = NULL, eta = NULL,
    guidance_t_max = NULL, seed = NULL, progress = interactive(), genes = NULL, prefix = NULL, like = NULL) {
    .check_model(x, "x")
    n_cells <- .check_n_cells(n_cells)
    condition <- .check_condition(condition, modelLabels(x), n_cells, continuous = names(x@info$continuous))
    genes <- .check_genes(genes)
    like <- .check_like(like, genes)
    prefix <- .check_prefix(prefix)
    n_t <- .model_timesteps(x)
    opt <- function(arg, value) .check_option("generate", arg, value, n_timesteps = n_t)
    enc <- .scd_call(.generate_worker, model_dir = x@path, n_cells = n_cells, condition = condition,
        guidance_scale = .check_guidance(guidance_scale, condition), guidance = opt("guidance", guidance),
        cfg_scale = .check_guidance(cfg_scale, condition, "cfg_scale"),
        drawn_cfg_scale = opt("drawn_cfg_scale", drawn_cfg_scale), sampler = opt("sampler", sampler),
        n_steps = opt("n_steps", n_steps), eta = opt("eta", eta),
        guidance_t_max = opt("guidance_t_max", guidance_t_max), seed = opt("seed", .draw_seed(seed)),
        progress = opt("progress", progress))
    .generated_sce(enc, x, genes = genes, prefix = prefix, like = like)
})

#' @rdname generate
#' @export
setMethod("generate", "SummarizedExperiment", function(x, n_cells, condition = NULL,
    ..., labels_keys = names(condition), assay = "counts", model = NULL) {
    .check_sce(x)
    n_cells <- .check_n_cells(n_cells)
    dots <- list(...)
    if (length(dots) && (is.null(names(dots)) || any(!nzchar(names(dots))))) {
        stop("generate(): every argument after 'condition' must be named; see ?generate.", call. = FALSE)
    }
    if ("labels" %in% names(dots)) {
        labels_keys <- .renamed_args("train", dots["labels"], "generate")$labels_keys
        dots$labels <- NULL
    }
    gen_args <- setdiff(.r_options("generate"), c("n_cells", "condition"))
    train_args <- setdiff(.r_options("train"), c("labels_keys", "assay"))
    unknown <- setdiff(names(dots), c(gen_args, train_args, "like"))
    if (length(unknown)) {
        stop(sprintf("unknown argument(s) %s; see ?generate and ?trainScDiffusion.",
            paste0("'", unknown, "'", collapse = ", ")), call. = FALSE)
    }
    # check the generation arguments before spending time on training
    for (a in intersect(names(dots), .r_options("generate"))) {
        if (a %in% c("guidance_scale", "cfg_scale")) .check_guidance(dots[[a]], .check_condition(condition), a) else
            .check_option("generate", a, dots[[a]])
    }
    if (is.null(model)) {
        model <- .train_for_generation(x, condition, n_cells, labels_keys, assay,
            dots[intersect(names(dots), train_args)])
    } else {
        given <- c(setdiff(intersect(names(dots), train_args), gen_args),
            if (!missing(labels_keys)) "labels_keys", if (!missing(assay)) "assay")
        if (length(given)) {
            stop(sprintf("training argument(s) %s cannot be used with an existing 'model'; ",
                paste0("'", given, "'", collapse = ", ")), "drop them, or drop 'model' to train a new one.",
                call. = FALSE)
        }
    }
    .check_model(model)
    gen_dots <- dots[intersect(names(dots), c(gen_args, "like"))]
    if (is.null(gen_dots$like) && identical(gen_dots$genes, rownames(x))) {
        # every gene of 'x': the result binds with 'x' as is
        gen_dots$genes <- NULL
        gen_dots$like <- x
    }
    do.call(generate, c(list(x = model, n_cells = n_cells, condition = condition), gen_dots))
})

#' @rdname generate
#' @export
setMethod("generate", "ANY", function(x, ...) {
    sce <- .as_counts_sce(x, "x", "a ScDiffusionModel, ")
    generate(sce, ...)
})

## Train the model of generate()'s one-call form (checking the condition
## against the data first).
.train_for_generation <- function(x, condition, n_cells, labels_keys, assay, train_args) {
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
    do.call(trainScDiffusion, c(list(x = x, labels_keys = labels, assay = assay), train_args))
}

## The 'like' argument: NULL or a SummarizedExperiment with gene names (then
## 'genes' must be NULL: the genes are those of 'like').
.check_like <- function(like, genes = NULL) {
    if (is.null(like)) return(NULL)
    .check_sce(like, "like")
    if (is.null(rownames(like))) {
        stop("'like' needs gene names (rownames) to give the generated cells its genes.", call. = FALSE)
    }
    if (!is.null(genes) && !identical(genes, rownames(like))) {
        stop("give 'genes' or 'like', not both: with 'like' the genes are rownames(like).", call. = FALSE)
    }
    like
}

.check_n_cells <- function(n_cells) {
    if (missing(n_cells)) {
        stop("'n_cells' is missing: how many cells should be generated?", call. = FALSE)
    }
    .check_count(n_cells, "n_cells")
}
