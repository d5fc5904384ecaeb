"""Bridge between the scDiffusion R package and the Python core.

Every function takes and returns plain builtin objects only (dict, list, str, int, float, bool, None and
bytes/bytearray), so that reticulate never has to convert numpy arrays or scipy matrices: numeric matrices
travel as little-endian raw bytes. The R side (R/convert.R) writes and reads the same layout.

Matrix encoding (cells x genes, as AnnData stores them):
  {"kind": "dense", "data": <f8 bytes, C order cells x genes = R column-major genes x cells>}
  {"kind": "csr", "data": <f8>, "indices": <i4>, "indptr": <i4>}  (= the i/p/x slots of an R dgCMatrix)
Data frame encoding: {"names": [..], "columns": [col, ..]}, each col a dict with "type" in
  double | integer | logical | character | factor.
"""

from __future__ import annotations

import json
import math
import traceback

import numpy as np
import pandas as pd

R_KEY = "_scDiffusion_R"
INT_NA = -2147483648


# ---------------------------------------------------------------------------- small helpers
def _f8(buf, n=None):
    a = np.frombuffer(bytes(buf), dtype="<f8")
    if n is not None and a.size != n:
        raise ValueError(f"expected {n} doubles, got {a.size}")
    return a


def _b(a, dtype):
    """Array -> bytearray of little-endian values (reticulate turns bytearray into an R raw vector)."""
    return bytearray(np.ascontiguousarray(np.asarray(a), dtype=dtype).tobytes())


def _i4(buf):
    return np.frombuffer(bytes(buf), dtype="<i4")


def _strs(x):
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return [str(v) for v in x]


