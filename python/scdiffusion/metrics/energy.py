"""Energy distance between two point clouds: a proper two-sample distance in the units of W1.

The empirical W1 between two finite samples is biased, and the bias favours the smaller spread: on ~40 cells in
50 principal components, real held-out cells pulled 30 % of the way to their own mean are *closer* (W1) to the
other held-out half than the unmodified cells are (``benchmarks/README.md``, "What W1 rewards"). The energy
distance subtracts each side's own spread, so its unbiased estimate is zero in expectation for two samples of one
distribution and positive for any other, a shrunk copy included. The biased (V-statistic) form, never negative,
is what the evaluation suite judges against its real-vs-real control at matched sample sizes
(:func:`scdiffusion.metrics.pca_distances`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist, pdist

from ..errors import InputError


def energy_distance(x: np.ndarray, y: np.ndarray, *, unbiased: bool = True) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` between the rows of ``x`` and ``y``.

    Székely's E-statistic with Euclidean distances; by default the within-sample means leave out each point's
    distance to itself (U-statistics), so two samples of the same distribution give 0 in expectation (a single
    draw may be a little below 0). Unlike the empirical W1 it cannot be lowered by a sample with less spread than
    the reference: the distance is zero only for equal distributions, and a shrunk or collapsed sample scores
    above a fresh one.

    Parameters
    ----------
    x, y
        Points x dimensions (e.g. cells on principal components); same number of dimensions, at least 2 points
        per side.
    unbiased
        ``True``: the U-statistic above (0 in expectation for one distribution, may be a little negative).
        ``False``: the V-statistic, whose within-sample means include each point's zero distance to itself; it
        is never negative and exceeds the unbiased value by ``E|X - X'| / n_x + E|Y - Y'| / n_y`` (estimated),
        so compare it only between pairs of samples of the same sizes (as a real-vs-real control does).

    Returns
    -------
    float
        The energy distance, in the units of the coordinates (like W1).

    Raises
    ------
    InputError
        If the dimensions differ, a side has fewer than 2 points, or a value is not finite.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    if x.shape[1] != y.shape[1]:
        raise InputError(f"Both point clouds need the same dimensions, got {x.shape[1]} and {y.shape[1]}.")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise InputError(f"The energy distance needs at least 2 points per side, got {x.shape[0]} and "
                         f"{y.shape[0]}.")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InputError("The point clouds contain NaN or infinite values; remove or impute them first.")
    between = cdist(x, y).mean()
    within_x = pdist(x).mean()  # pdist: each unordered pair once, no self-distances (the U-statistic)
    within_y = pdist(y).mean()
    if not unbiased:  # the n^2 ordered pairs, self-pairs (distance 0) included
        within_x *= (x.shape[0] - 1) / x.shape[0]
        within_y *= (y.shape[0] - 1) / y.shape[0]
    return float(2.0 * between - within_x - within_y)
