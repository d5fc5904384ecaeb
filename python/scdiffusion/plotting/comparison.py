"""Count-level comparison panels of real vs generated cells, in the spirit of splatter's ``compareSCEs``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ._common import SOURCE_COLORS, new_figure, save_png

logger = logging.getLogger(__name__)

__all__ = ["plot_count_comparison"]

#: (table, x column, y column or None for a distribution, title, log10 x axis)
_PANELS = [
    ("genes", "mean_log2cpm", None, "Gene mean log2(CPM+1)", False),
    ("genes", "variance_log2cpm", None, "Gene variance of log2(CPM+1)", False),
    ("genes", "zero_fraction", None, "Zeros per gene (fraction)", False),
    ("cells", "library_size", None, "Library size (log10)", True),
    ("cells", "zero_fraction", None, "Zeros per cell (fraction)", False),
    ("genes", "mean_log2cpm", "variance_log2cpm", "Mean vs variance (genes)", False),
    ("genes", "mean_log2cpm", "zero_fraction", "Mean vs zeros (genes)", False),
    ("cells", "library_size", "zero_fraction", "Library size (log10) vs zeros (cells)", True),
]


def _values(df: Any, col: str, log10: bool) -> np.ndarray:
    v = df[col].to_numpy(dtype=np.float64)
    return np.log10(np.maximum(v, 1.0)) if log10 else v


def plot_count_comparison(cells: Any, genes: Any, path: str | Path, max_points: int = 5000,
                          seed: int = 0) -> Path:
    """Eight panels: distributions of gene means, variances and zeros, library sizes and cell zeros, and the
    mean-variance, mean-zeros and library size-zeros relations, real and generated overlaid.

    Parameters
    ----------
    cells, genes
        Long tables with a ``source`` column (``"real"``/``"generated"``), as returned by
        :func:`scdiffusion.metrics.count_properties.statistics_table` or
        :func:`scdiffusion.evaluation.comparison_data`.
    path
        Output PNG path.
    max_points
        Points per source drawn in the scatter panels (random subsample).
    seed
        Seed of that subsample.

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    tables = {"cells": cells, "genes": genes}
    for name, df in tables.items():
        missing = {"source"} - set(df.columns)
        if missing or not set(df["source"]) >= {"real", "generated"}:
            raise ValueError(f"The {name} table needs a 'source' column with 'real' and 'generated' rows; build "
                             "it with scdiffusion.evaluation.comparison_data(real, generated).")
    rng = np.random.default_rng(seed)
    fig = new_figure(13.0, 6.4)
    axes = fig.subplots(2, 4).ravel()
    for ax, (table, xcol, ycol, title, log10) in zip(axes, _PANELS):
        df = tables[table]
        if ycol is None:
            data = {src: _values(df[df["source"] == src], xcol, log10) for src in ("real", "generated")}
            finite = np.concatenate([v[np.isfinite(v)] for v in data.values()])
            bins = np.histogram_bin_edges(finite, bins=40) if finite.size else 10
            for src, v in data.items():
                ax.hist(v[np.isfinite(v)], bins=bins, density=True, histtype="step", lw=1.5,
                        color=SOURCE_COLORS[src], label=src)
            ax.set_ylabel("density", fontsize=7)
        else:
            for src in ("real", "generated"):
                part = df[df["source"] == src]
                if len(part) > max_points:
                    part = part.iloc[np.sort(rng.choice(len(part), max_points, replace=False))]
                ax.scatter(_values(part, xcol, log10), part[ycol].to_numpy(), s=3, alpha=0.4,
                           color=SOURCE_COLORS[src], label=src, rasterized=True)
            ax.set_ylabel(ycol.replace("_", " "), fontsize=7)
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return save_png(fig, path)