def _builtin(x):
    """numpy / pandas objects -> JSON-able builtins."""
    if isinstance(x, dict):
        return {str(k): _builtin(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_builtin(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_builtin(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


# ---------------------------------------------------------------------------- matrices
def decode_matrix(enc, n_obs, n_vars):
    import scipy.sparse as sp

    if enc["kind"] == "dense":
        return _f8(enc["data"], n_obs * n_vars).reshape(n_obs, n_vars).copy()
    if enc["kind"] == "csr":
        data = _f8(enc["data"]).copy()
        indices = _i4(enc["indices"]).copy()
        indptr = _i4(enc["indptr"]).copy()
        return sp.csr_matrix((data, indices, indptr), shape=(n_obs, n_vars))
    raise ValueError(f"unknown matrix kind {enc['kind']!r}")


def encode_matrix(x):
    import scipy.sparse as sp

    if sp.issparse(x):
        x = sp.csr_matrix(x)
        x.sort_indices()
        return {"kind": "csr", "data": _b(x.data, "<f8"),
                "indices": _b(x.indices, "<i4"),
                "indptr": _b(x.indptr, "<i4")}
    x = np.asarray(x)
    return {"kind": "dense", "data": _b(x, "<f8")}


def decode_dense_cols(enc, n_rows):
    """Column-major (R) matrix of n_rows rows."""
    a = _f8(enc["data"])
    k = a.size // n_rows if n_rows else 0
    return a.reshape((n_rows, k), order="F").copy()


def encode_dense_cols(a):
    a = np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype="<f8")
    if a.ndim == 1:
        a = a[:, None]
    return {"data": bytearray(a.tobytes(order="F")), "ncol": int(a.shape[1])}


# ---------------------------------------------------------------------------- data frames
def decode_column(col, n):
    t = col["type"]
    na = _i4(col["na"]).astype(bool) if col.get("na") is not None else np.zeros(n, dtype=bool)
    if t == "double":
        return _f8(col["data"], n).copy()
    if t == "integer":
        v = _i4(col["data"]).astype(np.int32)
        return pd.arrays.IntegerArray(v.copy(), na.copy()) if na.any() else v.copy()
    if t == "logical":
        v = _i4(col["data"]).astype(bool)
        return pd.arrays.BooleanArray(v.copy(), na.copy()) if na.any() else v.copy()
    if t == "character":
        vals = _strs(col["values"])
        return np.array([None if m else s for s, m in zip(vals, na)], dtype=object)
    if t == "factor":
        codes = _i4(col["data"]).astype(np.int64) - 1
        codes[na] = -1
        return pd.Categorical.from_codes(codes, categories=_strs(col["levels"]), ordered=bool(col.get("ordered")))
    raise ValueError(f"unknown column type {t!r}")


def decode_frame(enc, index):
    names = _strs(enc["names"])
    cols = enc["columns"] or []
    n = len(index)
    data = {name: decode_column(col, n) for name, col in zip(names, cols)}
    return pd.DataFrame(data, index=pd.Index(index, dtype=object), columns=names)


def encode_column(s: pd.Series):
    dt = s.dtype
    if isinstance(dt, pd.CategoricalDtype):
        codes = np.asarray(s.cat.codes, dtype=np.int64)
        na = codes < 0
        return {"type": "factor", "data": _b(np.where(na, 0, codes + 1), "<i4"),
                "na": _b(na, "<i4"), "levels": [str(c) for c in s.cat.categories],
                "ordered": bool(dt.ordered)}
    if pd.api.types.is_bool_dtype(dt):
        na = s.isna().to_numpy()
        v = s.fillna(False).to_numpy(dtype=bool)
        return {"type": "logical", "data": _b(v, "<i4"), "na": _b(na, "<i4")}
    if pd.api.types.is_integer_dtype(dt):
        na = s.isna().to_numpy()
        v = s.fillna(0).to_numpy(dtype=np.int64)
        if v.size and (v.max() > 2**31 - 1 or v.min() <= INT_NA):
            return {"type": "double", "data": _b(np.where(na, np.nan, v), "<f8")}
        return {"type": "integer", "data": _b(v, "<i4"), "na": _b(na, "<i4")}
    if pd.api.types.is_float_dtype(dt):
        if isinstance(dt, np.dtype):
            return {"type": "double", "data": _b(s.to_numpy(), "<f8")}
        return {"type": "double", "data": _b(s.to_numpy(dtype="<f8", na_value=np.nan), "<f8")}
    na = s.isna().to_numpy()
    vals = ["" if m else str(v) for v, m in zip(s.tolist(), na)]
    return {"type": "character", "values": vals, "na": _b(na, "<i4")}


def encode_frame(df: pd.DataFrame):
    return {"names": [str(c) for c in df.columns], "columns": [encode_column(df[c]) for c in df.columns]}


# ---------------------------------------------------------------------------- AnnData <-> encoded SCE
def decode_sce(enc):
    """Encoded SingleCellExperiment (from R) -> AnnData."""
    import anndata as ad

    n_obs, n_vars = int(enc["n_obs"]), int(enc["n_vars"])
    obs_names = _strs(enc["obs_names"])
    var_names = _strs(enc["var_names"])
    assays = enc.get("assays") or {}
    x_name = enc.get("x_name")
    obs = decode_frame(enc["obs"], obs_names) if enc.get("obs") else pd.DataFrame(index=obs_names)
    var = decode_frame(enc["var"], var_names) if enc.get("var") else pd.DataFrame(index=var_names)
    X = decode_matrix(assays[x_name], n_obs, n_vars) if x_name else None
    layers = {k: decode_matrix(v, n_obs, n_vars) for k, v in assays.items() if k != x_name}
    adata = ad.AnnData(X=X, obs=obs, var=var, layers=layers or None)
    if X is None:
        adata = ad.AnnData(obs=obs, var=var, layers=layers or None)
    for k, v in (enc.get("obsm") or {}).items():
        adata.obsm[k] = decode_dense_cols(v, n_obs)
    r_meta = dict(enc.get("r_meta") or {})
    r_meta["x_name"] = x_name
    adata.uns[R_KEY] = json.dumps(_builtin(r_meta))
    return adata


def encode_adata(adata, x_name="X", params=None):
    """AnnData -> encoded SingleCellExperiment (for R)."""
    r_meta = {}
    if R_KEY in adata.uns:
        try:
            r_meta = json.loads(adata.uns[R_KEY])
        except (TypeError, ValueError):
            r_meta = {}
    x_name = r_meta.get("x_name") or x_name
    assays = {}
    if adata.X is not None:
        assays[x_name] = encode_matrix(adata.X)
    for k in adata.layers.keys():
        assays[k] = encode_matrix(adata.layers[k])
    return {
        "n_obs": int(adata.n_obs), "n_vars": int(adata.n_vars),
        "obs_names": [str(s) for s in adata.obs_names], "var_names": [str(s) for s in adata.var_names],
        "assays": assays, "assay_names": list(assays),
        "obs": encode_frame(adata.obs), "var": encode_frame(adata.var),
        "obsm": {str(k): encode_dense_cols(adata.obsm[k]) for k in adata.obsm.keys()},
        "obsm_names": [str(k) for k in adata.obsm.keys()],
        "r_meta": json.dumps(_builtin(r_meta)),
        "params": json.dumps(_builtin(params)) if params is not None else None,
    }


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
                         sampler=str(args.get("sampler", "ddpm")), n_steps=_opt_int(args.get("n_steps")),
                         seed=int(args.get("seed", 0)), progress=bool(args.get("progress", False)))
    params = dict(out.uns.get("scdiffusion", {}))
    return encode_adata(out, x_name="logcounts", params=params)


def op_interpolate(args):
    model = _load(args["model_dir"])
    cells = decode_sce(args["sce"])
    out = model.interpolate(cells, str(args["labels_key"]), str(args["start"]), str(args["end"]),
                            n_states=int(args["n_states"]), n_cells=int(args["n_cells"]),
                            t_start=int(args["t_start"]), guidance_scale=float(args["guidance_scale"]),
                            sampler=str(args.get("sampler", "ddpm")), n_steps=_opt_int(args.get("n_steps")),
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
