"""Write an evaluation report (metrics.json, PNG figures, report.md) atomically."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from .suite import evaluate

logger = logging.getLogger(__name__)

__all__ = ["write_report", "render_markdown"]


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _check_target(output_dir: Path, overwrite: bool) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise FileExistsError(f"{output_dir} exists and is not a directory; choose another output_dir.")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{output_dir} already exists and is not empty. Choose a new output_dir or pass "
            "overwrite=True to replace it."
        )


def render_markdown(results: Mapping[str, Any], figures: Mapping[str, str],
                    figure_errors: Mapping[str, str] | None = None) -> str:
    """Render the Markdown report from :func:`~scdiffusion.metrics.evaluate` results.

    Parameters
    ----------
    results
        Output of :func:`~scdiffusion.metrics.evaluate`.
    figures
        ``{caption: relative PNG path}`` to embed.
    figure_errors
        ``{figure name: error}`` for figures that could not be drawn.

    Returns
    -------
    str
        Markdown text.
    """
    meta = results.get("meta", {})
    lines = [
        "# scDiffusion evaluation report",
        "",
        f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        f"- Real cells: {meta.get('n_real_cells')} (used: {meta.get('n_real_cells_used')})",
        f"- Generated cells: {meta.get('n_generated_cells')} (used: {meta.get('n_generated_cells_used')})",
        f"- Genes: {meta.get('n_genes')}; principal components: {meta.get('n_comps')}",
        f"- Labels key: {meta.get('labels_key')}; seed: {meta.get('seed')}; quick: {meta.get('quick')}",
    ]
    for side, how in (meta.get("scale") or {}).items():
        lines.append(f"- Input scale ({side}): {how}")
    lines += ["", "## Metrics", "",
              "| metric | value | ideal | better | space |",
              "|---|---|---|---|---|"]
    for name, entry in results.items():
        if name == "meta" or not isinstance(entry, Mapping):
            continue
        value = _fmt(entry.get("value"))
        if entry.get("error"):
            value = f"failed: {entry['error']}"
        elif entry.get("skipped"):
            value = f"skipped: {entry['skipped']}"
        lines.append(f"| {name} | {value} | {_fmt(entry.get('ideal'))} | "
                     f"{entry.get('better', '')} | {entry.get('space', '')} |")
    lines.append("")
    lines.append("AUC and 1-NN accuracy: 0.5 = generated cells indistinguishable from real ones.")

    extras = {k: results[k] for k in ("memorization", "zero_fraction_gap", "mean_variance_agreement")
              if isinstance(results.get(k), Mapping)}
    for name, entry in extras.items():
        detail = {k: v for k, v in entry.items()
                  if k not in ("value", "space", "ideal", "better", "description", "seconds")
                  and not isinstance(v, (dict, list))}
        if detail:
            lines += ["", f"### {name}", "", "| quantity | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in detail.items()]

    per = results.get("knn_auc_per_label", {}).get("per_label") if isinstance(
        results.get("knn_auc_per_label"), Mapping) else None
    if per:
        lines += ["", "### kNN AUC per label", "", "| label | AUC | n real | n generated |",
                  "|---|---|---|---|"]
        lines += [f"| {lab} | {_fmt(e.get('auc'))} | {e.get('n_real')} | {e.get('n_generated')} |"
                  for lab, e in per.items()]
    for key in ("label_classifier_accuracy", "celltypist_accuracy"):
        entry = results.get(key)
        if not isinstance(entry, Mapping) or not entry.get("per_label"):
            continue
        lines += ["", f"### {key}", "",
                  f"Generated: {_fmt(entry.get('generated_accuracy'))}; held-out real (control): "
                  f"{_fmt(entry.get('heldout_real_accuracy'))}.", "",
                  "| label | generated acc. | n gen. | held-out real acc. | n held-out |",
                  "|---|---|---|---|---|"]
        lines += [f"| {lab} | {_fmt(e.get('generated_accuracy'))} | {e.get('n_generated')} | "
                  f"{_fmt(e.get('heldout_real_accuracy'))} | {e.get('n_heldout_real')} |"
                  for lab, e in entry["per_label"].items()]

    if figures or figure_errors:
        lines += ["", "## Figures", ""]
        for caption, rel in figures.items():
            lines += [f"### {caption}", "", f"![{caption}]({rel})", ""]
        for name, err in (figure_errors or {}).items():
            lines += [f"- Figure `{name}` could not be drawn: {err}"]
    return "\n".join(lines).rstrip() + "\n"


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
    which is then renamed into place, so a crash never leaves a half-written
    report behind.

    Parameters
    ----------
    real, generated
        AnnData objects (see :func:`~scdiffusion.metrics.evaluate` for scales).
    output_dir
        Directory to create. It must not exist or be empty unless ``overwrite``.
    labels_key
        Optional ``.obs`` cell-type column present in both.
    history
        Optional training history ``{stage: {"step", "train_loss", "val_loss"}}``;
        adds a loss-curve figure.
    seed, quick
        Passed to :func:`~scdiffusion.metrics.evaluate` and the figures.
    overwrite
        Replace an existing non-empty ``output_dir``.
    train
        Optional training cells for the memorisation check.
    **evaluate_kwargs
        Further keyword arguments for :func:`~scdiffusion.metrics.evaluate`.

    Returns
    -------
    pathlib.Path
        ``output_dir``.

    Raises
    ------
    FileExistsError
        If ``output_dir`` is a non-empty directory (or a file) and ``overwrite`` is False.
    """
    from ..plotting import plot_loss_curves, plot_marker_violins, plot_qq, plot_umap

    output_dir = Path(output_dir).resolve()
    _check_target(output_dir, overwrite)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    results = evaluate(real, generated, labels_key=labels_key, train=train, seed=seed,
                       quick=quick, **evaluate_kwargs)

    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.tmp-", dir=output_dir.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        with open(tmp / "metrics.json", "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2, allow_nan=False)

        figures: dict[str, str] = {}
        errors: dict[str, str] = {}
        max_cells = 2000 if quick else 5000
        jobs: list[tuple[str, str, Callable[[Path], Path]]] = [
            ("UMAP of real and generated cells", "umap.png",
             lambda p: plot_umap(real, generated, p, labels_key=labels_key, seed=seed,
                                 max_cells=max_cells)),
            ("QQ plots of highly variable genes", "qq.png",
             lambda p: plot_qq(real, generated, p, labels_key=labels_key)),
        ]
        if labels_key is not None:
            jobs.append(("Marker genes: real vs generated vs other real types", "violins.png",
                         lambda p: plot_marker_violins(real, generated, labels_key, p)))
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

        _check_target(output_dir, overwrite)  # the target may have appeared meanwhile
        backup = None
        if output_dir.exists():
            if any(output_dir.iterdir()):
                backup = output_dir.parent / f".{output_dir.name}.old-{os.getpid()}"
                os.replace(output_dir, backup)
            else:
                output_dir.rmdir()
        os.replace(tmp, output_dir)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("Report written to %s", output_dir)
    return output_dir
