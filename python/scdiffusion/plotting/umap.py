"""UMAP of real and generated cells."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ._common import SOURCE_COLORS, category_colors, new_figure, save_png

logger = logging.getLogger(__name__)

__all__ = ["plot_umap"]


def plot_umap(
    real: Any,
    generated: Any,
    path: str | Path,
    labels_key: str | None = None,
    seed: int = 0,
    n_comps: int = 50,
    n_neighbors: int = 15,
    max_cells: int | None = 5000,
) -> Path:
    """Joint UMAP of real + generated cells, coloured by source (and by label).

    PCA, the kNN graph and UMAP are computed on the pooled log-normalised data
    (counts are normalised automatically, see
    :func:`scdiffusion.metrics.inputs.to_log_normalized`).

    Parameters
    ----------
    real, generated
        AnnData objects with the same genes.
    path
        Output PNG path.
    labels_key
        Optional ``.obs`` column present in both; adds a second panel coloured by label.
    seed
        Seed for subsampling, PCA and UMAP.
    n_comps, n_neighbors
        PCA components and neighbours of the graph.
    max_cells
        Cells per side are subsampled to at most this number.

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    import anndata as ad
    import scanpy as sc

    from ..metrics._utils import effective_n_comps
    from ..metrics.inputs import check_labels_key, check_same_genes, subsample_adata, to_log_normalized

    generated = check_same_genes(real, generated)
    if labels_key is not None:
        check_labels_key(labels_key, real=real, generated=generated)
    r, _ = to_log_normalized(subsample_adata(real, max_cells, seed))
    g, _ = to_log_normalized(subsample_adata(generated, max_cells, seed + 1))
    pooled = ad.AnnData(np.vstack([r.X, g.X]))
    pooled.obs["source"] = ["real"] * r.n_obs + ["generated"] * g.n_obs
    if labels_key is not None:
        pooled.obs["label"] = np.r_[r.obs[labels_key].astype(str).to_numpy(),
                                    g.obs[labels_key].astype(str).to_numpy()]
    k = effective_n_comps(n_comps, pooled.n_obs, pooled.n_vars)
    sc.pp.pca(pooled, n_comps=k, random_state=seed)
    sc.pp.neighbors(pooled, n_neighbors=min(n_neighbors, pooled.n_obs - 1), n_pcs=k,
                    random_state=seed)
    sc.tl.umap(pooled, random_state=seed)
    emb = pooled.obsm["X_umap"]

    n_panels = 2 if labels_key is not None else 1
    fig = new_figure(5.5 * n_panels + (2.5 if labels_key else 0), 5)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    order = np.random.default_rng(seed).permutation(pooled.n_obs)  # avoid overplotting bias
    src = pooled.obs["source"].to_numpy()[order]
    axes[0].scatter(emb[order, 0], emb[order, 1], s=4, linewidths=0,
                    c=[SOURCE_COLORS[s] for s in src])
    for name, col in SOURCE_COLORS.items():
        axes[0].scatter([], [], s=20, c=col, label=name)
    axes[0].legend(loc="best", frameon=False)
    axes[0].set_title("source")
    if labels_key is not None:
        lab = pooled.obs["label"].to_numpy()
        cats = sorted(set(lab))
        colors = category_colors(cats)
        axes[1].scatter(emb[order, 0], emb[order, 1], s=4, linewidths=0,
                        c=[colors[x] for x in lab[order]])
        for c in cats:
            axes[1].scatter([], [], s=20, color=colors[c], label=c)
        axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=7)
        axes[1].set_title(labels_key)
    for a in axes:
        a.set_xticks([])
        a.set_yticks([])
        a.set_xlabel("UMAP1")
        a.set_ylabel("UMAP2")
    return save_png(fig, path)
