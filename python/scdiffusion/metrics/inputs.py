"""Validation and scale harmonisation of real / generated AnnData inputs."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ._utils import is_anndata, looks_like_counts, make_rng

logger = logging.getLogger(__name__)

__all__ = ["check_same_genes", "check_labels_key", "to_log_normalised", "subsample_adata"]

SCALE_COUNTS = "raw counts -> normalize_total(target_sum=1e4) + log1p"
SCALE_AS_IS = "used as is (non-integer values, assumed log1p-normalised)"


def _require_anndata(obj: Any, name: str) -> None:
    if not is_anndata(obj):
        raise TypeError(
            f"`{name}` must be an anndata.AnnData, got {type(obj).__name__}. Wrap a matrix "
            "with `anndata.AnnData(X, var=pd.DataFrame(index=gene_names))`."
        )


def check_same_genes(real: Any, generated: Any, name_real: str = "real",
                     name_generated: str = "generated") -> Any:
    """Check that two AnnData objects have the same genes; align the second to the first.

    Parameters
    ----------
    real, generated
        AnnData objects.
    name_real, name_generated
        Names used in error messages.

    Returns
    -------
    anndata.AnnData
        ``generated`` with its genes in the order of ``real`` (a view if reordered).

    Raises
    ------
    ValueError
        If the gene sets differ; the message lists a few missing genes and how to fix it.
    """
    _require_anndata(real, name_real)
    _require_anndata(generated, name_generated)
    for name, ad in ((name_real, real), (name_generated, generated)):
        if not ad.var_names.is_unique:
            raise ValueError(
                f"The {name} data has duplicated gene names; call `{name}.var_names_make_unique()` first."
            )
    g_set, r_set = set(generated.var_names), set(real.var_names)
    only_real = [g for g in real.var_names if g not in g_set]
    only_gen = [g for g in generated.var_names if g not in r_set]
    if only_real or only_gen:
        parts = []
        if only_real:
            parts.append(f"{len(only_real)} {name_real} genes are missing from the {name_generated} "
                         f"data (e.g. {only_real[:5]})")
        if only_gen:
            parts.append(f"{len(only_gen)} {name_generated} genes are missing from the {name_real} "
                         f"data (e.g. {only_gen[:5]})")
        raise ValueError(
            "Real and generated data must have the same genes: " + "; ".join(parts) + ". "
            f"Subset the {name_real} data to the model's genes, e.g. "
            f"`{name_real} = {name_real}[:, {name_generated}.var_names].copy()`, before evaluating."
        )
    if not np.array_equal(np.asarray(real.var_names), np.asarray(generated.var_names)):
        generated = generated[:, real.var_names]
    return generated


def check_labels_key(labels_key: str, **adatas: Any) -> None:
    """Raise a ``KeyError`` if ``labels_key`` is not an ``.obs`` column of every AnnData given."""
    for name, ad in adatas.items():
        if ad is None:
            continue
        if labels_key not in ad.obs.columns:
            raise KeyError(
                f"labels_key={labels_key!r} is not a column of {name}.obs; available columns: "
                f"{list(ad.obs.columns)[:15]}. Pass the column with the cell-type labels "
                "(generated cells should carry the label they were conditioned on), or "
                "labels_key=None to skip per-label metrics."
            )


def to_log_normalised(adata: Any) -> tuple[Any, str]:
    """Return a copy of ``adata`` whose dense ``.X`` is on the log1p-normalised scale.

    If ``.X`` looks like raw counts (all values non-negative integers) it is
    normalised to 1e4 counts per cell and ``log1p``-transformed; otherwise it is
    used as is and assumed to already be log1p-normalised (which is what the
    scDiffusion decoder produces).

    Parameters
    ----------
    adata
        AnnData with cells x genes ``.X``.

    Returns
    -------
    tuple
        ``(new_adata, description_of_what_was_done)``.
    """
    import anndata as ad
    import scanpy as sc

    _require_anndata(adata, "adata")
    from ._utils import to_dense

    x = to_dense(adata, dtype=np.float32)
    out = ad.AnnData(x, obs=adata.obs.copy(), var=adata.var[[]].copy())
    if looks_like_counts(x):
        totals = x.sum(axis=1)
        if np.any(totals == 0):
            logger.warning("%d cells have zero total counts; they stay all-zero.", int((totals == 0).sum()))
        sc.pp.normalize_total(out, target_sum=1e4)
        sc.pp.log1p(out)
        return out, SCALE_COUNTS
    return out, SCALE_AS_IS


def subsample_adata(adata: Any, max_cells: int | None, seed: int = 0) -> Any:
    """Randomly keep at most ``max_cells`` cells (returns the input if already small enough)."""
    if max_cells is None or adata.n_obs <= max_cells:
        return adata
    idx = np.sort(make_rng(seed).choice(adata.n_obs, size=max_cells, replace=False))
    logger.info("Subsampling %d -> %d cells for evaluation.", adata.n_obs, max_cells)
    return adata[idx].copy()
