"""``setup_anndata``: which layer holds counts and which ``obs`` columns are labels, recorded in the AnnData."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anndata as ad

from ..errors import InputError
from .validation import check_label_column

SETUP_KEY = "_scdiffusion_setup"


def setup_anndata(adata: ad.AnnData, layer: str | None = None, labels_keys: Sequence[str] | str | None = None) -> None:
    """Record (in ``adata.uns``, checked now) the counts layer and label columns a later ``ScDiffusion(adata)``
    uses."""
    keys = [labels_keys] if isinstance(labels_keys, str) else list(labels_keys or [])
    if layer is not None and layer not in adata.layers:
        raise InputError(f"Layer '{layer}' is not in adata.layers ({', '.join(adata.layers.keys()) or 'none'}).")
    for key in keys:
        check_label_column(adata.obs, key, min_cells_per_label=1)
    adata.uns[SETUP_KEY] = {"layer": layer, "labels_keys": keys}


def read_setup(adata: ad.AnnData) -> dict:
    """What :func:`setup_anndata` recorded (empty when nothing was)."""
    setup = adata.uns.get(SETUP_KEY)
    return dict(setup) if isinstance(setup, Mapping) else {}
