"""Gene-level correlation metrics between real and generated expression."""

from __future__ import annotations

import logging

import numpy as np
from scipy.stats import spearmanr

from ..errors import InputError
from ._utils import MatrixLike, check_pair, to_dense

logger = logging.getLogger(__name__)

__all__ = ["scc_gene_means", "gene_correlation_error"]


def scc_gene_means(real: MatrixLike, generated: MatrixLike) -> float:
    """Spearman correlation of per-gene mean expression (log space).

    Parameters
    ----------
    real, generated
        Cells x genes matrices (or AnnData) on the log-normalised scale with the
        same genes in the same order.

    Returns
    -------
    float
        Spearman's rho between the two vectors of gene means; 1 means the genes
        are ranked identically by average expression. ``nan`` if either side
        has constant gene means.
    """
    r = to_dense(real)
    g = to_dense(generated)
    check_pair(r, g, min_cells=1)
    if r.shape[1] < 2:
        raise InputError("At least two genes are needed for a correlation of gene means.")
    rho = spearmanr(r.mean(axis=0), g.mean(axis=0)).statistic
    return float(rho)


def _safe_corrcoef(x: np.ndarray) -> np.ndarray:
    """Pearson correlation between columns; constant columns get 0 off-diagonal."""
    xc = x - x.mean(axis=0, keepdims=True)
    norms = np.sqrt((xc**2).sum(axis=0))
    constant = norms <= 1e-12
    norms[constant] = 1.0
    xn = xc / norms
    c = xn.T @ xn
    c[constant, :] = 0.0
    c[:, constant] = 0.0
    np.fill_diagonal(c, 1.0)
    return np.clip(c, -1.0, 1.0)


def gene_correlation_error(
    real: MatrixLike, generated: MatrixLike, n_top_genes: int = 100
) -> float:
    """Mean absolute difference of gene-gene Pearson correlation matrices.

    The ``n_top_genes`` genes with the highest variance in the *real* data are
    selected, their gene x gene Pearson correlation matrices are computed in the
    real and the generated data, and the mean absolute difference over the
    off-diagonal upper triangle is returned.

    A gene that is constant in one data set has an undefined correlation; it is
    treated as uncorrelated (0) with every other gene instead of producing NaN.

    Parameters
    ----------
    real, generated
        Cells x genes matrices (or AnnData) on the log-normalised scale.
    n_top_genes
        Number of most variable real genes to use (capped at the number of genes).

    Returns
    -------
    float
        0 means identical co-expression structure; the maximum possible value is 2.
    """
    r = to_dense(real)
    g = to_dense(generated)
    check_pair(r, g, min_cells=2)
    n = min(int(n_top_genes), r.shape[1])
    if n < 2:
        raise InputError("`n_top_genes` must be at least 2 and the data must have >= 2 genes.")
    top = np.argsort(-r.var(axis=0), kind="stable")[:n]
    cr = _safe_corrcoef(r[:, top])
    cg = _safe_corrcoef(g[:, top])
    iu = np.triu_indices(n, k=1)
    return float(np.mean(np.abs(cr[iu] - cg[iu])))
