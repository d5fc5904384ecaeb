## Conversion between SingleCellExperiment and AnnData.
##
## The R side encodes a SingleCellExperiment into a list of plain R objects
## (raw vectors holding little-endian doubles/integers, character lists), the
## Python side (python/scdiffusion/data/sce.py, used by the reticulate bridge
## inst/bridge/scdiffusion_rbridge.py and by the Python package's rpy2 path)
## builds the AnnData from it, and the reverse. No numpy or scipy object ever crosses reticulate.

.raw_f8 <- function(x) writeBin(as.double(x), raw(), endian = "little")
.raw_i4 <- function(x) writeBin(as.integer(x), raw(), size = 4L, endian = "little")
.read_f8 <- function(r) readBin(r, "double", n = length(r) %/% 8L, size = 8L, endian = "little")
.read_i4 <- function(r) readBin(r, "integer", n = length(r) %/% 4L, size = 4L, endian = "little")
.chr <- function(x) as.character(unlist(x, use.names = FALSE))

.encode_matrix <- function(m) {
    if (is(m, "dgCMatrix")) {
        # genes x cells CSC == cells x genes CSR
        return(list(kind = "csr", data = .raw_f8(m@x), indices = .raw_i4(m@i),
            indptr = .raw_i4(m@p)))
    }
    if (is(m, "sparseMatrix")) {
        # any other sparse class (triplet, row-compressed, symmetric, diagonal, logical, pattern) -> dgCMatrix
        return(.encode_matrix(as(as(as(m, "CsparseMatrix"), "generalMatrix"), "dMatrix")))
    }
    if (is(m, "DelayedArray") || !is.matrix(m)) {
        m <- as.matrix(m)
    }
    if (!is.numeric(m) && !is.logical(m)) {
        stop("assays must be numeric matrices.", call. = FALSE)
    }
    list(kind = "dense", data = .raw_f8(m))
}

.decode_matrix <- function(enc, nrow, ncol, dimnames, integer = FALSE) {
    if (identical(enc$kind, "csr")) {
        x <- .read_f8(enc$data)
        out <- new("dgCMatrix", i = .read_i4(enc$indices), p = .read_i4(enc$indptr),
            x = x, Dim = c(as.integer(nrow), as.integer(ncol)),
            Dimnames = if (is.null(dimnames)) list(NULL, NULL) else dimnames)
        return(out)
    }
    out <- matrix(.read_f8(enc$data), nrow = nrow, ncol = ncol, dimnames = dimnames)
    if (integer) {
        storage.mode(out) <- "integer"
    }
    out
}

.encode_column <- function(x, name) {
    if (is.factor(x)) {
        na <- is.na(x)
        codes <- as.integer(x)
        codes[na] <- 0L
        return(list(type = "factor", data = .raw_i4(codes), na = .raw_i4(na),
            levels = as.list(levels(x)), ordered = is.ordered(x)))
    }
    if (is.logical(x)) {
        na <- is.na(x)
        v <- x
        v[na] <- FALSE
        return(list(type = "logical", data = .raw_i4(v), na = .raw_i4(na)))
    }
    if (is.integer(x)) {
        na <- is.na(x)
        v <- x
        v[na] <- 0L
        return(list(type = "integer", data = .raw_i4(v), na = .raw_i4(na)))
    }
    if (is.double(x) && is.null(dim(x)) && !inherits(x, c("Date", "POSIXt"))) {
        return(list(type = "double", data = .raw_f8(x)))
    }
    if (!is.character(x)) {
        if (!is.null(dim(x)) || is.list(x) || is(x, "List")) {
            stop(sprintf("column '%s' is not an atomic vector; only vectors ", name),
                "and factors are converted. Drop it or turn it into a vector first.",
                call. = FALSE)
        }
        warning(sprintf("column '%s' of class '%s' is converted as character.",
            name, class(x)[1L]), call. = FALSE)
        x <- as.character(x)
    }
    na <- is.na(x)
    v <- x
    v[na] <- ""
    list(type = "character", values = as.list(v), na = .raw_i4(na))
}

