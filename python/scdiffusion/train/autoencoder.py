"""Training plan of the autoencoder: reconstruction loss of the decoder's likelihood, on log-normalised cells
(optionally count-split), then (``noise_fit``) the count likelihood's dispersion refitted for the trained
decoder in eval mode."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from .checkpoint import Checkpointer
from .count_splitting import row_seeds, split_batch
from .loop import BatchSource, TrainConfig, fit

#: Share of each validation cell's counts the encoder sees under ``select_by="split"`` (the rest is scored).
SELECTION_SPLIT = 0.5


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

    ``config.select_by``: ``"loss"`` selects the weights (and stops early) by the reconstruction loss of the
    validation cells. ``"split"`` (count likelihoods) splits each validation cell's counts once by binomial
    thinning (half each, :data:`SELECTION_SPLIT`), encodes one part and scores the other: a decoder that copies
    each cell's own counting noise gains nothing there, so the score follows how close the decoded mean is to the
    cell's expected expression rather than to its observed counts.
    """
    has_val = len(validation) > 0 and len(validation[0]) > 0
    ae = autoencoder.train()
    split = count_split > 0 and ae.likelihood.models_counts
    target_sum = ae.likelihood.target_sum

    def split_loss(model, x, counts, library, seeds):
        x, counts, library = split_batch(counts, count_split, seeds, target_sum)
        return model.loss(x, counts, library)

    if config.select_by == "split" and not ae.likelihood.models_counts:
        raise InputError("autoencoder={'select_by': 'split'} scores counts the encoder did not see; it needs a count "
                         "likelihood (likelihood='nb' or 'zinb'), or use select_by='loss'.")
    p_split = count_split if split else SELECTION_SPLIT if config.select_by == "split" else 0.0
    val_fn = validation_score_fn(validation, p_split, target_sum) if has_val else None

    loss_fn = (lambda *batch: split_loss(ae, *batch)) if split else ae.loss
    model, history = fit(ae, loss_fn, batches, config, val_fn=val_fn, generator=generator,
                         desc="autoencoder", progress=progress, checkpoint=checkpoint,
                         draw_fn=(lambda n, g: (row_seeds(n, g),)) if split else None)
    model = model.eval()
    cells = {"eval-train": noise_cells, "eval-validation": validation}.get(noise_fit, ())
    if noise_fit != "joint" and model.likelihood.models_counts and len(cells) and len(cells[0]):
        history["noise_refit_nll"] = model.refit_noise(*cells)
        history["noise_refit_cells"] = int(len(cells[0]))
    return model, history


def validation_score_fn(validation: tuple[torch.Tensor, ...], split: float = 0.0,
                        target_sum: float = 1e4) -> Callable[[nn.Module], float]:
    """``score(autoencoder) → mean reconstruction loss`` of the validation cells ``(x, [counts, library])``.

    With ``0 < split < 1`` every validation cell's counts are split once by binomial thinning (fixed seeds, so
    every evaluation scores the same parts): the encoder sees the part drawn with probability ``split``, the
    likelihood scores the rest with its own library size.
    """
    scored = validation
    if split > 0:
        seeds = row_seeds(len(validation[0]), torch.Generator().manual_seed(0))
        scored = split_batch(validation[1], split, seeds, target_sum)

    @torch.no_grad()
    def score(model: nn.Module) -> float:
        chunks = zip(*(torch.split(t, 1024) for t in scored))
        return float(np.mean([model.loss(*c).item() for c in chunks]))

    return score
