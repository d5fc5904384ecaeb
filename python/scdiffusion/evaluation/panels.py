"""The numbers behind the comparison figures, as plain tables (for the report, and for R to draw them)."""

from __future__ import annotations

import logging
from typing import Any

from ..metrics.count_properties import statistics_table
from ..metrics.differential_expression import fold_change_table
from ..metrics.inputs import cell_set, check_labels_key, check_same_genes, subsample_adata

logger = logging.getLogger(__name__)

__all__ = ["comparison_data"]


def comparison_data(
    real: Any,
    generated: Any,
    labels_key: str | None = None,
    *,
    real_counts_layer: str | None = "auto",
    generated_counts_layer: str | None = "auto",
    max_cells: int | None = 10000,
    min_cells_per_label: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-cell and per-gene count statistics and per-label fold changes of real and generated cells.

    Parameters
    ----------
    real, generated
        AnnData objects with the same genes.
    labels_key
        ``.obs`` column present in both; needed for the fold changes.
    real_counts_layer, generated_counts_layer
        Where the raw counts are (see :func:`scdiffusion.evaluation.evaluate`).
    max_cells
        Random subsample per side (the same seeds as :func:`~scdiffusion.evaluation.evaluate`).
    min_cells_per_label
        Labels with fewer real or generated cells get no fold changes.
    seed
        Seed of the subsample.

    Returns
    -------
    dict
        ``"cells"``: per-cell ``library_size``, ``tmm_factor``, ``effective_library_size``, ``zero_fraction``,
        ``source``; ``"genes"``: per-gene ``mean_log2cpm``, ``variance_log2cpm``, ``scaled_variance_log2cpm``,
        ``zero_fraction``, ``source``, ``gene`` (name); ``"lfc"``: ``label``, ``gene``, ``lfc_real``,
        ``lfc_generated`` (pandas DataFrames, ``None`` when not available); ``"skipped"``: why a table is
        ``None``.
    """
    generated = check_same_genes(real, generated)
    if labels_key is not None:
        check_labels_key(labels_key, real=real, generated=generated)
    r, _ = cell_set(subsample_adata(real, max_cells, seed), labels_key, real_counts_layer)
    g, _ = cell_set(subsample_adata(generated, max_cells, seed + 1), labels_key, generated_counts_layer)
    names = [str(x) for x in real.var_names]
    out: dict[str, Any] = {"cells": None, "genes": None, "lfc": None, "skipped": {}}
    if r.counts is None or g.counts is None:
        reason = f"needs raw counts on both sides (real: {r.counts_source}; generated: {g.counts_source})"
        out["skipped"].update(cells=reason, genes=reason)
    else:
        cells, genes = statistics_table(r.counts, g.counts)
        genes["gene"] = [names[i] for i in genes["gene"]]
        out["cells"], out["genes"] = cells, genes
    if labels_key is None:
        out["skipped"]["lfc"] = "needs labels: pass labels_key"
    else:
        lfc = fold_change_table(r.log, g.log, r.labels, g.labels, names, min_cells_per_label)
        if len(lfc):
            out["lfc"] = lfc
        else:
            out["skipped"]["lfc"] = (f"no label has {min_cells_per_label} real and generated cells and other "
                                     "cells to compare with")
    return out
