## Argument checks shared by the user-facing functions. They fail early, in R,
## with messages that say what to pass instead.

.check_sce <- function(x, arg = "x") {
    if (!is(x, "SummarizedExperiment")) {
        stop(sprintf("'%s' must be a SingleCellExperiment (or SummarizedExperiment), not a %s. ", arg,
            class(x)[1L]), "Wrap a genes x cells matrix of counts with ",
            "SingleCellExperiment(assays = list(counts = m)).", call. = FALSE)
    }
    invisible(TRUE)
}

## A genes x cells matrix of counts (dense, sparse or DelayedArray) as a
## SingleCellExperiment with a 'counts' assay, for the matrix methods of
## trainScDiffusion(), generate() and interpolate(); anything else is an error.
.as_counts_sce <- function(x, arg = "x", also = "") {
    if (!((is.matrix(x) && (is.numeric(x) || is.logical(x))) || is(x, "Matrix") || is(x, "DelayedArray"))) {
        stop(sprintf("'%s' must be %sa SingleCellExperiment or SummarizedExperiment with raw counts, ", arg,
            also), sprintf("or a genes x cells matrix of counts, not a %s. Wrap other tables with ", class(x)[1L]),
            "SingleCellExperiment(assays = list(counts = as.matrix(m))).", call. = FALSE)
    }
    SingleCellExperiment::SingleCellExperiment(assays = list(counts = x))
}

## The R arguments declared for an operation (R/options.R).
.r_options <- function(op) names(.scd_options[[op]])

## The stored values of an assay: the slot 'x' of a sparse matrix (explicit
## zeros included, in any order), every value of a dense one.
.assay_values <- function(m) {
    if (is(m, "dgCMatrix")) {
        return(m@x)
    }
    if (is(m, "sparseMatrix")) {
        return(as(as(m, "CsparseMatrix"), "generalMatrix")@x)
    }
    as.vector(as.matrix(m))
}

## Raw counts, checked in R so that the messages name the R fix (the Python
## core checks them again): not empty, finite, non-negative, whole numbers.
.check_counts <- function(x, assay, arg = "x") {
    if (nrow(x) == 0L || ncol(x) == 0L) {
        stop(sprintf("'%s' is empty (%d genes x %d cells). ", arg, nrow(x), ncol(x)),
            "Pass a SingleCellExperiment with at least one gene and one cell (in practice hundreds of cells).",
            call. = FALSE)
    }
    what <- sprintf("assay '%s' of '%s'", assay, arg)
    v <- .assay_values(SummarizedExperiment::assay(x, assay, withDimnames = FALSE))
    if (!is.numeric(v) && !is.logical(v)) {
        stop(sprintf("%s holds %s values; it must hold raw counts (numbers).", what, class(v)[1L]),
            call. = FALSE)
    }
    n_bad <- sum(!is.finite(v))
    if (n_bad) {
        stop(sprintf("%s contains %d NA, NaN or infinite values. ", what, n_bad),
            sprintf("Remove or fix those cells or genes first, e.g. %s <- %s[, is.finite(colSums(assay(%s, \"%s\")))].",
                arg, arg, arg, assay), call. = FALSE)
    }
    if (length(v) && min(v) < 0) {
        stop(sprintf("%s contains negative values (min %s); it looks scaled or batch-corrected. ", what,
            format(min(v), digits = 3)),
            "scDiffusion needs raw counts: pass the assay that holds them with 'assay ='.", call. = FALSE)
    }
    if (!length(v) || max(v) == 0) {
        stop(sprintf("%s holds no count (all zero): every cell is empty. Pass the assay with raw counts.",
            what), call. = FALSE)
    }
    if (max(abs(v - round(v))) > 1e-3) {
        hint <- if (max(v) < 30) {
            paste0("The values look log-normalised (all below 30): pass the raw counts instead ",
                "with 'assay =' (e.g. assay = \"counts\").")
        } else {
            paste0("If these are FPKM/TPM values, turn them into integer pseudo-counts first with ",
                "pseudoCounts(), e.g. assay(x, \"counts\") <- pseudoCounts(assay(x, \"fpkm\")).")
        }
        stop(sprintf("%s contains non-integer values; scDiffusion needs raw integer counts. %s",
            what, hint), call. = FALSE)
    }
    invisible(TRUE)
}

.check_count <- function(x, arg, min = 1L, max = NULL) {
    if (is.null(x) || length(x) != 1L || !is.numeric(x) || is.na(x) ||
        !is.finite(x) || x != round(x) || x < min) {
        stop(sprintf("'%s' must be a single whole number >= %d, got %s.", arg, min,
            .show(x)), call. = FALSE)
    }
    if (!is.null(max) && x > max) {
        stop(sprintf("'%s' must be at most %d, got %s.", arg, as.integer(max), .show(x)), call. = FALSE)
    }
    ## beyond R's integers (e.g. a 64-bit seed): kept as a whole double, which Python checks and takes
    ## as an integer, instead of as.integer()'s NA and warning
    if (abs(x) > .Machine$integer.max) return(x)
    as.integer(x)
}

