"""Count splitting of the autoencoder's training cells (binomial thinning).

An autoencoder trained to reconstruct the counts it was given learns to pass each cell's own counting noise
into the decoded mean. With count splitting each training cell's counts ``c`` are split at random into
``c₁ ~ Binomial(c, p)`` and ``c₂ = c − c₁``, which are independent given the cell's expected expression (for
Poisson counts exactly, for negative binomial counts nearly): the encoder sees ``c₁`` (log-normalised as usual)
and the likelihood scores ``c₂`` with ``c₂``'s own library size, so copying noise no longer pays
(``benchmarks/results/decoder/experiments.md``, E7 and issue 23). At inference nothing is split.

Each row is split with its own seed, drawn with the batch (``fit``'s ``draw_fn``), so a step's split does not
depend on how the batch is shared between processes.
"""

from __future__ import annotations

import torch

_SEED_HIGH = 2**62


def row_seeds(n_rows: int, generator: torch.Generator | None) -> torch.Tensor:
    """One seed per row (int64), drawn from ``generator``."""
    return torch.randint(0, _SEED_HIGH, (n_rows,), generator=generator, dtype=torch.int64)


def thin(counts: torch.Tensor, p: float, seeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(c₁, c₂)``: every count drawn ``Binomial(c, p)`` into ``c₁``, the rest in ``c₂``; row ``i`` with seed
    ``seeds[i]`` (the same seed gives the same split on any device)."""
    probs = torch.full((counts.shape[1],), float(p), dtype=torch.float32)
    part = torch.empty(counts.shape, dtype=torch.float32)
    host = counts.detach().float().cpu()
    gen = torch.Generator()
    for i, seed in enumerate(seeds.tolist()):
        gen.manual_seed(int(seed))
        part[i] = torch.binomial(host[i], probs, generator=gen)
    part = part.to(counts.device, counts.dtype)
    return part, counts - part


def split_batch(counts: torch.Tensor, p: float, seeds: torch.Tensor,
                target_sum: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, c₂, library₂)``: the encoder's input (``c₁`` log-normalised to ``target_sum``, as the training
    cells are), the counts the likelihood scores and their library sizes."""
    part, rest = thin(counts, p, seeds)
    lib = part.sum(dim=1, keepdim=True)
    x = torch.log1p(part * torch.where(lib > 0, target_sum / lib.clamp_min(1.0), torch.zeros_like(lib)))
    return x, rest, rest.sum(dim=1)
