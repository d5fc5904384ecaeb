test_that("arguments are checked in R with clear messages", {
    sce <- sim_sce(n_cells = 30, n_genes = 20)
    expect_error(trainScDiffusion("counts"), "must be a SingleCellExperiment .* or a genes x cells matrix")
    expect_error(trainScDiffusion(sce, labels_keys = "nope"), "colData has no column 'nope'")
    expect_error(trainScDiffusion(sce, assay = "raw"), "assay 'raw' is not in the object")
    expect_error(trainScDiffusion(sce, max_steps = c(encoder = 5)), "unknown stage")
    expect_error(trainScDiffusion(sce, max_steps = -1), "whole number")
    expect_error(trainScDiffusion(sce, max_time = 0), "max_time")
    expect_error(trainScDiffusion(sce, hidden = c(10, -1)), "hidden")
    expect_error(trainScDiffusion(sce, autoencoder = 5), "named list")
    expect_error(trainScDiffusion(sce, preset = "tpu"), "'preset' must be one of 'cpu', 'gpu'")
    expect_error(trainScDiffusion(sce, likelihood = "poisson"), "'likelihood' must be one of")
    expect_error(generate(sce, condition = c(cell_type = "B")), "'n_cells' is missing")
    expect_error(generate(sce, n_cells = 0, condition = c(cell_type = "B")), "'n_cells' must be")
    expect_error(generate(sce, n_cells = 1.5), "whole number")
    expect_error(generate(sce, n_cells = 10, condition = "B"), "must be named by label column")
    expect_error(generate(sce, n_cells = 10, condition = c(cell_type = "Z")), "Unknown label 'Z'")
    expect_error(generate(sce, n_cells = 10, condition = c(cell_type = "A"), labels_keys = "tissue"),
        "must be among 'labels_keys'")
    expect_error(generate(sce, n_cells = 10, bogus = 1), "unknown argument")
    expect_error(generate(sce, n_cells = 10, condition = list(cell_type = c("A", "B"))), "single label")
    expect_error(interpolate("model", sce, "cell_type", "A", "B"), "must be a ScDiffusionModel")
    expect_error(evaluateGeneration(sce, "x"), "must be a SingleCellExperiment")
    expect_error(loadScDiffusion(tempfile()), "not a scDiffusion model directory")
    expect_error(pseudoCounts(matrix(-1, 2, 2)), "non-negative")
})

test_that("pseudoCounts scales each cell and rounds", {
    fpkm <- cbind(c(1, 3, 0), c(0.2, 0.2, 0.6))
    expect_identical(pseudoCounts(fpkm, library_size = 100), cbind(c(25, 75, 0), c(20, 20, 60)))
    sp <- as(fpkm, "dgCMatrix")
    expect_equal(as.matrix(pseudoCounts(sp, 100)), cbind(c(25, 75, 0), c(20, 20, 60)))
    expect_identical(colSums(pseudoCounts(matrix(stats::runif(50), 5), 1e4)) > 0, rep(TRUE, 10))
})

test_that("the option and environment variable select the Python environment", {
    withr_opt <- options(scDiffusion.python = file.path(tempdir(), "no_such_env"))
    on.exit(options(withr_opt))
    expect_error(scDiffusionPython(), "does not exist or has no bin/python")
    options(scDiffusion.python = NULL)
    old <- Sys.getenv("SCDIFFUSION_PYTHON", NA)
    Sys.setenv(SCDIFFUSION_PYTHON = "")
    on.exit(if (is.na(old)) Sys.unsetenv("SCDIFFUSION_PYTHON") else Sys.setenv(SCDIFFUSION_PYTHON = old),
        add = TRUE)
    expect_null(scDiffusionPython())
    expect_s4_class(scDiffusionEnv, "BasiliskEnvironment")
})

