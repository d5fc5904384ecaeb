"""Training loss curves."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._common import new_figure, save_png

logger = logging.getLogger(__name__)

__all__ = ["plot_loss_curves"]


def plot_loss_curves(history: Mapping[str, Mapping[str, Any]], path: str | Path) -> Path:
    """Plot training (and validation) loss per training stage.

    Parameters
    ----------
    history
        ``{stage: {"step": [...], "train_loss": [...], "val_loss": [...]}}``, e.g.
        stages ``"autoencoder"``, ``"diffusion"``, ``"classifier"``. ``"val_loss"`` is
        optional; it may also have its own ``"val_step"`` list when it was recorded
        at different steps. ``None``/NaN entries are skipped.
    path
        Output PNG path.

    Returns
    -------
    pathlib.Path
        The written PNG.

    Raises
    ------
    ValueError
        If ``history`` is empty or a stage lacks ``"step"``/``"train_loss"`` of equal length.
    """
    if not history:
        raise ValueError("`history` is empty; pass {stage: {'step': [...], 'train_loss': [...]}}.")
    stages = list(history)
    fig = new_figure(4.2 * len(stages), 3.3)
    axes = fig.subplots(1, len(stages), squeeze=False)[0]
    for ax, stage in zip(axes, stages):
        h = history[stage]
        if "step" not in h or "train_loss" not in h:
            raise ValueError(f"Stage {stage!r} needs 'step' and 'train_loss' lists; got keys {list(h)}.")
        step = np.asarray(h["step"], dtype=float)
        tr = np.asarray([np.nan if v is None else v for v in h["train_loss"]], dtype=float)
        if step.shape != tr.shape:
            raise ValueError(f"Stage {stage!r}: 'step' has {step.size} entries but 'train_loss' has {tr.size}.")
        ok = np.isfinite(tr)
        ax.plot(step[ok], tr[ok], label="train", lw=1.2)
        positive = bool(np.all(tr[ok] > 0))
        val = h.get("val_loss")
        if val is not None and len(val):
            vs = np.asarray(h.get("val_step", h["step"]), dtype=float)
            vl = np.asarray([np.nan if v is None else v for v in val], dtype=float)
            if vs.shape != vl.shape:
                raise ValueError(f"Stage {stage!r}: val_loss ({vl.size}) and its steps ({vs.size}) differ in length.")
            okv = np.isfinite(vl)
            ax.plot(vs[okv], vl[okv], label="validation", lw=1.2, marker="o", ms=2)
            positive = positive and bool(np.all(vl[okv] > 0))
        if positive and ok.any():
            ax.set_yscale("log")
        ax.set_title(str(stage))
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)
