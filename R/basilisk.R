#' The Python environment of scDiffusion
#'
#' scDiffusion runs its Python core (PyTorch) through \pkg{basilisk}.
#' \code{scDiffusionEnv} is the \code{\link[basilisk]{BasiliskEnvironment}} that
#' basilisk creates on first use: Python 3.11 with pinned pip packages (the
#' dependencies of the Python core) and the Python core shipped inside this
#' package (\code{system.file("python", package = "scDiffusion")}, version
#' equal to the R package's).
#'
#' Creating that environment needs Miniconda and internet access. To use an
#' existing Python environment instead (a virtualenv or conda environment in
#' which \code{import scdiffusion} works), set the option
#' \code{scDiffusion.python} or the environment variable
#' \code{SCDIFFUSION_PYTHON} to its directory (the one holding
#' \code{bin/python}). The option wins over the variable.
#'
#' @details
#' Python is never started when the package is loaded; each call that needs it
#' runs through \code{\link[basilisk]{basiliskRun}}, in the current R session
#' (basilisk's default shared mode) or in a separate process (see
#' \code{\link[basilisk]{setBasiliskShared}} and
#' \code{\link[basilisk]{setBasiliskFork}}). Models are kept on disk, so they
#' survive across these processes.
#'
#' @return \code{scDiffusionPython()} returns the override directory, or
#' \code{NULL} when the basilisk environment is used.
#' @examples
#' scDiffusionPython()
#' scDiffusionEnv
#' @name scDiffusionEnv
#' @aliases scDiffusionPython
NULL

#' @rdname scDiffusionEnv
#' @format NULL
#' @export
scDiffusionEnv <- basilisk::BasiliskEnvironment(
    envname = "scdiffusion_env_0_99_0",
    pkgname = "scDiffusion",
    packages = c("python==3.11.7"),
    pip = c(
        # BEGIN pins: written by tools/make_basilisk_pins.py from pyproject.toml; do not edit by hand
        "torch==2.13.0",
        "anndata==0.12.19",
        "scanpy==1.11.5",
        "numpy==2.4.6",
        "scipy==1.17.1",
        "pandas==2.3.3",
        "click==8.5.1",
        "tqdm==4.70.1",
        "safetensors==0.8.0",
        "scikit-learn==1.7.2",
        "h5py==3.16.0",
        "matplotlib==3.11.2",
        "POT==0.9.6.post1"
        # END pins
    ),
    paths = "python"
)

#' @rdname scDiffusionEnv
#' @export
scDiffusionPython <- function() {
    path <- getOption("scDiffusion.python", Sys.getenv("SCDIFFUSION_PYTHON", ""))
    if (is.null(path) || !nzchar(path)) {
        return(NULL)
    }
    if (!is.character(path) || length(path) != 1L) {
        stop("option 'scDiffusion.python' must be a single directory path.", call. = FALSE)
    }
    path <- path.expand(path)
    py <- file.path(path, "bin", "python")
    if (!dir.exists(path) || !file.exists(py)) {
        stop(sprintf("The Python environment '%s' (from option 'scDiffusion.python' or ", path),
            "SCDIFFUSION_PYTHON) does not exist or has no bin/python. Point it ",
            "to a virtualenv or conda environment where 'import scdiffusion' works, ",
            "or unset it to use the basilisk environment.", call. = FALSE)
    }
    normalizePath(path)
}

## The bridge module of the Python core (inst/bridge/scdiffusion_rbridge.py), imported in
## the process that runs the worker. 'core' holds the bridge folder and the copy of the
## Python core shipped in the package (used when the environment lacks scdiffusion).
.scd_bridge <- function(core) {
    ok <- tryCatch({
        reticulate::import("scdiffusion")
        TRUE
    }, error = function(e) FALSE)
    if (!ok && nzchar(core$python) && dir.exists(core$python)) {
        sys <- reticulate::import("sys", convert = FALSE)
        sys$path$insert(0L, core$python)
    }
    reticulate::import_from_path("scdiffusion_rbridge", path = core$bridge)
}

