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
#' @section Installation:
#' \preformatted{if (!requireNamespace("BiocManager", quietly = TRUE))
#'     install.packages("BiocManager")
#' BiocManager::install("scDiffusion")}
#'
#' @section Options:
#' \describe{
#' \item{\code{scDiffusion.python}}{Directory of an existing Python
#' environment to use instead of basilisk's (also the environment variable
#' \code{SCDIFFUSION_PYTHON}); see \code{\link{scDiffusionEnv}}.}
#' \item{\code{scDiffusion.threads}}{CPU threads of the Python core: one
#' positive whole number fixes them (e.g.
#' \code{options(scDiffusion.threads = 2)}); \code{NULL}, the default, \code{0}
#' or \code{"auto"} use every core this process may use, fixed for the whole
#' call (results depend on the thread count, never on other load).}
#' \item{\code{scDiffusion.verbose}}{\code{TRUE} prints the Python traceback
#' in the message of an internal error (a bug to report).}
#' }
#'
#' Functions that draw random numbers (\code{\link{generate}},
#' \code{\link{interpolate}}, \code{\link{trainScDiffusion}},
#' \code{\link{evaluateGeneration}}) follow \code{set.seed()} unless given an
#' explicit \code{seed}.
#'
#' @import methods
#' @importClassesFrom SingleCellExperiment SingleCellExperiment
#' @importClassesFrom SummarizedExperiment SummarizedExperiment
#' @importClassesFrom Matrix dgCMatrix
#' @importFrom SummarizedExperiment assay assayNames colData rowData
#' @importFrom BiocGenerics cbind rbind
"_PACKAGE"
