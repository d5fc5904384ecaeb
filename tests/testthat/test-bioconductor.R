## Bioconductor conventions (issue 16): how the package installs, its
## documentation, and the layout of generated cells. Each block names the
## defect of the issue it covers.

## 1. a tarball made by plain R CMD build installs the Python core
test_that("the installed package ships the Python core with the R package's version", {
    core <- system.file("python", "scdiffusion", "_version.py", package = "scDiffusion")
    expect_true(nzchar(core))
    version <- sub('^__version__ = "(.*)"$', "\\1", grep("^__version__", readLines(core), value = TRUE))
    expect_identical(version, as.character(utils::packageVersion("scDiffusion")))
    expect_true(file.exists(system.file("python", "pyproject.toml", package = "scDiffusion")))
})

## 2. BiocCheck: version 0.99.z, runnable examples, NEWS
test_that("the package is a new Bioconductor package with runnable examples on every page", {
    expect_match(as.character(utils::packageVersion("scDiffusion")), "^0\\.99\\.[0-9]+$")
    rd <- tools::Rd_db("scDiffusion")
    exported <- getNamespaceExports("scDiffusion")
    tags <- function(x) unlist(lapply(x, function(e) c(attr(e, "Rd_tag"), if (is.list(e)) tags(e))))
    for (page in names(rd)) {
        aliases <- unlist(lapply(Filter(function(e) identical(attr(e, "Rd_tag"), "\\alias"), rd[[page]]),
            as.character))
        if (!any(aliases %in% exported) || page == "scDiffusion-package.Rd") next
        ex <- Filter(function(e) identical(attr(e, "Rd_tag"), "\\examples"), rd[[page]])
        expect_length(ex, 1L)
        expect_false("\\dontrun" %in% tags(ex), info = page)
    }
    expect_true(nzchar(system.file("NEWS.md", package = "scDiffusion")) ||
        nzchar(system.file("NEWS", package = "scDiffusion")))
})

test_that("the example data and the shipped example model belong together", {
    sce <- scDiffusionExampleData()
    expect_s4_class(SummarizedExperiment::assay(sce, "counts"), "dgCMatrix")
    expect_identical(dim(sce), c(100L, 300L))
    expect_identical(sort(unique(sce$cell_type)), c("A", "B", "C"))
    counts <- SummarizedExperiment::assay(sce, "counts")
    expect_true(all(counts@x == round(counts@x)))
    expect_equal(unname(Matrix::rowSums(counts[c("gene098", "gene099", "gene100"), ] > 0)), rep(1, 3))
    skip_if_no_python()
    model <- scDiffusionExampleModel()
    expect_identical(modelLabels(model), list(cell_type = c("A", "B", "C")))
    expect_identical(modelGenes(model), setdiff(rownames(sce), c("gene098", "gene099", "gene100")))
    expect_lt(sum(file.size(list.files(system.file("extdata", "example_model", package = "scDiffusion"),
        full.names = TRUE))), 200 * 1024)
})

## 3, 7. generated cells: sparse integer counts, logcounts as scuttle::logNormCounts, unique names
test_that("generated cells have sparse counts, size factors and logcounts as scuttle::logNormCounts", {
    skip_if_no_python()
    model <- tiny_model()
    gen <- generate(model, n_cells = 15, condition = c(cell_type = "B"), n_steps = 5, seed = 2)
    expect_identical(SummarizedExperiment::assayNames(gen), c("counts", "logcounts"))
    counts <- SummarizedExperiment::assay(gen, "counts")
    # library_size: what the decoder's means were scaled to; the sampled totals scatter around it (?generate)
    ratio <- Matrix::colSums(counts) / gen$library_size
    expect_true(stats::median(ratio) > 0.5 && stats::median(ratio) < 2)
    expect_s4_class(counts, "dgCMatrix")
    expect_true(all(counts@x == round(counts@x)) && all(counts@x > 0))
    expect_s4_class(SummarizedExperiment::assay(gen, "logcounts"), "dgCMatrix")
    sf <- Matrix::colSums(counts)
    expect_equal(unname(SingleCellExperiment::sizeFactors(gen)), unname(sf / mean(sf)))
    expect_equal(as.matrix(SummarizedExperiment::assay(gen, "logcounts")),
        as.matrix(log2(t(t(as.matrix(counts)) / (sf / mean(sf))) + 1)))
    skip_if_not_installed("scuttle")
    ref <- scuttle::logNormCounts(SingleCellExperiment::SingleCellExperiment(list(counts = counts)))
    expect_equal(as.matrix(SummarizedExperiment::assay(gen, "logcounts")),
        as.matrix(SummarizedExperiment::assay(ref, "logcounts")))
    expect_equal(SingleCellExperiment::sizeFactors(gen), SingleCellExperiment::sizeFactors(ref))
})

