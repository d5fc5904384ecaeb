## The table of bad inputs on the R surface (issue 6), the R counterpart of
## tests/python/test_bad_inputs.py. Every case must fail with an R error whose
## message says what is wrong and how to fix it (one line, no Python
## traceback), write nothing (no file at the output path, no model directory
## left in tempdir()) and leave its input unchanged (the R object, and the
## files of any model directory it holds).

## ---------------------------------------------------------------- inputs
bad_sce <- function() sim_sce(n_cells = 60, n_genes = 40, seed = 11)

## bad_sce() with its counts changed by fn
with_counts <- function(fn) {
    function() {
        x <- bad_sce()
        SummarizedExperiment::assay(x, "counts") <- fn(SummarizedExperiment::assay(x, "counts"))
        x
    }
}

set_first <- function(value) function(m) {
    m[1L, 1L] <- value
    m
}

## bad_sce() changed by fn(x)
with_sce <- function(fn) function() fn(bad_sce())

the_model <- function() tiny_model()
model_and_cells <- function() list(model = tiny_model(), cells = .test_cache$sce)

## a damaged copy of the tiny model's directory
damaged_model <- function(damage) {
    function() {
        dir <- tempfile("damaged_model_")
        dir.create(dir)
        file.copy(list.files(modelPath(tiny_model()), full.names = TRUE), dir)
        damage(dir)
        dir
    }
}

edit_config <- function(dir, ...) {
    f <- file.path(dir, "config.json")
    cfg <- jsonlite::read_json(f, simplifyVector = FALSE)
    cfg[names(list(...))] <- list(...)
    jsonlite::write_json(cfg, f, auto_unbox = TRUE, digits = NA, null = "null")
}

weights <- function(dir) file.path(dir, "model.safetensors")

## ---------------------------------------------------------------- calls
## train, then save to 'out' (which must not appear)
train_to <- function(labels = "cell_type", ...) {
    function(x, out) {
        model <- do.call(trainScDiffusion, c(list(x, labels_keys = labels), TINY, list(...)))
        saveScDiffusion(model, out)
    }
}

load_to <- function(dir, out) saveScDiffusion(loadScDiffusion(dir), out)

interp <- function(...) {
    function(x, out) {
        interpolate(x$model, x$cells, ...)
    }
}

## ---------------------------------------------------------------- the table
## name, input (a function making the bad input), call (function(input, out)),
## error (regexp of the message), python (does the case need the Python core?)
## pending: the reason, for a behaviour being changed on another branch (listed, not yet asserted)
bad <- function(name, input, call, error, python = FALSE, pending = NULL) {
    list(name = name, input = input, call = call, error = error, python = python, pending = pending)
}

NOT_FINITE <- "contains 1 NA, NaN or infinite values\\. Remove or fix those cells or genes first"

