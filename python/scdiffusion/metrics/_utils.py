"""Shared helpers for the evaluation metrics.

Everything here works on plain NumPy / SciPy inputs or :class:`anndata.AnnData`
objects (whose ``.X`` is used) and never imports :mod:`torch`, so the metrics
can be used on machines without a deep-learning stack.
"""

from __future__ import annotations

import logging
from typing import Any, Union

import numpy as np
import scipy.sparse as sp

from .._json import to_builtin  # noqa: F401  (re-exported: metrics results are JSON)
from ..errors import InputError

logger = logging.getLogger(__name__)

#: Anything the metrics accept as an expression matrix: a dense array, a SciPy
#: sparse matrix or an AnnData object (its ``.X`` is used). Rows are cells,
#: columns are genes.
MatrixLike = Union[np.ndarray, sp.spmatrix, "sp.sparray", Any]

#: Values strictly below this are counted as zeros (generated data are
#: continuous and may contain tiny or slightly negative values).
ZERO_THRESHOLD = 1e-8


class TooFewCells(ValueError):
    """A metric cannot be computed because a side (or every label) has too few cells; the evaluation suite
    reports it as skipped, with this message, rather than as an error."""


def is_anndata(obj: Any) -> bool:
    """Return ``True`` if ``obj`` looks like an :class:`anndata.AnnData`.

    Duck-typed so that this module does not need to import :mod:`anndata`.
    """
    return hasattr(obj, "X") and hasattr(obj, "obs") and hasattr(obj, "var_names")


def to_dense(x: MatrixLike, dtype: type = np.float64) -> np.ndarray:
    """Convert an expression matrix to a dense 2-D floating point array.

    Parameters
    ----------
    x
        Dense array, SciPy sparse matrix, or AnnData (its ``.X`` is used).
    dtype
        Floating point dtype of the result.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(n_cells, n_genes)``.

    Raises
    ------
    ValueError
        If the input is not two-dimensional or contains non-finite values.
    """
    if is_anndata(x):
        x = x.X
    if x is None:
        raise InputError(
            "The expression matrix is empty (AnnData.X is None). Put the expression values "
            "in `.X`, e.g. `adata.X = adata.layers['log1p']`."
        )
    if sp.issparse(x):
        x = x.toarray()
    arr = np.asarray(x, dtype=dtype)
    if arr.ndim != 2:
        raise InputError(
            f"Expected a 2-D cells x genes matrix, got an array with shape {arr.shape}. "
            "Reshape it (e.g. `x.reshape(1, -1)` for a single cell)."
        )
    if not np.all(np.isfinite(arr)):
        n_bad = int((~np.isfinite(arr)).sum())
        raise InputError(
            f"The expression matrix contains {n_bad} NaN/inf values. Remove or impute them "
            "(e.g. `np.nan_to_num(x)`) before computing metrics."
        )
    return arr


def check_pair(real: np.ndarray, generated: np.ndarray, min_cells: int = 2) -> None:
    """Validate that two dense matrices can be compared gene by gene.

    Raises
    ------
    ValueError
        If the numbers of genes differ or either side has fewer than ``min_cells`` cells.
    """
    if real.shape[1] != generated.shape[1]:
        raise InputError(
            f"Real data has {real.shape[1]} genes but generated data has {generated.shape[1]}. "
            "Both matrices must have the same genes in the same order; subset the real data "
            "to the model's genes (e.g. `real[:, generated.var_names]`)."
        )
    for name, arr in (("real", real), ("generated", generated)):
        if arr.shape[0] < min_cells:
            raise InputError(
                f"The {name} data has {arr.shape[0]} cells; at least {min_cells} are needed "
                "for this metric. Generate or supply more cells."
            )


