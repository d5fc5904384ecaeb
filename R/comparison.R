#' Compare generated with real cells in pictures
#'
#' Draws the comparison panels of the report of \code{scdiffusion evaluate},
#' in the spirit of splatter's \code{compareSCEs}: real and generated cells
#' overlaid for the library size, zeros per cell against library size,
#' per-gene mean against variance and against zero fraction (log2 counts per
#' million) and, with labels, the log2 fold change of each label against the
#' rest, real against generated. The numbers come from the Python core
#' (\code{scdiffusion.evaluation.comparison_data}, the same as the report's
#' figures) and are returned, so that they can be drawn with any other tool.
#' \code{\link{evaluateGeneration}} gives the statistics that compare them.
#'
#' @param real,generated \linkS4class{SingleCellExperiment} objects with the
#' same genes (any order).
#' @param labels_key Optional \code{colData} column present in both (fold
#' changes per label).
#' @param real_assay,generated_assay Assays to compare, chosen and checked as
#' in \code{\link{evaluateGeneration}}; the count panels need raw counts on
#' both sides.
#' @param max_cells Random subsample of cells per object.
#' @param seed Seed of the subsample; \code{NULL} draws it from R's random
#' number generator (\code{set.seed()} repeats a call).
#' @param plot Draw the panels (base graphics, on the current device).
#' @return Invisibly, a list: \code{cells}, a \code{data.frame} with one row
#' per cell of either object (\code{library_size}, \code{tmm_factor},
#' \code{effective_library_size}, \code{zero_fraction}, \code{source});
#' \code{genes}, one row per gene and object (\code{mean_log2cpm},
#' \code{variance_log2cpm}, \code{scaled_variance_log2cpm},
#' \code{zero_fraction}, \code{source}, \code{gene}); \code{lfc}, one row per
#' label and gene (\code{label}, \code{gene}, \code{lfc_real},
#' \code{lfc_generated}); each \code{NULL} when it cannot be computed, and
#' \code{skipped}, why.
#' @seealso \code{\link{evaluateGeneration}}
#' @examples
#' model <- scDiffusionExampleModel()
#' sce <- scDiffusionExampleData()
#' gen <- generate(model, n_cells = 150,
#'     condition = list(cell_type = rep(c("A", "B", "C"), 50)), n_steps = 10,
#'     seed = 1)
#' panels <- plotComparison(sce[rownames(gen), ], gen, labels_key = "cell_type")
#' head(panels$genes)
#' @export
plotComparison <- function(real, generated, labels_key = NULL, real_assay = NULL, generated_assay = NULL,
    max_cells = 10000L, seed = NULL, plot = TRUE) {
    .check_sce(real, "real")
    .check_sce(generated, "generated")
    assays <- .evaluation_assays(real, generated, real_assay, generated_assay)
    .check_same_genes(real, generated)
    if (!is.null(labels_key)) {
        labels_key <- .check_string(labels_key, "labels_key")
        .check_labels(real, labels_key, "labels_key")
        .check_labels(generated, labels_key, "labels_key")
    }
    if (!is.logical(plot) || length(plot) != 1L || is.na(plot)) {
        stop("'plot' must be TRUE or FALSE.", call. = FALSE)
    }
    .check_same_scale(real, assays[["real"]], generated, assays[["generated"]], caller = "plotComparison")
    opt <- function(arg, value) .check_option("evaluate", arg, value)
    res <- .scd_call(.comparison_worker, real = .evaluation_cells(real, assays[["real"]], labels_key),
        generated = .evaluation_cells(generated, assays[["generated"]], labels_key), labels_key = labels_key,
        max_cells = opt("max_cells", max_cells), seed = opt("seed", .draw_seed(seed)))
    res <- jsonlite::fromJSON(res, simplifyVector = TRUE)
    out <- lapply(res[c("cells", "genes", "lfc")], function(t) if (is.null(t)) NULL else as.data.frame(t))
    out$skipped <- res$skipped
    if (plot) .draw_comparison(out)
    invisible(out)
}

## The panels: one row of count panels per table that exists, then the fold
## changes; real cells blue, generated red.
.draw_comparison <- function(d) {
    have <- c(cells = !is.null(d$cells), genes = !is.null(d$genes), lfc = !is.null(d$lfc))
    if (!any(have)) {
        stop("nothing to draw: ", paste(unlist(d$skipped), collapse = "; "), call. = FALSE)
    }
    n <- 2L * sum(have[c("cells", "genes")]) + have[["lfc"]]
    old <- graphics::par(mfrow = c(ceiling(n / 3), min(n, 3L)), mar = c(4, 4, 2.5, 1))
    on.exit(graphics::par(old))
    if (have[["cells"]]) {
        x <- d$cells
        .density_panel(log10(x$library_size + 1), x$source, "log10(library size + 1)", "Library size")
        .scatter_panel(log10(x$library_size + 1), x$zero_fraction, x$source, "log10(library size + 1)",
            "zero fraction", "Zeros per cell")
    }
    if (have[["genes"]]) {
        g <- d$genes
        .scatter_panel(g$mean_log2cpm, g$variance_log2cpm, g$source, "mean log2 CPM", "variance of log2 CPM",
            "Genes: mean vs variance")
        .scatter_panel(g$mean_log2cpm, g$zero_fraction, g$source, "mean log2 CPM", "zero fraction",
            "Genes: mean vs zeros")
    }
    if (have[["lfc"]]) {
        l <- d$lfc
        r <- stats::cor(l$lfc_real, l$lfc_generated, use = "complete.obs")
        labs <- factor(l$label)
        graphics::plot(l$lfc_real, l$lfc_generated, pch = 16, cex = 0.5,
            col = grDevices::adjustcolor(grDevices::hcl.colors(nlevels(labs))[labs], 0.6),
            xlab = "log2 fold change, real", ylab = "log2 fold change, generated",
            main = sprintf("Label vs rest (r = %.2f)", r))
        graphics::abline(0, 1, lty = 2, col = "grey40")
        graphics::legend("topleft", legend = levels(labs), col = grDevices::hcl.colors(nlevels(labs)), pch = 16,
            bty = "n", cex = 0.8, title = "label")
    }
    invisible(NULL)
}

.COMPARISON_COLOURS <- c(real = "#1f77b4", generated = "#d62728")

.density_panel <- function(v, source, xlab, main) {
    dens <- lapply(split(v, source), stats::density)
    graphics::plot(NULL, xlim = range(unlist(lapply(dens, `[[`, "x"))),
        ylim = c(0, max(unlist(lapply(dens, `[[`, "y")))), xlab = xlab, ylab = "density", main = main)
    for (s in names(dens)) graphics::lines(dens[[s]], col = .COMPARISON_COLOURS[[s]], lwd = 2)
    graphics::legend("topright", legend = names(.COMPARISON_COLOURS), col = .COMPARISON_COLOURS, lwd = 2,
        bty = "n", cex = 0.8)
}

.scatter_panel <- function(x, y, source, xlab, ylab, main) {
    graphics::plot(x, y, pch = 16, cex = 0.4, col = grDevices::adjustcolor(.COMPARISON_COLOURS[source], 0.4),
        xlab = xlab, ylab = ylab, main = main)
}
