"""The model directory: ``config.json``, ``genes.txt``, ``model.safetensors``, ``history.json``.

Weights are stored with safetensors (no pickle). A directory is written to a temporary folder and renamed
into place, so an interruption never leaves a half-written model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..data.validation import InputError

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
GENES_FILE = "genes.txt"
WEIGHTS_FILE = "model.safetensors"
HISTORY_FILE = "history.json"


def write_model_dir(path: str | os.PathLike, config: dict, genes: list[str], tensors: dict[str, torch.Tensor],
                    history: dict | None = None, *, overwrite: bool = False) -> Path:
    """Write a model directory atomically.

    Raises
    ------
    InputError
        When ``path`` exists and ``overwrite`` is false, or is a file.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InputError(f"'{path}' exists and is not a folder; choose another model directory.")
        if any(path.iterdir()) and not overwrite:
            raise InputError(
                f"Model directory '{path}' already exists and is not empty. Choose another path or pass "
                "overwrite=True (CLI: --overwrite)."
            )
        if overwrite and any(path.iterdir()) and not (path / CONFIG_FILE).exists():
            raise InputError(f"Refusing to overwrite '{path}': it is not an scDiffusion model directory.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        config = {**config, "format_version": FORMAT_VERSION}
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        (tmp / GENES_FILE).write_text("\n".join(genes) + "\n")
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS_FILE))
        if history is not None:
            (tmp / HISTORY_FILE).write_text(json.dumps(history))
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def read_model_dir(path: str | os.PathLike) -> tuple[dict, list[str], dict[str, torch.Tensor], dict | None]:
    """Read a model directory written by :func:`write_model_dir`, with errors that say how to fix it."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"Model directory '{path}' does not exist. Train a model first (`scdiffusion train`).")
    missing = [f for f in (CONFIG_FILE, GENES_FILE, WEIGHTS_FILE) if not (path / f).exists()]
    if missing:
        raise InputError(f"'{path}' is not a complete scDiffusion model directory: missing {missing}.")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path / CONFIG_FILE} is not valid JSON ({err}). The model directory is damaged.") from err
    version = config.get("format_version")
    if not isinstance(version, int):
        raise InputError(f"{path / CONFIG_FILE} has no format_version; it was not written by scDiffusion.")
    if version > FORMAT_VERSION:
        raise InputError(
            f"Model directory '{path}' has format version {version}, newer than this scDiffusion supports "
            f"({FORMAT_VERSION}). Upgrade scDiffusion (saved by version {config.get('scdiffusion_version')})."
        )
    genes = [g for g in (path / GENES_FILE).read_text().splitlines() if g]
    try:
        tensors = load_file(str(path / WEIGHTS_FILE))
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(
            f"Weights file {path / WEIGHTS_FILE} is truncated or corrupted ({err}). Re-train or restore the "
            "model directory from a backup."
        ) from err
    history = None
    if (path / HISTORY_FILE).exists():
        history = json.loads((path / HISTORY_FILE).read_text())
    return config, genes, tensors, history
