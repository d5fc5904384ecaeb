"""Per-gene distributional agreement: zero fractions, means and variances."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ._utils import ZERO_THRESHOLD, MatrixLike, check_pair, to_dense

logger = logging.getLogger(__name__)

__all__ = ["ZeroFractionGap", "MeanVarianceAgreement", "zero_fraction_gap",
           "mean_variance_agreement"]


@dataclass(frozen=True)
class ZeroFractionGap:
    """Result of :func:`zero_fraction_gap`.

    Attributes
    ----------
    mean_abs_diff
        Mean over genes of ``|zero_frac_real - zero_frac_generated|`` (0 = ideal).
    real
        Per-gene fraction of zero values in the real data.
    generated
        Per-gene fraction of (near-)zero values in the generated data.
    """

    mean_abs_diff: float
    real: np.ndarray
    generated: np.ndarray

    def summary(self) -> dict[str, float]:
        """Scalar summary (JSON-serialisable)."""
        return {
            "mean_abs_diff": float(self.mean_abs_diff),
            "real_mean_zero_fraction": float(self.real.mean()),
            "generated_mean_zero_fraction": float(self.generated.mean()),
        }


@dataclass(frozen=True)
class MeanVarianceAgreement:
    """Result of :func:`mean_variance_agreement`.

    Attributes
    ----------
    log_variance_correlation
        Pearson correlation of ``log(var + eps)`` between real and generated genes.
    mean_correlation
        Pearson correlation of the gene means.
    mean_abs_diff_mean
        Mean absolute difference of gene means.
    mean_abs_diff_variance
        Mean absolute difference of gene variances.
    real_mean, generated_mean, real_var, generated_var
        Per-gene arrays (for plots).
    """

    log_variance_correlation: float
    mean_correlation: float
    mean_abs_diff_mean: float
    mean_abs_diff_variance: float
    real_mean: np.ndarray
    generated_mean: np.ndarray
    real_var: np.ndarray
    generated_var: np.ndarray

    def summary(self) -> dict[str, float]:
        """Scalar summary (JSON-serialisable)."""
        return {
            "log_variance_correlation": float(self.log_variance_correlation),
            "mean_correlation": float(self.mean_correlation),
            "mean_abs_diff_mean": float(self.mean_abs_diff_mean),
            "mean_abs_diff_variance": float(self.mean_abs_diff_variance),
        }


def zero_fraction_gap(
    real: MatrixLike,
    generated: MatrixLike,
    zero_threshold: float = ZERO_THRESHOLD,
) -> ZeroFractionGap:
    """Compare the per-gene fraction of zeros between real and generated cells.

    A value counts as zero when it is below ``zero_threshold`` (1e-8 by default),
    which covers exact zeros in counts / log-normalised data as well as tiny or
    negative values produced by a continuous generator. Because ``log1p`` maps 0 to
    0, the real input may be raw counts or log-normalised data.

    Parameters
    ----------
    real, generated
        Cells x genes matrices (or AnnData) with the same genes.
    zero_threshold
        Values strictly below this are counted as zeros.

    Returns
    -------
    ZeroFractionGap
        Mean absolute difference plus both per-gene zero-fraction arrays.
    """
    r = to_dense(real)
    g = to_dense(generated)
    check_pair(r, g, min_cells=1)
    zr = (r < zero_threshold).mean(axis=0)
    zg = (g < zero_threshold).mean(axis=0)
    return ZeroFractionGap(float(np.mean(np.abs(zr - zg))), zr, zg)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def mean_variance_agreement(
    real: MatrixLike, generated: MatrixLike, eps: float = 1e-8
) -> MeanVarianceAgreement:
    """Agreement of per-gene means and variances (log-normalised scale).

    Parameters
    ----------
    real, generated
        Cells x genes matrices (or AnnData) with the same genes.
    eps
        Added to variances before taking logs (genes with zero variance).

    Returns
    -------
    MeanVarianceAgreement
        Correlations, mean absolute differences and the per-gene arrays.
    """
    r = to_dense(real)
    g = to_dense(generated)
    check_pair(r, g, min_cells=2)
    rm, gm = r.mean(axis=0), g.mean(axis=0)
    rv, gv = r.var(axis=0, ddof=1), g.var(axis=0, ddof=1)
    return MeanVarianceAgreement(
        log_variance_correlation=_pearson(np.log(rv + eps), np.log(gv + eps)),
        mean_correlation=_pearson(rm, gm),
        mean_abs_diff_mean=float(np.mean(np.abs(rm - gm))),
        mean_abs_diff_variance=float(np.mean(np.abs(rv - gv))),
        real_mean=rm,
        generated_mean=gm,
        real_var=rv,
        generated_var=gv,
    )
