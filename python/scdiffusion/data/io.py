"""Reading user data and writing results without ever losing data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import anndata as ad

from .validation import InputError


def read_anndata(data: ad.AnnData | str | os.PathLike) -> ad.AnnData:
    """Return ``data`` if it is an AnnData, else read the ``.h5ad`` file it names."""
    if isinstance(data, ad.AnnData):
        return data
    if not isinstance(data, (str, os.PathLike)):
        raise InputError(
            f"Expected an AnnData object or the path of an .h5ad file, got {type(data).__name__}. "
            "Wrap a matrix with `anndata.AnnData(X)`."
        )
    path = Path(data)
    if not path.exists():
        raise InputError(f"Input file '{path}' does not exist.")
    if path.suffix != ".h5ad":
        raise InputError(f"Input file '{path}' is not an .h5ad file. Save your AnnData with `adata.write_h5ad()`.")
    try:
        return ad.read_h5ad(path)
    except Exception as err:  # noqa: BLE001 - h5py raises many types
        raise InputError(f"Could not read '{path}' as AnnData ({type(err).__name__}: {err}).") from err


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False, suffix: str | None = ".h5ad") -> Path:
    """Check an output path before any work starts: extension, existing file, parent folder."""
    path = Path(path)
    if suffix is not None and path.suffix != suffix:
        raise InputError(f"Output '{path}' must end in {suffix}.")
    if path.exists() and not overwrite:
        raise InputError(f"Output '{path}' already exists. Choose another path or pass overwrite=True (CLI: --overwrite).")
    if not path.parent.exists():
        raise InputError(f"The folder of output '{path}' does not exist. Create it first.")
    return path


def write_h5ad_atomic(adata: ad.AnnData, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``adata`` to a temporary file next to ``path`` and rename it into place.

    A crash or interruption never leaves a partial file at ``path``.
    """
    path = check_output_path(path, overwrite=overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        adata.write_h5ad(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
