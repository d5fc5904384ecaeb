"""Bridge between the scDiffusion R package and the Python core: one function per operation.

Each function takes the R function's arguments under the same names (R checked and coerced them already; the
Python API checks them again as it does for every caller) and returns plain builtin objects only (dict, list,
str, int, float, bool, None, bytes), so that reticulate never converts numpy arrays or scipy matrices: matrices
travel as little-endian raw bytes in the layout of :mod:`scdiffusion.data.sce` (R side: ``R/convert.R``).

Every function returns ``{"result": ..., "warnings": [...]}`` or ``{"error": ..., ...}``: R raises an
:class:`~scdiffusion.errors.InputError` as one R error and anything else as an internal error (a bug) that
carries the Python traceback; every Python warning (``warnings.warn`` and ``scdiffusion`` log records at
WARNING) becomes an R warning.
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
    def run(threads=None, **kwargs):
        """``threads``: R's ``getOption("scDiffusion.threads")`` (``None``: the adaptive policy)."""
        records: list[str] = []
        handler = _ListHandler(records)
        logger = logging.getLogger("scdiffusion")
        logger.addHandler(handler)
        # R shows warnings as R warnings; informational logging stays out of the R console (CellTypist, once
        # imported, prints INFO lines with emoji through the root logger it configures)
        quiet = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        propagate, logger.propagate = logger.propagate, False
        try:
            # Inside R, numpy/scipy/torch matrix products may resolve to R's BLAS (OpenBLAS with its own
            # threads): one BLAS thread avoids oversubscription with OpenMP (torch, scikit-learn).
            try:
                from threadpoolctl import threadpool_limits

                limits = threadpool_limits(limits=1, user_api="blas")
            except Exception:  # noqa: BLE001 - threadpoolctl is optional
                limits = None
            try:
                from scdiffusion.runtime import set_threads

                set_threads(None if threads is None else int(threads))
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    result = fn(**kwargs)
                records.extend(f"{w.category.__name__}: {w.message}" for w in caught if _for_r(w))
                return {"result": result, "warnings": _unique(records)}
            finally:
                if limits is not None:
                    # an OpenMP-built OpenBLAS sets OpenMP's thread count too: torch's follows the policy again
                    limits.restore_original_limits()
                    from scdiffusion.runtime import thread_policy

                    thread_policy().apply()
        except Exception as exc:  # noqa: BLE001 - surfaced as an R error
            from scdiffusion.errors import InputError

            # the user's mistake (InputError, its message says what to do) is one line in R; anything else is
            # a bug in scDiffusion, which R reports as an internal error with the traceback
            user = isinstance(exc, InputError)
            return {"error": str(exc), "class": type(exc).__name__, "user_error": bool(user),
                    "traceback": "" if user else traceback.format_exc(), "warnings": _unique(records)}
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate
            for name, level in quiet.items():
                logging.getLogger(name).setLevel(level)

    return run


#: Loggers of other packages that print informational lines during a call.
_QUIET_LOGGERS = ("celltypist",)


def _for_r(w: warnings.WarningMessage) -> bool:
    """Whether R shows a caught warning: all but notices about Python APIs that R users cannot act on
    (``DeprecationWarning``, and ``FutureWarning`` raised outside scdiffusion, e.g. CellTypist reading
    ``scanpy.__version__``)."""
    if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
        return False
    if issubclass(w.category, FutureWarning):
        return "scdiffusion" in os.path.normpath(str(w.filename)).split(os.sep)
    return True


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
        "continuous": {k: [r.low, r.high] for k, r in getattr(model, "continuous", {}).items()},
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


#: Assay of the decoder's expected expression (models without counts): natural-log log1p of counts per 10,000.
LOG1P_ASSAY = "log1pCP10k"


def _generated(adata, model):
    """Generated cells for R, which gives them Bioconductor's layout (``.generated_sce()`` in R/generate.R).

    With a count likelihood only the sampled counts travel (sparse); R derives ``sizeFactors`` and log2
    ``logcounts`` from them as ``scuttle::logNormCounts`` does. Otherwise the decoder's expected
    ``log1p(counts per target_sum)`` travels as assay ``log1pCP10k``, rescaled to 10,000 counts per cell.
    """
    import anndata as ad
    import numpy as np
    import scipy.sparse as sp

    from scdiffusion.data.sce import encode_adata

    params = dict(adata.uns.get("scdiffusion", {}))
    if "counts" in adata.layers:
        out = ad.AnnData(obs=adata.obs, var=adata.var, layers={"counts": sp.csr_matrix(adata.layers["counts"])})
    else:
        x = np.asarray(adata.X, dtype=np.float64)
        target_sum = float(model.preprocessor.target_sum)
        if target_sum != 1e4:
            x = np.log1p(np.expm1(x) * (1e4 / target_sum))
        out = ad.AnnData(obs=adata.obs, var=adata.var, layers={LOG1P_ASSAY: x})
    for k in adata.obsm.keys():
        out.obsm[k] = adata.obsm[k]
    return encode_adata(out, params=params)


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
    model = _load(model_dir)
    return _generated(model.generate(n_cells, condition or None, **options), model)


@_r_call
def interpolate(model_dir, sce, labels_key, start, end, **options):
    """``interpolate()``: the start cells arrive as an encoded SingleCellExperiment (counts in ``X``)."""
    from scdiffusion.data.sce import decode_sce

    model = _load(model_dir)
    return _generated(model.interpolate(decode_sce(sce), labels_key, start, end, **options), model)


@_r_call
def evaluate(real, generated, train=None, **options):
    """``evaluateGeneration()``: the metric suite's JSON (``train``: the encoded training cells, or None)."""
    from scdiffusion.data.sce import _builtin, decode_sce
    from scdiffusion.evaluation import evaluate as run_evaluation

    train = None if train is None else decode_sce(train)
    return json.dumps(_builtin(run_evaluation(decode_sce(real), decode_sce(generated), train=train, **options)))


@_r_call
def comparison(real, generated, labels_key=None, max_cells=10000, seed=0):
    """``plotComparison()``: the per-cell, per-gene and fold-change tables behind the comparison panels."""
    from scdiffusion.data.sce import decode_sce
    from scdiffusion.evaluation import comparison_data

    data = comparison_data(decode_sce(real), decode_sce(generated), labels_key,
                           max_cells=None if max_cells is None else int(max_cells), seed=int(seed))
    tables = {k: (None if data[k] is None else {c: data[k][c].tolist() for c in data[k].columns})
              for k in ("cells", "genes", "lfc")}
    return json.dumps({**tables, "skipped": data["skipped"]})


@_r_call
def check_rds(path):
    """``rdsToPlain()``: refuse an ``.rds`` file that could run code when R reads it (before ``readRDS``)."""
    from scdiffusion.data.rds_safety import check_rds as check

    check(path)
