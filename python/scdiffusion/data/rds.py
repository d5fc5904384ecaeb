"""SingleCellExperiment ``.rds`` files ↔ AnnData through rpy2 (the optional extra ``scdiffusion-ldm[r]``).

R is started once per process, in this process, through rpy2's low-level interface; the conversion itself is
the R package scDiffusion's (``R/convert.R``: the exported ``rdsToPlain`` / ``plainToRds`` around ``.encode_sce`` /
``.decode_sce``) on the R side and :mod:`scdiffusion.data.sce` on the Python side — the same code the R package
uses, so both directions are exact in the same way. Only raw byte vectors, strings, scalars and lists cross
rpy2 (no numpy/pandas converters).

Needs rpy2 (``pip install 'scdiffusion-ldm[r]'``), R with SingleCellExperiment, and the R package scDiffusion
installed in a library R sees (``bash scripts/install-r-support.sh`` from the repository). Extra R libraries
are taken from ``$SCDIFFUSION_R_LIBRARY`` (``os.pathsep``-separated) and ``<sys.prefix>/R-library``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anndata as ad

from ..atomic import check_output_path, write_file_atomic
from .rds_safety import check_rds
from .sce import decode_sce, encode_adata
from .validation import InputError

logger = logging.getLogger(__name__)

R_LIBRARY_ENV = "SCDIFFUSION_R_LIBRARY"
"""Environment variable: extra R libraries (``os.pathsep``-separated) searched first for scDiffusion."""

R_SUPPORT_HINT = ("pip install 'scdiffusion-ldm[r]' (rpy2<3.6) and R with SingleCellExperiment; "
                  "see README, section 'SingleCellExperiment .rds files'")
_INSTALL_HINT = ("install it from the scDiffusion repository with `bash scripts/install-r-support.sh` "
                 "(or `R CMD INSTALL .`), or set SCDIFFUSION_R_LIBRARY to the R library that "
                 "holds it")

_R: dict[str, Any] = {}  # the started R session: the R package's entry points


def _library_dirs() -> list[str]:
    """Extra R libraries: ``$SCDIFFUSION_R_LIBRARY``, then ``<sys.prefix>/R-library`` (existing ones only)."""
    dirs = [d for d in os.environ.get(R_LIBRARY_ENV, "").split(os.pathsep) if d]
    dirs.append(str(Path(sys.prefix) / "R-library"))
    return [d for d in dirs if Path(d).is_dir()]


@contextlib.contextmanager
def _r_console() -> Iterator[None]:
    """Send what R prints to this module's logger instead of stdout/stderr."""
    from rpy2.rinterface_lib import callbacks

    def out(s: str) -> None:
        if s.strip():
            logger.debug("R: %s", s.rstrip())

    def err(s: str) -> None:
        if s.strip():
            logger.warning("R: %s", s.rstrip())

    with callbacks.obj_in_module(callbacks, "consolewrite_print", out), \
            callbacks.obj_in_module(callbacks, "consolewrite_warnerror", err):
        yield


def _session(what: str) -> tuple[Any, dict[str, Any]]:
    """Start R (once) and load the R package's conversion entry points.

    Parameters
    ----------
    what
        "reading" or "writing": the start of the error messages.

    Raises
    ------
    InputError
        rpy2 is missing, R cannot start, or the R package scDiffusion is missing or too old.
    """
    try:
        import rpy2.rinterface as ri
    except ImportError as err:
        raise InputError(f"{what} .rds needs the optional R support: {R_SUPPORT_HINT}.") from err
    except Exception as err:  # noqa: BLE001 - rpy2 raises several kinds when it cannot find R
        raise InputError(f"{what} .rds needs R, which rpy2 could not find ({type(err).__name__}: {err}). "
                         "Install R (e.g. `bash scripts/install-r.sh`) or set R_HOME.") from err
    if _R:
        return ri, _R
    try:
        ri.initr_simple()  # no-op when R already runs in this process
    except Exception as err:  # noqa: BLE001
        raise InputError(f"{what} .rds needs R, which rpy2 could not start ({type(err).__name__}: {err}). "
                         "Install R with SingleCellExperiment (e.g. `bash scripts/install-r.sh`), or put `R` on "
                         "PATH or set R_HOME.") from err
    with _r_console():
        status = ri.evalr("""function(extra) {
            extra <- extra[dir.exists(extra)]
            if (length(extra)) .libPaths(c(extra, .libPaths()))
            if (!suppressPackageStartupMessages(requireNamespace("scDiffusion", quietly = TRUE))) {
                return(paste0("missing:", paste(.libPaths(), collapse = ", ")))
            }
            if (!"rdsToPlain" %in% getNamespaceExports("scDiffusion") ||
                !"checked" %in% names(formals(scDiffusion::rdsToPlain))) {
                return(paste0("old:", format(utils::packageVersion("scDiffusion")), " in ",
                    dirname(find.package("scDiffusion"))))
            }
            ""
        }""")(ri.StrSexpVector(_library_dirs()) if _library_dirs() else ri.StrSexpVector([]))[0]
    if status.startswith("missing:"):
        raise InputError(f"{what} .rds needs the R package scDiffusion (it holds the conversion), which R does not "
                         f"find in {status[len('missing:'):]}: {_INSTALL_HINT}.")
    if status.startswith("old:"):
        raise InputError(f"{what} .rds: the R package scDiffusion {status[len('old:'):]} is older than this Python "
                         f"package and cannot convert .rds files; re-{_INSTALL_HINT}.")
    _R["rds_to_plain"] = ri.evalr("scDiffusion::rdsToPlain")
    _R["plain_to_rds"] = ri.evalr("scDiffusion::plainToRds")
    return ri, _R


