"""Validation and scale harmonisation of real / generated AnnData inputs.

Every metric sees cells on one scale: ``log1p(normalize_total(1e4))``, computed by the package's single
log-normalisation (:func:`scdiffusion.data.preprocessing.log_normalize`). Count-level metrics also need raw
counts; :func:`find_counts` says where they are (a named layer, ``layers["counts"]`` or an integer ``X``) or
why there are none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import InputError, InputKeyError
from ._utils import as_labels, is_anndata, looks_like_counts, make_rng, to_dense

logger = logging.getLogger(__name__)

__all__ = ["check_same_genes", "check_labels_key", "to_log_normalized", "to_log_normalised", "subsample_adata",
           "find_counts", "CellSet", "cell_set", "TARGET_SUM"]

#: Library size every cell is scaled to before ``log1p`` (the paper's preprocessing).
TARGET_SUM = 1e4
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
            raise InputError(
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
        raise InputError(
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
            raise InputKeyError(
                f"labels_key={labels_key!r} is not a column of {name}.obs; available columns: "
                f"{list(ad.obs.columns)[:15]}. Pass the column with the cell-type labels "
                "(generated cells should carry the label they were conditioned on), or "
                "labels_key=None to skip per-label metrics."
            )


def to_log_normalized(adata: Any) -> tuple[Any, str]:
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

    from ..data.preprocessing import log_normalize

    _require_anndata(adata, "adata")
    x = to_dense(adata, dtype=np.float32)
    if looks_like_counts(x):
        totals = x.sum(axis=1)
        if np.any(totals == 0):
            logger.warning("%d cells have zero total counts; they stay all-zero.", int((totals == 0).sum()))
        return ad.AnnData(log_normalize(x, TARGET_SUM), obs=adata.obs.copy(), var=adata.var[[]].copy()), \
            SCALE_COUNTS
    return ad.AnnData(x, obs=adata.obs.copy(), var=adata.var[[]].copy()), SCALE_AS_IS


def subsample_adata(adata: Any, max_cells: int | None, seed: int = 0) -> Any:
    """Randomly keep at most ``max_cells`` cells (returns the input if already small enough)."""
    if max_cells is None or adata.n_obs <= max_cells:
        return adata
    idx = np.sort(make_rng(seed).choice(adata.n_obs, size=max_cells, replace=False))
    logger.info("Subsampling %d -> %d cells for evaluation.", adata.n_obs, max_cells)
    return adata[idx].copy()


def find_counts(adata: Any, counts_layer: str | None = "auto") -> tuple[Any | None, str]:
    """Locate raw counts in an AnnData.

    Parameters
    ----------
    adata
        AnnData.
    counts_layer
        ``"auto"``: ``layers["counts"]`` if it holds non-negative integers, else ``X`` if it does, else none;
        ``"X"``: ``adata.X``; another string: that layer (it must hold counts); ``None``: do not use counts.

    Returns
    -------
    tuple
        ``(matrix or None, description)``; the description says where the counts came from or why there are
        none (shown in the report when count-level metrics are skipped).

    Raises
    ------
    KeyError
        If the named layer does not exist.
    ValueError
        If the named layer (or ``X``) does not hold non-negative integers.
    """
    _require_anndata(adata, "adata")
    if counts_layer is None:
        return None, "counts not used (counts layer None)"
    if counts_layer != "auto":
        if counts_layer == "X":
            x, where = adata.X, "X"
        elif counts_layer in adata.layers:
            x, where = adata.layers[counts_layer], f"layers[{counts_layer!r}]"
        else:
            raise InputKeyError(f"counts layer {counts_layer!r} is not in adata.layers (available: "
                           f"{list(adata.layers.keys()) or 'none'}). Name the layer with raw counts, 'X' for "
                           "adata.X, or None to skip the count-level metrics.")
        if not looks_like_counts(x):
            raise InputError(f"{where} does not hold raw counts (non-negative integers). Name the layer that "
                             "does, or pass None to skip the count-level metrics.")
        return x, f"raw counts from {where}"
    if "counts" in adata.layers and looks_like_counts(adata.layers["counts"]):
        return adata.layers["counts"], "raw counts from layers['counts'] (auto-detected)"
    if adata.X is not None and looks_like_counts(adata.X):
        return adata.X, "raw counts from X (auto-detected: non-negative integers)"
    return None, ("no raw counts: X is not integer-valued and there is no integer layers['counts'] "
                  "(e.g. output of an MSE decoder)")


@dataclass(frozen=True)
class CellSet:
    """One side of a comparison on the common scales.

    Attributes
    ----------
    log
        Dense ``log1p(normalize_total(1e4))`` expression, cells x genes.
    counts
        Dense raw counts (float32) or ``None`` when the input has none.
    labels
        One string label per cell, or ``None``.
    counts_source
        Where the counts came from, or why there are none.
    """

    log: np.ndarray
    counts: np.ndarray | None
    labels: np.ndarray | None
    counts_source: str

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return int(self.log.shape[0])

    def take(self, idx: np.ndarray) -> CellSet:
        """The cells at ``idx`` (integer indices or a boolean mask)."""
        return CellSet(self.log[idx], None if self.counts is None else self.counts[idx],
                       None if self.labels is None else self.labels[idx], self.counts_source)


def cell_set(adata: Any, labels_key: str | None = None, counts_layer: str | None = "auto") -> tuple[CellSet, str]:
    """Bring an AnnData onto the common scales.

    With counts (see :func:`find_counts`) the log expression is computed from them, so both sides share one
    normalisation; without, ``X`` is log-normalised if it holds counts or else used as is.

    Returns
    -------
    tuple
        ``(CellSet, description of the log scale)``.
    """
    from ..data.preprocessing import log_normalize

    counts, source = find_counts(adata, counts_layer)
    labels = None
    if labels_key is not None:
        labels = as_labels(adata.obs[labels_key].to_numpy(), adata.n_obs, f"obs[{labels_key!r}]")
    if counts is None:
        logd, scale = to_log_normalized(adata)
        return CellSet(np.asarray(logd.X, dtype=np.float32), None, labels, source), scale
    dense = counts.toarray() if sp.issparse(counts) else np.asarray(counts)
    dense = dense.astype(np.float32, copy=False)
    return (CellSet(log_normalize(dense, TARGET_SUM), dense, labels, source),
            f"{source} -> normalize_total(target_sum=1e4) + log1p")


def to_log_normalised(adata: Any) -> tuple[Any, str]:
    """Deprecated spelling of :func:`to_log_normalized` (the public API spells -ize); removed in the next release."""
    import warnings

    warnings.warn("to_log_normalised is deprecated; use to_log_normalized.", FutureWarning, stacklevel=2)
    return to_log_normalized(adata)
