## Generated cells as Bioconductor expects them: what generate() and
## interpolate() return.
##
## With a count likelihood (the default, "nb"), the Python core samples integer
## counts; they come back sparse and become the 'counts' assay (dgCMatrix), the
## size factors are library size factors centred at 1 and 'logcounts' is
## log2(counts / size factor + 1): exactly scuttle::logNormCounts(). Models
## without counts ("mse") return the decoder's expected expression as assay
## 'log1pCP10k' (natural log of 1 + counts per 10,000), which is not called
## logcounts because it is not on that scale.

## The encoded cells from the bridge -> SingleCellExperiment.
## genes: NULL (the model's genes) or the genes to return, in that order
## (genes the model does not generate become zero rows); prefix: cell names.
.generated_sce <- function(enc, model, genes = NULL, prefix = NULL, like = NULL) {
    sce <- .decode_sce(enc)
    rd <- SingleCellExperiment::reducedDimNames(sce)
    SingleCellExperiment::reducedDimNames(sce)[rd == "X_scdiffusion"] <-
        "scDiffusion"
    params <- jsonlite::fromJSON(enc$params, simplifyVector = TRUE)
    if (is.null(prefix)) prefix <- .default_prefix(model, params)
    colnames(sce) <- paste0(prefix, seq_len(ncol(sce)))
    if ("counts" %in% SummarizedExperiment::assayNames(sce)) {
        counts <- SummarizedExperiment::assay(sce, "counts")
        sf <- Matrix::colSums(counts)
        sf <- if (mean(sf) > 0) sf / mean(sf) else sf
        SummarizedExperiment::assay(sce, "logcounts") <-
            .log_norm_counts(counts, sf)
        SingleCellExperiment::sizeFactors(sce) <- sf
        # what the R assays hold (the Python core's 'values' describe its own X)
        params$values <- paste("counts: sampled integer counts; logcounts: log2(counts / sizeFactor + 1),",
            "sizeFactors = library size / mean library size of the generated cells (scuttle::logNormCounts)")
    } else {
        params$values <- sprintf("%s: natural-log log1p(counts per 10,000) of the decoder's expected expression",
            .LOG1P_ASSAY)
    }
    if (!is.null(like)) genes <- rownames(like)
    if (!is.null(genes)) sce <- .with_genes(sce, genes)
    S4Vectors::metadata(sce)$scDiffusion <- list(params = params,
        model = model)
    if (!is.null(like)) sce <- .like(sce, like)
    sce
}

## Give the generated cells the layout of 'like' (the input they are bound
## with: cbind(like, gen) works as is): its rowData, its assays (in its order;
## an assay not generated is all NA, generated assays it lacks are dropped),
## its colData columns (the generated labels where a column is a condition
## column, converted to the column's type; NA elsewhere; generated columns it
## lacks move to metadata(gen)$scDiffusion$colData), its reducedDims (all NA;
## the generated latent moves to metadata(gen)$scDiffusion$latent unless
## 'like' has a reduced dimension "scDiffusion" of the same width) and its
## mainExpName.
.like <- function(sce, like) {
    n <- ncol(sce)
    meta <- S4Vectors::metadata(sce)$scDiffusion
    # assays
    gen_assays <- SummarizedExperiment::assays(sce)
    want <- SummarizedExperiment::assayNames(like)
    na_assays <- setdiff(want, names(gen_assays))
    assays <- lapply(stats::setNames(want, want), function(a) {
        if (a %in% names(gen_assays)) return(gen_assays[[a]])
        matrix(NA_real_, nrow(sce), n, dimnames = dimnames(sce))
    })
    dropped <- setdiff(names(gen_assays), want)
    # colData
    gen_cd <- SummarizedExperiment::colData(sce)
    like_cd <- SummarizedExperiment::colData(like)
    cd <- S4Vectors::make_zero_col_DFrame(n)
    rownames(cd) <- colnames(sce)
    for (k in colnames(like_cd)) {
        cd[[k]] <- if (k %in% colnames(gen_cd)) .as_column_of(gen_cd[[k]], like_cd[[k]]) else
            like_cd[[k]][rep(NA_integer_, n)]
    }
    extra <- setdiff(colnames(gen_cd), colnames(like_cd))
    if (length(extra)) meta$colData <- gen_cd[, extra, drop = FALSE]
    # reducedDims
    gen_rd <- SingleCellExperiment::reducedDims(sce)
    rds <- lapply(stats::setNames(SingleCellExperiment::reducedDimNames(like),
        SingleCellExperiment::reducedDimNames(like)), function(r) {
        m <- SingleCellExperiment::reducedDim(like, r, withDimnames = FALSE)
        if (r %in% names(gen_rd) && ncol(gen_rd[[r]]) == ncol(m)) return(gen_rd[[r]])
        matrix(NA_real_, n, ncol(m), dimnames = list(colnames(sce), colnames(m)))
    })
    latent <- setdiff(names(gen_rd), names(rds))
    if (length(latent)) meta$latent <- gen_rd[[latent[1L]]]
    out <- SingleCellExperiment::SingleCellExperiment(assays = assays, colData = cd,
        rowData = SummarizedExperiment::rowData(like), reducedDims = rds)
    if (is(like, "SingleCellExperiment")) {
        SingleCellExperiment::mainExpName(out) <- SingleCellExperiment::mainExpName(like)
    }
    S4Vectors::metadata(out)$scDiffusion <- meta
    notes <- c(if (length(na_assays)) sprintf("assay(s) %s are all NA (not generated)", .some(na_assays)),
        if (length(dropped)) sprintf("generated assay(s) %s are not kept ('x' has no such assay)", .some(dropped)))
    if (length(notes)) message("generate(): to bind with 'x', ", paste(notes, collapse = "; "), ".")
    out
}

