"""Precision, recall, density and coverage of generated samples (Naeem et al., ICML 2020).

With ``r_k(u)`` the distance from a point to its k-th nearest neighbour in its own set:

* precision: share of generated points inside at least one real ball ``B(real_i, r_k(real_i))``;
* recall: share of real points inside at least one generated ball ``B(gen_j, r_k(gen_j))``;
* density: mean number of real balls containing a generated point, divided by k (1 on average for samples
  of the same distribution; above 1 when generated points crowd dense real regions);
* coverage: share of real points whose ball contains at least one generated point.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial.distance import cdist

from ._utils import TooFewCells

__all__ = ["PRDC", "prdc"]


@dataclass(frozen=True)
class PRDC:
    """Result of :func:`prdc` (all ideally 1)."""

    precision: float
    recall: float
    density: float
    coverage: float

    def summary(self) -> dict[str, float]:
        """The four numbers as a dict."""
        return asdict(self)


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    d = cdist(x, x)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def prdc(real: np.ndarray, generated: np.ndarray, k: int = 5) -> PRDC:
    """Precision, recall, density and coverage with k-nearest-neighbour balls.

    Parameters
    ----------
    real, generated
        Points x dimensions (e.g. principal components), more than ``k`` points each.
    k
        Neighbour rank defining each ball's radius.

    Returns
    -------
    PRDC
        The four measures.
    """
    r = np.asarray(real, dtype=np.float64)
    g = np.asarray(generated, dtype=np.float64)
    if min(r.shape[0], g.shape[0]) <= k:
        raise TooFewCells(f"PRDC with k={k} needs more than {k} cells on each side, got {r.shape[0]} real "
                          f"and {g.shape[0]} generated")
    r_real, r_gen = _kth_radius(r, k), _kth_radius(g, k)
    d = cdist(r, g)  # real x generated
    in_real = d <= r_real[:, None]
    return PRDC(precision=float(in_real.any(axis=0).mean()),
                recall=float((d <= r_gen[None, :]).any(axis=1).mean()),
                density=float(in_real.sum(axis=0).mean() / k),
                coverage=float((d.min(axis=1) <= r_real).mean()))
