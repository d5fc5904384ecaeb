"""Bridge between the scDiffusion R package and the Python core: one function per operation.

Each function takes the R function's arguments under the same names (R checked and coerced them already; the
Python API checks them again as it does for every caller) and returns plain builtin objects only (dict, list,
str, int, float, bool, None, bytes), so that reticulate never converts numpy arrays or scipy matrices: matrices
travel as little-endian raw bytes in the layout of :mod:`scdiffusion.data.sce` (R side: ``R/convert.R``).

Every function returns ``{"result": ..., "warnings": [...]}`` or ``{"error": ..., ...}``: R raises the error as
one R error and every Python warning (``warnings.warn`` and ``scdiffusion`` log records at WARNING) as an R
warning.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import traceback
import warnings


def _r_call(fn):
    """Run ``fn`` with BLAS limited to one thread, collecting warnings and turning errors into values."""

    @functools.wraps(fn)
    def run(**kwargs):
        records: list[str] = []
        handler = _ListHandler(records)
        logger = logging.getLogger("scdiffusion")
        logger.addHandler(handler)
        try:
            # Inside R, numpy/scipy/torch matrix products may resolve to R's BLAS (OpenBLAS with its own
            # threads): one BLAS thread avoids oversubscription with OpenMP (torch, scikit-learn).
            try:
                from threadpoolctl import threadpool_limits

                limits = threadpool_limits(limits=1, user_api="blas")
            except Exception:  # noqa: BLE001 - threadpoolctl is optional
                limits = None
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    result = fn(**kwargs)
                records.extend(f"{w.category.__name__}: {w.message}" for w in caught
                               if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)))
                return {"result": result, "warnings": _unique(records)}
            finally:
                if limits is not None:
                    limits.restore_original_limits()
        except Exception as exc:  # noqa: BLE001 - surfaced as an R error
            from scdiffusion.errors import InputError

            user = isinstance(exc, (InputError, KeyError))
            msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            return {"error": msg, "class": type(exc).__name__, "user_error": bool(user),
                    "traceback": "" if user else traceback.format_exc(), "warnings": _unique(records)}
        finally:
            logger.removeHandler(handler)

    return run


class _ListHandler(logging.Handler):
    def __init__(self, records: list[str]):
        super().__init__(level=logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _summary(model, path) -> str:
    from scdiffusion import __version__
    from scdiffusion.data.sce import _builtin

    return json.dumps(_builtin({
        "path": str(path), "genes": list(model.genes),
        "labels": {k: list(r.categories) for k, r in model.registries.items()},
        "n_latent": model.arch["n_latent"], "hidden": model.arch["hidden"],
        "likelihood": model.arch["likelihood"], "n_timesteps": model.diffusion.n_timesteps,
        "n_train_cells": model.n_train_cells, "trained": model.is_trained,
        "history": {k: {kk: vv for kk, vv in v.items() if not isinstance(vv, (list, tuple))}
                    for k, v in (model.history or {}).items() if isinstance(v, dict)},
        "device": str(model.device), "version": __version__,
    }))


_MODEL_CACHE: dict = {}


def _load(model_dir):
    from scdiffusion import ScDiffusion

    key = (os.path.abspath(model_dir), os.path.getmtime(os.path.join(model_dir, "config.json")))
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = ScDiffusion.load(model_dir, device="auto")
    return _MODEL_CACHE[key]


def _generated(adata):
    from scdiffusion.data.sce import encode_adata

    return encode_adata(adata, x_name="logcounts", params=dict(adata.uns.get("scdiffusion", {})))


# ---------------------------------------------------------------------------------------------- operations
@_r_call
def version():
    import scdiffusion

    return scdiffusion.__version__


@_r_call
def roundtrip(sce):
    from scdiffusion.data.sce import decode_sce, encode_adata

    return encode_adata(decode_sce(sce))


@_r_call
def train(sce, model_dir, labels_keys, preset, max_time, max_steps, autoencoder, diffusion, classifier, progress,
          **model_args):
    """``trainScDiffusion()``: the model's options (``likelihood``, ``n_latent``, ...) and the training budget."""
    from scdiffusion import ScDiffusion
    from scdiffusion.data.sce import decode_sce

    model = ScDiffusion(decode_sce(sce), labels_keys=labels_keys, **model_args)
    model.train(preset=preset, max_time=max_time, max_steps=max_steps, autoencoder=autoencoder or None,
                diffusion=diffusion or None, classifier=classifier or None, progress=progress)
    return _summary(model, model.save(model_dir, overwrite=True))


@_r_call
def load(model_dir):
    return _summary(_load(model_dir), model_dir)


@_r_call
def generate(model_dir, n_cells, condition, **options):
    """``generate()``: ``options`` are the declared generate options that exist in R."""
    return _generated(_load(model_dir).generate(n_cells, condition or None, **options))


@_r_call
def interpolate(model_dir, sce, labels_key, start, end, **options):
    """``interpolate()``: the start cells arrive as an encoded SingleCellExperiment (counts in ``X``)."""
    from scdiffusion.data.sce import decode_sce

    return _generated(_load(model_dir).interpolate(decode_sce(sce), labels_key, start, end, **options))


@_r_call
def evaluate(real, generated, **options):
    """``evaluateGeneration()``: the metric suite's JSON."""
    from scdiffusion.data.sce import _builtin, decode_sce
    from scdiffusion.evaluation import evaluate as run_evaluation

    return json.dumps(_builtin(run_evaluation(decode_sce(real), decode_sce(generated), **options)))
