"""Generated latents → AnnData: decoding (counts or expected expression), library sizes, the documented layout."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import torch

from .._version import __version__
from ..data.library import LibrarySizes
from ..data.preprocessing import log_normalize
from ..data.registry import LabelRegistry
from ..module import ScDiffusionModule

#: Where generated AnnData keep the unit-norm latents (``obsm``) and the parameters (``uns``).
LATENT_KEY = "X_scdiffusion"
PARAMS_KEY = "scdiffusion"


def cells_to_anndata(module: ScDiffusionModule, z_scaled: torch.Tensor, obs: pd.DataFrame, params: dict, *,
                     genes: list[str], target_sum: float, library: LibrarySizes,
                     registries: dict[str, LabelRegistry], generator: torch.Generator | None) -> ad.AnnData:
    """The AnnData of generated cells.

    With a count likelihood, library sizes are drawn from training cells sharing each cell's labels (the label
    columns of ``obs``), integer counts are drawn from the decoder (``layers['counts']``, ``obs['library_size']``)
    and ``X`` is their log-normalisation; otherwise ``X`` is the decoder's expected log-normalised expression.
    ``obsm['X_scdiffusion']`` holds the unit-norm latents, ``uns['scdiffusion']`` the parameters.
    """
    layers = {}
    if module.models_counts:
        lib = library.sample(obs, registries, generator)
        counts = module.sample_counts(z_scaled, lib, generator).numpy().astype(np.float32)
        obs = obs.assign(library_size=lib.numpy())
        x = log_normalize(counts, target_sum)
        layers["counts"] = counts
    else:
        x = module.decode_mean(z_scaled).numpy().astype(np.float32)
    out = ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=pd.Index(genes, name=None)), layers=layers)
    out.obsm[LATENT_KEY] = module.unscale(z_scaled).numpy()
    out.uns[PARAMS_KEY] = {**params, "scdiffusion_version": __version__,
                           "values": f"log1p(normalize_total({target_sum:g}))"}
    return out