test_that("a per-cell condition with NA names the NA, and c(col = labels) hints at list() (issues 21, 24.7)", {
    sce <- sim_sce(n_cells = 30, n_genes = 20)
    expect_error(generate(sce, n_cells = 3, condition = list(cell_type = c("A", NA, "B"))),
        "condition 'cell_type' has NA at position 2 \\(of 3\\); every cell needs a label")
    expect_error(generate(sce, n_cells = 4, condition = list(cell_type = c(NA, "A", NA, "B"))),
        "NA at positions 1, 3 \\(of 4\\)")
    expect_error(generate(sce, n_cells = 1, condition = c(cell_type = NA)), "condition 'cell_type' has NA at position 1")
    lab <- c("A", "B", "C")
    expect_error(generate(sce, n_cells = 3, condition = c(cell_type = lab)),
        "c\\(cell_type = labels\\) with several labels .*use list\\(cell_type = labels\\)")
    known <- list(Hours = c("0", "24", "72"))
    expect_error(.check_condition(c(Hours = c("0", "24", "72")), known, 3L),
        "'condition' has columns Hours1, Hours2, Hours3: .*use list\\(Hours = labels\\)")
    expect_identical(.check_condition(list(Hours = c("0", "24", "72")), known, 3L), list(Hours = c("0", "24", "72")))
    # a real column named like that is not mistaken for it
    expect_error(.check_condition(c(Hours1 = "0"), known, 3L), "No classifier for column 'Hours1'")
})

test_that("basilisk's failure to set up Python says how to use an existing environment (issue 24.9)", {
    err <- tryCatch(.basilisk_setup_error(simpleError("failed to download the Miniconda installer")),
        error = identity)
    expect_match(conditionMessage(err), "could not set up its Python environment through basilisk \\(failed to download")
    expect_match(conditionMessage(err), "options\\(scDiffusion.python = .*SCDIFFUSION_PYTHON")
    expect_null(.basilisk_setup_error(simpleError("some other error")))
    # the path that calls basilisk: no override, basiliskRun fails as offline
    old <- options(scDiffusion.python = NULL)
    env <- Sys.getenv("SCDIFFUSION_PYTHON", NA)
    Sys.setenv(SCDIFFUSION_PYTHON = "")
    on.exit({
        options(old)
        if (is.na(env)) Sys.unsetenv("SCDIFFUSION_PYTHON") else Sys.setenv(SCDIFFUSION_PYTHON = env)
    })
    local_mocked <- function() stop("cannot download Miniconda (offline)")
    trace_env <- asNamespace("basilisk")
    skip_if_not(exists("basiliskRun", trace_env))
    fake <- function(...) local_mocked()
    orig <- get("basiliskRun", trace_env)
    unlockBinding("basiliskRun", trace_env)
    assign("basiliskRun", fake, trace_env)
    on.exit({
        assign("basiliskRun", orig, trace_env)
        lockBinding("basiliskRun", trace_env)
    }, add = TRUE)
    expect_error(scDiffusionPythonVersion(), "SCDIFFUSION_PYTHON")
    expect_error(scDiffusionExampleModel(), "options\\(scDiffusion.python")
})

test_that("plotComparison's fold-change panel has a legend of the label colours (issue 24.6)", {
    d <- list(cells = NULL, genes = NULL, skipped = list(), lfc = data.frame(label = rep(c("A", "B"), each = 5),
        gene = paste0("g", 1:10), lfc_real = stats::rnorm(10), lfc_generated = stats::rnorm(10)))
    rec <- new.env()
    rec$legends <- list()
    trace("legend", where = asNamespace("graphics"), print = FALSE,
        tracer = bquote(assign("legends", c(.(rec)$legends, list(legend)), envir = .(rec))))
    on.exit(untrace("legend", where = asNamespace("graphics")))
    f <- tempfile(fileext = ".pdf")
    grDevices::pdf(f)
    .draw_comparison(d)
    grDevices::dev.off()
    expect_true(any(vapply(rec$legends, function(l) identical(as.character(l), c("A", "B")), logical(1))))
})