.decode_column <- function(col) {
    switch(col$type,
        double = .read_f8(col$data),
        integer = {
            v <- .read_i4(col$data)
            v[as.logical(.read_i4(col$na))] <- NA_integer_
            v
        },
        logical = {
            v <- as.logical(.read_i4(col$data))
            v[as.logical(.read_i4(col$na))] <- NA
            v
        },
        character = {
            v <- .chr(col$values)
            v[as.logical(.read_i4(col$na))] <- NA_character_
            v
        },
        factor = {
            codes <- .read_i4(col$data)
            codes[as.logical(.read_i4(col$na))] <- NA_integer_
            lev <- .chr(col$levels)
            factor(lev[codes], levels = lev, ordered = isTRUE(col$ordered))
        },
        stop("unknown column type ", col$type)
    )
}

.encode_frame <- function(df) {
    df <- as(df, "DataFrame")
    nms <- colnames(df)
    list(names = as.list(nms),
        columns = unname(lapply(seq_along(nms), function(j) .encode_column(df[[j]], nms[j]))))
}

.decode_frame <- function(enc, rownames = NULL, n) {
    nms <- .chr(enc$names)
    cols <- lapply(enc$columns, .decode_column)
    names(cols) <- nms
    out <- S4Vectors::make_zero_col_DFrame(n)
    for (j in seq_along(cols)) {
        out[[nms[j]]] <- cols[[j]]
    }
    rownames(out) <- rownames
    out
}

## SingleCellExperiment -> list understood by the Python bridge.
## assays: names of the assays to send (all by default); x_name: the one that
## becomes AnnData's X (the others become layers).
.encode_sce <- function(sce, assays = SummarizedExperiment::assayNames(sce),
    x_name = assays[1L], col_data = TRUE, row_data = TRUE, reduced_dims = TRUE) {
    if (is.null(assays)) {
        assays <- character(0)
    }
    if (length(assays) && (is.null(SummarizedExperiment::assayNames(sce)) ||
        any(!nzchar(SummarizedExperiment::assayNames(sce))))) {
        stop("all assays must be named.", call. = FALSE)
    }
    rn <- rownames(sce)
    cn <- colnames(sce)
    r_meta <- list(null_rownames = is.null(rn), null_colnames = is.null(cn),
        assay_order = as.list(SummarizedExperiment::assayNames(sce)[
            SummarizedExperiment::assayNames(sce) %in% assays]),
        integer_assays = list(), reduced_dim_colnames = list())
    if (is.null(rn)) rn <- as.character(seq_len(nrow(sce)))
    if (is.null(cn)) cn <- as.character(seq_len(ncol(sce)))
    if (anyDuplicated(cn)) {
        stop("colnames (cell names) must be unique; fix them with make.unique(colnames(x)).",
            call. = FALSE)
    }
    if (anyDuplicated(rn)) {
        stop("rownames (gene names) must be unique; fix them with make.unique(rownames(x)).",
            call. = FALSE)
    }
    enc_assays <- list()
    for (a in assays) {
        m <- SummarizedExperiment::assay(sce, a, withDimnames = FALSE)
        if (is.matrix(m) && is.integer(m)) {
            r_meta$integer_assays <- c(r_meta$integer_assays, list(a))
        }
        enc_assays[[a]] <- .encode_matrix(m)
    }
    obsm <- list()
    if (reduced_dims && is(sce, "SingleCellExperiment")) {
        for (rd in SingleCellExperiment::reducedDimNames(sce)) {
            m <- as.matrix(SingleCellExperiment::reducedDim(sce, rd, withDimnames = FALSE))
            obsm[[rd]] <- list(data = .raw_f8(m))
            if (!is.null(colnames(m))) {
                r_meta$reduced_dim_colnames[[rd]] <- as.list(colnames(m))
            }
        }
    }
    list(n_obs = ncol(sce), n_vars = nrow(sce), obs_names = as.list(cn),
        var_names = as.list(rn), assays = if (length(enc_assays)) enc_assays else NULL,
        x_name = if (length(assays)) x_name else NULL,
        obs = if (col_data) .encode_frame(SummarizedExperiment::colData(sce)) else NULL,
        var = if (row_data) .encode_frame(SummarizedExperiment::rowData(sce)) else NULL,
        obsm = if (length(obsm)) obsm else NULL, r_meta = r_meta)
}

