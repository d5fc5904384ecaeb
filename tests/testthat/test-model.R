test_that("the Python core has the R package's version", {
    skip_if_no_python()
    expect_identical(scDiffusionPythonVersion(), as.character(utils::packageVersion("scDiffusion")))
})

test_that("trainScDiffusion returns a model that prints and knows its labels", {
    skip_if_no_python()
    model <- tiny_model()
    expect_s4_class(model, "ScDiffusionModel")
    expect_true(file.exists(file.path(modelPath(model), "config.json")))
    expect_identical(sort(names(modelLabels(model))), c("cell_type", "tissue"))
    expect_identical(modelLabels(model)$cell_type, c("A", "B", "C"))
    expect_true(all(modelGenes(model) %in% rownames(.test_cache$sce)))
    out <- capture.output(show(model))
    expect_match(out[1], "ScDiffusionModel \\(trained\\)")
    expect_true(any(grepl("classifier 'cell_type': 3 labels", out)))
})

test_that("generate() on a model returns an SCE with logcounts, conditions and parameters", {
    skip_if_no_python()
    model <- tiny_model()
    gen <- generate(model, n_cells = 12, condition = c(cell_type = "B"), n_steps = 10, seed = 3)
    expect_s4_class(gen, "SingleCellExperiment")
    expect_identical(dim(gen), c(length(modelGenes(model)), 12L))
    expect_identical(SummarizedExperiment::assayNames(gen), c("counts", "logcounts"))
    expect_identical(rownames(gen), modelGenes(model))
    expect_true(all(SummarizedExperiment::assay(gen) >= 0))
    expect_identical(as.character(gen$cell_type), rep("B", 12))
    p <- S4Vectors::metadata(gen)$scDiffusion$params
    expect_identical(p$condition$cell_type, "B")
    expect_equal(p$n_steps, 10)
    expect_equal(p$seed, 3)
    expect_s4_class(S4Vectors::metadata(gen)$scDiffusion$model, "ScDiffusionModel")
    expect_true("scDiffusion" %in% SingleCellExperiment::reducedDimNames(gen))
    again <- generate(model, n_cells = 12, condition = c(cell_type = "B"), n_steps = 10, seed = 3)
    expect_identical(SummarizedExperiment::assay(again), SummarizedExperiment::assay(gen))
    combo <- generate(model, n_cells = 5, condition = list(cell_type = "A", tissue = "gut"),
        guidance_scale = list(cell_type = 1, tissue = 3), sampler = "ddim", n_steps = 5)
    expect_identical(as.character(combo$tissue), rep("gut", 5))
    uncond <- generate(model, n_cells = 4, n_steps = 5)
    expect_identical(ncol(uncond), 4L)
    expect_error(generate(model, n_cells = 3, condition = c(batch = "x")), "No classifier for column 'batch'")
    expect_error(generate(model, n_cells = 3, condition = c(cell_type = "Q")), "Unknown label 'Q'")
    expect_error(generate(model, n_cells = 3, guidance_scale = -1), "guidance_scale")
})

test_that("generate() on a SingleCellExperiment trains then generates", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 90, n_genes = 60, seed = 5)
    gen <- generate(sce, labels_keys = "cell_type", n_cells = 40, condition = c(cell_type = "B"), seed = 1,
        max_steps = 20, n_latent = 8, hidden = c(16, 16), n_steps = 10)
    expect_identical(ncol(gen), 40L)
    expect_identical(as.character(unique(gen$cell_type)), "B")
    expect_s4_class(S4Vectors::metadata(gen)$scDiffusion$model, "ScDiffusionModel")
    # reusing the trained model
    gen2 <- generate(sce, n_cells = 5, condition = c(cell_type = "A"), n_steps = 5,
        model = S4Vectors::metadata(gen)$scDiffusion$model)
    expect_identical(ncol(gen2), 5L)
})

test_that("errors raised by the Python core reach R with their message", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 30, n_genes = 20)
    expect_error(trainScDiffusion(sce, labels_keys = "cell_type", min_cells_per_label = 50, max_steps = 1),
        "cell_type")
    expect_error(trainScDiffusion(sce, autoencoder = list(no_such_option = 1), max_steps = 1),
        "Unknown training option")
    expect_error(trainScDiffusion(sce, diffusion = list(select_by = "split"), max_steps = 1),
        "is not an option of the diffusion stage")
})

test_that("stage options reach training: the autoencoder selected by held-out counts", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 60, n_genes = 30, seed = 3)
    model <- trainScDiffusion(sce, autoencoder = list(select_by = "split", eval_every = 2L), max_steps = 4,
        n_latent = 8, hidden = c(16, 16))
    expect_s4_class(model, "ScDiffusionModel")
    expect_identical(model@info$history$autoencoder$config$select_by, "split")
})

