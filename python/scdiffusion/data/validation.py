"""Input validation with errors that say what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InputError

__all__ = ["InputError", "check_counts_matrix", "check_label_column", "check_unique_names"]


_MAX_COUNT = 2**31 - 1  # R's integer counts and the .h5ad int32 writers hold no more


def _values(x: np.ndarray | sp.spmatrix) -> np.ndarray:
    """The stored values of a dense or sparse matrix (explicit zeros included)."""
    if sp.issparse(x):
        return np.asarray(x.data)
    return np.asarray(x)


def check_counts_matrix(x: np.ndarray | sp.spmatrix, *, what: str = "X") -> None:
    """Check that ``x`` holds raw counts: finite, non-negative integers, not empty.

    Parameters
    ----------
    x
        Cells × genes matrix, dense or sparse.
    what
        Name of the matrix in messages (e.g. ``"X"`` or ``"layers['counts']"``).

    Raises
    ------
    InputError
        With a message naming the problem and the fix.
    """
    if x.ndim != 2:
        raise InputError(f"{what} must be a 2-D cells × genes matrix, got shape {x.shape}.")
    n_cells, n_genes = x.shape
    if n_cells == 0 or n_genes == 0:
        raise InputError(
            f"{what} is empty ({n_cells} cells × {n_genes} genes). "
            "Pass an AnnData with at least one cell and one gene."
        )
    values = _values(x)
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        raise InputError(f"{what} has dtype {values.dtype}; counts must be a real numeric matrix.")
    if values.size == 0:
        raise InputError(f"{what} holds no non-zero value: every cell is empty. Pass raw counts.")
    if not np.all(np.isfinite(values)):
        n_bad = int(np.sum(~np.isfinite(values)))
        raise InputError(
            f"{what} contains {n_bad} NaN or infinite values. Remove or fix those cells/genes "
            "(e.g. `adata = adata[np.isfinite(adata.X.sum(1))]`) before training."
        )
    if values.min() < 0:
        raise InputError(
            f"{what} contains negative values (min {values.min():.3g}); it looks scaled or batch-corrected. "
            "scDiffusion needs raw counts: pass the counts layer with `layer=` (CLI: `--layer`)."
        )
    if values.max() > _MAX_COUNT:
        raise InputError(
            f"{what} contains values above 2^31 - 1 (max {values.max():.3g}); no gene has billions of reads in one "
            "cell. Pass raw counts (UMI or read counts per cell and gene), not totals or scaled values."
        )
    frac = values - np.round(values)
    if np.abs(frac).max() > 1e-3:
        max_val = float(values.max())
        hint = (
            " The values look log-normalised (all below 30): pass the raw counts instead, e.g. "
            "`layer='counts'`, or recover them from `adata.raw`."
            if max_val < 30
            else " If these are FPKM/TPM values, convert them to pseudo-counts first with "
            "`scdiffusion.data.pseudo_counts(adata)`."
        )
        raise InputError(f"{what} contains non-integer values; scDiffusion needs raw integer counts.{hint}")


def check_unique_names(names: Sequence[str] | pd.Index, *, what: str) -> None:
    """Fail on duplicated gene or cell names, naming a few and the fix."""
    index = pd.Index(names)
    if index.has_duplicates:
        dups = index[index.duplicated()].unique()[:5].tolist()
        fix = "adata.var_names_make_unique()" if what == "gene" else "adata.obs_names_make_unique()"
        raise InputError(f"Duplicated {what} names, e.g. {dups}. Make them unique first with `{fix}`.")


def check_label_column(
    obs: pd.DataFrame, key: str, *, min_cells_per_label: int = 5, require_two: bool = True
) -> pd.Series:
    """Check an ``obs`` column used as classifier labels and return it as strings.

    Raises
    ------
    InputError
        When the column is missing, has missing values, only one label, or a label with
        fewer than ``min_cells_per_label`` cells.
    """
    if key not in obs.columns:
        cols = ", ".join(map(str, obs.columns[:15])) or "(none)"
        raise InputError(f"Label column '{key}' is not in adata.obs. Available columns: {cols}.")
    col = obs[key]
    if col.isna().any():
        n_na = int(col.isna().sum())
        raise InputError(
            f"Label column '{key}' has {n_na} missing values. Drop those cells "
            f"(`adata = adata[adata.obs['{key}'].notna()].copy()`) or fill them with a label."
        )
    labels = col.astype(str)
    counts = labels.value_counts()
    if require_two and len(counts) < 2:
        raise InputError(
            f"Label column '{key}' has a single label ({counts.index[0]!r}); a classifier needs at least two. "
            "Drop it from labels_keys or use a column with several labels."
        )
    rare = counts[counts < min_cells_per_label]
    if len(rare):
        desc = ", ".join(f"{k!r} ({v} cells)" for k, v in rare.items())
        raise InputError(
            f"Label column '{key}' has labels with fewer than {min_cells_per_label} cells: {desc}. "
            "Drop or merge those cells, or lower min_cells_per_label."
        )
    return labels
