"""The plain-object SingleCellExperiment protocol: AnnData ↔ nested builtins shared with R.

An SCE is exchanged with R as nested plain objects only (dict, list, str, int, float, bool, None and
bytes/bytearray), so that neither reticulate (the R package's bridge, ``inst/bridge/scdiffusion_rbridge.py``)
nor rpy2 (:mod:`scdiffusion.data.rds`) ever converts a numpy array or a scipy matrix: numeric vectors travel
as little-endian raw bytes. The R side (``R/convert.R``: ``.encode_sce`` / ``.decode_sce``) writes and reads
the same layout; this module is the only Python implementation of it.

Matrix encoding (cells × genes, as AnnData stores them)::

    {"kind": "dense", "data": <f8 bytes, C order cells x genes = R column-major genes x cells>}
    {"kind": "csr", "data": <f8>, "indices": <i4>, "indptr": <i4>}  (= the x/i/p slots of an R dgCMatrix)

Data frame encoding: ``{"names": [..], "columns": [col, ..]}``, each col a dict with ``"type"`` in
double | integer | logical | character | factor (``"na"``: i4 mask of missing values).

An SCE from R (``.encode_sce``) carries ``n_obs``, ``n_vars``, ``obs_names``, ``var_names``, ``assays``
(name → matrix), ``x_name`` (the assay that becomes ``X``), ``obs``/``var`` frames, ``obsm`` (name →
``{"data": <f8 column-major>}``) and ``r_meta`` (what AnnData cannot hold: NULL dimnames, integer assays,
assay order, reduced-dimension column names), which :func:`decode_sce` keeps as JSON in ``uns[R_KEY]`` so that
:func:`encode_adata` restores it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from .._json import to_builtin

R_KEY = "_scDiffusion_R"
"""``uns`` key holding (as JSON) what R knows about the object and AnnData cannot hold."""

INT_NA = -2147483648
"""R's ``NA_integer_``."""


# ---------------------------------------------------------------------------- small helpers
def _f8(buf: bytes | bytearray, n: int | None = None) -> np.ndarray:
    """Little-endian doubles from raw bytes (read-only view)."""
    a = np.frombuffer(bytes(buf), dtype="<f8")
    if n is not None and a.size != n:
        raise ValueError(f"expected {n} doubles, got {a.size}")
    return a


def _b(a: Any, dtype: str) -> bytearray:
    """Array -> bytearray of little-endian values (reticulate turns bytearray into an R raw vector)."""
    return bytearray(np.ascontiguousarray(np.asarray(a), dtype=dtype).tobytes())


def _i4(buf: bytes | bytearray) -> np.ndarray:
    """Little-endian 32-bit integers from raw bytes (read-only view)."""
    return np.frombuffer(bytes(buf), dtype="<i4")


def _strs(x: Any) -> list[str]:
    """A character vector from R (None, one string or a list of strings) as a list of str."""
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return [str(v) for v in x]


def _builtin(x: Any) -> Any:
    """numpy / pandas objects -> JSON-able builtins (anything else as its string)."""
    return to_builtin(x, default=str)


# ---------------------------------------------------------------------------- matrices
def decode_matrix(enc: dict, n_obs: int, n_vars: int):
    """Encoded matrix -> float64 numpy array (dense) or CSR matrix (from a dgCMatrix), cells × genes."""
    import scipy.sparse as sp

    if enc["kind"] == "dense":
        return _f8(enc["data"], n_obs * n_vars).reshape(n_obs, n_vars).copy()
    if enc["kind"] == "csr":
        data = _f8(enc["data"]).copy()
        indices = _i4(enc["indices"]).copy()
        indptr = _i4(enc["indptr"]).copy()
        return sp.csr_matrix((data, indices, indptr), shape=(n_obs, n_vars))
    raise ValueError(f"unknown matrix kind {enc['kind']!r}")


def encode_matrix(x: Any) -> dict:
    """Dense or sparse cells × genes matrix -> encoded matrix (values as doubles; explicit zeros kept)."""
    import scipy.sparse as sp

    if sp.issparse(x):
        x = sp.csr_matrix(x)
        x.sort_indices()
        return {"kind": "csr", "data": _b(x.data, "<f8"),
                "indices": _b(x.indices, "<i4"),
                "indptr": _b(x.indptr, "<i4")}
    x = np.asarray(x)
    return {"kind": "dense", "data": _b(x, "<f8")}


def decode_dense_cols(enc: dict, n_rows: int) -> np.ndarray:
    """Column-major (R) matrix of n_rows rows."""
    a = _f8(enc["data"])
    k = a.size // n_rows if n_rows else 0
    return a.reshape((n_rows, k), order="F").copy()


def encode_dense_cols(a: Any) -> dict:
    """Matrix (or vector: one column) -> ``{"data": <f8 column-major>, "ncol": k}``."""
    a = np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype="<f8")
    if a.ndim == 1:
        a = a[:, None]
    return {"data": bytearray(a.tobytes(order="F")), "ncol": int(a.shape[1])}


# ---------------------------------------------------------------------------- data frames
def decode_column(col: dict, n: int):
    """Encoded column -> numpy array, pandas nullable array (integer/logical with NA) or Categorical."""
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


def decode_frame(enc: dict, index: list[str]) -> pd.DataFrame:
    """Encoded data frame -> DataFrame with ``index`` as its (object) index."""
    names = _strs(enc["names"])
    cols = enc["columns"] or []
    n = len(index)
    data = {name: decode_column(col, n) for name, col in zip(names, cols)}
    return pd.DataFrame(data, index=pd.Index(index, dtype=object), columns=names)


def encode_column(s: pd.Series) -> dict:
    """Series -> encoded column: category → factor, bool → logical, int → integer (double past int32),
    float → double, anything else → character."""
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


def encode_frame(df: pd.DataFrame) -> dict:
    """DataFrame -> encoded data frame (the index is sent separately, as dimnames)."""
    return {"names": [str(c) for c in df.columns], "columns": [encode_column(df[c]) for c in df.columns]}


# ---------------------------------------------------------------------------- AnnData <-> encoded SCE
def decode_sce(enc: dict):
    """Encoded SingleCellExperiment (from R's ``.encode_sce``) -> AnnData.

    ``x_name``'s assay becomes ``X``, the other assays ``layers``, colData ``obs``, rowData ``var``, reduced
    dimensions ``obsm``; what AnnData cannot hold is kept as JSON in ``uns[R_KEY]``.
    """
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


def encode_adata(adata, x_name: str = "X", params: dict | None = None) -> dict:
    """AnnData -> encoded SingleCellExperiment (for R's ``.decode_sce``).

    ``X`` becomes the assay ``x_name`` (unless ``uns[R_KEY]`` names it), ``layers`` the other assays;
    ``params`` (JSON-able) travel as a JSON string for the SCE's metadata.
    """
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
