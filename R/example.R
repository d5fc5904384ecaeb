#' Example data and a tiny trained model
#'
#' \code{scDiffusionExampleData} returns a small simulated data set:
#' negative-binomial counts of 300 cells of three cell types (\code{"A"},
#' \code{"B"}, \code{"C"}) with type-specific means over 100 genes, in a
#' sparse \code{counts} assay; the last three genes are detected in one cell
#' only, so the gene filter of \code{\link{trainScDiffusion}} drops them.
#' \code{scDiffusionExampleModel} loads a tiny model (latent size 8, about
#' 40,000 weights) trained on these cells with classifiers on
#' \code{cell_type}. Both ship with the package (\code{inst/extdata}; the
#' script \code{inst/scripts/make-example-model.R} made them) so that
#' examples run in seconds. The model's cells resemble the example data only
#' roughly: real data need the default sizes and minutes of training.
#'
#' @return \code{scDiffusionExampleData}: a \linkS4class{SingleCellExperiment}
#' with a \code{dgCMatrix} of counts and the \code{colData} column
#' \code{cell_type}. \code{scDiffusionExampleModel}: a
#' \code{\linkS4class{ScDiffusionModel}}.
#' @examples
#' sce <- scDiffusionExampleData()
#' sce
#' table(sce$cell_type)
#' model <- scDiffusionExampleModel()
#' model
#' setdiff(rownames(sce), modelGenes(model))
#' @name scDiffusionExample
#' @aliases scDiffusionExampleData scDiffusionExampleModel
NULL

#' @rdname scDiffusionExample
#' @export
scDiffusionExampleData <- function() {
    data <- readRDS(.example_file("example_data.rds"))
    SingleCellExperiment::SingleCellExperiment(assays = list(counts = data$counts),
        colData = S4Vectors::DataFrame(cell_type = data$cell_type, row.names = colnames(data$counts)))
}

#' @rdname scDiffusionExample
#' @export
scDiffusionExampleModel <- function() {
    loadScDiffusion(.example_file("example_model"))
}

.example_file <- function(name) {
    path <- system.file("extdata", name, package = "scDiffusion")
    if (!nzchar(path)) {
        stop(sprintf("'%s' is missing from the installed package; reinstall scDiffusion.", name), call. = FALSE)
    }
    path
}
