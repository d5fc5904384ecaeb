"""scDiffusion: generate realistic single-cell RNA-seq data with a latent diffusion model.

The user-facing entry point is :class:`scdiffusion.ScDiffusion`::

    import scdiffusion
    model = scdiffusion.ScDiffusion(adata, labels_keys=["cell_type"])
    model.train()
    generated = model.generate(n_cells=100, condition={"cell_type": "B"})
"""

from __future__ import annotations

import logging

from ._version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str):
    # ScDiffusion (and torch) load on first use, so `import scdiffusion.metrics` stays light.
    if name == "ScDiffusion":
        from .model import ScDiffusion

        return ScDiffusion
    if name in ("read_rds", "write_rds"):  # SingleCellExperiment .rds files (optional R support, rpy2)
        from .data import rds

        return getattr(rds, name)
    raise AttributeError(f"module 'scdiffusion' has no attribute {name!r}")


__all__ = ["ScDiffusion", "__version__", "read_rds", "write_rds"]
