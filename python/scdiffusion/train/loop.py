"""One training loop for every stage: tensors on the device, time/step budgets, early stopping."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn
from tqdm.auto import tqdm

from ..runtime import autocast
from . import distributed as D
from .checkpoint import Checkpointer
from .ema import EMA

logger = logging.getLogger(__name__)


@runtime_checkable
class BatchSource(Protocol):
    """Training rows that are drawn, not indexed (e.g. streamed from disk through a buffer).

    ``sample(batch_size, generator)`` returns tensors with ``batch_size`` rows on ``device``;
    ``n_rows`` is the number of training rows.
    """

    n_rows: int
    device: torch.device

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        ...


@dataclass
class TrainConfig:
    """Budget and optimiser settings of one training stage.

    Parameters
    ----------
    max_steps
        Upper bound on optimiser steps.
    max_time
        Upper bound on wall time in seconds (``None``: no bound).
    batch_size
        Cells per step.
    lr, weight_decay
        AdamW settings.
    lr_schedule
        ``"constant"`` or ``"linear"`` decay to 0 at ``max_steps``.
    eval_every
        Steps between validation evaluations.
    patience
        Stop after this many evaluations without improvement (``0``: never stop early).
    ema_decay
        Decay of an exponential moving average of the weights (``None``: no EMA).
    restore_best
        Return the weights of the best validation loss (``True``) or the last weights (``False``; for the
        diffusion model, whose held-out loss rises long before its samples stop improving).
    mixed_precision
        Run the forward passes under bfloat16 autocast (CUDA or CPU); losses are computed in float32.
    select_by
        What the evaluations score: ``"loss"`` (the validation loss) or, for the diffusion stage, ``"realism"``
        (MMD² of generated cells to the validation cells, :mod:`~scdiffusion.train.realism`), or, for the
        autoencoder, ``"split"`` (the loss of validation counts the encoder did not see,
        :func:`~scdiffusion.train.autoencoder.train_autoencoder`).
    """

    max_steps: int = 2000
    max_time: float | None = None
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    lr_schedule: str = "constant"
    eval_every: int = 100
    patience: int = 10
    ema_decay: float | None = None
    restore_best: bool = True
    mixed_precision: bool = False
    select_by: str = "loss"

    def to_dict(self) -> dict:
        return asdict(self)


def fit(module: nn.Module, loss_fn: Callable[..., torch.Tensor], tensors: tuple[torch.Tensor, ...] | BatchSource,
        config: TrainConfig, *, val_fn: Callable[[nn.Module], float] | None = None,
        generator: torch.Generator | None = None, desc: str = "training", progress: bool = True,
        checkpoint: Checkpointer | None = None,
        draw_fn: Callable[[int, torch.Generator | None], tuple[torch.Tensor, ...]] | None = None,
        ) -> tuple[nn.Module, dict]:
    """Train ``module`` on batches of ``tensors`` and return the best weights and the loss history.

    Parameters
    ----------
    module
        The network; trained in place.
    loss_fn
        ``loss_fn(*batch, *drawn) → scalar loss`` (mean over the rows) where ``batch`` holds the rows of
        ``tensors`` of one step and ``drawn`` the per-row random tensors of ``draw_fn``.
    tensors
        Training tensors with cells in rows, already on the training device; or a :class:`BatchSource`
        that draws the batches itself (e.g. streamed from disk).
    val_fn
        ``val_fn(model) → validation loss`` for the EMA (or raw) model in eval mode; selects the best
        weights and drives early stopping. Without it the training loss does.
    generator
        Random generator for batch selection (and anything ``loss_fn`` draws from it).
    draw_fn
        ``draw_fn(batch_size, generator) → tensors with batch_size rows`` (e.g. diffusion time steps and
        noise), drawn for the whole batch right after the batch indices. Under distributed training every
        process draws the same global batch and keeps its share, so the update equals the single-process one.
    checkpoint
        Saves the full training state every ``checkpoint.every`` steps and resumes from it when it
        exists (weights, EMA, optimiser, scheduler, step, generator state, best weights, history).

    Returns
    -------
    ``(best_model, history)`` where ``best_model`` is the EMA copy (when ``ema_decay`` is set) or the
    module, in eval mode, holding the weights of the best evaluation; ``history`` has lists ``step``,
    ``train_loss``, ``val_loss``, ``time`` and the fields ``best_step``, ``stopped``.
    """
    source = tensors if isinstance(tensors, BatchSource) else None
    n = source.n_rows if source is not None else tensors[0].shape[0]
    device = source.device if source is not None else tensors[0].device
    batch_size = min(config.batch_size, n)
    distributed = D.is_active()
    rows = D.shard(batch_size) if distributed else slice(None)
    share = (rows.stop - rows.start) / batch_size if distributed else 1.0
    progress = progress and D.is_main()
    opt = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.lr_schedule == "linear":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / config.max_steps))
    elif config.lr_schedule == "constant":
        sched = None
    else:
        raise ValueError(f"lr_schedule must be 'constant' or 'linear', got {config.lr_schedule!r}.")
    ema = EMA(module, config.ema_decay) if config.ema_decay else None
    history: dict = {"step": [], "train_loss": [], "val_loss": [], "time": [], "config": config.to_dict()}
    best, best_state, best_step, bad_evals = math.inf, None, 0, 0
    stopped = "max_steps"
    first_step, elapsed0 = 1, 0.0
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        module.load_state_dict(state["module"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.shadow.load_state_dict(state["ema"])
            ema.n_updates = int(state["ema_updates"])
        if generator is not None:
            generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history = state["history"]
        best, best_step, bad_evals = float(state["best"]), int(state["best_step"]), int(state["bad_evals"])
        best_state = state["best_state"]
        first_step, elapsed0 = int(state["step"]) + 1, float(state["elapsed"])
        history.setdefault("resumed_at", []).append(first_step - 1)
        logger.info("%s: resuming from checkpoint at step %d.", desc, first_step - 1)
    start = time.perf_counter() - elapsed0
    running, n_running = torch.zeros((), device=device), 0  # summed on the device: no host sync per step
    step = first_step - 1
    bar = tqdm(range(first_step, config.max_steps + 1), desc=desc, disable=not progress, leave=False,
               initial=first_step - 1, total=config.max_steps)
    module.train()
    for step in bar:
        if source is not None:
            batch = tuple(t[rows] for t in source.sample(batch_size, generator))
            drawn = draw_fn(batch_size, generator) if draw_fn is not None else ()
        else:
            idx = torch.randint(0, n, (batch_size,), generator=generator)
            drawn = draw_fn(batch_size, generator) if draw_fn is not None else ()
            idx = idx[rows].to(device)
            batch = tuple(t[idx] for t in tensors)
        with autocast(device, config.mixed_precision):
            loss = loss_fn(*batch, *(d[rows].to(device) for d in drawn))
        opt.zero_grad(set_to_none=True)
        (loss * share if distributed else loss).backward()
        if distributed:
            D.sum_gradients(module)
        opt.step()
        if sched is not None:
            sched.step()
        if distributed:
            D.average_buffers(module)
        if ema is not None:
            ema.update(module)
        elapsed = time.perf_counter() - start
        out_of_time = config.max_time is not None and elapsed >= config.max_time
        if distributed:  # the global batch loss, and one stop decision for every process
            loss_value, n_out = D.sum_scalars(loss.item() * share, float(out_of_time), device=device)
            out_of_time = n_out > 0
            running += loss_value
        else:
            running += loss.detach().float()
        n_running += 1
        if step % config.eval_every == 0 or step == config.max_steps or out_of_time:
            model = ema.shadow if ema is not None else module
            train_loss = float(running) / n_running
            running, n_running = torch.zeros((), device=device), 0
            if val_fn is not None:
                model.eval()
                with autocast(device, config.mixed_precision):
                    val = float(val_fn(model))
                if distributed:
                    val = D.broadcast_scalar(val, device=device)
                module.train()
            else:
                val = train_loss
            history["step"].append(step)
            history["train_loss"].append(train_loss)
            history["val_loss"].append(val if val_fn is not None else None)
            history["time"].append(elapsed)
            bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{val:.4f}")
            if val < best - 1e-6:
                best, best_step, bad_evals = val, step, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_evals += 1
            if config.patience and bad_evals >= config.patience:
                stopped = "early_stopping"
                break
        if out_of_time:
            stopped = "max_time"
            break
        if checkpoint is not None and step % checkpoint.every == 0 and D.is_main():
            checkpoint.save({
                "module": module.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict() if sched is not None else {},
                "ema": ema.shadow.state_dict() if ema is not None else {},
                "ema_updates": ema.n_updates if ema is not None else 0,
                "generator": generator.get_state() if generator is not None else torch.empty(0),
                "torch_rng": torch.get_rng_state(),
                "history": history, "best": best, "best_step": best_step, "bad_evals": bad_evals,
                "best_state": best_state, "step": step, "elapsed": elapsed,
            })
    bar.close()
    model = ema.shadow if ema is not None else module
    if best_state is not None and config.restore_best:
        model.load_state_dict(best_state)
    model.eval()
    if ema is not None:  # the EMA copy is frozen; the returned model must stay trainable (e.g. a second train())
        for p in model.parameters():
            p.requires_grad_(True)
    history.update(best_step=best_step, best_loss=best, stopped=stopped, n_steps=step,
                   seconds=time.perf_counter() - start)
    logger.info("%s: %d steps in %.1f s (%s); best loss %.4f at step %d.", desc, step,
                history["seconds"], stopped, best, best_step)
    return model, history
