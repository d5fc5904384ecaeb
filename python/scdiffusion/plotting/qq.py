"""Quantile-quantile plots of single genes, real vs generated."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import new_figure, save_png

logger = logging.getLogger(__name__)

__all__ = ["plot_qq"]


def plot_qq(
    real: Any,
    generated: Any,
    path: str | Path,
    genes: Sequence[str] | None = None,
    labels_key: str | None = None,
    labels: Sequence[str] | None = None,
    n_genes: int = 4,
    max_labels: int = 6,
    n_quantiles: int = 100,
) -> Path:
    """QQ plots (real quantiles vs generated quantiles) of chosen genes, per label.

    One panel per (label, gene); rows are labels (or a single "all cells" row when
    no ``labels_key`` is given) and columns are genes. Points on the diagonal mean
    matching marginal distributions; a flat segment at the start of the real axis
    that the generated data do not reproduce indicates wrong zero inflation.

    Parameters
    ----------
    real, generated
        AnnData objects with the same genes (log-normalised or counts, see
        :func:`scdiffusion.metrics.inputs.to_log_normalized`).
    path
        Output PNG path.
    genes
        Genes to show; default: the ``n_genes`` most variable real genes.
    labels_key
        Optional ``.obs`` column present in both.
    labels
        Labels to show; default: the ``max_labels`` most frequent real labels that
        also occur in the generated data.
    n_genes, max_labels
        Defaults for the automatic choices.
    n_quantiles
        Number of quantiles compared.

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    from ..metrics.inputs import check_labels_key, check_same_genes, to_log_normalized

    generated = check_same_genes(real, generated)
    r, _ = to_log_normalized(real)
    g, _ = to_log_normalized(generated)
    names = np.asarray(r.var_names).astype(str)
    if genes is None:
        genes = list(names[np.argsort(-r.X.var(axis=0), kind="stable")[: n_genes]])
    missing = [x for x in genes if x not in set(names)]
    if missing:
        raise ValueError(f"Genes {missing[:5]} are not in the data; choose from `adata.var_names`.")
    gidx = [int(np.flatnonzero(names == x)[0]) for x in genes]

    if labels_key is not None:
        check_labels_key(labels_key, real=real, generated=generated)
        yr = r.obs[labels_key].astype(str).to_numpy()
        yg = g.obs[labels_key].astype(str).to_numpy()
        if labels is None:
            vals, counts = np.unique(yr, return_counts=True)
            labels = [v for v in vals[np.argsort(-counts, kind="stable")] if v in set(yg)][:max_labels]
        rows = [(str(lab), yr == lab, yg == lab) for lab in labels]
    else:
        rows = [("all cells", np.ones(r.n_obs, bool), np.ones(g.n_obs, bool))]

    q = np.linspace(0, 1, n_quantiles)
    fig = new_figure(2.6 * len(gidx), 2.5 * len(rows))
    axes = fig.subplots(len(rows), len(gidx), squeeze=False)
    for i, (lab, mr, mg) in enumerate(rows):
        for j, (gene, gi) in enumerate(zip(genes, gidx)):
            ax = axes[i][j]
            if mr.sum() == 0 or mg.sum() == 0:
                ax.text(0.5, 0.5, "no cells", ha="center", va="center", transform=ax.transAxes)
            else:
                qr = np.quantile(r.X[mr, gi], q)
                qg = np.quantile(g.X[mg, gi], q)
                lo, hi = min(qr.min(), qg.min()), max(qr.max(), qg.max())
                ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
                ax.scatter(qr, qg, s=6, color="#ff7f0e")
            ax.set_title(f"{gene}\n{lab}", fontsize=8)
            if i == len(rows) - 1:
                ax.set_xlabel("real quantiles", fontsize=7)
            if j == 0:
                ax.set_ylabel("generated quantiles", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    return save_png(fig, path)
