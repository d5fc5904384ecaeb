"""Output likelihoods of the decoder: how decoder outputs turn into a loss and into expression.

New likelihoods (e.g. negative binomial over counts) register here without touching the autoencoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class OutputLikelihood:
    """Interface: ``loss(params, target)`` for training, ``mean(params)`` for generation."""

    name: str = ""

    def loss(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class MSELikelihood(OutputLikelihood):
    """The paper's decoder: regress log-normalised expression with MSE; ReLU at inference."""

    name = "mse"

    def loss(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(params, target)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return F.relu(params)


OUTPUT_LIKELIHOODS: dict[str, type[OutputLikelihood]] = {MSELikelihood.name: MSELikelihood}
