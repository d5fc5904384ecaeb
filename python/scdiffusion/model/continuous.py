"""Conditions on continuous columns (times, doses) at generation: classifier-free guidance by value."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ..data.continuous import condition_values
from ..diffusion.conditions import check_scale
from ..options import GENERATE


def split_condition(model, condition, cfg_scale, n_cells: int):
    """``(label condition, cfg_scale for it, {column: (normalised values, weight)}, {column: raw values})``: the
    continuous columns of ``condition`` taken out (a column that is both a label and a continuous column is
    conditioned on by value), each with its classifier-free weight."""
    continuous = getattr(model, "continuous", {})
    if not continuous or not isinstance(condition, Mapping):
        return condition, cfg_scale, {}, {}
    labels = {k: v for k, v in condition.items() if k not in continuous}
    values, raw = {}, {}
    for key in condition:
        if key not in continuous:
            continue
        scale = cfg_scale.get(key, GENERATE.defaults.cfg_scale) if isinstance(cfg_scale, Mapping) else cfg_scale
        raw[key] = condition_values(key, condition[key], n_cells, continuous[key])
        values[key] = (torch.from_numpy(continuous[key].normalise(raw[key])), check_scale(scale, "cfg_scale"))
    if isinstance(cfg_scale, Mapping):
        cfg_scale = {k: v for k, v in cfg_scale.items() if k not in raw}
    return labels or None, cfg_scale, values, raw


def record(model, raw: Mapping[str, np.ndarray]) -> dict:
    """What the parameters record of the continuous columns of a condition."""
    out = {}
    for key, v in raw.items():
        reg = model.continuous[key]
        out[key] = {"continuous": True, "trained_min": reg.low, "trained_max": reg.high,
                    "extrapolated": bool(((v < reg.low) | (v > reg.high)).any()),
                    "pseudotime_spread": bool((reg.pseudotime or {}).get("applied", False))}
    return out