BAD_INPUTS <- list(
    ## counts
    bad("NaN in counts", with_counts(set_first(NaN)), train_to(), NOT_FINITE),
    bad("Inf in counts", with_counts(set_first(Inf)), train_to(), NOT_FINITE),
    bad("NA in counts", with_counts(set_first(NA_integer_)), train_to(), NOT_FINITE),
    bad("NaN in sparse counts", with_counts(function(m) {
        m <- methods::as(m, "CsparseMatrix")
        m@x[3L] <- NaN
        m
    }), train_to(), NOT_FINITE),
    bad("negative counts", with_counts(set_first(-3)), train_to(),
        "negative values \\(min -3\\); it looks scaled.*pass the assay that holds them with 'assay ='"),
    bad("non-integer counts", with_counts(set_first(2.5)), train_to(),
        "assay 'counts' of 'x' contains non-integer values; scDiffusion needs raw integer counts"),
    bad("log-normalised data as counts", with_counts(log1p), train_to(),
        "non-integer values.*look log-normalised \\(all below 30\\): pass the raw counts instead with 'assay ='"),
    bad("FPKM-like data as counts", with_counts(function(m) m * 37.3), train_to(),
        "non-integer values.*FPKM/TPM.*pseudoCounts\\(\\)"),
    bad("all-zero counts", with_counts(function(m) m * 0L), train_to(labels = NULL),
        "holds no count \\(all zero\\): every cell is empty"),
    bad("SCE with 0 cells", with_sce(function(x) x[, 0L]), train_to(labels = NULL),
        "'x' is empty \\(40 genes x 0 cells\\)\\. Pass a SingleCellExperiment with at least one gene and one cell"),
    bad("SCE with 0 genes", with_sce(function(x) x[0L, ]), train_to(labels = NULL),
        "'x' is empty \\(0 genes x 60 cells\\)"),
    bad("SCE with 0 cells and 0 genes", with_sce(function(x) x[0L, 0L]), train_to(labels = NULL),
        "'x' is empty \\(0 genes x 0 cells\\)"),
    bad("a single cell", with_sce(function(x) x[, 1L]), train_to(labels = NULL),
        "No gene is detected in at least 3 cells\\. Pass more cells or lower min_cells", python = TRUE),
    bad("generate() on an SCE with NaN counts", with_counts(set_first(NaN)),
        function(x, out) generate(x, n_cells = 5, condition = c(cell_type = "A"), max_steps = 5),
        NOT_FINITE),
    ## labels
    bad("label column with one label", with_sce(function(x) {
        x$cell_type <- "B"
        x
    }), train_to(), "column 'cell_type' has a single label \\('B'\\).*Drop 'cell_type' from 'labels_keys'"),
    bad("label column with NA values", with_sce(function(x) {
        x$cell_type[c(2L, 7L)] <- NA
        x
    }), train_to(), "column 'cell_type' has NA labels; remove those cells or give them a label"),
    bad("label too rare for a classifier", with_sce(function(x) {
        x$cell_type[1:2] <- "rare"
        x
    }), train_to(), "fewer than 5 cells: 'rare' \\(2 cells\\)\\. Drop or merge those cells, or lower min_cells_per_label",
        python = TRUE),
    bad("label column not in colData", bad_sce, train_to(labels = "organ"), "colData has no column 'organ'"),
    ## names, assays, object types
    bad("duplicated gene names", with_sce(function(x) {
        rownames(x)[2L] <- rownames(x)[1L]
        x
    }), train_to(), "rownames \\(gene names\\) must be unique; fix them with make.unique\\(rownames\\(x\\)\\)"),
    bad("duplicated cell names", with_sce(function(x) {
        colnames(x)[2L] <- colnames(x)[1L]
        x
    }), train_to(), "colnames \\(cell names\\) must be unique; fix them with make.unique\\(colnames\\(x\\)\\)"),
    bad("missing assay", bad_sce, train_to(assay = "raw"),
        "assay 'raw' is not in the object \\(assays: counts\\)\\. Pass the assay with raw counts via 'assay ='"),
    bad("matrix with labels to train on", function() SummarizedExperiment::assay(bad_sce(), "counts"), train_to(),
        "colData has no column 'cell_type' \\(it has none\\)\\. Give the cells their labels, e\\.g\\. SingleCellExperiment\\(assays = list\\(counts = m\\), colData"),
    bad("data.frame instead of an SCE (generate)", function() as.data.frame(SummarizedExperiment::assay(bad_sce())),
        function(x, out) generate(x, n_cells = 5),
        "'x' must be a ScDiffusionModel, a SingleCellExperiment .* or a genes x cells matrix of counts, not a data.frame\\. Wrap"),
    bad("list instead of an SCE (evaluateGeneration)", function() list(counts = SummarizedExperiment::assay(bad_sce())),
        function(x, out) evaluateGeneration(x, bad_sce()), "'real' must be a SingleCellExperiment.*not a list"),
    bad("list instead of a model (saveScDiffusion)", function() list(path = "my_model"),
        function(x, out) saveScDiffusion(x, out), "'model' must be a ScDiffusionModel"),
    ## generation
    bad("n_cells = 0", the_model, function(x, out) generate(x, n_cells = 0),
        "'n_cells' must be a single whole number >= 1, got 0", python = TRUE),
    bad("n_cells < 0", the_model, function(x, out) generate(x, n_cells = -5),
        "'n_cells' must be a single whole number >= 1, got -5", python = TRUE),
    bad("unknown label at generation", the_model, function(x, out) generate(x, 3, c(cell_type = "X")),
        "Unknown label 'X' for column 'cell_type'\\. Known labels: A, B, C", python = TRUE),
    bad("condition on a column with no classifier", the_model, function(x, out) generate(x, 3, c(organ = "lung")),
        "No classifier for column 'organ'\\. Columns with classifiers: ", python = TRUE),
    bad("guidance_scale < 0", the_model,
        function(x, out) generate(x, 3, c(cell_type = "A"), guidance_scale = -2),
        "'guidance_scale' must be a single finite number in \\[0, 1000\\], got -2", python = TRUE),
    bad("guidance_scale huge", the_model,
        function(x, out) generate(x, 3, c(cell_type = "A"), guidance_scale = 1e9),
        "'guidance_scale' must be a single finite number in \\[0, 1000\\]", python = TRUE),
    bad("guidance_scale per column out of range", the_model,
        function(x, out) generate(x, 3, c(cell_type = "A"), guidance_scale = list(cell_type = Inf)),
        "'guidance_scale\\[\\['cell_type'\\]\\]' must be a single finite number", python = TRUE),
    bad("n_steps = 0", the_model, function(x, out) generate(x, 3, n_steps = 0),
        "'n_steps' must be a single whole number >= 1", python = TRUE),
    ## interpolation
    bad("t_start too high", model_and_cells, interp("cell_type", "A", "B", t_start = 5000),
        "'t_start' must be at most 999", python = TRUE),
    bad("t_start = 0", model_and_cells, interp("cell_type", "A", "B", t_start = 0),
        "'t_start' must be a single whole number >= 1, got 0", python = TRUE),
    bad("interpolation between identical labels", model_and_cells, interp("cell_type", "A", "A"),
        "'start' and 'end' are the same label; interpolation needs two labels", python = TRUE),
    bad("interpolation with one state", model_and_cells, interp("cell_type", "A", "B", n_states = 1),
        "'n_states' must be a single whole number >= 2", python = TRUE),
    bad("unknown label at interpolation", model_and_cells, interp("cell_type", "A", "Z"),
        "Unknown label 'Z' for column 'cell_type'", python = TRUE),
    bad("interpolation on a column with no classifier", model_and_cells, interp("batch", "A", "B"),
        "No classifier for column 'batch'", python = TRUE),
    bad("unknown interpolation method", model_and_cells, interp("cell_type", "A", "B", method = "nope"),
        "'method' must be one of 'auto', 'gradient', 'two-ended', got 'nope'", python = TRUE),
    bad("two-ended interpolation without cells of the end label", function() {
        x <- model_and_cells()
        x$cells <- x$cells[, x$cells$cell_type != "B"]
        x
    }, interp("cell_type", "A", "B", method = "two-ended"),
        "'x' has no cell labelled 'B' in column 'cell_type'. Two-ended interpolation starts from real cells",
        python = TRUE),
    bad("start cells with other genes than the model", function() {
        x <- model_and_cells()
        x$cells <- x$cells[setdiff(rownames(x$cells), modelGenes(x$model)[1:5]), ]
        x
    }, interp("cell_type", "A", "B"),
        "'x' lacks 5 of the model's [0-9]+ genes, e.g. 'gene[0-9]+'.*same gene names \\(rownames\\) as the training data",
        python = TRUE),
    bad("start cells with NaN counts", function() {
        x <- model_and_cells()
        SummarizedExperiment::assay(x$cells, "counts")[5L, 1L] <- NaN  # cell1 is labelled A
        x
    }, interp("cell_type", "A", "B"), NOT_FINITE, python = TRUE),
    bad("evaluation against other genes", bad_sce, function(x, out) evaluateGeneration(x[1:30, ], x),
        "'real' and 'generated' have different genes \\(30 and 40, 30 shared\\); subset both to the same genes"),
    ## damaged model directories
    bad("model directory of a newer format version", damaged_model(function(d) edit_config(d, format_version = 99L)),
        load_to, "has format version 99, newer than this scDiffusion supports \\([0-9]+\\)\\. Upgrade scDiffusion",
        python = TRUE),
    bad("truncated weight file", damaged_model(function(d) {
        w <- readBin(weights(d), "raw", file.size(weights(d)))
        writeBin(w[seq_len(length(w) %/% 2L)], weights(d))
    }), load_to, "model.safetensors is truncated or corrupted .*Re-train or restore the model directory", python = TRUE),
    bad("corrupted weight file (random bytes)", damaged_model(function(d) {
        set.seed(6)
        writeBin(as.raw(sample(0:255, 4096L, replace = TRUE)), weights(d))
    }), load_to, "model.safetensors is truncated or corrupted .*Re-train or restore the model directory", python = TRUE),
    bad("model directory without genes.txt", damaged_model(function(d) unlink(file.path(d, "genes.txt"))),
        load_to, "is not a complete scDiffusion model directory: missing \\['genes.txt'\\]", python = TRUE),
    bad("model directory without config.json", damaged_model(function(d) unlink(file.path(d, "config.json"))),
        load_to, "is not a scDiffusion model directory \\(no config.json\\)", python = TRUE),
    ## added with the published catalogue (docs/bad-inputs.md)
    bad("count above 2^31", with_counts(set_first(3e9)), train_to(),
        "contains values above 2\\^31 - 1 \\(max 3e\\+09\\)", python = TRUE),
    bad("a unicode label with one cell", with_sce(function(x) {
        x$cell_type[1L] <- "T\u00fcb zelle \u2713"
        x
    }), train_to(), "fewer than 5 cells: 'T\u00fcb zelle \u2713' \\(1 cells\\)", python = TRUE),
    bad("numeric labels, one with a single cell", with_sce(function(x) {
        x$cell_type <- rep(1:3, length.out = ncol(x))
        x$cell_type[1L] <- 7L
        x
    }), train_to(), "fewer than 5 cells: '7' \\(1 cells\\)", python = TRUE),
    bad("labels_keys with a trailing space", bad_sce, train_to(labels = "cell_type "),
        "colData has no column 'cell_type '"),
    bad("labels_keys = NA", bad_sce, train_to(labels = NA_character_),
        "'labels_keys' must be a character vector of colData column names"),
    bad("n_latent = 1", bad_sce, function(x, out) trainScDiffusion(x, labels_keys = "cell_type", n_latent = 1L),
        "'n_latent' must be a single whole number >= 2, got 1"),
    bad("likelihood unknown", bad_sce, train_to(likelihood = "poisson"),
        "'likelihood' must be one of 'mse', 'nb', 'zinb', got 'poisson'"),
    bad("eval_every = 0 in a stage's options", bad_sce, train_to(autoencoder = list(eval_every = 0L)),
        "autoencoder stage: eval_every must be a positive integer, got 0", python = TRUE),
    bad("options(scDiffusion.threads = -1)", bad_sce, function(x, out) {
        old <- options(scDiffusion.threads = -1)
        on.exit(options(old))
        train_to()(x, out)
    }, "option 'scDiffusion.threads' must be one positive whole number"),
    bad("n_cells = 2.5", the_model, function(x, out) generate(x, n_cells = 2.5),
        "'n_cells' must be a single whole number >= 1, got 2.5"),
    bad("n_cells = NA", the_model, function(x, out) generate(x, n_cells = NA),
        "'n_cells' must be a single whole number >= 1, got NA"),
    bad("n_cells = '5' (a string)", the_model, function(x, out) generate(x, n_cells = "5"),
        "'n_cells' must be a single whole number >= 1, got '5'"),
    bad("seed = -1", the_model, function(x, out) generate(x, n_cells = 5, seed = -1),
        "'seed' must be a single whole number >= 0, got -1"),
    bad("seed = 1.5", the_model, function(x, out) generate(x, n_cells = 5, seed = 1.5),
        "'seed' must be a single whole number >= 0, got 1.5"),
    bad("seed = 1e20 (beyond R's integers)", the_model, function(x, out) generate(x, n_cells = 5, seed = 1e20),
        "seed must be a non-negative integer below 2\\^63, got 100000000000000000000\\.", python = TRUE),
    bad("guidance_scale = NA", the_model,
        function(x, out) generate(x, 3, c(cell_type = "A"), guidance_scale = NA),
        "'guidance_scale' must be a single finite number in \\[0, 1000\\], got NA"),
    bad("cfg_scale < 0", the_model, function(x, out) generate(x, 3, c(cell_type = "A"), cfg_scale = -1),
        "'cfg_scale' must be a single finite number in \\[0, 1000\\], got -1"),
    bad("sampler unknown", the_model, function(x, out) generate(x, 3, sampler = "euler"),
        "'sampler' must be one of 'dpmpp-sde', 'ddpm', 'ddim', 'dpmpp', got 'euler'"),
    bad("guidance mode unknown", the_model, function(x, out) generate(x, 3, guidance = "none"),
        "'guidance' must be one of 'auto', 'classifier', 'classifier-free', 'both', got 'none'"),
    bad("condition without a column name", the_model, function(x, out) generate(x, 3, condition = "A"),
        "'condition' must be named by label column"),
    bad("label with a trailing space", the_model, function(x, out) generate(x, 3, c(cell_type = "A ")),
        "Unknown label 'A ' for column 'cell_type'", python = TRUE),
    bad("model directory that does not exist (unicode name)",
        function() file.path(tempdir(), "n\u00f6 model"), load_to,
        "is not a scDiffusion model directory \\(no config.json\\)"),
    bad("per-cell condition with NA", the_model,
        function(x, out) generate(x, 3, condition = list(cell_type = c("A", NA, "B"))), "NA"),
    bad("n_cells = 1e9", the_model, function(x, out) generate(x, n_cells = 1e9), "memory"),
    bad("saveScDiffusion(overwrite = TRUE) on a folder the package did not write", function() {
        d <- tempfile("my_notes_")
        dir.create(d)
        writeLines("keep", file.path(d, "notes.txt"))
        list(model = tiny_model(), dir = d)
    }, function(x, out) saveScDiffusion(x$model, x$dir, overwrite = TRUE),
        "it is not a model folder scDiffusion wrote"),
    bad("a crafted .rds file (a promise in the object)", function() {
        f <- tempfile(fileext = ".rds")
        e <- new.env(parent = emptyenv())
        delayedAssign("x", stop("code ran"), eval.env = globalenv(), assign.env = e)
        saveRDS(e, f)
        f
    }, function(x, out) {
        ## rdsToPlain is the package's one reader of .rds files (the Python core reads through it); it returns
        ## errors as values. Had the promise run, the message would be "code ran".
        res <- rdsToPlain(x)
        if (!is.null(res$error)) stop(res$error, call. = FALSE)
        res
    }, "holds a promise")
)

