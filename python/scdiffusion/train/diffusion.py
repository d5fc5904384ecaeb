"""Training plan of the latent denoiser: ε-prediction loss at uniformly drawn time steps.

A label-conditioned denoiser (classifier-free guidance) sees each cell's labels, every label column replaced by
its null label independently with probability ``label_dropout``, so it learns the unconditional, the
single-column and the joint conditional noise predictions at once. Continuous columns (normalised values, under
:func:`~scdiffusion.nn.backbone.value_key`) are dropped to their null (NaN) with the same probability.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..diffusion import GaussianDiffusion
from .checkpoint import Checkpointer
from .loop import TrainConfig, fit

#: Validation rows: the validation latents repeated up to about this many, each with fixed noise and time step.
N_VALIDATION_ROWS = 2048


def train_denoiser(denoiser: nn.Module, diffusion: GaussianDiffusion, z_train: torch.Tensor, z_val: torch.Tensor,
                   config: TrainConfig, *, generator: torch.Generator, validation_generator: torch.Generator,
                   progress: bool = True, checkpoint: Checkpointer | None = None,
                   labels_train: dict[str, torch.Tensor] | None = None,
                   labels_val: dict[str, torch.Tensor] | None = None,
                   label_dropout: float = 0.0,
                   score_fn: Callable[[nn.Module], float] | None = None) -> tuple[nn.Module, dict]:
    """Fit ``denoiser`` on scaled latents; return the selected weights (eval mode) and the history.

    The validation loss uses fixed noise, time steps (and label dropout) drawn once from
    ``validation_generator``, so it is deterministic across evaluations. ``labels_train`` / ``labels_val``
    (class ids per cell, by label column) train a label-conditioned denoiser. ``score_fn(denoiser)``, when
    given, replaces the validation loss (e.g. :func:`~scdiffusion.train.realism.realism_score_fn`).
    """
    T = diffusion.n_timesteps
    device = z_train.device
    keys = list(labels_train or {})
    null = {k: denoiser.null_ids[k] if k in denoiser.null_ids else float("nan") for k in keys}
    reps = max(1, N_VALIDATION_ROWS // max(1, len(z_val)))
    z_v = z_val.repeat(reps, 1)
    t_v = torch.randint(0, T, (len(z_v),), generator=validation_generator).to(device)
    n_v = torch.randn(z_v.shape, generator=validation_generator).to(device)
    y_v = None
    if keys:
        u_v = torch.rand((len(z_v), len(keys)), generator=validation_generator).to(device)
        y_v = _dropped({k: labels_val[k].repeat(reps) for k in keys}, u_v, null, label_dropout)

    def draw_fn(n: int, g: torch.Generator):
        drawn = (torch.randint(0, T, (n,), generator=g), torch.randn((n, z_train.shape[1]), generator=g))
        return drawn + ((torch.rand((n, len(keys)), generator=g),) if keys else ())

    def loss_fn(z0, *rest):
        ys, (t, noise, *u) = rest[:len(keys)], rest[len(keys):]
        labels = _dropped(dict(zip(keys, ys)), u[0], null, label_dropout) if keys else None
        return diffusion.training_loss(denoiser, z0, t, noise, labels)

    @torch.no_grad()
    def val_fn(model):
        return diffusion.training_loss(model, z_v, t_v, n_v, y_v).item()

    denoiser.train()
    tensors = (z_train, *(labels_train[k] for k in keys))
    if score_fn is not None:
        val_fn = score_fn
    model, history = fit(denoiser, loss_fn, tensors, config, val_fn=val_fn if len(z_val) else None,
                         generator=generator, desc="diffusion", progress=progress, checkpoint=checkpoint,
                         draw_fn=draw_fn)
    if keys:
        history["label_dropout"] = label_dropout
    return model.eval(), history


def _dropped(labels: dict[str, torch.Tensor], u: torch.Tensor, null: dict[str, int], p: float
             ) -> dict[str, torch.Tensor]:
    """Each column's label replaced by its null label where ``u < p`` (``u``: one uniform per row and column)."""
    return {k: torch.where(u[:, j] < p, torch.full_like(y, null[k]), y) for j, (k, y) in enumerate(labels.items())}
