"""Selecting the diffusion stage's weights by how real its cells look, not by its denoising loss.

The denoising loss on the validation cells is a poor proxy for sample quality: it rises after ~1,000 steps on
PBMC while held-out realism still improves (experiments E9–E11, ``benchmarks/results/decoder/experiments.md``).
With ``diffusion={"select_by": "realism"}`` every evaluation instead generates cells with the weights being
trained (labels and library sizes of random training cells, the default sampler, decoded to counts), and scores
them by MMD² against the validation cells in gene space (the estimator of :func:`scdiffusion.metrics.mmd_rbf`,
50 pooled principal components of log-normalised expression, written here in torch: this layer does not import the
metrics). Noise, labels and library sizes are drawn once, so every evaluation scores the same draws (common
random numbers) and differences between evaluations are the weights'.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..diffusion import JointConditional, make_sampler
from ..diffusion.samplers import DEFAULT_SAMPLER
from ..diffusion.sampling import sample_loop

#: Cells generated per evaluation: twice the validation cells, within these bounds.
MIN_CELLS, MAX_CELLS = 256, 1024
#: Validation cells scored at most (a seeded subset beyond).
MAX_VALIDATION_CELLS = 2048
#: Bandwidth multipliers of the kernel sum (as :data:`scdiffusion.metrics.mmd.BANDWIDTH_MULTIPLIERS`).
BANDWIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0)


def mmd2(real: torch.Tensor, generated: torch.Tensor, n_comps: int = 50) -> float:
    """Biased MMD² with a five-bandwidth RBF kernel sum on ``n_comps`` principal components of the pooled cells."""
    pooled = torch.cat([real, generated]).double()
    pooled = pooled - pooled.mean(0)
    k = min(n_comps, pooled.shape[0] - 1, pooled.shape[1])
    z = pooled @ torch.linalg.svd(pooled, full_matrices=False)[2][:k].T
    d = torch.cdist(z, z).pow(2)
    n, nr = len(z), len(real)
    h = float(d.sum()) / (n * (n - 1))
    if not np.isfinite(h) or h <= 0:
        return 0.0
    kernel = sum(torch.exp(-d / (m * h)) for m in BANDWIDTHS)
    return max(float(kernel[:nr, :nr].mean() + kernel[nr:, nr:].mean() - 2 * kernel[:nr, nr:].mean()), 0.0)


def realism_score_fn(module, library, x_val: torch.Tensor, seed: int) -> Callable[[nn.Module], float]:
    """``score(denoiser) → MMD²`` of cells generated with ``denoiser`` against the validation cells ``x_val``.

    Parameters
    ----------
    module
        The :class:`~scdiffusion.module.ScDiffusionModule` being trained (trained autoencoder, latent scale set).
    library
        :class:`~scdiffusion.data.library.LibrarySizes` of the training cells: each generated cell takes the labels
        and library size of one training cell drawn at random.
    x_val
        Log-normalised expression of the validation cells (cells × genes).
    seed
        Seeds the draws (the same at every evaluation).
    """
    gen = torch.Generator().manual_seed(int(seed))
    x_ref = x_val.detach().cpu().float()
    if len(x_ref) > MAX_VALIDATION_CELLS:
        x_ref = x_ref[torch.randperm(len(x_ref), generator=gen)[:MAX_VALIDATION_CELLS]]
    n = int(np.clip(2 * len(x_ref), MIN_CELLS, MAX_CELLS))
    rows = torch.randint(0, len(library.sizes), (n,), generator=gen)
    labels = {k: v[rows] for k, v in library.labels.items()}
    lib = library.sizes[rows]
    noise = torch.randn((n, module.n_latent), generator=gen)
    target_sum = module.autoencoder.likelihood.target_sum

    @torch.no_grad()
    def score(denoiser: nn.Module) -> float:
        g = torch.Generator().manual_seed(int(seed) + 1)
        sampler = make_sampler(DEFAULT_SAMPLER, module.diffusion, n_steps=None)  # its default steps
        keys = getattr(denoiser, "label_keys", [])
        free = JointConditional(denoiser, {k: labels[k] for k in keys}) if keys else None
        device = next(denoiser.parameters()).device
        z = sample_loop(denoiser, sampler, noise.to(device), free_guidance=free, generator=g,
                        mixed_precision=module.mixed_precision).cpu()
        if module.models_counts:  # log-normalised like the training cells
            counts = module.sample_counts(z, lib, g)
            x = torch.log1p(counts * (target_sum / counts.sum(1, keepdim=True).clamp_min(1.0)))
        else:
            x = module.decode_mean(z)
        return mmd2(x_ref, x.float())

    return score


__all__ = ["mmd2", "realism_score_fn"]
