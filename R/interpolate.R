#' Interpolate between two labels (Gradient Interpolation)
#'
#' Real cells of label \code{from} are encoded and noised to \code{t_start};
#' each of \code{n_states} states then denoises the same noised cells with
#' classifier guidance weights \eqn{(\gamma(1-w), \gamma w)} on
#' \code{(from, to)}, \eqn{w = 0, 1/(n_states-1), \dots, 1}. The states give a
#' continuous path from \code{from} to \code{to}, e.g. through time points
#' never seen in training.
#'
#' @param model A trained \code{\linkS4class{ScDiffusionModel}}.
#' @param x A \linkS4class{SingleCellExperiment} with raw counts and the
#' \code{labels} column; its cells labelled \code{from} are the start cells.
#' @param labels The label column (one the model has a classifier for).
#' @param from,to Start and end labels.
#' @param n_states Number of states (at least 2: start and end).
#' @param n_cells Cells per state.
#' @param t_start Noise level (1 to 999) of the start cells (paper: 600).
#' @param guidance_scale Guidance weight \eqn{\gamma}.
#' @param assay Assay of \code{x} with raw counts.
#' @param sampler,n_steps,seed,progress As in \code{\link{generate}}.
#' @return A \linkS4class{SingleCellExperiment} with
#' \code{n_states * n_cells} cells: \code{logcounts} assay, and in
#' \code{colData} the columns \code{interpolation_state} (0 to
#' \code{n_states - 1}), \code{weight_start}, \code{weight_end},
#' \code{interpolation_start}, \code{interpolation_end} and
#' \code{source_cell}; parameters in \code{metadata(.)$scDiffusion}.
#' @examples
#' \dontrun{
#' path <- interpolate(model, sce, labels = "Hours", from = "24", to = "72",
#'                     n_states = 5, n_cells = 100)
#' table(path$interpolation_state)
#' }
#' @export
interpolate <- function(model, x, labels, from, to, n_states = 5L, n_cells = 100L,
    t_start = 600L, guidance_scale = 2, assay = "counts", sampler = c("dpmpp-sde", "ddpm", "ddim", "dpmpp"),
    n_steps = NULL, seed = 0L, progress = FALSE) {
    .check_model(model)
    .check_sce(x)
    labels <- .check_string(labels, "labels")
    known <- modelLabels(model)
    if (!labels %in% names(known)) {
        stop(sprintf("No classifier for column '%s'. Columns with classifiers: %s.", labels,
            if (length(known)) paste(names(known), collapse = ", ") else "none"), call. = FALSE)
    }
    .check_labels(x, labels)
    from <- .check_string(from, "from")
    to <- .check_string(to, "to")
    for (lab in c(from, to)) {
        if (!lab %in% known[[labels]]) {
            stop(sprintf("Unknown label '%s' for column '%s'. Known labels: %s.", lab, labels,
                paste(known[[labels]], collapse = ", ")), call. = FALSE)
        }
    }
    if (identical(from, to)) {
        stop("'from' and 'to' are the same label; interpolation needs two labels.", call. = FALSE)
    }
    n_states <- .check_count(n_states, "n_states", 2L)
    n_cells <- .check_count(n_cells, "n_cells")
    t_start <- .check_count(t_start, "t_start", 1L)
    if (t_start > 999L) {
        stop(sprintf("'t_start' must be at most 999 (noise levels run from 1 to 999; the paper uses 600), got %d.",
            t_start), call. = FALSE)
    }
    guidance_scale <- .check_number(guidance_scale, "guidance_scale", 0, 1000)
    assay <- .check_assay(x, assay)
    sampler <- match.arg(sampler)
    if (!is.null(n_steps)) n_steps <- .check_count(n_steps, "n_steps")
    seed <- .check_count(seed, "seed", 0L)
    lab <- as.character(SummarizedExperiment::colData(x)[[labels]])
    keep <- !is.na(lab) & lab == from
    if (!any(keep)) {
        stop(sprintf("'x' has no cell labelled '%s' in column '%s'.", from, labels), call. = FALSE)
    }
    missing_genes <- setdiff(modelGenes(model), rownames(x))
    if (length(missing_genes)) {
        stop(sprintf(paste0("'x' lacks %d of the model's %d genes, e.g. %s. Pass cells with the same ",
            "gene names (rownames) as the training data; see modelGenes(model)."),
            length(missing_genes), length(modelGenes(model)),
            paste0("'", utils::head(missing_genes, 3L), "'", collapse = ", ")), call. = FALSE)
    }
    y <- x[, keep]
    .check_counts(y, assay)
    if (is.null(colnames(y))) colnames(y) <- paste0("cell", which(keep))
    cd <- S4Vectors::DataFrame(lab[keep], row.names = colnames(y))
    colnames(cd) <- labels
    SummarizedExperiment::colData(y) <- cd
    enc <- .encode_sce(y, assays = assay, row_data = FALSE, reduced_dims = FALSE)
    out <- .scd_call("interpolate", list(model_dir = model@path, sce = enc,
        labels_key = labels, start = from, end = to, n_states = n_states, n_cells = n_cells,
        t_start = t_start, guidance_scale = guidance_scale, sampler = sampler,
        n_steps = n_steps, seed = seed, progress = .check_flag(progress, "progress")))
    .generated_sce(out, model)
}