test_that("a model without counts returns log1pCP10k, not logcounts", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 60, n_genes = 40, seed = 4)
    model <- suppressMessages(do.call(trainScDiffusion, c(list(sce, likelihood = "mse", target_sum = 1e6), TINY)))
    gen <- generate(model, n_cells = 6, n_steps = 5)
    expect_identical(SummarizedExperiment::assayNames(gen), "log1pCP10k")
    expect_null(SingleCellExperiment::sizeFactors(gen))
    expect_true(is.matrix(SummarizedExperiment::assay(gen, "log1pCP10k")))
    expect_true(all(SummarizedExperiment::assay(gen, "log1pCP10k") >= 0))
    # evaluated against real counts, which the suite normalises to the same natural-log scale
    expect_message(evaluateGeneration(sce[rownames(gen), ], gen, quick = TRUE, n_comps = 5),
        "comparing assay 'counts' of 'real' with assay 'log1pCP10k' of 'generated'.*natural-log")
})

test_that("cell names are unique across calls, repeat for a repeated call and take a prefix", {
    skip_if_no_python()
    model <- tiny_model()
    run <- function(...) generate(model, n_cells = 4, n_steps = 5, seed = 1, ...)
    a <- run(condition = c(cell_type = "A"))
    b <- run(condition = c(cell_type = "B"))
    expect_identical(anyDuplicated(colnames(cbind(a, b))), 0L)
    expect_identical(colnames(run(condition = c(cell_type = "A"))), colnames(a))
    expect_identical(colnames(run(prefix = "batch1_")), paste0("batch1_", 1:4))
    expect_error(run(prefix = c("a", "b")), "'prefix' must be a single string")
})

test_that("the parameters record the sampling steps asked for and those taken", {
    skip_if_no_python()
    # log-SNR spacing: 100 targets equally spaced in log-SNR from t = 999 to 0, each on its nearest time step;
    # near t = 0 several fall on one step, which is taken once. The rule, from the linear schedule:
    betas <- seq(1e-4, 0.02, length.out = 1000L)
    ac <- cumprod(1 - betas)
    lambda <- 0.5 * log(ac / (1 - ac))
    targets <- seq(lambda[1000L], lambda[1L], length.out = 100L)
    distinct <- length(unique(vapply(targets, function(l) which.min(abs(lambda - l)), 1L)))
    expect_lt(distinct, 100L)
    p <- S4Vectors::metadata(generate(tiny_model(), n_cells = 2, n_steps = 100))$scDiffusion$params
    expect_equal(p$n_steps_requested, 100)
    expect_equal(p$n_steps, distinct)
    p <- S4Vectors::metadata(generate(tiny_model(), n_cells = 2, n_steps = 10, sampler = "ddim"))$scDiffusion$params
    expect_equal(c(p$n_steps_requested, p$n_steps), c(10, 10))
    expect_match(paste(capture.output(tools::Rd2txt(tools::Rd_db("scDiffusion")[["generate.Rd"]])),
        collapse = " "), "n_steps_requested")
})

