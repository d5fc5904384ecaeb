## Errors from the Python core (issues 21 and 24): input errors are one line in R's words; anything else is
## an internal error that says it is a bug and carries the Python traceback.

test_that("an input error of the core is one R line, translated to R's spelling", {
    skip_if_no_python()
    model <- scDiffusionExampleModel()
    err <- tryCatch(generate(model, n_cells = 1e9), error = identity)
    msg <- conditionMessage(err)
    expect_match(msg, "n_cells = 1000000000 cells of \\d+ genes needs about .* of memory, but only .* is available")
    expect_match(msg, "several generate\\(\\) calls .* and cbind\\(\\) of the results")
    expect_false(grepl("Traceback|generate_to_file|--chunk-size|Internal error", msg))
    expect_false(inherits(err, "scDiffusion_internal_error"))
    expect_null(conditionCall(err))
})

test_that("any other Python exception is an internal error with the traceback", {
    skip_if_no_python()
    model <- scDiffusionExampleModel()
    # an argument the bridge does not know: a bug on the R side, not the user's
    err <- tryCatch(.scd_call(.generate_worker, model_dir = modelPath(model), n_cells = 2L, condition = NULL,
        no_such_option = 1), error = identity)
    expect_s3_class(err, "scDiffusion_internal_error")
    expect_match(conditionMessage(err), "^Internal error in scDiffusion \\(a bug, not a problem with your input\\): TypeError")
    expect_match(conditionMessage(err), "Please report it .* with the Python traceback")
    expect_match(err$traceback, "Traceback \\(most recent call last\\)")
    expect_output(.last_traceback(), "unexpected keyword argument .no_such_option.")
    old <- options(scDiffusion.verbose = TRUE)
    on.exit(options(old))
    expect_error(.scd_call(.generate_worker, model_dir = modelPath(model), n_cells = 2L, condition = NULL,
        no_such_option = 1), "Traceback \\(most recent call last\\)", class = "scDiffusion_internal_error")
})

test_that("messages written for Python and the command line are spelt for R", {
    expect_identical(.r_message(paste0("Model was trained with classifier_free=False. Use guidance='classifier', ",
        "or retrain with classifier_free=True.")), paste0("Model was trained with classifier_free = FALSE. Use ",
        "guidance = \"classifier\", or retrain with classifier_free = TRUE."))
    expect_identical(.r_message("CUDA is not available; use --device cpu or auto."),
        "CUDA is not available; use device = \"cpu\" or \"auto\".")
    expect_identical(.r_message("Choose another path or pass overwrite=True (CLI: --overwrite)."),
        "Choose another path or pass overwrite = TRUE.")
    expect_identical(.r_message("or labels_key=None to skip"), "or labels_key = NULL to skip")
})
