"""Pseudotime along a generated interpolation series."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ._common import new_figure, save_png

logger = logging.getLogger(__name__)

__all__ = ["plot_interpolation_pseudotime"]


def plot_interpolation_pseudotime(
    states: Any,
    pseudotime: Any,
    path: str | Path,
    title: str = "Pseudotime along the interpolation",
    xlabel: str = "interpolation state",
    seed: int = 0,
) -> Path:
    """Scatter of pseudotime against interpolation state, with per-state medians.

    Parameters
    ----------
    states
        Interpolation state per cell (e.g. the mixing weight 0..1 or the step index).
    pseudotime
        Pseudotime per cell (e.g. from :func:`scdiffusion.metrics.diffusion_pseudotime`);
        non-finite values (disconnected cells) are dropped.
    path
        Output PNG path.
    title, xlabel
        Axis annotations.
    seed
        Seed of the horizontal jitter.

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    s = np.asarray(states, dtype=float).ravel()
    p = np.asarray(pseudotime, dtype=float).ravel()
    if s.shape != p.shape:
        raise ValueError(f"`states` ({s.size}) and `pseudotime` ({p.size}) must have one entry per cell.")
    ok = np.isfinite(s) & np.isfinite(p)
    if (~ok).any():
        logger.warning("Dropping %d cells with non-finite state or pseudotime.", int((~ok).sum()))
    s, p = s[ok], p[ok]
    levels = np.unique(s)
    width = (np.min(np.diff(levels)) if levels.size > 1 else 1.0) * 0.25
    jitter = np.random.default_rng(seed).uniform(-width, width, size=s.size)
    fig = new_figure(5.5, 4)
    ax = fig.subplots()
    ax.scatter(s + jitter, p, s=5, alpha=0.4, linewidths=0, color="#1f77b4")
    if levels.size:
        med = [np.median(p[s == lv]) for lv in levels]
        ax.plot(levels, med, color="#d62728", marker="o", lw=1.5, label="median")
        ax.legend(frameon=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pseudotime")
    ax.set_title(title)
    fig.tight_layout()
    return save_png(fig, path)