def make_rng(seed: int | np.random.Generator | None = 0) -> np.random.Generator:
    """Return a NumPy random generator from a seed (or pass a generator through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def subsample_rows(
    x: np.ndarray, n: int | None, rng: np.random.Generator
) -> np.ndarray:
    """Return at most ``n`` randomly chosen rows of ``x`` (all rows if ``n`` is ``None``)."""
    if n is None or x.shape[0] <= n:
        return x
    idx = np.sort(rng.choice(x.shape[0], size=n, replace=False))
    return x[idx]


def effective_n_comps(n_comps: int, n_samples: int, n_features: int) -> int:
    """Cap the number of principal components at ``min(n_samples, n_features) - 1``.

    The strict bound keeps every PCA solver (including scanpy's default ARPACK)
    valid.
    """
    capped = max(1, min(int(n_comps), n_samples - 1, n_features - 1))
    if capped < n_comps:
        logger.debug("Reducing n_comps from %d to %d (data has %d x %d).",
                     n_comps, capped, n_samples, n_features)
    return capped


def pooled_pca(
    real: MatrixLike,
    generated: MatrixLike,
    n_comps: int = 50,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Project real and generated cells onto principal components of the pooled data.

    The PCA (mean-centred, not scaled) is fitted on the row-wise concatenation of
    the real and generated (log-normalised) matrices, so neither side defines the
    axes on its own.

    Parameters
    ----------
    real, generated
        Cells x genes matrices with the same genes.
    n_comps
        Number of components; capped at ``min(n_cells_total - 1, n_genes)``.
    seed
        Random state of the (randomised) SVD solver.

    Returns
    -------
    tuple of numpy.ndarray
        ``(real_pcs, generated_pcs)`` with ``n_comps`` columns each.
    """
    from sklearn.decomposition import PCA

    r = to_dense(real)
    g = to_dense(generated)
    check_pair(r, g, min_cells=1)
    pooled = np.vstack([r, g])
    k = effective_n_comps(n_comps, pooled.shape[0], pooled.shape[1])
    pca = PCA(n_components=k, random_state=seed,
              svd_solver="full" if min(pooled.shape) <= 500 else "randomized")
    z = pca.fit_transform(pooled)
    return z[: r.shape[0]], z[r.shape[0]:]


def fit_pca(x: np.ndarray, n_comps: int = 50, seed: int = 0):
    """Fit a PCA on ``x`` with ``n_comps`` capped by the data size and return it."""
    from sklearn.decomposition import PCA

    k = effective_n_comps(n_comps, x.shape[0], x.shape[1])
    return PCA(n_components=k, random_state=seed,
               svd_solver="full" if min(x.shape) <= 500 else "randomized").fit(x)


def looks_like_counts(x: MatrixLike, max_check: int = 2_000_000) -> bool:
    """Heuristically decide whether a matrix holds raw counts.

    A matrix is considered to contain counts if all (checked) values are
    non-negative integers and at least one is larger than zero. For very large
    matrices only the first ``max_check`` stored values are inspected.
    """
    if is_anndata(x):
        x = x.X
    values = x.data if sp.issparse(x) else np.asarray(x).ravel()
    values = values[:max_check]
    if values.size == 0:
        return False
    return bool(np.all(values >= 0) and np.all(np.mod(values, 1) == 0) and values.max() > 0)


def as_labels(labels: Any, n: int, name: str) -> np.ndarray:
    """Convert per-cell labels to a string array of length ``n``."""
    arr = np.asarray(labels).astype(str)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(
            f"`{name}` must have one label per cell ({n}), got shape {arr.shape}. "
            "Pass e.g. `adata.obs['cell_type'].values`."
        )
    return arr


def label_groups(
    real_labels: np.ndarray | None,
    gen_labels: np.ndarray | None,
    min_cells: int,
    n_real: int,
    n_generated: int,
    only: Any = None,
) -> tuple[list[tuple[str, np.ndarray, np.ndarray, float]], dict[str, str]]:
    """Cells of each label on both sides, weighted by the label's share of the real cells.

    Parameters
    ----------
    real_labels, gen_labels
        One label per real / generated cell, or both ``None`` (one group, "all cells").
    min_cells
        A label is scored only with at least this many real and this many generated cells.
    n_real, n_generated
        Numbers of cells (used for the single group when there are no labels).
    only
        Score only these labels (e.g. the labels scored in another comparison); ``None``: all.

    Returns
    -------
    tuple
        ``(groups, skipped)``: ``groups`` is a list of ``(label, real_idx, gen_idx, weight)`` with weights
        summing to 1 over the scored labels; ``skipped`` maps every other label to the reason.
    """
    if real_labels is None or gen_labels is None:
        if (real_labels is None) != (gen_labels is None):
            raise InputError("Pass labels for both sides or for neither.")
        return [("all cells", np.arange(n_real), np.arange(n_generated), 1.0)], {}
    groups, skipped = [], {}
    for label in sorted(set(real_labels) | set(gen_labels)):
        if only is not None and label not in only:
            skipped[str(label)] = "not scored in this comparison"
            continue
        ri, gi = np.flatnonzero(real_labels == label), np.flatnonzero(gen_labels == label)
        if ri.size < min_cells or gi.size < min_cells:
            skipped[str(label)] = (f"{ri.size} real and {gi.size} generated cells; at least {min_cells} "
                                   "on each side are needed")
            continue
        groups.append((str(label), ri, gi, float(ri.size)))
    total = sum(g[3] for g in groups)
    return [(lab, ri, gi, w / total) for lab, ri, gi, w in groups], skipped


def weighted_mean(values: list[float | None], weights: list[float]) -> float | None:
    """Weighted mean of the finite values (weights renormalised over them); ``None`` if there are none."""
    pairs = [(v, w) for v, w in zip(values, weights) if v is not None and np.isfinite(v)]
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    return float(sum(v * w for v, w in pairs) / total) if total > 0 else None
