"""The order of scDiffusion's training stages, and resuming them from checkpoints.

Autoencoder → latent scale (every kept cell encoded; mean and scale fitted on the training cells) → denoiser →
one classifier per label column. With a checkpoint folder, each stage writes its full training state every
``checkpoint_every`` steps (``<stage>.partial.pt``) and its result when done (``<stage>.done.pt``); running again
with the same folder skips finished stages and resumes the interrupted one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from ..atomic import is_replaceable, read_marker, write_marker
from ..errors import InputError
from ..nn.backbone import value_key
from ..runtime import seeded_generator
from . import distributed
from .autoencoder import train_autoencoder
from .checkpoint import Checkpointer, load_checkpoint, save_atomic
from .classifier import train_classifier
from .diffusion import train_denoiser
from .drawn_weight import choose_drawn_weight
from .loop import BatchSource, TrainConfig
from .realism import realism_score_fn

#: Training cells the dispersion is refitted on (``noise_fit='eval-train'``), drawn at random when there are more.
NOISE_FIT_CELLS = 10_000

logger = logging.getLogger(__name__)


class Data(Protocol):
    """What the stages need of the training data (:class:`scdiffusion.data.training_data.TrainingData`)."""

    n_cells: int
    labels: dict[str, torch.Tensor]
    values: dict[str, torch.Tensor]  # normalised values of the continuous columns
    registries: dict
    library: object  # LibrarySizes of the training cells (sizes and class ids)

    def split(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def autoencoder_batches(self) -> tuple[torch.Tensor, ...] | BatchSource: ...

    def validation_tensors(self) -> tuple[torch.Tensor, ...]: ...

    def iter_log_normalized(self, progress: bool = ...): ...

    def fingerprint(self) -> dict: ...


def stage_names(label_keys: list[str]) -> list[str]:
    """Stages in training order: ``autoencoder``, ``diffusion``, ``classifier:<column>`` …"""
    return ["autoencoder", "diffusion", *(f"classifier:{k}" for k in label_keys)]


def train_stages(module, data: Data, configs: dict[str, TrainConfig], *, seed: int, progress: bool = True,
                 checkpoint_dir: str | Path | None = None, checkpoint_every: int = 200,
                 fingerprint: dict | None = None) -> dict[str, dict]:
    """Train every stage of ``module`` (a :class:`~scdiffusion.module.ScDiffusionModule`) in order.

    Parameters
    ----------
    configs
        ``{"autoencoder" | "diffusion" | "classifier": TrainConfig}`` (see
        :func:`~scdiffusion.train.presets.stage_configs`).
    seed
        Stage ``i`` draws its batches from a generator seeded ``seed + 1000·(i+1)``.
    checkpoint_dir
        Folder of resumable checkpoints, tied to the data and settings by ``fingerprint``.

    Returns
    -------
    The history of every stage, by stage name.
    """
    distributed.init_from_env()  # under torchrun: data-parallel training, rank 0 writes files
    torch.manual_seed(seed)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt_dir is not None:
        fp = {**data.fingerprint(), **(fingerprint or {})}
        if distributed.is_main():
            _check_checkpoint_dir(ckpt_dir, fp)
        distributed.barrier()
    history: dict[str, dict] = {}
    z = None
    for i, name in enumerate(stage_names(list(module.classifiers))):
        gen = seeded_generator(seed + 1000 * (i + 1))
        tag = name.replace(":", "_").replace("/", "_")
        done = ckpt_dir / f"{tag}.done.pt" if ckpt_dir is not None else None
        if done is not None and done.exists():
            history[name] = _restore(module, name, load_checkpoint(done))
        else:
            ckpt = Checkpointer(ckpt_dir / f"{tag}.partial.pt", checkpoint_every) if ckpt_dir is not None else None
            history[name] = _run_stage(module, name, data, z, configs, gen, seed, progress, ckpt)
            if name == "diffusion":  # the weight of drawn labels for unconditional cells, on validation cells
                choice = choose_drawn_weight(module, data.library, data.validation_tensors()[0], seed + 17)
                if choice is not None:
                    history[name]["drawn_weight"] = choice
            if done is not None and distributed.is_main():
                save_atomic({"weights": _network(module, name).state_dict(), "history": history[name]}, done)
                (ckpt_dir / f"{tag}.partial.pt").unlink(missing_ok=True)
            distributed.barrier()
        if name == "autoencoder":
            z = fit_latent_scale(module, data, progress)
    return history


def _network(module, name: str) -> nn.Module:
    if name == "autoencoder":
        return module.autoencoder
    if name == "diffusion":
        return module.denoiser
    return module.classifiers[name.split(":", 1)[1]]


def _set_network(module, name: str, net: nn.Module) -> None:
    if name == "autoencoder":
        module.autoencoder = net
    elif name == "diffusion":
        module.denoiser = net
    else:
        module.classifiers[name.split(":", 1)[1]] = net


def _run_stage(module, name: str, data: Data, z: torch.Tensor | None, configs: dict[str, TrainConfig],
               gen: torch.Generator, seed: int, progress: bool, ckpt: Checkpointer | None) -> dict:
    if name == "autoencoder":
        noise_fit = module.arch.get("noise_fit", "joint")
        net, hist = train_autoencoder(module.autoencoder, data.autoencoder_batches(), data.validation_tensors(),
                                      configs["autoencoder"], generator=gen, progress=progress, checkpoint=ckpt,
                                      noise_fit=noise_fit, count_split=module.arch.get("count_split", 0.0),
                                      noise_cells=data.sample_training_cells(NOISE_FIT_CELLS, seed + 4)
                                      if noise_fit == "eval-train" and module.models_counts else ())
        if hasattr(data, "buffer_refills"):
            hist["buffer_refills"] = data.buffer_refills
    elif name == "diffusion":
        z_tr, z_val = data.split(z)
        labels = {k: data.split(data.labels[k]) for k in module.denoiser.label_keys}
        labels.update({value_key(k): data.split(data.values[k]) for k in module.denoiser.value_keys})
        score = None
        if configs["diffusion"].select_by == "realism":
            if not len(z_val):
                raise InputError("diffusion={'select_by': 'realism'} scores generated cells against the validation "
                                 "cells, but there are none: set validation_fraction > 0 (default 0.1).")
            score = realism_score_fn(module, data.library, data.validation_tensors()[0], seed + 5)
        net, hist = train_denoiser(module.denoiser, module.diffusion, z_tr, z_val, configs["diffusion"],
                                   generator=gen, validation_generator=seeded_generator(seed + 1),
                                   progress=progress, checkpoint=ckpt,
                                   labels_train={k: v[0] for k, v in labels.items()},
                                   labels_val={k: v[1] for k, v in labels.items()},
                                   label_dropout=module.label_dropout, score_fn=score)
    else:
        key = name.split(":", 1)[1]
        z_tr, z_val = data.split(z)
        y_tr, y_val = data.split(data.labels[key])
        net, hist = train_classifier(module.classifiers[key], module.diffusion, z_tr, y_tr, z_val, y_val,
                                     data.registries[key].n_classes, configs["classifier"], generator=gen,
                                     validation_generator=seeded_generator(seed + 2), progress=progress,
                                     checkpoint=ckpt, desc=f"classifier {key}")
    _set_network(module, name, net)
    return hist


def _restore(module, name: str, state: dict) -> dict:
    net = _network(module, name)
    net.load_state_dict(state["weights"])
    net.eval()
    logger.info("%s: restored from a finished checkpoint.", name)
    return state["history"]


def fit_latent_scale(module, data: Data, progress: bool = True) -> torch.Tensor:
    """Encode every kept cell, fit the latent mean and scale on the training cells, and return the scaled latents.

    Works in place on one ``cells × n_latent`` tensor (plus the training rows once), so backed data sets of
    millions of cells need no second copy.
    """
    z = torch.empty((data.n_cells, module.n_latent), device=module.device)
    pos = 0
    for x in data.iter_log_normalized(progress=progress):
        z[pos:pos + len(x)] = module.encode(x)
        pos += len(x)
    z_tr, _ = data.split(z)
    module.latent_mean = z_tr.mean(0)
    module.latent_std = float(z_tr.sub_(module.latent_mean).std())
    del z_tr
    logger.info("Latent scale: per-dimension std %.4f before scaling to unit variance.", module.latent_std)
    return z.sub_(module.latent_mean).div_(module.latent_std)


def _check_checkpoint_dir(ckpt_dir: Path, fingerprint: dict) -> None:
    """Make or reuse a checkpoint folder: empty, or one scDiffusion wrote (its marker, or only its own files)."""
    if ckpt_dir.exists() and not is_replaceable(ckpt_dir, "checkpoint") and not _own_files(ckpt_dir):
        raise InputError(f"Checkpoint folder '{ckpt_dir}' holds files scDiffusion did not write; choose an empty or "
                         "new folder for checkpoints (nothing was changed).")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if read_marker(ckpt_dir) is None:
        write_marker(ckpt_dir, "checkpoint")
    fp_file = ckpt_dir / "fingerprint.json"
    fp = json.loads(json.dumps(fingerprint))
    if fp_file.exists():
        if json.loads(fp_file.read_text()) != fp:
            raise InputError(f"Checkpoints in '{ckpt_dir}' belong to another data set or settings. Use another "
                             "checkpoint folder or delete this one to start over.")
    else:
        fp_file.write_text(json.dumps(fp))


def _own_files(ckpt_dir: Path) -> bool:
    """A checkpoint folder of a release before markers: only ``fingerprint.json`` and ``*.pt`` files."""
    names = [p.name for p in ckpt_dir.iterdir()] if ckpt_dir.is_dir() else [""]
    return "fingerprint.json" in names and all(n == "fingerprint.json" or n.endswith(".pt") for n in names)


__all__ = ["train_stages", "fit_latent_scale", "stage_names"]