## One basilisk worker per operation. Each takes and returns plain R objects and
## passes its arguments to the bridge function of the same name under the same
## names (basilisk runs them in this R session or in a separate process).
.version_worker <- function(core, ...) .scd_bridge(core)$version(...)
.roundtrip_worker <- function(core, ...) .scd_bridge(core)$roundtrip(...)
.train_worker <- function(core, ...) .scd_bridge(core)$train(...)
.load_worker <- function(core, ...) .scd_bridge(core)$load(...)
.generate_worker <- function(core, ...) .scd_bridge(core)$generate(...)
.interpolate_worker <- function(core, ...) .scd_bridge(core)$interpolate(...)
.evaluate_worker <- function(core, ...) .scd_bridge(core)$evaluate(...)
.comparison_worker <- function(core, ...) .scd_bridge(core)$comparison(...)
.check_rds_worker <- function(core, ...) .scd_bridge(core)$check_rds(...)

## Run 'worker' with named arguments; Python warnings become R warnings. An
## input error of the Python core (scdiffusion.errors.InputError, whose message
## says what to do) becomes a one-line R error; any other Python exception is a
## bug in scDiffusion and becomes an internal error (condition class
## "scDiffusion_internal_error") that says so and carries the Python traceback
## (field 'traceback'; printed too with options(scDiffusion.verbose = TRUE)).
.scd_call <- function(worker, ...) {
    core <- list(bridge = system.file("bridge", package = "scDiffusion"),
        python = system.file("python", package = "scDiffusion"))
    res <- .scd_run(worker, core = core, threads = .scd_threads(), ...)
    for (w in unlist(res$warnings)) warning(w, call. = FALSE)
    if (!is.null(res$error)) {
        if (isTRUE(res$user_error)) stop(.r_message(res$error), call. = FALSE)
        stop(.internal_error(res$class, res$error, res$traceback))
    }
    res$result
}

## The R error of an unexpected Python exception: a bug, with its traceback.
.internal_error <- function(class, message, traceback) {
    .scd_state$last_traceback <- traceback
    msg <- paste0("Internal error in scDiffusion (a bug, not a problem with your input): ", class, ": ",
        message, "\nPlease report it to the maintainer (", utils::maintainer("scDiffusion"), ") with the ",
        "Python traceback: ", if (isTRUE(getOption("scDiffusion.verbose"))) paste0("\n", traceback) else
            "run scDiffusion:::.last_traceback() to print it, or set options(scDiffusion.verbose = TRUE).")
    structure(class = c("scDiffusion_internal_error", "error", "condition"),
        list(message = msg, call = NULL, traceback = traceback, python_class = class))
}

## The Python traceback of the last internal error (see .scd_call).
.last_traceback <- function() {
    tb <- .scd_state$last_traceback
    if (is.null(tb)) tb <- "no internal error in this R session."
    cat(tb, sep = "\n")
    invisible(tb)
}

## Messages of the Python core are written for Python and command line users;
## R users get the R spelling of the same advice (the argument names are the
## same, the values are spelt the R way, command line flags are dropped).
.r_message <- function(msg) {
    fixed <- c("use --device cpu or auto" = "use device = \"cpu\" or \"auto\"",
        "generate_to_file() (CLI: scdiffusion generate --chunk-size)" =
            "several generate() calls (each draws new cells unless 'seed' is fixed) and cbind() of the results")
    for (k in names(fixed)) msg <- gsub(k, fixed[[k]], msg, fixed = TRUE)
    word <- "\\b([A-Za-z_][A-Za-z0-9_.]*)="
    msg <- gsub(" ?\\(CLI: [^)]*\\)", "", msg)
    msg <- gsub(paste0(word, "None\\b"), "\\1 = NULL", msg)
    msg <- gsub(paste0(word, "True\\b"), "\\1 = TRUE", msg)
    msg <- gsub(paste0(word, "False\\b"), "\\1 = FALSE", msg)
    msg <- gsub(paste0(word, "'([^']*)'"), "\\1 = \"\\2\"", msg)
    gsub(paste0(word, "([0-9][0-9.eE+-]*)"), "\\1 = \\2", msg)
}

## CPU threads of the Python core, the same rule as in Python and the CLI:
## options(scDiffusion.threads = N) fixes them; NULL (the default), 0 or "auto"
## use every core this process may use (fixed for the run, so results do not
## depend on other load; see the README, "Reproducibility").
.scd_threads <- function(n = getOption("scDiffusion.threads")) {
    if (is.null(n) || identical(n, "auto")) return(NULL)
    if (!is.numeric(n) || length(n) != 1L || is.na(n) || n < 0 || n != round(n)) {
        stop("option 'scDiffusion.threads' must be one positive whole number, or 0 / \"auto\" / NULL for ",
            "every usable core, e.g. options(scDiffusion.threads = 2).", call. = FALSE)
    }
    if (n == 0) NULL else as.integer(n)
}