## 3. evaluateGeneration compares one scale
test_that("evaluateGeneration compares counts by default and refuses log2 against natural log", {
    skip_if_no_python()
    model <- tiny_model()
    gen <- generate(model, n_cells = 30, condition = c(cell_type = "A"), n_steps = 5, seed = 1)
    real <- .test_cache$sce[modelGenes(model), .test_cache$sce$cell_type == "A"]
    counts <- SummarizedExperiment::assay(real, "counts")
    SummarizedExperiment::assay(real, "logcounts") <- log1p(t(t(counts) / colSums(counts)) * 1e4)
    expect_message(res <- evaluateGeneration(real, gen, quick = TRUE, n_comps = 5),
        "comparing assay 'counts' of 'real' with assay 'counts' of 'generated'.*log1p\\(counts per 10,000\\)")
    expect_identical(S4Vectors::metadata(res)$inputs$real_assay, "counts")
    # natural log (real) against log2 (generated logcounts): an error that says what to do
    expect_error(evaluateGeneration(real, gen, real_assay = "logcounts", generated_assay = "logcounts"),
        paste0("assay 'logcounts' of 'real' holds natural-log values.*'generated' log2 values.*",
            "not comparable\\. Compare raw counts.*real_assay = \"counts\""))
    # raw counts are normalised to natural log, so they do not mix with log2 either
    expect_error(evaluateGeneration(real, gen, generated_assay = "logcounts"), "not comparable")
    skip_if_not_installed("scuttle")
    real2 <- scuttle::logNormCounts(real)
    expect_message(evaluateGeneration(real2, gen, real_assay = "logcounts", generated_assay = "logcounts",
        quick = TRUE, n_comps = 5), "log2 values")
    # no counts to check a log scale against: a warning
    only_log <- SingleCellExperiment::SingleCellExperiment(list(
        logcounts = SummarizedExperiment::assay(real2, "logcounts")))
    expect_warning(suppressMessages(evaluateGeneration(only_log, gen, generated_assay = "logcounts",
        quick = TRUE, n_comps = 5)), "cannot check the scale of 'real'")
})

## 4. warnings of the Python core reach R
test_that("the suite's warning that a kNN AUC of 0.5 is uninformative reaches R", {
    skip_if_no_python()
    # generated cells tightly around the centre of the real ones are the nearest neighbours of every cell
    # ("hubs"); not exact duplicates, which the AUC splits keep on one side
    set.seed(1)
    dn <- list(paste0("gene", 1:200), NULL)
    real <- SingleCellExperiment::SingleCellExperiment(list(logcounts = matrix(3 + stats::rnorm(200 * 60), 200,
        dimnames = dn)))
    gen <- SingleCellExperiment::SingleCellExperiment(list(logcounts = matrix(3 + stats::rnorm(200 * 60, 0, 1e-3),
        200, dimnames = dn)))
    ws <- character(0)
    withCallingHandlers(suppressMessages(evaluateGeneration(real, gen, quick = TRUE, n_comps = 5)),
        warning = function(w) {
            ws <<- c(ws, conditionMessage(w))
            invokeRestart("muffleWarning")
        })
    expect_true(any(grepl("knn_auc: every test cell got the same", ws, fixed = TRUE)))
})

## 5. same seed, same cells in the one-call form
test_that("generate() on an SCE repeats its cells for a seed when training is bounded by steps", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 60, n_genes = 30, seed = 6)
    run <- function() suppressMessages(generate(sce, labels_keys = "cell_type", n_cells = 5,
        condition = c(cell_type = "A"), seed = 3, max_steps = 20, n_latent = 4, hidden = 8, n_steps = 5))
    a <- run()
    b <- run()
    expect_identical(SummarizedExperiment::assay(a, "counts"), SummarizedExperiment::assay(b, "counts"))
    expect_identical(colnames(a), colnames(b))
    # a wall-time budget that stops training says that the same seed may not repeat
    expect_message(generate(sce, n_cells = 2, seed = 3, max_time = 0.05, n_latent = 4, hidden = 8,
        n_steps = 2), "max_time\\) stopped .*same seed can give another model; use max_steps")
})

