"""Two-sample classifier tests: can a classifier tell real from generated cells?

All scores are oriented so that **0.5 means indistinguishable** and 1 means the
two sets are perfectly separable.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import InputError
from ._utils import (
    MatrixLike,
    as_labels,
    check_pair,
    make_rng,
    pooled_pca,
    subsample_rows,
    to_dense,
)

logger = logging.getLogger(__name__)

__all__ = ["rf_auc", "knn_auc", "knn_auc_per_label", "one_nn_accuracy", "auc_null_sd"]


def auc_null_sd(n_pos: float, n_neg: float) -> float:
    """Standard deviation of the ROC AUC of a score that does not separate the classes.

    The AUC is the Mann-Whitney statistic divided by ``n_pos x n_neg``; without ties and with identically
    distributed classes its variance is ``(n_pos + n_neg + 1) / (12 n_pos n_neg)``. This is the chance
    scatter of the classifier AUCs here around 0.5 for test sets of these sizes.
    """
    n_pos, n_neg = max(float(n_pos), 1.0), max(float(n_neg), 1.0)
    return float(np.sqrt((n_pos + n_neg + 1.0) / (12.0 * n_pos * n_neg)))


def _stack(r: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.vstack([r, g])
    y = np.r_[np.zeros(r.shape[0], dtype=int), np.ones(g.shape[0], dtype=int)]
    return x, y


def _row_groups(x: np.ndarray) -> np.ndarray:
    """Group id per row; identical rows share a group."""
    keys = [row.tobytes() for row in np.ascontiguousarray(x)]
    _, groups = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
    return groups


def _split(x: np.ndarray, y: np.ndarray, test_size: float, seed: int,
           groups: np.ndarray | None = None):
    """Train/test split that keeps identical cells on the same side.

    Without duplicated cells this is a plain split stratified by source. If the
    same expression profile occurs more than once (e.g. a generated cell that is an
    exact copy of a real one), all copies are put on the same side of the split
    (grouped split). Otherwise the classifier would learn a copy's label from its
    twin and score systematically *below* 0.5; copies are instead detected by
    :func:`one_nn_accuracy` and :func:`~scdiffusion.metrics.memorization`.
    ``groups`` may be precomputed on the gene matrix (PCA scores of identical
    cells are not always bitwise identical).
    """
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    if groups is None:
        groups = _row_groups(x)
    if np.unique(groups).size == x.shape[0]:
        return train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    logger.info("%d cells are exact duplicates of other cells; using a grouped split.",
                x.shape[0] - np.unique(groups).size)
    tr, te = next(GroupShuffleSplit(n_splits=1, test_size=test_size,
                                    random_state=seed).split(x, y, groups))
    if np.unique(y[te]).size < 2 or np.unique(y[tr]).size < 2:
        raise InputError("The grouped train/test split left one class empty; supply more cells.")
    return x[tr], x[te], y[tr], y[te]


def rf_auc(
    real: MatrixLike,
    generated: MatrixLike,
    space: str = "pca",
    n_estimators: int = 1000,
    max_depth: int | None = 5,
    test_size: float = 0.25,
    seed: int = 0,
    n_comps: int = 50,
    n_jobs: int | None = None,
) -> float:
    """ROC AUC of a random forest trained to separate real from generated cells.

    The pooled cells are split (stratified by source) into ``1 - test_size`` for
    training and ``test_size`` for evaluation; exact duplicate cells are kept on
    the same side of the split so that copies cannot leak their label (identical
    inputs therefore score 0.5, not below). The forest uses balanced class
    weights, so unequal numbers of real and generated cells do not bias it.

    Parameters
    ----------
    real, generated
        Cells x genes matrices (or AnnData) on the log-normalised scale.
    space
        ``"pca"``: ``n_comps`` principal components of the pooled data;
        ``"genes"``: all genes (this also sees e.g. wrong zero patterns).
    n_estimators, max_depth
        Random forest size.
    test_size
        Fraction of cells held out for the AUC.
    seed
        Seed for the split, the PCA and the forest.
    n_comps
        Number of principal components for ``space="pca"``.
    n_jobs
        Parallel jobs for the forest (``None`` = 1; does not change the result).

    Returns
    -------
    float
        ROC AUC on the held-out split (0.5 = indistinguishable, 1 = separable).
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score

    r = to_dense(real)
    g = to_dense(generated)
    check_pair(r, g, min_cells=4)
    if space not in ("pca", "genes"):
        raise InputError(f"Unknown space {space!r}; use 'pca' or 'genes'.")
    groups = _row_groups(np.vstack([r, g]))
    if space == "pca":
        r, g = pooled_pca(r, g, n_comps=n_comps, seed=seed)
    x, y = _stack(r, g)
    x_tr, x_te, y_tr, y_te = _split(x, y, test_size, seed, groups=groups)
    clf = RandomForestClassifier(
        n_estimators=n_estimators,
        max_depth=max_depth,
        class_weight="balanced",
        random_state=seed,
        n_jobs=n_jobs,
    ).fit(x_tr, y_tr)
    return float(roc_auc_score(y_te, clf.predict_proba(x_te)[:, 1]))