def check_r_support(what: str = "writing") -> None:
    """Raise :class:`InputError` (saying what to install) unless ``.rds`` files can be read and written.

    Starts R (once per process) if it is not running yet.
    """
    _session(what)


def r_support_problem() -> str | None:
    """Why ``.rds`` files cannot be read or written here, or None when they can."""
    try:
        _session("reading")
    except InputError as err:
        return str(err)
    return None


# ---------------------------------------------------------------------------- rpy2 objects <-> plain objects
def _from_r(x: Any) -> Any:
    """R object -> the plain Python object reticulate would give: NULL → None, raw → bytes, named list → dict,
    list → list, vectors of length 1 → scalars, longer vectors → lists (NA → None)."""
    import numpy as np
    import rpy2.rinterface as ri

    t = x.typeof
    if t == ri.RTYPES.NILSXP:
        return None
    if t == ri.RTYPES.RAWSXP:
        return np.asarray(x).tobytes() if len(x) else b""
    if t == ri.RTYPES.VECSXP:
        items = [_from_r(v) for v in x]
        names = x.names
        if names is ri.NULL or names.typeof == ri.RTYPES.NILSXP:
            return items
        return {str(k): v for k, v in zip(names, items)}
    if t in (ri.RTYPES.STRSXP, ri.RTYPES.LGLSXP, ri.RTYPES.INTSXP, ri.RTYPES.REALSXP):
        na = {ri.RTYPES.STRSXP: ri.NA_Character, ri.RTYPES.LGLSXP: ri.NA_Logical,
              ri.RTYPES.INTSXP: ri.NA_Integer, ri.RTYPES.REALSXP: ri.NA_Real}[t]
        cast = {ri.RTYPES.STRSXP: str, ri.RTYPES.LGLSXP: bool, ri.RTYPES.INTSXP: int, ri.RTYPES.REALSXP: float}[t]
        vals = [None if v is na else cast(v) for v in x]
        return vals[0] if len(vals) == 1 else vals
    raise TypeError(f"unexpected R object of type {t!r} in an encoded SingleCellExperiment")


def _to_r(x: Any) -> Any:
    """Plain Python object -> R object, as reticulate converts it: None → NULL, bytes → raw, dict → named list,
    list → list (a list of strings → character vector, which the R side reads alike), scalars → length-1
    vectors."""
    import numpy as np
    import rpy2.rinterface as ri

    if x is None:
        return ri.NULL
    if isinstance(x, (bool, np.bool_)):
        return ri.BoolSexpVector([bool(x)])
    if isinstance(x, (int, np.integer)):
        return ri.IntSexpVector([int(x)])
    if isinstance(x, (float, np.floating)):
        return ri.FloatSexpVector([float(x)])
    if isinstance(x, str):
        return ri.StrSexpVector([x])
    if isinstance(x, (bytes, bytearray, memoryview)):
        return ri.ByteSexpVector.from_memoryview(memoryview(x).cast("B"))
    if isinstance(x, dict):
        out = ri.ListSexpVector([_to_r(v) for v in x.values()])
        out.names = ri.StrSexpVector([str(k) for k in x])
        return out
    if isinstance(x, (list, tuple)):
        if x and all(isinstance(v, str) for v in x):
            return ri.StrSexpVector(list(x))
        return ri.ListSexpVector([_to_r(v) for v in x])
    raise TypeError(f"cannot send {type(x).__name__} to R")


