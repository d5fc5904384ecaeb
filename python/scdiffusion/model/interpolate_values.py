"""Interpolation along a continuous column (times, doses): real cells, noised to ``t_start``, denoised by the
denoiser conditioned on each requested value (classifier-free guidance by value; no classifier)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from ..data.continuous import condition_values, numeric_column
from ..data.io import read_anndata
from ..diffusion import make_sampler
from ..errors import InputError
from ..options import INTERPOLATE
from ..runtime import seeded_generator
from .continuous import record
from .interpolation import T_START, _gradient_starts, _one_scale
from .interpolation import interpolate as interpolate_labels
from .outputs import cells_to_anndata
from .two_ended import two_ended_starts

logger = logging.getLogger(__name__)


def interpolate(model, start_cells, labels_key: str, start, end, *, at=None, **options):
    """:meth:`ScDiffusion.interpolate <scdiffusion.ScDiffusion.interpolate>`: along a continuous column
    (:func:`interpolate_values`), or between two labels (:func:`.interpolation.interpolate`)."""
    if labels_key in getattr(model, "continuous", {}):
        for name in ("guidance_scale", "guidance", "guidance_t_max"):  # classifier guidance: not used by value
            options.pop(name, None)
        return interpolate_values(model, start_cells, labels_key, start, end, at=at, **options)
    if at is not None:
        known = ", ".join(getattr(model, "continuous", {})) or "none (train with continuous_keys)"
        raise InputError(f"at= gives values of a continuous column, but '{labels_key}' is not one; continuous "
                         f"columns of this model: {known}.")
    return interpolate_labels(model, start_cells, labels_key, start, end, **options)


def interpolate_values(model, start_cells, key: str, start, end, *, at, n_states: int, n_cells: int, t_start: int,
                       method: str, cfg_scale, sampler: str, n_steps: int | None, eta: float | None,
                       layer: str | None, seed: int, batch_size: int, progress: bool):
    """States at the values ``at`` (default: ``n_states`` values from ``start`` to ``end``) of the continuous
    column ``key``, denoised by the denoiser conditioned on each value. ``method="gradient"``: every state from the
    same noised cells whose value is ``start``; ``"two-ended"``: the state at value ``a`` from spherical blends, at
    ``w = (a - start) / (end - start)``, of noised start and end cells paired by optimal transport
    (:func:`.two_ended.two_ended_starts`)."""
    reg = model.continuous[key]
    T = model.diffusion.n_timesteps
    v = INTERPOLATE.check({"n_states": n_states, "n_cells": n_cells, "t_start": t_start, "method": method,
                           "n_steps": n_steps, "eta": eta, "seed": seed, "batch_size": batch_size}, n_timesteps=T)
    start_v, end_v = (float(condition_values(key, x, 1, reg)[0]) for x in (start, end))
    if at is None:
        values = np.linspace(start_v, end_v, v["n_states"])
    else:
        if isinstance(at, (str, bytes)) or np.ndim(at) == 0:
            at = [at]
        if len(at) == 0:
            raise InputError(f"at= is empty; give the values of '{key}' to make the states at, e.g. [12, 36, 60].")
        values = _numbers(at, key, reg)
    n_states, n_cells = len(values), v["n_cells"]
    cfg = _one_scale(cfg_scale, "cfg_scale", key)
    cells = read_anndata(start_cells)
    if key not in cells.obs.columns:
        raise InputError(f"start_cells has no obs column '{key}'; it must give the real cells' values.")
    column = numeric_column(cells.obs, key)
    mask = np.isclose(column, start_v)
    if not mask.any():
        raise InputError(f"start_cells has no cell with {key} = {start_v:g}; start is the value of the start cells.")
    end_mask = np.isclose(column, end_v)
    method = v["method"] or "auto"
    if method == "auto":
        method = _auto_method(values, start_v, end_v, end_mask, key)
    v["t_start"] = T_START[method] if v["t_start"] is None else v["t_start"]
    gen = seeded_generator(v["seed"])
    s = make_sampler(sampler, model.diffusion, n_steps=v["n_steps"], t_start=v["t_start"], eta=v["eta"])
    src_end = None
    if method == "two-ended":
        w_end = _blend_positions(values, start_v, end_v, key)
        if not end_mask.any():
            raise InputError(f"start_cells has no cell with {key} = {end_v:g}; method='two-ended' starts from real "
                             f"cells at both values: add cells with {key} = {end_v:g}, or use method='gradient'.")
        x_t, src, src_end = two_ended_starts(model, cells, key, start, end, layer=layer, n_cells=n_cells, w_end=w_end,
                                             t_start=v["t_start"], generator=gen, masks=(mask, end_mask))
    else:
        x_t, src = _gradient_starts(model, cells, key, start, layer, n_cells, n_states, v["t_start"], gen, mask=mask)
    per_cell = condition_values(key, np.repeat(values, n_cells), n_states * n_cells, reg)
    free = model.module.free_guidance({}, {key: (torch.from_numpy(reg.normalise(per_cell)), cfg)})
    z = model.module.sample(x_t, s, None, free_guidance=free, generator=gen, batch_size=v["batch_size"],
                            progress=progress, desc="interpolate")
    state = np.repeat(np.arange(n_states), n_cells)
    obs = pd.DataFrame({"interpolation_state": state, key: per_cell, "source_cell": np.tile(src, n_states)},
                       index=[f"interp_{s_}_{i}" for s_ in range(n_states) for i in range(n_cells)])
    if src_end is not None:
        obs["source_cell_end"] = np.tile(src_end, n_states)
    params = {"mode": "interpolate", "labels_key": key, "start": start_v, "at": [float(x) for x in values],
              "continuous": record(model, {key: values}), "n_states": n_states, "n_cells": n_cells,
              "t_start": v["t_start"], "interpolation_method": method, "guidance": "classifier-free",
              "cfg_scale": cfg, "sampler": sampler, "n_steps": int(len(s.timesteps)), **s.used_options(),
              "n_steps_requested": s.n_steps_requested, "seed": v["seed"]}
    return cells_to_anndata(model.module, z, obs, params, genes=model.genes, target_sum=model.preprocessor.target_sum,
                            library=model.library, registries={}, generator=gen)


def _auto_method(values: np.ndarray, start_v: float, end_v: float, end_mask: np.ndarray, key: str) -> str:
    """``"two-ended"`` when there are cells at the end value and every value lies between start and end, else
    ``"gradient"`` (said in the log)."""
    if end_mask.any() and not np.isclose(start_v, end_v) and not _outside(values, start_v, end_v).size:
        return "two-ended"
    why = (f"start_cells has no cell with {key} = {end_v:g}" if not end_mask.any()
           else "some values of at= lie outside start..end")
    logger.info("interpolate: %s, so method='auto' uses Gradient Interpolation (start cells only).", why)
    return "gradient"


def _blend_positions(values: np.ndarray, start_v: float, end_v: float, key: str) -> np.ndarray:
    """Where each value lies between ``start`` and ``end`` (0 to 1): the blend position of two-ended states."""
    if np.isclose(start_v, end_v):
        raise InputError(f"start and end are the same value of '{key}' ({start_v:g}); two-ended interpolation needs "
                         "two values.")
    outside = _outside(values, start_v, end_v)
    if outside.size:
        raise InputError(f"method='two-ended' makes states between start ({start_v:g}) and end ({end_v:g}); at= has "
                         f"{', '.join(f'{x:g}' for x in outside)} outside: give values between them, or use "
                         "method='gradient' to go beyond.")
    return np.clip((np.asarray(values, dtype=float) - start_v) / (end_v - start_v), 0.0, 1.0)


def _outside(values: np.ndarray, start_v: float, end_v: float) -> np.ndarray:
    """The values that do not lie between ``start`` and ``end`` (either order)."""
    values = np.asarray(values, dtype=float)
    lo, hi = min(start_v, end_v), max(start_v, end_v)
    return values[(values < lo - 1e-9) | (values > hi + 1e-9)]


def _numbers(at, key: str, reg) -> np.ndarray:
    """``at`` as finite numbers (values outside the trained range warned about as extrapolation)."""
    out = []
    for i, a in enumerate(at):
        try:
            x = float(a)
        except (TypeError, ValueError):
            x = float("nan")
        if isinstance(a, bool) or not np.isfinite(x):
            raise InputError(f"at[{i}] = {a!r} is not a finite number; at= gives values of '{key}' (trained on "
                             f"{reg.low:g} to {reg.high:g}), e.g. at=[12, 36, 60].")
        out.append(x)
    return condition_values(key, out, len(out), reg)
