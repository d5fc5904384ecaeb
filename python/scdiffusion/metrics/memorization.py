"""Memorisation check: are generated cells suspiciously close to training cells?"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from ._utils import MatrixLike, check_pair, fit_pca, to_dense

logger = logging.getLogger(__name__)

__all__ = ["Memorization", "memorization"]


@dataclass(frozen=True)
class Memorization:
    """Result of :func:`memorization`.

    Attributes
    ----------
    median_generated_to_train
        Median distance from a generated cell to its nearest training cell.
    median_heldout_to_train
        Median distance from a held-out real cell to its nearest training cell
        (the reference: how close genuinely new cells from the same distribution are).
    ratio
        ``median_generated_to_train / median_heldout_to_train``. About 1 is healthy;
        well below 1 suggests copying of training cells, well above 1 suggests
        generated cells are off the data manifold.
    fraction_closer_than_p5
        Fraction of generated cells whose nearest-training-cell distance is below
        the 5th percentile of held-out distances (about 0.05 expected; much larger
        values indicate memorisation).
    threshold_p5
        That 5th-percentile distance.
    generated_to_train, heldout_to_train
        Per-cell distance arrays.
    """

    median_generated_to_train: float
    median_heldout_to_train: float
    ratio: float
    fraction_closer_than_p5: float
    threshold_p5: float
    generated_to_train: np.ndarray
    heldout_to_train: np.ndarray

    def summary(self) -> dict[str, float]:
        """Scalar summary (JSON-serialisable)."""
        d = asdict(self)
        d.pop("generated_to_train")
        d.pop("heldout_to_train")
        return {k: float(v) for k, v in d.items()}


def memorization(
    train: MatrixLike,
    generated: MatrixLike,
    heldout: MatrixLike,
    n_comps: int = 50,
    seed: int = 0,
) -> Memorization:
    """Compare generated→train and held-out→train nearest-neighbour distances.

    A PCA with ``n_comps`` components is fitted on the (log-normalised) training
    cells only; generated and held-out real cells are projected onto it and their
    Euclidean distance to the nearest training cell is measured.

    Parameters
    ----------
    train
        Cells used to train the generative model.
    generated
        Generated cells.
    heldout
        Real cells *not* used for training (same distribution as ``train``).
    n_comps
        Number of principal components (capped by the training-set size).
    seed
        PCA solver seed.

    Returns
    -------
    Memorization
        Medians, their ratio, the fraction of generated cells closer than the 5th
        percentile of held-out distances, and the per-cell distances.
    """
    from sklearn.neighbors import NearestNeighbors

    t = to_dense(train)
    g = to_dense(generated)
    h = to_dense(heldout)
    check_pair(t, g, min_cells=2)
    check_pair(t, h, min_cells=2)
    pca = fit_pca(t, n_comps=n_comps, seed=seed)
    nn = NearestNeighbors(n_neighbors=1).fit(pca.transform(t))
    d_g = nn.kneighbors(pca.transform(g))[0][:, 0]
    d_h = nn.kneighbors(pca.transform(h))[0][:, 0]
    med_g, med_h = float(np.median(d_g)), float(np.median(d_h))
    p5 = float(np.percentile(d_h, 5))
    ratio = med_g / med_h if med_h > 0 else float("nan")
    return Memorization(
        median_generated_to_train=med_g,
        median_heldout_to_train=med_h,
        ratio=float(ratio),
        fraction_closer_than_p5=float(np.mean(d_g < p5)),
        threshold_p5=p5,
        generated_to_train=d_g,
        heldout_to_train=d_h,
    )