.check_number <- function(x, arg, lower = -Inf, upper = Inf, null_ok = FALSE, low_open = FALSE,
    high_open = FALSE) {
    if (null_ok && is.null(x)) {
        return(NULL)
    }
    if (is.null(x) || length(x) != 1L || !is.numeric(x) || is.na(x) || !is.finite(x) ||
        x < lower || x > upper || (low_open && x == lower) || (high_open && x == upper)) {
        stop(sprintf("'%s' must be a single finite number in %s%s, %s%s, got %s.", arg,
            if (low_open) "(" else "[", format(lower), format(upper), if (high_open) ")" else "]",
            .show(x)), call. = FALSE)
    }
    as.double(x)
}

.check_string <- function(x, arg, choices = NULL) {
    if (is.null(x) || length(x) != 1L || is.na(x) || !(is.character(x) || is.factor(x) ||
        is.numeric(x))) {
        stop(sprintf("'%s' must be a single string, got %s.", arg, .show(x)), call. = FALSE)
    }
    x <- as.character(x)
    if (!is.null(choices) && !x %in% choices) {
        stop(sprintf("'%s' must be one of %s, got '%s'.", arg,
            paste0("'", choices, "'", collapse = ", "), x), call. = FALSE)
    }
    x
}

.check_flag <- function(x, arg) {
    if (!is.logical(x) || length(x) != 1L || is.na(x)) {
        stop(sprintf("'%s' must be TRUE or FALSE, got %s.", arg, .show(x)), call. = FALSE)
    }
    x
}

.show <- function(x) {
    if (is.null(x)) return("NULL")
    if (length(x) == 0L) return(sprintf("an empty %s", class(x)[1L]))
    if (length(x) > 1L) return(sprintf("a %s of length %d", class(x)[1L], length(x)))
    if (is.character(x)) return(sprintf("'%s'", x))
    format(x)
}

.check_assay <- function(x, assay) {
    assay <- .check_string(assay, "assay")
    if (!assay %in% SummarizedExperiment::assayNames(x)) {
        stop(sprintf("assay '%s' is not in the object (assays: %s). Pass the assay with raw counts via 'assay ='.",
            assay, paste(SummarizedExperiment::assayNames(x), collapse = ", ")), call. = FALSE)
    }
    assay
}

.check_labels <- function(x, labels, arg = "labels_keys") {
    if (is.null(labels)) {
        return(character(0))
    }
    if (!is.character(labels) || anyNA(labels) || any(!nzchar(labels))) {
        stop(sprintf("'%s' must be a character vector of colData column names.", arg), call. = FALSE)
    }
    if (anyDuplicated(labels)) {
        stop(sprintf("'%s' has duplicates: %s.", arg, paste(labels, collapse = ", ")), call. = FALSE)
    }
    missing <- setdiff(labels, colnames(SummarizedExperiment::colData(x)))
    if (length(missing)) {
        cols <- colnames(SummarizedExperiment::colData(x))
        stop(sprintf("colData has no column %s ", paste0("'", missing, "'", collapse = ", ")),
            if (length(cols)) sprintf("(columns: %s).", paste(cols, collapse = ", ")) else
                "(it has none). Give the cells their labels, e.g. SingleCellExperiment(assays = list(counts = m), colData = DataFrame(cell_type = labels)).",
            call. = FALSE)
    }
    labels
}

## Label columns a classifier can learn: no NA, at least two labels.
.check_label_columns <- function(x, labels) {
    for (l in labels) {
        v <- SummarizedExperiment::colData(x)[[l]]
        if (anyNA(v)) {
            stop(sprintf("colData column '%s' has NA labels; remove those cells or give them a label.", l),
                call. = FALSE)
        }
        if (length(unique(as.character(v))) < 2L) {
            stop(sprintf("colData column '%s' has a single label ('%s'); a classifier needs at ", l,
                as.character(v[1L])), sprintf("least two. Drop '%s' from 'labels_keys' or use a column ", l),
                "with several labels.", call. = FALSE)
        }
    }
    invisible(TRUE)
}

## Layer sizes: positive whole numbers, as a list for Python.
.check_sizes <- function(v, arg) {
    if (!is.numeric(v) || !length(v) || anyNA(v) || any(v < 1) || any(v != round(v))) {
        stop(sprintf("'%s' must be a vector of positive whole numbers (layer sizes).", arg), call. = FALSE)
    }
    as.list(as.integer(v))
}

