## Makes inst/extdata/example_data.rds and inst/extdata/example_model, the data
## and the tiny model of scDiffusionExampleData() and scDiffusionExampleModel()
## (examples, tests, quick trials). Run from the repository root with the
## package installed and a Python environment (e.g. SCDIFFUSION_PYTHON):
##     Rscript inst/scripts/make-example-model.R
## It takes about a minute on 2 CPU cores; the files take about 200 kB.
suppressPackageStartupMessages(library(scDiffusion))

## The data: negative-binomial counts of 300 cells of three cell types (A, B,
## C) over 100 genes with type-specific means; the last three genes are
## detected in one cell only, so the gene filter drops them.
set.seed(1)
n_cells <- 300L
n_genes <- 100L
types <- c("A", "B", "C")
cell_type <- rep(types, length.out = n_cells)
base <- stats::rgamma(n_genes, shape = 1, rate = 0.3)
mu <- vapply(types, function(t) base * exp(stats::rnorm(n_genes, 0, 1)), numeric(n_genes))
counts <- matrix(stats::rnbinom(n_genes * n_cells, mu = mu[, match(cell_type, types)], size = 2), n_genes, n_cells)
rare <- seq.int(n_genes - 2L, n_genes)
counts[rare, ] <- 0
counts[rare, 1L] <- 1
dimnames(counts) <- list(sprintf("gene%03d", seq_len(n_genes)), sprintf("cell%03d", seq_len(n_cells)))
dir.create(file.path("inst", "extdata"), recursive = TRUE, showWarnings = FALSE)
saveRDS(list(counts = as(counts, "CsparseMatrix"), cell_type = cell_type),
    file.path("inst", "extdata", "example_data.rds"), compress = "xz")

## The model: tiny sizes, fixed step budgets (repeatable), classifiers on cell_type.
sce <- SingleCellExperiment(assays = list(counts = as(counts, "CsparseMatrix")),
    colData = DataFrame(cell_type = cell_type, row.names = colnames(counts)))
model <- trainScDiffusion(sce, labels_keys = "cell_type", n_latent = 8L, hidden = c(32L, 32L),
    denoiser_hidden = c(32L, 16L), classifier_hidden = 16L, dropout = 0.1, input_dropout = 0.1,
    max_steps = c(autoencoder = 1500L, diffusion = 3000L, classifier = 800L), seed = 1L, progress = FALSE)
model <- saveScDiffusion(model, file.path("inst", "extdata", "example_model"), overwrite = TRUE)
print(model)
