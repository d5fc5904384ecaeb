"""Run the full metric suite on real vs generated AnnData objects."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np

from ._utils import effective_n_comps, to_builtin
from .annotation import CELLTYPIST_INSTALL_HINT, celltypist_accuracy, label_classifier_accuracy
from .classifier_auc import knn_auc, knn_auc_per_label, one_nn_accuracy, rf_auc
from .correlation import gene_correlation_error, scc_gene_means
from .distribution import mean_variance_agreement, zero_fraction_gap
from .inputs import check_labels_key, check_same_genes, subsample_adata, to_log_normalised
from .lisi import ilisi
from .memorization import memorization
from .mmd import mmd_rbf

logger = logging.getLogger(__name__)

__all__ = ["evaluate", "METRIC_NAMES"]

_PCA_SPACE = "{k} PCs of pooled real+generated log-normalised data"
_GENE_SPACE = "log-normalised genes"

#: Top-level metric keys that :func:`evaluate` may return (besides ``"meta"``).
METRIC_NAMES = (
    "scc_gene_means", "gene_correlation_error", "mmd_rbf", "ilisi", "rf_auc_pca",
    "rf_auc_genes", "knn_auc", "one_nn_accuracy", "zero_fraction_gap",
    "mean_variance_agreement", "memorization", "knn_auc_per_label",
    "label_classifier_accuracy", "celltypist_accuracy",
)


def _celltypist_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("celltypist") is not None


def _run(name: str, fn: Callable[[], Any], space: str, ideal: float, better: str,
         description: str) -> dict[str, Any]:
    """Run one metric; a failure is recorded in the entry instead of aborting the suite."""
    entry: dict[str, Any] = {"value": None, "space": space, "ideal": ideal, "better": better,
                             "description": description}
    t0 = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - one failing metric must not lose the others
        logger.warning("Metric %s failed: %s: %s", name, type(exc).__name__, exc)
        entry["error"] = f"{type(exc).__name__}: {exc}"
        return entry
    if isinstance(result, dict):
        entry.update(result)
    else:
        entry["value"] = result
    entry["seconds"] = round(time.perf_counter() - t0, 3)
    logger.info("%s = %s (%.1fs)", name, entry["value"], entry["seconds"])
    return entry


def evaluate(
    real: Any,
    generated: Any,
    labels_key: str | None = None,
    train: Any | None = None,
    seed: int = 0,
    quick: bool = False,
    max_cells: int | None = None,
    use_celltypist: bool | None = None,
    n_comps: int = 50,
) -> dict[str, Any]:
    """Compare generated cells with real cells using the whole metric suite.

    Input scale: each AnnData is put on the log-normalised scale independently.
    If its ``.X`` looks like raw counts (all values non-negative integers) it is
    normalised to 1e4 counts per cell and ``log1p``-transformed; otherwise ``.X``
    is used as is and assumed to be log1p-normalised already (this is what the
    scDiffusion decoder outputs). What was done is reported in ``meta.scale``.

    Parameters
    ----------
    real
        Real cells (AnnData). If ``train`` is given these should be **held-out**
        cells that the model did not see.
    generated
        Generated cells (AnnData) with the same genes (any order).
    labels_key
        Optional ``.obs`` column with cell-type labels, present in both objects (for
        generated cells: the conditioning label). Enables per-label kNN AUC and
        annotation accuracy.
    train
        Optional AnnData of the cells the model was trained on; enables the
        memorisation check (generated→train vs real→train distances).
    seed
        Seed for every random step.
    quick
        Cheaper settings for smoke tests: 100 instead of 1000 random-forest trees,
        at most 2000 instead of 10000 cells per side, fewer classifier iterations.
    max_cells
        Override the per-side cell cap (``None`` = 2000 if ``quick`` else 10000).
    use_celltypist
        Run :func:`~scdiffusion.metrics.celltypist_accuracy` (needs labels). ``None``
        runs it if CellTypist is installed and records why it was skipped otherwise.
    n_comps
        Number of principal components for PCA-space metrics.

    Returns
    -------
    dict
        JSON-serialisable nested dict. ``result["meta"]`` describes the inputs; every
        other key is a metric entry with at least ``"value"``, ``"space"``,
        ``"ideal"``, ``"better"`` and ``"description"`` (and ``"error"`` if it failed),
        e.g. ``result["scc_gene_means"]["value"]``. NaN values become ``None``.

    Raises
    ------
    ValueError
        If the gene sets differ (the message says how to subset).
    KeyError
        If ``labels_key`` is missing from either object.
    """
    generated = check_same_genes(real, generated)
    if train is not None:
        train = check_same_genes(real, train, name_generated="train")
    if labels_key is not None:
        check_labels_key(labels_key, real=real, generated=generated)

    cap = max_cells if max_cells is not None else (2000 if quick else 10000)
    n_trees = 100 if quick else 1000
    max_iter = 100 if quick else 200
    n_real_in, n_gen_in = int(real.n_obs), int(generated.n_obs)
    real_s = subsample_adata(real, cap, seed)
    gen_s = subsample_adata(generated, cap, seed + 1)
    real_l, scale_real = to_log_normalised(real_s)
    gen_l, scale_gen = to_log_normalised(gen_s)
    xr, xg = real_l.X, gen_l.X
    k = effective_n_comps(n_comps, xr.shape[0] + xg.shape[0], xr.shape[1])
    pca_space = _PCA_SPACE.format(k=k)

    meta: dict[str, Any] = {
        "n_real_cells": n_real_in,
        "n_generated_cells": n_gen_in,
        "n_real_cells_used": int(xr.shape[0]),
        "n_generated_cells_used": int(xg.shape[0]),
        "n_genes": int(xr.shape[1]),
        "labels_key": labels_key,
        "seed": seed,
        "quick": quick,
        "n_comps": k,
        "rf_n_estimators": n_trees,
        "scale": {"real": scale_real, "generated": scale_gen},
    }
    out: dict[str, Any] = {"meta": meta}

    out["scc_gene_means"] = _run(
        "scc_gene_means", lambda: scc_gene_means(xr, xg), "log-normalised gene means", 1.0,
        "higher", "Spearman correlation of per-gene mean expression")
    out["gene_correlation_error"] = _run(
        "gene_correlation_error", lambda: gene_correlation_error(xr, xg, n_top_genes=100),
        "log-normalised genes (100 most variable real genes)", 0.0, "lower",
        "Mean |difference| of gene-gene Pearson correlation matrices")
    out["mmd_rbf"] = _run(
        "mmd_rbf", lambda: mmd_rbf(xr, xg, n_comps=k, seed=seed), pca_space, 0.0, "lower",
        "Biased MMD^2, sum of 5 RBF kernels (bandwidth x{1/4,1/2,1,2,4})")
    out["ilisi"] = _run(
        "ilisi", lambda: ilisi(xr, xg, n_neighbors=10, seed=seed, n_comps=k), pca_space, 1.0,
        "higher", "Rescaled median iLISI, real vs generated as batches (10-NN)")
    out["rf_auc_pca"] = _run(
        "rf_auc_pca", lambda: rf_auc(xr, xg, space="pca", n_estimators=n_trees, seed=seed,
                                     n_comps=k),
        pca_space, 0.5, "closer to 0.5", "Random-forest real-vs-generated ROC AUC (25% test)")
    out["rf_auc_genes"] = _run(
        "rf_auc_genes", lambda: rf_auc(xr, xg, space="genes", n_estimators=n_trees, seed=seed),
        _GENE_SPACE, 0.5, "closer to 0.5", "Random-forest real-vs-generated ROC AUC (25% test)")
    out["knn_auc"] = _run(
        "knn_auc", lambda: knn_auc(xr, xg, k=5, seed=seed), _GENE_SPACE, 0.5, "closer to 0.5",
        "5-NN real-vs-generated ROC AUC (30% test)")
    out["one_nn_accuracy"] = _run(
        "one_nn_accuracy", lambda: one_nn_accuracy(xr, xg, n_comps=k, seed=seed), pca_space,
        0.5, "closer to 0.5",
        "Leave-one-out 1-NN two-sample accuracy (<0.5 suggests copies of real cells)")

    def _zeros() -> dict[str, Any]:
        z = zero_fraction_gap(xr, xg)
        return {"value": z.mean_abs_diff, **z.summary()}

    out["zero_fraction_gap"] = _run(
        "zero_fraction_gap", _zeros, "per-gene fraction of values < 1e-8", 0.0, "lower",
        "Mean |real - generated| per-gene zero fraction")

    def _meanvar() -> dict[str, Any]:
        m = mean_variance_agreement(xr, xg)
        return {"value": m.log_variance_correlation, **m.summary()}

    out["mean_variance_agreement"] = _run(
        "mean_variance_agreement", _meanvar, "log-normalised per-gene mean and variance", 1.0,
        "higher", "Pearson correlation of per-gene log-variances")

    if train is not None:
        def _memo() -> dict[str, Any]:
            train_l, scale_train = to_log_normalised(subsample_adata(train, cap, seed + 2))
            meta["scale"]["train"] = scale_train
            m = memorization(train_l.X, xg, xr, n_comps=n_comps, seed=seed)
            return {"value": m.ratio, **m.summary()}

        out["memorization"] = _run(
            "memorization", _memo, f"{n_comps} PCs fitted on the training cells", 1.0,
            "closer to 1 (well below 1 = copying)",
            "Median generated->train NN distance / median held-out real->train NN distance")

    if labels_key is not None:
        yr = real_l.obs[labels_key].astype(str).to_numpy()
        yg = gen_l.obs[labels_key].astype(str).to_numpy()

        def _per_label() -> dict[str, Any]:
            per = knn_auc_per_label(xr, xg, yr, yg, k=5, seed=seed)
            vals = [v["auc"] for v in per.values() if v["auc"] is not None]
            return {"value": float(np.mean(vals)) if vals else None, "per_label": per}

        out["knn_auc_per_label"] = _run(
            "knn_auc_per_label", _per_label, _GENE_SPACE, 0.5, "closer to 0.5",
            "5-NN real-vs-generated ROC AUC within each label (value = mean over labels)")

        def _accuracy(fn: Callable[..., dict[str, Any]]) -> Callable[[], dict[str, Any]]:
            def run() -> dict[str, Any]:
                res = fn(real_l, gen_l, labels_key, seed=seed, max_iter=max_iter)
                return {"value": res["generated_accuracy"], **res}
            return run

        out["label_classifier_accuracy"] = _run(
            "label_classifier_accuracy", _accuracy(label_classifier_accuracy), _GENE_SPACE
            + " (standard-scaled)", 1.0, "higher (compare heldout_real_accuracy)",
            "Logistic-regression annotation accuracy of generated cells (trained on 80% real)")
        want_ct = _celltypist_available() if use_celltypist is None else use_celltypist
        if want_ct:
            out["celltypist_accuracy"] = _run(
                "celltypist_accuracy", _accuracy(celltypist_accuracy), _GENE_SPACE, 1.0,
                "higher (compare heldout_real_accuracy)",
                "CellTypist annotation accuracy of generated cells (trained on 80% real)")
        else:
            out["celltypist_accuracy"] = {
                "value": None, "space": _GENE_SPACE, "ideal": 1.0, "better": "higher",
                "description": "CellTypist annotation accuracy of generated cells",
                "skipped": ("disabled (use_celltypist=False)" if use_celltypist is False else
                            f"celltypist not installed: {CELLTYPIST_INSTALL_HINT}"),
            }
    return to_builtin(out)
