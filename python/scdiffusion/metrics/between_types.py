"""Smearing between cell types: do cells sit inside a real type's neighbourhood, or between types?

A generated set can match real cells on global two-sample scores and still fill the space *between* clusters
(cells that look like a blend of two types). :func:`mixed_neighbourhoods` measures it against labelled real
reference cells: for every scored cell, the labels of its nearest reference cells in a PCA fitted on the
reference alone. A cell whose neighbourhood has no clear majority (top label's share below ``purity``) is
*between types*. Real held-out cells give the level real data has (types touch; rare types are mixed); a
generated set that smears has a larger share, and its cells lie farther from their nearest real cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._utils import MatrixLike, as_labels, fit_pca, to_dense

__all__ = ["mixed_neighbourhoods", "MixedNeighbourhoods"]


@dataclass(frozen=True)
class MixedNeighbourhoods:
    """Result of :func:`mixed_neighbourhoods`.

    Attributes
    ----------
    fraction_mixed
        Share of the scored cells whose nearest reference cells have no label with a share ≥ ``purity``.
    purity
        Per scored cell: share of its neighbours that carry the most common label among them.
    nearest_distance
        Per scored cell: Euclidean distance (reference PCs) to its nearest reference cell.
    median_nearest_distance
        Median of ``nearest_distance``.
    """

    fraction_mixed: float
    purity: np.ndarray
    nearest_distance: np.ndarray
    median_nearest_distance: float


def mixed_neighbourhoods(reference: MatrixLike, reference_labels, cells: MatrixLike, *, n_neighbors: int = 15,
                         purity: float = 0.8, n_comps: int = 50, seed: int = 0) -> MixedNeighbourhoods:
    """How many cells sit between real cell types.

    Parameters
    ----------
    reference
        Labelled real cells (cells x genes, log-normalised); the PCA is fitted on them only.
    reference_labels
        One label per reference cell (e.g. cell types).
    cells
        The cells to score (same genes, same scale); they are projected onto the reference's PCs, so held-out real
        cells and generated cells are scored alike (neither is in the fit).
    n_neighbors
        Reference neighbours looked at per cell.
    purity
        A cell is *mixed* when the most common label among its neighbours has a share below this.
    n_comps
        Principal components (at most the reference's rank).
    seed
        Seed of the PCA solver.

    Returns
    -------
    MixedNeighbourhoods
        ``fraction_mixed``, per-cell ``purity`` and ``nearest_distance``, ``median_nearest_distance``.

    Examples
    --------
    >>> res = mixed_neighbourhoods(real_train_log, real_train.obs["cell_type"], generated_log)  # doctest: +SKIP
    >>> res.fraction_mixed  # compare with the same call on real held-out cells  # doctest: +SKIP
    """
    from sklearn.neighbors import NearestNeighbors

    ref = to_dense(reference)
    x = to_dense(cells)
    labels = as_labels(reference_labels, ref.shape[0], "reference_labels")
    if ref.shape[1] != x.shape[1]:
        raise InputError(f"reference and cells must have the same genes (columns): {ref.shape[1]} vs {x.shape[1]}.")
    if x.shape[0] == 0:
        raise InputError("cells is empty: pass at least one cell to score.")
    if not 0.0 < purity <= 1.0:
        raise InputError(f"purity must be in (0, 1], got {purity}.")
    if n_neighbors < 1 or n_neighbors > ref.shape[0]:
        raise InputError(f"n_neighbors must be between 1 and the number of reference cells ({ref.shape[0]}), got "
                         f"{n_neighbors}.")
    pca = fit_pca(ref.astype(np.float64), n_comps=n_comps, seed=seed)
    z_ref = pca.transform(ref.astype(np.float64))
    z = pca.transform(x.astype(np.float64))
    dist, idx = NearestNeighbors(n_neighbors=n_neighbors).fit(z_ref).kneighbors(z)
    codes, _ = _codes(labels)
    neigh = codes[idx]
    top_share = np.array([np.bincount(row).max() for row in neigh], dtype=np.float64) / n_neighbors
    nearest = dist[:, 0]
    return MixedNeighbourhoods(fraction_mixed=float(np.mean(top_share < purity)), purity=top_share,
                               nearest_distance=nearest, median_nearest_distance=float(np.median(nearest)))


def _codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cats, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return codes, cats
