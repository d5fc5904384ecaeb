"""Diffusion pseudotime (DPT) of cells, e.g. along a generated interpolation series."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import InputError
from ._utils import effective_n_comps, to_dense

logger = logging.getLogger(__name__)

__all__ = ["diffusion_pseudotime"]


def diffusion_pseudotime(
    adata_or_matrix: Any,
    root_mask_or_index: int | np.ndarray | list[bool],
    n_comps: int = 50,
    n_neighbors: int = 15,
    n_dcs: int = 10,
    seed: int = 0,
) -> np.ndarray:
    """Diffusion pseudotime with scanpy (``pp.pca`` → ``pp.neighbors`` → ``tl.diffmap`` → ``tl.dpt``).

    Parameters
    ----------
    adata_or_matrix
        AnnData (its ``.X`` is used; the object is not modified) or a cells x genes
        matrix, on the log-normalised scale.
    root_mask_or_index
        Either the integer index of the root cell, or a boolean mask of candidate
        root cells (e.g. all cells of interpolation state 0). For a mask the root
        is the medoid of the masked cells in diffusion-map space.
    n_comps
        Number of principal components (capped by the data size).
    n_neighbors
        Neighbours of the kNN graph (capped at ``n_cells - 1``).
    n_dcs
        Number of diffusion components used by DPT.
    seed
        Random seed for PCA / neighbours.

    Returns
    -------
    numpy.ndarray
        Pseudotime per cell in ``[0, 1]``; cells disconnected from the root get ``inf``
        from scanpy.
    """
    import anndata as ad
    import scanpy as sc

    x = to_dense(adata_or_matrix, dtype=np.float32)
    n = x.shape[0]
    if n < 4:
        raise InputError(f"Diffusion pseudotime needs at least 4 cells, got {n}.")
    adata = ad.AnnData(x)
    k = effective_n_comps(n_comps, n, x.shape[1])
    sc.pp.pca(adata, n_comps=k, random_state=seed)
    sc.pp.neighbors(adata, n_neighbors=max(2, min(n_neighbors, n - 1)), n_pcs=k,
                    random_state=seed)
    n_dc = max(2, min(n_dcs + 1, n - 2))
    sc.tl.diffmap(adata, n_comps=n_dc)

    root = np.asarray(root_mask_or_index)
    if root.dtype == bool:
        if root.shape != (n,):
            raise InputError(f"Root mask must have one entry per cell ({n}), got shape {root.shape}.")
        cand = np.flatnonzero(root)
        if cand.size == 0:
            raise InputError("The root mask selects no cells; mark at least one root cell as True.")
        from scipy.spatial.distance import cdist

        if cand.size > 2000:  # bound the quadratic medoid search
            cand = np.random.default_rng(seed).choice(cand, 2000, replace=False)
        dc = adata.obsm["X_diffmap"][cand][:, 1:]
        iroot = int(cand[np.argmin(cdist(dc, dc).sum(axis=1))])
    elif root.ndim == 0 and np.issubdtype(root.dtype, np.integer):
        iroot = int(root)
        if not -n <= iroot < n:
            raise InputError(f"Root index {iroot} is out of range for {n} cells.")
        iroot %= n
    else:
        raise TypeError("`root_mask_or_index` must be an int or a boolean mask with one entry per cell.")
    adata.uns["iroot"] = iroot
    sc.tl.dpt(adata, n_dcs=min(n_dcs, n_dc))
    return adata.obs["dpt_pseudotime"].to_numpy(dtype=float)