test_that("interpolate() returns states with weights in colData", {
    skip_if_no_python()
    model <- tiny_model()
    path <- interpolate(model, .test_cache$sce, labels_key = "cell_type", start = "A", end = "C",
        n_states = 3, n_cells = 6, t_start = 200, n_steps = 10, seed = 2)
    expect_s4_class(path, "SingleCellExperiment")
    expect_identical(ncol(path), 18L)
    expect_identical(as.integer(table(path$interpolation_state)), c(6L, 6L, 6L))
    expect_equal(sort(unique(path$weight_end)), c(0, 1, 2))
    expect_equal(path$weight_start + path$weight_end, rep(2, 18))
    expect_true(all(path$source_cell %in% colnames(.test_cache$sce)[.test_cache$sce$cell_type == "A"]))
    expect_identical(S4Vectors::metadata(path)$scDiffusion$params$t_start, 200L)
    expect_error(interpolate(model, .test_cache$sce, "cell_type", "A", "A"), "same label")
    expect_error(interpolate(model, .test_cache$sce, "cell_type", "A", "C", n_states = 1), "n_states")
    expect_error(interpolate(model, .test_cache$sce, "cell_type", "A", "C", t_start = 1000), "t_start")
    expect_error(interpolate(model, .test_cache$sce, "batch", "A", "C"), "No classifier")
})

test_that("interpolate(method = \"two-ended\") starts from paired start and end cells", {
    skip_if_no_python()
    model <- tiny_model()
    sce <- .test_cache$sce
    run <- function(...) interpolate(model, sce, labels_key = "cell_type", start = "A", end = "C",
        n_states = 3, n_cells = 6, t_start = 200, n_steps = 10, ...)
    path <- run(method = "two-ended", seed = 2)
    expect_identical(ncol(path), 18L)
    expect_identical(as.integer(table(path$interpolation_state)), c(6L, 6L, 6L))
    expect_equal(sort(unique(path$weight_end)), c(0, 1, 2))
    expect_true(all(path$source_cell %in% colnames(sce)[sce$cell_type == "A"]))
    expect_true(all(path$source_cell_end %in% colnames(sce)[sce$cell_type == "C"]))
    ## every state starts from the same pairs
    expect_identical(path$source_cell_end[path$interpolation_state == 0],
        path$source_cell_end[path$interpolation_state == 2])
    params <- S4Vectors::metadata(path)$scDiffusion$params
    expect_identical(params$interpolation_method, "two-ended")
    again <- run(method = "two-ended", seed = 2)
    expect_identical(as.matrix(SummarizedExperiment::assay(again, "counts")),
        as.matrix(SummarizedExperiment::assay(path, "counts")))
    gradient <- run(method = "gradient", seed = 2)
    expect_identical(S4Vectors::metadata(gradient)$scDiffusion$params$interpolation_method, "gradient")
    expect_false("source_cell_end" %in% colnames(SummarizedExperiment::colData(gradient)))
    ## the default, "auto": two-ended (the same cells) when x has cells of both labels, gradient when it has none of
    ## the end label
    auto <- run(seed = 2)
    expect_identical(S4Vectors::metadata(auto)$scDiffusion$params$interpolation_method, "two-ended")
    expect_identical(as.matrix(SummarizedExperiment::assay(auto, "counts")),
        as.matrix(SummarizedExperiment::assay(path, "counts")))
    only_start <- interpolate(model, sce[, sce$cell_type != "C"], labels_key = "cell_type", start = "A", end = "C",
        n_states = 3, n_cells = 6, t_start = 200, n_steps = 10, seed = 2)
    expect_identical(S4Vectors::metadata(only_start)$scDiffusion$params$interpolation_method, "gradient")
    expect_identical(as.matrix(SummarizedExperiment::assay(only_start, "counts")),
        as.matrix(SummarizedExperiment::assay(gradient, "counts")))
    ## without cells of the start label no method runs: the message does not point to method = "gradient"
    msg <- tryCatch(interpolate(model, sce[, sce$cell_type != "A"], "cell_type", "A", "C", n_states = 2,
        n_cells = 2), error = conditionMessage)
    expect_match(msg, "'x' has no cell labelled 'A'")
    expect_false(grepl("gradient", msg))
    expect_error(run(method = "nope"), "'method' must be one of 'auto', 'gradient', 'two-ended', got 'nope'")
    no_end <- sce[, sce$cell_type != "C"]
    expect_error(interpolate(model, no_end, "cell_type", "A", "C", method = "two-ended", n_states = 2,
        n_cells = 2), "no cell labelled 'C'.*method = \"gradient\"")
})

