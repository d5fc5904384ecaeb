"""Bridge between the scDiffusion R package and the Python core.

Every function takes and returns plain builtin objects only (dict, list, str, int, float, bool, None and
bytes/bytearray), so that reticulate never has to convert numpy arrays or scipy matrices: numeric matrices
travel as little-endian raw bytes. The R side (R/convert.R) writes and reads the same layout; the Python side
of that layout lives in the Python core, :mod:`scdiffusion.data.sce` (also used by the rpy2 path,
:mod:`scdiffusion.data.rds`), and is imported from there.
"""

from __future__ import annotations

import json
import traceback

from scdiffusion.data.sce import (  # noqa: F401 - the names the R package has always found here
    INT_NA,
    R_KEY,
    _b,
    _builtin,
    _f8,
    _i4,
    _strs,
    decode_column,
    decode_dense_cols,
    decode_frame,
    decode_matrix,
    decode_sce,
    encode_adata,
    encode_column,
    encode_dense_cols,
    encode_frame,
    encode_matrix,
)


# ---------------------------------------------------------------------------- operations
def _model_summary(model, path):
    return json.dumps(_builtin({
        "path": str(path), "genes": list(model.genes),
        "labels": {k: list(r.categories) for k, r in model.registries.items()},
        "n_latent": model.arch["n_latent"], "hidden": model.arch["hidden"],
        "n_train_cells": model.n_train_cells, "trained": model.is_trained,
        "history": {k: {kk: vv for kk, vv in v.items() if not isinstance(vv, (list, tuple))}
                    for k, v in (model.history or {}).items() if isinstance(v, dict)},
        "device": str(model.device), "version": _version(),
    }))


def _version():
    import scdiffusion

    return scdiffusion.__version__


def op_version(args):
    return _version()


def op_roundtrip(args):
    adata = decode_sce(args["sce"])
    return encode_adata(adata)


def op_train(args):
    from scdiffusion import ScDiffusion

    adata = decode_sce(args["sce"])
    labels = _strs(args.get("labels"))
    margs = dict(args.get("model_args") or {})
    if "hidden" in margs:
        margs["hidden"] = [int(h) for h in (margs["hidden"] if isinstance(margs["hidden"], list) else [margs["hidden"]])]
    for k in ("n_latent", "min_cells", "min_counts", "min_cells_per_label", "seed"):
        if k in margs:
            margs[k] = int(margs[k])
    model = ScDiffusion(adata, labels_keys=labels, layer=None, **margs)
    targs = dict(args.get("train_args") or {})
    stages = {}
    for stage in ("autoencoder", "diffusion", "classifier"):
        over = dict(targs.pop(stage, None) or {})
        for k in ("max_steps", "batch_size", "eval_every", "patience"):
            if k in over and over[k] is not None:
                over[k] = int(over[k])
        stages[stage] = over or None
    model.train(progress=bool(targs.pop("progress", False)), max_time=targs.pop("max_time", None),
                preset=targs.pop("preset", "cpu"), **stages)
    path = model.save(args["model_dir"], overwrite=True)
    return _model_summary(model, path)


_MODEL_CACHE: dict = {}


def _load(path):
    import os

    from scdiffusion import ScDiffusion

    key = (os.path.abspath(path), os.path.getmtime(os.path.join(path, "config.json")))
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = ScDiffusion.load(path, device="auto")
    return _MODEL_CACHE[key]


def op_load(args):
    model = _load(args["model_dir"])
    return _model_summary(model, args["model_dir"])


def _opt_int(x):
    return None if x is None else int(x)


def op_generate(args):
    model = _load(args["model_dir"])
    cond = {str(k): str(v) for k, v in (args.get("condition") or {}).items()}
    gs = args.get("guidance_scale", 2.0)
    gs = {str(k): float(v) for k, v in gs.items()} if isinstance(gs, dict) else float(gs)
    out = model.generate(int(args["n_cells"]), condition=cond or None, guidance_scale=gs,
                         sampler=str(args.get("sampler", "dpmpp-sde")), n_steps=_opt_int(args.get("n_steps")),
                         seed=int(args.get("seed", 0)), progress=bool(args.get("progress", False)))
    params = dict(out.uns.get("scdiffusion", {}))
    return encode_adata(out, x_name="logcounts", params=params)


def op_interpolate(args):
    model = _load(args["model_dir"])
    cells = decode_sce(args["sce"])
    out = model.interpolate(cells, str(args["labels_key"]), str(args["start"]), str(args["end"]),
                            n_states=int(args["n_states"]), n_cells=int(args["n_cells"]),
                            t_start=int(args["t_start"]), guidance_scale=float(args["guidance_scale"]),
                            sampler=str(args.get("sampler", "dpmpp-sde")), n_steps=_opt_int(args.get("n_steps")),
                            seed=int(args.get("seed", 0)), progress=bool(args.get("progress", False)))
    params = dict(out.uns.get("scdiffusion", {}))
    return encode_adata(out, x_name="logcounts", params=params)


def op_evaluate(args):
    from scdiffusion.metrics import evaluate

    real = decode_sce(args["real"])
    gen = decode_sce(args["generated"])
    res = evaluate(real, gen, labels_key=args.get("labels_key"), seed=int(args.get("seed", 0)),
                   quick=bool(args.get("quick", False)), max_cells=_opt_int(args.get("max_cells")),
                   use_celltypist=args.get("use_celltypist"), n_comps=int(args.get("n_comps", 50)))
    return json.dumps(_builtin(res))


OPS = {"version": op_version, "roundtrip": op_roundtrip, "train": op_train, "load": op_load,
       "generate": op_generate, "interpolate": op_interpolate, "evaluate": op_evaluate}


def run(op, args):
    """Run one operation; errors come back as {"error": message} so R can raise them cleanly."""
    try:
        # Inside R, numpy/scipy/torch matrix products may resolve to R's BLAS (OpenBLAS with its own
        # threads): one BLAS thread avoids oversubscription with OpenMP (torch, scikit-learn).
        try:
            from threadpoolctl import threadpool_limits

            limits = threadpool_limits(limits=1, user_api="blas")
        except Exception:  # noqa: BLE001 - threadpoolctl is optional
            limits = None
        try:
            return {"result": OPS[op](args or {})}
        finally:
            if limits is not None:
                limits.restore_original_limits()
    except Exception as exc:  # noqa: BLE001 - surfaced as an R error
        try:
            from scdiffusion.data import InputError
        except ImportError:  # pragma: no cover
            InputError = ValueError  # noqa: N806
        user = isinstance(exc, (InputError, KeyError))
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        return {"error": msg, "class": type(exc).__name__, "user_error": bool(user),
                "traceback": "" if user else traceback.format_exc()}
