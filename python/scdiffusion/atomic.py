"""Writing outputs without ever losing data: checks before work starts, then write-to-temporary and rename.

One home for every atomic write of the package: files (``.h5ad``, ``.rds``, checkpoints) and folders (model
directories, evaluation reports, the quickstart). A crash or interruption never leaves a partial output at the
target path, and an existing output is only replaced when asked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import InputError


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False,
                      suffix: str | tuple[str, ...] | None = ".h5ad") -> Path:
    """Check an output file path before any work starts: extension (one of ``suffix``), existing file, folder."""
    path = Path(path)
    suffixes = (suffix,) if isinstance(suffix, str) else suffix
    if suffixes is not None and path.suffix not in suffixes:
        raise InputError(f"Output '{path}' must end in {' or '.join(suffixes)}.")
    if path.exists() and not overwrite:
        raise InputError(f"Output '{path}' already exists. Choose another path or pass overwrite=True "
                         "(CLI: --overwrite).")
    if not path.parent.exists():
        raise InputError(f"The folder of output '{path}' does not exist. Create it first.")
    return path


def check_output_dir(path: str | os.PathLike, *, overwrite: bool = False, marker: str | None = None) -> Path:
    """Check an output folder before any work starts.

    Parameters
    ----------
    path
        The folder to be written.
    overwrite
        Whether an existing non-empty folder may be replaced.
    marker
        A file that identifies folders of this kind (e.g. ``config.json`` of a model directory): a non-empty
        folder without it is never replaced, even with ``overwrite``.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InputError(f"'{path}' exists and is not a folder; choose another output folder.")
        if any(path.iterdir()):
            if not overwrite:
                raise InputError(f"'{path}' already exists and is not empty. Choose another path or pass "
                                 "overwrite=True (CLI: --overwrite).")
            if marker is not None and not (path / marker).exists():
                raise InputError(f"Refusing to overwrite '{path}': it has no {marker}, so it is not a folder "
                                 "this command wrote. Choose another path.")
    return path


def write_file_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it replaces ``path`` (any old folder is removed
    only after the new one is in place), on error it is deleted and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700 folders; give the output the usual permissions
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
