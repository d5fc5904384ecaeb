"""scDiffusion: generate realistic single-cell RNA-seq data with a latent diffusion model.

The user-facing entry point is :class:`scdiffusion.ScDiffusion`::

    import scdiffusion
    model = scdiffusion.ScDiffusion(adata, labels_keys=["cell_type"])
    model.train()
    generated = model.generate(n_cells=100, condition={"cell_type": "B"})
"""

from __future__ import annotations

import logging
import os
import sys

from ._version import __version__

# OpenMP reads its wait policy once, when torch loads it: passive waiting lets a run with a fixed thread count
# share its cores with other jobs (spinning threads slow both 7-50x) without making results depend on load.
# A user's own setting wins; after torch is imported it is too late to change (see scdiffusion.runtime).
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
