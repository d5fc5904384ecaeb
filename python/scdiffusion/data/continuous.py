"""Continuous conditions: ordered numeric ``obs`` columns (times, doses) the denoiser is conditioned on by value.

A :class:`ContinuousRegistry` records a column's trained range; values are normalised to ``[0, 1]`` over it
(values outside are extrapolation: allowed, with a warning, when generating).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .validation import InputError

logger = logging.getLogger(__name__)

#: Distinct training values recorded with the model (the first ones, sorted), for messages and the record.
MAX_RECORDED_VALUES = 50


@dataclass(frozen=True)
class ContinuousRegistry:
    """One continuous column: its trained range (``low``, ``high``) and its first distinct training values."""

    key: str
    low: float
    high: float
    values: tuple[float, ...] = ()
    #: how the training values were spread within time points (:mod:`.pseudotime`); None: not asked for
    pseudotime: dict | None = None

    def normalise(self, values) -> np.ndarray:
        """``(v − low) / (high − low)`` as float32 (0 and 1 at the ends of the trained range)."""
        return ((np.asarray(values, dtype=np.float64) - self.low) / (self.high - self.low)).astype(np.float32)

    def to_dict(self) -> dict:
        d = {"key": self.key, "min": self.low, "max": self.high, "values": list(self.values)}
        return d if self.pseudotime is None else {**d, "pseudotime": self.pseudotime}

    @classmethod
    def from_dict(cls, d: dict) -> ContinuousRegistry:
        return cls(key=str(d["key"]), low=float(d["min"]), high=float(d["max"]),
                   values=tuple(float(v) for v in d.get("values", ())), pseudotime=d.get("pseudotime"))


def numeric_column(obs: pd.DataFrame, key: str) -> np.ndarray:
    """The values of a continuous column as float64, with errors that say how to fix the column."""
    if key not in obs.columns:
        cols = ", ".join(map(str, list(obs.columns)[:20])) or "none"
        raise InputError(f"continuous_keys: column '{key}' is not in obs (colData). Columns: {cols}.")
    col = obs[key]
    if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object or pd.api.types.is_string_dtype(col):
        values = pd.to_numeric(col.astype(object).where(col.notna(), None), errors="coerce")
        bad = col.notna() & values.isna()
        if bad.any():
            examples = ", ".join(repr(str(v)) for v in pd.unique(col[bad].astype(str))[:5])
            raise InputError(f"continuous_keys: column '{key}' has values that are not numbers ({examples}); a "
                             "continuous column holds ordered numbers such as times or doses (e.g. '0', '24', '72'). "
                             "Convert it (e.g. strip units: '24h' -> 24), or use it as labels_keys instead.")
    elif pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        raise InputError(f"continuous_keys: column '{key}' has dtype {col.dtype}, not numbers; give a numeric "
                         "column (times, doses), or use it as labels_keys instead.")
    else:
        values = col
    values = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(values)
    if missing.any():
        raise InputError(f"continuous_keys: column '{key}' has {int(missing.sum())} missing or infinite value(s) "
                         f"(NaN/Inf), the first in cell '{obs.index[int(np.argmax(missing))]}'; give every cell a "
                         "finite value, or drop those cells before training.")
    return values


def fit_continuous(obs: pd.DataFrame, keys: Sequence[str], x=None, seed: int = 0, auto: bool = False) -> tuple[
        dict[str, ContinuousRegistry], dict[str, np.ndarray]]:
    """Check the continuous columns of the training cells: ``(registries, normalised value of every cell)``.

    With ``x`` (the cells' log-normalised expression), the values of a time-course column are spread within its
    time points along the expression (:func:`.pseudotime.pseudotime_values`, seeded by ``seed``; with ``auto``
    only where expression predicts them well out of sample); the registry's range stays the measured one."""
    keys = [keys] if isinstance(keys, str) else list(keys or [])
    if len(set(keys)) != len(keys):
        raise InputError(f"continuous_keys has duplicates: {keys}.")
    registries, values = {}, {}
    for key in keys:
        v = numeric_column(obs, key)
        distinct = np.unique(v)
        if len(distinct) < 2:
            only = f"{distinct[0]:g}" if len(distinct) else "none"
            raise InputError(f"continuous_keys: column '{key}' has a single value ({only}) in the training cells; a "
                             "continuous condition needs at least 2 distinct values "
                             "(e.g. several time points). Leave the column out.")
        spread = None
        if x is not None:
            from .pseudotime import pseudotime_values

            v, spread = pseudotime_values(v, x, seed=seed, key=key, auto=auto)
        reg = ContinuousRegistry(key, float(distinct[0]), float(distinct[-1]),
                                 tuple(float(d) for d in distinct[:MAX_RECORDED_VALUES]), spread)
        registries[key], values[key] = reg, reg.normalise(v)
    return registries, values


def condition_values(key: str, value, n_cells: int, registry: ContinuousRegistry) -> np.ndarray:
    """A condition on a continuous column (one number, or ``n_cells`` numbers) as ``n_cells`` raw values; values
    outside the trained range are allowed (extrapolation) and logged as a warning."""
    scalar = isinstance(value, (str, bytes)) or np.ndim(value) == 0
    items = [value] if scalar else list(value)
    out = []
    for i, v in enumerate(items):
        try:
            x = float(v)
        except (TypeError, ValueError):
            x = None
        if x is None or isinstance(v, bool) or not np.isfinite(x):
            where = "" if scalar else f" at position {i}"
            raise InputError(f"condition['{key}'] must be a finite number for the continuous column '{key}' "
                             f"(trained on {registry.low:g} to {registry.high:g}), got {v!r}{where}; e.g. "
                             f"{{'{key}': {(registry.low + registry.high) / 2:g}}}.")
        out.append(x)
    if not scalar and len(out) != n_cells:
        raise InputError(f"condition['{key}'] has {len(out)} values; give one value or n_cells ({n_cells}) values.")
    arr = np.full(n_cells, out[0]) if scalar else np.asarray(out)
    outside = (arr < registry.low) | (arr > registry.high)
    if outside.any():
        logger.warning("condition['%s']: %d value(s) outside the trained range [%g, %g] (e.g. %g): extrapolating, "
                       "the model has not seen such values.", key, int(outside.sum()), registry.low, registry.high,
                       float(arr[outside][0]))
    return arr
