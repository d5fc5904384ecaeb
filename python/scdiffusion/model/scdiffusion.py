"""The user-facing model: AnnData in, trained autoencoder + latent diffusion + classifiers, AnnData out."""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import __version__
from ..data.io import check_output_path, read_anndata, write_atomic
from ..data.backed import BackedBatchSource, BackedCounts, CSRWriter, iter_kept_cells, scan_counts
from ..data.preprocessing import Preprocessor
from ..data.registry import LabelRegistry
from ..data.validation import InputError, check_label_column
from ..diffusion import SAMPLERS, ClassifierGuidance, GaussianDiffusion, Sampler, sample_loop
from ..data.preprocessing import log_normalize
from ..nn import Autoencoder, NoisyClassifier, SkipMLP
from ..nn.likelihood import OUTPUT_LIKELIHOODS
from ..train import Checkpointer, TrainConfig, distributed, fit, load_checkpoint, save_atomic
from .pretrained import PretrainedSCimilarity
from .serialization import read_model_dir, write_model_dir

logger = logging.getLogger(__name__)

SETUP_KEY = "_scdiffusion_setup"

#: Default training budgets: good quality for a few thousand cells in minutes on a 2-core CPU.
DEFAULT_AUTOENCODER = TrainConfig(max_steps=2000, batch_size=128, lr=5e-4, weight_decay=0.01, eval_every=100,
                                  patience=5)
DEFAULT_DIFFUSION = TrainConfig(max_steps=6000, batch_size=128, lr=1e-3, weight_decay=1e-4, eval_every=200,
                                patience=5, ema_decay=0.999, lr_schedule="linear")
DEFAULT_CLASSIFIER = TrainConfig(max_steps=1500, batch_size=128, lr=1e-3, weight_decay=1e-4, eval_every=100,
                                 patience=5)
#: Budgets for large data sets on a GPU (the original code's scale).
GPU_AUTOENCODER = replace(DEFAULT_AUTOENCODER, max_steps=150_000, eval_every=1000, patience=10)
GPU_DIFFUSION = replace(DEFAULT_DIFFUSION, max_steps=500_000, batch_size=1024, lr=1e-4, eval_every=5000,
                        patience=10, ema_decay=0.9999)
GPU_CLASSIFIER = replace(DEFAULT_CLASSIFIER, max_steps=50_000, eval_every=1000, patience=10)
PRESETS = {"cpu": (DEFAULT_AUTOENCODER, DEFAULT_DIFFUSION, DEFAULT_CLASSIFIER),
           "gpu": (GPU_AUTOENCODER, GPU_DIFFUSION, GPU_CLASSIFIER)}
