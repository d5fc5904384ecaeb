"""Writing outputs without ever losing data: checks before work starts, then write-to-temporary and rename.

One home for every write of the package: files (``.h5ad``, ``.rds``, checkpoints) and folders (model
directories, evaluation reports, checkpoint folders, the quickstart).

- A file or folder is written next to its target under a temporary name, flushed to disk (``fsync``) and renamed
  into place: a crash or a kill at any moment leaves the old output or the new one, never a partial one. An
  existing folder is swapped with the new one in one atomic step where the system allows it (Linux
  ``renameat2(RENAME_EXCHANGE)``), and removed only once the new one is in place.
- Every folder the package writes holds a marker file, :data:`MARKER_FILE`, naming the package and the kind of
  folder. ``overwrite`` replaces an empty folder or a folder with the right marker, and refuses anything else:
  a mistyped ``--output-dir .`` or a home folder is never touched.
- Outputs get the user's usual permissions (the umask, read without changing it).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import InputError

MARKER_FILE = ".scdiffusion-output.json"
"""Marker of a folder written by scDiffusion: ``{"written_by": "scdiffusion", "kind": ..., "version": ...}``."""

KINDS = ("model", "report", "checkpoint", "quickstart")
"""The kinds of folder the package writes (the marker's ``kind``)."""


# ------------------------------------------------------------------------------------------------ markers
def write_marker(folder: str | os.PathLike, kind: str) -> Path:
    """Write the marker of a folder of ``kind`` into ``folder``."""
    from ._version import __version__

    if kind not in KINDS:
        raise ValueError(f"unknown folder kind {kind!r}; one of {KINDS}")
    path = Path(folder) / MARKER_FILE
    path.write_text(json.dumps({"written_by": "scdiffusion", "kind": kind, "version": __version__}) + "\n")
    return path


def read_marker(folder: str | os.PathLike) -> str | None:
    """The kind of folder named by ``folder``'s marker, or ``None`` when it has no valid marker."""
    try:
        data = json.loads((Path(folder) / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != "scdiffusion" or data.get("kind") not in KINDS:
        return None
    return data["kind"]


#: Folders written before markers existed (release 0.1 to 0.99.0): recognised only when every entry is a name that
#: kind of folder holds and its key file is the package's. Anything else in the folder makes it a user's.
_LEGACY = {
    "model": ("config.json", {"config.json", "genes.txt", "model.safetensors", "history.json"}),
    "quickstart": ("summary.json", {"summary.json", "summary.md", "generated.h5ad", "heldout.h5ad", "model"}),
    "report": ("metrics.json", {"metrics.json", "report.md", "umap.png", "qq.png", "violins.png", "comparison.png",
                                "fold_changes.png", "loss.png"}),
}
_LEGACY_KEYS = {"model": lambda d: isinstance(d.get("format_version"), int),
                "quickstart": lambda d: "realism_vs_heldout" in d,
                "report": lambda d: isinstance(d.get("meta"), dict) and "n_generated_cells_used" in d["meta"]}


def _is_legacy(folder: Path, kind: str) -> bool:
    if kind not in _LEGACY:
        return False
    key_file, names = _LEGACY[kind]
    if not {p.name for p in folder.iterdir()} <= names:
        return False
    try:
        data = json.loads((folder / key_file).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and _LEGACY_KEYS[kind](data)


def is_replaceable(folder: str | os.PathLike, kind: str) -> bool:
    """Whether ``overwrite`` may replace ``folder``: an empty folder, one whose marker says ``kind``, or a ``kind``
    folder of an older release (only the files that release wrote)."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return False
    return not any(folder.iterdir()) or read_marker(folder) == kind or _is_legacy(folder, kind)


# ------------------------------------------------------------------------------------------------ permissions
_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it (``/proc/self/status``; elsewhere a locked set-and-restore)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        pass
    with _UMASK_LOCK:  # pragma: no cover
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def _fsync_path(path: Path, directory: bool = False) -> None:
    """Flush a file (or a folder's entries) to disk; folders that cannot be opened are skipped."""
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    except OSError:  # pragma: no cover - e.g. a platform without O_DIRECTORY
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - fsync unsupported on this file system
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            _fsync_path(Path(folder) / name)
        _fsync_path(Path(folder), directory=True)


# ------------------------------------------------------------------------------------------------ checks
def check_output_path(path: str | os.PathLike, *, overwrite: bool = False,
                      suffix: str | tuple[str, ...] | None = ".h5ad") -> Path:
    """Check an output file path before any work starts: extension (one of ``suffix``), existing file, folder."""
    path = Path(path)
    suffixes = (suffix,) if isinstance(suffix, str) else suffix
    if suffixes is not None and path.suffix not in suffixes:
        raise InputError(f"Output '{path}' must end in {' or '.join(suffixes)}.")
    if path.is_dir():
        raise InputError(f"Output '{path}' is a folder; give a file name ending in {' or '.join(suffixes or ())}.")
    if path.exists() and not overwrite:
        raise InputError(f"Output '{path}' already exists. Choose another path or pass overwrite=True "
                         "(CLI: --overwrite).")
    if not path.parent.exists():
        raise InputError(f"The folder of output '{path}' does not exist. Create it first.")
    return path


def check_output_dir(path: str | os.PathLike, *, overwrite: bool = False, kind: str = "model") -> Path:
    """Check an output folder before any work starts.

    Parameters
    ----------
    path
        The folder to be written.
    overwrite
        Whether an existing folder of the same ``kind`` (its marker says so) may be replaced.
    kind
        The kind of folder (:data:`KINDS`). A non-empty folder without this kind's marker is never replaced, even
        with ``overwrite``: it was not written by this package's command of that kind.

    Raises
    ------
    InputError
        When ``path`` is a file, or a non-empty folder that may not be replaced.
    """
    path = Path(path)
    if path.is_symlink():
        raise InputError(f"'{path}' is a symbolic link; give the real folder's path.")
    if path.exists():
        if not path.is_dir():
            raise InputError(f"'{path}' exists and is not a folder; choose another output folder.")
        if any(path.iterdir()):
            if not overwrite:
                raise InputError(f"'{path}' already exists and is not empty. Choose another path or pass "
                                 "overwrite=True (CLI: --overwrite).")
            found = read_marker(path)
            if not is_replaceable(path, kind):
                what = (f"a scDiffusion {found} folder" if found
                        else f"not a folder scDiffusion wrote (no {MARKER_FILE})")
                raise InputError(f"Refusing to overwrite '{path}': it is {what}, not a {kind} folder, and overwrite "
                                 f"only ever replaces a {kind} folder scDiffusion wrote. Nothing was changed; choose "
                                 "another path.")
    parent = _existing_parent(path)
    if not os.access(parent, os.W_OK | os.X_OK):
        # checked before the work (e.g. a training) rather than found when the result is saved
        raise InputError(f"'{parent}' is not writable (read-only file system or no permission), so '{path}' cannot "
                         "be written there; choose another output folder.")
    return path


def _existing_parent(path: Path) -> Path:
    """The nearest folder above ``path`` that exists (where the new folder or folders would be created)."""
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


# ------------------------------------------------------------------------------------------------ writes
def write_file_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, flush it to disk, then rename it into place.

    The file gets the permissions a newly created file would (``0666`` less the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        _fsync_path(Path(tmp))
        os.replace(tmp, path)
        _fsync_path(path.parent, directory=True)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):  # pragma: no cover - old kernel / fs
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, kind: str, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``path`` to fill; on success it (with a ``kind`` marker) replaces ``path``.

    The new folder is flushed to disk and swapped with the old one in one step where the system allows it, so
    ``path`` holds the old folder or the new one at every moment; the old one is removed only after that. On an
    error the temporary folder is deleted and ``path`` is untouched. Call :func:`check_output_dir` first (with the
    same ``overwrite``): this re-checks just before the swap that ``path`` may still be replaced (it may have
    changed meanwhile).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700 folders; give the output the usual permissions
    swapped = False  # once True, tmp holds the old folder, which is the user's until checked again
    try:
        yield tmp
        write_marker(tmp, kind)
        _fsync_tree(tmp)
        if path.exists() or path.is_symlink():
            if not is_replaceable(path, kind) or (not overwrite and any(path.iterdir())):
                raise InputError(f"Not replacing '{path}': it changed while this command ran (it is not empty, or not "
                                 f"a {kind} folder scDiffusion wrote). Nothing was changed; the new output was not "
                                 "written.")
            if _exchange(tmp, path):  # tmp now holds the old folder
                swapped = True
                remove_own_folder(tmp, kind, ignore_errors=True)  # the new output is in place already
            else:  # pragma: no cover - exercised only where renameat2 is missing
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)
                os.replace(tmp, path)
                remove_own_folder(old, kind, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_path(path.parent, directory=True)
    finally:
        if not swapped and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)  # the new output, made here by mkdtemp: never the user's


def remove_own_folder(path: str | os.PathLike, kind: str, *, ignore_errors: bool = False) -> bool:
    """Delete ``path`` only if it is a folder of ``kind`` that scDiffusion wrote (its marker says so, or it is such
    a folder of an older release) or an empty folder: what ``overwrite`` may replace (:func:`is_replaceable`).
    Returns whether it was deleted; anything else is left as it is. Every recursive delete of a folder that may
    have been the user's goes through here."""
    if not is_replaceable(path, kind):
        return False
    shutil.rmtree(path, ignore_errors=ignore_errors)
    return True
