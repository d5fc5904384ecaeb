"""Write an evaluation report (metrics.json, PNG figures, report.md) atomically."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..atomic import atomic_dir, check_output_dir
from .markdown import render_markdown
from .panels import comparison_data
from .suite import evaluate

logger = logging.getLogger(__name__)

__all__ = ["write_report", "render_markdown"]


#: Why ``quick=True`` draws no UMAP.
QUICK_SKIPS_UMAP = ("quick mode: left out (the neighbour graph's just-in-time compilation and the embedding take "
                    "20-40 s on a 2-core machine); run without --quick for the UMAP")
_PANEL_KWARGS = ("real_counts_layer", "generated_counts_layer", "min_cells_per_label")
_PANEL_FILES = {"cells": "comparison.png", "lfc": "fold_changes.png"}


def write_report(
    real: Any,
    generated: Any,
    output_dir: str | Path,
    labels_key: str | None = None,
    history: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    quick: bool = False,
    overwrite: bool = False,
    train: Any | None = None,
    **evaluate_kwargs: Any,
) -> Path:
    """Evaluate generated cells and write ``metrics.json``, PNG figures and ``report.md``.

    Everything is first written to a temporary directory next to ``output_dir``
    which is then swapped into place (:func:`scdiffusion.atomic.atomic_dir`), so a crash never leaves a
    half-written report behind.

    Parameters
    ----------
    real, generated
        AnnData objects (see :func:`~scdiffusion.evaluation.evaluate` for scales and counts).
    output_dir
        Directory to create. It must not exist or be empty, unless ``overwrite`` and it is a report folder that
        scDiffusion wrote (its marker file says so); any other folder is never replaced.
    labels_key
        Optional ``.obs`` cell-type column present in both.
    history
        Optional training history ``{stage: {"step", "train_loss", "val_loss"}}``;
        adds a loss-curve figure.
    seed, quick
        Passed to :func:`~scdiffusion.evaluation.evaluate` and the figures; ``quick`` also leaves out the UMAP
        (the report says so).
    overwrite
        Replace an existing report folder written by scDiffusion.
    train
        Optional training cells for the memorisation check.
    **evaluate_kwargs
        Further keyword arguments for :func:`~scdiffusion.evaluation.evaluate` (e.g. ``real_counts_layer``,
        ``generated_counts_layer``, ``de_pairs``); the counts layers also apply to the comparison figures.

    Returns
    -------
    pathlib.Path
        ``output_dir``.

    Raises
    ------
    scdiffusion.errors.InputError
        If ``output_dir`` is a file, or a non-empty folder that may not be replaced (see ``overwrite``).
    """
    from ..plotting import (
        plot_count_comparison,
        plot_fold_changes,
        plot_loss_curves,
        plot_marker_violins,
        plot_qq,
        plot_umap,
    )

    output_dir = check_output_dir(Path(output_dir).resolve(), overwrite=overwrite, kind="report")
    results = evaluate(real, generated, labels_key=labels_key, train=train, seed=seed,
                       quick=quick, **evaluate_kwargs)

    with atomic_dir(output_dir, "report", overwrite=overwrite) as tmp:
        with open(tmp / "metrics.json", "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2, allow_nan=False)

        figures: dict[str, str] = {}
        errors: dict[str, str] = {}
        max_cells = 2000 if quick else 5000
        jobs: list[tuple[str, str, Callable[[Path], Path]]] = [
            ("QQ plots of highly variable genes", "qq.png",
             lambda p: plot_qq(real, generated, p, labels_key=labels_key)),
        ]
        if quick:
            errors["umap.png"] = QUICK_SKIPS_UMAP
        else:
            jobs.insert(0, ("UMAP of real and generated cells", "umap.png",
                            lambda p: plot_umap(real, generated, p, labels_key=labels_key, seed=seed,
                                                max_cells=max_cells)))
        if labels_key is not None:
            jobs.append(("Marker genes: real vs generated vs other real types", "violins.png",
                         lambda p: plot_marker_violins(real, generated, labels_key, p)))
        try:
            panels = comparison_data(real, generated, labels_key, max_cells=max_cells, seed=seed,
                                     **{k: v for k, v in evaluate_kwargs.items() if k in _PANEL_KWARGS})
        except Exception as exc:  # noqa: BLE001 - a failed figure must not lose the report
            panels = {"cells": None, "lfc": None, "skipped": {k: f"{type(exc).__name__}: {exc}"
                                                              for k in _PANEL_FILES}}
        errors.update({_PANEL_FILES[k]: why for k, why in panels["skipped"].items() if k in _PANEL_FILES})
        if panels["cells"] is not None:
            jobs.append(("Count-level properties, real vs generated (compareSCEs-style)", "comparison.png",
                         lambda p: plot_count_comparison(panels["cells"], panels["genes"], p, seed=seed)))
        if panels["lfc"] is not None:
            jobs.append(("Log2 fold changes per label vs the rest: real vs generated", "fold_changes.png",
                         lambda p: plot_fold_changes(panels["lfc"], p)))
        if history:
            jobs.append(("Training loss", "loss.png", lambda p: plot_loss_curves(history, p)))
        for caption, fname, draw in jobs:
            try:
                draw(tmp / fname)
                figures[caption] = fname
            except Exception as exc:  # noqa: BLE001 - a failed figure must not lose the report
                logger.warning("Figure %s failed: %s: %s", fname, type(exc).__name__, exc)
                errors[fname] = f"{type(exc).__name__}: {exc}"

        (tmp / "report.md").write_text(render_markdown(results, figures, errors), encoding="utf-8")
    logger.info("Report written to %s", output_dir)
    return output_dir
