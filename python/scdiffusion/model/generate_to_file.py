"""Generating more cells than fit in memory: chunk by chunk, straight into one ``.h5ad`` file, atomically."""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..atomic import check_output_path, write_file_atomic
from ..data.h5ad_writer import ChunkedH5ADWriter
from ..data.io import check_output_file, writing
from ..diffusion import make_sampler
from ..diffusion.conditions import check_scales, parse_condition
from ..options import GENERATE
from .outputs import LATENT_KEY, PARAMS_KEY

logger = logging.getLogger(__name__)


def generate_to_file(model, path: str | os.PathLike, n_cells: int,
                     condition: Mapping[str, str | Sequence[str]] | None = None, *, chunk_size: int = 20_000,
                     overwrite: bool = False, **kwargs) -> Path:
    """:meth:`ScDiffusion.generate_to_file <scdiffusion.ScDiffusion.generate_to_file>` (see there)."""
    python_options = GENERATE.on("python")
    unknown = set(kwargs) - {o.name for o in python_options} - {"progress"}
    if unknown:
        raise TypeError(f"generate_to_file() got unexpected keyword arguments {sorted(unknown)}")
    opts = {o.name: kwargs.get(o.name, o.default) for o in python_options if o.name not in ("n_cells", "condition")}
    v = GENERATE.check({"n_cells": n_cells, "seed": opts["seed"], "n_steps": opts["n_steps"], "eta": opts["eta"],
                        "guidance_t_max": opts["guidance_t_max"], "batch_size": opts["batch_size"]},
                       n_timesteps=model.diffusion.n_timesteps)
    chunk_size = GENERATE["n_cells"].check(chunk_size) if chunk_size is not None else 20_000
    path = check_output_file(check_output_path(path, overwrite=overwrite, suffix=".h5ad"), overwrite=overwrite)
    # errors before any work
    check_scales(opts["guidance_scale"], opts["cfg_scale"])
    parse_condition(condition, opts["guidance_scale"], v["n_cells"], model.registries,
                    default_scale=GENERATE.defaults.guidance_scale)
    parse_condition(condition, opts["cfg_scale"], v["n_cells"], model.registries,
                    default_scale=GENERATE.defaults.cfg_scale, scale_name="cfg_scale")
    make_sampler(opts["sampler"], model.diffusion, n_steps=v["n_steps"], eta=v["eta"])
    n_cells = v["n_cells"]
    per_cell = {k: np.asarray([str(x) for x in lab]) for k, lab in (condition or {}).items()
                if not (isinstance(lab, str) or np.isscalar(lab))}
    starts = list(range(0, n_cells, chunk_size))
    seeds = np.random.SeedSequence(int(v["seed"]) & (2**63 - 1)).generate_state(len(starts), dtype=np.uint32)
    progress = opts["progress"]
    t0 = time.perf_counter()

    def write(tmp: str) -> None:
        writer = ChunkedH5ADWriter(tmp, n_cells, model.genes, layers=("counts",) if model.models_counts else (),
                                   obsm={LATENT_KEY: model.arch["n_latent"]})
        try:
            obs_parts, params = [], {}
            bar = tqdm(total=n_cells, desc="generate_to_file", unit="cells", disable=not progress, leave=False)
            for start, chunk_seed in zip(starts, seeds):
                stop = min(start + chunk_size, n_cells)
                cond = {k: (per_cell[k][start:stop] if k in per_cell else lab) for k, lab in (condition or {}).items()}
                out = model.generate(stop - start, cond, **{**opts, "seed": int(chunk_seed), "progress": False})
                writer.append(out.X, {"counts": out.layers["counts"]} if model.models_counts else None,
                              {LATENT_KEY: out.obsm[LATENT_KEY]})
                obs_parts.append(out.obs.reset_index(drop=True))
                params = dict(out.uns[PARAMS_KEY])
                bar.update(stop - start)
            bar.close()
            obs = pd.concat(obs_parts, ignore_index=True)
            obs.index = pd.Index([f"gen_{i}" for i in range(n_cells)])
            shown = {k: (lab if isinstance(lab, str) else "per-cell labels") for k, lab in (condition or {}).items()}
            params.update(n_cells=n_cells, seed=v["seed"], condition=shown, chunk_size=chunk_size,
                          chunk_seeds="numpy SeedSequence(seed).generate_state(n_chunks)")
            writer.finish(obs, {PARAMS_KEY: params})
        except BaseException as err:
            # the traceback's finished frames (h5py's and the writer's) hold datasets of the file: release them
            # before closing it, or freeing them after a failed close (full disk) crashes the interpreter
            traceback.clear_frames(err.__traceback__)
            raise
        finally:
            writer.close()

    with writing(path):
        write_file_atomic(path, write)
    seconds = time.perf_counter() - t0
    logger.info("generate_to_file: %d cells in %.1f s (%.0f cells/s) written to %s.", n_cells, seconds,
                n_cells / max(seconds, 1e-9), path)
    return path
