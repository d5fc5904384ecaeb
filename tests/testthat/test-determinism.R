test_that("interpolate() gives the same cells for the same seed and others for another seed", {
    skip_if_no_python()
    model <- tiny_model()
    run <- function(seed) interpolate(model, .test_cache$sce, labels_key = "cell_type", start = "A", end = "B",
        n_states = 3, n_cells = 4, t_start = 100, n_steps = 5, seed = seed)
    a <- run(7)
    b <- run(7)
    c <- run(8)
    for (n in SummarizedExperiment::assayNames(a)) {
        expect_identical(SummarizedExperiment::assay(b, n), SummarizedExperiment::assay(a, n))
    }
    expect_identical(SummarizedExperiment::colData(b), SummarizedExperiment::colData(a))
    expect_identical(SingleCellExperiment::reducedDims(b), SingleCellExperiment::reducedDims(a))
    expect_false(isTRUE(all.equal(SummarizedExperiment::assay(c, "logcounts"),
        SummarizedExperiment::assay(a, "logcounts"))))
    expect_false(isTRUE(all.equal(SingleCellExperiment::reducedDim(c, "scDiffusion"),
        SingleCellExperiment::reducedDim(a, "scDiffusion"))))
})

test_that("generate() gives other cells for another seed", {
    skip_if_no_python()
    model <- tiny_model()
    run <- function(seed) generate(model, n_cells = 5, condition = c(cell_type = "A"), n_steps = 5, seed = seed)
    a <- run(1)
    expect_identical(SummarizedExperiment::assay(run(1), "logcounts"), SummarizedExperiment::assay(a, "logcounts"))
    expect_false(isTRUE(all.equal(SummarizedExperiment::assay(run(2), "logcounts"),
        SummarizedExperiment::assay(a, "logcounts"))))
})

test_that("seed = NULL follows set.seed(), successive calls differ, an explicit seed wins (issue 24.1)", {
    skip_if_no_python()
    model <- scDiffusionExampleModel()
    run <- function(...) generate(model, n_cells = 4, n_steps = 3, ...)
    counts <- function(x) SummarizedExperiment::assay(x, "counts")
    set.seed(1)
    a <- run()
    set.seed(1)
    b <- run()
    expect_identical(counts(a), counts(b))
    expect_identical(colnames(a), colnames(b))
    c <- run()  # no set.seed: the next draw of R's generator
    expect_false(identical(counts(c), counts(a)))
    expect_identical(anyDuplicated(colnames(cbind(a, c))), 0L)
    expect_false(identical(S4Vectors::metadata(a)$scDiffusion$params$seed,
        S4Vectors::metadata(c)$scDiffusion$params$seed))
    # the drawn seed is recorded and repeats the call when given explicitly
    again <- run(seed = S4Vectors::metadata(a)$scDiffusion$params$seed)
    expect_identical(counts(again), counts(a))
    set.seed(5)
    x <- run(seed = 7L)
    set.seed(6)
    y <- run(seed = 7L)
    expect_identical(counts(x), counts(y))
    # interpolate follows set.seed() too
    sce <- scDiffusionExampleData()
    path <- function() interpolate(model, sce, labels_key = "cell_type", start = "A", end = "B", n_states = 2,
        n_cells = 3, t_start = 100, n_steps = 3)
    set.seed(2)
    p1 <- path()
    set.seed(2)
    p2 <- path()
    expect_identical(counts(p1), counts(p2))
    expect_false(identical(counts(path()), counts(p1)))
})
