"""Stratified splits of cells into training and held-out sets (one implementation for the whole package)."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a per-label random split.

    Each label with at least two cells gives ``round(test_fraction × n)`` of its cells to the test set, at
    least one and at most ``n − 1``; a label with a single cell stays in the training set.

    Parameters
    ----------
    labels
        One label per cell.
    test_fraction
        Fraction of each label's cells held out, in (0, 1).
    seed
        Seed of the permutation (labels are visited in sorted order).

    Returns
    -------
    ``(train_idx, test_idx)``, each sorted.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}.")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for lab in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == lab))
        n_test = min(len(idx) - 1, max(1, int(round(test_fraction * len(idx))))) if len(idx) > 1 else 0
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(test, dtype=np.int64))
