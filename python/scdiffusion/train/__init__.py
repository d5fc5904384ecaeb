"""Training plans: a generic loop and the loss of each stage."""

from .ema import EMA
from .loop import TrainConfig, fit

__all__ = ["EMA", "TrainConfig", "fit"]