## 6. one set of methods: SummarizedExperiment, matrix; labels of any type; genes
test_that("train, generate and interpolate take a SummarizedExperiment and a count matrix alike", {
    skip_if_no_python()
    as_se <- function(x) SummarizedExperiment::SummarizedExperiment(
        assays = list(counts = SummarizedExperiment::assay(x, "counts")), colData = SummarizedExperiment::colData(x))
    sce <- sim_sce(n_cells = 60, n_genes = 30, seed = 7)
    se <- as_se(sce)
    gen <- suppressMessages(generate(se, n_cells = 3, condition = c(cell_type = "B"), max_steps = 10,
        n_latent = 4, hidden = 8, n_steps = 2))
    expect_identical(as.character(gen$cell_type), rep("B", 3))
    m <- suppressMessages(do.call(trainScDiffusion, c(list(se, labels_keys = "cell_type"), TINY)))
    expect_identical(names(modelLabels(m)), "cell_type")
    counts <- SummarizedExperiment::assay(sce, "counts")
    gen <- suppressMessages(generate(counts, n_cells = 3, max_steps = 10, n_latent = 4, hidden = 8,
        n_steps = 2))
    expect_identical(ncol(gen), 3L)
    m2 <- suppressMessages(do.call(trainScDiffusion, c(list(as(counts, "CsparseMatrix")), TINY)))
    expect_length(modelLabels(m2), 0L)
    # a matrix has no labels: the error says how to give them
    expect_error(generate(counts, n_cells = 3, condition = c(cell_type = "B")),
        "colData has no column 'cell_type' \\(it has none\\)\\. Give the cells their labels")
    err <- tryCatch(trainScDiffusion(as.data.frame(counts)), error = identity)
    expect_match(conditionMessage(err), "^'x' must be a SingleCellExperiment .* or a genes x cells matrix of counts, not a data.frame")
    expect_null(conditionCall(err))
    model <- tiny_model()
    path <- interpolate(model, as_se(.test_cache$sce), "cell_type", "A", "B",
        n_states = 2, n_cells = 3, t_start = 50, n_steps = 3)
    expect_identical(ncol(path), 6L)
    expect_error(interpolate(model, counts, "cell_type", "A", "B"), "colData has no column 'cell_type'")
})

test_that("conditions may be logical or numeric labels", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 60, n_genes = 30, seed = 8)
    sce$treated <- rep(c(TRUE, FALSE), 30)
    sce$hours <- rep(c(0, 24), each = 30)
    model <- suppressMessages(do.call(trainScDiffusion, c(list(sce, labels_keys = c("treated", "hours")), TINY)))
    expect_identical(modelLabels(model), list(treated = c("FALSE", "TRUE"), hours = c("0", "24")))
    gen <- generate(model, n_cells = 4, condition = c(treated = TRUE), n_steps = 2)
    expect_identical(as.character(gen$treated), rep("TRUE", 4))
    gen <- generate(model, n_cells = 4, condition = list(treated = FALSE, hours = 24), n_steps = 2)
    expect_identical(as.character(gen$hours), rep("24", 4))
    gen <- suppressMessages(generate(sce, n_cells = 2, condition = c(treated = TRUE), max_steps = 5,
        n_latent = 4, hidden = 8, n_steps = 2))
    expect_identical(as.character(gen$treated), rep("TRUE", 2))
    expect_error(generate(model, n_cells = 2, condition = c(hours = 48)), "Unknown label '48'")
})

test_that("genes dropped by the gene filter are named, and genes = rownames(x) returns every gene", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 60, n_genes = 30, seed = 10)
    SummarizedExperiment::assay(sce, "counts")[c("gene29", "gene30"), ] <- 0L
    expect_message(gen <- generate(sce, n_cells = 3, max_steps = 5, n_latent = 4, hidden = 8, n_steps = 2),
        "the gene filter dropped 2 of 30 genes \\(detected in fewer than min_cells = 3 cells\\): gene29, gene30")
    expect_identical(nrow(gen), 28L)
    model <- S4Vectors::metadata(gen)$scDiffusion$model
    expect_message(all <- generate(model, n_cells = 3, n_steps = 2, genes = rownames(sce)),
        "2 of the 30 requested genes are not generated by the model.*gene29, gene30")
    expect_identical(rownames(all), rownames(sce))
    expect_true(all(SummarizedExperiment::assay(all, "counts")[c("gene29", "gene30"), ] == 0))
    expect_identical(dim(cbind(SummarizedExperiment::assay(sce, "counts"),
        SummarizedExperiment::assay(all, "counts"))), c(30L, 63L))
    expect_identical(unname(SingleCellExperiment::sizeFactors(all)[1:3] > 0), rep(TRUE, 3))
    expect_error(generate(model, n_cells = 3, genes = c("gene1", "gene1")), "'genes' must be NULL")
})

test_that("training arguments with an existing model are an error, not ignored", {
    skip_if_no_python()
    model <- tiny_model()
    sce <- .test_cache$sce
    expect_error(generate(sce, n_cells = 2, model = model, max_time = 1, hidden = 8),
        "training argument\\(s\\) 'max_time', 'hidden' cannot be used with an existing 'model'")
    expect_error(generate(sce, n_cells = 2, model = model, labels_keys = "cell_type"), "'labels_keys' cannot")
    gen <- generate(sce, n_cells = 2, model = model, n_steps = 2, seed = 5)
    expect_identical(ncol(gen), 2L)
})

