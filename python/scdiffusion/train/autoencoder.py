"""Training plan of the autoencoder: reconstruction loss of the decoder's likelihood, on log-normalised cells
(optionally count-split), then (``noise_fit``) the count likelihood's dispersion refitted for the trained
decoder in eval mode."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .checkpoint import Checkpointer
from .count_splitting import row_seeds, split_batch
from .loop import BatchSource, TrainConfig, fit


def train_autoencoder(autoencoder: nn.Module, batches: tuple[torch.Tensor, ...] | BatchSource,
                      validation: tuple[torch.Tensor, ...], config: TrainConfig, *, generator: torch.Generator,
                      progress: bool = True, checkpoint: Checkpointer | None = None,
                      noise_fit: str = "joint", noise_cells: tuple[torch.Tensor, ...] = (),
                      count_split: float = 0.0) -> tuple[nn.Module, dict]:
    """Fit the autoencoder on ``(x, [counts, library])`` rows; return the best weights (eval mode) and the history.

    ``validation`` holds the same tensors for the validation cells (empty: select on the training loss).

    ``noise_fit``: ``"joint"`` keeps the dispersion learned with the network. ``"eval-train"`` and
    ``"eval-validation"`` then refit it by maximum likelihood for the decoder's means with the network in eval
    mode, on ``noise_cells`` (training cells) or on the validation cells. The jointly learned dispersion is fitted
    to outputs perturbed by dropout and barely leaves its initial value with the network's learning rate, so
    decoded counts are over-dispersed: refitting on training cells moved the decoder ceiling and generated cells
    most (``benchmarks/results/decoder/experiments.md``).

    ``count_split`` (0 < p < 1; count likelihoods): every training and validation cell's counts are split by
    binomial thinning, the encoder sees the part drawn with probability ``p`` and the likelihood scores the rest
    (:mod:`~scdiffusion.train.count_splitting`); validation cells are split the same way at every evaluation.
    """
    has_val = len(validation) > 0 and len(validation[0]) > 0
    ae = autoencoder.train()
    split = count_split > 0 and ae.likelihood.models_counts
    target_sum = ae.likelihood.target_sum

    def split_loss(model, x, counts, library, seeds):
        x, counts, library = split_batch(counts, count_split, seeds, target_sum)
        return model.loss(x, counts, library)

    scored = validation  # split once (fixed seeds): every evaluation scores the same held-out halves
    if split and has_val:
        seeds = row_seeds(len(validation[0]), torch.Generator().manual_seed(0))
        scored = split_batch(validation[1], count_split, seeds, target_sum)

    @torch.no_grad()
    def val_fn(model):
        chunks = zip(*(torch.split(t, 1024) for t in scored))
        return float(np.mean([model.loss(*c).item() for c in chunks]))

    loss_fn = (lambda *batch: split_loss(ae, *batch)) if split else ae.loss
    model, history = fit(ae, loss_fn, batches, config, val_fn=val_fn if has_val else None, generator=generator,
                         desc="autoencoder", progress=progress, checkpoint=checkpoint,
                         draw_fn=(lambda n, g: (row_seeds(n, g),)) if split else None)
    model = model.eval()
    cells = {"eval-train": noise_cells, "eval-validation": validation}.get(noise_fit, ())
    if noise_fit != "joint" and model.likelihood.models_counts and len(cells) and len(cells[0]):
        history["noise_refit_nll"] = model.refit_noise(*cells)
        history["noise_refit_cells"] = int(len(cells[0]))
    return model, history
