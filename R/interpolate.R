#' Interpolate between two labels (Gradient or two-ended interpolation)
#'
#' With \code{method = "gradient"} (the paper's Gradient
#' Interpolation), real cells labelled \code{start} are encoded and noised to
#' \code{t_start}; each of \code{n_states} states then denoises the same noised
#' cells with
#' classifier guidance weights \eqn{(\gamma(1-w), \gamma w)} on
#' \code{(start, end)}, \eqn{w = 0, 1/(n_states-1), \dots, 1}. The states give a
#' continuous path from \code{start} to \code{end}, e.g. through time points
#' never seen in training. The weights are scaled by
#' \eqn{\gamma} = \code{guidance_scale}: the columns \code{weight_start}
#' and \code{weight_end} of the result hold \eqn{\gamma(1-w)} and
#' \eqn{\gamma w}, not \eqn{1-w} and \eqn{w}. Each state starts from
#' \code{n_cells} start cells drawn from the cells labelled \code{start};
#' when \code{n_cells} exceeds their number they are resampled with
#' replacement (\code{source_cell} names each one's cell), so states then
#' repeat start cells.
#'
#' With \code{method = "two-ended"}, the real cells of both labels are used:
#' cells labelled \code{start} and \code{end} are encoded and paired by exact
#' optimal transport in the latent space (at most 2,000 cells per side), both
#' cells of each of \code{n_cells} pairs are noised to \code{t_start} with the
#' same noise, and state \eqn{w} starts from the spherical blend (slerp) at
#' \eqn{w} of the two noised cells before being denoised with the same guidance;
#' \code{source_cell_end} names each pair's end cell.
#'
#' With \code{method = "auto"} (the default) the two-ended method is used when
#' \code{x} has cells of both labels -- it came closer to held-out cells than
#' Gradient Interpolation on a simulated trajectory and on both held-out HSMM
#' time points (3 seeds each; the package's benchmarks) -- and Gradient
#' Interpolation when \code{x} has no cell of \code{end};
#' \code{metadata(.)$scDiffusion$params$interpolation_method} says which ran.
#' Along a continuous column (\code{continuous_keys}) the same, by value: the
#' state at value \code{a} blends cells at \code{start} and \code{end} at
#' \eqn{w = (a - start) / (end - start)} and is denoised at \code{a}; values
#' of \code{at} outside \code{start}..\code{end} need Gradient Interpolation,
#' which \code{"auto"} then uses.
#'
#' Argument names, defaults and bounds are those of the Python core
#' (\code{ScDiffusion.interpolate}) and of \code{scdiffusion interpolate}.
#'
#' @section Reproducibility:
#' The same model, start cells and \code{seed} give the same states on the
#' same machine. With \code{seed = NULL} (the default) the seed is drawn from
#' R's random number generator: \code{set.seed()} before the call repeats it;
#' the seed used is in \code{metadata(.)$scDiffusion$params$seed}.
#'
#' @param model A trained \code{\linkS4class{ScDiffusionModel}}.
#' @param x A \linkS4class{SingleCellExperiment} (any
#' \linkS4class{SummarizedExperiment}) with raw counts and the
#' \code{labels_key} column; its cells labelled \code{start} are the start
#' cells (two-ended: and those labelled \code{end} the end cells). A bare
#' count matrix has no labels: wrap it as
#' \code{SingleCellExperiment(assays = list(counts = m), colData =
#' DataFrame(Hours = labels))}.
#' @eval .rd_params("interpolate", c("labels_key", "start", "end", "n_states", "n_cells", "t_start",
#'     "method", "guidance_scale", "guidance", "cfg_scale", "sampler", "n_steps", "eta", "guidance_t_max", "assay",
#'     "seed", "progress", "genes", "prefix", "at"))
#' @param like Optionally, a \linkS4class{SingleCellExperiment} (usually
#' \code{x}) whose layout the result takes, so that \code{cbind(like, path)}
#' works as is; see \code{\link{generate}}.
#' @param ... Deprecated argument names of the previous release (\code{labels},
#' \code{from}, \code{to}), accepted with a warning.
#' @return A \linkS4class{SingleCellExperiment} with
#' \code{n_states * n_cells} cells and the assays of \code{\link{generate}}
#' (\code{counts}, \code{logcounts} and \code{sizeFactors} with a count
#' likelihood, else \code{log1pCP10k}); in \code{colData} the columns
#' \code{interpolation_state} (0 to \code{n_states - 1}),
#' \code{weight_start}, \code{weight_end}, \code{interpolation_start},
#' \code{interpolation_end} and \code{source_cell} (two-ended: and
#' \code{source_cell_end}); parameters, with \code{interpolation_method}, in
#' \code{metadata(.)$scDiffusion}.
#' @seealso \code{\link{generate}}, \code{\link{scDiffusionExampleModel}}
#' @examples
#' model <- scDiffusionExampleModel()
#' sce <- scDiffusionExampleData()
#' path <- interpolate(model, sce, labels_key = "cell_type", start = "A",
#'     end = "B", n_states = 3, n_cells = 10, t_start = 300, n_steps = 10)
#' table(path$interpolation_state)
#' unique(colData(path)[, c("interpolation_state", "weight_start",
#'     "weight_end")])
#' both_ends <- interpolate(model, sce, labels_key = "cell_type", start = "A",
#'     end = "B", method = "two-ended", n_states = 3, n_cells = 10,
#'     t_start = 300, n_steps = 10)
#' head(colData(both_ends)[, c("source_cell", "source_cell_end")])
#' @export
setGeneric("interpolate", function(model, x, ...) standardGeneric("interpolate"), signature = "x")

