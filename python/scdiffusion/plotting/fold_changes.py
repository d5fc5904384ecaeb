"""Scatter of log2 fold changes (label vs rest): real cells against generated cells, one panel per label."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ._common import SOURCE_COLORS, grid_shape, new_figure, save_png

logger = logging.getLogger(__name__)

__all__ = ["plot_fold_changes"]


def plot_fold_changes(lfc: Any, path: str | Path, max_labels: int = 8) -> Path:
    """One panel per label: each gene's log2 fold change in real (x) vs generated (y) cells.

    Points on the diagonal mean the generated cells reproduce the real differential expression; the Pearson
    correlation is in each panel's title.

    Parameters
    ----------
    lfc
        Table with columns ``label``, ``gene``, ``lfc_real``, ``lfc_generated`` (from
        :func:`scdiffusion.metrics.differential_expression.fold_change_table` or
        :func:`scdiffusion.evaluation.comparison_data`).
    path
        Output PNG path.
    max_labels
        Panels drawn (the first labels in the table's order).

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    need = {"label", "lfc_real", "lfc_generated"}
    if not need <= set(lfc.columns) or len(lfc) == 0:
        raise ValueError(f"lfc needs rows and the columns {sorted(need)}; build it with "
                         "scdiffusion.evaluation.comparison_data(real, generated, labels_key=...).")
    labels = list(dict.fromkeys(lfc["label"]))[:max_labels]
    nrow, ncol = grid_shape(len(labels), 4)
    fig = new_figure(3.0 * ncol, 2.9 * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False).ravel())
    for ax, label in zip(axes, labels):
        part = lfc[lfc["label"] == label]
        x, y = part["lfc_real"].to_numpy(float), part["lfc_generated"].to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        lo, hi = (min(x.min(), y.min()), max(x.max(), y.max())) if x.size else (-1.0, 1.0)
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.scatter(x, y, s=4, alpha=0.5, color=SOURCE_COLORS["generated"], rasterized=True)
        r = np.corrcoef(x, y)[0, 1] if x.size > 2 and np.std(x) > 0 and np.std(y) > 0 else float("nan")
        ax.set_title(f"{label}\nr = {r:.2f}", fontsize=8)
        ax.set_xlabel("log2FC real", fontsize=7)
        ax.set_ylabel("log2FC generated", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes[len(labels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return save_png(fig, path)
