"""The paper's preprocessing, recorded so that training, generation and decoding agree.

raw counts → drop genes detected in fewer than ``min_cells`` cells → drop cells with fewer than
``min_counts`` counts → normalise every cell to ``target_sum`` counts → ``log1p``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .validation import InputError, check_counts_matrix, check_unique_names

logger = logging.getLogger(__name__)


def get_matrix(adata: ad.AnnData, layer: str | None) -> np.ndarray | sp.spmatrix:
    """``adata.X`` or ``adata.layers[layer]`` with a clear error when the layer is missing."""
    if layer is None:
        if adata.X is None:
            raise InputError("adata.X is empty (None). Pass the layer that holds raw counts with `layer=`.")
        return adata.X
    if layer not in adata.layers:
        avail = ", ".join(adata.layers.keys()) or "(none)"
        raise InputError(f"Layer '{layer}' is not in adata.layers. Available layers: {avail}.")
    return adata.layers[layer]


def _to_csr(x: np.ndarray | sp.spmatrix) -> sp.csr_matrix:
    if sp.issparse(x):
        x = sp.csr_matrix(x, dtype=np.float32)  # may share its arrays with the caller's matrix
        if not x.has_canonical_format:
            x = x.copy()  # sorting in place would reorder the caller's indices and data
            x.sum_duplicates()  # also sorts indices; explicit zeros are harmless
        return x
    return sp.csr_matrix(np.asarray(x, dtype=np.float32))


def log_normalize(counts: np.ndarray | sp.spmatrix, target_sum: float) -> np.ndarray:
    """normalize_total(target_sum) + log1p of a counts matrix, as a dense float32 array."""
    x = _to_csr(counts)
    lib = np.asarray(x.sum(axis=1)).ravel()
    scale = np.divide(target_sum, lib, out=np.zeros_like(lib), where=lib > 0)
    x = sp.diags(scale.astype(np.float32)) @ x
    out = x.toarray().astype(np.float32, copy=False)
    np.log1p(out, out=out)
    return out


@dataclass
class Preprocessor:
    """Gene/cell filtering and normalisation, fitted on training data and saved with the model.

    Parameters
    ----------
    min_cells
        Genes detected in fewer cells are dropped (paper: 3).
    min_counts
        Cells with fewer total counts are dropped (paper: 10).
    target_sum
        Library size every cell is scaled to before ``log1p`` (paper: 1e4).
    """

    min_cells: int = 3
    min_counts: int = 10
    target_sum: float = 1e4
    genes: list[str] = field(default_factory=list)

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    def fit_transform(self, adata: ad.AnnData, layer: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Validate, filter and normalise training data.

        Returns
        -------
        x
            Log-normalised expression, cells × kept genes, float32.
        cell_mask
            Boolean mask over ``adata.obs_names`` of the cells kept.
        """
        check_unique_names(adata.var_names, what="gene")
        check_unique_names(adata.obs_names, what="cell")
        what = "X" if layer is None else f"layers['{layer}']"
        counts = get_matrix(adata, layer)
        check_counts_matrix(counts, what=what)
        counts = _to_csr(counts)
        n_cells_expr = np.asarray((counts > 0).sum(axis=0)).ravel()
        gene_mask = n_cells_expr >= self.min_cells
        if not gene_mask.any():
            raise InputError(
                f"No gene is detected in at least {self.min_cells} cells. Pass more cells or lower min_cells."
            )
        if gene_mask.sum() < 2:
            raise InputError(
                f"Only 1 gene is detected in at least {self.min_cells} cells; scDiffusion models several genes "
                "(in practice thousands). Pass more genes or lower min_cells."
            )
        counts = counts[:, gene_mask]
        lib = np.asarray(counts.sum(axis=1)).ravel()
        cell_mask = lib >= self.min_counts
        if cell_mask.sum() < 2:
            raise InputError(
                f"Only {int(cell_mask.sum())} cells have at least {self.min_counts} counts over the kept genes; "
                "scDiffusion needs at least 2 (in practice hundreds). Pass more cells or lower min_counts."
            )
        logger.info(
            "Preprocessing: kept %d/%d genes (detected in >= %d cells) and %d/%d cells (>= %d counts).",
            gene_mask.sum(), len(gene_mask), self.min_cells, cell_mask.sum(), len(cell_mask), self.min_counts,
        )
        self.genes = [str(g) for g in adata.var_names[gene_mask]]
        return log_normalize(counts[cell_mask], self.target_sum), cell_mask

    def counts(self, adata: ad.AnnData, layer: str | None = None) -> sp.csr_matrix:
        """Raw counts over the model's genes (validated), as CSR float32."""
        self.check_genes(adata.var_names)
        counts = get_matrix(adata, layer)
        check_counts_matrix(counts, what="X" if layer is None else f"layers['{layer}']")
        idx = pd.Index(adata.var_names).get_indexer(self.genes)
        return _to_csr(counts)[:, idx]

    def transform(self, adata: ad.AnnData, layer: str | None = None) -> np.ndarray:
        """Normalise new counts over the model's genes (no cell filtering).

        Raises
        ------
        InputError
            When genes of the model are missing from ``adata``.
        """
        check_unique_names(adata.var_names, what="gene")
        self.check_genes(adata.var_names)
        what = "X" if layer is None else f"layers['{layer}']"
        counts = get_matrix(adata, layer)
        check_counts_matrix(counts, what=what)
        idx = pd.Index(adata.var_names).get_indexer(self.genes)
        counts = _to_csr(counts)[:, idx]
        return log_normalize(counts, self.target_sum)

    def check_genes(self, var_names: pd.Index | list[str]) -> None:
        """Fail when ``var_names`` lacks genes of the model, naming a few of them."""
        have = set(map(str, var_names))
        missing = [g for g in self.genes if g not in have]
        if missing:
            raise InputError(
                f"{len(missing)} of the model's {self.n_genes} genes are missing from the data, e.g. "
                f"{missing[:5]}. Pass data with the same gene names (var_names) as the training data."
            )

    def to_dict(self) -> dict:
        return {"min_cells": self.min_cells, "min_counts": self.min_counts, "target_sum": self.target_sum,
                "normalization": "normalize_total+log1p"}

    @classmethod
    def from_dict(cls, d: dict, genes: list[str]) -> Preprocessor:
        return cls(min_cells=int(d["min_cells"]), min_counts=int(d["min_counts"]),
                   target_sum=float(d["target_sum"]), genes=list(genes))


def pseudo_counts(x: np.ndarray | sp.spmatrix, library_size: float = 1e4) -> np.ndarray | sp.spmatrix:
    """Turn relative expression (FPKM/TPM) into integer pseudo-counts.

    Each cell is scaled to ``library_size`` total and rounded. The scDiffusion preprocessing then
    re-normalises to 1e4 and takes ``log1p``, so this keeps the relative expression within a cell up to
    rounding of very small values (values below 0.5 pseudo-counts become zero).
    """
    if sp.issparse(x):
        x = sp.csr_matrix(x, dtype=np.float64)
        lib = np.asarray(x.sum(axis=1)).ravel()
        scale = np.divide(library_size, lib, out=np.zeros_like(lib), where=lib > 0)
        y = sp.diags(scale) @ x
        y.data = np.round(y.data)
        y.eliminate_zeros()
        return y.astype(np.float32)
    x = np.asarray(x, dtype=np.float64)
    lib = x.sum(axis=1, keepdims=True)
    scale = np.divide(library_size, lib, out=np.zeros_like(lib), where=lib > 0)
    return np.round(x * scale).astype(np.float32)
