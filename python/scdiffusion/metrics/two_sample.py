"""Two-sample statistics of one- or two-dimensional samples: Kolmogorov-Smirnov and kernel density (L2).

SimBench (Cao et al., Nat. Commun. 2021) compares every data property of real and simulated cells with the
kernel density based two-sample test of ``ks::kde.test`` (Duong et al. 2012), whose statistic is the integrated
squared difference of the two kernel density estimates; the KS statistic is the usual alternative for one
dimension. Both are 0 for identical samples.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial.distance import cdist

from ..errors import InputError
from ._utils import make_rng

logger = logging.getLogger(__name__)

__all__ = ["ks_statistic", "kde_statistic"]


def _finite_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    return x[np.all(np.isfinite(x), axis=1)]


def ks_statistic(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``sup |F_x - F_y|`` (non-finite values are dropped).

    Parameters
    ----------
    x, y
        One-dimensional samples.

    Returns
    -------
    float
        In ``[0, 1]``; 0 for identical samples, 1 for samples that do not overlap. ``nan`` if a side is empty.
    """
    x = np.sort(_finite_rows(x)[:, 0])
    y = np.sort(_finite_rows(y)[:, 0])
    if x.size == 0 or y.size == 0:
        return float("nan")
    grid = np.concatenate([x, y])
    fx = np.searchsorted(x, grid, side="right") / x.size
    fy = np.searchsorted(y, grid, side="right") / y.size
    return float(np.max(np.abs(fx - fy)))


def kde_statistic(x: np.ndarray, y: np.ndarray, max_points: int | None = 2000, seed: int = 0) -> float:
    """Integrated squared difference ``∫ (f_x - f_y)^2`` of Gaussian kernel density estimates.

    Each dimension is divided by the standard deviation of ``x`` (the reference sample; the pooled one if
    that is 0) and both densities use the same diagonal bandwidth, Scott's rule for ``x``:
    ``h = n_x^(-1/(d+4))`` in standardised units. With Gaussian kernels the integral has the closed form
    ``mean K(x, x') + mean K(y, y') - 2 mean K(x, y)``, ``K`` a Gaussian density of variance ``2 h^2`` (all
    pairs, diagonal included: the estimate of identical samples is exactly 0). This is the statistic of
    ``ks::kde.test``; its plug-in bandwidth and z-score are not reproduced, so compare values computed here with
    each other (e.g. with the real-vs-real control), not with SimBench's tables.

    Parameters
    ----------
    x, y
        Samples of shape ``(n,)`` or ``(n, d)`` with the same ``d``; rows with non-finite values are dropped.
    max_points
        Each side is randomly subsampled to at most this many points (the cost is quadratic).
    seed
        Seed of the subsampling.

    Returns
    -------
    float
        ``>= 0`` (in units of standardised density squared); ``nan`` if a side is empty.
    """
    a, b = _finite_rows(x), _finite_rows(y)
    if a.shape[1] != b.shape[1]:
        raise InputError(f"Both samples need the same number of dimensions, got {a.shape[1]} and {b.shape[1]}.")
    if a.shape[0] == 0 or b.shape[0] == 0:
        return float("nan")
    if max_points is not None:  # the same seed on both sides: equal samples stay equal after subsampling
        if a.shape[0] > max_points:
            a = a[make_rng(seed).choice(a.shape[0], max_points, replace=False)]
        if b.shape[0] > max_points:
            b = b[make_rng(seed).choice(b.shape[0], max_points, replace=False)]
    sd = a.std(axis=0)
    pooled = np.vstack([a, b]).std(axis=0)
    sd = np.where(sd > 0, sd, np.where(pooled > 0, pooled, 1.0))
    a, b = a / sd, b / sd
    d = a.shape[1]
    h2 = float(a.shape[0]) ** (-2.0 / (d + 4))  # squared Scott bandwidth in standardised units
    var = 2.0 * h2
    norm = (2.0 * np.pi * var) ** (-d / 2.0)

    def mean_kernel(u: np.ndarray, v: np.ndarray) -> float:
        return float(norm * np.exp(-cdist(u, v, "sqeuclidean") / (2.0 * var)).mean())

    return float(max(mean_kernel(a, a) + mean_kernel(b, b) - 2.0 * mean_kernel(a, b), 0.0))