#' @rdname interpolate
#' @export
setMethod("interpolate", "SummarizedExperiment", function(model, x, labels_key = NULL, start = NULL, end = NULL,
    n_states = 5L, n_cells = 100L, t_start = NULL, guidance_scale = 2, guidance = "auto",
    cfg_scale = 4, sampler = "dpmpp-sde", n_steps = NULL,
    eta = NULL, guidance_t_max = NULL, assay = "counts", seed = NULL, progress = interactive(), genes = NULL,
    prefix = NULL, method = "auto", like = NULL, at = NULL, ...) {
    old <- .renamed_args("interpolate", list(...), "interpolate", sys.call(-1))
    for (a in names(old)) assign(a, old[[a]])
    .check_model(model)
    .check_sce(x)
    n_t <- .model_timesteps(model)
    opt <- function(arg, value) .check_option("interpolate", arg, value, n_timesteps = n_t)
    labels_key <- opt("labels_key", .check_string(labels_key, "labels_key"))
    known <- modelLabels(model)
    continuous <- labels_key %in% names(model@info$continuous)
    if (!continuous && !is.null(at)) {
        stop(sprintf("'at' gives values of a continuous column, but '%s' is not one; continuous columns: %s.",
            labels_key, if (length(model@info$continuous)) paste(names(model@info$continuous), collapse = ", ") else
                "none (train with 'continuous_keys =')"), call. = FALSE)
    }
    if (continuous) {  # numbers: checked by the Python core
        start <- as.character(start)
        end <- as.character(end)
    } else if (!labels_key %in% names(known)) {
        stop(sprintf("No classifier for column '%s'. Columns with classifiers: %s.", labels_key,
            if (length(known)) paste(names(known), collapse = ", ") else "none"), call. = FALSE)
    }
    .check_labels(x, labels_key, "labels_key")
    start <- .check_string(start, "start")
    end <- .check_string(end, "end")
    for (lab in if (continuous) character(0) else c(start, end)) {
        if (!lab %in% known[[labels_key]]) {
            stop(sprintf("Unknown label '%s' for column '%s'. Known labels: %s.", lab, labels_key,
                paste(known[[labels_key]], collapse = ", ")), call. = FALSE)
        }
    }
    if (identical(start, end)) {
        stop("'start' and 'end' are the same label; interpolation needs two labels.", call. = FALSE)
    }
    method <- opt("method", method)
    args <- list(n_states = opt("n_states", n_states), n_cells = opt("n_cells", n_cells),
        t_start = opt("t_start", t_start), method = method, guidance_scale = opt("guidance_scale", guidance_scale),
        guidance = opt("guidance", guidance), cfg_scale = opt("cfg_scale", cfg_scale),
        sampler = opt("sampler", sampler), n_steps = opt("n_steps", n_steps), eta = opt("eta", eta),
        guidance_t_max = opt("guidance_t_max", guidance_t_max), seed = opt("seed", .draw_seed(seed)),
        progress = opt("progress", progress), at = if (is.null(at)) NULL else as.list(at))
    column <- SummarizedExperiment::colData(x)[[labels_key]]
    has_end <- if (continuous) {
        any(abs(suppressWarnings(as.numeric(as.character(column))) - suppressWarnings(as.numeric(end))) < 1e-9,
            na.rm = TRUE)
    } else {
        any(as.character(column) %in% end)
    }
    both <- identical(method, "two-ended") || (identical(method, "auto") && has_end)
    enc <- .start_cells(x, model, labels_key, if (both) c(start, end) else start, .check_assay(x, assay))
    out <- do.call(.scd_call, c(list(.interpolate_worker, model_dir = model@path, sce = enc,
        labels_key = labels_key, start = start, end = end), args))
    genes <- .check_genes(genes)
    .generated_sce(out, model, genes = genes, prefix = .check_prefix(prefix), like = .check_like(like, genes))
})

