"""Interpolation between two labels: real cells noised to ``t_start``, then denoised with guidance moving from the
start label to the end label. ``method="gradient"`` (the paper's Gradient Interpolation) starts every state from
the same noised start cells; ``method="two-ended"`` starts state ``w`` from a spherical blend of noised start and
end cells paired by optimal transport (:mod:`.two_ended`); ``method="auto"`` (the default) is two-ended when the
cells include the end label, else gradient."""

from __future__ import annotations

import logging
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
from .two_ended import two_ended_starts

logger = logging.getLogger(__name__)

#: Default ``t_start`` of each method: the paper's 600 for Gradient Interpolation (its states have to move from the
#: start label to the end label); far less for two-ended, whose blends already lie between two real cells
#: (``benchmarks/README.md``, T1: 50 beat 150, 300 and 600 on the trajectory and on HSMM, 3 seeds each; 10 no better).
T_START = {"gradient": 600, "two-ended": 50}


def interpolate(model, start_cells, labels_key: str, start: str, end: str, *, n_states: int, n_cells: int,
                t_start: int, method: str, guidance_scale: float | Mapping[str, float], guidance: str,
                cfg_scale: float | Mapping[str, float], sampler: str,
                n_steps: int | None, eta: float | None, guidance_t_max: int | None, layer: str | None, seed: int,
                batch_size: int, progress: bool):
    """Interpolation between two labels (:meth:`ScDiffusion.interpolate <scdiffusion.ScDiffusion.interpolate>`,
    see there for the parameters; along a continuous column: :func:`.interpolate_values.interpolate_values`)."""
    if labels_key not in model.registries:
        known = ", ".join(model.registries) or "none"
        raise InputError(f"No classifier for column '{labels_key}'. Columns with classifiers: {known}.")
    reg = model.registries[labels_key]
    a, b = reg.to_id(str(start)), reg.to_id(str(end))
    if a == b:
        raise InputError(f"start and end are the same label ({start!r}); interpolation needs two labels.")
    T = model.diffusion.n_timesteps
    v = INTERPOLATE.check({"n_states": n_states, "n_cells": n_cells, "t_start": t_start, "method": method,
                           "n_steps": n_steps, "eta": eta,
                           "guidance_t_max": guidance_t_max, "seed": seed, "batch_size": batch_size}, n_timesteps=T)
    v["guidance_scale"] = _one_scale(guidance_scale, "guidance_scale", labels_key)
    v["cfg_scale"] = _one_scale(cfg_scale, "cfg_scale", labels_key)
    cells = read_anndata(start_cells)
    if labels_key not in cells.obs.columns:
        raise InputError(f"start_cells has no obs column '{labels_key}'; it must label the real start cells.")
    n_cells, n_states, method = v["n_cells"], v["n_states"], v["method"] or INTERPOLATE["method"].default
    if method == "auto":
        method = _auto_method(cells, labels_key, end)
    v["t_start"] = T_START[method] if v["t_start"] is None else v["t_start"]
    s = make_sampler(sampler, model.diffusion, n_steps=v["n_steps"], t_start=v["t_start"], eta=v["eta"])
    gen = seeded_generator(v["seed"])
    mode = resolve_guidance(model.module, guidance, "interpolate")
    weights, w_end = interpolation_weights(n_states, n_cells, a, b, reg.n_classes, v["guidance_scale"])
    free, _ = interpolation_weights(n_states, n_cells, a, b, reg.n_classes, v["cfg_scale"])
    if method == "two-ended":
        x_t, src, src_end = two_ended_starts(model, cells, labels_key, start, end, layer=layer, n_cells=n_cells,
                                             w_end=w_end, t_start=v["t_start"], generator=gen)
    else:
        x_t, src = _gradient_starts(model, cells, labels_key, start, layer, n_cells, n_states, v["t_start"], gen)
        src_end = None
    steer, free_steer = build_guidance(model.module, mode, {labels_key: weights}, {labels_key: free},
                                       v["guidance_t_max"])
    z = model.module.sample(x_t, s, steer, free_guidance=free_steer, generator=gen,
                            batch_size=v["batch_size"], progress=progress, desc="interpolate")
    state = np.repeat(np.arange(n_states), n_cells)
    scale = v["guidance_scale"]
    obs = pd.DataFrame({
        "interpolation_state": state,
        "weight_start": np.repeat(scale * (1 - w_end), n_cells),
        "weight_end": np.repeat(scale * w_end, n_cells),
        "interpolation_start": pd.Categorical([str(start)] * len(state)),
        "interpolation_end": pd.Categorical([str(end)] * len(state)),
        "source_cell": np.tile(src, n_states),
    }, index=[f"interp_{s_}_{i}" for s_ in range(n_states) for i in range(n_cells)])
    if src_end is not None:
        obs["source_cell_end"] = np.tile(src_end, n_states)
    params = {"mode": "interpolate", "labels_key": labels_key, "start": str(start), "end": str(end),
              "n_states": n_states, "n_cells": n_cells, "t_start": v["t_start"], "interpolation_method": method,
              "guidance": mode,
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


def _gradient_starts(model, cells, labels_key: str, start: str, layer: str | None, n_cells: int, n_states: int,
                     t_start: int, generator: torch.Generator, mask: np.ndarray | None = None
                     ) -> tuple[torch.Tensor, np.ndarray]:
    """Gradient Interpolation's starting points: ``n_cells`` start cells (with replacement when fewer), noised to
    ``t_start``, the same for every state. Returns ``(x_t (n_states·n_cells × d), start cell names)``. ``mask``:
    the start cells, when not those labelled ``start``."""
    mask = (cells.obs[labels_key].astype(str) == str(start)).to_numpy() if mask is None else mask
    if not mask.any():
        raise InputError(f"start_cells has no cell labelled {start!r} in '{labels_key}'.")
    z0 = torch.from_numpy(model.get_latent_representation(cells[mask], layer=layer, scaled=True))
    pick = torch.randint(0, len(z0), (n_cells,), generator=generator) if len(z0) < n_cells else \
        torch.randperm(len(z0), generator=generator)[:n_cells]
    noise = torch.randn((n_cells, z0.shape[1]), generator=generator)
    x_start = model.diffusion.q_sample(z0[pick], torch.full((n_cells,), t_start), noise)
    return x_start.repeat(n_states, 1), np.asarray(cells.obs_names[mask])[pick.numpy()]


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


def _auto_method(cells, labels_key: str, end) -> str:
    """``"two-ended"`` when ``cells`` has cells of the end label, else ``"gradient"`` (said in the log)."""
    if (cells.obs[labels_key].astype(str).to_numpy() == str(end)).any():
        return "two-ended"
    logger.info("interpolate: start_cells has no cell labelled %r, so method='auto' uses Gradient Interpolation "
                "(start cells only); add cells of %r to start_cells for the two-ended method.", str(end), str(end))
    return "gradient"
