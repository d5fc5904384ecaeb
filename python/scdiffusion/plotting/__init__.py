"""Figures for evaluating generated single-cell data (matplotlib, Agg canvas, PNG output).

scanpy is imported lazily inside the functions that need it.
"""

from .comparison import plot_count_comparison
from .fold_changes import plot_fold_changes
from .loss import plot_loss_curves
from .pseudotime import plot_interpolation_pseudotime
from .qq import plot_qq
from .umap import plot_umap
from .violin import plot_marker_violins, select_markers

__all__ = [
    "plot_umap",
    "plot_qq",
    "plot_marker_violins",
    "select_markers",
    "plot_loss_curves",
    "plot_interpolation_pseudotime",
    "plot_count_comparison",
    "plot_fold_changes",
]
