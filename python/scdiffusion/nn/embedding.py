"""Sinusoidal time-step embedding."""

from __future__ import annotations

import math

import torch


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) time steps.

    Parameters
    ----------
    t
        1-D tensor of ``n`` time steps.
    dim
        Embedding size.

    Returns
    -------
    ``n × dim`` tensor ``[cos(t·f), sin(t·f)]`` with geometrically spaced frequencies ``f``.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb
