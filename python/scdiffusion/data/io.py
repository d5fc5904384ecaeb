"""Reading user data and writing results without ever losing data."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import anndata as ad

from ..atomic import check_output_path, write_file_atomic
from ..errors import InputError

OUTPUT_SUFFIXES = (".h5ad", ".rds")
"""File types AnnData is written as: .h5ad, or a SingleCellExperiment .rds (optional R support)."""


def read_anndata(data: ad.AnnData | str | os.PathLike) -> ad.AnnData:
    """Return ``data`` if it is an AnnData, else read the ``.h5ad`` or ``.rds`` file it names.

    ``.rds`` files hold a SingleCellExperiment and need the optional R support (:func:`scdiffusion.read_rds`).
    """
    if isinstance(data, ad.AnnData):
        return data
    if not isinstance(data, (str, os.PathLike)):
        raise InputError(
            f"Expected an AnnData object or the path of an .h5ad or .rds file, got {type(data).__name__}. "
            "Wrap a matrix with `anndata.AnnData(X)`."
        )
    path = Path(data)
    if not path.exists():
        if path.is_symlink():
            raise InputError(f"Input file '{path}' is a broken symbolic link or a symlink loop; point it at an "
                             ".h5ad or .rds file.")
        raise InputError(f"Input file '{path}' does not exist.")
    if path.is_dir():
        raise InputError(f"Input '{path}' is a folder, not an .h5ad or .rds file.")
    if path.suffix == ".rds":
        from .rds import read_rds

        return read_rds(path)
    if path.suffix != ".h5ad":
        raise InputError(f"Input file '{path}' is not an .h5ad or .rds file. Save your AnnData with "
                         "`adata.write_h5ad()` (R: your SingleCellExperiment with `saveRDS()`).")
    try:
        with warnings.catch_warnings():  # duplicated names are refused later, with a message that says the fix
            warnings.filterwarnings("ignore", message=".* names are not unique", category=UserWarning)
            return ad.read_h5ad(path)
    except Exception as err:  # noqa: BLE001 - h5py raises many types
        first = (str(err).strip().splitlines() or [""])[0]  # h5py's messages run over several lines
        raise InputError(f"Could not read '{path}' as AnnData ({type(err).__name__}: {first}). Is it a complete "
                         ".h5ad file? Write it again with `adata.write_h5ad()`.") from err


def check_anndata_output(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """:func:`check_output_path` for an ``.h5ad`` or ``.rds`` output; for ``.rds`` also that R support works."""
    path = check_output_path(path, overwrite=overwrite, suffix=OUTPUT_SUFFIXES)
    check_output_file(path, overwrite=overwrite)
    if path.suffix == ".rds":
        from .rds import check_r_support

        check_r_support("writing")
    return path


def check_output_file(path: Path, *, overwrite: bool = False) -> Path:
    """What :func:`scdiffusion.atomic.check_output_path` leaves out: the output is not a folder, an existing
    symbolic link counts as an existing output, and the folder is writable."""
    if path.is_dir():
        raise InputError(f"Output '{path}' is a folder; give the path of a file in it, e.g. '{path / 'cells'}"
                         f"{path.suffix}'.")
    if path.is_symlink() and not overwrite:  # exists() is False for a broken link or a loop
        raise InputError(f"Output '{path}' already exists (a symbolic link). Choose another path or pass "
                         "overwrite=True (CLI: --overwrite).")
    if path.parent.exists() and not os.access(path.parent, os.W_OK):
        raise InputError(f"The folder of output '{path}' is not writable (read-only or no permission). Choose "
                         "another folder.")
    return path


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn the operating system's refusals to write ``path`` (disk full, read-only, permission) into input
    errors that say so; the atomic writers have already removed their temporary file."""
    reasons = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
               errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied"}
    try:
        yield
    except Exception as err:  # h5py: RuntimeError '... errno = 28 ...'; safetensors: '... (os error 28)'
        code = getattr(err, "errno", None) if isinstance(err, OSError) else None
        if code is None:
            found = re.search(r"(?:errno = |os error )(\d+)", str(err))
            code = int(found.group(1)) if found else None
        if code not in reasons:
            raise
        raise InputError(f"Could not write '{path}': {reasons[code]}. Nothing was written; free some space "
                         "or choose another folder.") from err


def write_h5ad_atomic(adata: ad.AnnData, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``adata`` to a temporary file next to ``path`` and rename it into place.

    A crash or interruption never leaves a partial file at ``path``.
    """
    path = check_output_path(path, overwrite=overwrite)
    check_output_file(path, overwrite=overwrite)
    with writing(path):
        return write_file_atomic(path, adata.write_h5ad)


def write_anndata_atomic(adata: ad.AnnData, path: str | os.PathLike, *, overwrite: bool = False,
                         x_name: str = "X") -> Path:
    """Write ``adata`` atomically as ``.h5ad`` or, for a path ending in ``.rds``, as a SingleCellExperiment.

    Parameters
    ----------
    adata
        Data to write.
    path
        Output file ending in ``.h5ad`` or ``.rds``.
    overwrite
        Replace an existing file.
    x_name
        ``.rds`` only: the assay name of ``X`` (see :func:`scdiffusion.write_rds`).
    """
    path = check_output_path(path, overwrite=overwrite, suffix=OUTPUT_SUFFIXES)
    check_output_file(path, overwrite=overwrite)
    if path.suffix == ".rds":
        from .rds import write_rds

        with writing(path):
            return write_rds(adata, path, overwrite=overwrite, x_name=x_name)
    return write_h5ad_atomic(adata, path, overwrite=overwrite)
