#' Integer pseudo-counts from relative expression
#'
#' scDiffusion trains on raw counts. Relative expression values such as FPKM or
#' TPM are turned into integer pseudo-counts by scaling each cell (column) to
#' \code{library_size} in total and rounding, as the Python core's
#' \code{scdiffusion.data.pseudo_counts}. The model's preprocessing then
#' normalises each cell to 1e4 and takes \code{log1p}, so the relative
#' expression within a cell is kept up to rounding of tiny values (below 0.5
#' pseudo-counts they become zero).
#'
#' @param x A genes x cells matrix (dense or sparse) of non-negative values.
#' @param library_size Total pseudo-count per cell.
#' @return A matrix of the same shape (and class for \code{dgCMatrix}) holding
#' whole numbers.
#' @examples
#' fpkm <- matrix(c(1.5, 0, 20, 3.2, 0.1, 7), nrow = 3)
#' pseudoCounts(fpkm, library_size = 100)
#' @export
pseudoCounts <- function(x, library_size = 1e4) {
    library_size <- .check_number(library_size, "library_size", 1, Inf)
    if (is.data.frame(x)) x <- as.matrix(x)
    if (!(is.matrix(x) && is.numeric(x)) && !is(x, "Matrix")) {
        stop("'x' must be a numeric genes x cells matrix.", call. = FALSE)
    }
    if (anyNA(x) || any(x < 0)) {
        stop("'x' must be non-negative without NA values.", call. = FALSE)
    }
    lib <- Matrix::colSums(x)
    scale <- ifelse(lib > 0, library_size / lib, 0)
    if (is(x, "dgCMatrix")) {
        x@x <- round(x@x * rep(scale, diff(x@p)))
        return(Matrix::drop0(x))
    }
    round(sweep(as.matrix(x), 2L, scale, `*`))
}