## Run 'fun' in the package's basilisk environment, or in the override
## environment: in this R session when basilisk's shared mode is on (and no other
## Python is loaded), else in a forked or new R process, as basilisk does.
.scd_run <- function(fun, ...) {
    .check_blas()
    override <- scDiffusionPython()
    if (is.null(override)) {
        return(withCallingHandlers(basilisk::basiliskRun(env = scDiffusionEnv, fun = fun, ...),
            error = .basilisk_setup_error))
    }
    if (is.null(getOption("reticulate.poetry.project"))) {
        # reticulate 1.28 looks for a pyproject.toml (poetry) in the working
        # directory and may warn about it; point it to an empty folder.
        old <- options(reticulate.poetry.project = tempdir())
        on.exit(options(old), add = TRUE)
    }
    loaded <- reticulate::py_available()
    same <- loaded && .same_python(override)
    if (basilisk::getBasiliskShared() && (!loaded || same)) {
        .scd_activate(override)
        return(basilisk::basiliskRun(env = override, fun = fun, ...))
    }
    proc <- if (basilisk::getBasiliskFork() && .Platform$OS.type != "windows" &&
        (!loaded || same)) {
        parallel::makeForkCluster(1L)
    } else {
        parallel::makePSOCKcluster(1L)
    }
    on.exit(parallel::stopCluster(proc), add = TRUE)
    parallel::clusterCall(proc, .scd_activate, path = override,
        poetry = getOption("reticulate.poetry.project"))
    basilisk::basiliskRun(proc = proc, fun = fun, ...)
}

## basilisk could not create its environment (offline, no Miniconda): say how
## to use an existing Python environment instead of basilisk's raw error.
.basilisk_setup_error <- function(e) {
    msg <- conditionMessage(e)
    if (!grepl("miniconda|conda|download|installation|environment", msg, ignore.case = TRUE)) return(invisible())
    stop(sprintf("scDiffusion could not set up its Python environment through basilisk (%s). ",
        trimws(strsplit(msg, "\n", fixed = TRUE)[[1L]][1L])), "basilisk needs internet access to install ",
        "Miniconda and the packages once. Offline, or to use an existing Python environment where 'import ",
        "scdiffusion' works, set options(scDiffusion.python = \"/path/to/env\") or the environment variable ",
        "SCDIFFUSION_PYTHON (see ?scDiffusionEnv).", call. = FALSE)
}

.same_python <- function(path) {
    expected <- normalizePath(file.path(path, "bin", "python"), mustWork = FALSE)
    actual <- normalizePath(reticulate::py_config()$python, mustWork = FALSE)
    identical(expected, actual)
}

## Start Python from the override environment (in this or a worker process).
.scd_activate <- function(path, poetry = NULL) {
    if (!is.null(poetry)) options(reticulate.poetry.project = poetry)
    if (!reticulate::py_available()) {
        reticulate::use_virtualenv(path, required = TRUE)
        reticulate::py_config()
    }
    invisible(TRUE)
}

#' Version of the Python core
#'
#' @return The version string of the Python package \code{scdiffusion} used by
#' this package (it equals the R package's version).
#' @examples
#' scDiffusionPythonVersion()
#' @export
scDiffusionPythonVersion <- function() {
    .scd_call(.version_worker)
}

.scd_state <- new.env(parent = emptyenv())

## PyTorch running inside R calls R's BLAS for matrix products (symbol
## interposition); with the reference BLAS this is 5-10 times slower.
.check_blas <- function() {
    if (isTRUE(.scd_state$blas_checked)) return(invisible())
    .scd_state$blas_checked <- TRUE
    blas <- tryCatch(extSoftVersion()[["BLAS"]], error = function(e) "")
    if (grepl("/blas/libblas", blas, fixed = TRUE)) {
        message("scDiffusion: R uses the reference BLAS (", blas, "); PyTorch inside R ",
            "then runs 5-10x slower. Install an optimised BLAS, e.g. ",
            "'apt-get install libopenblas0-pthread' on Debian/Ubuntu.")
    }
    invisible()
}
