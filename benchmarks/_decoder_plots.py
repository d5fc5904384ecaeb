"""Figures of the decoder benchmarks: what separates decoded cells from held-out real cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import _decoder_eval as E


def gene_panels(real, rows: dict, path: Path, title: str) -> Path:
    """Per-gene mean, variance and zero fraction of every row against the real cells (one row of panels each).

    ``real`` and the values of ``rows`` have ``x`` (log-normalised cells) and ``library`` attributes.
    """
    from scdiffusion.plotting._common import new_figure, save_png

    sr = E.gene_stats(real.x)
    names = list(rows)
    fig = new_figure(9.6, 2.6 * len(names))
    for i, name in enumerate(names):
        so = E.gene_stats(rows[name].x)
        for j, (key, label) in enumerate([("mean", "gene mean (log)"), ("var", "gene variance (log)"),
                                           ("zero", "gene zero fraction")]):
            ax = fig.add_subplot(len(names), 3, 3 * i + j + 1)
            ax.scatter(sr[key], so[key], s=3, alpha=0.5, color=f"C{i}")
            lo, hi = min(sr[key].min(), so[key].min()), max(sr[key].max(), so[key].max())
            ax.plot([lo, hi], [lo, hi], color="k", lw=0.7, ls="--")
            if key == "var":
                ax.set_xscale("symlog", linthresh=1e-2)
                ax.set_yscale("symlog", linthresh=1e-2)
            ax.set_xlabel(f"real held-out: {label}", fontsize=7)
            ax.set_ylabel(name, fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)


def depth_zeros(real, rows: dict, path: Path, title: str) -> Path:
    """Per-cell zero fraction against library size (count total), real cells in black."""
    from scdiffusion.plotting._common import new_figure, save_png

    fig = new_figure(4.8, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    for i, (name, cells) in enumerate(rows.items()):
        ax.scatter(cells.library, (cells.x <= 0).mean(1), s=4, alpha=0.4, color=f"C{i}", label=name)
    ax.scatter(real.library, (real.x <= 0).mean(1), s=5, color="k", label="real held-out")
    ax.set_xscale("log")
    ax.set_xlabel("library size (counts)", fontsize=8)
    ax.set_ylabel("fraction of zero genes", fontsize=8)
    ax.legend(fontsize=6, markerscale=2)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)


def per_label_mmd(per_label: dict[str, dict[str, dict]], path: Path, title: str) -> Path:
    """MMD² per label (x axis) for every row (bars); labels without enough cells are left empty."""
    from scdiffusion.plotting._common import new_figure, save_png

    names = list(per_label)
    labels = sorted({lab for r in per_label.values() for lab in r})
    fig = new_figure(max(5.0, 0.7 * len(labels) + 2), 3.4)
    ax = fig.add_subplot(1, 1, 1)
    w = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        vals = [per_label[name].get(lab, {}).get("mmd_rbf", np.nan) for lab in labels]
        ax.bar(np.arange(len(labels)) + i * w, [np.nan if v is None else v for v in vals], width=w,
               color=f"C{i}", label=name)
    ax.set_xticks(np.arange(len(labels)) + 0.4 - w / 2)
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=7)
    ax.set_ylabel("MMD² to held-out real cells of the label", fontsize=8)
    ax.legend(fontsize=6)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)


def umap(real, generated, path: Path, seed: int) -> Path:
    """Real and generated cells (``x`` log values, ``labels``) on one scanpy UMAP, by source and by label."""
    import anndata as ad
    import pandas as pd

    from scdiffusion.plotting import plot_umap

    def adata(cells, prefix: str) -> ad.AnnData:
        obs = pd.DataFrame({"label": cells.labels}, index=[f"{prefix}{i}" for i in range(len(cells.x))])
        return ad.AnnData(X=np.asarray(cells.x, dtype=np.float32), obs=obs)

    return plot_umap(adata(real, "real"), adata(generated, "gen"), path, labels_key="label", seed=seed)
