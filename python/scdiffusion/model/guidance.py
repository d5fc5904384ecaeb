"""Which guidance steers a generation: the requested kind checked against what the model was trained with."""

from __future__ import annotations

import torch

from ..errors import InputError
from ..options import GENERATE

#: What ``guidance="auto"`` means, by operation, for a model whose denoiser was trained on the labels (chosen by
#: ``benchmarks/conditional.py``, ``unseen_combination.py`` and ``interpolation.py``, 3 seeds each: for generation
#: both kinds together were annotated correctly most often at the same MMD; for interpolation the three kinds were
#: within noise of each other and the paper's classifier guidance is kept). Without it: the classifiers.
AUTO = {"generate": "both", "interpolate": "classifier"}


def resolve_guidance(module, guidance: str, operation: str = "generate", values_only: bool = False) -> str:
    """``guidance`` checked against the model's networks; ``"auto"`` resolved for ``operation`` (see :data:`AUTO`).
    ``values_only``: the condition is on continuous columns only (always classifier-free, whatever the labels)."""
    mode = GENERATE["guidance"].check(guidance)
    if mode == "auto":
        return AUTO[operation] if module.classifier_free else "classifier"
    if mode in ("classifier-free", "both") and not module.classifier_free and not values_only:
        raise InputError(f"guidance={mode!r} needs a denoiser trained on the labels, but this model was trained "
                         "with classifier_free=False. Use guidance='classifier', or retrain with classifier_free=True.")
    return mode


def build_guidance(module, mode: str, classifier_weights: dict[str, torch.Tensor],
                   free_weights: dict[str, torch.Tensor], guidance_t_max: int | None) -> tuple:
    """``(classifier guidance or None, classifier-free guidance or None)``; classifier guidance acts at original
    time steps ``t < guidance_t_max`` (default T/2), classifier-free guidance at every step."""
    if not classifier_weights:
        return None, None
    t_max = window_end(module, guidance_t_max)
    return (module.guidance(classifier_weights, t_max) if mode in ("classifier", "both") else None,
            module.free_guidance(free_weights) if mode in ("classifier-free", "both") else None)


def window_end(module, value: int | None) -> int:
    """The end of the classifier-guidance window actually used (``guidance_t_max``; default T/2)."""
    return module.diffusion.n_timesteps // 2 if value is None else value
