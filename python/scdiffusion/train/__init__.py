"""Training: one generic loop, the plan (loss, validation) of each stage, the presets, and the stage order.

- :mod:`.loop` — :func:`fit` (budgets, early stopping, EMA, checkpoints) for every stage;
- :mod:`.autoencoder`, :mod:`.diffusion`, :mod:`.classifier` — each stage's loss and validation;
- :mod:`.presets` — the budgets of each stage (``cpu``, ``gpu``) and how options become stage configs;
- :mod:`.stages` — the order of the stages, the latent scale between them, and resuming from checkpoints;
- :mod:`.distributed` — data parallelism under ``torchrun``.
"""

from . import distributed
from .checkpoint import Checkpointer, load_checkpoint, save_atomic
from .ema import EMA
from .loop import BatchSource, TrainConfig, fit
from .presets import PRESETS, stage_configs
from .stages import train_stages

__all__ = ["distributed", "BatchSource", "Checkpointer", "EMA", "load_checkpoint", "save_atomic", "TrainConfig", "fit",
           "PRESETS", "stage_configs", "train_stages"]
