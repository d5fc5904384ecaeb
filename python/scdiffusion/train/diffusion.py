"""Training plan of the latent denoiser: ε-prediction loss at uniformly drawn time steps."""

from __future__ import annotations

import torch
from torch import nn

from ..diffusion import GaussianDiffusion
from .checkpoint import Checkpointer
from .loop import TrainConfig, fit

#: Validation rows: the validation latents repeated up to about this many, each with fixed noise and time step.
N_VALIDATION_ROWS = 2048


def train_denoiser(denoiser: nn.Module, diffusion: GaussianDiffusion, z_train: torch.Tensor, z_val: torch.Tensor,
                   config: TrainConfig, *, generator: torch.Generator, validation_generator: torch.Generator,
                   progress: bool = True, checkpoint: Checkpointer | None = None) -> tuple[nn.Module, dict]:
    """Fit ``denoiser`` on scaled latents; return the selected weights (eval mode) and the history.

    The validation loss uses fixed noise and time steps drawn once from ``validation_generator``, so it is
    deterministic across evaluations.
    """
    T = diffusion.n_timesteps
    device = z_train.device
    reps = max(1, N_VALIDATION_ROWS // max(1, len(z_val)))
    z_v = z_val.repeat(reps, 1)
    t_v = torch.randint(0, T, (len(z_v),), generator=validation_generator).to(device)
    n_v = torch.randn(z_v.shape, generator=validation_generator).to(device)

    def draw_fn(n: int, g: torch.Generator):
        return torch.randint(0, T, (n,), generator=g), torch.randn((n, z_train.shape[1]), generator=g)

    def loss_fn(z0, t, noise):
        return diffusion.training_loss(denoiser, z0, t, noise)

    @torch.no_grad()
    def val_fn(model):
        return diffusion.training_loss(model, z_v, t_v, n_v).item()

    denoiser.train()
    model, history = fit(denoiser, loss_fn, (z_train,), config, val_fn=val_fn if len(z_val) else None,
                         generator=generator, desc="diffusion", progress=progress, checkpoint=checkpoint,
                         draw_fn=draw_fn)
    return model.eval(), history
