test_that("dense and dgCMatrix assays, colData, rowData, reducedDims and dimnames round-trip exactly", {
    skip_if_no_python()
    set.seed(2)
    sce <- sim_sce(n_cells = 30, n_genes = 25)
    SummarizedExperiment::assay(sce, "logcounts") <- log1p(SummarizedExperiment::assay(sce, "counts"))
    SummarizedExperiment::assay(sce, "sparse") <- as(SummarizedExperiment::assay(sce, "counts"), "dgCMatrix")
    sce$int <- seq_len(30)
    sce$int[3] <- NA
    sce$lgl <- rep(c(TRUE, FALSE, NA), 10)
    sce$chr <- rep(c("a", NA, "ü"), 10)
    sce$fac <- factor(rep(c("x", "y", NA), 10), levels = c("y", "x", "unused"))
    sce$ord <- factor(rep(c("lo", "hi"), 15), levels = c("lo", "hi"), ordered = TRUE)
    sce$dbl <- stats::rnorm(30)
    sce$dbl[2] <- NA
    sce$dbl[4] <- NaN
    sce$dbl[5] <- -Inf
    SummarizedExperiment::rowData(sce)$symbol <- paste0("S", seq_len(25))
    SummarizedExperiment::rowData(sce)$length <- seq_len(25) * 1.5
    SingleCellExperiment::reducedDim(sce, "PCA") <- matrix(stats::rnorm(60), 30,
        dimnames = list(colnames(sce), c("PC1", "PC2")))
    SingleCellExperiment::reducedDim(sce, "UMAP") <- matrix(stats::rnorm(60), 30)

    rt <- anndataRoundTrip(sce)
    expect_s4_class(rt, "SingleCellExperiment")
    expect_identical(SummarizedExperiment::assayNames(rt), SummarizedExperiment::assayNames(sce))
    for (a in SummarizedExperiment::assayNames(sce)) {
        expect_identical(SummarizedExperiment::assay(rt, a), SummarizedExperiment::assay(sce, a))
    }
    expect_s4_class(SummarizedExperiment::assay(rt, "sparse"), "dgCMatrix")
    expect_identical(SummarizedExperiment::colData(rt), SummarizedExperiment::colData(sce))
    expect_identical(SummarizedExperiment::rowData(rt), SummarizedExperiment::rowData(sce))
    expect_identical(SingleCellExperiment::reducedDims(rt), SingleCellExperiment::reducedDims(sce))
    expect_identical(dimnames(rt), dimnames(sce))
    expect_true(is.na(rt$dbl[2]) && !is.nan(rt$dbl[2]))
    expect_true(is.nan(rt$dbl[4]))
})

test_that("objects without dimnames and integer matrices round-trip", {
    skip_if_no_python()
    m <- matrix(as.integer(stats::rpois(200, 3)), 20, 10)
    sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = m))
    rt <- anndataRoundTrip(sce)
    expect_null(rownames(rt))
    expect_null(colnames(rt))
    expect_identical(SummarizedExperiment::assay(rt, "counts"), m)
    sp <- Matrix::rsparsematrix(15, 12, 0.2)
    sce2 <- SingleCellExperiment::SingleCellExperiment(assays = list(x = sp))
    expect_identical(SummarizedExperiment::assay(anndataRoundTrip(sce2), "x"), sp)
})

test_that("unsupported colData columns give clear errors", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 10, n_genes = 5)
    sce$nested <- S4Vectors::DataFrame(a = seq_len(10))
    expect_error(anndataRoundTrip(sce), "not an atomic vector")
    sce <- sim_sce(n_cells = 10, n_genes = 5)
    colnames(sce)[2] <- colnames(sce)[1]
    expect_error(anndataRoundTrip(sce), "must be unique")
})

test_that("rdsToPlain refuses crafted .rds files before readRDS runs anything, and reads a full SCE (issue 21)", {
    skip_if_no_python()
    dir <- tempfile("rds_")
    dir.create(dir)
    sentinel <- file.path(dir, "SENTINEL")
    # a promise (delayedAssign) inside an environment, hidden in the metadata of a valid SCE
    e <- new.env(parent = emptyenv())
    delayedAssign("x", file.create(sentinel), assign.env = e)
    sce <- sim_sce(n_cells = 10, n_genes = 8)
    bad <- sce
    S4Vectors::metadata(bad)$env <- e
    promise_file <- file.path(dir, "promise.rds")
    saveRDS(bad, promise_file)
    bad <- sce
    S4Vectors::metadata(bad)$fun <- function() file.create(sentinel)
    closure_file <- file.path(dir, "closure.rds")
    saveRDS(bad, closure_file)
    expect_false(file.exists(sentinel))
    res <- rdsToPlain(promise_file)
    expect_match(res$error, sprintf("Refusing to read '%s': it holds a promise \\(PROMSXP", promise_file))
    expect_match(res$error, "CVE-2024-27322")
    expect_null(res$sce)
    expect_match(rdsToPlain(closure_file)$error, "it holds a function \\(CLOSXP\\)")
    expect_match(rdsToPlain(file.path(dir, "none.rds"))$error, "does not exist")
    ascii <- file.path(dir, "ascii.rds")
    saveRDS(sce, ascii, ascii = TRUE)
    expect_match(rdsToPlain(ascii)$error, "ASCII serialization format")
    expect_false(file.exists(sentinel))

    # a normal SingleCellExperiment with sparse and dense assays, factors, rowData, reducedDims, metadata
    SummarizedExperiment::assay(sce, "logcounts") <- log1p(SummarizedExperiment::assay(sce, "counts"))
    SummarizedExperiment::assay(sce, "sparse") <- as(SummarizedExperiment::assay(sce, "counts"), "dgCMatrix")
    sce$fac <- factor(rep(c("x", "y"), 5))
    SummarizedExperiment::rowData(sce)$symbol <- paste0("S", seq_len(8))
    SingleCellExperiment::reducedDim(sce, "PCA") <- matrix(stats::rnorm(20), 10)
    S4Vectors::metadata(sce)$note <- list(a = 1:3, b = "text")
    for (cmp in c("gzip", "bzip2", "xz")) {
        good <- file.path(dir, paste0("good_", cmp, ".rds"))
        saveRDS(sce, good, compress = cmp)
        plain <- rdsToPlain(good)
        expect_null(plain$error)
        expect_identical(plain$sce, .encode_sce(sce))
    }
    # the Python package checks first and says so
    expect_null(rdsToPlain(good, checked = TRUE)$error)
})
