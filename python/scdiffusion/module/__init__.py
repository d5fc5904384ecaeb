"""Pure-torch modules: scDiffusion's networks and what is done with them, over tensors only (no AnnData)."""

from .scdiffusion_module import ScDiffusionModule

__all__ = ["ScDiffusionModule"]
