"""Evaluation metrics for generated single-cell RNA-seq data.

Log-scale metrics compare a real and a generated cells x genes matrix on the log-normalised scale
(``normalize_total(1e4)`` + ``log1p``); count-level metrics (:mod:`.count_properties`) compare raw counts.
Classifier-based scores are oriented so that 0.5 means "indistinguishable". This package does not import
:mod:`torch`, :mod:`scdiffusion.plotting` or :mod:`scdiffusion.evaluation`.

The suite and the report live in :mod:`scdiffusion.evaluation`; ``scdiffusion.metrics.evaluate`` and
``scdiffusion.metrics.write_report`` still resolve to them for one release, with a deprecation warning.
"""

from ._utils import pooled_pca
from .annotation import celltypist_accuracy, fit_annotator, label_classifier_accuracy
from .between_types import MixedNeighbourhoods, mixed_neighbourhoods
from .classifier_auc import knn_auc, knn_auc_per_label, one_nn_accuracy, rf_auc
from .correlation import gene_correlation_error, scc_gene_means
from .count_properties import cell_statistics, compare_count_properties, gene_statistics
from .differential_expression import compare_differential_expression
from .distribution import MeanVarianceAgreement, ZeroFractionGap, mean_variance_agreement, zero_fraction_gap
from .energy import energy_distance
from .inputs import check_labels_key, check_same_genes, find_counts, to_log_normalised, to_log_normalized
from .lisi import ilisi, lisi_scores
from .memorization import Memorization, memorization
from .mmd import mmd_rbf
from .optimal_transport import wasserstein_distance
from .pca_distances import pca_distances
from .prdc import prdc
from .pseudotime import diffusion_pseudotime
from .tmm import tmm_factors
from .two_sample import kde_statistic, ks_statistic


def __getattr__(name: str):
    # deprecated aliases, for one release: the suite and the report moved to scdiffusion.evaluation (which imports
    # this package, so they resolve on first use, never at import)
    if name in ("evaluate", "write_report", "render_markdown"):
        import warnings

        from .. import evaluation

        warnings.warn(f"scdiffusion.metrics.{name} moved to scdiffusion.evaluation.{name}; the old name will be "
                      "removed in the next release.", DeprecationWarning, stacklevel=2)
        return getattr(evaluation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
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
    "mixed_neighbourhoods",
    "MixedNeighbourhoods",
    "Memorization",
    "celltypist_accuracy",
    "label_classifier_accuracy",
    "fit_annotator",
    "diffusion_pseudotime",
    "check_same_genes",
    "check_labels_key",
    "find_counts",
    "to_log_normalized",
    "to_log_normalised",
    "pooled_pca",
    "cell_statistics",
    "gene_statistics",
    "compare_count_properties",
    "compare_differential_expression",
    "pca_distances",
    "prdc",
    "wasserstein_distance",
    "energy_distance",
    "tmm_factors",
    "ks_statistic",
    "kde_statistic",
]
