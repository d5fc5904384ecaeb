"""The model directory: ``config.json``, ``genes.txt``, ``model.safetensors``, ``history.json``.

Weights are stored with safetensors (no pickle). A directory is written to a temporary folder and renamed
into place, so an interruption never leaves a half-written model.

Weight names: ``autoencoder.*``, ``denoiser.*``, ``classifier.<label column>.*``, ``library.sizes`` and
``library.labels.<label column>``. Format 1 (release 0.1.0) keyed classifiers and library labels by their
position in ``config["labels"]`` (``classifier.0.*``); :func:`upgrade_tensors` renames them on reading.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..atomic import atomic_dir, check_output_dir
from ..errors import InputError
from ..nn.backbone import LEGACY_VALUE_SCALE

#: the newest format this version reads and writes. 3: the denoiser takes continuous conditions
#: (``config["continuous"]``); a model without them is still written as 2, so older releases keep reading it, and
#: an older release given a format-3 model says "upgrade" instead of failing on unknown weights. 4: the continuous
#: values are embedded at another scale than 1000 (``config["denoiser"]["value_scale"]``), which a format-3 reader
#: would ignore and so generate other cells without a word
FORMAT_VERSION = 4
CONFIG_FILE = "config.json"
GENES_FILE = "genes.txt"
WEIGHTS_FILE = "model.safetensors"
HISTORY_FILE = "history.json"


def format_version(config: dict) -> int:
    """The oldest format that holds ``config``: 2 without continuous columns, 3 with them at value scale 1000, else
    4 (see :data:`FORMAT_VERSION`)."""
    if not config.get("continuous"):
        return 2
    scale = float((config.get("denoiser") or {}).get("value_scale", LEGACY_VALUE_SCALE))
    return 3 if scale == LEGACY_VALUE_SCALE else 4


def write_model_dir(path: str | os.PathLike, config: dict, genes: list[str], tensors: dict[str, torch.Tensor],
                    history: dict | None = None, *, overwrite: bool = False) -> Path:
    """Write a model directory atomically.

    Raises
    ------
    InputError
        When ``path`` exists and ``overwrite`` is false, is a file, or is a folder that is not a model directory.
    """
    path = check_output_dir(path, overwrite=overwrite, kind="model")
    with atomic_dir(path, "model", overwrite=overwrite) as tmp:
        config = {**config, "format_version": format_version(config)}
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        (tmp / GENES_FILE).write_text("\n".join(genes) + "\n")
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS_FILE))
        if history is not None:
            (tmp / HISTORY_FILE).write_text(json.dumps(history))
    return path


def read_model_dir(path: str | os.PathLike) -> tuple[dict, list[str], dict[str, torch.Tensor], dict | None]:
    """Read a model directory written by :func:`write_model_dir`, with errors that say how to fix it."""
    path = Path(path)
    if not path.is_dir():
        if path.is_symlink() and not path.exists():
            raise InputError(f"Model directory '{path}' is a symbolic link that leads nowhere (a loop or a missing "
                             "target); give the model folder's real path.")
        if path.exists():
            raise InputError(f"'{path}' is a file, not a model directory; give the folder that `scdiffusion train` "
                             "(or save()) wrote, the one holding config.json.")
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


def upgrade_tensors(tensors: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    """Weights of an older format under the current names (format 1: classifiers and library labels by position)."""
    if config.get("format_version", FORMAT_VERSION) >= 2:
        return tensors
    keys = [d["key"] for d in config.get("labels", [])]
    out = {}
    for name, t in tensors.items():
        for prefix in ("classifier.", "library.labels."):
            if name.startswith(prefix):
                pos, _, rest = name[len(prefix):].partition(".")
                if pos.isdigit() and int(pos) < len(keys):
                    name = f"{prefix}{keys[int(pos)]}" + (f".{rest}" if rest else "")
                break
        out[name] = t
    return out


def model_config(model) -> dict:
    """``config.json`` of a :class:`~scdiffusion.ScDiffusion`: versions, preprocessing, labels, the module's
    architecture and latent scale (what :func:`load_model` rebuilds the model from)."""
    import platform
    from datetime import datetime, timezone

    from .._version import __version__

    return {
        "scdiffusion_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": model.seed,
        "layer": model.layer,
        "preprocessing": model.preprocessor.to_dict(),
        "n_genes": len(model.genes),
        "n_train_cells": model.n_train_cells,
        **model.module.config(),
        "labels": [r.to_dict() for r in model.registries.values()],
        "continuous": [r.to_dict() for r in getattr(model, "continuous", {}).values()],
        "min_cells_per_label": model.min_cells_per_label,
        "pretrained": model.pretrained_summary,
        "trained": model.is_trained,
        "train_threads": getattr(model, "train_threads", None),
    }


def save_model(model, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``model``'s directory (rank 0 only under distributed training; the others wait)."""
    from ..train import distributed

    if not distributed.is_main():
        distributed.barrier()
        return Path(path)
    tensors = model.module.state_dict()
    tensors["library.sizes"] = model.library.sizes
    tensors.update({f"library.labels.{k}": v for k, v in model.library.labels.items()})
    try:
        return write_model_dir(path, model_config(model), model.genes, tensors, model.history, overwrite=overwrite)
    finally:
        distributed.barrier()


