"""Training plans: a generic loop and the loss of each stage."""

from . import distributed
from .checkpoint import Checkpointer, load_checkpoint, save_atomic
from .ema import EMA
from .loop import BatchSource, TrainConfig, fit

__all__ = ["distributed", "BatchSource", "Checkpointer", "EMA", "load_checkpoint", "save_atomic", "TrainConfig", "fit"]
