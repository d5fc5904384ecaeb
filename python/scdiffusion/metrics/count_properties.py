"""Count-level data properties of SimBench (Cao et al., Nat. Commun. 2021), real vs generated.

Thirteen properties of raw counts, computed within each cell type (labels with at least ``min_cells`` cells on
both sides) and compared between real and generated cells with two-sample statistics; the per-type statistics
are averaged with the types' shares of the real cells as weights (SimBench's weighting).

* per cell: library size, TMM factor, effective library size (library size x TMM), fraction of zeros;
* per gene, on log2(CPM + 1): mean, variance, scaled variance (the variance z-scored within 20 equal-width
  bins of the mean, as Seurat's ``dispersion.scaled``), and the fraction of zero counts;
* joint: library size vs zero fraction (cells), mean vs variance and mean vs zero fraction (genes);
* correlations: Spearman correlations between cells (at most ``max_corr_cells`` per side) and between genes,
  over the ``n_top_genes`` most variable genes of the real cells of that type.

One-dimensional properties are compared with the Kolmogorov-Smirnov statistic (``value``) and the kernel
density statistic (``kde``); the joint ones with the kernel density statistic only (see
:mod:`scdiffusion.metrics.two_sample`). SimBench computes the log-CPM statistics with Seurat (natural log)
and each data set's own variable genes; here log2 is used as the issue asked, and both sides use the real
cells' variable genes so that the same gene pairs are compared.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._utils import TooFewCells, label_groups, make_rng, weighted_mean
from .tmm import tmm_factors
from .two_sample import kde_statistic, ks_statistic

logger = logging.getLogger(__name__)

__all__ = ["COUNT_PROPERTIES", "CountProperty", "log2_cpm", "cell_statistics", "gene_statistics",
           "correlation_values", "compare_count_properties", "statistics_table"]


@dataclass(frozen=True)
class CountProperty:
    """How one property is measured: per ``"cells"``, ``"genes"`` or ``"correlations"``, and which columns."""

    kind: str
    columns: tuple[str, ...]
    description: str


#: The 13 SimBench properties, in SimBench's order of kinds.
COUNT_PROPERTIES: dict[str, CountProperty] = {
    "library_size": CountProperty("cells", ("library_size",), "Total counts per cell"),
    "tmm_factor": CountProperty("cells", ("tmm_factor",), "TMM normalisation factor per cell (edgeR method)"),
    "effective_library_size": CountProperty("cells", ("effective_library_size",),
                                            "Library size x TMM factor per cell"),
    "cell_zero_fraction": CountProperty("cells", ("zero_fraction",), "Fraction of zero counts per cell"),
    "gene_mean": CountProperty("genes", ("mean_log2cpm",), "Mean log2(CPM+1) per gene"),
    "gene_variance": CountProperty("genes", ("variance_log2cpm",), "Variance of log2(CPM+1) per gene"),
    "gene_scaled_variance": CountProperty("genes", ("scaled_variance_log2cpm",),
                                          "Variance of log2(CPM+1) z-scored within 20 bins of the gene mean"),
    "gene_zero_fraction": CountProperty("genes", ("zero_fraction",), "Fraction of zero counts per gene"),
    "library_size_vs_zero_fraction": CountProperty("cells", ("library_size", "zero_fraction"),
                                                   "Joint distribution of library size and zero fraction (cells)"),
    "mean_vs_variance": CountProperty("genes", ("mean_log2cpm", "variance_log2cpm"),
                                      "Joint distribution of gene mean and variance of log2(CPM+1)"),
    "mean_vs_zero_fraction": CountProperty("genes", ("mean_log2cpm", "zero_fraction"),
                                           "Joint distribution of gene mean log2(CPM+1) and zero fraction"),
    "cell_correlation": CountProperty("correlations", ("cells",),
                                      "Spearman correlations between cells (500 most variable genes)"),
    "gene_correlation": CountProperty("correlations", ("genes",),
                                      "Spearman correlations between the 500 most variable genes"),
}


def log2_cpm(counts: np.ndarray) -> np.ndarray:
    """``log2(1 + counts / library size x 1e6)`` per cell (cells without counts stay 0)."""
    x = np.asarray(counts, dtype=np.float64)
    lib = x.sum(axis=1, keepdims=True)
    scale = np.divide(1e6, lib, out=np.zeros_like(lib), where=lib > 0)
    return np.log2(1.0 + x * scale)


def cell_statistics(counts: np.ndarray) -> pd.DataFrame:
    """Per-cell library size, TMM factor, effective library size and zero fraction.

    Parameters
    ----------
    counts
        Raw counts, cells x genes. The TMM factors are computed within these cells.

    Returns
    -------
    pandas.DataFrame
        One row per cell, columns ``library_size``, ``tmm_factor``, ``effective_library_size``,
        ``zero_fraction``.
    """
    x = np.asarray(counts, dtype=np.float64)
    lib = x.sum(axis=1)
    tmm = tmm_factors(x)
    return pd.DataFrame({"library_size": lib, "tmm_factor": tmm, "effective_library_size": lib * tmm,
                         "zero_fraction": (x == 0).mean(axis=1)})


def _scaled_variance(mean: np.ndarray, var: np.ndarray, n_bins: int) -> np.ndarray:
    """Variance z-scored within equal-width bins of the mean (0 in bins with fewer than two genes)."""
    out = np.zeros_like(var)
    if mean.size == 0 or np.ptp(mean) == 0:
        bins = np.zeros(mean.size, dtype=int)
    else:
        edges = np.linspace(mean.min(), mean.max(), n_bins + 1)
        bins = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, n_bins - 1)
    for b in np.unique(bins):
        sel = bins == b
        if sel.sum() < 2:
            continue
        sd = var[sel].std(ddof=1)
        if sd > 0:
            out[sel] = (var[sel] - var[sel].mean()) / sd
    return out


def gene_statistics(counts: np.ndarray, n_bins: int = 20) -> pd.DataFrame:
    """Per-gene mean, variance and scaled variance of log2(CPM+1), and the fraction of zero counts.

    Parameters
    ----------
    counts
        Raw counts, cells x genes (at least two cells).
    n_bins
        Equal-width bins of the mean for the scaled variance.

    Returns
    -------
    pandas.DataFrame
        One row per gene, columns ``mean_log2cpm``, ``variance_log2cpm``, ``scaled_variance_log2cpm``,
        ``zero_fraction``.
    """
    x = np.asarray(counts, dtype=np.float64)
    if x.shape[0] < 2:
        raise InputError("Gene variances need at least two cells.")
    lc = log2_cpm(x)
    mean, var = lc.mean(axis=0), lc.var(axis=0, ddof=1)
    return pd.DataFrame({"mean_log2cpm": mean, "variance_log2cpm": var,
                         "scaled_variance_log2cpm": _scaled_variance(mean, var, n_bins),
                         "zero_fraction": (x == 0).mean(axis=0)})


def _spearman_upper(x: np.ndarray) -> np.ndarray:
    """Upper-triangle Spearman correlations between the rows of ``x`` (rows constant over columns dropped)."""
    from scipy.stats import rankdata

    x = x[np.ptp(x, axis=1) > 0]
    if x.shape[0] < 2:
        return np.empty(0)
    r = rankdata(x, axis=1)
    r -= r.mean(axis=1, keepdims=True)
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    c = r @ r.T
    return np.clip(c[np.triu_indices(c.shape[0], k=1)], -1.0, 1.0)


def correlation_values(log2cpm: np.ndarray, genes: np.ndarray, between: str, max_cells: int | None = 500,
                       seed: int = 0) -> np.ndarray:
    """All pairwise Spearman correlations between cells or between genes, over the genes ``genes``.

    Parameters
    ----------
    log2cpm
        log2(CPM+1), cells x genes.
    genes
        Column indices of the genes to use (e.g. the most variable ones).
    between
        ``"cells"`` or ``"genes"``.
    max_cells
        For ``"cells"``: at most this many randomly chosen cells (the number of pairs is quadratic).
    seed
        Seed of that choice.

    Returns
    -------
    numpy.ndarray
        The upper-triangle correlations; pairs involving a constant row are left out.
    """
    x = log2cpm[:, genes]
    if between == "cells":
        if max_cells is not None and x.shape[0] > max_cells:
            x = x[np.sort(make_rng(seed).choice(x.shape[0], max_cells, replace=False))]
        return _spearman_upper(x)
    if between == "genes":
        return _spearman_upper(x.T)
    raise InputError(f"between must be 'cells' or 'genes', got {between!r}.")


def _compare_group(rc: np.ndarray, gc: np.ndarray, *, n_top_genes: int, max_corr_cells: int, kde: bool,
                   max_kde_points: int, seed: int) -> dict[str, dict[str, float]]:
    cells = (cell_statistics(rc), cell_statistics(gc))
    genes = (gene_statistics(rc), gene_statistics(gc))
    lr, lg = log2_cpm(rc), log2_cpm(gc)
    var = genes[0]["variance_log2cpm"].to_numpy()
    top = np.argsort(-var, kind="stable")[: min(n_top_genes, int((var > 0).sum()))]
    out: dict[str, dict[str, float]] = {}
    for name, prop in COUNT_PROPERTIES.items():
        if prop.kind == "correlations":
            a = correlation_values(lr, top, prop.columns[0], max_corr_cells, seed)
            b = correlation_values(lg, top, prop.columns[0], max_corr_cells, seed)
        else:
            real_df, gen_df = cells if prop.kind == "cells" else genes
            a, b = real_df[list(prop.columns)].to_numpy(), gen_df[list(prop.columns)].to_numpy()
        res: dict[str, float] = {}
        if len(prop.columns) == 1:
            res["value"] = ks_statistic(a, b)
        if kde or "value" not in res:
            k = kde_statistic(a, b, max_points=max_kde_points, seed=seed)
            res["kde" if "value" in res else "value"] = k
        out[name] = res
    return out


def compare_count_properties(
    real_counts: np.ndarray,
    gen_counts: np.ndarray,
    real_labels: np.ndarray | None = None,
    gen_labels: np.ndarray | None = None,
    *,
    min_cells: int = 10,
    n_top_genes: int = 500,
    max_corr_cells: int = 500,
    kde: bool = True,
    max_kde_points: int = 2000,
    seed: int = 0,
    labels_to_score: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Compare the 13 SimBench count properties of real and generated cells, per label.

    Parameters
    ----------
    real_counts, gen_counts
        Raw counts, cells x genes, same genes in the same order.
    real_labels, gen_labels
        Optional labels (both or neither); without them all cells form one group.
    min_cells
        Labels with fewer real or generated cells are left out (and listed in ``skipped_labels``).
    n_top_genes
        Variable genes for the correlation properties.
    max_corr_cells
        Cells per side for the cell-cell correlations.
    kde
        Also compute the kernel density statistic of the one-dimensional properties (the joint ones always
        use it).
    max_kde_points
        Subsample size per side for the kernel density statistic.
    seed
        Seed of the subsampling.
    labels_to_score
        Score only these labels (the others are listed in ``skipped_labels``); ``None``: every label with
        enough cells.

    Returns
    -------
    dict
        ``{property: {"value", "kde" (1-D only), "statistic", "per_label": {label: {...}},
        "skipped_labels": {label: reason}}}``; ``value`` is the weighted mean over labels of the KS statistic
        (1-D) or of the kernel density statistic (joint). 0 = identical distributions.
    """
    r = np.asarray(real_counts, dtype=np.float64)
    g = np.asarray(gen_counts, dtype=np.float64)
    if r.shape[1] != g.shape[1]:
        raise InputError(f"Real counts have {r.shape[1]} genes, generated {g.shape[1]}; use the same genes.")
    groups, skipped = label_groups(real_labels, gen_labels, max(2, min_cells), r.shape[0], g.shape[0],
                                  only=labels_to_score)
    if not groups:
        raise TooFewCells(f"no label has at least {min_cells} real and generated cells; lower min_cells or "
                          "generate more cells of each label")
    per_label = {}
    for label, ri, gi, weight in groups:
        res = _compare_group(r[ri], g[gi], n_top_genes=n_top_genes, max_corr_cells=max_corr_cells, kde=kde,
                             max_kde_points=max_kde_points, seed=seed)
        per_label[label] = (res, {"n_real": int(ri.size), "n_generated": int(gi.size), "weight": weight})
    out: dict[str, dict[str, Any]] = {}
    weights = [info["weight"] for _, info in per_label.values()]
    for name, prop in COUNT_PROPERTIES.items():
        one_d = len(prop.columns) == 1
        entry: dict[str, Any] = {
            "value": weighted_mean([res[name]["value"] for res, _ in per_label.values()], weights),
            "statistic": "Kolmogorov-Smirnov" if one_d else "kernel density (L2)",
            "per_label": {lab: {**res[name], **info} for lab, (res, info) in per_label.items()},
            "skipped_labels": skipped,
        }
        if one_d and kde:
            entry["kde"] = weighted_mean([res[name].get("kde") for res, _ in per_label.values()], weights)
        out[name] = entry
    return out


def statistics_table(real_counts: np.ndarray, gen_counts: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-cell and per-gene statistics of both sides in long format (for plots, e.g. from R).

    Returns
    -------
    tuple of pandas.DataFrame
        ``(cells, genes)``: :func:`cell_statistics` and :func:`gene_statistics` of each side stacked, with a
        ``source`` column (``"real"`` / ``"generated"``); ``genes`` also has the gene's column index ``gene``.
    """
    cells = pd.concat([cell_statistics(real_counts).assign(source="real"),
                       cell_statistics(gen_counts).assign(source="generated")], ignore_index=True)
    gr, gg = gene_statistics(real_counts), gene_statistics(gen_counts)
    genes = pd.concat([gr.assign(source="real", gene=np.arange(len(gr))),
                       gg.assign(source="generated", gene=np.arange(len(gg)))], ignore_index=True)
    return cells, genes
