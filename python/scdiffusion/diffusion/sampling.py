"""The sampling loop shared by generation and interpolation."""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from ..runtime import autocast
from .classifier_free import ClassifierFreeGuidance
from .guidance import ClassifierGuidance
from .samplers import Sampler


@torch.no_grad()
def sample_loop(denoiser: nn.Module, sampler: Sampler, x: torch.Tensor, *,
                guidance: ClassifierGuidance | None = None,
                free_guidance: ClassifierFreeGuidance | None = None, rows: slice = slice(None),
                generator: torch.Generator | None = None, progress: bool = False,
                desc: str = "sampling", mixed_precision: bool = False) -> torch.Tensor:
    """Denoise ``x`` (at ``sampler.timesteps[0]``) down to ``t = 0``.

    Parameters
    ----------
    denoiser
        ε-prediction network ``(x_t, t) → ε``, in eval mode.
    sampler
        A sampler whose ``set_timesteps`` has been called.
    x
        Starting point: pure noise for generation, noised real cells for interpolation.
    guidance
        Optional classifier guidance; ``rows`` selects this batch's rows of its weight matrices.
    free_guidance
        Optional classifier-free guidance: the guided noise prediction replaces the denoiser's (both kinds of
        guidance may be combined).
    generator
        Random generator of the sampler's noise.
    mixed_precision
        Run the denoiser under bfloat16 autocast (the sampler's arithmetic and guidance stay in float32).

    Returns
    -------
    The denoised latents ``x_0``.
    """
    steps = sampler.timesteps
    sampler.reset()
    for i in tqdm(range(len(steps)), desc=desc, disable=not progress, leave=False):
        t_int = int(steps[i])
        t = torch.full((x.shape[0],), t_int, device=x.device, dtype=torch.long)
        with autocast(x.device, mixed_precision):  # the network under autocast, the sampler in float32
            eps = (free_guidance(x, t, rows) if free_guidance is not None else denoiser(x, t)).float()
        grad = guidance(x, t, rows) if guidance is not None and guidance.active(t_int) else None
        x, _ = sampler.step(eps, i, x, grad=grad, generator=generator)
    return x