def knn_auc(
    real: MatrixLike,
    generated: MatrixLike,
    k: int = 5,
    test_size: float = 0.3,
    seed: int = 0,
    balance: bool = True,
) -> float:
    """ROC AUC of a k-nearest-neighbour real-vs-generated classifier on genes.

    Parameters
    ----------
    real, generated
        Cells x genes matrices (or AnnData) on the log-normalised scale.
    k
        Number of neighbours (capped by the training-set size).
    test_size
        Fraction of the pooled cells used for evaluation (stratified split; exact
        duplicates are kept on the same side, as in :func:`rf_auc`).
    seed
        Seed for the subsampling and the split.
    balance
        Subsample the larger side to the size of the smaller one first, so that the
        neighbour vote is not dominated by the larger class.

    Returns
    -------
    float
        ROC AUC (0.5 = indistinguishable, 1 = separable).
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.neighbors import KNeighborsClassifier

    rng = make_rng(seed)
    r = to_dense(real)
    g = to_dense(generated)
    check_pair(r, g, min_cells=4)
    if balance:
        n = min(r.shape[0], g.shape[0])
        r, g = subsample_rows(r, n, rng), subsample_rows(g, n, rng)
    x, y = _stack(r, g)
    x_tr, x_te, y_tr, y_te = _split(x, y, test_size, seed)
    clf = KNeighborsClassifier(n_neighbors=max(1, min(int(k), x_tr.shape[0]))).fit(x_tr, y_tr)
    score = clf.predict_proba(x_te)[:, 1]
    if np.unique(score).size == 1:
        # e.g. over-smooth generated cells that are the nearest neighbours of every cell ("hubs"):
        # a constant score gives AUC 0.5 although the two sets are not alike.
        logger.warning("knn_auc: every test cell got the same %d-NN score (%.2f); the AUC of 0.5 is "
                       "uninformative here (one set's cells are the neighbours of all cells). "
                       "Check rf_auc / one_nn_accuracy.", clf.n_neighbors, float(score[0]))
    return float(roc_auc_score(y_te, score))


def knn_auc_per_label(
    real: MatrixLike,
    generated: MatrixLike,
    real_labels: Any,
    gen_labels: Any,
    k: int = 5,
    test_size: float = 0.3,
    seed: int = 0,
    min_cells: int = 10,
) -> dict[str, dict[str, Any]]:
    """:func:`knn_auc` computed separately for every cell type.

    Parameters
    ----------
    real, generated
        Cells x genes matrices (or AnnData).
    real_labels, gen_labels
        One label per real / generated cell (for generated cells: the label they
        were conditioned on).
    k, test_size, seed
        See :func:`knn_auc`.
    min_cells
        Labels with fewer than this many cells on either side are skipped.

    Returns
    -------
    dict
        ``{label: {"auc": float | None, "n_real": int, "n_generated": int}}`` for
        every label seen in either data set; ``"auc"`` is ``None`` (with a
        ``"skipped"`` reason) when the label has too few cells.
    """
    r = to_dense(real)
    g = to_dense(generated)
    check_pair(r, g, min_cells=1)
    lr = as_labels(real_labels, r.shape[0], "real_labels")
    lg = as_labels(gen_labels, g.shape[0], "gen_labels")
    out: dict[str, dict[str, Any]] = {}
    for label in sorted(set(lr) | set(lg)):
        mr, mg = lr == label, lg == label
        entry: dict[str, Any] = {"auc": None, "n_real": int(mr.sum()), "n_generated": int(mg.sum())}
        if mr.sum() < min_cells or mg.sum() < min_cells:
            entry["skipped"] = f"fewer than {min_cells} cells in real or generated data"
        else:
            entry["auc"] = knn_auc(r[mr], g[mg], k=k, test_size=test_size, seed=seed)
        out[str(label)] = entry
    return out


def one_nn_accuracy(
    real: MatrixLike,
    generated: MatrixLike,
    n_comps: int = 50,
    seed: int = 0,
    max_cells: int | None = 5000,
) -> float:
    """Leave-one-out 1-nearest-neighbour two-sample accuracy (1-NNA).

    Both sides are subsampled to the same size ``n``, embedded on pooled principal
    components, and every cell is classified by the source of its nearest *other*
    cell. The accuracy over all ``2n`` cells is returned.

    Interpretation: 0.5 = indistinguishable; 1 = separable. Values clearly
    **below** 0.5 indicate that generated cells are (near-)copies of real cells
    (each cell's nearest neighbour is its twin from the other set), e.g. identical
    inputs give 0.

    Parameters
    ----------
    real, generated
        Cells x genes matrices (or AnnData).
    n_comps
        Number of pooled principal components.
    seed
        Seed for the subsampling and PCA.
    max_cells
        Upper bound on cells per side.

    Returns
    -------
    float
        1-NN accuracy in ``[0, 1]``.
    """
    from sklearn.neighbors import NearestNeighbors

    rng = make_rng(seed)
    r = to_dense(real)
    g = to_dense(generated)
    check_pair(r, g, min_cells=2)
    n = min(r.shape[0], g.shape[0])
    if max_cells is not None:
        n = min(n, max_cells)
    r, g = subsample_rows(r, n, rng), subsample_rows(g, n, rng)
    zr, zg = pooled_pca(r, g, n_comps=n_comps, seed=seed)
    x, y = _stack(zr, zg)
    dist, idx = NearestNeighbors(n_neighbors=2).fit(x).kneighbors(x)
    # nearest neighbour other than the cell itself; with exact duplicates the
    # cell itself may be reported second, so pick whichever index differs.
    own = np.arange(x.shape[0])
    nearest = np.where(idx[:, 0] == own, idx[:, 1], idx[:, 0])
    return float(np.mean(y[nearest] == y))
