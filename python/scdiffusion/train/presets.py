"""Training budgets of each stage: the presets, and how a call's options turn into one config per stage."""

from __future__ import annotations

import importlib
import numbers
from collections.abc import Mapping
from dataclasses import replace

from ..errors import InputError
from .loop import TrainConfig

#: Default budgets: good quality for a few thousand cells in minutes on a 2-core CPU.
DEFAULT_AUTOENCODER = TrainConfig(max_steps=2000, batch_size=128, lr=5e-4, weight_decay=0.01, eval_every=100,
                                  patience=5)
DEFAULT_DIFFUSION = TrainConfig(max_steps=24_000, batch_size=128, lr=1e-3, weight_decay=1e-4, eval_every=200,
                                patience=5, ema_decay=0.999, lr_schedule="linear")
DEFAULT_CLASSIFIER = TrainConfig(max_steps=1500, batch_size=128, lr=1e-3, weight_decay=1e-4, eval_every=100,
                                 patience=5)
#: Budgets for large data sets on a GPU (the original code's scale).
GPU_AUTOENCODER = replace(DEFAULT_AUTOENCODER, max_steps=150_000, eval_every=1000, patience=10)
GPU_DIFFUSION = replace(DEFAULT_DIFFUSION, max_steps=500_000, batch_size=1024, lr=1e-4, eval_every=5000,
                        patience=10, ema_decay=0.9999)
GPU_CLASSIFIER = replace(DEFAULT_CLASSIFIER, max_steps=50_000, eval_every=1000, patience=10)

STAGES = ("autoencoder", "diffusion", "classifier")
PRESETS: dict[str, dict[str, TrainConfig]] = {
    "cpu": dict(zip(STAGES, (DEFAULT_AUTOENCODER, DEFAULT_DIFFUSION, DEFAULT_CLASSIFIER))),
    "gpu": dict(zip(STAGES, (GPU_AUTOENCODER, GPU_DIFFUSION, GPU_CLASSIFIER))),
}
#: Shares of ``max_time`` given to each stage (the classifiers share theirs).
TIME_SHARES = {"autoencoder": 0.25, "diffusion": 0.6, "classifier": 0.15}


def _checked_overrides(stage: str, over) -> dict:
    """A stage's overrides, each checked against its declaration (:data:`scdiffusion.options.STAGE`)."""
    # the declarations' table, looked up at call time: options names the presets as its choices (no load cycle)
    STAGE = importlib.import_module("scdiffusion.options").STAGE  # noqa: N806

    if not over:
        return {}
    if not isinstance(over, Mapping):
        raise InputError(f"{stage} must be a mapping of training options, e.g. {stage}={{'eval_every': 50}}, got "
                         f"{type(over).__name__} {over!r}.")
    unknown = [k for k in over if k not in STAGE]
    if unknown:
        raise InputError(f"Unknown training option(s) {unknown} of the {stage} stage. Options: "
                         f"{[o.name for o in STAGE.options]}.")
    try:
        return STAGE.check(dict(over))
    except InputError as err:
        raise InputError(f"{stage} stage: {err}") from None


def stage_configs(preset: str = "cpu", *, max_time: float | None = None,
                  max_steps: int | Mapping[str, int] | None = None,
                  overrides: Mapping[str, Mapping | None] | None = None,
                  n_classifiers: int = 1, mixed_precision: bool = False) -> dict[str, TrainConfig]:
    """One :class:`TrainConfig` per stage.

    Parameters
    ----------
    preset
        A key of :data:`PRESETS`.
    max_time
        Wall-time budget of the whole training, split by :data:`TIME_SHARES` (the classifier share is divided
        among the classifiers), unless a stage's overrides set ``max_time`` themselves.
    max_steps
        Steps for every stage, or ``{stage: steps}``.
    overrides
        ``{stage: {TrainConfig field: value}}``.
    mixed_precision
        bfloat16 autocast of every stage's forward passes.
    """
    if preset not in PRESETS:
        raise InputError(f"preset must be one of {list(PRESETS)}, got {preset!r}.")
    if max_time is not None and max_time <= 0:
        raise InputError(f"max_time must be positive, got {max_time}.")
    if max_steps is not None and not isinstance(max_steps, Mapping):
        max_steps = dict.fromkeys(STAGES, max_steps)
    unknown = set(max_steps or {}) - set(STAGES)
    unknown |= set(k for k, v in (overrides or {}).items() if v) - set(STAGES)
    if unknown:
        raise InputError(f"Unknown training stage(s) {sorted(unknown)}; stages are {list(STAGES)}.")
    out = {}
    for stage in STAGES:
        over = _checked_overrides(stage, (overrides or {}).get(stage))
        if max_steps is not None and stage in max_steps:
            over.setdefault("max_steps", max_steps[stage])
        base = replace(PRESETS[preset][stage], mixed_precision=bool(mixed_precision))
        try:
            cfg = replace(base, **over)
        except TypeError as err:
            raise InputError(f"Unknown training option: {err}. Options: {list(base.to_dict())}.") from err
        if isinstance(cfg.max_steps, bool) or not isinstance(cfg.max_steps, numbers.Integral) or cfg.max_steps < 1:
            raise InputError(f"max_steps of the {stage} stage must be a positive integer, got {cfg.max_steps!r}.")
        cfg = replace(cfg, max_steps=int(cfg.max_steps))
        allowed = {"diffusion": ("loss", "realism"), "autoencoder": ("loss", "split")}.get(stage, ("loss",))
        if cfg.select_by not in allowed:
            raise InputError(f"select_by={cfg.select_by!r} is not an option of the {stage} stage: choose one of "
                             f"{list(allowed)} (realism: diffusion stage; split: autoencoder stage).")
        share = TIME_SHARES[stage] / (max(1, n_classifiers) if stage == "classifier" else 1)
        if max_time is not None and "max_time" not in over:
            cfg = replace(cfg, max_time=max_time * share)
        out[stage] = cfg
    return out
