"""Gradient Interpolation: real cells of one label, noised, then denoised with guidance moving to another label."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from ..data.io import read_anndata
from ..declaration import Option
from ..diffusion import make_sampler
from ..diffusion.conditions import interpolation_weights
from ..errors import InputError
from ..options import INTERPOLATE
from ..runtime import seeded_generator
from .guidance import build_guidance, resolve_guidance, window_end
from .outputs import cells_to_anndata


def interpolate(model, start_cells, labels_key: str, start: str, end: str, *, n_states: int, n_cells: int,
                t_start: int, guidance_scale: float | Mapping[str, float], guidance: str,
                cfg_scale: float | Mapping[str, float], sampler: str,
                n_steps: int | None, eta: float | None, guidance_t_max: int | None, layer: str | None, seed: int,
                batch_size: int, progress: bool):
    """:meth:`ScDiffusion.interpolate <scdiffusion.ScDiffusion.interpolate>` (see there for the parameters)."""
    if labels_key not in model.registries:
        known = ", ".join(model.registries) or "none"
        raise InputError(f"No classifier for column '{labels_key}'. Columns with classifiers: {known}.")
    reg = model.registries[labels_key]
    a, b = reg.to_id(str(start)), reg.to_id(str(end))
    if a == b:
        raise InputError(f"start and end are the same label ({start!r}); interpolation needs two labels.")
    T = model.diffusion.n_timesteps
    v = INTERPOLATE.check({"n_states": n_states, "n_cells": n_cells, "t_start": t_start,
                           "n_steps": n_steps, "eta": eta,
                           "guidance_t_max": guidance_t_max, "seed": seed, "batch_size": batch_size}, n_timesteps=T)
    v["guidance_scale"] = _one_scale(guidance_scale, "guidance_scale", labels_key)
    v["cfg_scale"] = _one_scale(cfg_scale, "cfg_scale", labels_key)
    s = make_sampler(sampler, model.diffusion, n_steps=v["n_steps"], t_start=v["t_start"], eta=v["eta"])
    cells = read_anndata(start_cells)
    if labels_key not in cells.obs.columns:
        raise InputError(f"start_cells has no obs column '{labels_key}'; it must label the real start cells.")
    mask = (cells.obs[labels_key].astype(str) == str(start)).to_numpy()
    if not mask.any():
        raise InputError(f"start_cells has no cell labelled {start!r} in '{labels_key}'.")
    z0 = torch.from_numpy(model.get_latent_representation(cells[mask], layer=layer, scaled=True))
    n_cells, n_states = v["n_cells"], v["n_states"]
    gen = seeded_generator(v["seed"])
    pick = torch.randint(0, len(z0), (n_cells,), generator=gen) if len(z0) < n_cells else \
        torch.randperm(len(z0), generator=gen)[:n_cells]
    noise = torch.randn((n_cells, z0.shape[1]), generator=gen)
    x_start = model.diffusion.q_sample(z0[pick], torch.full((n_cells,), v["t_start"]), noise)
    mode = resolve_guidance(model.module, guidance, "interpolate")
    weights, w_end = interpolation_weights(n_states, n_cells, a, b, reg.n_classes, v["guidance_scale"])
    free, _ = interpolation_weights(n_states, n_cells, a, b, reg.n_classes, v["cfg_scale"])
    steer, free_steer = build_guidance(model.module, mode, {labels_key: weights}, {labels_key: free},
                                       v["guidance_t_max"])
    z = model.module.sample(x_start.repeat(n_states, 1), s, steer, free_guidance=free_steer, generator=gen,
                            batch_size=v["batch_size"], progress=progress, desc="interpolate")
    state = np.repeat(np.arange(n_states), n_cells)
    src = np.asarray(cells.obs_names[mask])[pick.numpy()]
    scale = v["guidance_scale"]
    obs = pd.DataFrame({
        "interpolation_state": state,
        "weight_start": np.repeat(scale * (1 - w_end), n_cells),
        "weight_end": np.repeat(scale * w_end, n_cells),
        "interpolation_start": pd.Categorical([str(start)] * len(state)),
        "interpolation_end": pd.Categorical([str(end)] * len(state)),
        "source_cell": np.tile(src, n_states),
    }, index=[f"interp_{s_}_{i}" for s_ in range(n_states) for i in range(n_cells)])
    params = {"mode": "interpolate", "labels_key": labels_key, "start": str(start), "end": str(end),
              "n_states": n_states, "n_cells": n_cells, "t_start": v["t_start"], "guidance": mode,
              "guidance_scale": scale, "cfg_scale": v["cfg_scale"],
              "sampler": sampler, "n_steps": int(len(s.timesteps)), **s.used_options(),
              "n_steps_requested": s.n_steps_requested,
              "guidance_t_max": window_end(model.module, v["guidance_t_max"]), "seed": v["seed"]}
    # library sizes are drawn from training cells of the nearer label
    obs[labels_key] = pd.Categorical(np.where(w_end[state] < 0.5, str(start), str(end)))
    out = cells_to_anndata(model.module, z, obs, params, genes=model.genes, target_sum=model.preprocessor.target_sum,
                           library=model.library, registries=model.registries, generator=gen)
    del out.obs[labels_key]
    return out


def _one_scale(value: float | Mapping[str, float], name: str, labels_key: str) -> float:
    """A guidance weight of the one interpolated column: a number, or ``{labels_key: number}`` as ``generate`` takes
    per-column weights (other columns are not guided in an interpolation, so naming them is an error)."""
    option = INTERPOLATE[name]
    if isinstance(value, Mapping):
        extra = sorted(set(value) - {labels_key})
        if extra:
            raise InputError(f"{name} of an interpolation along '{labels_key}' is a number or {{'{labels_key}': "
                             f"number}}; it names other columns {extra}, which an interpolation does not guide.")
        value = value.get(labels_key, option.default)
    return Option(name, "float", option.default, option.text, low=option.low, high=option.high).check(value)
