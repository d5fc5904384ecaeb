"""scDiffusion's networks over tensors only: autoencoder, latent denoiser, noise-aware classifiers, latent scale.

No AnnData here (the data layer turns cells into tensors, :mod:`scdiffusion.model` turns tensors into AnnData).
Latents come in three forms: *unit* latents are the encoder's output (L2-normalised, SCimilarity's layout);
*scaled* latents are standardised to unit variance for the diffusion model (mean and scale fitted on the
training cells); generated scaled latents are mapped back to the unit sphere before decoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..diffusion import (
    ClassifierFreeGuidance,
    ClassifierGuidance,
    GaussianDiffusion,
    JointConditional,
    Sampler,
    sample_loop,
)
from ..errors import InputError
from ..nn import Autoencoder, NoisyClassifier, SkipMLP
from ..nn.backbone import LEGACY_VALUE_SCALE
from ..nn.likelihood import OUTPUT_LIKELIHOODS
from ..runtime import autocast


class ScDiffusionModule:
    """The trained parts of scDiffusion and the operations on them.

    Parameters
    ----------
    n_genes
        Genes the autoencoder reads and writes.
    n_classes
        ``{label column: number of labels}``: one classifier per column.
    n_latent, hidden, dropout, input_dropout, likelihood, target_sum
        Autoencoder (see :class:`~scdiffusion.nn.Autoencoder`).
    noise_fit, count_split
        How training fits a count likelihood's dispersion and splits the training cells' counts (recorded with
        the architecture; see :func:`~scdiffusion.train.autoencoder.train_autoencoder`).
    denoiser_hidden
        Down path of the skip-MLP denoiser (paper: 512, 512, 256, 128; time embedding and head widths follow
        the first size).
    classifier_hidden
        Hidden layers of each noise-aware classifier (paper: 512, 512, 256).
    classifier_free
        Condition the denoiser on the labels (one embedding per label column, plus a null label) for
        classifier-free guidance; ``label_dropout`` is the probability that training drops a column's label.
    continuous_keys
        Continuous columns (times, doses) the denoiser is conditioned on by value (dropped like labels).
    value_scale
        Scale of a normalised value before its sinusoidal embedding (default ``nn.backbone.VALUE_SCALE``; saved
        with the model).
    n_timesteps, beta_start, beta_end
        The diffusion schedule.
    device
        Where the networks live.
    """

    def __init__(self, n_genes: int, n_classes: Mapping[str, int], *, n_latent: int = 128,
                 hidden: Sequence[int] = (256, 256, 256), dropout: float = 0.2, input_dropout: float = 0.2,
                 likelihood: str = "nb", noise_fit: str = "joint", count_split: float = 0.0, target_sum: float = 1e4,
                 denoiser_hidden: Sequence[int] = (512, 512, 256, 128),
                 classifier_hidden: Sequence[int] = (512, 512, 256), classifier_free: bool = False,
                 label_dropout: float = 0.3, continuous_keys: Sequence[str] = (), value_scale: float | None = None,
                 n_timesteps: int = 1000,
                 beta_start: float = 1e-4, beta_end: float = 0.02, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.arch = {"n_latent": int(n_latent), "hidden": [int(h) for h in hidden], "dropout": float(dropout),
                     "input_dropout": float(input_dropout), "likelihood": likelihood, "noise_fit": noise_fit,
                     "count_split": float(count_split)}
        if count_split and not OUTPUT_LIKELIHOODS[likelihood].models_counts:
            raise InputError(f"count_split needs a count likelihood ('nb' or 'zinb'); the '{likelihood}' "
                             "likelihood has no counts to split. Pass likelihood='nb' or count_split=0.")
        self.diffusion = GaussianDiffusion(int(n_timesteps), float(beta_start), float(beta_end))
        self.autoencoder = Autoencoder(n_genes, int(n_latent), self.arch["hidden"], float(dropout),
                                       float(input_dropout), likelihood, target_sum).to(self.device).eval()
        self.denoiser_hidden = [int(h) for h in denoiser_hidden]
        self.classifier_hidden = [int(h) for h in classifier_hidden]
        d = self.denoiser_hidden
        self.label_dropout = float(label_dropout)
        self.denoiser = SkipMLP(int(n_latent), down=d, n_time=d[0], n_head=2 * d[0],
                                n_classes=dict(n_classes) if classifier_free else None,
                                continuous=list(continuous_keys), value_scale=value_scale).to(self.device).eval()
        self.classifiers: dict[str, nn.Module] = {
            k: NoisyClassifier(int(n_latent), int(c), hidden=self.classifier_hidden).to(self.device).eval()
            for k, c in n_classes.items()}
        self.latent_mean: torch.Tensor | None = None
        self.latent_std: float | None = None
        #: bfloat16 autocast of the networks' forward passes (not saved: a choice of the machine running them)
        self.mixed_precision = False

    # ------------------------------------------------------------------ configuration
    def config(self) -> dict:
        """The architecture, schedule and latent scale (``from_config`` rebuilds the module from it)."""
        return {"autoencoder": dict(self.arch), "diffusion": self.diffusion.to_dict(),
                "denoiser": {"class": "SkipMLP", "weights": "ema", "hidden": self.denoiser_hidden,
                             "conditioned_on": list(self.denoiser.label_keys), "label_dropout": self.label_dropout,
                             **({"continuous": list(self.denoiser.value_keys), "value_scale": self.denoiser.value_scale}
                                if self.denoiser.value_keys else {})},
                "classifier": {"class": "NoisyClassifier", "hidden": self.classifier_hidden},
                "latent": {"mean": self.latent_mean.cpu().tolist() if self.latent_mean is not None else None,
                           "std": self.latent_std}}

    @classmethod
    def from_config(cls, config: Mapping, n_genes: int, n_classes: Mapping[str, int], target_sum: float,
                    device: torch.device | str = "cpu") -> ScDiffusionModule:
        """A module with the architecture and latent scale of ``config`` (weights not loaded)."""
        a, d = config["autoencoder"], config["diffusion"]
        # release 0.1.0 had the paper's fixed denoiser and classifier widths (the defaults)
        widths = {f"{k}_hidden": config[k]["hidden"] for k in ("denoiser", "classifier")
                  if "hidden" in (config.get(k) or {})}
        den = config.get("denoiser") or {}
        if den.get("conditioned_on"):
            if list(den["conditioned_on"]) != list(n_classes):
                raise ValueError(f"the denoiser is conditioned on {den['conditioned_on']}, the labels are "
                                 f"{list(n_classes)}")
            widths.update(classifier_free=True, label_dropout=den.get("label_dropout", 0.3))
        if den.get("continuous"):
            widths.update(continuous_keys=list(den["continuous"]), label_dropout=den.get("label_dropout", 0.3),
                          value_scale=den.get("value_scale", LEGACY_VALUE_SCALE))
        self = cls(n_genes, n_classes, n_latent=a["n_latent"], hidden=a["hidden"], dropout=a["dropout"],
                   input_dropout=a["input_dropout"], likelihood=a["likelihood"], target_sum=target_sum,
                   noise_fit=a.get("noise_fit", "joint"), count_split=a.get("count_split", 0.0),
                   n_timesteps=d["n_timesteps"], beta_start=d["beta_start"], beta_end=d["beta_end"], device=device,
                   **widths)
        latent = config.get("latent") or {}
        if latent.get("mean") is not None:
            self.latent_mean = torch.tensor(latent["mean"], dtype=torch.float32, device=self.device)
            self.latent_std = float(latent["std"])
        return self

    @property
    def n_latent(self) -> int:
        return self.arch["n_latent"]

    @property
    def classifier_free(self) -> bool:
        """Whether the denoiser is conditioned on labels (classifier-free guidance is available)."""
        return self.denoiser.conditional

    @property
    def models_counts(self) -> bool:
        """Whether the decoder models raw counts (``nb`` / ``zinb`` likelihoods)."""
        return self.autoencoder.likelihood.models_counts

    def networks(self) -> dict[str, nn.Module]:
        """Every network by its name in the saved weights (``classifier.<column>`` for classifiers)."""
        return {"autoencoder": self.autoencoder, "denoiser": self.denoiser,
                **{f"classifier.{k}": c for k, c in self.classifiers.items()}}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every weight, keyed ``<network>.<parameter>``."""
        return {f"{name}.{k}": v for name, net in self.networks().items() for k, v in net.state_dict().items()}

    def load_state_dict(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """Load :meth:`state_dict` output (strict per network; longest network names claim their keys first,
        so a label column named like ``a.b`` never takes the weights of a column ``a``)."""
        remaining = dict(tensors)
        for name in sorted(self.networks(), key=len, reverse=True):
            prefix = name + "."
            state = {k[len(prefix):]: remaining.pop(k) for k in list(remaining) if k.startswith(prefix)}
            net = self.networks()[name]
            net.load_state_dict(state)
            net.to(self.device).eval()

    # ------------------------------------------------------------------ latents
    @torch.no_grad()
    def encode(self, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Unit latents of log-normalised cells (eval mode: a cell's latent never depends on its batch)."""
        self.autoencoder.eval()
        with autocast(self.device, self.mixed_precision):
            return torch.cat([self.autoencoder.encode(b.to(self.device)).float()
                              for b in torch.split(x, batch_size)])

    def scale(self, z: torch.Tensor) -> torch.Tensor:
        """Unit latents → diffusion-scaled latents."""
        return (z - self.latent_mean.to(z.device)) / self.latent_std

    def unscale(self, z_scaled: torch.Tensor) -> torch.Tensor:
        """Scaled latents → the unit sphere (what the decoder was trained on)."""
        return F.normalize(z_scaled * self.latent_std + self.latent_mean.to(z_scaled.device), dim=1)

    @torch.no_grad()
    def decode_mean(self, z_scaled: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Expected log-normalised expression of scaled latents (on the CPU)."""
        self.autoencoder.eval()
        with autocast(self.device, self.mixed_precision):
            return torch.cat([self.autoencoder.decode(self.unscale(b.to(self.device))).cpu()
                              for b in torch.split(z_scaled, batch_size)])

    @torch.no_grad()
    def sample_counts(self, z_scaled: torch.Tensor, library: torch.Tensor, generator: torch.Generator | None,
                      batch_size: int = 4096) -> torch.Tensor:
        """Counts drawn from the decoder's likelihood for scaled latents and library sizes (on the CPU)."""
        self.autoencoder.eval()
        out = []
        for zb, lb in zip(torch.split(z_scaled, batch_size), torch.split(library, batch_size)):
            z = self.unscale(zb.to(self.device))
            with autocast(self.device, self.mixed_precision):
                out.append(self.autoencoder.sample_counts(z, lb.to(self.device), generator).cpu())
        return torch.cat(out)

    # ------------------------------------------------------------------ diffusion
    @torch.no_grad()
    def sample(self, x: torch.Tensor, sampler: Sampler, guidance: ClassifierGuidance | None = None, *,
               free_guidance: ClassifierFreeGuidance | JointConditional | None = None,
               generator: torch.Generator | None = None,
               batch_size: int = 4096, progress: bool = False, desc: str = "sampling") -> torch.Tensor:
        """Denoise ``x`` (noise, or noised real latents at ``sampler.timesteps[0]``) in batches; on the CPU."""
        out = []
        for start in range(0, len(x), batch_size):
            rows = slice(start, min(start + batch_size, len(x)))
            out.append(sample_loop(self.denoiser, sampler, x[rows].to(self.device), guidance=guidance,
                                   free_guidance=free_guidance, rows=rows, generator=generator, progress=progress,
                                   desc=desc, mixed_precision=self.mixed_precision).cpu())
        return torch.cat(out)

    def guidance(self, weights: Mapping[str, torch.Tensor], t_max: int) -> ClassifierGuidance:
        """Classifier guidance with one weight matrix per label column."""
        return ClassifierGuidance([self.classifiers[k] for k in weights], list(weights.values()), t_max)

    def conditional(self, labels: Mapping[str, torch.Tensor], weight: float = 1.0) -> JointConditional:
        """The label-conditioned denoiser with every column set to each cell's labels (``weight`` 1: no guidance)."""
        return JointConditional(self.denoiser, labels, weight)

    def free_guidance(self, weights: Mapping[str, torch.Tensor],
                      values: Mapping[str, tuple[torch.Tensor, float]] | None = None) -> ClassifierFreeGuidance:
        """Classifier-free guidance with one weight matrix per label column and ``(normalised values, weight)``
        per continuous column (needs a conditioned denoiser)."""
        return ClassifierFreeGuidance(self.denoiser, weights, values)

    @torch.no_grad()
    def classify(self, z_scaled: torch.Tensor, key: str) -> torch.Tensor:
        """Class ids the ``key`` classifier gives to scaled latents at t = 0."""
        t = torch.zeros(len(z_scaled), dtype=torch.long, device=self.device)
        return self.classifiers[key](z_scaled.to(self.device), t).argmax(1).cpu()
