"""Data layer: the only sub-package (with :mod:`scdiffusion.model`) that touches AnnData."""

from .io import read_anndata, write_anndata_atomic, write_h5ad_atomic
from .preprocessing import Preprocessor, pseudo_counts
from .rds import read_rds, write_rds
from .registry import LabelRegistry
from .validation import InputError, check_counts_matrix, check_label_column

__all__ = [
    "InputError",
    "LabelRegistry",
    "Preprocessor",
    "check_counts_matrix",
    "check_label_column",
    "pseudo_counts",
    "read_anndata",
    "read_rds",
    "write_anndata_atomic",
    "write_h5ad_atomic",
    "write_rds",
]
