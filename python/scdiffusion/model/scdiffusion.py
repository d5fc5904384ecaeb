"""The user-facing model: AnnData in, trained autoencoder + latent diffusion + classifiers, AnnData out.

:class:`ScDiffusion` only composes: the data layer reads and preprocesses cells (:mod:`scdiffusion.data`), the
tensor module holds the networks (:mod:`scdiffusion.module`), the training plans train them
(:mod:`scdiffusion.train`), conditions become guidance weights and samplers come from their registry
(:mod:`scdiffusion.diffusion`), generated latents become AnnData (:mod:`.outputs`), and the model directory is
read and written by :mod:`.serialization`. Every parameter's default and bounds are declared in
:mod:`scdiffusion.options`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd
import torch

from ..data.io import read_anndata
from ..data.library import LibrarySizes
from ..data.preprocessing import Preprocessor
from ..data.registry import LabelRegistry
from ..data.training_data import BackedTrainingData, TrainingData
from ..data.validation import check_label_column
from ..diffusion import make_sampler
from ..diffusion.conditions import condition_weights, parse_condition
from ..errors import InputError
from ..module import ScDiffusionModule
from ..nn.likelihood import OUTPUT_LIKELIHOODS
from ..options import GENERATE, INTERPOLATE, TRAIN
from ..runtime import resolve_device, seeded_generator
from ..train import stage_configs, train_stages
from .outputs import LATENT_KEY, cells_to_anndata
from .pretrained import PretrainedSCimilarity
from .serialization import load_model, save_model

logger = logging.getLogger(__name__)

SETUP_KEY = "_scdiffusion_setup"
_T, _G, _I = TRAIN.defaults, GENERATE.defaults, INTERPOLATE.defaults


class ScDiffusion:
    """scDiffusion: autoencoder + latent DDPM + noise-aware classifiers for guided generation.

    Parameters
    ----------
    adata
        Training cells (AnnData or path to ``.h5ad`` / ``.rds``) with raw integer counts in ``X`` or ``layer``.
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
    min_cells, min_counts, target_sum
        Preprocessing (paper defaults).
    min_cells_per_label
        Labels with fewer training cells are refused (the classifier cannot learn them).
    validation_fraction
        Cells held out for early stopping (none when fewer than 20 cells).
    n_timesteps
        Diffusion steps ``T``.
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

    def __init__(self, adata: ad.AnnData | str | os.PathLike, labels_keys: Sequence[str] | str | None = _T.labels_keys,
                 layer: str | None = _T.layer, *, pretrained: str | os.PathLike | None = _T.pretrained,
                 n_latent: int = _T.n_latent, hidden: Sequence[int] = _T.hidden,
                 denoiser_hidden: Sequence[int] = _T.denoiser_hidden,
                 classifier_hidden: Sequence[int] = _T.classifier_hidden, dropout: float = _T.dropout,
                 input_dropout: float = _T.input_dropout, likelihood: str = _T.likelihood,
                 min_cells: int = _T.min_cells, min_counts: int = _T.min_counts, target_sum: float = _T.target_sum,
                 min_cells_per_label: int = _T.min_cells_per_label,
                 validation_fraction: float = _T.validation_fraction, n_timesteps: int = _T.n_timesteps,
                 device: str = _T.device, seed: int = _T.seed, backed: bool = _T.backed):
        checked = TRAIN.check({"likelihood": likelihood, "n_latent": n_latent, "dropout": dropout,
                               "input_dropout": input_dropout, "min_cells": min_cells, "min_counts": min_counts,
                               "target_sum": target_sum, "min_cells_per_label": min_cells_per_label,
                               "validation_fraction": validation_fraction, "n_timesteps": n_timesteps, "seed": seed})
        self.device = resolve_device(device)
        self.seed = checked["seed"]
        self.history: dict = {}
        self.is_trained = False
        self.pretrained_summary: dict | None = None
        if backed:
            adata = BackedTrainingData.path_of(adata)
            setup = {}
        else:
            adata = read_anndata(adata)
            setup = adata.uns.get(SETUP_KEY, {}) if isinstance(adata.uns.get(SETUP_KEY), Mapping) else {}
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
            seed=self.seed, with_counts=OUTPUT_LIKELIHOODS[checked["likelihood"]].models_counts, device=self.device)
        self.registries: dict[str, LabelRegistry] = self.data.registries
        self.library: LibrarySizes = self.data.library
        self.n_train_cells = self.data.n_cells
        arch = {"n_latent": checked["n_latent"], "hidden": _sizes(hidden, "hidden"), "dropout": checked["dropout"],
                "input_dropout": checked["input_dropout"], "likelihood": checked["likelihood"]}
        widths = {"denoiser_hidden": _sizes(denoiser_hidden, "denoiser_hidden"),
                  "classifier_hidden": _sizes(classifier_hidden, "classifier_hidden")}
        if pretrained is not None:
            pre = PretrainedSCimilarity.read(pretrained)
            if list(pre.hidden) != arch["hidden"] or pre.n_latent != arch["n_latent"]:
                logger.info("Using the pretrained architecture: hidden %s, latent %d.", pre.hidden, pre.n_latent)
                arch.update(hidden=list(pre.hidden), n_latent=pre.n_latent)
        torch.manual_seed(self.seed)
        self.module = ScDiffusionModule(len(self.genes), {k: r.n_classes for k, r in self.registries.items()},
                                        **arch, **widths, target_sum=self.preprocessor.target_sum,
                                        n_timesteps=checked["n_timesteps"], device=self.device)
        if pretrained is not None:
            self.pretrained_summary = pre.init_autoencoder(self.module.autoencoder, self.genes)

    @staticmethod
    def setup_anndata(adata: ad.AnnData, layer: str | None = None,
                      labels_keys: Sequence[str] | str | None = None) -> None:
        """Record (in ``adata.uns``, checked now) the counts layer and label columns a later ``ScDiffusion(adata)``
        uses."""
        keys = [labels_keys] if isinstance(labels_keys, str) else list(labels_keys or [])
        if layer is not None and layer not in adata.layers:
            raise InputError(f"Layer '{layer}' is not in adata.layers ({', '.join(adata.layers.keys()) or 'none'}).")
        for key in keys:
            check_label_column(adata.obs, key, min_cells_per_label=1)
        adata.uns[SETUP_KEY] = {"layer": layer, "labels_keys": keys}

    # ------------------------------------------------------------------ what the model is made of
    @property
    def genes(self) -> list[str]:
        """Genes the model reads and generates, in order."""
        return self.preprocessor.genes

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
            interrupted run stopped, losing at most ``checkpoint_every`` steps.

        Returns
        -------
        ``self``, trained.
        """
        if self.data is None:
            raise InputError("This model was loaded from disk without training data; it can generate but not train.")
        TRAIN.check({"max_time": max_time, "checkpoint_every": checkpoint_every})
        if checkpoint_dir is not None:
            self.data.fingerprint()  # refuses backed data before any work
        overrides = {"autoencoder": autoencoder, "diffusion": diffusion, "classifier": classifier}
        configs = stage_configs(preset, max_time=max_time, max_steps=max_steps, n_classifiers=len(self.registries),
                                overrides=overrides)
        fingerprint = {"genes": len(self.genes), "genes_head": self.genes[:5], "seed": self.seed, "arch": self.arch,
                       "denoiser_hidden": self.module.denoiser_hidden,
                       "classifier_hidden": self.module.classifier_hidden,
                       "labels": [r.to_dict() for r in self.registries.values()]}
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

    def _to_anndata(self, z_scaled: torch.Tensor, obs: pd.DataFrame, params: dict,
                    generator: torch.Generator | None) -> ad.AnnData:
        return cells_to_anndata(self.module, z_scaled, obs, params, genes=self.genes,
                                target_sum=self.preprocessor.target_sum, library=self.library,
                                registries=self.registries, generator=generator)

    def _guidance_t_max(self, guidance_t_max: int | None) -> int:
        T = self.diffusion.n_timesteps
        return T // 2 if guidance_t_max is None else guidance_t_max

    # ------------------------------------------------------------------ generation
    def generate(self, n_cells: int, condition: Mapping[str, str | Sequence[str]] | None = _G.condition, *,
                 guidance_scale: float | Mapping[str, float] = _G.guidance_scale, sampler: str = _G.sampler,
                 n_steps: int | None = _G.n_steps, eta: float | None = _G.eta,
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
            ``n_cells`` labels (one per cell), e.g. to generate every cell type in one batch.
        guidance_scale
            Classifier guidance weight γ (paper: 2), or ``{column: γ}`` for per-classifier weights.
        sampler
            A key of :data:`scdiffusion.diffusion.SAMPLERS`; the default, the stochastic DPM-Solver++(2M) with
            25 steps, matched the realism of the paper's 1000-step ancestral sampler in
            ``benchmarks/sampling_steps.py`` at ~35× its speed (``describe_samplers()`` lists them all).
        n_steps
            Sampling steps (default: the sampler's own).
        eta
            DDIM's noise (default 0); an error with other samplers.
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
        self._require_trained()
        T = self.diffusion.n_timesteps
        v = GENERATE.check({"n_cells": n_cells, "n_steps": n_steps, "eta": eta, "guidance_t_max": guidance_t_max,
                            "seed": seed, "batch_size": batch_size}, n_timesteps=T)
        cond = parse_condition(condition, guidance_scale, v["n_cells"], self.registries,
                               default_scale=_G.guidance_scale)
        s = make_sampler(sampler, self.diffusion, n_steps=v["n_steps"], eta=v["eta"])
        gen = seeded_generator(v["seed"])
        x = torch.randn((v["n_cells"], self.arch["n_latent"]), generator=gen)
        t_max = self._guidance_t_max(v["guidance_t_max"])
        weights = condition_weights(cond, {k: r.n_classes for k, r in self.registries.items()})
        guidance = self.module.guidance(weights, t_max) if cond else None
        z = self.module.sample(x, s, guidance, generator=gen, batch_size=v["batch_size"], progress=progress,
                               desc="generate")
        obs = pd.DataFrame(index=[f"gen_{i}" for i in range(v["n_cells"])])
        for key, c in cond.items():
            reg = self.registries[key]
            obs[key] = pd.Categorical(reg.to_labels(c.ids), categories=reg.categories)
        shown = {k: (lab if isinstance(lab, str) else "per-cell labels") for k, lab in (condition or {}).items()}
        params = {"mode": "generate", "n_cells": v["n_cells"], "condition": shown,
                  "guidance_scale": (guidance_scale if isinstance(guidance_scale, (int, float))
                                     else dict(guidance_scale)),
                  "sampler": sampler, "n_steps": int(len(s.timesteps)), **s.used_options(),
                  "n_steps_requested": s.n_steps_requested, "guidance_t_max": t_max, "seed": v["seed"]}
        return self._to_anndata(z, obs, params, gen)

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
                    n_states: int = _I.n_states, n_cells: int = _I.n_cells, t_start: int = _I.t_start,
                    guidance_scale: float = _I.guidance_scale, sampler: str = _I.sampler,
                    n_steps: int | None = _I.n_steps, eta: float | None = _I.eta,
                    guidance_t_max: int | None = _I.guidance_t_max, layer: str | None = _I.layer,
                    seed: int = _I.seed, batch_size: int = _I.batch_size, progress: bool = _I.progress) -> ad.AnnData:
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
        sampler, n_steps, eta, guidance_t_max, seed, batch_size
            As in :meth:`generate` (``n_steps`` counts the steps from ``t_start``).

        Returns
        -------
        AnnData with ``n_states × n_cells`` cells; ``obs`` has ``interpolation_state``, ``weight_start``,
        ``weight_end``, the start/end labels and the index of the source cell.
        """
        from .interpolation import interpolate

        self._require_trained()
        return interpolate(self, start_cells, labels_key, start, end, n_states=n_states, n_cells=n_cells,
                           t_start=t_start, guidance_scale=guidance_scale, sampler=sampler, n_steps=n_steps, eta=eta,
                           guidance_t_max=guidance_t_max, layer=layer, seed=seed, batch_size=batch_size,
                           progress=progress)

    # ------------------------------------------------------------------ persistence
    def save(self, dir_path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Save to a model directory (``config.json``, ``genes.txt``, ``model.safetensors``, ``history.json``).

        The directory is written to a temporary folder and renamed into place. Under distributed training
        only rank 0 writes (the others wait for it).
        """
        self._require_trained()
        return save_model(self, dir_path, overwrite=overwrite)

    @classmethod
    def load(cls, dir_path: str | os.PathLike, device: str = "auto") -> ScDiffusion:
        """Load a model directory written by :meth:`save` (weights via safetensors, no pickle); it can generate,
        interpolate and classify, not train."""
        return load_model(cls, dir_path, device=device)


def _sizes(values, name: str) -> list[int]:
    """Layer sizes: a non-empty sequence of positive integers."""
    sizes = [values] if isinstance(values, (int, np.integer)) else list(values)
    if not sizes or any(isinstance(v, bool) or int(v) != v or v < 1 for v in sizes):
        raise InputError(f"{name} must be a non-empty list of positive integers (layer sizes), got {values!r}.")
    return [int(v) for v in sizes]


__all__ = ["ScDiffusion", "LATENT_KEY"]
