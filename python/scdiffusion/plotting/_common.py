"""Shared plotting helpers (matplotlib Agg canvas, no global pyplot state)."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Colours for the two sources.
SOURCE_COLORS = {"real": "#1f77b4", "generated": "#ff7f0e"}


def new_figure(width: float, height: float, dpi: int = 110) -> Any:
    """Create a matplotlib Figure attached to an Agg canvas.

    Using :class:`matplotlib.figure.Figure` with ``FigureCanvasAgg`` renders with the
    Agg backend without touching the global pyplot backend or figure registry.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    """Rows and columns for ``n`` panels."""
    cols = max(1, min(n, max_cols))
    return int(math.ceil(n / cols)), cols


def save_png(fig: Any, path: str | Path) -> Path:
    """Save ``fig`` as PNG to ``path`` (parent folders are created) and return the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"Figures are written as PNG; give a path ending in '.png', got {path}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", bbox_inches="tight")
    logger.info("Wrote %s", path)
    return path


def category_colors(categories: list[str]) -> dict[str, Any]:
    """A distinct colour per category (tab10/tab20 cycling)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(categories) <= 10 else "tab20"]
    return {c: cmap(i % cmap.N) for i, c in enumerate(categories)}
