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
#' \code{genes.txt}, \code{model.safetensors}, \code{history.json} and the
#' marker file \code{.scdiffusion-output.json}) to \code{dir}; the Python
#' package and command line tool read it too, e.g.
#' \code{scdiffusion generate --model-dir dir ...}. \code{loadScDiffusion}
#' reads a model directory written by R or Python.
#'
#' @section Overwriting:
#' Every folder scDiffusion writes holds the marker file
#' \code{.scdiffusion-output.json}, which names the package and the kind of
#' folder (\code{"model"} here). \code{overwrite = TRUE} replaces only an
#' empty folder or a model folder with that marker; anything else at
#' \code{dir} (a folder of other files, a file, a symbolic link) is refused
#' with an error naming it, and nothing is touched. The new model is written
#' completely to a temporary folder next to \code{dir} before the old one is
#' removed, so a failure part-way leaves the old model as it was; the old
#' folder is checked again just before it is removed, in case it changed
#' while the new one was written.
#'
#' @param model A \code{\linkS4class{ScDiffusionModel}}.
#' @param dir Directory to write or read (a trailing \code{/} is fine).
#' @param overwrite Replace an existing model directory (see Overwriting)?
#' @return \code{saveScDiffusion}: the model now pointing to \code{dir},
#' invisibly. \code{loadScDiffusion}: a \code{\linkS4class{ScDiffusionModel}}.
#' @examples
#' model <- scDiffusionExampleModel()
#' dir <- file.path(tempdir(), "my_model")
#' saveScDiffusion(model, dir)
#' list.files(dir, all.files = TRUE, no.. = TRUE)
#' again <- loadScDiffusion(dir)
#' identical(modelGenes(again), modelGenes(model))
#' ## a model folder is replaced; any other folder is refused
#' saveScDiffusion(model, dir, overwrite = TRUE)
#' notes <- file.path(tempdir(), "my_notes")
#' dir.create(notes)
#' writeLines("keep me", file.path(notes, "notes.txt"))
#' try(saveScDiffusion(model, notes, overwrite = TRUE))
#' unlink(c(dir, notes), recursive = TRUE)
#' @export
saveScDiffusion <- function(model, dir, overwrite = FALSE) {
    .check_model(model)
    dir <- .check_string(dir, "dir")
    overwrite <- .check_flag(overwrite, "overwrite")
    dir <- .strip_slash(path.expand(dir))
    exists <- file.exists(dir) || .is_symlink(dir)
    if (exists) {
        if (dir.exists(dir) && normalizePath(dir) == model@path) {
            return(invisible(model))
        }
        .check_replaceable(dir, "model", overwrite)
    } else if (!dir.exists(dirname(dir)) && !dir.create(dirname(dir), recursive = TRUE, showWarnings = FALSE)) {
        stop(sprintf("could not create the folder '%s' (where '%s' would go).", dirname(dir), basename(dir)),
            call. = FALSE)
    }
    tmp <- file.path(dirname(dir), sprintf(".%s.tmp-%d-%s", basename(dir), Sys.getpid(),
        paste(sample(c(letters, 0:9), 8L, TRUE), collapse = "")))
    on.exit(unlink(tmp, recursive = TRUE), add = TRUE)
    ok <- dir.create(tmp, showWarnings = FALSE)
    files <- list.files(model@path, all.files = TRUE, no.. = TRUE)
    ok <- ok && all(file.copy(file.path(model@path, files), tmp, recursive = TRUE))
    ok <- ok && .write_marker(tmp, "model")
    if (!ok) {
        stop(sprintf("could not write the model to '%s' (copying the files failed); nothing was replaced.",
            dir), call. = FALSE)
    }
    .replace_dir(tmp, dir, "model")
    model@path <- normalizePath(dir)
    model@info$path <- model@path
    invisible(model)
}

## The marker file of every folder scDiffusion writes (the Python core's
## scdiffusion.atomic.MARKER_FILE).
.MARKER_FILE <- ".scdiffusion-output.json"

.strip_slash <- function(path) {
    out <- sub("[/\\\\]+$", "", path)
    if (nzchar(out)) out else path
}

## Write the marker of a folder of this 'kind' into 'dir' (kept when present).
.write_marker <- function(dir, kind) {
    path <- file.path(dir, .MARKER_FILE)
    marker <- .read_marker(dir)
    if (!is.null(marker) && identical(marker$kind, kind)) return(TRUE)
    json <- jsonlite::toJSON(list(written_by = "scdiffusion", kind = kind,
        version = as.character(utils::packageVersion("scDiffusion"))), auto_unbox = TRUE, pretty = TRUE)
    tryCatch({
        writeLines(json, path)
        TRUE
    }, error = function(e) FALSE, warning = function(w) FALSE)
}

