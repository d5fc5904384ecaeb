## Options declared in the Python core that R passes on: the kind of guidance
## and the classifier-free weight (issue 14), how the count likelihood's
## dispersion is fitted (issue 13) and the CPU threads of the core (issue 17).

test_that("guidance kinds and the classifier-free weight reach the core", {
    skip_if_no_python()
    model <- tiny_model()  # trained with the defaults: classifier-free denoiser, refitted dispersion
    cond <- c(cell_type = "B")
    runs <- lapply(c("classifier", "classifier-free", "both"), function(g)
        generate(model, n_cells = 12, condition = cond, guidance = g, n_steps = 5, seed = 3))
    kinds <- vapply(runs, function(x) S4Vectors::metadata(x)$scDiffusion$params$guidance, character(1))
    expect_identical(kinds, c("classifier", "classifier-free", "both"))
    # other guidance, other cells; the same call again, the same cells
    expect_false(identical(SummarizedExperiment::assay(runs[[1]], "counts"),
        SummarizedExperiment::assay(runs[[2]], "counts")))
    again <- generate(model, n_cells = 12, condition = cond, guidance = "classifier-free", n_steps = 5, seed = 3)
    expect_identical(SummarizedExperiment::assay(again, "counts"), SummarizedExperiment::assay(runs[[2]], "counts"))
    w1 <- generate(model, n_cells = 12, condition = cond, guidance = "classifier-free", cfg_scale = 1,
        n_steps = 5, seed = 3)
    expect_equal(S4Vectors::metadata(w1)$scDiffusion$params$cfg_scale, 1)
    expect_false(identical(SummarizedExperiment::assay(w1, "counts"), SummarizedExperiment::assay(runs[[2]], "counts")))
    expect_error(generate(model, n_cells = 5, condition = cond, guidance = "sometimes"), "guidance")
    expect_error(generate(model, n_cells = 5, condition = cond, cfg_scale = -1), "cfg_scale")
    expect_error(generate(model, n_cells = 5, condition = cond, cfg_scale = c(tissue = 2)),
        "'cfg_scale' names columns without a condition")
})

test_that("drawn_cfg_scale weights the drawn labels of unconditional cells", {
    skip_if_no_python()
    model <- tiny_model()
    params <- function(x) S4Vectors::metadata(x)$scDiffusion$params
    two <- generate(model, n_cells = 12, n_steps = 5, seed = 4, drawn_cfg_scale = 2)
    one <- generate(model, n_cells = 12, n_steps = 5, seed = 4, drawn_cfg_scale = 1)
    expect_equal(params(two)$cfg_scale, 2)
    expect_identical(params(two)$guidance, "classifier-free (drawn labels)")
    expect_equal(params(one)$cfg_scale, 1)
    expect_identical(params(one)$guidance, "none")
    # the same drawn labels, other cells
    expect_identical(as.character(one$cell_type_drawn), as.character(two$cell_type_drawn))
    expect_false(identical(SummarizedExperiment::assay(one, "counts"), SummarizedExperiment::assay(two, "counts")))
    expect_error(generate(model, n_cells = 5, drawn_cfg_scale = -1), "drawn_cfg_scale")
})

test_that("training arguments of the classifier-free denoiser and the dispersion fit are checked and recorded", {
    expect_error(trainScDiffusion(sim_sce(), labels_keys = "cell_type", noise_fit = "later"), "noise_fit")
    expect_error(trainScDiffusion(sim_sce(), labels_keys = "cell_type", count_split = 1), "count_split")
    expect_error(trainScDiffusion(sim_sce(), labels_keys = "cell_type", label_dropout = 1), "label_dropout")
    expect_error(trainScDiffusion(sim_sce(), labels_keys = "cell_type", classifier_free = "yes"),
        "classifier_free")
    skip_if_no_python()
    model <- do.call(trainScDiffusion, c(list(sim_sce(n_cells = 90), labels_keys = "cell_type",
        classifier_free = FALSE, noise_fit = "joint", count_split = 0.5), TINY))
    config <- jsonlite::fromJSON(file.path(model@path, "config.json"), simplifyVector = TRUE)
    expect_identical(config$autoencoder$noise_fit, "joint")
    expect_identical(config$autoencoder$count_split, 0.5)
    expect_length(config$denoiser$conditioned_on, 0L)
    expect_error(generate(model, n_cells = 5, condition = c(cell_type = "A"), guidance = "classifier-free"),
        "classifier_free")
})

test_that("options(scDiffusion.threads) fixes the core's CPU threads and is checked", {
    # one rule with Python and the CLI: a positive whole number, or 0 / "auto" / NULL for every usable core
    old <- options(scDiffusion.threads = -1)
    on.exit(options(old))
    expect_error(scDiffusionPythonVersion(), "scDiffusion.threads")
    options(scDiffusion.threads = "two")
    expect_error(scDiffusionPythonVersion(), "positive whole number")
    options(scDiffusion.threads = 1.5)
    expect_error(scDiffusionPythonVersion(), "positive whole number")
    expect_null(scDiffusion:::.scd_threads(0))
    expect_null(scDiffusion:::.scd_threads("auto"))
    expect_identical(scDiffusion:::.scd_threads(3), 3L)
    skip_if_no_python()
    options(scDiffusion.threads = 1)
    expect_true(nzchar(scDiffusionPythonVersion()))
    gen <- generate(tiny_model(), n_cells = 4, n_steps = 3, seed = 1)
    expect_identical(ncol(gen), 4L)
})
