"""Cell-type annotation accuracy of generated cells.

A cell-type classifier is trained on most of the real cells and then asked to
annotate (a) the generated cells, whose expected label is the label they were
conditioned on, and (b) the held-out real cells, which serve as the control: the
generated accuracy should approach the held-out real accuracy.

Both functions expect ``.X`` on the log1p-normalised scale (``normalize_total``
to 1e4 followed by ``log1p``), which is what CellTypist was designed for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError, InputKeyError
from ._utils import as_labels, check_pair, to_dense

logger = logging.getLogger(__name__)

__all__ = ["celltypist_accuracy", "label_classifier_accuracy", "fit_annotator", "CELLTYPIST_INSTALL_HINT"]

CELLTYPIST_INSTALL_HINT = "pip install celltypist==1.7.1 'scikit-learn<1.8'"

Predictor = Callable[[np.ndarray], np.ndarray]


def _prepare(real_adata: Any, generated_adata: Any, labels_key: str):
    for name, ad in (("real_adata", real_adata), ("generated_adata", generated_adata)):
        if labels_key not in ad.obs.columns:
            raise InputKeyError(
                f"`{labels_key}` is not a column of {name}.obs (available: "
                f"{list(ad.obs.columns)[:10]}). Pass the obs column holding the cell-type labels."
            )
    missing = [g for g in real_adata.var_names if g not in set(generated_adata.var_names)]
    if missing:
        raise InputError(
            f"{len(missing)} real genes are missing from the generated data (e.g. {missing[:5]}). "
            "Subset the real data to the model's genes: `real = real[:, generated.var_names]`."
        )
    xr = to_dense(real_adata)
    xg = to_dense(generated_adata[:, real_adata.var_names])
    check_pair(xr, xg, min_cells=1)
    yr = as_labels(real_adata.obs[labels_key].values, xr.shape[0], "real labels")
    yg = as_labels(generated_adata.obs[labels_key].values, xg.shape[0], "generated labels")
    return xr, xg, yr, yg, np.asarray(real_adata.var_names).astype(str)


def _split(y: np.ndarray, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified ``(train, held-out)`` indices; labels with a single cell go to the training set."""
    from ..data.split import stratified_split

    if not 0 < train_fraction < 1:
        raise InputError(f"`train_fraction` must be in (0, 1), got {train_fraction}.")
    return stratified_split(y, 1.0 - train_fraction, seed)


def fit_annotator(x_train: np.ndarray, y_train: np.ndarray, kind: str = "logistic_regression", seed: int = 0,
                  max_iter: int = 200, genes: np.ndarray | None = None) -> Predictor:
    """Train a cell annotator on real log-normalised cells; returns ``predict(x) -> labels``.

    Parameters
    ----------
    x_train, y_train
        log1p-normalised (1e4) cells x genes and their labels (at least two distinct labels).
    kind
        ``"celltypist"``: CellTypist logistic regression (``use_SGD=False``, ``n_jobs=1``,
        ``check_expression=False``, no feature selection), applied with the model's own scaler and classifier
        (``celltypist.annotate`` in best-match mode without the expression check, which generated cells need
        not pass exactly); ``"logistic_regression"``: standard-scaled genes clipped at 10 (as CellTypist
        does) into scikit-learn's multinomial logistic regression (no CellTypist needed).
    seed
        Seed of the solver.
    max_iter
        Maximum solver iterations.
    genes
        Gene names for CellTypist (default ``g0, g1, ...``).

    Returns
    -------
    callable
        Maps a cells x genes matrix (same genes) to an array of predicted labels.

    Raises
    ------
    ImportError
        For ``kind="celltypist"`` without CellTypist.
    ValueError
        For an unknown ``kind`` or fewer than two labels.
    """
    import warnings

    x_train = np.asarray(x_train, dtype=np.float64)
    y_train = np.asarray(y_train).astype(str)
    if np.unique(y_train).size < 2:
        raise InputError("An annotator needs at least two distinct labels in the real training cells.")
    if kind == "celltypist":
        try:
            import celltypist
        except ImportError as exc:  # pragma: no cover - depends on environment
            raise ImportError(
                "The CellTypist annotator needs the optional CellTypist package. Install it with: "
                f"{CELLTYPIST_INSTALL_HINT} (CellTypist 1.7.1 is incompatible with scikit-learn >= 1.8). "
                "Alternatively use kind='logistic_regression', which needs only scikit-learn."
            ) from exc
        names = np.asarray(genes if genes is not None else [f"g{i}" for i in range(x_train.shape[1])]).astype(str)
        model = celltypist.train(x_train, labels=y_train, genes=names, check_expression=False, use_SGD=False,
                                 feature_selection=False, max_iter=max_iter, n_jobs=1, random_state=seed)
        position = {g: i for i, g in enumerate(names)}
        feat_idx = np.array([position[str(f)] for f in model.features], dtype=int)
        scaler = model.scaler
        mean = scaler.mean_ if scaler.with_mean else 0.0

        def predict_ct(x: np.ndarray) -> np.ndarray:
            z = (np.asarray(x, dtype=np.float64)[:, feat_idx] - mean) / scaler.scale_
            z[z > 10] = 10
            return np.asarray(model.predict_labels_and_prob(z)[2]).astype(str)

        return predict_ct
    if kind != "logistic_regression":
        raise InputError(f"Unknown annotator {kind!r}; use 'celltypist' or 'logistic_regression'.")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    std = StandardScaler().fit(x_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=max_iter, random_state=seed).fit(
            np.minimum(std.transform(x_train), 10.0), y_train)

    def predict_lr(x: np.ndarray) -> np.ndarray:
        return np.asarray(clf.predict(np.minimum(std.transform(np.asarray(x, dtype=np.float64)), 10.0))).astype(str)

    return predict_lr