## ---------------------------------------------------------------- the checks
## model directories an input holds (a model, a directory path, or a list of those)
input_dirs <- function(x) {
    if (is(x, "ScDiffusionModel")) return(x@path)
    if (is.character(x) && length(x) == 1L && dir.exists(x)) return(x)
    if (is.list(x) && !is.data.frame(x)) return(unlist(lapply(x, input_dirs), use.names = FALSE))
    character(0)
}

snapshot <- function(x) {
    files <- list.files(input_dirs(x), full.names = TRUE, recursive = TRUE, all.files = TRUE)
    list(object = x, files = tools::md5sum(files))
}

temp_models <- function() list.files(tempdir(), pattern = "^scDiffusion_model_")

test_that("the table of bad inputs is large and has unique names", {
    expect_gte(length(BAD_INPUTS), 24L)
    names <- vapply(BAD_INPUTS, `[[`, "", "name")
    expect_false(anyDuplicated(names) > 0L)
})

## ---------------------------------------------------------------- the published table
## Each case records the message it gave; with SCDIFFUSION_CATALOGUE_OUT set they are written there as JSON
## (tools/make_bad_input_catalogue.py renders docs/bad-inputs.md from them), otherwise, in a source checkout,
## the last test compares them with the published table.
CATALOGUE_ROWS <- new.env()
case_id <- function(name) {
    name <- gsub("-([0-9])", " minus \\1", gsub(">", " gt ", gsub("<", " lt ", tolower(name))))
    gsub("^_|_$", "", gsub("[^a-z0-9]+", "_", name))
}
one_line <- function(msg) {
    msg <- gsub("\\s+", " ", msg)
    ## the machine's free memory in the memory bound's message: the published table must not depend on it
    msg <- gsub("but only [0-9.]+ [KMGT]?B is available: at most about [0-9]+ cells",
        "but only <free memory> is available: at most about <N> cells", msg)
    for (d in unique(c(tempdir(), normalizePath(tempdir())))) {
        msg <- gsub(paste0(d, "/[^/'\" ]+"), "<tmp>", msg)
    }
    msg
}
record_row <- function(case, message) {
    id <- case_id(case$name)
    assign(id, list(id = id, surface = "R", input = case$name, message = message,
        disk = "nothing: no output, inputs unchanged"), envir = CATALOGUE_ROWS)
}
for (case in BAD_INPUTS) {
    if (!is.null(case$pending)) record_row(case, paste("(pending)", case$pending))
}