def load_model(cls, path: str | os.PathLike, *, device: str = "auto", threads: int | None = None,
               mixed_precision: bool = False):
    """A ``cls`` (:class:`~scdiffusion.ScDiffusion`) rebuilt from a model directory, without training data."""
    from ..data.continuous import ContinuousRegistry
    from ..data.library import LibrarySizes
    from ..data.preprocessing import Preprocessor
    from ..data.registry import LabelRegistry
    from ..module import ScDiffusionModule
    from ..options import TRAIN
    from ..runtime import parse_threads, resolve_device, thread_policy

    config, genes, tensors, history = read_model_dir(path)
    tensors = upgrade_tensors(tensors, config)
    model = cls.__new__(cls)
    model.device = resolve_device(device)
    model.threads = parse_threads(TRAIN["threads"].check(threads))
    thread_policy(model.threads)
    model.data = None
    try:
        model.seed = int(config.get("seed", 0))
        model.layer = config.get("layer")
        model.preprocessor = Preprocessor.from_dict(config["preprocessing"], genes)
        model.registries = {d["key"]: LabelRegistry.from_dict(d) for d in config["labels"]}
        model.continuous = {d["key"]: ContinuousRegistry.from_dict(d) for d in config.get("continuous", [])}
        model.min_cells_per_label = int(config.get("min_cells_per_label", 5))
        model.pretrained_summary = config.get("pretrained")
        model.n_train_cells = config.get("n_train_cells")
        model.train_threads = config.get("train_threads")
        model.module = ScDiffusionModule.from_config(config, len(genes),
                                                     {k: r.n_classes for k, r in model.registries.items()},
                                                     model.preprocessor.target_sum, device=model.device)
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{path}/config.json is missing or has a bad field ({err}).") from err
    if len(genes) != config.get("n_genes", len(genes)):
        raise InputError(f"{path}/genes.txt has {len(genes)} genes, config.json says {config['n_genes']}.")
    try:
        model.module.load_state_dict(tensors)
    except RuntimeError as err:
        raise InputError(f"Weights in {path} do not match config.json: {err}") from err
    sizes = tensors.get("library.sizes", torch.full((1,), 1e4))
    model.library = LibrarySizes(sizes, {k: tensors.get(f"library.labels.{k}", torch.zeros(len(sizes)))
                                         for k in model.registries})
    model.module.mixed_precision = TRAIN["mixed_precision"].check(mixed_precision)
    model.history = history or {}
    model.is_trained = bool(config.get("trained", True))
    return model