## The training stages' option lists (autoencoder, diffusion, classifier).
.check_stages <- function(stages) {
    for (s in names(stages)) {
        if (is.null(stages[[s]])) stages[[s]] <- list()
        if (!is.list(stages[[s]]) || (length(stages[[s]]) && (is.null(names(stages[[s]])) ||
            any(!nzchar(names(stages[[s]])))))) {
            stop(sprintf("'%s' must be a named list of training options, e.g. list(batch_size = 64).", s),
                call. = FALSE)
        }
    }
    stages
}

## max_steps: one number for every stage, or a vector named by stage.
.check_max_steps <- function(max_steps, stages) {
    if (is.null(max_steps)) return(NULL)
    if (is.null(names(max_steps))) {
        if (length(max_steps) != 1L) {
            stop("'max_steps' must be one number or a vector named by stage (autoencoder, diffusion, ",
                "classifier).", call. = FALSE)
        }
        max_steps <- stats::setNames(rep(max_steps, length(stages)), stages)
    }
    bad <- setdiff(names(max_steps), stages)
    if (length(bad)) {
        stop(sprintf("'max_steps' has unknown stage(s) %s; use autoencoder, diffusion, classifier.",
            paste0("'", bad, "'", collapse = ", ")), call. = FALSE)
    }
    lapply(stats::setNames(names(max_steps), names(max_steps)),
        function(s) .check_count(max_steps[[s]], sprintf("max_steps[['%s']]", s)))
}

## condition: named list or named vector, column = label; a list entry may hold
## one label per cell (n_cells labels). Factors, numbers and logicals become
## their character labels.
.check_condition <- function(condition, known = NULL, n_cells = NULL, continuous = NULL) {
    if (is.null(condition) || length(condition) == 0L) {
        return(NULL)
    }
    if (is.factor(condition)) condition <- stats::setNames(as.character(condition), names(condition))
    nms <- names(condition)
    if (is.null(nms) || any(!nzchar(nms)) || anyNA(nms)) {
        stop("'condition' must be named by label column, e.g. ",
            "condition = c(cell_type = \"B\") or list(cell_type = \"B\", tissue = \"lung\").",
            call. = FALSE)
    }
    if (anyDuplicated(nms)) {
        stop(sprintf("'condition' names a column twice: %s.", paste(nms, collapse = ", ")), call. = FALSE)
    }
    .check_not_c_of_labels(nms, known)
    out <- lapply(seq_along(condition), function(i) {
        v <- condition[[i]]
        if (is.factor(v)) v <- as.character(v)
        per_cell <- !is.null(n_cells) && length(v) == n_cells && length(v) > 1L
        if ((length(v) == 1L || per_cell) && anyNA(v)) {
            at <- which(is.na(v))
            stop(sprintf("condition '%s' has NA at position%s %s%s; every cell needs a label. ", nms[i],
                if (length(at) > 1L) "s" else "", .some(at), if (per_cell) sprintf(" (of %d)", length(v)) else ""),
                "Replace the NA values or drop those cells.", call. = FALSE)
        }
        if (!(length(v) == 1L || per_cell) || !(is.character(v) || is.numeric(v) || is.logical(v))) {
            stop(sprintf("condition '%s' must be a single label%s, got %s.", nms[i],
                if (is.null(n_cells)) "" else sprintf(" or %d labels (one per cell)", n_cells), .show(v)),
                call. = FALSE)
        }
        as.character(v)
    })
    names(out) <- nms
    if (!is.null(known)) {
        for (k in setdiff(nms, continuous)) {  # continuous columns: numbers, checked by the Python core
            if (!k %in% names(known)) {
                stop(sprintf("No classifier for column '%s'. Columns with classifiers: %s.", k,
                    if (length(known)) paste(names(known), collapse = ", ") else
                        "none (train with 'labels_keys =')"), call. = FALSE)
            }
            bad <- setdiff(unique(out[[k]]), known[[k]])
            if (length(bad)) {
                stop(sprintf("Unknown label '%s' for column '%s'. Known labels: %s.", bad[1L], k,
                    paste(known[[k]], collapse = ", ")), call. = FALSE)
            }
        }
    }
    out
}

## c(Hours = labels) with several labels names them Hours1, Hours2, ...: say to
## use list(Hours = labels) instead of reporting a column 'Hours1'.
.check_not_c_of_labels <- function(nms, known = NULL) {
    stem <- unique(sub("[0-9]+$", "", nms))
    if (length(nms) < 2L || length(stem) != 1L || !nzchar(stem) || !identical(nms, paste0(stem, seq_along(nms))) ||
        (!is.null(known) && (all(nms %in% names(known)) || !stem %in% names(known)))) {
        return(invisible(TRUE))
    }
    stop(sprintf("'condition' has columns %s: c(%s = labels) with several labels names each one ", .some(nms, 3L),
        stem), sprintf("'%s1', '%s2', .... For one label per cell use list(%s = labels).", stem, stem, stem),
        call. = FALSE)
}

