"""SCimilarity-layout autoencoder: genes → hidden × 3 → 128 (unit norm) → genes.

SCimilarity uses 1024 × 3 hidden units; the default here is 256 × 3, which generates more realistic cells on
the measured data sets (``benchmarks/results/decoder/experiments.md``, E16, E29, E30); a pretrained model brings
its own widths.

Module and parameter names follow SCimilarity's ``Encoder``/``Decoder`` (``network.<i>.<j>``) so that
pretrained SCimilarity checkpoints load directly into these modules.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .likelihood import OUTPUT_LIKELIHOODS, OutputLikelihood


class Encoder(nn.Module):
    """Encoder: ``[Dropout, Linear, BatchNorm, PReLU]`` blocks, a last ``Linear`` and L2 normalisation."""

    def __init__(self, n_genes: int, n_latent: int = 128, hidden: Sequence[int] = (256, 256, 256),
                 dropout: float = 0.1, input_dropout: float = 0.1):
        super().__init__()
        self.network = nn.ModuleList()
        n_in = n_genes
        for i, n_out in enumerate(hidden):
            self.network.append(nn.Sequential(
                nn.Dropout(p=input_dropout if i == 0 else dropout),
                nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.PReLU(),
            ))
            n_in = n_out
        self.network.append(nn.Linear(n_in, n_latent))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.network:
            x = layer(x)
        return F.normalize(x, p=2, dim=1)


class Decoder(nn.Module):
    """Decoder mirroring the encoder; its last layer outputs the likelihood's parameters."""

    def __init__(self, n_genes: int, n_latent: int = 128, hidden: Sequence[int] = (256, 256, 256),
                 dropout: float = 0.1):
        super().__init__()
        self.network = nn.ModuleList()
        n_in = n_latent
        for i, n_out in enumerate(hidden):
            block = [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.PReLU()]
            if i > 0:
                block.insert(0, nn.Dropout(p=dropout))
            self.network.append(nn.Sequential(*block))
            n_in = n_out
        self.network.append(nn.Linear(n_in, n_genes))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for layer in self.network:
            z = layer(z)
        return z


class Autoencoder(nn.Module):
    """Deterministic autoencoder with a swappable output likelihood.

    Parameters
    ----------
    n_genes
        Number of genes (input and output size).
    n_latent
        Latent size (SCimilarity: 128).
    hidden
        Hidden layer sizes of the encoder (reversed for the decoder).
    likelihood
        Name of the output likelihood, a key of :data:`OUTPUT_LIKELIHOODS`: ``"mse"`` (the paper's
        regression of log-normalised expression), ``"nb"`` or ``"zinb"`` (raw counts).
    target_sum
        Library size of the log-normalised scale (for count likelihoods' expected expression).
    """

    def __init__(self, n_genes: int, n_latent: int = 128, hidden: Sequence[int] = (256, 256, 256),
                 dropout: float = 0.1, input_dropout: float = 0.1, likelihood: str = "mse",
                 target_sum: float = 1e4):
        super().__init__()
        self.encoder = Encoder(n_genes, n_latent, hidden, dropout, input_dropout)
        self.decoder = Decoder(n_genes, n_latent, tuple(reversed(hidden)), dropout)
        self.likelihood: OutputLikelihood = OUTPUT_LIKELIHOODS[likelihood](n_genes, target_sum)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def loss(self, x: torch.Tensor, counts: torch.Tensor | None = None,
             library: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction loss of a batch: log-normalised cells ``x`` (and their raw counts and library sizes
        for count likelihoods)."""
        params = self.decoder(self.encoder(x)).float()  # the likelihood in float32, also under autocast
        with torch.autocast(device_type=params.device.type, enabled=False):
            return self.likelihood.loss(params, {"x": x, "counts": counts, "library": library})

    def refit_noise(self, x: torch.Tensor, counts: torch.Tensor, library: torch.Tensor,
                    batch_size: int = 4096) -> float:
        """Refit the output likelihood's noise parameters (NB dispersion) with the network in eval mode.

        Training fits the dispersion to decoder outputs perturbed by dropout; at inference the decoder's
        mean has no dropout noise, so the jointly learned dispersion over-disperses decoded counts. Encoder
        and decoder weights are unchanged. Returns the mean negative log-likelihood after the fit.
        """
        was_training = self.training
        self.eval()
        with torch.no_grad():
            params = torch.cat([self.decoder(self.encoder(b)) for b in torch.split(x, batch_size)])
        nll = self.likelihood.fit_noise(params, counts, library)
        self.train(was_training)
        return nll

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Expected log-normalised expression for latents ``z``."""
        return self.likelihood.mean(self.decoder(z).float())

    def sample_counts(self, z: torch.Tensor, library: torch.Tensor,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Integer counts drawn from the output likelihood (count likelihoods only)."""
        return self.likelihood.sample(self.decoder(z).float(), library, generator)
