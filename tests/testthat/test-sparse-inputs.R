## Odd but valid sparse counts must work like the dense matrix they stand for:
## a dgCMatrix with explicitly stored zeros, and one whose row indices are
## unsorted within columns (Matrix calls that object invalid; scDiffusion does
## not rely on validity and reads the slots as they are).

## dgCMatrix of dense 'm' built slot by slot (new() without slots skips the
## validity check): row indices reversed within each column ('unsorted') and
## one explicit zero per column that has a zero.
odd_dgc <- function(m, unsorted = TRUE) {
    i <- integer(0)
    x <- numeric(0)
    p <- 0L
    for (j in seq_len(ncol(m))) {
        rows <- c(which(m[, j] != 0), utils::head(which(m[, j] == 0), 1L))
        rows <- if (unsorted) rev(rows) else sort(rows)
        i <- c(i, rows - 1L)
        x <- c(x, m[rows, j])
        p <- c(p, length(i))
    }
    out <- new("dgCMatrix")
    out@Dim <- dim(m)
    out@Dimnames <- dimnames(m)
    out@p <- as.integer(p)
    out@i <- as.integer(i)
    out@x <- as.numeric(x)
    out
}

## the dense matrix that the slots of a dgCMatrix stand for, read without Matrix
slots_to_dense <- function(s) {
    d <- matrix(0, s@Dim[1L], s@Dim[2L], dimnames = s@Dimnames)
    d[cbind(s@i + 1L, rep(seq_len(s@Dim[2L]), diff(s@p)))] <- s@x
    d
}

sparse_fixture <- function() {
    dense <- sim_sce(n_cells = 90, n_genes = 50, seed = 4)
    m <- SummarizedExperiment::assay(dense, "counts")
    storage.mode(m) <- "double"
    SummarizedExperiment::assay(dense, "counts") <- m
    zeros <- odd_dgc(m, unsorted = FALSE)  # valid, with explicit zeros
    odd <- odd_dgc(m)  # explicit zeros and unsorted row indices
    list(dense = dense, m = m, zeros = zeros, odd = odd)
}

with_assay <- function(x, m) {
    # assay<- with withDimnames = FALSE does not validate the matrix
    SummarizedExperiment::assay(x, "counts", withDimnames = FALSE) <- m
    x
}

test_that("the odd sparse matrices are what they claim to be", {
    f <- sparse_fixture()
    expect_true(validObject(f$zeros, test = TRUE))
    expect_match(validObject(f$odd, test = TRUE), "not increasing")
    for (s in list(f$zeros, f$odd)) {
        expect_identical(sum(s@x == 0), sum(colSums(f$m == 0) > 0))
        expect_identical(slots_to_dense(s), f$m)
    }
    expect_true(any(diff(f$odd@i[seq_len(f$odd@p[2L])]) < 0))
})

test_that("sparse counts with explicit zeros or unsorted indices convert to the X of the dense matrix", {
    skip_if_no_python()
    f <- sparse_fixture()
    # a SummarizedExperiment: SingleCellExperiment's accessors validate the assays
    se <- SummarizedExperiment::SummarizedExperiment(assays = list(counts = f$m))
    rt_dense <- anndataRoundTrip(se)
    expect_identical(SummarizedExperiment::assay(rt_dense, "counts"), f$m)
    for (s in list(f$zeros, f$odd)) {
        rt <- anndataRoundTrip(with_assay(se, s))
        got <- SummarizedExperiment::assay(rt, "counts")
        expect_s4_class(got, "dgCMatrix")
        expect_true(validObject(got, test = TRUE))  # indices come back sorted
        expect_identical(as.matrix(got), f$m)
    }
})

test_that("training on odd sparse counts gives the model trained on dense counts", {
    skip_if_no_python()
    f <- sparse_fixture()
    odd_sce <- with_assay(f$dense, f$odd)
    odd_before <- odd_sce
    train <- function(x) do.call(trainScDiffusion, c(list(x, labels_keys = "cell_type", seed = 2L), TINY))
    m_dense <- train(f$dense)
    m_odd <- train(odd_sce)
    expect_identical(odd_sce, odd_before)
    expect_identical(modelGenes(m_odd), modelGenes(m_dense))
    gen <- function(model) generate(model, n_cells = 6, condition = c(cell_type = "B"), n_steps = 5, seed = 4)
    g_dense <- gen(m_dense)
    g_odd <- gen(m_odd)
    for (a in SummarizedExperiment::assayNames(g_dense)) {
        expect_equal(SummarizedExperiment::assay(g_odd, a), SummarizedExperiment::assay(g_dense, a),
            tolerance = 1e-5)
    }
    # start cells with explicit zeros interpolate like dense ones
    run <- function(x) interpolate(m_dense, x, "cell_type", "A", "C", n_states = 2, n_cells = 3,
        t_start = 100, n_steps = 5, seed = 1)
    expect_equal(SummarizedExperiment::assay(run(with_assay(f$dense, f$zeros))),
        SummarizedExperiment::assay(run(f$dense)), tolerance = 1e-5)
})