## list from the Python bridge -> SingleCellExperiment
.decode_sce <- function(enc) {
    r_meta <- jsonlite::fromJSON(enc$r_meta, simplifyVector = FALSE)
    n_obs <- as.integer(enc$n_obs)
    n_vars <- as.integer(enc$n_vars)
    cn <- .chr(enc$obs_names)
    rn <- .chr(enc$var_names)
    if (isTRUE(r_meta$null_colnames)) cn <- NULL
    if (isTRUE(r_meta$null_rownames)) rn <- NULL
    dn <- if (is.null(cn) && is.null(rn)) NULL else list(rn, cn)
    anames <- .chr(enc$assay_names)
    order <- .chr(r_meta$assay_order)
    anames <- c(intersect(order, anames), setdiff(anames, order))
    int_assays <- .chr(r_meta$integer_assays)
    assays <- lapply(anames, function(a) .decode_matrix(enc$assays[[a]], n_vars, n_obs, dn,
        integer = a %in% int_assays))
    names(assays) <- anames
    col_data <- .decode_frame(enc$obs, cn, n_obs)
    row_data <- .decode_frame(enc$var, rn, n_vars)
    rds <- list()
    for (rd in .chr(enc$obsm_names)) {
        m <- matrix(.read_f8(enc$obsm[[rd]]$data), nrow = n_obs)
        cnames <- r_meta$reduced_dim_colnames[[rd]]
        dimnames(m) <- list(cn, if (is.null(cnames)) NULL else .chr(cnames))
        rds[[rd]] <- m
    }
    SingleCellExperiment::SingleCellExperiment(assays = assays, colData = col_data,
        rowData = row_data, reducedDims = rds)
}

#' SingleCellExperiment .rds files as plain objects (the Python package's entry points)
#'
#' The Python package reads and writes SingleCellExperiment \code{.rds} files
#' (\code{scdiffusion.read_rds()}, \code{scdiffusion.write_rds()}, every
#' \code{scdiffusion} command) through these two functions, so that a file
#' converts with exactly the code this package uses for its own calls into
#' Python. \code{rdsToPlain} reads a file and encodes the object as a list of
#' raw vectors, strings and numbers; \code{plainToRds} decodes such a list and
#' saves the \linkS4class{SingleCellExperiment}.
#'
#' @section Untrusted files:
#' Reading an \code{.rds} file runs R's unserialiser, and before R 4.4.0 a
#' crafted file runs code hidden in it as soon as the object is touched
#' (CVE-2024-27322: a promise in the serialized stream). \code{rdsToPlain}
#' therefore checks the file before \code{readRDS} sees it, with the Python
#' core's validator (\code{scdiffusion.data.rds_safety.check_rds}, which
#' reads the stream without R): a file holding a promise, a function, byte
#' code, an external pointer, a weak reference, an ALTREP object of a
#' package's class, a reference or a namespace is refused with an error
#' naming the file and what was found; a SingleCellExperiment never holds
#' these. Only the XDR format of \code{saveRDS} (versions 2 and 3,
#' uncompressed, gzip, bzip2 or xz) is read. Reading files of unknown origin
#' with \code{readRDS} yourself is not protected: check them first with
#' \code{rdsToPlain}, or use R >= 4.4.
#'
#' @param path Path of the \code{.rds} file to read or write.
#' @param checked Whether the caller has checked the file already (the Python
#' package does, before it calls \code{rdsToPlain}); \code{FALSE}, the
#' default, checks it here through the Python core.
#' @param plain The object encoded by the Python package
#' (\code{scdiffusion.data.sce.encode_adata}), optionally with \code{params}
#' (a JSON string stored as \code{metadata(sce)$scDiffusion$params}).
#' @return A list: \code{rdsToPlain} gives \code{sce} (the encoded object),
#' \code{plainToRds} nothing else; both give \code{error} (a message) instead
#' when the conversion fails or the file is refused, and \code{warnings} (a
#' list of messages), so that the calling Python code raises and logs them.
#' @examples
#' sce <- SingleCellExperiment::SingleCellExperiment(
#'     assays = list(counts = matrix(c(0L, 3L, 1L, 2L), 2,
#'         dimnames = list(c("g1", "g2"), c("c1", "c2")))))
#' f <- tempfile(fileext = ".rds")
#' saveRDS(sce, f)
#' plain <- rdsToPlain(f)
#' names(plain$sce)
#' ## a file holding a function is refused before readRDS runs
#' bad <- tempfile(fileext = ".rds")
#' saveRDS(list(f = function() "code"), bad)
#' rdsToPlain(bad)$error
#' ## errors come back as values, for the Python caller to raise
#' rdsToPlain(tempfile())$error
#' plainToRds(list(), tempfile(fileext = ".rds"))$error
#' @export
rdsToPlain <- function(path, checked = FALSE) {
    .conditions_as_values({
        path <- .check_string(path, "path")
        if (!file.exists(path)) {
            stop(sprintf("Input file '%s' does not exist.", path), call. = FALSE)
        }
        if (!isTRUE(checked)) .check_rds_file(path)
        x <- readRDS(path)
        if (!is(x, "SummarizedExperiment")) {
            stop(sprintf("'%s' holds a '%s', not a SingleCellExperiment. ", path, class(x)[1L]),
                "Save one with saveRDS(sce, file); convert other objects first ",
                "(e.g. Seurat::as.SingleCellExperiment).", call. = FALSE)
        }
        list(sce = .encode_sce(x))
    })
}