## The marker of 'dir' as a list, or NULL (none, or not readable as one).
.read_marker <- function(dir) {
    path <- file.path(dir, .MARKER_FILE)
    if (!file.exists(path)) return(NULL)
    m <- tryCatch(jsonlite::fromJSON(path, simplifyVector = TRUE), error = function(e) NULL)
    if (!is.list(m) || !identical(m$written_by, "scdiffusion")) NULL else m
}

## May 'path' (which exists) be replaced by a folder of this 'kind'? Only with
## overwrite = TRUE, and only an empty folder or one whose marker names the
## kind; anything else is an error naming it (nothing is touched).
.check_replaceable <- function(path, kind, overwrite) {
    if (!overwrite) {
        stop(sprintf("'%s' already exists; use overwrite = TRUE to replace it.", path), call. = FALSE)
    }
    if (.is_symlink(path)) {
        stop(sprintf("Refusing to overwrite '%s': it is a symbolic link, not a %s folder scDiffusion wrote. ",
            path, kind), "Choose another folder, or remove the link yourself.", call. = FALSE)
    }
    if (!dir.exists(path)) {
        stop(sprintf("Refusing to overwrite '%s': it is a file, not a %s folder scDiffusion wrote. ", path, kind),
            "Choose another folder.", call. = FALSE)
    }
    if (!length(list.files(path, all.files = TRUE, no.. = TRUE))) return(invisible(TRUE))
    marker <- .read_marker(path)
    if (is.null(marker) || !identical(marker$kind, kind)) {
        stop(sprintf("Refusing to overwrite '%s': it is not a %s folder scDiffusion wrote (", path, kind),
            if (is.null(marker)) sprintf("no %s marker file", .MARKER_FILE) else
                sprintf("its marker says kind '%s'", format(marker$kind)),
            "). Choose another folder, or remove it yourself.", call. = FALSE)
    }
    invisible(TRUE)
}

## Sys.readlink gives "" for a path that is not a link and NA for one that does not exist.
.is_symlink <- function(path) {
    link <- Sys.readlink(path)
    !is.na(link) && nzchar(link)
}

## Put the complete folder 'tmp' at 'dir': the old folder (if any) is moved
## aside first, checked again there (it may have changed since
## .check_replaceable; once moved, nothing can write to it through 'dir'),
## restored if it may not be replaced or the rename fails, and removed only
## once the new one is in place.
.replace_dir <- function(tmp, dir, kind) {
    old <- NULL
    if (file.exists(dir) || .is_symlink(dir)) {
        old <- paste0(tmp, ".old")
        if (!file.rename(dir, old)) {
            stop(sprintf("could not replace '%s' (renaming it failed); it is unchanged.", dir), call. = FALSE)
        }
        if (!.is_own_folder(old, kind)) {
            file.rename(old, dir)
            stop(sprintf("Not replacing '%s': it changed while the model was being written ", dir),
                sprintf("(it is not empty, or not a %s folder scDiffusion wrote). Nothing was changed.", kind),
                call. = FALSE)
        }
    }
    if (!file.rename(tmp, dir)) {
        if (!is.null(old)) file.rename(old, dir)
        stop(sprintf("could not write '%s' (renaming the new folder into place failed); ", dir),
            if (is.null(old)) "nothing was written." else "the old one is unchanged.", call. = FALSE)
    }
    if (!is.null(old)) .remove_own_folder(old, kind)
    invisible(TRUE)
}

## Is 'path' a folder (not a link) that is empty or whose marker names 'kind'?
## What overwrite = TRUE may replace (.check_replaceable says why not).
.is_own_folder <- function(path, kind) {
    if (.is_symlink(path) || !dir.exists(path)) return(FALSE)
    !length(list.files(path, all.files = TRUE, no.. = TRUE)) || identical(.read_marker(path)$kind, kind)
}

## Delete 'path' only if .is_own_folder: every recursive delete of a folder that
## may have been the user's goes through here. Returns whether it did.
.remove_own_folder <- function(path, kind) {
    if (!.is_own_folder(path, kind)) return(invisible(FALSE))
    invisible(unlink(path, recursive = TRUE) == 0L)
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
