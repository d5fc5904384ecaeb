"""Generating cells: noise → guided denoising in the latent space → decoded cells as AnnData."""

from __future__ import annotations

import pandas as pd
import torch

from ..diffusion import make_sampler
from ..diffusion.conditions import check_scales, condition_weights, parse_condition
from ..options import GENERATE
from ..runtime import seeded_generator
from .guidance import build_guidance, resolve_guidance, window_end
from .outputs import cells_to_anndata

DRAWN_SUFFIX = "_drawn"
"""Unconditional cells of a label-conditioned model: ``obs[<column>_drawn]`` holds the labels drawn for them from
the training cells (what they were denoised with). It is not the cells' type: a classifier trained on real PBMCs
agrees with it for 45 % of such cells (guided cells: 81-98 %); call types with a classifier if you need them."""


def generate(model, n_cells, condition, *, guidance_scale, guidance, cfg_scale, sampler, n_steps, eta,
             guidance_t_max, seed, batch_size, progress):
    """:meth:`ScDiffusion.generate <scdiffusion.ScDiffusion.generate>` (see there for the parameters)."""
    defaults = GENERATE.defaults
    v = GENERATE.check({"n_cells": n_cells, "n_steps": n_steps, "eta": eta, "guidance_t_max": guidance_t_max,
                        "seed": seed, "batch_size": batch_size}, n_timesteps=model.diffusion.n_timesteps)
    check_scales(guidance_scale, cfg_scale)  # also when there is no condition to apply them to
    mode = resolve_guidance(model.module, guidance)
    n_classes = {k: r.n_classes for k, r in model.registries.items()}
    gen = seeded_generator(v["seed"])
    drawn = not condition and mode != "classifier" and model.module.classifier_free and bool(model.registries)
    if drawn:  # unconditional: p(x) = sum over labels p(labels) p(x | labels), see ScDiffusion.generate
        condition = model.library.draw_labels(v["n_cells"], model.registries, gen)
        guidance_scale, cfg_scale = 0.0, 1.0  # recorded: the conditional model, unguided
    cond = parse_condition(condition, guidance_scale, v["n_cells"], model.registries,
                           default_scale=defaults.guidance_scale)
    free = parse_condition(condition, cfg_scale, v["n_cells"], model.registries, default_scale=defaults.cfg_scale,
                           scale_name="cfg_scale")
    s = make_sampler(sampler, model.diffusion, n_steps=v["n_steps"], eta=v["eta"])
    x = torch.randn((v["n_cells"], model.arch["n_latent"]), generator=gen)
    if drawn:  # every column set to the cell's drawn labels, no guidance
        steer, free_steer = None, model.module.conditional({k: torch.from_numpy(c.ids) for k, c in cond.items()})
    else:
        steer, free_steer = build_guidance(model.module, mode, condition_weights(cond, n_classes),
                                           condition_weights(free, n_classes), v["guidance_t_max"])
    z = model.module.sample(x, s, steer, free_guidance=free_steer, generator=gen, batch_size=v["batch_size"],
                            progress=progress, desc="generate")
    obs = pd.DataFrame(index=[f"gen_{i}" for i in range(v["n_cells"])])
    for key, c in cond.items():
        reg = model.registries[key]
        obs[key] = pd.Categorical(reg.to_labels(c.ids), categories=reg.categories)
    params = {"mode": "generate", "n_cells": v["n_cells"], "condition": {} if drawn else _shown(condition),
              **({"labels": "drawn from the training cells (unconditional)"} if drawn else {}),
              "guidance": "none" if drawn else mode,
              "guidance_scale": _scale(guidance_scale), "cfg_scale": _scale(cfg_scale), "sampler": sampler,
              "n_steps": int(len(s.timesteps)), **s.used_options(), "n_steps_requested": s.n_steps_requested,
              "guidance_t_max": window_end(model.module, v["guidance_t_max"]), "seed": v["seed"]}
    out = cells_to_anndata(model.module, z, obs, params, genes=model.genes, target_sum=model.preprocessor.target_sum,
                           library=model.library, registries=model.registries, generator=gen)
    if drawn:  # the labels the cells were denoised with, not a call of their type: named so (DRAWN_SUFFIX)
        out.obs = out.obs.rename(columns={key: f"{key}{DRAWN_SUFFIX}" for key in cond})
    return out


def _shown(condition) -> dict:
    """The condition as recorded in the parameters (per-cell labels are summarised)."""
    return {k: (lab if isinstance(lab, str) else "per-cell labels") for k, lab in (condition or {}).items()}


def _scale(scale):
    return scale if isinstance(scale, (int, float)) else dict(scale)