.check_guidance <- function(guidance_scale, condition, arg = "guidance_scale") {
    if (is.list(guidance_scale) || (!is.null(names(guidance_scale)) && length(guidance_scale) >= 1L)) {
        g <- as.list(guidance_scale)
        if (is.null(names(g)) || any(!nzchar(names(g)))) {
            stop(sprintf("a per-column '%s' must be named by condition column.", arg), call. = FALSE)
        }
        extra <- setdiff(names(g), names(condition))
        if (length(extra)) {
            stop(sprintf("'%s' names columns without a condition: %s.", arg,
                paste(extra, collapse = ", ")), call. = FALSE)
        }
        for (k in names(g)) g[[k]] <- .check_number(g[[k]], sprintf("%s[['%s']]", arg, k), 0, 1000)
        return(g)
    }
    .check_number(guidance_scale, arg, 0, 1000)
}

## Check argument 'arg' of operation 'op' against its declaration in R/options.R
## (generated from the Python core's scdiffusion/options.py): type, bounds and
## choices. Bounds naming a model quantity ("T", "T-1": the model's number of
## diffusion steps) are resolved with 'n_timesteps' (skipped when NULL).
.check_option <- function(op, arg, value, n_timesteps = NULL) {
    o <- .scd_options[[op]][[arg]]
    if (is.null(o)) stop(sprintf("'%s' is not a declared option of %s (a bug in scDiffusion).", arg, op))
    if (is.null(value)) {
        if (isTRUE(o$required)) stop(sprintf("'%s' is required.", arg), call. = FALSE)
        return(NULL)
    }
    bound <- function(b) {
        if (!is.character(b)) return(b)
        if (is.null(n_timesteps)) return(NULL)
        switch(b, "T" = n_timesteps, "T-1" = n_timesteps - 1L)
    }
    low <- bound(o$low)
    high <- bound(o$high)
    switch(o$kind,
        int = .check_count(value, arg, if (is.null(low)) -.Machine$integer.max else low, high),
        float = .check_number(value, arg, if (is.null(low)) -Inf else low, if (is.null(high)) Inf else high,
            low_open = o$low_open, high_open = o$high_open),
        choice = .check_string(value, arg, o$choices),
        str = , path = .check_string(value, arg),
        bool = .check_flag(value, arg),
        scale = value,
        value)
}

## Roxygen @param lines from the declarations (used with @eval at document time).
.rd_params <- function(op, args) {
    vapply(args, function(a) {
        o <- .scd_options[[op]][[a]]
        if (is.null(o)) stop(sprintf("'%s' is not a declared option of %s", a, op))
        paste(strwrap(paste0("@param ", a, " ", gsub("%", "\\%", o$help, fixed = TRUE)), width = 78),
            collapse = "\n")
    }, character(1), USE.NAMES = FALSE)
}

## Arguments passed under names of an earlier release (declared in R/options.R
## as 'deprecated'): return them under their current names, with a deprecation
## warning; any other argument in 'dots' is an error that names the function.
## 'call' (the caller's sys.call()) catches old names that R matched partially
## to the new ones (e.g. 'labels' to 'labels_keys'), which never reach 'dots'.
.renamed_args <- function(op, dots, fun, call = NULL) {
    decl <- .scd_options[[op]]
    renames <- unlist(unname(Map(function(r, o) stats::setNames(rep(r, length(o$deprecated)), o$deprecated),
        names(decl), decl)))
    warn <- function(old) {
        .Deprecated(msg = sprintf("%s(): argument '%s' is now '%s'; the old name will be removed in the next release.",
            fun, old, renames[[old]]))
    }
    for (old in intersect(names(call), setdiff(names(renames), names(dots)))) warn(old)
    if (!length(dots)) return(list())
    nms <- names(dots)
    if (is.null(nms) || any(!nzchar(nms))) {
        stop(sprintf("%s() got unnamed extra arguments; see ?%s.", fun, fun), call. = FALSE)
    }
    out <- list()
    for (old in nms) {
        if (!old %in% names(renames)) {
            stop(sprintf("%s() has no argument '%s'; see ?%s.", fun, old, fun), call. = FALSE)
        }
        warn(old)
        out[[renames[[old]]]] <- dots[[old]]
    }
    out
}

## The seed of a call: an explicit one as given; NULL (the default of every R
## function that draws random numbers) draws one from R's random number
## generator, so that set.seed() repeats a call and successive calls differ.
.draw_seed <- function(seed) {
    if (!is.null(seed)) return(seed)
    sample.int(.Machine$integer.max, 1L) - 1L
}
