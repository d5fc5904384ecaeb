"""Evaluation metrics for generated single-cell RNA-seq data.

All metrics compare a real and a generated cells x genes matrix on the
log-normalised scale (``normalize_total(1e4)`` + ``log1p``). Classifier-based
scores are oriented so that 0.5 means "indistinguishable". This package does not
import :mod:`torch`.

Main entry points: :func:`evaluate` (all metrics, JSON-serialisable dict) and
:func:`write_report` (metrics.json + figures + report.md).
"""

from .annotation import celltypist_accuracy, label_classifier_accuracy
from .classifier_auc import knn_auc, knn_auc_per_label, one_nn_accuracy, rf_auc
from .correlation import gene_correlation_error, scc_gene_means
from .distribution import (MeanVarianceAgreement, ZeroFractionGap, mean_variance_agreement,
                           zero_fraction_gap)
from .inputs import check_labels_key, check_same_genes, to_log_normalised
from .lisi import ilisi, lisi_scores
from .memorization import Memorization, memorization
from .mmd import mmd_rbf
from .pseudotime import diffusion_pseudotime
from .report import write_report
from .suite import evaluate
from ._utils import pooled_pca

__all__ = [
    "evaluate",
    "write_report",
    "scc_gene_means",
    "gene_correlation_error",
    "mmd_rbf",
    "ilisi",
    "lisi_scores",
    "rf_auc",
    "knn_auc",
    "knn_auc_per_label",
    "one_nn_accuracy",
    "zero_fraction_gap",
    "ZeroFractionGap",
    "mean_variance_agreement",
    "MeanVarianceAgreement",
    "memorization",
    "Memorization",
    "celltypist_accuracy",
    "label_classifier_accuracy",
    "diffusion_pseudotime",
    "check_same_genes",
    "check_labels_key",
    "to_log_normalised",
    "pooled_pca",
]
