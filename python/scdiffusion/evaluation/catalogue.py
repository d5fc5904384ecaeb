"""Every metric of the evaluation suite, declared once: what it needs, how it is computed, how it is read.

A :class:`MetricGroup` computes one or several entries from the same work (e.g. the 13 count properties share
their per-cell and per-gene statistics). ``compute(real, generated, settings, labels_to_score)`` takes two
:class:`~scdiffusion.metrics.inputs.CellSet` objects and returns ``{entry: {"value": ..., extra fields}}``;
the suite also runs it on two parts of the real cells for the control (see :mod:`.control`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..metrics import (
    celltypist_accuracy,
    gene_correlation_error,
    ilisi,
    knn_auc,
    knn_auc_per_label,
    label_classifier_accuracy,
    mean_variance_agreement,
    memorization,
    mmd_rbf,
    one_nn_accuracy,
    rf_auc,
    scc_gene_means,
    zero_fraction_gap,
)
from ..metrics.classifier_auc import auc_null_sd
from ..metrics.count_properties import COUNT_PROPERTIES, compare_count_properties
from ..metrics.differential_expression import compare_differential_expression, de_measures
from ..metrics.inputs import CellSet
from ..metrics.pca_distances import CELLS_PER_COMPONENT, PCA_DISTANCES, pca_distances

__all__ = ["Settings", "EntrySpec", "MetricGroup", "catalogue"]

_ACCURACY_NOTE = "compare with heldout_real_accuracy (the annotator on held-out real cells)"


@dataclass(frozen=True)
class Settings:
    """Settings shared by all metrics of one evaluation."""

    seed: int = 0
    quick: bool = False
    n_comps: int = 50
    n_trees: int = 1000
    max_iter: int = 200
    min_cells: int = 10
    top_k: tuple[int, ...] = (20, 50, 100)
    de_pairs: tuple[tuple[str, str], ...] = ()
    kde: bool = True
    labels_key: str | None = None
    train: CellSet | None = None
    #: ``None`` runs CellTypist; otherwise why it does not run.
    celltypist_skip: str | None = None


@dataclass(frozen=True)
class EntrySpec:
    """How one entry of the result is read."""

    space: str
    ideal: float
    better: str
    description: str


@dataclass(frozen=True)
class MetricGroup:
    """One computation producing the entries ``entries``."""

    name: str
    entries: dict[str, EntrySpec]
    compute: Callable[[CellSet, CellSet, Settings, Sequence[str] | None], dict[str, dict[str, Any]]]
    needs_labels: bool = False
    needs_counts: bool = False
    needs_train: bool = False
    control: bool = True
    #: Computed per label (its matched comparisons use generated cells drawn with the real label counts).
    per_label: bool = False
    #: Why the group cannot run here at all (e.g. an optional package is missing).
    unavailable: str | None = None
    #: For groups without the real-vs-real control: what to compare the value with instead.
    no_control_note: str | None = None


#: Cells per label and side in the matched and control comparisons, which score the labels the full comparison
#: scored (``only``) on parts of the cells; 4 is the least any per-label metric here needs (k-NN AUC).
CONTROL_MIN_CELLS = 4


def _min_cells(s: Settings, only: Sequence[str] | None) -> int:
    return s.min_cells if only is None else CONTROL_MIN_CELLS


def _one(name: str, fn: Callable[[CellSet, CellSet, Settings], Any]):
    """Wrap a single-valued metric (a number, or a dict with "value")."""
    def compute(r: CellSet, g: CellSet, s: Settings, only: Sequence[str] | None) -> dict[str, dict[str, Any]]:
        res = fn(r, g, s)
        return {name: res if isinstance(res, dict) else {"value": res}}
    return compute


# "null_sd": how much the value scatters by chance at these sizes (classifier AUCs and accuracies, shares of
# cells); the pass rule never asks for less than that (see control.judge).
def _rf(r: CellSet, g: CellSet, s: Settings, space: str) -> dict[str, float]:
    auc = rf_auc(r.log, g.log, space=space, n_estimators=s.n_trees, seed=s.seed, n_comps=s.n_comps)
    return {"value": auc, "null_sd": auc_null_sd(0.25 * r.n_cells, 0.25 * g.n_cells)}


def _knn(r: CellSet, g: CellSet, s: Settings) -> dict[str, float]:
    n_test = 0.3 * min(r.n_cells, g.n_cells)  # balanced sides, 30 % of each in the test set
    return {"value": knn_auc(r.log, g.log, k=5, seed=s.seed), "null_sd": auc_null_sd(n_test, n_test)}


def _one_nn(r: CellSet, g: CellSet, s: Settings) -> dict[str, float]:
    n = min(r.n_cells, g.n_cells, 5000)  # 2n leave-one-out calls, each right with probability 1/2 by chance
    return {"value": one_nn_accuracy(r.log, g.log, n_comps=s.n_comps, seed=s.seed), "null_sd": 0.5 / np.sqrt(2 * n)}


def _zeros(r: CellSet, g: CellSet, s: Settings) -> dict[str, Any]:
    z = zero_fraction_gap(r.log, g.log)
    return {"value": z.mean_abs_diff, **z.summary()}


def _meanvar(r: CellSet, g: CellSet, s: Settings) -> dict[str, Any]:
    m = mean_variance_agreement(r.log, g.log)
    return {"value": m.log_variance_correlation, **m.summary()}


def _memorization(r: CellSet, g: CellSet, s: Settings) -> dict[str, Any]:
    m = memorization(s.train.log, g.log, r.log, n_comps=s.n_comps, seed=s.seed)
    return {"value": m.ratio, **m.summary()}


def _knn_per_label(r: CellSet, g: CellSet, s: Settings, only: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    per = knn_auc_per_label(r.log, g.log, r.labels, g.labels, k=5, seed=s.seed, min_cells=_min_cells(s, only))
    if only is not None:
        per = {lab: v for lab, v in per.items() if lab in only}
    scored = [v for v in per.values() if v["auc"] is not None]
    if not scored:
        return {"knn_auc_per_label": {"value": None, "per_label": per}}
    sds = [auc_null_sd(0.3 * min(v["n_real"], v["n_generated"]), 0.3 * min(v["n_real"], v["n_generated"]))
           for v in scored]
    return {"knn_auc_per_label": {"value": float(np.mean([v["auc"] for v in scored])), "per_label": per,
                                  "null_sd": float(np.sqrt(np.sum(np.square(sds)))) / len(sds)}}


def _as_anndata(x: CellSet, labels_key: str) -> Any:
    import anndata as ad
    import pandas as pd

    return ad.AnnData(x.log, obs=pd.DataFrame({labels_key: x.labels}, index=[f"c{i}" for i in range(x.n_cells)]),
                      var=pd.DataFrame(index=[f"g{i}" for i in range(x.log.shape[1])]))


def _accuracy(fn: Callable[..., dict[str, Any]]):
    def run(r: CellSet, g: CellSet, s: Settings) -> dict[str, Any]:
        res = fn(_as_anndata(r, s.labels_key), _as_anndata(g, s.labels_key), s.labels_key, seed=s.seed,
                 max_iter=s.max_iter)
        return {"value": res["generated_accuracy"], **res}
    return run


def _count_properties(r: CellSet, g: CellSet, s: Settings, only: Sequence[str] | None) -> dict[str, Any]:
    return compare_count_properties(r.counts, g.counts, r.labels, g.labels, kde=s.kde, seed=s.seed,
                                    min_cells=_min_cells(s, only), labels_to_score=only,
                                    max_kde_points=1000 if s.quick else 2000)


def _de(r: CellSet, g: CellSet, s: Settings, only: Sequence[str] | None) -> dict[str, Any]:
    res = compare_differential_expression(r.log, g.log, r.labels, g.labels, top_k=s.top_k, pairs=s.de_pairs,
                                          min_cells=_min_cells(s, only), labels_to_score=only)
    return {f"de_{k}": v for k, v in res.items()}


def _pca_distances(r: CellSet, g: CellSet, s: Settings, only: Sequence[str] | None) -> dict[str, Any]:
    return pca_distances(r.log, g.log, r.labels, g.labels, n_comps=s.n_comps, seed=s.seed,
                         min_cells=_min_cells(s, only), labels_to_score=only)


def catalogue(s: Settings, n_comps_used: int) -> list[MetricGroup]:
    """The metric groups of the suite, in report order."""
    pca = f"{n_comps_used} PCs of pooled real+generated log-normalised data"
    genes = "log-normalised genes"
    half, low, high = "closer to 0.5", "lower", "higher"

    def one(name: str, fn: Callable, space: str, ideal: float, better: str, desc: str, **kw: Any) -> MetricGroup:
        return MetricGroup(name, {name: EntrySpec(space, ideal, better, desc)}, _one(name, fn), **kw)

    groups = [
        one("scc_gene_means", lambda r, g, s: scc_gene_means(r.log, g.log), "log-normalised gene means", 1.0,
            high, "Spearman correlation of per-gene mean expression"),
        one("gene_correlation_error", lambda r, g, s: gene_correlation_error(r.log, g.log, n_top_genes=100),
            "log-normalised genes (100 most variable real genes)", 0.0, low,
            "Mean |difference| of gene-gene Pearson correlation matrices"),
        one("mmd_rbf", lambda r, g, s: mmd_rbf(r.log, g.log, n_comps=s.n_comps, seed=s.seed), pca, 0.0, low,
            "Biased MMD^2, sum of 5 RBF kernels (bandwidth x{1/4,1/2,1,2,4})"),
        one("ilisi", lambda r, g, s: ilisi(r.log, g.log, n_neighbors=10, seed=s.seed, n_comps=s.n_comps), pca,
            1.0, high, "Rescaled median iLISI, real vs generated as batches (10-NN)"),
        one("rf_auc_pca", lambda r, g, s: _rf(r, g, s, "pca"),
            pca, 0.5, half, "Random-forest real-vs-generated ROC AUC (25% test)"),
        one("rf_auc_genes", lambda r, g, s: _rf(r, g, s, "genes"),
            genes, 0.5, half, "Random-forest real-vs-generated ROC AUC (25% test)"),
        one("knn_auc", _knn, genes, 0.5, half, "5-NN real-vs-generated ROC AUC (30% test)"),
        one("one_nn_accuracy", _one_nn, pca, 0.5, half,
            "Leave-one-out 1-NN two-sample accuracy (<0.5 suggests copies of real cells)"),
        one("zero_fraction_gap", _zeros, "per-gene fraction of values < 1e-8", 0.0, low,
            "Mean |real - generated| per-gene zero fraction"),
        one("mean_variance_agreement", _meanvar, "log-normalised per-gene mean and variance", 1.0, high,
            "Pearson correlation of per-gene log-variances"),
        one("memorization", _memorization, f"{s.n_comps} PCs fitted on the training cells", 1.0,
            "closer to 1 (well below 1 = copying)",
            "Median generated->train NN distance / median held-out real->train NN distance",
            needs_train=True, control=False,
            no_control_note="its own reference: held-out real cells' distances to the training cells (ratio 1)"),
        MetricGroup("knn_auc_per_label", {"knn_auc_per_label": EntrySpec(
            genes, 0.5, half, "5-NN real-vs-generated ROC AUC within each label (value = mean over labels)")},
            _knn_per_label, needs_labels=True, per_label=True),
        one("label_classifier_accuracy", _accuracy(label_classifier_accuracy), genes + " (standard-scaled)",
            1.0, "higher (compare heldout_real_accuracy)",
            "Logistic-regression annotation accuracy of generated cells (trained on 80% real)",
            needs_labels=True, control=False, no_control_note=_ACCURACY_NOTE),
        one("celltypist_accuracy", _accuracy(celltypist_accuracy), genes, 1.0,
            "higher (compare heldout_real_accuracy)",
            "CellTypist annotation accuracy of generated cells (trained on 80% real)",
            needs_labels=True, control=False, unavailable=s.celltypist_skip,
            no_control_note=_ACCURACY_NOTE),
    ]
    per_label = "per label, weighted by the labels' shares of real cells" if s.labels_key else "all cells"
    groups.append(MetricGroup("count_properties", {
        name: EntrySpec(f"raw counts, {p.kind}; {per_label}", 0.0, low,
                        f"{p.description}: {'KS' if len(p.columns) == 1 else 'kernel density (L2)'} statistic")
        for name, p in COUNT_PROPERTIES.items()}, _count_properties, needs_counts=True, per_label=True))
    groups.append(MetricGroup("differential_expression", {
        f"de_{name}": EntrySpec("log-normalised genes, Wilcoxon (scanpy) and avg log2FC per label vs rest",
                                1.0, high, desc)
        for name, desc in de_measures(s.top_k).items()}, _de, needs_labels=True, per_label=True))
    real_pcs = (f"up to {n_comps_used} PCs (one per {CELLS_PER_COMPONENT} real cells) fitted on the real cells, "
                "generated cells projected")
    groups.append(MetricGroup("pca_distances", {
        name: EntrySpec(real_pcs, ideal, low if ideal == 0 else "closer to 1", desc)
        for name, (ideal, desc) in PCA_DISTANCES.items()}, _pca_distances, per_label=True))
    return groups
