"""Training plan of a noise-aware classifier: class-balanced cross-entropy on noised latents, t < T/2."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..diffusion import GaussianDiffusion
from .checkpoint import Checkpointer
from .diffusion import N_VALIDATION_ROWS
from .loop import TrainConfig, fit


def train_classifier(classifier: nn.Module, diffusion: GaussianDiffusion, z_train: torch.Tensor, y_train: torch.Tensor,
                     z_val: torch.Tensor, y_val: torch.Tensor, n_classes: int, config: TrainConfig, *,
                     generator: torch.Generator, validation_generator: torch.Generator, progress: bool = True,
                     checkpoint: Checkpointer | None = None, desc: str = "classifier") -> tuple[nn.Module, dict]:
    """Fit ``classifier`` on ``x_t`` of the scaled latents with ``t ~ U{0 … T/2 − 1}``; return the selected weights
    (eval mode) and the history (with the validation accuracy)."""
    device = z_train.device
    t_half = diffusion.n_timesteps // 2
    counts = torch.bincount(y_train, minlength=n_classes).float().clamp(min=1)
    weight = (counts.sum() / (n_classes * counts)).to(device)  # balanced classes
    reps = max(1, N_VALIDATION_ROWS // max(1, len(z_val)))
    z_v, y_v = z_val.repeat(reps, 1), y_val.repeat(reps)
    t_v = torch.randint(0, t_half, (len(z_v),), generator=validation_generator).to(device)
    x_v = diffusion.q_sample(z_v, t_v, torch.randn(z_v.shape, generator=validation_generator).to(device))
    clf = classifier.train()

    def draw_fn(n: int, g: torch.Generator):
        return torch.randint(0, t_half, (n,), generator=g), torch.randn((n, z_train.shape[1]), generator=g)

    def loss_fn(z0, y0, t, noise):
        # mean of class-weighted losses over the batch rows (weights average 1 over the training cells):
        # unlike F.cross_entropy(weight=...), it splits exactly over the shares of a distributed batch
        ce = F.cross_entropy(clf(diffusion.q_sample(z0, t, noise), t), y0, reduction="none")
        return (ce * weight[y0]).mean()

    @torch.no_grad()
    def val_fn(model):
        return F.cross_entropy(model(x_v, t_v), y_v, weight=weight).item()

    model, history = fit(clf, loss_fn, (z_train, y_train), config, val_fn=val_fn if len(z_val) else None,
                         generator=generator, desc=desc, progress=progress, checkpoint=checkpoint, draw_fn=draw_fn)
    if len(z_val):
        with torch.no_grad():
            history["val_accuracy"] = float((model(x_v, t_v).argmax(1) == y_v).float().mean())
    return model.eval(), history
