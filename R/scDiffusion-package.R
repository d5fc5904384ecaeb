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
#' @import methods
#' @importClassesFrom SingleCellExperiment SingleCellExperiment
#' @importFrom SummarizedExperiment assay assayNames colData rowData
#' @keywords internal
"_PACKAGE"
