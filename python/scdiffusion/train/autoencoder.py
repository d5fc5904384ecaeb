"""Training plan of the autoencoder: reconstruction loss of the decoder's likelihood, on log-normalised cells."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .checkpoint import Checkpointer
from .loop import BatchSource, TrainConfig, fit


def train_autoencoder(autoencoder: nn.Module, batches: tuple[torch.Tensor, ...] | BatchSource,
                      validation: tuple[torch.Tensor, ...], config: TrainConfig, *, generator: torch.Generator,
                      progress: bool = True, checkpoint: Checkpointer | None = None) -> tuple[nn.Module, dict]:
    """Fit the autoencoder on ``(x, [counts, library])`` rows; return the best weights (eval mode) and the history.

    ``validation`` holds the same tensors for the validation cells (empty: select on the training loss).
    """
    has_val = len(validation) > 0 and len(validation[0]) > 0

    @torch.no_grad()
    def val_fn(model):
        chunks = zip(*(torch.split(t, 1024) for t in validation))
        return float(np.mean([model.loss(*c).item() for c in chunks]))

    ae = autoencoder.train()
    model, history = fit(ae, ae.loss, batches, config, val_fn=val_fn if has_val else None, generator=generator,
                         desc="autoencoder", progress=progress, checkpoint=checkpoint)
    return model.eval(), history
