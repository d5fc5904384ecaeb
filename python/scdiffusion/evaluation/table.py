"""An evaluation result as one flat table: a row per metric (what R's evaluateGeneration returns)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["TABLE_COLUMNS", "results_table"]

#: Columns of :func:`results_table`, in order.
TABLE_COLUMNS = ("group", "value", "matched", "control", "threshold", "pass", "ideal", "better", "space", "description",
                 "skipped", "error")


def results_table(results: Mapping[str, Any]) -> Any:
    """One row per metric of an :func:`~scdiffusion.evaluation.evaluate` result.

    Parameters
    ----------
    results
        The dict returned by ``evaluate`` (or read back from ``metrics.json``).

    Returns
    -------
    pandas.DataFrame
        Indexed by metric name, with the columns :data:`TABLE_COLUMNS`; nested details (``per_label`` etc.)
        stay in ``results``.
    """
    import pandas as pd

    rows = {name: {c: entry.get(c) for c in TABLE_COLUMNS} for name, entry in results.items()
            if name != "meta" and isinstance(entry, Mapping)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE_COLUMNS))