for (case in BAD_INPUTS) {
    test_that(sprintf("bad input: %s -> clear error, no output, input unchanged", case$name), {
        if (!is.null(case$pending)) skip(paste("pending:", case$pending))
        if (case$python) skip_if_no_python()
        x <- case$input()
        before <- snapshot(x)
        models_before <- temp_models()
        out <- file.path(tempfile("bad_input_"), "model")
        warned <- character(0)
        err <- tryCatch(withCallingHandlers({
            case$call(x, out)
            NULL
        }, warning = function(w) {
            warned <<- c(warned, conditionMessage(w))
            invokeRestart("muffleWarning")
        }), error = identity)
        expect_s3_class(err, "error")
        # the error alone: no stray R warning beside it (e.g. as.integer()'s "NAs introduced by coercion")
        expect_identical(warned, character(0))
        msg <- conditionMessage(err)
        expect_match(msg, case$error)
        # one line, for the user: no Python traceback or exception class, no R call
        expect_false(grepl("\n|Traceback|InputError|File \"", msg), info = msg)
        expect_null(conditionCall(err))
        if (is.character(x) && length(x) == 1L) {
            # messages about a model directory name the user's directory, not a private copy
            expect_true(grepl(x, msg, fixed = TRUE), info = msg)
        }
        # nothing written, nothing changed
        expect_false(file.exists(out))
        expect_false(file.exists(dirname(out)))
        expect_identical(temp_models(), models_before)
        expect_identical(snapshot(x), before)
        record_row(case, one_line(msg))
    })
}