## Generated labels (character) as a column of the type of 'template' (a
## colData column of the input): factor with its levels, number, logical or
## character.
.as_column_of <- function(v, template) {
    if (is.factor(template)) {
        v <- as.character(v)
        return(factor(v, levels = union(levels(template), unique(v[!is.na(v)])), ordered = is.ordered(template)))
    }
    if (is.factor(v)) v <- as.character(v)
    if (is.integer(template) && is.numeric(v)) return(as.integer(v))
    out <- tryCatch(suppressWarnings(methods::as(v, class(template)[1L])), error = function(e) v)
    if (length(out) != length(v) || sum(is.na(out)) > sum(is.na(v))) v else out
}

## The assay of models without counts: natural-log log1p of counts per 10,000
## (the bridge sends it under this name).
.LOG1P_ASSAY <- "log1pCP10k"

## log2(counts / size factor + 1), sparse in, sparse out (as
## scuttle::normalizeCounts with log = TRUE and pseudo.count = 1).
.log_norm_counts <- function(counts, sf) {
    counts <- as(counts, "CsparseMatrix")
    scale <- unname(ifelse(sf > 0, 1 / sf, 0))
    counts@x <- log2(counts@x * rep(scale, diff(counts@p)) + 1)
    counts
}

## Cell names differ between calls that differ in anything (model weights or
## any generation parameter) and repeat for a repeated call, so that cbind()
## of several batches has unique colnames while the same seed still gives an
## identical object.
.default_prefix <- function(model, params) {
    weights <- file.path(model@path, "model.safetensors")
    key <- c(if (file.exists(weights)) unname(tools::md5sum(weights)),
        jsonlite::toJSON(params, auto_unbox = TRUE, digits = NA))
    f <- tempfile("scd_key_")
    on.exit(unlink(f))
    writeLines(key, f)
    paste0("scd", substr(unname(tools::md5sum(f)), 1L, 6L), "_")
}

## Return the rows 'genes' (in that order); genes the model does not generate
## are zero rows in every assay, with a message naming them.
.with_genes <- function(sce, genes) {
    extra <- setdiff(genes, rownames(sce))
    if (length(extra)) {
        message(sprintf("%d of the %d requested genes are not generated by ",
            length(extra), length(genes)), "the model (not among ",
            "modelGenes(model)); they are zero rows: ", .some(extra), ".")
        zero <- Matrix::sparseMatrix(i = integer(0), j = integer(0),
            x = numeric(0), dims = c(length(extra), ncol(sce)),
            dimnames = list(extra, colnames(sce)))
        assays <- lapply(SummarizedExperiment::assays(sce), function(m) {
            if (is(m, "sparseMatrix")) rbind(m, zero) else
                rbind(m, as.matrix(zero))
        })
        out <- SingleCellExperiment::SingleCellExperiment(assays = assays,
            colData = SummarizedExperiment::colData(sce),
            reducedDims = SingleCellExperiment::reducedDims(sce))
        SingleCellExperiment::sizeFactors(out) <-
            SingleCellExperiment::sizeFactors(sce)
        sce <- out
    }
    sce[genes, ]
}

## Names for a message: the first few, and how many more.
.some <- function(x, n = 5L) {
    more <- if (length(x) > n) sprintf(" (and %d more)", length(x) - n) else ""
    paste0(paste(utils::head(x, n), collapse = ", "), more)
}

## The 'genes' argument: NULL or unique gene names.
.check_genes <- function(genes) {
    if (is.null(genes)) return(NULL)
    if (!is.character(genes) || !length(genes) || anyNA(genes) ||
        anyDuplicated(genes)) {
        stop("'genes' must be NULL (the model's genes) or unique gene names, ",
            "e.g. genes = rownames(x) to get every gene of 'x'.", call. = FALSE)
    }
    genes
}

## The 'prefix' argument: NULL or one string.
.check_prefix <- function(prefix) {
    if (is.null(prefix)) return(NULL)
    .check_string(prefix, "prefix")
}
