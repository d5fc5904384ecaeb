"""The real-vs-real control and the pass/fail rule of the evaluation report.

Each repeat splits the real cells per label (:func:`scdiffusion.data.split.stratified_split`) into a
reference part A and a part B of ``min(n_generated, n_real // 2)`` cells, and draws as many generated cells
G (at random, or with B's label counts for per-label metrics). A metric is computed for (A, G) and for
(A, B): same reference, same sample sizes, so the two numbers are directly comparable even for statistics
whose value depends on the sample size (Wasserstein distances, biased MMD, k-NN measures). B is what cells
that *are* real score.

Verdict: with ``m`` the mean of the (A, G) values over the repeats and ``c_i`` the (A, B) values,
``pass  <=>  |m - ideal| <= pass_factor x mean_i |c_i - ideal|``. The default factor 2 is about the ratio of
the 99th percentile to the mean of a Kolmogorov-Smirnov statistic between samples of one distribution.
Classifier AUCs scatter around 0.5 by chance and shares of cells (PRDC precision, recall, coverage) can sit at
exactly 1 in the control, so a control may land on the ideal; where the chance scatter of a value is known
(``null_sd``: Mann-Whitney for AUCs, binomial for shares), the threshold is at least :data:`NULL_Z` standard
errors of ``m``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.split import stratified_split
from ..errors import InputError
from ..options import EVALUATE

logger = logging.getLogger(__name__)

__all__ = ["PASS_FACTOR", "NULL_Z", "ControlSplit", "control_splits", "judge"]

#: Default tolerance of the pass rule (see the module docstring).
PASS_FACTOR = EVALUATE.defaults.pass_factor
#: Where a metric's chance scatter ``null_sd`` is known, the threshold is at least this many of its standard
#: errors (two-sided 99 %), so that a control that happens to land on the ideal cannot fail real cells.
NULL_Z = 2.576


@dataclass(frozen=True)
class ControlSplit:
    """Indices of one repeat: real reference cells, real compared cells, and two draws of generated cells."""

    reference: np.ndarray
    real: np.ndarray
    generated: np.ndarray
    generated_by_label: np.ndarray


def _by_label(real_labels: np.ndarray, gen_labels: np.ndarray, real_idx: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """Generated cells with the label counts of ``real_labels[real_idx]`` (fewer where a label is short)."""
    out = []
    labels, counts = np.unique(real_labels[real_idx], return_counts=True)
    for label, n in zip(labels, counts):
        pool = np.flatnonzero(gen_labels == label)
        out.append(rng.choice(pool, min(n, pool.size), replace=False))
    return np.sort(np.concatenate(out)) if out else np.empty(0, dtype=int)


def control_splits(n_real: int, n_generated: int, real_labels: np.ndarray | None,
                   gen_labels: np.ndarray | None, n_repeats: int, seed: int = 0) -> list[ControlSplit]:
    """The random splits of the matched comparisons and the real-vs-real control.

    Parameters
    ----------
    n_real, n_generated
        Numbers of real and generated cells.
    real_labels, gen_labels
        Labels (both or neither): the real cells are split per label, and ``generated_by_label`` draws as many
        generated cells of each label as the compared real part has (per-label metrics compare like with like).
    n_repeats
        Number of random splits.
    seed
        Seed of the first split (repeat ``i`` uses ``seed + i``).

    Returns
    -------
    list of ControlSplit
        ``reference`` (A) and ``real`` (B, ``min(n_generated, n_real // 2)`` cells, that share of each label,
        rounded) partition the real cells; ``generated`` holds ``len(B)`` random generated cells,
        ``generated_by_label`` generated cells with B's label counts (without labels: the same as
        ``generated``).
    """
    if n_real < 4:
        raise InputError(f"The real-vs-real control needs at least 4 real cells, got {n_real}.")
    fraction = min(n_generated, n_real // 2) / n_real
    y = np.zeros(n_real, dtype=int) if real_labels is None else np.asarray(real_labels)
    out = []
    for i in range(n_repeats):
        a, b = stratified_split(y, fraction, seed + i)
        rng = np.random.default_rng(seed + i)
        g = np.sort(rng.choice(n_generated, min(b.size, n_generated), replace=False))
        by_label = g if gen_labels is None else _by_label(y, np.asarray(gen_labels), b, rng)
        out.append(ControlSplit(a, b, g, by_label))
    return out


def judge(matched: Sequence[float | None], controls: Sequence[float | None], ideal: float,
          pass_factor: float = PASS_FACTOR, null_sd: float | None = None) -> dict[str, Any]:
    """Verdict of one metric from its matched generated values and its real-vs-real control values.

    Parameters
    ----------
    matched
        (A, G) values of the repeats.
    controls
        (A, B) values of the repeats.
    ideal
        The metric's ideal value (0 for a distance, 0.5 for a classifier AUC, 1 for a correlation, ...).
    pass_factor
        Tolerance of the rule.
    null_sd
        Chance scatter (standard deviation) of one (A, G) value, where known (classifier AUCs, shares of
        cells); the threshold is then at least
        ``NULL_Z x null_sd / sqrt(number of matched values)``.

    Returns
    -------
    dict
        ``matched`` and ``control`` (means of the finite values), ``threshold`` (largest distance of
        ``matched`` from the ideal that passes) and ``pass`` (``None`` when either side has no finite value).
    """
    def finite(values: Sequence[float | None]) -> list[float]:
        return [float(v) for v in values if v is not None and np.isfinite(v)]

    m, c = finite(matched), finite(controls)
    out: dict[str, Any] = {"matched": float(np.mean(m)) if m else None, "control": float(np.mean(c)) if c else None,
                           "threshold": None, "pass": None}
    if c:
        out["threshold"] = pass_factor * float(np.mean([abs(v - ideal) for v in c]))
        if null_sd is not None and m:
            out["threshold"] = max(out["threshold"], NULL_Z * float(null_sd) / np.sqrt(len(m)))
        if m:
            out["pass"] = bool(abs(out["matched"] - ideal) <= out["threshold"] + 1e-12)
    return out
