"""Conditions → classifier-guidance weights.

A condition names labels of one or several label columns, one label for every cell or one label per cell; with
a guidance scale per column it becomes one ``n_cells × n_classes`` weight matrix per classifier, which
:class:`~scdiffusion.diffusion.ClassifierGuidance` turns into a gradient. Gradient Interpolation is the same
thing with two non-zero weights per cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import torch

from ..errors import InputError


class Registry(Protocol):
    """What conditions need of a label registry (:class:`scdiffusion.data.LabelRegistry`)."""

    key: str
    n_classes: int

    def to_id(self, label: str) -> int: ...

    def to_ids(self, labels) -> np.ndarray: ...


@dataclass
class Condition:
    """The class id of every cell in one label column, and its guidance scale."""

    ids: np.ndarray
    scale: float


def parse_condition(condition: Mapping[str, str | Sequence[str]] | None,
                    guidance_scale: float | Mapping[str, float], n_cells: int,
                    registries: Mapping[str, Registry], *, default_scale: float,
                    scale_name: str = "guidance_scale") -> dict[str, Condition]:
    """``{column: Condition}`` from a user's condition; a value is one label or ``n_cells`` labels.

    ``guidance_scale`` is one number for every column, or ``{column: scale}`` (columns left out get
    ``default_scale``); ``scale_name`` is its name in messages (``guidance_scale`` or ``cfg_scale``).
    """
    if condition is not None and not isinstance(condition, Mapping):
        raise InputError(f"condition must be a mapping {{column: label}}, e.g. {{'cell_type': 'B'}}, got "
                         f"{type(condition).__name__} {condition!r}.")
    out: dict[str, Condition] = {}
    for key, label in (condition or {}).items():
        if key not in registries:
            known = ", ".join(registries) or "none (the model was trained without labels_keys)"
            raise InputError(f"No classifier for column '{key}'. Columns with classifiers: {known}.")
        scale = guidance_scale.get(key, default_scale) if isinstance(guidance_scale, Mapping) else guidance_scale
        out[key] = Condition(_label_ids(registries[key], key, label, n_cells), check_scale(scale, scale_name))
    if isinstance(guidance_scale, Mapping):
        extra = set(guidance_scale) - set(out)
        if extra:
            raise InputError(f"{scale_name} names columns without a condition: {sorted(extra)}.")
    return out


def check_scale(scale, name: str = "guidance_scale") -> float:
    """A guidance scale (``name``: ``guidance_scale`` or ``cfg_scale``): a finite number in [0, 1000]."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {scale!r}.") from None
    if not np.isfinite(value) or value < 0 or value > 1000:
        raise InputError(f"{name} must be a finite number in [0, 1000], got {value}.")
    return value


def check_scales(guidance_scale, cfg_scale) -> None:
    """Check both guidance weights, each a number or ``{column: number}``, before any work (also when no
    condition uses them)."""
    for name, scale in (("guidance_scale", guidance_scale), ("cfg_scale", cfg_scale)):
        if isinstance(scale, Mapping):
            for key, value in scale.items():
                check_scale(value, f"{name}['{key}']")
        else:
            check_scale(scale, name)


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT


def _label_ids(registry: Registry, key: str, label, n_cells: int) -> np.ndarray:
    if _is_missing(label):
        raise InputError(f"condition['{key}'] is missing (None/NaN); give a label, e.g. "
                         f"{{'{key}': {registry.to_labels([0])[0]!r}}}, or leave the column out to not guide it.")
    if isinstance(label, str) or np.isscalar(label):
        return np.full(n_cells, registry.to_id(str(label)))
    missing = [i for i, v in enumerate(label) if _is_missing(v)]
    if missing:
        raise InputError(f"condition['{key}'] has {len(missing)} missing label(s) (None/NaN), the first at "
                         f"position {missing[0]}; give a label for every cell (generate the others in a separate "
                         f"call without this column).")
    labels = [str(v) for v in label]
    if len(labels) != n_cells:
        raise InputError(f"condition['{key}'] has {len(labels)} labels; give one label or n_cells ({n_cells}) labels.")
    return registry.to_ids(labels)


def condition_weights(conditions: Mapping[str, Condition], n_classes: Mapping[str, int]) -> dict[str, torch.Tensor]:
    """One weight matrix per column: ``scale`` at each cell's label, 0 elsewhere."""
    out = {}
    for key, c in conditions.items():
        w = torch.zeros(len(c.ids), n_classes[key])
        w[torch.arange(len(c.ids)), torch.from_numpy(c.ids)] = c.scale
        out[key] = w
    return out


def interpolation_weights(n_states: int, n_cells: int, start_id: int, end_id: int, n_classes: int,
                          scale: float) -> tuple[torch.Tensor, np.ndarray]:
    """Gradient Interpolation weights: state ``i`` of ``n_states`` puts ``(γ(1−w_i), γ w_i)`` on ``(start, end)``
    for its ``n_cells`` cells, ``w_i = i / (n_states − 1)``.

    Returns
    -------
    ``(weights (n_states·n_cells × n_classes), w_end per state)``.
    """
    w_end = np.linspace(0.0, 1.0, n_states)
    weights = torch.zeros(n_states * n_cells, n_classes)
    for i, w in enumerate(w_end):
        weights[i * n_cells:(i + 1) * n_cells, start_id] = scale * (1 - w)
        weights[i * n_cells:(i + 1) * n_cells, end_id] = scale * w
    return weights, w_end