#: How a count likelihood's dispersion is fitted (see ``ScDiffusion``).
NOISE_FITS = ("joint", "eval-train", "eval-validation")
#: Backed (out-of-core) training holds out at most this many validation cells (read once into memory).
BACKED_VALIDATION_CELLS = 2000


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; anything else is checked for availability."""
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise InputError(f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"Device {device!r} was requested but CUDA is not available; use --device cpu or auto.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"Device {device!r} was requested but MPS is not available; use --device cpu or auto.")
    return dev


def _generator(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed))


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InputError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


class ScDiffusion:
    """scDiffusion: autoencoder + latent DDPM + noise-aware classifiers for guided generation.

    Parameters
    ----------
    adata
        Training cells (AnnData or path to ``.h5ad``) with raw integer counts in ``X`` or ``layer``.
    labels_keys
        ``obs`` columns to train one classifier each on (conditions usable at generation).
    layer
        Layer holding raw counts (default ``X``).
    pretrained
        Optional SCimilarity model folder to fine-tune the autoencoder from.
    n_latent, hidden, dropout, input_dropout, likelihood
        Autoencoder architecture (SCimilarity layout by default). ``likelihood`` is ``"nb"`` (default:
        negative binomial over raw counts, generated cells get integer counts), ``"zinb"``, or ``"mse"``
        (the paper's regression of log-normalised expression; on held-out PBMCs its cells are trivially
        separable from real ones, see ``benchmarks/README.md``).
    noise_fit
        How a count likelihood's dispersion is fitted: ``"joint"`` (with the network, under dropout),
        ``"eval-train"`` (refitted after training with the network in eval mode on the training cells) or
        ``"eval-validation"`` (the same on the validation cells); see ``benchmarks/results/decoder/``.
    min_cells, min_counts, target_sum
        Preprocessing (paper defaults).
    min_cells_per_label
        Labels with fewer training cells are refused (the classifier cannot learn them).
    validation_fraction
        Cells held out for early stopping (none when fewer than 20 cells).
    device
        ``"auto"`` (cuda, mps, cpu) or an explicit torch device.
    seed
        Seed of initialisation, validation split and training batches.
    backed
        Out-of-core training for data larger than memory: ``adata`` is the path of an ``.h5ad`` whose counts
        (``X`` or ``layer``) are CSR (or dense); they are validated and filtered in one chunked pass and
        streamed from disk while the autoencoder trains; all cells are then encoded once, chunk by chunk, to
        latents (in memory: cells × ``n_latent`` floats) for the diffusion model and classifiers. At most
        2,000 cells are held out for validation. Resumable checkpoints are not available in this mode.

    Examples
    --------
    >>> model = ScDiffusion(adata, labels_keys=["cell_type"])
    >>> model.train()
    >>> gen = model.generate(200, condition={"cell_type": "B"})
    >>> model.save("my_model")
    """

    def __init__(self, adata: ad.AnnData | str | os.PathLike | None, labels_keys: Sequence[str] | str | None = None,
                 layer: str | None = None, *, pretrained: str | os.PathLike | None = None, n_latent: int = 128,
                 hidden: Sequence[int] = (1024, 1024, 1024), dropout: float = 0.2, input_dropout: float = 0.2,
                 likelihood: str = "nb", noise_fit: str = "joint", min_cells: int = 3, min_counts: int = 10,
                 target_sum: float = 1e4,
                 min_cells_per_label: int = 5, validation_fraction: float = 0.1, n_timesteps: int = 1000,
                 device: str = "auto", seed: int = 0, backed: bool = False):
        self.device = resolve_device(device)
        self._backed = None
        self.seed = int(seed)
        self.diffusion = GaussianDiffusion(n_timesteps)
        self.history: dict = {}
        self.is_trained = False
        self.latent_mean: torch.Tensor | None = None
        self.latent_std: float | None = None
        self.pretrained_summary: dict | None = None
        if adata is None:  # used by load()
            return
        if backed:
            adata = self._backed_path(adata)
            setup = {}
        else:
            adata = read_anndata(adata)
            setup = adata.uns.get(SETUP_KEY, {}) if isinstance(adata.uns.get(SETUP_KEY), Mapping) else {}
        if labels_keys is None:
            labels_keys = list(setup.get("labels_keys", []))
        if layer is None:
            layer = setup.get("layer")
        labels_keys = [labels_keys] if isinstance(labels_keys, str) else list(labels_keys)
        if len(set(labels_keys)) != len(labels_keys):
            raise InputError(f"labels_keys has duplicates: {labels_keys}.")
        self.layer = layer
        self.arch = {"n_latent": int(n_latent), "hidden": [int(h) for h in hidden], "dropout": float(dropout),
                     "input_dropout": float(input_dropout), "likelihood": likelihood, "noise_fit": noise_fit}
        if likelihood not in OUTPUT_LIKELIHOODS:
            raise InputError(f"Unknown likelihood {likelihood!r}; available: {sorted(OUTPUT_LIKELIHOODS)}.")
        if noise_fit not in NOISE_FITS:
            raise InputError(f"Unknown noise_fit {noise_fit!r}; choose one of {list(NOISE_FITS)}.")
        if not 0.0 <= validation_fraction < 0.5:
            raise InputError(f"validation_fraction must be in [0, 0.5), got {validation_fraction}.")

        self.preprocessor = Preprocessor(min_cells=min_cells, min_counts=min_counts, target_sum=target_sum)
        if backed:
            self._setup_backed(adata, labels_keys, layer, min_cells_per_label, validation_fraction)
        else:
            self._setup_in_memory(adata, labels_keys, layer, min_cells_per_label, validation_fraction)

        torch.manual_seed(self.seed)
        self._build_modules()
        if pretrained is not None:
            pre = PretrainedSCimilarity.read(pretrained)
            if list(pre.hidden) != self.arch["hidden"] or pre.n_latent != self.arch["n_latent"]:
                logger.info("Using the pretrained architecture: hidden %s, latent %d.", pre.hidden, pre.n_latent)
                self.arch.update(hidden=list(pre.hidden), n_latent=pre.n_latent)
                torch.manual_seed(self.seed)
                self._build_modules()
            self.pretrained_summary = pre.init_autoencoder(self.autoencoder, self.genes)

    def _setup_in_memory(self, adata: ad.AnnData, labels_keys: list[str], layer: str | None,
                         min_cells_per_label: int, validation_fraction: float) -> None:
        """Preprocess ``adata`` into dense training tensors (log-normalised, counts, library sizes)."""
        likelihood = self.arch["likelihood"]
        x, cell_mask = self.preprocessor.fit_transform(adata, layer)
        label_ids = self._fit_labels(adata.obs.loc[cell_mask], labels_keys, min_cells_per_label)

        rng = np.random.default_rng(self.seed)
        n = x.shape[0]
        n_val = int(round(validation_fraction * n)) if n >= 20 else 0
        perm = rng.permutation(n)
        self._val_idx, self._train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        self._x = torch.from_numpy(x).to(self.device)
        self._labels = {k: torch.from_numpy(v).to(self.device) for k, v in zip(labels_keys, label_ids)}
        self.n_train_cells = int(n)
        counts = self.preprocessor.counts(adata, layer)[np.flatnonzero(cell_mask)]
        lib = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
        # library sizes of the training cells (with their labels): sampled for count-level generation
        self.library_sizes = torch.from_numpy(lib[self._train_idx])
        self.library_labels = {k: torch.from_numpy(v[self._train_idx]) for k, v in zip(labels_keys, label_ids)}
        if OUTPUT_LIKELIHOODS[likelihood].models_counts:
            self._counts = torch.from_numpy(counts.toarray()).to(self.device)
            self._lib = torch.from_numpy(lib).to(self.device)

    def _fit_labels(self, obs: pd.DataFrame, labels_keys: list[str], min_cells_per_label: int) -> list[np.ndarray]:
        """Check the label columns of the kept cells, build the registries, return class ids per column."""
        self.registries: dict[str, LabelRegistry] = {}
        label_ids = []
        for key in labels_keys:
            labels = check_label_column(obs, key, min_cells_per_label=min_cells_per_label)
            reg = LabelRegistry.from_labels(key, obs[key])
            self.registries[key] = reg
            label_ids.append(reg.to_ids(labels))
        self.min_cells_per_label = min_cells_per_label
        return label_ids

    # ------------------------------------------------------------------ out-of-core (backed) data
    @staticmethod
    def _backed_path(adata: ad.AnnData | str | os.PathLike) -> Path:
        if isinstance(adata, ad.AnnData):
            if adata.isbacked:
                return Path(adata.filename)
            raise InputError("backed=True reads the counts from an .h5ad file: pass its path (or an AnnData opened "
                             "with `anndata.read_h5ad(path, backed='r')`), or use backed=False for data in memory.")
        if not isinstance(adata, (str, os.PathLike)):
            raise InputError(f"backed=True needs the path of an .h5ad file, got {type(adata).__name__}.")
        return Path(adata)

    def _setup_backed(self, path: Path, labels_keys: list[str], layer: str | None, min_cells_per_label: int,
                      validation_fraction: float) -> None:
        """Scan the counts on disk in chunks (validation, gene/cell filters, library sizes); keep only labels,
        library sizes and the split in memory."""
        import time

        t0 = time.perf_counter()
        counts = BackedCounts(path, layer)
        scan = scan_counts(counts, self.preprocessor)
        seconds = time.perf_counter() - t0
        self._backed = (counts, scan)
        label_ids = self._fit_labels(counts.obs.loc[scan.cell_mask], labels_keys, min_cells_per_label)
        n = int(scan.cell_mask.sum())
        n_val = min(int(round(validation_fraction * n)) if n >= 20 else 0, BACKED_VALIDATION_CELLS)
        perm = np.random.default_rng(self.seed).permutation(n)
        self._val_idx, self._train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        self._labels = {k: torch.from_numpy(v).to(self.device) for k, v in zip(labels_keys, label_ids)}
        self.n_train_cells = n
        self.library_sizes = torch.from_numpy(scan.library[self._train_idx])
        self.library_labels = {k: torch.from_numpy(v[self._train_idx]) for k, v in zip(labels_keys, label_ids)}
        self.backed_summary = {"path": str(path), "n_cells_file": counts.n_obs, "n_genes_file": counts.n_vars,
                               "n_cells": n, "n_genes": len(self.genes), "n_validation": n_val,
                               "scan_seconds": seconds, "scan_cells_per_s": counts.n_obs / max(seconds, 1e-9)}

    def _train_autoencoder_backed(self, cfg: TrainConfig, gen: torch.Generator, progress: bool) -> None:
        """Autoencoder on batches streamed from disk through a buffer; validation cells read once."""
        counts, scan = self._backed
        source = BackedBatchSource(counts, scan, self._train_idx, self.preprocessor.target_sum,
                                   with_counts=self.models_counts, device=self.device)
        val_data = source.read_file_rows(np.flatnonzero(scan.cell_mask)[self._val_idx]) if len(self._val_idx) else ()
        ae = self.autoencoder.train()

        @torch.no_grad()
        def val_fn(model):
            chunks = zip(*(torch.split(t, 1024) for t in val_data))
            return float(np.mean([model.loss(*c).item() for c in chunks]))

        model, hist = fit(ae, ae.loss, source, cfg, val_fn=val_fn if len(self._val_idx) else None, generator=gen,
                          desc="autoencoder", progress=progress)
        hist["buffer_refills"] = source.n_refills
        self.autoencoder = model.eval()
        self.history["autoencoder"] = hist

    @torch.no_grad()
    def _encode_backed(self, progress: bool = True) -> torch.Tensor:
        """Unit-norm latents of every kept cell, read and encoded chunk by chunk."""
        import time

        counts, scan = self._backed
        t0 = time.perf_counter()
        z = torch.empty((int(scan.cell_mask.sum()), self.arch["n_latent"]), device=self.device)
        pos = 0
        for c in iter_kept_cells(counts, scan, progress=progress, desc="encoding"):
            x = torch.from_numpy(log_normalize(c, self.preprocessor.target_sum))
            z[pos:pos + len(x)] = self._encode_log(x)
            pos += len(x)
        seconds = time.perf_counter() - t0
        self.backed_summary.update(encode_seconds=seconds, encode_cells_per_s=pos / max(seconds, 1e-9))
        return z

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def setup_anndata(adata: ad.AnnData, layer: str | None = None,
                      labels_keys: Sequence[str] | str | None = None) -> None:
        """Record which layer holds counts and which ``obs`` columns are labels (in ``adata.uns``).

        A following ``ScDiffusion(adata)`` uses these settings. Checks them right away.
        """
        keys = [labels_keys] if isinstance(labels_keys, str) else list(labels_keys or [])
        if layer is not None and layer not in adata.layers:
            raise InputError(f"Layer '{layer}' is not in adata.layers ({', '.join(adata.layers.keys()) or 'none'}).")
        for key in keys:
            check_label_column(adata.obs, key, min_cells_per_label=1)
        adata.uns[SETUP_KEY] = {"layer": layer, "labels_keys": keys}

    def _build_modules(self) -> None:
        a = self.arch
        self.autoencoder = Autoencoder(len(self.genes), a["n_latent"], a["hidden"], a["dropout"],
                                       a["input_dropout"], a["likelihood"],
                                       self.preprocessor.target_sum).to(self.device).eval()
        self.denoiser = SkipMLP(a["n_latent"]).to(self.device).eval()
        self.classifiers = {k: NoisyClassifier(a["n_latent"], r.n_classes).to(self.device).eval()
                            for k, r in self.registries.items()}

    @property
    def genes(self) -> list[str]:
        """Genes the model reads and generates, in order."""
        return self.preprocessor.genes

    @property
    def labels_keys(self) -> list[str]:
        return list(self.registries)

    def __repr__(self) -> str:
        labels = ", ".join(f"{k} ({r.n_classes} labels)" for k, r in self.registries.items()) or "none"
        state = "trained" if self.is_trained else "not trained"
        return (f"ScDiffusion ({state}) over {len(self.genes)} genes; classifiers: {labels}; "
                f"latent {self.arch['n_latent']}; device {self.device}")

    # ------------------------------------------------------------------ training
    def train(self, *, preset: Literal["cpu", "gpu"] = "cpu", max_time: float | None = None,
              autoencoder: Mapping | None = None, diffusion: Mapping | None = None,
              classifier: Mapping | None = None, progress: bool = True,
              checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 200) -> ScDiffusion:
        """Train the autoencoder, then the latent diffusion model, then one classifier per label column.

        Parameters
        ----------
        preset
            ``"cpu"``: budgets reaching good quality for a few thousand cells in minutes on 2 CPU cores;
            ``"gpu"``: the original code's scale (hundreds of thousands of steps).
        max_time
            Wall-time budget in seconds for the whole training, split 25 % / 60 % / 15 % over the stages
            (each stage also stops early when its validation loss stops improving).
        autoencoder, diffusion, classifier
            Overrides of the stage's :class:`~scdiffusion.train.TrainConfig` fields, e.g.
            ``diffusion={"max_steps": 20000}``.
        checkpoint_dir
            Folder for resumable checkpoints (written every ``checkpoint_every`` steps and after each stage).
            Calling ``train`` again with the same folder, on the same data and settings, resumes where an
            interrupted run stopped, losing at most ``checkpoint_every`` steps.

        Returns
        -------
        ``self``, trained.
        """
        if not hasattr(self, "_x") and self._backed is None:
            raise InputError("This model was loaded from disk without training data; it can generate but not train.")
        if self._backed is not None and checkpoint_dir is not None:
            raise InputError("Resumable checkpoints (checkpoint_dir) are not available with backed=True: the streamed "
                             "batches cannot be replayed. Train without checkpoint_dir, or in memory (backed=False).")
        if preset not in PRESETS:
            raise InputError(f"preset must be one of {list(PRESETS)}, got {preset!r}.")
        if max_time is not None and max_time <= 0:
            raise InputError(f"max_time must be positive, got {max_time}.")
        cfgs = []
        clf_share = 0.15 / max(1, len(self.registries))
        for base, over, share in zip(PRESETS[preset], (autoencoder, diffusion, classifier), (0.25, 0.6, clf_share)):
            try:
                cfg = replace(base, **dict(over or {}))
            except TypeError as err:
                raise InputError(f"Unknown training option: {err}. Options: {list(base.to_dict())}.") from err
            if max_time is not None and "max_time" not in (over or {}):
                cfg = replace(cfg, max_time=max_time * share)
            cfgs.append(cfg)
        ae_cfg, diff_cfg, clf_cfg = cfgs
        distributed.init_from_env()  # under torchrun: data-parallel training, rank 0 writes files
        torch.manual_seed(self.seed)
        ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if ckpt_dir is not None:
            if distributed.is_main():
                self._check_checkpoint_dir(ckpt_dir)
            distributed.barrier()
        stages = [("autoencoder", lambda g, c: self._train_autoencoder(ae_cfg, g, progress, c))]
        stages.append(("diffusion", lambda g, c: self._train_diffusion(diff_cfg, g, progress, c)))
        for key in self.registries:
            stages.append((f"classifier:{key}",
                           lambda g, c, key=key: self._train_classifier(key, clf_cfg, g, progress, c)))
        for i, (name, run) in enumerate(stages):
            gen = _generator(self.seed + 1000 * (i + 1))
            tag = name.replace(":", "_").replace("/", "_")
            done = ckpt_dir / f"{tag}.done.pt" if ckpt_dir is not None else None
            if done is not None and done.exists():
                self._restore_stage(name, load_checkpoint(done))
            else:
                run(gen, Checkpointer(ckpt_dir / f"{tag}.partial.pt", checkpoint_every) if ckpt_dir else None)
                if done is not None and distributed.is_main():
                    save_atomic(self._stage_state(name), done)
                    (ckpt_dir / f"{tag}.partial.pt").unlink(missing_ok=True)
                distributed.barrier()
            if name == "autoencoder":
                self._fit_latent_scale()
        self.is_trained = True
        return self

    def _fingerprint(self) -> dict:
        return {"genes": len(self.genes), "genes_head": self.genes[:5], "n_cells": int(self._x.shape[0]),
                "x_sum": round(float(self._x.sum()), 2), "seed": self.seed, "arch": self.arch,
                "labels": [r.to_dict() for r in self.registries.values()]}

    def _check_checkpoint_dir(self, ckpt_dir: Path) -> None:
        import json

        ckpt_dir.mkdir(parents=True, exist_ok=True)
        fp_file = ckpt_dir / "fingerprint.json"
        fp = json.loads(json.dumps(self._fingerprint()))
        if fp_file.exists():
            if json.loads(fp_file.read_text()) != fp:
                raise InputError(f"Checkpoints in '{ckpt_dir}' belong to another data set or settings. Use another "
                                 "checkpoint folder or delete this one to start over.")
        else:
            fp_file.write_text(json.dumps(fp))

    def _stage_module(self, name: str) -> torch.nn.Module:
        if name == "autoencoder":
            return self.autoencoder
        if name == "diffusion":
            return self.denoiser
        return self.classifiers[name.split(":", 1)[1]]

    def _stage_state(self, name: str) -> dict:
        return {"weights": self._stage_module(name).state_dict(), "history": self.history[name]}

    def _restore_stage(self, name: str, state: dict) -> None:
        self._stage_module(name).load_state_dict(state["weights"])
        self._stage_module(name).eval()
        self.history[name] = state["history"]
        logger.info("%s: restored from a finished checkpoint.", name)

    def _split(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return t[torch.from_numpy(self._train_idx).to(t.device)], t[torch.from_numpy(self._val_idx).to(t.device)]

    def _train_autoencoder(self, cfg: TrainConfig, gen: torch.Generator, progress: bool,
                           ckpt: Checkpointer | None = None) -> None:
        if self._backed is not None:
            return self._train_autoencoder_backed(cfg, gen, progress)
        data = (self._x, self._counts, self._lib) if hasattr(self, "_counts") else (self._x,)
        train_data = tuple(self._split(t)[0] for t in data)
        val_data = tuple(self._split(t)[1] for t in data)
        x_val = val_data[0]
        ae = self.autoencoder.train()

        @torch.no_grad()
        def val_fn(model):
            chunks = zip(*(torch.split(t, 1024) for t in val_data))
            return float(np.mean([model.loss(*c).item() for c in chunks]))

        model, hist = fit(ae, ae.loss, train_data, cfg, val_fn=val_fn if len(x_val) else None, generator=gen,
                          desc="autoencoder", progress=progress, checkpoint=ckpt)
        self.autoencoder = model.eval()
        fit_on = {"eval-train": train_data, "eval-validation": val_data}.get(self.arch.get("noise_fit", "joint"))
        if fit_on is not None and self.models_counts and len(fit_on[0]):
            hist["noise_refit_nll"] = self.autoencoder.refit_noise(*fit_on)
        self.history["autoencoder"] = hist

    @torch.no_grad()
    def _encode_log(self, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Unit-norm latents of log-normalised cells (autoencoder in eval mode)."""
        self.autoencoder.eval()
        return torch.cat([self.autoencoder.encode(b.to(self.device)) for b in torch.split(x, batch_size)])

    def _fit_latent_scale(self) -> None:
        if self._backed is not None:  # in place: one cells × n_latent tensor at a time besides the training split
            z = self._encode_backed()
            z_tr, _ = self._split(z)
            self.latent_mean = z_tr.mean(0)
            self.latent_std = float(z_tr.sub_(self.latent_mean).std())
            del z_tr
            logger.info("Latent scale: per-dimension std %.4f before scaling to unit variance.", self.latent_std)
            self._z = z.sub_(self.latent_mean).div_(self.latent_std)
            return
        z = self._encode_log(self._x)
        z_tr, _ = self._split(z)
        self.latent_mean = z_tr.mean(0)
        self.latent_std = float((z_tr - self.latent_mean).std())
        logger.info("Latent scale: per-dimension std %.4f before scaling to unit variance.", self.latent_std)
        self._z = (z - self.latent_mean) / self.latent_std

    def _train_diffusion(self, cfg: TrainConfig, gen: torch.Generator, progress: bool,
                         ckpt: Checkpointer | None = None) -> None:
        z_tr, z_val = self._split(self._z)
        T = self.diffusion.n_timesteps
        vgen = _generator(self.seed + 1)
        # fixed validation noise and time steps: a deterministic validation loss
        reps = max(1, 2048 // max(1, len(z_val)))
        z_v = z_val.repeat(reps, 1)
        t_v = torch.randint(0, T, (len(z_v),), generator=vgen).to(self.device)
        n_v = torch.randn(z_v.shape, generator=vgen).to(self.device)

        def draw_fn(n: int, g: torch.Generator):
            return torch.randint(0, T, (n,), generator=g), torch.randn((n, z_tr.shape[1]), generator=g)

        def loss_fn(z0, t, noise):
            return self.diffusion.training_loss(self.denoiser, z0, t, noise)

        @torch.no_grad()
        def val_fn(model):
            return self.diffusion.training_loss(model, z_v, t_v, n_v).item()

        self.denoiser.train()
        model, hist = fit(self.denoiser, loss_fn, (z_tr,), cfg, val_fn=val_fn if len(z_val) else None,
                          generator=gen, desc="diffusion", progress=progress, checkpoint=ckpt, draw_fn=draw_fn)
        self.denoiser = model.eval()
        self.history["diffusion"] = hist

    def _train_classifier(self, key: str, cfg: TrainConfig, gen: torch.Generator, progress: bool,
                          ckpt: Checkpointer | None = None) -> None:
        reg = self.registries[key]
        y = self._labels[key]
        z_tr, z_val = self._split(self._z)
        y_tr, y_val = self._split(y)
        t_half = self.diffusion.n_timesteps // 2
        counts = torch.bincount(y_tr, minlength=reg.n_classes).float().clamp(min=1)
        weight = (counts.sum() / (reg.n_classes * counts)).to(self.device)  # balanced classes
        vgen = _generator(self.seed + 2)
        reps = max(1, 2048 // max(1, len(z_val)))
        z_v, y_v = z_val.repeat(reps, 1), y_val.repeat(reps)
        t_v = torch.randint(0, t_half, (len(z_v),), generator=vgen).to(self.device)
        x_v = self.diffusion.q_sample(z_v, t_v, torch.randn(z_v.shape, generator=vgen).to(self.device))
        clf = self.classifiers[key].train()

        def draw_fn(n: int, g: torch.Generator):
            return torch.randint(0, t_half, (n,), generator=g), torch.randn((n, z_tr.shape[1]), generator=g)

        def loss_fn(z0, y0, t, noise):
            # mean of class-weighted losses over the batch rows (weights average 1 over the training cells):
            # unlike F.cross_entropy(weight=...), it splits exactly over the shares of a distributed batch
            ce = F.cross_entropy(clf(self.diffusion.q_sample(z0, t, noise), t), y0, reduction="none")
            return (ce * weight[y0]).mean()

        @torch.no_grad()
        def val_fn(model):
            return F.cross_entropy(model(x_v, t_v), y_v, weight=weight).item()

        model, hist = fit(clf, loss_fn, (z_tr, y_tr), cfg, val_fn=val_fn if len(z_val) else None, generator=gen,
                          desc=f"classifier {key}", progress=progress, checkpoint=ckpt, draw_fn=draw_fn)
        if len(z_val):
            with torch.no_grad():
                hist["val_accuracy"] = float((model(x_v, t_v).argmax(1) == y_v).float().mean())
        self.classifiers[key] = model.eval()
        self.history[f"classifier:{key}"] = hist

    # ------------------------------------------------------------------ latent <-> genes
    def _require_trained(self) -> None:
        if not self.is_trained:
            raise InputError("The model is not trained yet. Call model.train() first (CLI: scdiffusion train).")

    def _scale(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.latent_mean.to(z.device)) / self.latent_std

    @torch.no_grad()
    def _decode_scaled(self, z_scaled: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
        """Decode scaled latents to log-normalised expression (eval mode, latents projected to the sphere)."""
        self.autoencoder.eval()
        out = []
        for b in torch.split(z_scaled, batch_size):
            z = F.normalize(b.to(self.device) * self.latent_std + self.latent_mean.to(self.device), dim=1)
            out.append(self.autoencoder.decode(z).cpu())
        return torch.cat(out).numpy().astype(np.float32)

    def get_latent_representation(self, adata: ad.AnnData | str | os.PathLike, layer: str | None = None,
                                  scaled: bool = False) -> np.ndarray:
        """Autoencoder latents (unit norm, or diffusion-scaled with ``scaled=True``) of new cells."""
        self._require_trained()
        adata = read_anndata(adata)
        x = torch.from_numpy(self.preprocessor.transform(adata, layer if layer is not None else self.layer))
        z = self._encode_log(x)
        return (self._scale(z) if scaled else z).cpu().numpy()

    # ------------------------------------------------------------------ generation
    def _make_sampler(self, sampler: str, n_steps: int | None, eta: float, t_start: int | None) -> Sampler:
        if sampler not in SAMPLERS:
            raise InputError(f"Unknown sampler {sampler!r}; choose one of {list(SAMPLERS)}.")
        s = SAMPLERS[sampler](self.diffusion, eta=eta) if sampler == "ddim" else SAMPLERS[sampler](self.diffusion)
        T = self.diffusion.n_timesteps
        top = T - 1 if t_start is None else t_start
        if n_steps is None:
            n_steps = {"ddpm": top + 1, "ddim": 100}.get(sampler, 25)
        s.set_timesteps(_check_positive_int(n_steps, "n_steps"), t_start)
        return s

    def _parse_condition(self, condition: Mapping[str, str | Sequence[str]] | None,
                         guidance_scale: float | Mapping[str, float], n_cells: int
                         ) -> dict[str, tuple[np.ndarray, float]]:
        """``{column: (class id of every cell, scale)}``; a condition value is one label or one per cell."""
        out: dict[str, tuple[np.ndarray, float]] = {}
        for key, label in (condition or {}).items():
            if key not in self.registries:
                known = ", ".join(self.registries) or "none (the model was trained without labels_keys)"
                raise InputError(f"No classifier for column '{key}'. Columns with classifiers: {known}.")
            scale = guidance_scale.get(key, 2.0) if isinstance(guidance_scale, Mapping) else guidance_scale
            try:
                scale = float(scale)
            except (TypeError, ValueError):
                raise InputError(f"guidance_scale must be a number, got {scale!r}.") from None
            if not np.isfinite(scale) or scale < 0 or scale > 1000:
                raise InputError(f"guidance_scale must be a finite number in [0, 1000], got {scale}.")
            if isinstance(label, str) or np.isscalar(label):
                ids = np.full(n_cells, self.registries[key].to_id(str(label)))
            else:
                labels = [str(v) for v in label]
                if len(labels) != n_cells:
                    raise InputError(f"condition['{key}'] has {len(labels)} labels; give one label or n_cells "
                                     f"({n_cells}) labels.")
                ids = self.registries[key].to_ids(labels)
            out[key] = (ids, scale)
        if isinstance(guidance_scale, Mapping):
            extra = set(guidance_scale) - set(out)
            if extra:
                raise InputError(f"guidance_scale names columns without a condition: {sorted(extra)}.")
        return out

    def _guidance_t_max(self, guidance_t_max: int | None) -> int:
        T = self.diffusion.n_timesteps
        t_max = T // 2 if guidance_t_max is None else int(guidance_t_max)
        if not 0 <= t_max <= T:
            raise InputError(f"guidance_t_max must be in [0, {T}], got {t_max}.")
        return t_max

    @torch.no_grad()
    def _run_sampler(self, x: torch.Tensor, sampler: Sampler, guidance: ClassifierGuidance | None,
                     gen: torch.Generator, batch_size: int, progress: bool, desc: str) -> torch.Tensor:
        out = []
        for start in range(0, len(x), batch_size):
            rows = slice(start, min(start + batch_size, len(x)))
            out.append(sample_loop(self.denoiser, sampler, x[rows].to(self.device), guidance=guidance, rows=rows,
                                   generator=gen, progress=progress, desc=desc).cpu())
        return torch.cat(out)

    def generate(self, n_cells: int, condition: Mapping[str, str | Sequence[str]] | None = None, *,
                 guidance_scale: float | Mapping[str, float] = 2.0, sampler: Literal["dpmpp-sde", "ddpm", "ddim", "dpmpp"] = "dpmpp-sde",
                 n_steps: int | None = None, eta: float = 0.0, guidance_t_max: int | None = None, seed: int = 0,
                 batch_size: int = 4096, progress: bool = True) -> ad.AnnData:
        """Generate cells, optionally guided towards labels of one or several classifiers.

        Parameters
        ----------
        n_cells
            Number of cells.
        condition
            ``{obs column: label}``. One entry: cells of that label; several: the combination (e.g. a cell
            type in a tissue never seen together in training). A value may also be a sequence of
            ``n_cells`` labels (one per cell), e.g. to generate every cell type in one batch.
        guidance_scale
            Classifier guidance weight γ (paper: 2), or ``{column: γ}`` for per-classifier weights.
        sampler
            ``"dpmpp-sde"`` (default: stochastic DPM-Solver++(2M), 25 steps matched the realism of 1000-step
            ancestral sampling in ``benchmarks/sampling_steps.py`` at ~35× its speed), ``"ddpm"`` (the paper's
            ancestral sampler), ``"ddim"`` (deterministic with ``eta=0``) or ``"dpmpp"`` (the deterministic
            DPM-Solver++(2M); like DDIM, its ODE samples were measurably less realistic on PBMC).
        n_steps
            Sampling steps (default: 25 for the DPM-Solver++ samplers, all 1000 for DDPM, 100 for DDIM).
        guidance_t_max
            Guidance applies at original time steps ``t < guidance_t_max`` (default T/2), whatever ``n_steps``.
        seed
            Same seed, same machine → identical cells.

        Returns
        -------
        AnnData with log-normalised expression in ``X`` over :attr:`genes` (with a count likelihood:
        sampled integer counts in ``layers['counts']``, ``X`` their log-normalisation, and the sampled
        ``library_size`` in ``obs``); ``obs`` holds the condition columns; ``obsm['X_scdiffusion']`` the unit-norm latents; ``uns['scdiffusion']`` the parameters.
        """
        self._require_trained()
        n_cells = _check_positive_int(n_cells, "n_cells")
        batch_size = _check_positive_int(batch_size, "batch_size")
        cond = self._parse_condition(condition, guidance_scale, n_cells)
        s = self._make_sampler(sampler, n_steps, eta, None)
        gen = _generator(seed)
        x = torch.randn((n_cells, self.arch["n_latent"]), generator=gen)
        guidance = None
        if cond:
            clfs, weights = [], []
            for key, (ids, scale) in cond.items():
                w = torch.zeros(n_cells, self.registries[key].n_classes)
                w[torch.arange(n_cells), torch.from_numpy(ids)] = scale
                clfs.append(self.classifiers[key])
                weights.append(w)
            guidance = ClassifierGuidance(clfs, weights, self._guidance_t_max(guidance_t_max))
        z = self._run_sampler(x, s, guidance, gen, batch_size, progress, "generate")
        obs = pd.DataFrame(index=[f"gen_{i}" for i in range(n_cells)])
        for key, (ids, _) in cond.items():
            obs[key] = pd.Categorical(self.registries[key].to_labels(ids), categories=self.registries[key].categories)
        shown = {k: (v if isinstance(v, str) else "per-cell labels") for k, v in (condition or {}).items()}
        params = {"mode": "generate", "n_cells": n_cells, "condition": shown,
                  "guidance_scale": guidance_scale if isinstance(guidance_scale, (int, float)) else dict(guidance_scale),
                  "sampler": sampler, "n_steps": int(len(s.timesteps)), "eta": eta,
                  "guidance_t_max": self._guidance_t_max(guidance_t_max), "seed": seed}
        return self._to_anndata(z, obs, params, gen)

    def generate_to_file(self, path: str | os.PathLike, n_cells: int,
                         condition: Mapping[str, str | Sequence[str]] | None = None, *, chunk_size: int = 20_000,
                         guidance_scale: float | Mapping[str, float] = 2.0,
                         sampler: Literal["ddpm", "ddim", "dpmpp", "dpmpp-sde"] = "dpmpp-sde",
                         n_steps: int | None = None, eta: float = 0.0, guidance_t_max: int | None = None,
                         seed: int = 0, batch_size: int = 4096, overwrite: bool = False,
                         progress: bool = True) -> Path:
        """Generate any number of cells chunk by chunk, written straight to an ``.h5ad`` file.

        Memory stays bounded by one chunk whatever ``n_cells``. The file is written to a temporary file in
        the same folder and renamed at the end: an error or interruption leaves nothing behind.

        Parameters
        ----------
        path
            Output ``.h5ad`` (its folder must exist).
        n_cells
            Number of cells.
        condition, guidance_scale, n_steps, eta, guidance_t_max, batch_size
            As in :meth:`generate` (a per-cell condition is a sequence of ``n_cells`` labels).
        chunk_size
            Cells generated and written at a time.
        sampler
            As in :meth:`generate`; default ``"dpmpp-sde"`` (25 steps), the few-step sampler matching
            1000-step DDPM realism.
        seed
            Chunk ``i`` uses a seed derived from ``(seed, i)``: the same seed and chunk size give the same file.
        overwrite
            Replace an existing file.

        Returns
        -------
        The path written. The file holds what :meth:`generate` returns: ``X`` (log-normalised, CSR), with a
        count likelihood ``layers['counts']`` (integer counts, CSR) and ``obs['library_size']``, the condition
        columns in ``obs``, ``obsm['X_scdiffusion']``, the parameters in ``uns['scdiffusion']``.
        """
        import time

        import h5py
        import scipy.sparse as sp
        from anndata.io import write_elem
        from tqdm.auto import tqdm

        self._require_trained()
        n_cells = _check_positive_int(n_cells, "n_cells")
        chunk_size = _check_positive_int(chunk_size, "chunk_size")
        path = check_output_path(path, overwrite=overwrite, suffix=".h5ad")
        self._parse_condition(condition, guidance_scale, n_cells)  # errors before any work
        self._make_sampler(sampler, n_steps, eta, None)
        per_cell = {k: np.asarray([str(v) for v in lab]) for k, lab in (condition or {}).items()
                    if not (isinstance(lab, str) or np.isscalar(lab))}
        starts = list(range(0, n_cells, chunk_size))
        seeds = np.random.SeedSequence(int(seed) & (2**63 - 1)).generate_state(len(starts), dtype=np.uint32)
        n_genes = len(self.genes)
        t0 = time.perf_counter()

        def write(tmp: str) -> None:
            with h5py.File(tmp, "w") as f:
                f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
                x_out = CSRWriter(f, "X", n_cells, n_genes)
                layers = f.create_group("layers")
                layers.attrs["encoding-type"], layers.attrs["encoding-version"] = "dict", "0.1.0"
                counts_out = CSRWriter(layers, "counts", n_cells, n_genes) if self.models_counts else None
                obsm = f.create_group("obsm")
                obsm.attrs["encoding-type"], obsm.attrs["encoding-version"] = "dict", "0.1.0"
                z_out = obsm.create_dataset("X_scdiffusion", shape=(n_cells, self.arch["n_latent"]), dtype=np.float32,
                                            chunks=(min(n_cells, 4096), self.arch["n_latent"]))
                z_out.attrs["encoding-type"], z_out.attrs["encoding-version"] = "array", "0.2.0"
                obs_parts, params = [], {}
                bar = tqdm(total=n_cells, desc="generate_to_file", unit="cells", disable=not progress, leave=False)
                for start, chunk_seed in zip(starts, seeds):
                    stop = min(start + chunk_size, n_cells)
                    cond = {k: (per_cell[k][start:stop] if k in per_cell else v) for k, v in (condition or {}).items()}
                    out = self.generate(stop - start, cond, guidance_scale=guidance_scale, sampler=sampler,
                                        n_steps=n_steps, eta=eta, guidance_t_max=guidance_t_max, seed=int(chunk_seed),
                                        batch_size=batch_size, progress=False)
                    x_out.append(sp.csr_matrix(out.X))
                    if counts_out is not None:
                        counts_out.append(sp.csr_matrix(out.layers["counts"]))
                    z_out[start:stop] = out.obsm["X_scdiffusion"]
                    obs_parts.append(out.obs.reset_index(drop=True))
                    params = dict(out.uns["scdiffusion"])
                    bar.update(stop - start)
                bar.close()
                x_out.close()
                if counts_out is not None:
                    counts_out.close()
                obs = pd.concat(obs_parts, ignore_index=True)
                obs.index = pd.Index([f"gen_{i}" for i in range(n_cells)])
                shown = {k: (v if isinstance(v, str) else "per-cell labels") for k, v in (condition or {}).items()}
                params.update(n_cells=n_cells, seed=seed, condition=shown, chunk_size=chunk_size,
                              chunk_seeds="numpy SeedSequence(seed).generate_state(n_chunks)")
                write_elem(f, "obs", obs)
                write_elem(f, "var", pd.DataFrame(index=pd.Index(self.genes)))
                write_elem(f, "uns", {"scdiffusion": params})
                for name in ("varm", "obsp", "varp"):
                    write_elem(f, name, {})

        write_atomic(path, write)
        seconds = time.perf_counter() - t0
        logger.info("generate_to_file: %d cells in %.1f s (%.0f cells/s) written to %s.", n_cells, seconds,
                    n_cells / max(seconds, 1e-9), path)
        return path

    @property
    def models_counts(self) -> bool:
        """Whether the decoder models raw counts (``likelihood`` ``"nb"`` or ``"zinb"``)."""
        return self.autoencoder.likelihood.models_counts

    def _sample_library(self, obs: pd.DataFrame, gen: torch.Generator) -> torch.Tensor:
        """Library size of every generated cell, drawn from training cells sharing its conditions."""
        lib = torch.empty(len(obs))
        keys = [k for k in obs.columns if k in self.registries]
        groups = obs.groupby(keys, observed=True).indices if keys else {(): np.arange(len(obs))}
        for labels, rows in groups.items():
            labels = labels if isinstance(labels, tuple) else (labels,)
            mask = torch.ones(len(self.library_sizes), dtype=torch.bool)
            for key, label in zip(keys, labels):
                mask &= self.library_labels[key] == self.registries[key].to_id(str(label))
            if not mask.any() and keys:  # unseen combination: cells of the first condition
                mask = self.library_labels[keys[0]] == self.registries[keys[0]].to_id(str(labels[0]))
            pool = self.library_sizes[mask]
            lib[torch.as_tensor(rows)] = pool[torch.randint(0, len(pool), (len(rows),), generator=gen)]
        return lib

    @torch.no_grad()
    def _decode_counts(self, z_scaled: torch.Tensor, library: torch.Tensor, gen: torch.Generator,
                       batch_size: int = 4096) -> np.ndarray:
        self.autoencoder.eval()
        out = []
        for zb, lb in zip(torch.split(z_scaled, batch_size), torch.split(library, batch_size)):
            z = F.normalize(zb.to(self.device) * self.latent_std + self.latent_mean.to(self.device), dim=1)
            out.append(self.autoencoder.sample_counts(z, lb.to(self.device), gen).cpu())
        return torch.cat(out).numpy().astype(np.float32)

    def _to_anndata(self, z_scaled: torch.Tensor, obs: pd.DataFrame, params: dict,
                    gen: torch.Generator | None = None) -> ad.AnnData:
        layers = {}
        if self.models_counts:
            library = self._sample_library(obs, gen)
            counts = self._decode_counts(z_scaled, library, gen)
            obs = obs.assign(library_size=library.numpy())
            x = log_normalize(counts, self.preprocessor.target_sum)
            layers["counts"] = counts
        else:
            x = self._decode_scaled(z_scaled)
        out = ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=pd.Index(self.genes, name=None)), layers=layers)
        z = F.normalize(z_scaled * self.latent_std + self.latent_mean.cpu(), dim=1)
        out.obsm["X_scdiffusion"] = z.numpy()
        out.uns["scdiffusion"] = {**params, "scdiffusion_version": __version__, "values": "log1p(normalize_total("
                                  f"{self.preprocessor.target_sum:g}))"}
        return out

    def interpolate(self, start_cells: ad.AnnData | str | os.PathLike, labels_key: str, start: str, end: str, *,
                    n_states: int = 5, n_cells: int = 100, t_start: int = 600, guidance_scale: float = 2.0,
                    sampler: Literal["dpmpp-sde", "ddpm", "ddim", "dpmpp"] = "dpmpp-sde", n_steps: int | None = None, eta: float = 0.0,
                    guidance_t_max: int | None = None, layer: str | None = None, seed: int = 0,
                    batch_size: int = 4096, progress: bool = True) -> ad.AnnData:
        """Gradient Interpolation between two labels of one classifier.

        Real cells of ``start`` (from ``start_cells``) are encoded and noised to ``t_start``; each state
        ``i = 0 … n_states−1`` then denoises the same noised cells from ``t_start`` with guidance weights
        ``(γ(1−w_i), γ w_i)`` on ``(start, end)``, ``w_i = i / (n_states − 1)``.

        Parameters
        ----------
        start_cells
            Real cells with raw counts and a ``labels_key`` column; the cells labelled ``start`` are used.
        n_states, n_cells
            Number of states and cells per state (start cells are drawn with replacement when fewer).
        t_start
            Noise level the start cells are diffused to, and where denoising begins (paper: 600).

        Returns
        -------
        AnnData with ``n_states × n_cells`` cells; ``obs`` has ``interpolation_state``, ``weight_start``,
        ``weight_end``, the start/end labels and the index of the source cell.
        """
        self._require_trained()
        if labels_key not in self.registries:
            known = ", ".join(self.registries) or "none"
            raise InputError(f"No classifier for column '{labels_key}'. Columns with classifiers: {known}.")
        reg = self.registries[labels_key]
        a, b = reg.to_id(str(start)), reg.to_id(str(end))
        if a == b:
            raise InputError(f"start and end are the same label ({start!r}); interpolation needs two labels.")
        n_states = _check_positive_int(n_states, "n_states")
        if n_states < 2:
            raise InputError("n_states must be at least 2 (the start and the end state).")
        n_cells = _check_positive_int(n_cells, "n_cells")
        T = self.diffusion.n_timesteps
        if isinstance(t_start, bool) or not isinstance(t_start, (int, np.integer)) or not 0 < t_start < T:
            raise InputError(f"t_start must be an integer in [1, {T - 1}], got {t_start!r}.")
        scale = float(guidance_scale)
        if not np.isfinite(scale) or scale < 0:
            raise InputError(f"guidance_scale must be a finite non-negative number, got {guidance_scale}.")
        cells = read_anndata(start_cells)
        if labels_key not in cells.obs.columns:
            raise InputError(f"start_cells has no obs column '{labels_key}'; it must label the real start cells.")
        mask = (cells.obs[labels_key].astype(str) == str(start)).to_numpy()
        if not mask.any():
            raise InputError(f"start_cells has no cell labelled {start!r} in '{labels_key}'.")
        z0 = torch.from_numpy(self.get_latent_representation(cells[mask], layer=layer, scaled=True))
        gen = _generator(seed)
        pick = torch.randint(0, len(z0), (n_cells,), generator=gen) if len(z0) < n_cells else \
            torch.randperm(len(z0), generator=gen)[:n_cells]
        noise = torch.randn((n_cells, z0.shape[1]), generator=gen)
        x_start = self.diffusion.q_sample(z0[pick], torch.full((n_cells,), int(t_start)), noise)
        w_end = np.linspace(0.0, 1.0, n_states)
        x_all = x_start.repeat(n_states, 1)
        weights = torch.zeros(n_states * n_cells, reg.n_classes)
        for i, w in enumerate(w_end):
            weights[i * n_cells:(i + 1) * n_cells, a] = scale * (1 - w)
            weights[i * n_cells:(i + 1) * n_cells, b] = scale * w
        guidance = ClassifierGuidance([self.classifiers[labels_key]], [weights], self._guidance_t_max(guidance_t_max))
        s = self._make_sampler(sampler, n_steps, eta, int(t_start))
        z = self._run_sampler(x_all, s, guidance, gen, batch_size, progress, "interpolate")
        state = np.repeat(np.arange(n_states), n_cells)
        src = np.asarray(cells.obs_names[mask])[pick.numpy()]
        obs = pd.DataFrame({
            "interpolation_state": state,
            "weight_start": np.repeat(scale * (1 - w_end), n_cells),
            "weight_end": np.repeat(scale * w_end, n_cells),
            "interpolation_start": pd.Categorical([str(start)] * len(state)),
            "interpolation_end": pd.Categorical([str(end)] * len(state)),
            "source_cell": np.tile(src, n_states),
        }, index=[f"interp_{s_}_{i}" for s_ in range(n_states) for i in range(n_cells)])
        params = {"mode": "interpolate", "labels_key": labels_key, "start": str(start), "end": str(end),
                  "n_states": n_states, "n_cells": n_cells, "t_start": int(t_start), "guidance_scale": scale,
                  "sampler": sampler, "n_steps": int(len(s.timesteps)), "eta": eta,
                  "guidance_t_max": self._guidance_t_max(guidance_t_max), "seed": seed}
        obs[labels_key] = pd.Categorical(np.where(w_end[state] < 0.5, str(start), str(end)))
        out = self._to_anndata(z, obs, params, gen)
        del out.obs[labels_key]
        return out

    @torch.no_grad()
    def predict_labels(self, adata: ad.AnnData | str | os.PathLike, labels_key: str, *, log_normalized: bool = False,
                       layer: str | None = None) -> np.ndarray:
        """Labels the model's own classifier gives to cells (at t = 0).

        ``log_normalized=True`` takes ``X`` as log-normalised expression over the model's genes (as returned
        by :meth:`generate`); otherwise raw counts are read and normalised.
        """
        self._require_trained()
        if labels_key not in self.registries:
            raise InputError(f"No classifier for column '{labels_key}'.")
        adata = read_anndata(adata)
        if log_normalized:
            self.preprocessor.check_genes(adata.var_names)
            x = adata[:, self.genes].X
            x = torch.from_numpy(np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32))
            z = self._scale(self._encode_log(x))
        else:
            z = torch.from_numpy(self.get_latent_representation(adata, layer=layer, scaled=True)).to(self.device)
        t = torch.zeros(len(z), dtype=torch.long, device=self.device)
        ids = self.classifiers[labels_key](z.to(self.device), t).argmax(1).cpu().numpy()
        return np.asarray(self.registries[labels_key].to_labels(ids))

    # ------------------------------------------------------------------ persistence
    def _config(self) -> dict:
        return {
            "scdiffusion_version": __version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": self.seed,
            "layer": self.layer,
            "preprocessing": self.preprocessor.to_dict(),
            "n_genes": len(self.genes),
            "n_train_cells": getattr(self, "n_train_cells", None),
            "autoencoder": self.arch,
            "diffusion": self.diffusion.to_dict(),
            "denoiser": {"class": "SkipMLP", "weights": "ema"},
            "labels": [r.to_dict() for r in self.registries.values()],
            "min_cells_per_label": self.min_cells_per_label,
            "latent": {"mean": self.latent_mean.cpu().tolist(), "std": self.latent_std},
            "pretrained": self.pretrained_summary,
            "trained": self.is_trained,
        }

    def save(self, dir_path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Save to a model directory (``config.json``, ``genes.txt``, ``model.safetensors``, ``history.json``).

        The directory is written to a temporary folder and renamed into place. Under distributed training
        only rank 0 writes (the others wait for it).
        """
        self._require_trained()
        if not distributed.is_main():
            distributed.barrier()
            return Path(dir_path)
        tensors = {f"autoencoder.{k}": v for k, v in self.autoencoder.state_dict().items()}
        tensors.update({f"denoiser.{k}": v for k, v in self.denoiser.state_dict().items()})
        for i, (key, clf) in enumerate(self.classifiers.items()):
            tensors.update({f"classifier.{i}.{k}": v for k, v in clf.state_dict().items()})
            tensors[f"library.labels.{i}"] = self.library_labels[key]
        tensors["library.sizes"] = self.library_sizes
        try:
            return write_model_dir(dir_path, self._config(), self.genes, tensors, self.history, overwrite=overwrite)
        finally:
            distributed.barrier()

    @classmethod
    def load(cls, dir_path: str | os.PathLike, device: str = "auto") -> ScDiffusion:
        """Load a model directory written by :meth:`save` (weights via safetensors, no pickle)."""
        config, genes, tensors, history = read_model_dir(dir_path)
        self = cls(None, device=device, seed=int(config.get("seed", 0)))
        try:
            self.layer = config.get("layer")
            self.arch = dict(config["autoencoder"])
            self.preprocessor = Preprocessor.from_dict(config["preprocessing"], genes)
            self.registries = {d["key"]: LabelRegistry.from_dict(d) for d in config["labels"]}
            self.min_cells_per_label = int(config.get("min_cells_per_label", 5))
            self.diffusion = GaussianDiffusion(int(config["diffusion"]["n_timesteps"]),
                                               float(config["diffusion"]["beta_start"]),
                                               float(config["diffusion"]["beta_end"]))
            self.latent_mean = torch.tensor(config["latent"]["mean"], dtype=torch.float32, device=self.device)
            self.latent_std = float(config["latent"]["std"])
            self.pretrained_summary = config.get("pretrained")
            self.n_train_cells = config.get("n_train_cells")
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{dir_path}/config.json is missing or has a bad field ({err}).") from err
        if len(genes) != config.get("n_genes", len(genes)):
            raise InputError(f"{dir_path}/genes.txt has {len(genes)} genes, config.json says {config['n_genes']}.")
        self._build_modules()
        parts = {"autoencoder": self.autoencoder, "denoiser": self.denoiser}
        parts.update({f"classifier.{i}": clf for i, clf in enumerate(self.classifiers.values())})
        for prefix, module in parts.items():
            state = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
            try:
                module.load_state_dict(state)
            except RuntimeError as err:
                raise InputError(f"Weights for '{prefix}' in {dir_path} do not match config.json: {err}") from err
            module.to(self.device).eval()
        self.library_sizes = tensors.get("library.sizes", torch.full((1,), 1e4))
        self.library_labels = {k: tensors.get(f"library.labels.{i}", torch.zeros(len(self.library_sizes)))
                               for i, k in enumerate(self.registries)}
        self.history = history or {}
        self.is_trained = bool(config.get("trained", True))
        return self
