"""The user-facing model: AnnData in, trained autoencoder + latent diffusion + classifiers, AnnData out.

:class:`ScDiffusion` only composes: the data layer reads and preprocesses cells (:mod:`scdiffusion.data`), the
tensor module holds the networks (:mod:`scdiffusion.module`), the training plans train them
(:mod:`scdiffusion.train`), conditions become guidance weights and samplers come from their registry
(:mod:`scdiffusion.diffusion`), latents become AnnData (:mod:`.outputs`), :mod:`.serialization` reads and writes
the model directory. Every parameter's default and bounds are declared in :mod:`scdiffusion.options`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import anndata as ad
import numpy as np
import torch

from ..data.io import read_anndata
from ..data.preprocessing import Preprocessor
from ..data.registry import LabelRegistry
from ..data.setup import read_setup, setup_anndata
from ..data.training_data import BackedTrainingData, TrainingData
from ..errors import InputError
from ..module import ScDiffusionModule
from ..nn.likelihood import OUTPUT_LIKELIHOODS
from ..options import GENERATE, INTERPOLATE, TRAIN
from ..runtime import parse_threads, resolve_device, thread_policy
from ..train import stage_configs, train_stages
from .outputs import LATENT_KEY
from .pretrained import PretrainedSCimilarity
from .serialization import load_model, save_model

logger = logging.getLogger(__name__)

_T, _G, _I = TRAIN.defaults, GENERATE.defaults, INTERPOLATE.defaults


class ScDiffusion:
    """scDiffusion: autoencoder + latent DDPM + noise-aware classifiers (and a label-conditioned denoiser).

    Every parameter is declared, with its default and bounds, in :data:`scdiffusion.options.TRAIN`.

    Parameters
    ----------
    adata
        Training cells (AnnData or path to ``.h5ad`` / ``.rds``) with raw integer counts in ``X`` or ``layer``.
    labels_keys, layer
        ``obs`` columns to train one classifier each on (conditions usable at generation); the counts layer.
    pretrained
        Optional SCimilarity model folder to fine-tune the autoencoder from.
    n_latent, hidden, dropout, input_dropout, likelihood
        Autoencoder: SCimilarity's layout, 256 × 3 hidden units by default (its own 1024 × 3: ``hidden=[1024] * 3``;
        ``pretrained=`` brings the model's widths). ``likelihood``: ``"nb"`` (default; negative binomial, integer
        counts), ``"zinb"``, or ``"mse"`` (the paper's log-normalised regression; trivially separable cells).
    noise_fit, count_split
        How a count likelihood's dispersion is fitted (default: refitted after training); count splitting.
    denoiser_hidden, classifier_hidden
        Widths of the skip-MLP denoiser and the classifiers (the paper's by default).
    classifier_free, label_dropout, continuous_keys, continuous_pseudotime
        Condition the denoiser on the labels (each dropped with probability ``label_dropout`` in training), for
        classifier-free guidance; and on numeric columns' values (times, doses: ``condition={"h": 36}``), spread
        within time points along expression where it predicts them well (:mod:`scdiffusion.data.pseudotime`).
    min_cells, min_counts, target_sum, min_cells_per_label, validation_fraction
        Preprocessing (paper defaults), the smallest label, cells held out for early stopping.
    n_timesteps, device, seed, mixed_precision
        Diffusion steps ``T``; ``"auto"`` (cuda, mps, cpu) or a torch device; seed of everything random; bfloat16
        autocast of the networks' forward passes (for GPUs; likelihood, losses and samplers stay float32).
    threads
        CPU threads, fixed for the run (default or 0: every usable core; :class:`~scdiffusion.runtime.ThreadPolicy`).
    backed
        Out-of-core training: ``adata`` is the path of an ``.h5ad`` whose counts are validated and filtered in one
        chunked pass and streamed from disk while the autoencoder trains; every cell is then encoded once to latents
        (cells × ``n_latent`` floats in memory). At most 2,000 validation cells; no resumable checkpoints.

    Examples
    --------
    >>> model = ScDiffusion(adata, labels_keys=["cell_type"])
    >>> model.train()
    >>> gen = model.generate(200, condition={"cell_type": "B"})
    >>> model.save("my_model")
    """

    def __init__(self, adata: ad.AnnData | str | os.PathLike, labels_keys: Sequence[str] | str | None = _T.labels_keys,
                 layer: str | None = _T.layer, *, pretrained: str | os.PathLike | None = _T.pretrained,
                 n_latent: int = _T.n_latent, hidden: Sequence[int] = _T.hidden,
                 denoiser_hidden: Sequence[int] = _T.denoiser_hidden,
                 classifier_hidden: Sequence[int] = _T.classifier_hidden,
                 classifier_free: bool = _T.classifier_free, label_dropout: float = _T.label_dropout,
                 continuous_keys: Sequence[str] | str | None = _T.continuous_keys,
                 continuous_pseudotime: bool | None = _T.continuous_pseudotime,
                 dropout: float = _T.dropout, input_dropout: float = _T.input_dropout,
                 likelihood: str = _T.likelihood, noise_fit: str = _T.noise_fit, count_split: float = _T.count_split,
                 min_cells: int = _T.min_cells, min_counts: int = _T.min_counts, target_sum: float = _T.target_sum,
                 min_cells_per_label: int = _T.min_cells_per_label, validation_fraction: float = _T.validation_fraction,
                 n_timesteps: int = _T.n_timesteps, device: str = _T.device, mixed_precision: bool = _T.mixed_precision,
                 threads: int | None = _T.threads, seed: int = _T.seed, backed: bool = _T.backed):
        checked = TRAIN.check({"likelihood": likelihood, "noise_fit": noise_fit, "count_split": count_split,
                               "n_latent": n_latent, "dropout": dropout, "input_dropout": input_dropout,
                               "min_cells": min_cells, "min_counts": min_counts, "target_sum": target_sum,
                               "min_cells_per_label": min_cells_per_label, "validation_fraction": validation_fraction,
                               "n_timesteps": n_timesteps, "seed": seed, "mixed_precision": mixed_precision,
                               "classifier_free": classifier_free, "label_dropout": label_dropout,
                               "continuous_pseudotime": continuous_pseudotime})
        self.device = resolve_device(device)
        self.threads = parse_threads(TRAIN["threads"].check(threads))
        thread_policy(self.threads)
        self.seed = checked["seed"]
        self.history: dict = {}
        self.is_trained, self.pretrained_summary = False, None
        adata = BackedTrainingData.path_of(adata) if backed else read_anndata(adata)
        setup = {} if backed else read_setup(adata)
        labels_keys = setup.get("labels_keys", []) if labels_keys is None else labels_keys
        labels_keys = [labels_keys] if isinstance(labels_keys, str) else list(labels_keys)
        if len(set(labels_keys)) != len(labels_keys):
            raise InputError(f"labels_keys has duplicates: {labels_keys}.")
        self.layer = setup.get("layer") if layer is None else layer
        self.min_cells_per_label = checked["min_cells_per_label"]
        self.preprocessor = Preprocessor(min_cells=checked["min_cells"], min_counts=checked["min_counts"],
                                         target_sum=checked["target_sum"])
        reader = BackedTrainingData.from_h5ad if backed else TrainingData.from_anndata
        self.data: TrainingData | None = reader(
            adata, self.preprocessor, labels_keys=labels_keys, layer=self.layer,
            min_cells_per_label=self.min_cells_per_label, validation_fraction=checked["validation_fraction"],
            seed=self.seed, with_counts=OUTPUT_LIKELIHOODS[checked["likelihood"]].models_counts, device=self.device,
            continuous_keys=[continuous_keys] if isinstance(continuous_keys, str) else list(continuous_keys or []),
            continuous_pseudotime=checked["continuous_pseudotime"])
        self.registries: dict[str, LabelRegistry] = self.data.registries
        self.continuous, self.library = self.data.continuous, self.data.library  # continuous: ContinuousRegistry
        self.n_train_cells, self.train_threads = self.data.n_cells, None  # train_threads: set by train()
        arch = {"n_latent": checked["n_latent"], "hidden": _sizes(hidden, "hidden"), "dropout": checked["dropout"],
                "input_dropout": checked["input_dropout"], "likelihood": checked["likelihood"],
                "noise_fit": checked["noise_fit"], "count_split": checked["count_split"]}
        widths = {"denoiser_hidden": _sizes(denoiser_hidden, "denoiser_hidden"),
                  "classifier_hidden": _sizes(classifier_hidden, "classifier_hidden"),
                  "classifier_free": checked["classifier_free"] and bool(self.registries),
                  "label_dropout": checked["label_dropout"], "continuous_keys": list(self.continuous)}
        if pretrained is not None:
            pre = PretrainedSCimilarity.read(pretrained)
            if list(pre.hidden) != arch["hidden"] or pre.n_latent != arch["n_latent"]:
                logger.info("Using the pretrained architecture: hidden %s, latent %d.", pre.hidden, pre.n_latent)
                arch.update(hidden=list(pre.hidden), n_latent=pre.n_latent)
        torch.manual_seed(self.seed)
        self.module = ScDiffusionModule(len(self.genes), {k: r.n_classes for k, r in self.registries.items()},
                                        **arch, **widths, target_sum=self.preprocessor.target_sum,
                                        n_timesteps=checked["n_timesteps"], device=self.device)
        self.module.mixed_precision = checked["mixed_precision"]
        if pretrained is not None:
            self.pretrained_summary = pre.init_autoencoder(self.module.autoencoder, self.genes)

    setup_anndata = staticmethod(setup_anndata)

    # ------------------------------------------------------------------ what the model is made of
    genes = property(lambda self: self.preprocessor.genes, doc="Genes the model reads and generates, in order.")
    labels_keys = property(lambda self: list(self.registries), doc="Label columns with a classifier.")
    arch = property(lambda self: self.module.arch, doc="Autoencoder architecture.")
    diffusion = property(lambda self: self.module.diffusion, doc="The diffusion schedule (GaussianDiffusion).")
    autoencoder = property(lambda self: self.module.autoencoder, doc="The autoencoder (torch module).")
    denoiser = property(lambda self: self.module.denoiser, doc="The latent denoiser (torch module, EMA weights).")
    classifiers = property(lambda self: self.module.classifiers, doc="Noise-aware classifier per label column.")
    latent_mean = property(lambda self: self.module.latent_mean, doc="Mean of the training cells' latents.")
    latent_std = property(lambda self: self.module.latent_std, doc="Scale of the training cells' latents.")
    models_counts = property(lambda self: self.module.models_counts, doc="Whether the decoder models counts.")
    library_sizes = property(lambda self: self.library.sizes, doc="Library sizes of the training cells.")
    library_labels = property(lambda self: self.library.labels, doc="Their class ids per label column.")
    backed_summary = property(lambda self: getattr(self.data, "summary", None),
                              doc="Scan and encoding figures of backed (out-of-core) training data.")

    def __repr__(self) -> str:
        labels = ", ".join(f"{k} ({r.n_classes} labels)" for k, r in self.registries.items()) or "none"
        state = "trained" if self.is_trained else "not trained"
        return (f"ScDiffusion ({state}) over {len(self.genes)} genes; classifiers: {labels}; "
                f"latent {self.arch['n_latent']}; device {self.device}")

    # ------------------------------------------------------------------ training
    def train(self, *, preset: Literal["cpu", "gpu"] = _T.preset, max_time: float | None = _T.max_time,
              max_steps: int | Mapping[str, int] | None = _T.max_steps, autoencoder: Mapping | None = _T.autoencoder,
              diffusion: Mapping | None = _T.diffusion, classifier: Mapping | None = _T.classifier,
              progress: bool = _T.progress, checkpoint_dir: str | os.PathLike | None = _T.checkpoint_dir,
              checkpoint_every: int = _T.checkpoint_every) -> ScDiffusion:
        """Train the autoencoder, then the latent diffusion model, then one classifier per label column.

        Parameters
        ----------
        preset
            ``"cpu"``: budgets reaching good quality for a few thousand cells in minutes on 2 CPU cores;
            ``"gpu"``: the original code's scale (hundreds of thousands of steps).
        max_time
            Wall-time budget (s) of the whole training, split 25 / 60 / 15 % over the stages, which also stop
            early on their validation loss; the same ``seed`` repeats a training only if no stage reaches its share.
        max_steps
            Optimiser steps of every stage, or ``{stage: steps}`` for some of ``autoencoder``, ``diffusion``,
            ``classifier``.
        autoencoder, diffusion, classifier
            Overrides of the stage's :class:`~scdiffusion.train.TrainConfig` fields, e.g.
            ``diffusion={"batch_size": 256}``.
        checkpoint_dir
            Folder for resumable checkpoints (written every ``checkpoint_every`` steps and after each stage).
            Calling ``train`` again with the same folder, on the same data and settings, resumes where an
            interrupted run stopped, losing at most ``checkpoint_every`` steps. Returns ``self``, trained.
        """
        if self.data is None:
            raise InputError("This model was loaded from disk without training data; it can generate but not train.")
        self.train_threads = thread_policy(self.threads).threads  # recorded in config.json: results depend on it
        TRAIN.check({"max_time": max_time, "checkpoint_every": checkpoint_every})
        if checkpoint_dir is not None:
            self.data.fingerprint()  # refuses backed data before any work
        overrides = {"autoencoder": autoencoder, "diffusion": diffusion, "classifier": classifier}
        configs = stage_configs(preset, max_time=max_time, max_steps=max_steps, n_classifiers=len(self.registries),
                                overrides=overrides, mixed_precision=self.module.mixed_precision)
        fingerprint = {"genes": len(self.genes), "genes_head": self.genes[:5], "seed": self.seed, "arch": self.arch,
                       "denoiser_hidden": self.module.denoiser_hidden,
                       "classifier_hidden": self.module.classifier_hidden,
                       "labels": [r.to_dict() for r in self.registries.values()],
                       **({"continuous": [r.to_dict() for r in self.continuous.values()]} if self.continuous else {})}
        self.history.update(train_stages(self.module, self.data, configs, seed=self.seed, progress=progress,
                                         checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                                         fingerprint=fingerprint))
        self.is_trained = True
        return self

    def _require_trained(self) -> None:
        if not self.is_trained:
            raise InputError("The model is not trained yet. Call model.train() first (CLI: scdiffusion train).")

    # ------------------------------------------------------------------ cells ↔ latents
    def get_latent_representation(self, adata: ad.AnnData | str | os.PathLike, layer: str | None = None,
                                  scaled: bool = False) -> np.ndarray:
        """Autoencoder latents (unit norm, or diffusion-scaled with ``scaled=True``) of new cells."""
        self._require_trained()
        adata = read_anndata(adata)
        x = torch.from_numpy(self.preprocessor.transform(adata, layer if layer is not None else self.layer))
        z = self.module.encode(x)
        return (self.module.scale(z) if scaled else z).cpu().numpy()

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
            z = self.module.scale(self.module.encode(x))
        else:
            z = torch.from_numpy(self.get_latent_representation(adata, layer=layer, scaled=True))
        return np.asarray(self.registries[labels_key].to_labels(self.module.classify(z, labels_key).numpy()))

    # ------------------------------------------------------------------ generation
    def generate(self, n_cells: int, condition: Mapping[str, str | Sequence[str]] | None = _G.condition, *,
                 guidance_scale: float | Mapping[str, float] = _G.guidance_scale, guidance: str = _G.guidance,
                 cfg_scale: float | Mapping[str, float] = _G.cfg_scale, drawn_cfg_scale: float | None = None,
                 sampler: str = _G.sampler, n_steps: int | None = _G.n_steps, eta: float | None = _G.eta,
                 guidance_t_max: int | None = _G.guidance_t_max, seed: int = _G.seed,
                 batch_size: int = _G.batch_size, progress: bool = _G.progress) -> ad.AnnData:
        """Generate cells, optionally guided towards labels of one or several classifiers.

        Parameters
        ----------
        n_cells
            Number of cells.
        condition
            ``{obs column: label}``. One entry: cells of that label; several: the combination (e.g. a cell
            type in a tissue never seen together in training). A value may also be a sequence of
            ``n_cells`` labels (one per cell), e.g. to generate every cell type in one batch. ``None``: with a
            label-conditioned denoiser, each cell's labels are drawn from the training cells and denoised with them
            (weight ``drawn_cfg_scale``; closer to real cells than the null label, which ``guidance="classifier"``
            keeps); ``obs`` records them as ``<column>_drawn``, not a call of their type (``DRAWN_SUFFIX``).
        guidance_scale
            Classifier guidance weight γ (paper: 2), or ``{column: γ}`` for per-classifier weights.
        guidance
            ``"classifier"`` (the paper's noise-aware classifiers), ``"classifier-free"`` (the label-conditioned
            denoiser; needs a model trained with ``classifier_free=True``), ``"both"``, or ``"auto"`` (both when
            the model has a label-conditioned denoiser, else classifier; see ``model/guidance.py``).
        cfg_scale
            Classifier-free guidance weight ``w`` (``1``: the conditional model), or ``{column: w}``; several
            columns compose (their score differences add), also for combinations never seen in training.
        drawn_cfg_scale
            Weight of the drawn labels of unconditional cells: 1 samples ``p(x | labels)`` (one pass per step), 2
            two passes; default: 1 or 2, whichever came closer to the validation cells in training (``options.py``).
        sampler
            A key of :data:`scdiffusion.diffusion.SAMPLERS`; the default, the stochastic DPM-Solver++(2M) with 25
            steps, matched the realism of the paper's 1000-step ancestral sampler at ~35× its speed (benchmarks).
        n_steps, eta
            Sampling steps (default: the sampler's own); DDIM's noise (default 0; an error with other samplers).
        guidance_t_max
            Guidance applies at original time steps ``t < guidance_t_max`` (default T/2), whatever ``n_steps``.
        seed
            Same seed, same machine → identical cells.

        Returns
        -------
        AnnData with log-normalised expression in ``X`` over :attr:`genes` (with a count likelihood:
        sampled integer counts in ``layers['counts']``, ``X`` their log-normalisation, and the sampled
        ``library_size`` in ``obs``); ``obs`` holds the condition columns; ``obsm['X_scdiffusion']`` the
        unit-norm latents; ``uns['scdiffusion']`` the parameters.
        """
        from .generation import generate

        self._require_trained()
        thread_policy(self.threads)
        return generate(self, n_cells, condition, guidance_scale=guidance_scale, guidance=guidance, cfg_scale=cfg_scale,
                        sampler=sampler, n_steps=n_steps, eta=eta, guidance_t_max=guidance_t_max, seed=seed,
                        batch_size=batch_size, progress=progress, drawn_cfg_scale=drawn_cfg_scale)

    def generate_to_file(self, path: str | os.PathLike, n_cells: int,
                         condition: Mapping[str, str | Sequence[str]] | None = _G.condition, *,
                         chunk_size: int = 20_000, overwrite: bool = False, **kwargs) -> Path:
        """Generate any number of cells chunk by chunk into an ``.h5ad`` file (memory bounded by one chunk).

        The file is written to a temporary file and renamed at the end: an error leaves nothing behind. It
        holds what :meth:`generate` returns, with CSR ``X`` and ``layers['counts']``. ``kwargs`` are the options
        of :meth:`generate`; chunk ``i`` uses a seed derived from ``(seed, i)``, so the same seed and
        ``chunk_size`` give the same file. ``overwrite`` replaces an existing file. Returns the path.
        """
        from .generate_to_file import generate_to_file

        self._require_trained()
        return generate_to_file(self, path, n_cells, condition, chunk_size=chunk_size, overwrite=overwrite, **kwargs)

    def interpolate(self, start_cells: ad.AnnData | str | os.PathLike, labels_key: str, start: str, end: str, *,
                    n_states: int = _I.n_states, n_cells: int = _I.n_cells, t_start: int | None = _I.t_start,
                    method: str = _I.method, guidance_scale: float | Mapping[str, float] = _I.guidance_scale,
                    guidance: str = _I.guidance, cfg_scale: float | Mapping[str, float] = _I.cfg_scale,
                    sampler: str = _I.sampler, n_steps: int | None = _I.n_steps, eta: float | None = _I.eta,
                    guidance_t_max: int | None = _I.guidance_t_max, layer: str | None = _I.layer,
                    seed: int = _I.seed, batch_size: int = _I.batch_size, progress: bool = _I.progress,
                    at: Sequence[float] | None = _I.at) -> ad.AnnData:
        """Interpolation between two labels (two-ended, or the paper's Gradient Interpolation) or a continuous column.

        Each state ``i = 0 … n_states−1`` denoises noised real cells from ``t_start`` with guidance weights
        ``(γ(1−w_i), γ w_i)`` on ``(start, end)``, ``w_i = i / (n_states − 1)``, from the same noised ``start``
        cells (``method="gradient"``) or from the spherical blend at ``w_i`` of ``start`` and ``end`` cells paired by
        OT in latent space, noised alike (``"two-ended"``); along a ``continuous_keys`` column: states at values ``at``.

        Parameters
        ----------
        start_cells
            Real cells with raw counts and a ``labels_key`` column; those of ``start`` (two-ended: and ``end``) used.
        n_states, n_cells
            Number of states and cells per state (start cells, or pairs, are drawn with replacement when fewer).
        t_start, method
            Noise level where denoising begins (default: the method's own); how states start (auto: two-ended).
        guidance, cfg_scale, sampler, n_steps, eta, guidance_t_max, seed, batch_size
            As in :meth:`generate` (``n_steps`` counts the steps from ``t_start``); with classifier-free guidance
            the conditional predictions of the two labels are mixed with weights ``(w(1−s), w s)``.

        Returns
        -------
        AnnData of ``n_states × n_cells`` cells (``obs``: state, weights, labels, source cells; ``uns``: parameters).
        """
        from .interpolate_values import interpolate

        self._require_trained()
        thread_policy(self.threads)
        return interpolate(self, start_cells, labels_key, start, end, n_states=n_states, n_cells=n_cells,
                           t_start=t_start, method=method, guidance_scale=guidance_scale, guidance=guidance,
                           cfg_scale=cfg_scale, sampler=sampler, n_steps=n_steps, eta=eta, layer=layer,
                           guidance_t_max=guidance_t_max, seed=seed, batch_size=batch_size, progress=progress, at=at)

    # ------------------------------------------------------------------ persistence
    def save(self, dir_path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Save to a model directory (``config.json``, ``genes.txt``, ``model.safetensors``, ``history.json``).

        The directory is written to a temporary folder and renamed into place. Under distributed training
        only rank 0 writes (the others wait for it).
        """
        from ..data.io import writing

        self._require_trained()
        with writing(dir_path):
            return save_model(self, dir_path, overwrite=overwrite)

    @classmethod
    def load(cls, dir_path: str | os.PathLike, device: str = "auto", threads: int | None = None,
             mixed_precision: bool = False) -> ScDiffusion:
        """Load a model directory written by :meth:`save` (weights via safetensors, no pickle); it can generate,
        interpolate and classify, not train. ``threads``, ``mixed_precision`` as in the constructor."""
        return load_model(cls, dir_path, device=device, threads=threads, mixed_precision=mixed_precision)


def _sizes(values, name: str) -> list[int]:
    """Layer sizes: a non-empty sequence of positive integers."""
    sizes = [values] if isinstance(values, (int, np.integer)) else list(values)
    if not sizes or any(isinstance(v, bool) or int(v) != v or v < 1 for v in sizes):
        raise InputError(f"{name} must be a non-empty list of positive integers (layer sizes), got {values!r}.")
    return [int(v) for v in sizes]


__all__ = ["ScDiffusion", "LATENT_KEY"]
