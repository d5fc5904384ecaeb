"""The user-facing model class and its on-disk format."""

from .scdiffusion import ScDiffusion

__all__ = ["ScDiffusion"]
