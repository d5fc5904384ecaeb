"""Choosing the weight of drawn labels for unconditional cells on the model's own validation cells.

Unconditional cells of a label-conditioned model draw their labels from the training cells and are denoised
towards them with the classifier-free weight ``drawn_cfg_scale`` (experiment E15 in
``benchmarks/results/decoder/experiments.md``). Which weight gives the more realistic cells depends on the data:
on 558 PBMCs 2 (cells pulled off the space between cell types), on 3,000 and 10,000 simulated cells 1 (weight 2
pushes cells past their groups; E24, E26). In all nine measured runs the generated latents' MMD² to held-out
cells' latents ranks the weights as the gene-space measures do, so after training every candidate weight
generates the same latents (same labels, noise and sampler draws: the differences are the weight's) and the one
closest to the validation cells' latents by MMD² (:func:`scdiffusion.train.realism.mmd2`) is kept. Latents only:
nothing is decoded, a few seconds on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch

from ..diffusion import make_sampler
from ..diffusion.samplers import DEFAULT_SAMPLER
from .realism import MAX_CELLS, MAX_VALIDATION_CELLS, MIN_CELLS, mmd2

#: The weights compared (E15 / E24 / E26). E27: 1.5, 3 and 4 were worse than 2 on PBMC, and the latent MMD² ranks 3
#: slightly ahead of 2 there, against the gene-space columns, so they are not candidates.
CANDIDATES = (1.0, 2.0)
#: Fewer validation cells than this: no choice is made (the cell-count rule of the generation layer applies).
MIN_VALIDATION_CELLS = 20


@torch.no_grad()
def choose_drawn_weight(module, library, x_val: torch.Tensor, seed: int,
                        candidates: tuple[float, ...] = CANDIDATES) -> dict | None:
    """Score every candidate weight by MMD² of generated latents to the validation cells' latents.

    Parameters
    ----------
    module
        The trained :class:`~scdiffusion.module.ScDiffusionModule` (label-conditioned, classifier-free).
    library
        :class:`~scdiffusion.data.library.LibrarySizes` of the training cells: each generated cell takes the labels
        of one training cell drawn at random, as unconditional generation does.
    x_val
        Log-normalised expression of the validation cells (cells × genes).
    seed
        Seeds the draws (labels, noise, sampler), shared by every candidate.
    candidates
        Weights to compare.

    Returns
    -------
    ``{"chosen": weight, "scores": {str(weight): MMD²}, "n_validation": cells, "n_generated": cells}``, or ``None``
    when the model has no labels to draw, is not classifier-free, or has fewer than
    :data:`MIN_VALIDATION_CELLS` validation cells.
    """
    if not library.labels or not getattr(module, "classifier_free", False) or len(x_val) < MIN_VALIDATION_CELLS:
        return None
    gen = torch.Generator().manual_seed(int(seed))
    x_ref = x_val.detach().cpu().float()
    if len(x_ref) > MAX_VALIDATION_CELLS:
        x_ref = x_ref[torch.randperm(len(x_ref), generator=gen)[:MAX_VALIDATION_CELLS]]
    z_ref = module.encode(x_ref).cpu().double()
    n = int(np.clip(2 * len(z_ref), MIN_CELLS, MAX_CELLS))
    rows = torch.randint(0, len(library.sizes), (n,), generator=gen)
    labels = {k: v[rows] for k, v in library.labels.items()}
    noise = torch.randn((n, module.n_latent), generator=gen)
    sampler = make_sampler(DEFAULT_SAMPLER, module.diffusion, n_steps=None)  # the default sampler and steps
    scores = {}
    for weight in candidates:
        g = torch.Generator().manual_seed(int(seed) + 1)
        z = module.sample(noise.clone(), sampler, None, free_guidance=module.conditional(labels, weight),
                          generator=g, progress=False)
        scores[weight] = mmd2(z_ref, module.unscale(z).cpu().double())
    chosen = min(candidates, key=lambda w: scores[w])
    return {"chosen": float(chosen), "scores": {f"{w:g}": round(float(s), 6) for w, s in scores.items()},
            "n_validation": int(len(z_ref)), "n_generated": n}


__all__ = ["CANDIDATES", "choose_drawn_weight"]