## The cells of 'x' labelled 'start' (a vector: the labels whose cells are
## used, the start label first), checked and encoded for the bridge: the counts
## assay and the label column only.
.start_cells <- function(x, model, labels_key, start, assay) {
    lab <- as.character(SummarizedExperiment::colData(x)[[labels_key]])
    if (labels_key %in% names(model@info$continuous)) {  # values compared as numbers
        lab <- as.character(suppressWarnings(as.numeric(lab)))
        start <- as.character(suppressWarnings(as.numeric(start)))
    }
    for (one in start) {
        if (!any(!is.na(lab) & lab == one)) {
            stop(sprintf("'x' has no cell labelled '%s' in column '%s'.%s", one, labels_key,
                if (!identical(one, start[[1L]])) paste0(" Two-ended interpolation starts from real cells of both ",
                    "labels: add cells labelled '", one, "', or use method = \"gradient\" (start cells only).")
                else ""), call. = FALSE)
        }
    }
    keep <- !is.na(lab) & lab %in% start
    missing_genes <- setdiff(modelGenes(model), rownames(x))
    if (length(missing_genes)) {
        stop(sprintf("'x' lacks %d of the model's %d genes, e.g. %s. ", length(missing_genes),
            length(modelGenes(model)), paste0("'", utils::head(missing_genes, 3L), "'", collapse = ", ")),
            "Pass cells with the same gene names (rownames) as the training data; see modelGenes(model).",
            call. = FALSE)
    }
    y <- x[, keep]
    .check_counts(y, assay)
    if (is.null(colnames(y))) colnames(y) <- paste0("cell", which(keep))
    cd <- S4Vectors::DataFrame(lab[keep], row.names = colnames(y))
    colnames(cd) <- labels_key
    SummarizedExperiment::colData(y) <- cd
    .encode_sce(y, assays = assay, row_data = FALSE, reduced_dims = FALSE)
}

#' @rdname interpolate
#' @export
setMethod("interpolate", "ANY", function(model, x, ...) {
    sce <- .as_counts_sce(x)
    interpolate(model, sce, ...)
})
