"""Selecting the diffusion stage's weights by how real its cells look, not by its denoising loss.

The denoising loss on the validation cells is a poor proxy for sample quality: it rises after ~1,000 steps on
PBMC while held-out realism still improves (experiments E9–E11, ``benchmarks/results/decoder/experiments.md``).
With ``diffusion={"select_by": "realism"}`` every evaluation instead generates cells with the weights being
trained (labels and library sizes of random training cells, the default sampler, decoded to counts), and scores
them by MMD² against the validation cells in gene space (:func:`scdiffusion.metrics.mmd_rbf`: 50 pooled principal
components of log-normalised expression). Noise, labels and library sizes are drawn once, so every evaluation
scores the same draws (common random numbers) and differences between evaluations are the weights'.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..data.preprocessing import log_normalize
from ..diffusion import JointConditional, make_sampler
from ..diffusion.sampling import sample_loop

#: Cells generated per evaluation: twice the validation cells, within these bounds.
MIN_CELLS, MAX_CELLS = 256, 1024
#: The sampler and steps of the default generation (``options.GENERATE``).
SAMPLER, N_STEPS = "dpmpp-sde", 25


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
    from ..metrics import mmd_rbf

    x_ref = x_val.detach().cpu().float().numpy()
    n = int(np.clip(2 * len(x_ref), MIN_CELLS, MAX_CELLS))
    gen = torch.Generator().manual_seed(int(seed))
    rows = torch.randint(0, len(library.sizes), (n,), generator=gen)
    labels = {k: v[rows] for k, v in library.labels.items()}
    lib = library.sizes[rows]
    noise = torch.randn((n, module.n_latent), generator=gen)
    target_sum = module.autoencoder.likelihood.target_sum

    @torch.no_grad()
    def score(denoiser: nn.Module) -> float:
        g = torch.Generator().manual_seed(int(seed) + 1)
        sampler = make_sampler(SAMPLER, module.diffusion, n_steps=N_STEPS)
        keys = getattr(denoiser, "label_keys", [])
        free = JointConditional(denoiser, {k: labels[k] for k in keys}) if keys else None
        device = next(denoiser.parameters()).device
        z = sample_loop(denoiser, sampler, noise.to(device), free_guidance=free, generator=g,
                        mixed_precision=module.mixed_precision).cpu()
        if module.models_counts:
            x = log_normalize(module.sample_counts(z, lib, g).numpy(), target_sum)
        else:
            x = module.decode_mean(z).numpy()
        return float(mmd_rbf(x_ref, x, seed=int(seed)))

    return score


__all__ = ["realism_score_fn"]
