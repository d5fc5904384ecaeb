"""NumPy / pandas values → JSON-serialisable Python builtins (one helper for metrics, reports and the R bridge)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def to_builtin(obj: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """Recursively convert NumPy scalars/arrays (and dicts, lists, tuples of them) to Python builtins.

    Non-finite floats become ``None`` so that the result is strict JSON. Other objects are passed to
    ``default`` (e.g. ``str``) when given, else returned unchanged.
    """
    if isinstance(obj, dict):
        return {str(k): to_builtin(v, default) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_builtin(v, default) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_builtin(v, default) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return default(obj) if default is not None else obj
