"""Within-time-point pseudotime: each cell's value of a time-course column, spread along its expression.

A time course measures cells at a few times (0 / 24 / 48 / 72 h); the cells of one time point are at different
stages of the process, and those ahead of their time point's median look like the next one. Conditioning the
denoiser on the measured time alone hides that spread, and a value between two time points (one never measured)
then has nothing to be learned from. :func:`pseudotime_values` gives every cell a value in the column's own units:
a ridge regression of the measured value on the cells' principal components (log-normalised expression), mapped
piecewise-linearly so that every time point's median prediction is its measured value. A cell keeps its time
point's value where its expression is typical for it and moves towards the neighbouring time point's value where
it looks like it. On a simulated trajectory with one time point held out (``benchmarks/trajectory_pseudotime.py``)
it brings cells made at the held-out value much closer to the held-out cells.

Applied to a continuous column with a few distinct values (:data:`MAX_TIME_POINTS`), each on enough cells
(:data:`MIN_CELLS_PER_TIME_POINT`); a column of many values (doses per cell, a pseudotime already) is kept as it is.
By default (``continuous_pseudotime=None``, ``auto=True`` here) only where expression predicts the measured values
well out of sample (:data:`R2_CV_AUTO`): below it the spread made cells generated from noise at a held-out time
farther on two time courses (HSMM, and a simulation whose time points overlap more; ``benchmarks/README.md``, T7
and T8), at or above it it brought them much closer (the simulated trajectory).
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: Columns with more distinct values than this are per-cell values already and are not spread.
MAX_TIME_POINTS = 20
#: Every time point needs this many cells for its median (else the column is kept as measured).
MIN_CELLS_PER_TIME_POINT = 5
#: Principal components the measured value is regressed on.
N_COMPS = 30
#: The PCA is fitted on at most this many cells (then every cell is projected, in chunks).
MAX_PCA_CELLS = 10_000
#: The out-of-sample R² of the ridge from which the spread is applied by default (``auto``; when forced below it, a
#: warning): measured to help at 0.97 (the simulated trajectory, 300 or 2,400 training cells); at 0.87-0.91 (HSMM)
#: and at 0.90 (the same simulation with overlapping time points) it made cells generated from noise at a held-out
#: time farther; ``benchmarks/README.md``, T6-T8. A threshold between measured data sets, not a tuned value.
R2_CV_AUTO = 0.95


def pseudotime_values(values: np.ndarray, x: np.ndarray, *, seed: int, key: str = "",
                      auto: bool = False) -> tuple[np.ndarray, dict]:
    """Every cell's value spread along its expression (see the module docstring).

    Parameters
    ----------
    values
        The measured values of the cells (one per row of ``x``).
    x
        Log-normalised expression, cells × genes (dense or sparse).
    seed
        Seed of the PCA solver.
    key
        The column's name (for the log).
    auto
        Apply the spread only if the ridge's out-of-sample R² reaches :data:`R2_CV_AUTO` (else the values are kept
        as measured, and the summary says why); ``False``: apply it whenever the column is a time course, with a
        warning below that R².

    Returns
    -------
    spread
        The spread values (float64; equal to ``values`` when the column is kept as measured).
    summary
        ``{"applied": bool, "reason": str, ...}``: why it was (not) applied, and the regression's R² and the
        spread's standard deviation within time points when it was.
    """
    from sklearn.linear_model import RidgeCV

    from ..metrics._utils import fit_pca

    values = np.asarray(values, dtype=np.float64)
    levels, counts = np.unique(values, return_counts=True)
    if len(levels) > MAX_TIME_POINTS:
        return values, {"applied": False, "reason": f"{len(levels)} distinct values: per-cell values already"}
    if counts.min() < MIN_CELLS_PER_TIME_POINT:
        return values, {"applied": False, "reason": f"a time point has {int(counts.min())} cell(s) "
                                                    f"(< {MIN_CELLS_PER_TIME_POINT})"}

    def rows(idx) -> np.ndarray:
        part = x[idx]
        return np.asarray(part.toarray() if hasattr(part, "toarray") else part, dtype=np.float64)

    n = len(values)
    fit_rows = np.sort(np.random.default_rng(seed).choice(n, min(n, MAX_PCA_CELLS), replace=False))
    pca = fit_pca(rows(fit_rows), n_comps=N_COMPS, seed=seed)
    pcs = np.vstack([pca.transform(rows(slice(i, min(i + 5000, n)))) for i in range(0, n, 5000)])
    ridge = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(pcs, values)
    pred = ridge.predict(pcs)
    med = np.array([np.median(pred[values == v]) for v in levels])
    if np.any(np.diff(med) <= 0):
        logger.log(logging.INFO if auto else logging.WARNING, "continuous column '%s': the cells' expression does "
                   "not order its values (median predictions %s for %s), so it is kept as measured.", key,
                   np.round(med, 2), levels)
        return values, {"applied": False, "reason": "expression does not order the values"}
    spread = np.interp(pred, med, levels)
    lo, hi = pred < med[0], pred > med[-1]  # linear beyond the first and last time point
    spread[lo] = levels[0] + (pred[lo] - med[0]) * (levels[1] - levels[0]) / (med[1] - med[0])
    spread[hi] = levels[-1] + (pred[hi] - med[-1]) * (levels[-1] - levels[-2]) / (med[-1] - med[-2])
    within = float(np.sqrt(np.mean([np.var(spread[values == v]) for v in levels])))
    r2 = float(ridge.score(pcs, values))
    r2_cv = _cross_validated_r2(pcs, values, ridge.alpha_, seed)
    fit = {"r2": r2, "r2_cv": r2_cv, "sd_within": within, "alpha": float(ridge.alpha_)}
    if auto and r2_cv < R2_CV_AUTO:
        logger.info("continuous column '%s': kept as measured -- expression predicts its values out of sample with "
                    "R² %.2f, below the %.2f from which spreading them within time points helped (set "
                    "continuous_pseudotime=True to spread them anyway).", key, r2_cv, R2_CV_AUTO)
        return values, {"applied": False, "reason": f"out-of-sample R² {r2_cv:.2f} < {R2_CV_AUTO} (auto)", **fit}
    logger.info("continuous column '%s': values spread within time points along expression (ridge R² %.2f, "
                "out of sample %.2f; sd within a time point %.3g).", key, r2, r2_cv, within)
    if r2_cv < R2_CV_AUTO:
        logger.warning("continuous column '%s': expression predicts its values less well out of sample (R² %.2f) "
                       "than where the spread was measured to help (simulated time course: 0.97); on HSMM's "
                       "myoblasts (0.87-0.91) and a simulation with overlapping time points (0.90) it made cells "
                       "generated from noise at held-out times farther. Compare with continuous_pseudotime=False "
                       "on held-out cells before relying on it.", key, r2_cv)
    return spread, {"applied": True, "reason": "a time course", **fit}


def _cross_validated_r2(pcs: np.ndarray, values: np.ndarray, alpha: float, seed: int, n_folds: int = 5) -> float:
    """R² of the ridge's predictions for cells it was not fitted on (``n_folds``-fold, the chosen ``alpha``).

    How well expression orders cells in time beyond the fitted ones: 0.967-0.976 on the simulated trajectory of
    ``benchmarks/trajectory.py``, 0.873-0.912 on HSMM's myoblasts (``benchmarks/README.md``, T6)."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_predict

    n_folds = min(n_folds, len(values))
    pred = cross_val_predict(Ridge(alpha=alpha), pcs, values, cv=KFold(n_folds, shuffle=True, random_state=seed))
    return float(1.0 - np.sum((pred - values) ** 2) / np.sum((values - values.mean()) ** 2))