def _score(
    predict: Predictor,
    x_test: np.ndarray,
    y_test: np.ndarray,
    x_gen: np.ndarray,
    y_gen: np.ndarray,
    train_labels: np.ndarray,
    classifier: str,
) -> dict[str, Any]:
    unseen = sorted(set(y_gen) - set(train_labels))
    if unseen:
        logger.warning("Generated labels %s do not occur in the real training cells; "
                       "those cells can never be annotated correctly.", unseen[:5])
    pred_gen = predict(x_gen) if len(x_gen) else np.array([], dtype=str)
    pred_test = predict(x_test) if len(x_test) else np.array([], dtype=str)
    ok_gen = pred_gen == y_gen
    ok_test = pred_test == y_test

    def acc(ok: np.ndarray) -> float | None:
        return float(ok.mean()) if ok.size else None

    per_label: dict[str, dict[str, Any]] = {}
    for label in sorted(set(y_gen) | set(y_test)):
        mg, mt = y_gen == label, y_test == label
        per_label[str(label)] = {
            "generated_accuracy": acc(ok_gen[mg]),
            "n_generated": int(mg.sum()),
            "heldout_real_accuracy": acc(ok_test[mt]),
            "n_heldout_real": int(mt.sum()),
        }
    return {
        "classifier": classifier,
        "generated_accuracy": acc(ok_gen),
        "heldout_real_accuracy": acc(ok_test),
        "n_train": int(len(train_labels)),
        "n_heldout_real": int(len(y_test)),
        "n_generated": int(len(y_gen)),
        "per_label": per_label,
    }


def celltypist_accuracy(
    real_adata: Any,
    generated_adata: Any,
    labels_key: str,
    train_fraction: float = 0.8,
    seed: int = 0,
    max_iter: int = 200,
) -> dict[str, Any]:
    """Annotation accuracy of generated cells with a CellTypist model trained on real cells.

    A CellTypist logistic-regression model (``use_SGD=False``, ``n_jobs=1``,
    ``check_expression=False``, no feature selection) is trained on
    ``train_fraction`` of the real cells (stratified by label). Prediction applies
    the model's own scaler and classifier directly (the equivalent of
    ``celltypist.annotate`` in "best match" mode without the expression check,
    which generated cells need not pass exactly).

    Parameters
    ----------
    real_adata, generated_adata
        AnnData with log1p-normalised (1e4) ``.X`` and the same genes; generated
        cells carry the label they were conditioned on in ``obs[labels_key]``.
    labels_key
        Column of ``.obs`` with the cell-type labels.
    train_fraction
        Fraction of real cells used for training; the rest is the control set.
    seed
        Seed for the split and the solver.
    max_iter
        Maximum solver iterations (kept small for speed).

    Returns
    -------
    dict
        ``{"classifier", "generated_accuracy", "heldout_real_accuracy", "n_train",
        "n_heldout_real", "n_generated", "per_label": {label: {...}}}``.

    Raises
    ------
    ImportError
        If CellTypist is not installed.
    """
    xr, xg, yr, yg, genes = _prepare(real_adata, generated_adata, labels_key)
    tr, te = _split(yr, train_fraction, seed)
    predict = fit_annotator(xr[tr], yr[tr], "celltypist", seed=seed, max_iter=max_iter, genes=genes)
    return _score(predict, xr[te], yr[te], xg, yg, yr[tr], "celltypist")


def label_classifier_accuracy(
    real_adata: Any,
    generated_adata: Any,
    labels_key: str,
    train_fraction: float = 0.8,
    seed: int = 0,
    max_iter: int = 200,
) -> dict[str, Any]:
    """Like :func:`celltypist_accuracy` but with a plain scikit-learn classifier.

    Standard-scaled genes (clipped at 10, as CellTypist does) feed a multinomial
    :class:`sklearn.linear_model.LogisticRegression`. No CellTypist needed.

    Parameters
    ----------
    real_adata, generated_adata, labels_key, train_fraction, seed, max_iter
        See :func:`celltypist_accuracy`.

    Returns
    -------
    dict
        Same structure as :func:`celltypist_accuracy` with
        ``"classifier": "logistic_regression"``.
    """
    xr, xg, yr, yg, _ = _prepare(real_adata, generated_adata, labels_key)
    tr, te = _split(yr, train_fraction, seed)
    predict = fit_annotator(xr[tr], yr[tr], "logistic_regression", seed=seed, max_iter=max_iter)
    return _score(predict, xr[te], yr[te], xg, yg, yr[tr], "logistic_regression")
