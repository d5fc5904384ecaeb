"""Generating cells: noise → guided denoising in the latent space → decoded cells as AnnData."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch

from ..diffusion import make_sampler
from ..diffusion.conditions import check_scales, condition_weights, parse_condition
from ..errors import InputError
from ..options import GENERATE
from ..runtime import seeded_generator
from .continuous import record, split_condition
from .guidance import build_guidance, resolve_guidance, window_end
from .outputs import cells_to_anndata

DRAWN_SUFFIX = "_drawn"
"""Unconditional cells of a label-conditioned model: ``obs[<column>_drawn]`` holds the labels drawn for them from
the training cells (what they were denoised with). It is not the cells' type: a classifier trained on real PBMCs
agrees with it for 45 % of such cells (guided cells: 81-98 %); call types with a classifier if you need them."""


#: The default weight of drawn labels (``drawn_cfg_scale=None``) of a model that did not choose one on its
#: validation cells (saved by an older release, or too few validation cells): ``(from this many training cells,
#: weight)``, else ``DRAWN_CFG_SMALL`` (E15, E24 and E26 in ``benchmarks/results/decoder/experiments.md``).
DRAWN_CFG_LARGE, DRAWN_CFG_SMALL = (10_000, 1.0), 2.0


def chosen_drawn_cfg_scale(history: dict | None) -> float | None:
    """The weight of drawn labels chosen after training on the validation cells
    (:func:`scdiffusion.train.drawn_weight.choose_drawn_weight`), or ``None`` if the model has none."""
    choice = ((history or {}).get("diffusion") or {}).get("drawn_weight") or {}
    return None if choice.get("chosen") is None else float(choice["chosen"])


def default_drawn_cfg_scale(n_train_cells: int | None, chosen: float | None = None) -> float:
    """The weight of drawn labels a model gets by default: the one it chose on its validation cells; without one,
    1 from 10,000 training cells, else 2 (also when a model saved by an old release does not record its number of
    cells)."""
    if chosen is not None:
        return float(chosen)
    n_min, weight = DRAWN_CFG_LARGE
    return weight if n_train_cells is not None and n_train_cells >= n_min else DRAWN_CFG_SMALL


def generate(model, n_cells, condition, *, guidance_scale, guidance, cfg_scale, sampler, n_steps, eta,
             guidance_t_max, seed, batch_size, progress, drawn_cfg_scale=GENERATE.defaults.drawn_cfg_scale):
    """:meth:`ScDiffusion.generate <scdiffusion.ScDiffusion.generate>` (see there for the parameters)."""
    defaults = GENERATE.defaults
    v = GENERATE.check({"n_cells": n_cells, "n_steps": n_steps, "eta": eta, "guidance_t_max": guidance_t_max,
                        "seed": seed, "batch_size": batch_size, "drawn_cfg_scale": drawn_cfg_scale},
                       n_timesteps=model.diffusion.n_timesteps)
    if v["drawn_cfg_scale"] is None:
        v["drawn_cfg_scale"] = default_drawn_cfg_scale(model.n_train_cells, chosen_drawn_cfg_scale(model.history))
    check_scales(guidance_scale, cfg_scale)  # also when there is no condition to apply them to
    check_memory(v["n_cells"], len(model.genes), model.arch["n_latent"])
    asked = condition  # continuous columns (times, doses) taken out: guided by value, classifier-free
    condition, cfg_labels, values, raw = split_condition(model, condition, cfg_scale, v["n_cells"])
    mode = resolve_guidance(model.module, guidance, values_only=bool(values) and not condition)
    n_classes = {k: r.n_classes for k, r in model.registries.items()}
    gen = seeded_generator(v["seed"])
    drawn = (not condition and not values and mode != "classifier" and model.module.classifier_free
             and bool(model.registries))
    if drawn:  # unconditional: p(x) = sum over labels p(labels) p(x | labels), see ScDiffusion.generate
        condition = model.library.draw_labels(v["n_cells"], model.registries, gen)
        guidance_scale, cfg_scale = 0.0, v["drawn_cfg_scale"]  # recorded: the drawn labels' weight
    cond = parse_condition(condition, guidance_scale, v["n_cells"], model.registries,
                           default_scale=defaults.guidance_scale)
    free = parse_condition(condition, cfg_labels, v["n_cells"], model.registries, default_scale=defaults.cfg_scale,
                           scale_name="cfg_scale")
    s = make_sampler(sampler, model.diffusion, n_steps=v["n_steps"], eta=v["eta"])
    x = torch.randn((v["n_cells"], model.arch["n_latent"]), generator=gen)
    if drawn:  # every column set to the cell's drawn labels, weighted by drawn_cfg_scale (1: no guidance)
        steer, free_steer = None, model.module.conditional({k: torch.from_numpy(c.ids) for k, c in cond.items()},
                                                           v["drawn_cfg_scale"])
    else:
        steer, free_steer = build_guidance(model.module, mode, condition_weights(cond, n_classes),
                                           condition_weights(free, n_classes), v["guidance_t_max"])
        if values:  # the continuous columns' terms, with the labels' classifier-free terms when those are used
            labels_free = condition_weights(free, n_classes) if mode in ("classifier-free", "both") else {}
            free_steer = model.module.free_guidance(labels_free, values)
    z = model.module.sample(x, s, steer, free_guidance=free_steer, generator=gen, batch_size=v["batch_size"],
                            progress=progress, desc="generate")
    obs = pd.DataFrame(index=[f"gen_{i}" for i in range(v["n_cells"])])
    for key, c in cond.items():
        reg = model.registries[key]
        obs[key] = pd.Categorical(reg.to_labels(c.ids), categories=reg.categories)
    for key, value in raw.items():
        obs[key] = value
    params = {"mode": "generate", "n_cells": v["n_cells"], "condition": {} if drawn else _shown(asked),
              **({"continuous": record(model, raw)} if raw else {}),
              **({"labels": "drawn from the training cells (unconditional)"} if drawn else {}),
              "guidance": ("none" if cfg_scale == 1 else "classifier-free (drawn labels)") if drawn else mode,
              "guidance_scale": _scale(guidance_scale), "cfg_scale": _scale(cfg_scale), "sampler": sampler,
              "n_steps": int(len(s.timesteps)), **s.used_options(), "n_steps_requested": s.n_steps_requested,
              "guidance_t_max": window_end(model.module, v["guidance_t_max"]), "seed": v["seed"]}
    out = cells_to_anndata(model.module, z, obs, params, genes=model.genes, target_sum=model.preprocessor.target_sum,
                           library=model.library, generator=gen,
                           registries={k: r for k, r in model.registries.items() if k not in raw})
    if drawn:  # the labels the cells were denoised with, not a call of their type: named so (DRAWN_SUFFIX)
        out.obs = out.obs.rename(columns={key: f"{key}{DRAWN_SUFFIX}" for key in cond})
    return out


def _shown(condition) -> dict:
    """The condition as recorded in the parameters (per-cell labels are summarised)."""
    return {k: (lab if isinstance(lab, str) else float(lab) if np.ndim(lab) == 0 and _is_number(lab)
                else "per-cell labels") for k, lab in (condition or {}).items()}


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _scale(scale):
    return scale if isinstance(scale, (int, float)) else dict(scale)


def memory_needed(n_cells: int, n_genes: int, n_latent: int) -> int:
    """Bytes that generating ``n_cells`` cells holds at its peak, estimated generously: the latent noise and
    the sampler's working copies (about 8 float32 copies of the latent), and the decoded cells (the decoder's
    means, the sampled counts and their float32 copies: about 4 float32 values per gene), plus ``obs``."""
    return int(n_cells) * (8 * 4 * int(n_latent) + 4 * 4 * int(n_genes) + 256)


def memory_available() -> int | None:
    """Bytes of memory this process can still use: ``MemAvailable`` of ``/proc/meminfo``, lowered to what a
    cgroup v2 limit leaves (``memory.max`` less ``memory.current`` without the inactive page cache); the free
    physical pages where there is no ``/proc``; ``None`` when unknown."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            avail = None
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            limit = fh.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as fh:
            used = int(fh.read().strip())
        with open("/sys/fs/cgroup/memory.stat", encoding="ascii") as fh:  # reclaimable page cache is not used
            stat = dict(line.split()[:2] for line in fh if line.strip())
        used -= int(stat.get("inactive_file", 0))
        if limit != "max":
            left = max(int(limit) - used, 0)
            avail = left if avail is None else min(avail, left)
    except (OSError, ValueError):
        pass
    return avail


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def check_memory(n_cells: int, n_genes: int, n_latent: int, available: int | None = None) -> None:
    """Raise :class:`InputError` before any work when ``n_cells`` cells would not fit in the memory available
    (``available`` bytes; by default :func:`memory_available`), with the estimate and how to generate fewer
    cells at a time."""
    avail = memory_available() if available is None else available
    need = memory_needed(n_cells, n_genes, n_latent)
    if avail is None or need <= avail:
        return
    fit = max(avail // max(memory_needed(1, n_genes, n_latent), 1), 0)
    raise InputError(f"Generating n_cells={n_cells} cells of {n_genes} genes needs about {_size(need)} of memory, "
                     f"but only {_size(avail)} is available: at most about {fit} cells fit in one call. Generate "
                     "fewer cells at a time, or write any number of cells to an .h5ad file chunk by chunk with "
                     "generate_to_file() (CLI: scdiffusion generate --chunk-size).")
