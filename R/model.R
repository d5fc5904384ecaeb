#' The scDiffusion model object
#'
#' A trained scDiffusion model (autoencoder, latent diffusion model and one
#' noise-aware classifier per label column). The object only holds the path of
#' the model directory (written by the Python core, readable by the
#' \code{scdiffusion} command line tool) and a summary; the weights stay on
#' disk, so the object works in any R or Python process.
#' Objects are created by \code{\link{trainScDiffusion}} and
#' \code{\link{loadScDiffusion}}.
#'
#' @slot path Directory of the saved model (a temporary directory unless
#' saved with \code{\link{saveScDiffusion}}).
#' @slot info List: genes, labels (categories per label column),
#' architecture, training history summary, version.
#'
#' @param object,x A \code{ScDiffusionModel}.
#' @return \code{modelPath} gives the model directory, \code{modelGenes} the
#' genes the model reads and generates, \code{modelLabels} a named list with
#' the labels of each label column.
#' @examples
#' model <- scDiffusionExampleModel()
#' model
#' modelLabels(model)
#' head(modelGenes(model))
#' file.exists(file.path(modelPath(model), "config.json"))
#' @name ScDiffusionModel-class
#' @aliases ScDiffusionModel show,ScDiffusionModel-method
#' @exportClass ScDiffusionModel
setClass("ScDiffusionModel", representation(path = "character", info = "list"))

setValidity("ScDiffusionModel", function(object) {
    if (length(object@path) != 1L) "'path' must be a single directory" else TRUE
})

.new_model <- function(path, summary_json) {
    info <- jsonlite::fromJSON(summary_json, simplifyVector = TRUE, simplifyDataFrame = FALSE)
    info$labels <- lapply(info$labels, as.character)
    new("ScDiffusionModel", path = normalizePath(path), info = info)
}

#' @rdname ScDiffusionModel-class
#' @export
setMethod("show", "ScDiffusionModel", function(object) {
    i <- object@info
    cat("ScDiffusionModel", if (isTRUE(i$trained)) "(trained)" else "(not trained)", "\n")
    cat(sprintf("  genes: %d (%s)\n", length(i$genes),
        paste(c(utils::head(i$genes, 3), if (length(i$genes) > 3) "..."), collapse = ", ")))
    if (length(i$labels)) {
        for (k in names(i$labels)) {
            lab <- i$labels[[k]]
            cat(sprintf("  classifier '%s': %d labels (%s)\n", k, length(lab),
                paste(c(utils::head(lab, 5), if (length(lab) > 5) "..."), collapse = ", ")))
        }
    } else {
        cat("  classifiers: none (unconditional generation only)\n")
    }
    cat(sprintf("  latent: %s, hidden: %s; trained on %s cells\n", i$n_latent,
        paste(i$hidden, collapse = "-"), format(i$n_train_cells)))
    cat(sprintf("  directory: %s\n", object@path))
    invisible(object)
})

#' @rdname ScDiffusionModel-class
#' @export
modelPath <- function(x) {
    .check_model(x)
    x@path
}

#' @rdname ScDiffusionModel-class
#' @export
modelGenes <- function(x) {
    .check_model(x)
    as.character(x@info$genes)
}

#' @rdname ScDiffusionModel-class
#' @export
modelLabels <- function(x) {
    .check_model(x)
    x@info$labels
}

## The model's number of diffusion steps T (bounds of t_start, guidance_t_max).
.model_timesteps <- function(model) {
    n <- model@info$n_timesteps
    if (is.null(n)) 1000L else as.integer(n)
}

.check_model <- function(model, arg = "model") {
    if (!is(model, "ScDiffusionModel")) {
        stop(sprintf("'%s' must be a ScDiffusionModel (from trainScDiffusion() or loadScDiffusion()), not a %s.",
            arg, class(model)[1L]), call. = FALSE)
    }
    if (!file.exists(file.path(model@path, "config.json"))) {
        stop(sprintf("The model directory '%s' no longer exists (temporary directories ", model@path),
            "end with the R session). Save models with saveScDiffusion().", call. = FALSE)
    }
    invisible(TRUE)
}

#' Save and load scDiffusion models
#'
#' \code{saveScDiffusion} writes the model directory (\code{config.json},
#' \code{genes.txt}, \code{model.safetensors}, \code{history.json}) to
#' \code{dir}; the Python package and command line tool read it too, e.g.
#' \code{scdiffusion generate --model-dir dir ...}. \code{loadScDiffusion}
#' reads a model directory written by R or Python.
#'
#' @param model A \code{\linkS4class{ScDiffusionModel}}.
#' @param dir Directory to write or read.
#' @param overwrite Replace an existing directory?
#' @return \code{saveScDiffusion}: the model now pointing to \code{dir},
#' invisibly. \code{loadScDiffusion}: a \code{\linkS4class{ScDiffusionModel}}.
#' @examples
#' model <- scDiffusionExampleModel()
#' dir <- file.path(tempdir(), "my_model")
#' saveScDiffusion(model, dir)
#' list.files(dir)
#' again <- loadScDiffusion(dir)
#' identical(modelGenes(again), modelGenes(model))
#' unlink(dir, recursive = TRUE)
#' @export
saveScDiffusion <- function(model, dir, overwrite = FALSE) {
    .check_model(model)
    dir <- .check_string(dir, "dir")
    overwrite <- .check_flag(overwrite, "overwrite")
    if (file.exists(dir)) {
        if (!overwrite) {
            stop(sprintf("'%s' already exists; use overwrite = TRUE to replace it.", dir), call. = FALSE)
        }
        if (normalizePath(dir) == model@path) {
            return(invisible(model))
        }
        unlink(dir, recursive = TRUE)
    }
    tmp <- paste0(dir, ".tmp", Sys.getpid())
    dir.create(tmp, recursive = TRUE, showWarnings = FALSE)
    files <- list.files(model@path, all.files = TRUE, no.. = TRUE)
    ok <- file.copy(file.path(model@path, files), tmp, recursive = TRUE)
    if (!all(ok) || !file.rename(tmp, dir)) {
        unlink(tmp, recursive = TRUE)
        stop(sprintf("could not write the model to '%s'.", dir), call. = FALSE)
    }
    model@path <- normalizePath(dir)
    model@info$path <- model@path
    invisible(model)
}

#' @rdname saveScDiffusion
#' @export
loadScDiffusion <- function(dir) {
    dir <- .check_string(dir, "dir")
    if (!dir.exists(dir) || !file.exists(file.path(dir, "config.json"))) {
        stop(sprintf("'%s' is not a scDiffusion model directory (no config.json).", dir), call. = FALSE)
    }
    # work on a private copy, so that later changes to 'dir' do not affect the object
    tmp <- tempfile("scDiffusion_model_")
    dir.create(tmp)
    file.copy(list.files(dir, full.names = TRUE, all.files = TRUE, no.. = TRUE), tmp, recursive = TRUE)
    tmp <- normalizePath(tmp)
    summary <- tryCatch(.scd_call(.load_worker, model_dir = tmp), error = function(e) {
        # no copy left behind, and the message names the user's directory, not the copy
        unlink(tmp, recursive = TRUE)
        stop(gsub(tmp, dir, conditionMessage(e), fixed = TRUE), call. = FALSE)
    })
    .new_model(tmp, summary)
}