test_that("models save, load, and are readable by the Python command line tool", {
    skip_if_no_python()
    model <- tiny_model()
    dir <- file.path(tempfile(), "my_model")
    saved <- saveScDiffusion(model, dir)
    expect_identical(modelPath(saved), normalizePath(dir))
    expect_error(saveScDiffusion(model, dir), "already exists")
    expect_silent(saveScDiffusion(model, dir, overwrite = TRUE))
    loaded <- loadScDiffusion(dir)
    expect_identical(modelGenes(loaded), modelGenes(model))
    expect_identical(modelLabels(loaded), modelLabels(model))
    a <- generate(model, n_cells = 5, condition = c(cell_type = "C"), n_steps = 5, seed = 9)
    b <- generate(loaded, n_cells = 5, condition = c(cell_type = "C"), n_steps = 5, seed = 9)
    expect_identical(SummarizedExperiment::assay(a), SummarizedExperiment::assay(b))
    cli <- file.path(scDiffusionPython(), "bin", "scdiffusion")
    skip_if_not(file.exists(cli), "scdiffusion CLI not installed in the Python environment")
    out <- tempfile(fileext = ".h5ad")
    status <- system2(cli, c("generate", "--model-dir", shQuote(dir), "--n-cells", "3", "--n-steps", "5",
        "--condition", "cell_type=A", "--output", shQuote(out), "--quiet"), stdout = FALSE, stderr = FALSE)
    expect_identical(status, 0L)
    expect_true(file.exists(out))
})

test_that("evaluateGeneration returns the metric suite as a DataFrame", {
    skip_if_no_python()
    model <- tiny_model()
    gen <- generate(model, n_cells = 30, condition = c(cell_type = "A"), n_steps = 10)
    real <- .test_cache$sce[modelGenes(model), .test_cache$sce$cell_type == "A"]
    res <- evaluateGeneration(real, gen, quick = TRUE, n_comps = 10)
    expect_s4_class(res, "DataFrame")
    expect_true(all(c("scc_gene_means", "mmd_rbf", "knn_auc") %in% rownames(res)))
    expect_true(all(c("value", "ideal", "better", "space", "description", "error") %in% colnames(res)))
    expect_true(is.finite(res["mmd_rbf", "value"]))
    expect_identical(S4Vectors::metadata(res)$meta$n_generated_cells, 30L)
    expect_error(evaluateGeneration(.test_cache$sce[1:10, ], gen), "different genes")
})

test_that("the previous release's argument names still work, with a deprecation warning", {
    skip_if_no_python()
    warnings_of <- function(expr) {
        ws <- character(0)
        value <- withCallingHandlers(expr, warning = function(w) {
            ws <<- c(ws, conditionMessage(w))
            invokeRestart("muffleWarning")
        })
        list(value = value, warnings = ws)
    }
    model <- tiny_model()
    args <- list(n_states = 2L, n_cells = 3L, t_start = 100L, n_steps = 5L, seed = 4L)
    new <- do.call(interpolate, c(list(model, .test_cache$sce, labels_key = "cell_type", start = "A", end = "B"),
        args))
    old <- warnings_of(do.call(interpolate, c(list(model, .test_cache$sce, labels = "cell_type", from = "A",
        to = "B"), args)))
    expect_setequal(old$warnings, sprintf(
        "interpolate(): argument '%s' is now '%s'; the old name will be removed in the next release.",
        c("labels", "from", "to"), c("labels_key", "start", "end")))
    expect_identical(SummarizedExperiment::assay(old$value), SummarizedExperiment::assay(new))
    expect_error(interpolate(model, .test_cache$sce, "cell_type", "A", "B", form = "A"),
        "interpolate\\(\\) has no argument 'form'")
    sce <- sim_sce(n_cells = 60, n_genes = 40, seed = 8)
    m <- warnings_of(trainScDiffusion(sce, labels = "cell_type", max_steps = 5L, n_latent = 4L, hidden = 8L))
    expect_true(any(grepl("argument 'labels' is now 'labels_keys'", m$warnings, fixed = TRUE)))
    expect_identical(names(modelLabels(m$value)), "cell_type")
})

test_that("generate() takes eta, guidance_t_max and per-cell conditions like Python", {
    skip_if_no_python()
    model <- tiny_model()
    per_cell <- rep(c("A", "C"), each = 3)
    gen <- generate(model, n_cells = 6, condition = list(cell_type = per_cell), guidance_t_max = 300L,
        n_steps = 5, seed = 1)
    expect_identical(as.character(gen$cell_type), per_cell)
    p <- S4Vectors::metadata(gen)$scDiffusion$params
    expect_equal(p$guidance_t_max, 300)
    expect_identical(p$condition$cell_type, "per-cell labels")
    ddim <- generate(model, n_cells = 3, sampler = "ddim", eta = 0.5, n_steps = 5)
    expect_equal(S4Vectors::metadata(ddim)$scDiffusion$params$eta, 0.5)
    # eta belongs to DDIM: refused with the default sampler instead of silently dropped
    expect_error(generate(model, n_cells = 3, eta = 0.5), "no option eta")
    expect_error(generate(model, n_cells = 3, guidance_t_max = 5000L), "'guidance_t_max' must be at most 1000")
    # the noise-level limit comes from the model, not a constant
    expect_error(interpolate(model, .test_cache$sce, "cell_type", "A", "C", t_start = 1000L),
        "'t_start' must be at most 999")
})
