## Python-backed tests need a Python environment: SCDIFFUSION_PYTHON (or the
## option scDiffusion.python) naming one, or SCDIFFUSION_TEST_BASILISK=true to
## let basilisk build its own environment (needs internet).
skip_if_no_python <- function() {
    ok <- !is.null(tryCatch(scDiffusionPython(), error = function(e) NULL)) ||
        identical(tolower(Sys.getenv("SCDIFFUSION_TEST_BASILISK")), "true")
    if (!ok) skip("no Python environment (set SCDIFFUSION_PYTHON)")
}

## Small simulated data set: negative-binomial counts, three cell types.
sim_sce <- function(n_cells = 150, n_genes = 120, types = c("A", "B", "C"), seed = 1) {
    set.seed(seed)
    ct <- rep(types, length.out = n_cells)
    base <- stats::rgamma(n_genes, 1, 0.3)
    mu <- vapply(types, function(t) base * exp(stats::rnorm(n_genes, 0, 1)), numeric(n_genes))
    counts <- matrix(stats::rnbinom(n_genes * n_cells, mu = mu[, match(ct, types)], size = 2),
        n_genes, dimnames = list(paste0("gene", seq_len(n_genes)), paste0("cell", seq_len(n_cells))))
    SingleCellExperiment::SingleCellExperiment(assays = list(counts = counts),
        colData = S4Vectors::DataFrame(cell_type = ct, tissue = rep(c("lung", "gut"), length.out = n_cells)))
}

## Tiny, fast training settings.
TINY <- list(max_steps = 30L, n_latent = 8L, hidden = c(32L, 32L))

.test_cache <- new.env()
tiny_model <- function() {
    if (is.null(.test_cache$model) || !dir.exists(.test_cache$model@path)) {
        .test_cache$sce <- sim_sce()
        .test_cache$model <- do.call(trainScDiffusion, c(list(.test_cache$sce,
            labels_keys = c("cell_type", "tissue")), TINY))
    }
    .test_cache$model
}
