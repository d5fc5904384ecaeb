"""Marker-gene violin plots: real vs generated cells of a type vs real cells of other types."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import SOURCE_COLORS, grid_shape, new_figure, save_png

logger = logging.getLogger(__name__)

__all__ = ["plot_marker_violins", "select_markers"]


def select_markers(real_log: Any, labels_key: str, labels: Sequence[str],
                   min_cells: int = 3) -> dict[str, str]:
    """Top marker gene per label from ``scanpy.tl.rank_genes_groups`` (t-test vs rest) on real cells.

    Labels with fewer than ``min_cells`` real cells are skipped.
    """
    import scanpy as sc

    ad = real_log.copy()
    ad.obs[labels_key] = ad.obs[labels_key].astype(str).astype("category")
    counts = ad.obs[labels_key].value_counts()
    groups = [str(lab) for lab in labels if counts.get(lab, 0) >= min_cells]
    if len(counts[counts >= min_cells]) < 2 or not groups:
        return {}
    sc.tl.rank_genes_groups(ad, labels_key, groups=groups, reference="rest", method="t-test",
                            n_genes=1, use_raw=False)
    names = ad.uns["rank_genes_groups"]["names"]
    return {grp: str(names[grp][0]) for grp in groups}


def plot_marker_violins(
    real: Any,
    generated: Any,
    labels_key: str,
    path: str | Path,
    labels: Sequence[str] | None = None,
    max_labels: int = 8,
) -> Path:
    """Violin plots of each label's top marker gene.

    For every label one panel shows the marker's expression in three groups:
    real cells of that label, generated cells of that label, and real cells of all
    other labels. Markers are chosen by ``scanpy.tl.rank_genes_groups`` on the real
    data (see :func:`select_markers`).

    Parameters
    ----------
    real, generated
        AnnData objects with the same genes and ``obs[labels_key]``.
    labels_key
        Cell-type column.
    path
        Output PNG path.
    labels
        Labels to show; default: the ``max_labels`` most frequent real labels that
        also occur in the generated data.
    max_labels
        Maximum number of panels for the automatic choice.

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    from ..metrics.inputs import check_labels_key, check_same_genes, to_log_normalized

    generated = check_same_genes(real, generated)
    check_labels_key(labels_key, real=real, generated=generated)
    r, _ = to_log_normalized(real)
    g, _ = to_log_normalized(generated)
    yr = r.obs[labels_key].astype(str).to_numpy()
    yg = g.obs[labels_key].astype(str).to_numpy()
    if labels is None:
        vals, counts = np.unique(yr, return_counts=True)
        labels = [v for v in vals[np.argsort(-counts, kind="stable")] if v in set(yg)][:max_labels]
    markers = select_markers(r, labels_key, labels)
    names = list(np.asarray(r.var_names).astype(str))

    n = max(1, len(markers))
    nrow, ncol = grid_shape(n, 4)
    fig = new_figure(3.2 * ncol, 3.0 * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False).ravel())
    if not markers:
        axes[0].text(0.5, 0.5, "need >= 2 labels with >= 3 real cells",
                     ha="center", va="center", transform=axes[0].transAxes)
    colors = [SOURCE_COLORS["real"], SOURCE_COLORS["generated"], "#9e9e9e"]
    for ax, (lab, gene) in zip(axes, markers.items()):
        gi = names.index(gene)
        groups = [r.X[yr == lab, gi], g.X[yg == lab, gi], r.X[yr != lab, gi]]
        pos = [i for i, v in enumerate(groups) if v.size > 1]
        if pos:
            parts = ax.violinplot([groups[i] for i in pos], positions=pos, showmedians=True)
            for body, i in zip(parts["bodies"], pos):
                body.set_facecolor(colors[i])
                body.set_alpha(0.6)
            for key in ("cbars", "cmins", "cmaxes", "cmedians"):
                if key in parts:
                    parts[key].set_color("black")
                    parts[key].set_linewidth(0.8)
        ax.set_xticks([0, 1, 2])
        ax.set_xticklabels(["real", "generated", "real other"], fontsize=7)
        ax.set_title(f"{lab}\n{gene}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(markers) if markers else 1:]:
        ax.set_visible(False)
    fig.tight_layout()
    return save_png(fig, path)