published_rows <- function(path) {
    lines <- grep("^\\| [0-9]+ \\| R \\|", readLines(path, encoding = "UTF-8"), value = TRUE)
    cells <- lapply(strsplit(lines, "(?<!\\\\)\\|", perl = TRUE), function(x) trimws(x[-1L]))
    unesc <- function(x) gsub("\\\\\\|", "|", gsub("&gt;", ">", gsub("&lt;", "<", x)))
    stats::setNames(lapply(cells, function(x) list(input = unesc(x[4L]), message = unesc(x[5L]))),
        gsub("`", "", vapply(cells, `[[`, "", 3L)))
}

test_that("the published catalogue (docs/bad-inputs.md) lists every R case with the message it gives", {
    out <- Sys.getenv("SCDIFFUSION_CATALOGUE_OUT")
    rows <- mget(sort(ls(CATALOGUE_ROWS)), envir = CATALOGUE_ROWS)
    if (nzchar(out)) {
        ordered <- rows[order(match(names(rows), vapply(BAD_INPUTS, function(b) case_id(b$name), "")))]
        jsonlite::write_json(unname(ordered), out, auto_unbox = TRUE, pretty = TRUE)
        skip(paste("rows recorded to", out))
    }
    doc <- file.path(test_path(), "..", "..", "docs", "bad-inputs.md")
    if (!file.exists(doc)) skip("not a source checkout (no docs/bad-inputs.md)")
    published <- published_rows(doc)
    fix <- " Regenerate it: python tools/make_bad_input_catalogue.py"
    ids <- vapply(BAD_INPUTS, function(b) case_id(b$name), "")
    expect_false(anyDuplicated(ids) > 0L)
    expect_identical(sort(setdiff(ids, names(published))), character(0), info = fix)
    expect_identical(sort(setdiff(names(published), ids)), character(0), info = fix)
    differ <- Filter(function(id) !identical(published[[id]]$message, rows[[id]]$message), names(rows))
    expect_identical(differ, character(0), info = paste("messages differ from the published ones.", fix))
})
