## evaluateGeneration() returns the Python core's table with its verdicts, and
## plotComparison() draws the report's comparison panels (issue 15).

halves <- function() {
    sce <- scDiffusionExampleData()
    sce <- sce[Matrix::rowSums(SummarizedExperiment::assay(sce, "counts") > 0) >= 3, ]
    odd <- seq_len(ncol(sce)) %% 2L == 1L
    list(a = sce[, odd], b = sce[, !odd])
}

test_that("evaluateGeneration returns every column of the core's table, with verdicts against the control", {
    skip_if_no_python()
    h <- halves()
    res <- suppressMessages(evaluateGeneration(h$a, h$b, labels_key = "cell_type", quick = TRUE, n_comps = 10))
    expect_identical(colnames(res), c("group", "value", "matched", "control", "threshold", "pass", "ideal",
        "better", "space", "description", "skipped", "error"))
    expect_type(res$pass, "logical")
    expect_true(all(c("count_properties", "differential_expression", "pca_distances") %in% res$group))
    # two halves of the same real cells: the count properties pass against the real-vs-real control
    props <- res[res$group %in% "count_properties", ]
    expect_gte(nrow(props), 13L)
    expect_true(mean(props$pass, na.rm = TRUE) >= 0.8)
    # a clear defect fails: every library three times as large
    big <- h$b
    SummarizedExperiment::assay(big, "counts") <- SummarizedExperiment::assay(big, "counts") * 3
    bad <- suppressMessages(evaluateGeneration(h$a, big, labels_key = "cell_type", quick = TRUE, n_comps = 10))
    expect_false(bad["library_size", "pass"])
    expect_gt(bad["library_size", "value"], res["library_size", "value"])
})

test_that("plotComparison returns the panels' numbers and draws them", {
    skip_if_no_python()
    h <- halves()
    pdf_file <- tempfile(fileext = ".pdf")
    grDevices::pdf(pdf_file)
    d <- suppressMessages(plotComparison(h$a, h$b, labels_key = "cell_type"))
    grDevices::dev.off()
    expect_gt(file.size(pdf_file), 1000)
    expect_identical(nrow(d$cells), ncol(h$a) + ncol(h$b))
    real_lib <- d$cells$library_size[d$cells$source == "real"]
    expect_equal(sort(real_lib), sort(unname(Matrix::colSums(SummarizedExperiment::assay(h$a, "counts")))))
    expect_identical(nrow(d$genes), 2L * nrow(h$a))
    expect_true(all(c("label", "gene", "lfc_real", "lfc_generated") %in% colnames(d$lfc)))
    expect_setequal(unique(d$lfc$label), c("A", "B", "C"))
    # no labels: no fold changes, and the reason
    d2 <- suppressMessages(plotComparison(h$a, h$b, plot = FALSE))
    expect_null(d2$lfc)
    expect_match(d2$skipped$lfc, "labels")
    expect_error(plotComparison(h$a, h$b, labels_key = "tissue", plot = FALSE), "tissue")
    expect_error(plotComparison(h$a, h$b, plot = NA), "'plot' must be TRUE or FALSE")
})

test_that("evaluateGeneration(train =) runs the memorisation check that is skipped without it (issue 24.5)", {
    skip_if_no_python()
    sce <- scDiffusionExampleData()
    sce <- sce[Matrix::rowSums(SummarizedExperiment::assay(sce, "counts") > 0) >= 3, ]
    part <- rep(1:3, length.out = ncol(sce))
    real <- sce[, part == 1]
    gen <- sce[, part == 2]
    train <- sce[, part == 3]
    without <- suppressMessages(evaluateGeneration(real, gen, quick = TRUE, n_comps = 5, seed = 1))
    mem <- rownames(without)[without$group %in% "memorization" | grepl("memori", rownames(without))]
    expect_gte(length(mem), 1L)
    expect_match(without[mem[1], "skipped"], "train")
    with <- suppressMessages(evaluateGeneration(real, gen, train = train, quick = TRUE, n_comps = 5, seed = 1))
    expect_true(is.na(with[mem[1], "skipped"]))
    expect_true(is.finite(with[mem[1], "value"]))
    expect_error(evaluateGeneration(real, gen, train = train[1:5, ]), "'train' must have the genes")
})
