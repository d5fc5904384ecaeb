"""TMM normalisation factors (trimmed mean of M-values; Robinson & Oshlack 2010, as edgeR's calcNormFactors).

Each cell is compared with a reference cell: over the genes expressed in both, the log-ratios of their
expression proportions (M) are trimmed by 30 % at each end, the average log-expressions (A) by 5 %, and the
kept M-values are averaged with inverse-variance weights. The factors are rescaled to a geometric mean of 1;
``library size x TMM factor`` is the effective library size.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.stats import rankdata

from ..errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["tmm_factors"]


def _reference_cell(counts: np.ndarray, lib: np.ndarray) -> int:
    """edgeR's choice: the cell whose upper-quartile proportion is closest to the mean upper quartile.

    Single cells often have more than 75 % zeros (every upper quartile is 0); edgeR then takes the cell with
    the largest sum of square-root counts, and so does this function.
    """
    f75 = np.quantile(counts / lib[:, None], 0.75, axis=1)
    if np.median(f75) < 1e-20:
        return int(np.argmax(np.sqrt(counts).sum(axis=1)))
    return int(np.argmin(np.abs(f75 - f75.mean())))


def _tmm_one(obs: np.ndarray, ref: np.ndarray, n_obs: float, n_ref: float, logratio_trim: float,
             sum_trim: float) -> float:
    both = (obs > 0) & (ref > 0)
    o, r = obs[both], ref[both]
    if o.size == 0:
        return 1.0  # no gene expressed in both: edgeR sets the factor to 1
    # the same floating-point expressions as edgeR, so that ties at the trimming bounds fall the same way
    m = np.log2((o / n_obs) / (r / n_ref))
    a = (np.log2(o / n_obs) + np.log2(r / n_ref)) / 2.0
    if np.max(np.abs(m)) < 1e-6:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (n_obs - o) / n_obs / o + (n_ref - r) / n_ref / r
    n = m.size
    lo_m = np.floor(n * logratio_trim) + 1
    lo_a = np.floor(n * sum_trim) + 1
    rank_m, rank_a = rankdata(m), rankdata(a)
    keep = (rank_m >= lo_m) & (rank_m <= n + 1 - lo_m) & (rank_a >= lo_a) & (rank_a <= n + 1 - lo_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.sum(m[keep] / v[keep]) / np.sum(1.0 / v[keep])
    return float(2.0 ** f) if np.isfinite(f) else 1.0


def tmm_factors(counts: np.ndarray, logratio_trim: float = 0.3, sum_trim: float = 0.05) -> np.ndarray:
    """TMM normalisation factor of every cell, computed within the given cells.

    Parameters
    ----------
    counts
        Raw counts, cells x genes (dense).
    logratio_trim, sum_trim
        Fractions trimmed at each end of the M-values and of the A-values (edgeR defaults).

    Returns
    -------
    numpy.ndarray
        One factor per cell, geometric mean 1 over the cells with counts; ``nan`` for cells without any count.
    """
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"Expected a cells x genes count matrix, got shape {x.shape}.")
    out = np.full(x.shape[0], np.nan)
    lib = x.sum(axis=1)
    has = lib > 0
    if not has.any():
        return out
    if (~has).any():
        logger.info("%d cells without counts get no TMM factor.", int((~has).sum()))
    x, lib = x[has], lib[has]
    x = x[:, x.sum(axis=0) > 0]  # edgeR drops genes that are zero in every sample
    ref = _reference_cell(x, lib)
    f = np.array([_tmm_one(x[i], x[ref], lib[i], lib[ref], logratio_trim, sum_trim) for i in range(x.shape[0])])
    out[has] = f / np.exp(np.mean(np.log(f)))
    return out
