#' scDiffusion: single-cell RNA-seq generation with a latent diffusion model
#'
#' Train scDiffusion on a \linkS4class{SingleCellExperiment}
#' (\code{\link{trainScDiffusion}}), generate cells of given labels or label
#' combinations (\code{\link{generate}}), interpolate between labels
#' (\code{\link{interpolate}}) and compare generated with real cells
#' (\code{\link{evaluateGeneration}}). Computations run in the package's
#' Python core through \pkg{basilisk}; see \code{\link{scDiffusionEnv}} for how
#' to use an existing Python environment instead.
#'
#' Start with the vignette (\code{vignette("scDiffusion", package =
#' "scDiffusion")}); \code{\link{scDiffusionExampleData}} and
#' \code{\link{scDiffusionExampleModel}} give data and a tiny model to try
#' the functions on.
#'
#' @import methods
#' @importClassesFrom SingleCellExperiment SingleCellExperiment
#' @importClassesFrom SummarizedExperiment SummarizedExperiment
#' @importClassesFrom Matrix dgCMatrix
#' @importFrom SummarizedExperiment assay assayNames colData rowData
#' @importFrom BiocGenerics cbind rbind
#' @keywords internal
"_PACKAGE"