def _check_r_result(res: dict, path: Path, what: str) -> None:
    for w in res.get("warnings") or []:
        logger.warning("%s: %s", path, w)
    if res.get("error"):
        raise InputError(f"Could not {what} '{path}' as a SingleCellExperiment: {res['error']}")


# ---------------------------------------------------------------------------- public API
def read_rds(path: str | os.PathLike) -> ad.AnnData:
    """Read a SingleCellExperiment (or SummarizedExperiment) saved with ``saveRDS`` as AnnData.

    The first assay becomes ``X`` and the others ``layers`` (same names); ``colData`` → ``obs``, ``rowData`` →
    ``var``, ``reducedDims`` → ``obsm``, column/row names → ``obs_names``/``var_names``. Numeric assays become
    float64 (``dgCMatrix`` → CSR, exact structure; other matrices dense), factors → categoricals (``NA`` →
    missing), integer/logical columns with ``NA`` → pandas nullable arrays, character → object (``NA`` →
    None). What AnnData cannot hold (NULL dimnames, integer storage, assay order and names) is kept as JSON in
    ``uns["_scDiffusion_R"]``, so :func:`write_rds` restores the object exactly.

    Parameters
    ----------
    path
        ``.rds`` file holding a SingleCellExperiment.

    Returns
    -------
    AnnData
        Cells × genes.

    Raises
    ------
    InputError
        The file is missing or holds something else, R support is not installed, a ``colData`` column is
        not a vector (the message names it), or the file holds what could run code when R reads it (a promise,
        a function, byte code, an external pointer, ...: see :mod:`scdiffusion.data.rds_safety`), checked
        before R sees the file.
    """
    path = Path(path)
    check_rds(path)  # before readRDS: R < 4.4 runs code hidden in a crafted file (CVE-2024-27322)
    ri, r = _session("reading")
    with _r_console():
        res = _from_r(r["rds_to_plain"](ri.StrSexpVector([str(path.resolve())]), checked=ri.BoolSexpVector([True])))
    _check_r_result(res, path, "read")
    return decode_sce(res["sce"])


def write_rds(adata: ad.AnnData, path: str | os.PathLike, *, overwrite: bool = False, x_name: str = "X") -> Path:
    """Write ``adata`` as a SingleCellExperiment ``.rds`` file (atomically: temporary file, then rename).

    ``X`` becomes the assay ``x_name`` (or the assay it came from, for data read with :func:`read_rds`),
    ``layers`` the other assays (sparse → ``dgCMatrix``, dense → double matrix), ``obs`` → ``colData``,
    ``var`` → ``rowData``, ``obsm`` → ``reducedDims``, ``uns["scdiffusion"]`` (generation parameters) →
    ``metadata(sce)$scDiffusion$params``. Other ``uns`` entries, ``obsp``, ``varm``, ``varp`` are not written.

    Parameters
    ----------
    adata
        Cells × genes; ``obs_names`` and ``var_names`` must be unique.
    path
        Output file ending in ``.rds``.
    overwrite
        Replace an existing file.
    x_name
        Assay name for ``X`` (e.g. ``"logcounts"`` for generated cells).

    Returns
    -------
    Path
        The file written.
    """
    path = check_output_path(path, overwrite=overwrite, suffix=".rds")
    for what, names, fix in (("obs_names", adata.obs_names, "adata.obs_names_make_unique()"),
                             ("var_names", adata.var_names, "adata.var_names_make_unique()")):
        if not names.is_unique:
            raise InputError(f"{what} must be unique to be written as a SingleCellExperiment; fix them with {fix}.")
    ri, r = _session("writing")
    params = adata.uns.get("scdiffusion")
    enc = _to_r(encode_adata(adata, x_name=x_name, params=dict(params) if isinstance(params, dict) else None))

    def write(tmp: str) -> None:
        with _r_console():
            res = _from_r(r["plain_to_rds"](enc, ri.StrSexpVector([tmp])))
        _check_r_result(res, path, "write")

    return write_file_atomic(path, write)
