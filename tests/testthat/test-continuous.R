## Continuous conditions (issue 22): train on a numeric colData column and
## generate cells at any of its values, also one never measured.

test_that("trainScDiffusion(continuous_keys =) and generate(condition = list(Hours = 36))", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 120, n_genes = 60)
    sce$Hours <- rep(c(0, 24, 72), length.out = ncol(sce))
    model <- do.call(trainScDiffusion, c(list(sce, labels_keys = "cell_type", continuous_keys = "Hours"), TINY))
    expect_equal(model@info$continuous$Hours, c(0, 72))
    gen <- generate(model, 6, condition = list(Hours = 36), seed = 1)
    expect_equal(ncol(gen), 6L)
    expect_equal(gen$Hours, rep(36, 6))
    both <- generate(model, 4, condition = list(Hours = c(0, 12, 48, 72), cell_type = "A"), seed = 2)
    expect_equal(both$Hours, c(0, 12, 48, 72))
    expect_equal(as.character(both$cell_type), rep("A", 4))
    expect_error(generate(model, 3, condition = list(Hours = "late")), "must be a finite number")
    path <- interpolate(model, sce, labels_key = "Hours", start = 0, end = 72, at = c(12, 48), n_cells = 3, seed = 3)
    expect_equal(path$Hours, rep(c(12, 48), each = 3))
    two <- interpolate(model, sce, labels_key = "Hours", start = 0, end = 72, at = c(12, 48), n_cells = 3,
        method = "two-ended", seed = 3)
    expect_equal(two$Hours, rep(c(12, 48), each = 3))
    expect_true(all(two$source_cell_end %in% colnames(sce)[sce$Hours == 72]))
    auto <- interpolate(model, sce, labels_key = "Hours", start = 0, end = 72, n_states = 2, n_cells = 2, seed = 3)
    expect_identical(S4Vectors::metadata(auto)$scDiffusion$params$interpolation_method, "two-ended")
    beyond <- interpolate(model, sce, labels_key = "Hours", start = 0, end = 24, at = 48, n_cells = 2, seed = 3)
    expect_identical(S4Vectors::metadata(beyond)$scDiffusion$params$interpolation_method, "gradient")
    expect_error(interpolate(model, sce, labels_key = "Hours", start = 0, end = 24, at = 48, method = "two-ended"),
        "outside: give values between them")
    expect_error(interpolate(model, sce, labels_key = "cell_type", start = "A", end = "B", at = 1),
        "not one; continuous columns: Hours")
    expect_error(do.call(trainScDiffusion, c(list(sce, continuous_keys = "tissue"), TINY)), "not numbers")
    expect_error(trainScDiffusion(sce, continuous_keys = "nope"), "nope")
})

test_that("continuous_pseudotime = TRUE spreads a time course within its time points, and says so", {
    skip_if_no_python()
    sce <- sim_sce(n_cells = 150, n_genes = 40)
    set.seed(7)
    sce$Hours <- rep(c(0, 24, 72), length.out = ncol(sce))
    progress <- sce$Hours / 72 + stats::rnorm(ncol(sce), 0, 0.08)  # cells ahead of or behind their time point
    slope <- rep(c(2.5, -2.5), each = 20)
    mu <- 20 * exp(outer(slope, progress - 0.5))
    SingleCellExperiment::counts(sce) <- matrix(stats::rpois(length(mu), mu), nrow = nrow(sce),
        dimnames = dimnames(sce))
    spread <- do.call(trainScDiffusion, c(list(sce, continuous_keys = "Hours", continuous_pseudotime = TRUE), TINY))
    plain <- do.call(trainScDiffusion, c(list(sce, continuous_keys = "Hours", continuous_pseudotime = FALSE), TINY))
    expect_equal(spread@info$continuous$Hours, c(0, 72))  # the trained range stays the measured one
    at <- generate(spread, 3, condition = list(Hours = 36), seed = 1)
    expect_true(S4Vectors::metadata(at)$scDiffusion$params$continuous$Hours$pseudotime_spread)
    no <- generate(plain, 3, condition = list(Hours = 36), seed = 1)
    expect_false(S4Vectors::metadata(no)$scDiffusion$params$continuous$Hours$pseudotime_spread)
    expect_error(do.call(trainScDiffusion, c(list(sce, continuous_keys = "Hours", continuous_pseudotime = "yes"),
        TINY)), "continuous_pseudotime")
})
