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