test_that("cbind/rbind of SingleCellExperiments work where the tests run (package imported, not attached)", {
    # R CMD check runs this file in an environment under the package namespace, where base::cbind would be
    # found before the attached BiocGenerics generic (no bindCOLS method then): the namespace imports it
    a <- SingleCellExperiment::SingleCellExperiment(list(counts = matrix(1:4, 2,
        dimnames = list(c("g1", "g2"), c("a", "b")))))
    b <- a
    colnames(b) <- c("c", "d")
    expect_identical(get("cbind", envir = asNamespace("scDiffusion")), BiocGenerics::cbind)
    expect_identical(dim(cbind(a, b)), c(2L, 4L))
    expect_identical(dim(rbind(a, a[, 1:2])), c(4L, 2L))
})

test_that("generate(like = x) binds with x as is and keeps rowData; logNormCounts and PCA run on the bound object (issue 24.2-4)", {
    skip_if_no_python()
    model <- scDiffusionExampleModel()
    sce <- scDiffusionExampleData()
    SummarizedExperiment::rowData(sce)$symbol <- paste0("S", seq_len(nrow(sce)))
    SummarizedExperiment::rowData(sce)$biotype <- "protein_coding"
    sce$cell_type <- factor(sce$cell_type)
    sce$batch <- factor("real")
    sce$n_genes <- Matrix::colSums(SummarizedExperiment::assay(sce, "counts") > 0)
    sce <- scuttle::logNormCounts(sce)
    SingleCellExperiment::reducedDim(sce, "PCA") <- stats::prcomp(t(as.matrix(SingleCellExperiment::logcounts(sce))),
        rank. = 5)$x
    gen <- suppressMessages(generate(model, n_cells = 6, condition = list(cell_type = rep(c("A", "B"), 3)),
        n_steps = 3, seed = 1, like = sce))
    expect_identical(rownames(gen), rownames(sce))
    expect_identical(SummarizedExperiment::rowData(gen), SummarizedExperiment::rowData(sce))
    expect_identical(SummarizedExperiment::assayNames(gen), SummarizedExperiment::assayNames(sce))
    expect_identical(colnames(SummarizedExperiment::colData(gen)), colnames(SummarizedExperiment::colData(sce)))
    expect_identical(gen$cell_type, factor(rep(c("A", "B"), 3), levels = levels(sce$cell_type)))
    expect_true(all(is.na(gen$batch)) && is.factor(gen$batch) && all(is.na(gen$n_genes)))
    expect_true(all(SingleCellExperiment::sizeFactors(gen) > 0))
    expect_identical(SingleCellExperiment::reducedDimNames(gen), "PCA")
    meta <- S4Vectors::metadata(gen)$scDiffusion
    expect_identical(dim(meta$latent), c(6L, 8L))
    expect_true("library_size" %in% colnames(meta$colData))
    # (24.4) the parameters describe what the assays hold: log2, as scuttle
    expect_match(meta$params$values, "logcounts: log2\\(counts / sizeFactor \\+ 1\\).*scuttle::logNormCounts")
    both <- cbind(sce, gen)
    expect_identical(dim(both), c(nrow(sce), ncol(sce) + 6L))
    expect_identical(SummarizedExperiment::rowData(both), SummarizedExperiment::rowData(sce))
    expect_identical(as.character(both$cell_type[ncol(sce) + 1:6]), rep(c("A", "B"), 3))
    both <- scuttle::logNormCounts(both)
    pca <- stats::prcomp(t(as.matrix(SingleCellExperiment::logcounts(both))), rank. = 5)
    expect_identical(dim(pca$x), c(ncol(both), 5L))
    expect_true(all(is.finite(pca$x)))
    # the SummarizedExperiment method with a model: genes = rownames(x) implies like = x
    gen2 <- suppressMessages(generate(sce, model = model, n_cells = 3, n_steps = 3, seed = 2,
        genes = rownames(sce)))
    expect_identical(dim(cbind(sce, gen2)), c(nrow(sce), ncol(sce) + 3L))
    expect_error(generate(model, n_cells = 2, genes = "gene001", like = sce), "give 'genes' or 'like', not both")
})
