"""Real data that ships with installed packages (no download)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp


def pbmc68k_counts() -> ad.AnnData:
    """scanpy's ``pbmc68k_reduced`` (700 PBMCs × 765 genes) with its exact integer counts in ``X``.

    The counts are recovered from the log-normalised ``raw.X`` as ``round(expm1(raw.X) · n_counts / 1e4)``
    (``n_counts`` is each cell's library size before gene selection). ``obs`` keeps ``bulk_labels``
    (10 cell types, rare CD34+), ``phase`` (cell cycle) and ``louvain``.
    """
    import scanpy as sc

    pbmc = sc.datasets.pbmc68k_reduced()
    raw = pbmc.raw.to_adata()
    x = raw.X.toarray() if sp.issparse(raw.X) else np.asarray(raw.X)
    counts = np.round(np.expm1(x.astype(np.float64)) * pbmc.obs["n_counts"].to_numpy()[:, None] / 1e4)
    obs = pbmc.obs[["bulk_labels", "phase", "louvain", "n_counts"]].copy()
    adata = ad.AnnData(X=sp.csr_matrix(counts.astype(np.float32)), obs=obs, var=raw.var[[]].copy())
    adata.obsm["X_umap"] = pbmc.obsm["X_umap"]
    return adata
