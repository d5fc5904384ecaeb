"""Noise-aware classifier p(y | x_t, t) used for classifier guidance."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .embedding import timestep_embedding


class NoisyClassifier(nn.Module):
    """MLP ``n_latent → 512 → 512 → 256 → n_classes`` with BatchNorm, SiLU and dropout.

    The time embedding is added to the first two hidden layers.
    """

    def __init__(self, n_latent: int, n_classes: int, hidden: Sequence[int] = (512, 512, 256),
                 n_time: int = 128, dropout: float = 0.1):
        super().__init__()
        self.n_time = n_time
        self.time_mlp = nn.Sequential(nn.Linear(n_time, n_time), nn.SiLU())
        dims = [n_latent, *hidden]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in hidden)
        self.time_proj = nn.ModuleList(nn.Linear(n_time, b) for b in hidden[:2])
        self.act = nn.SiLU()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden[-1], n_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Class logits for noised latents ``x`` at time steps ``t``."""
        emb = self.time_mlp(timestep_embedding(t, self.n_time))
        h = x
        for i, (lin, norm) in enumerate(zip(self.linears, self.norms)):
            h = lin(h)
            if i < len(self.time_proj):
                h = h + self.time_proj[i](emb)
            h = self.dropout(self.act(norm(h)))
        return self.out(h)