## Refuse an .rds file that could run code when readRDS reads it (see
## ?rdsToPlain, "Untrusted files"): the Python core walks the stream.
.check_rds_file <- function(path) {
    .scd_call(.check_rds_worker, path = normalizePath(path))
    invisible(TRUE)
}

#' @rdname rdsToPlain
#' @export
plainToRds <- function(plain, path) {
    .conditions_as_values({
        sce <- .decode_sce(plain)
        if (!is.null(plain[["params"]])) {
            S4Vectors::metadata(sce)$scDiffusion <- list(
                params = jsonlite::fromJSON(plain[["params"]], simplifyVector = TRUE))
        }
        saveRDS(sce, path)
        list()
    })
}

## Evaluate 'expr' (lazily, inside the handlers); return its list value, or
## list(error = message), with $warnings holding the warnings' messages.
.conditions_as_values <- function(expr) {
    warns <- new.env(parent = emptyenv())
    warns$messages <- character(0)
    out <- tryCatch(withCallingHandlers(expr, warning = function(w) {
        warns$messages <- c(warns$messages, conditionMessage(w))
        invokeRestart("muffleWarning")
    }), error = function(e) list(error = conditionMessage(e)))
    out$warnings <- as.list(warns$messages)
    out
}

#' Convert a SingleCellExperiment to AnnData and back
#'
#' Sends \code{x} to Python, builds the AnnData object the Python core works
#' with (assays become \code{X} and \code{layers}, \code{colData} becomes
#' \code{obs}, \code{rowData} becomes \code{var}, reduced dimensions become
#' \code{obsm}) and converts it back. Used to check that the conversion is
#' exact for what AnnData holds: dense matrices, \code{dgCMatrix} assays,
#' \code{colData} columns of type double, integer, logical, character and
#' factor (with \code{NA}s), \code{rowData} columns, reduced dimensions and
#' dimnames survive unchanged. What AnnData has no place for is not
#' converted: alternative experiments (\code{altExps}), \code{metadata},
#' \code{rowRanges}, \code{colPairs} and \code{rowPairs}.
#'
#' @param x A \linkS4class{SingleCellExperiment}.
#' @param assays Names of the assays to convert (all by default).
#' @return A \linkS4class{SingleCellExperiment} built from the AnnData object.
#' @examples
#' sce <- scDiffusionExampleData()[1:10, 1:20]
#' sce$treated <- rep(c(TRUE, NA), 10)
#' rt <- anndataRoundTrip(sce)
#' identical(counts(rt), counts(sce))
#' identical(colData(rt), colData(sce))
#' @export
anndataRoundTrip <- function(x, assays = SummarizedExperiment::assayNames(x)) {
    .check_sce(x)
    .decode_sce(.scd_call(.roundtrip_worker, sce = .encode_sce(x, assays = assays)))
}
