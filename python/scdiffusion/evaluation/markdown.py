"""The Markdown text of the evaluation report: verdicts first, then every number, then the figures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..metrics.pca_distances import PER_LABEL

__all__ = ["render_markdown", "GROUP_TITLES"]

#: Section titles of the metric groups; the single-metric groups share "General metrics".
GROUP_TITLES = {
    "count_properties": "Count-level properties (SimBench; KS or kernel density statistic, 0 = identical)",
    "differential_expression": "Differential-expression fidelity (each label vs the rest)",
    "pca_distances": "Distances on the real cells' principal components (CFGen / scLDM protocol)",
}
_GENERAL = "General metrics"


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _verdict(entry: Mapping[str, Any]) -> str:
    if entry.get("skipped"):
        return "skipped"
    if entry.get("error"):
        return "failed to run"
    return {True: "✓ pass", False: "✗ **FAIL**"}.get(entry.get("pass"), "–")


def _metric_tables(results: Mapping[str, Any]) -> list[str]:
    by_group: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for name, entry in results.items():
        if name == "meta" or not isinstance(entry, Mapping):
            continue
        title = GROUP_TITLES.get(entry.get("group"), _GENERAL)
        by_group.setdefault(title, []).append((name, entry))
    lines: list[str] = []
    for title, entries in by_group.items():
        lines += ["", f"### {title}", "",
                  "| metric | value (all cells) | generated vs ref. | real vs ref. (control) | verdict | ideal | "
                  "description |", "|---|---|---|---|---|---|---|"]
        for name, e in entries:
            value = _fmt(e.get("value"))
            if e.get("error"):
                value = f"error: {e['error']}"
            control = _fmt(e.get("control")) if e.get("control") is not None else (
                "(none)" if e.get("control_note") else "n/a")
            matched = _fmt(e.get("matched")) if e.get("matched") is not None else control
            lines.append(f"| {name} | {value} | {matched} | {control} | {_verdict(e)} | {_fmt(e.get('ideal'))} | "
                         f"{e.get('description', '')} |")
        notes = {e["control_note"] for _, e in entries if e.get("control_note") and not e.get("skipped")}
        lines += [""] + [f"Without control: {n}." for n in sorted(notes)]
    return lines


def _per_label(results: Mapping[str, Any], names: list[str], title: str, field: str = "value") -> list[str]:
    present = [n for n in names if isinstance(results.get(n), Mapping) and results[n].get("per_label")]
    if not present:
        return []
    labels = list(dict.fromkeys(lab for n in present for lab in results[n]["per_label"]))
    lines = ["", f"### {title}", "", "| label | " + " | ".join(present) + " |",
             "|---|" + "---|" * len(present)]
    for lab in labels:
        cells = []
        for n in present:
            e = results[n]["per_label"].get(lab, {})
            cells.append(_fmt(e.get(n.removeprefix("de_"), e.get(field, e.get("auc")))))
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    skipped = next((results[n].get("skipped_labels") for n in present if results[n].get("skipped_labels")), None)
    if skipped:
        lines += ["", "Labels left out: " + "; ".join(f"{lab} ({why})" for lab, why in skipped.items()) + "."]
    return lines


def render_markdown(results: Mapping[str, Any], figures: Mapping[str, str],
                    figure_errors: Mapping[str, str] | None = None) -> str:
    """Render the Markdown report of an :func:`~scdiffusion.evaluation.evaluate` result.

    Parameters
    ----------
    results
        Output of ``evaluate``.
    figures
        ``{caption: relative PNG path}`` to embed.
    figure_errors
        ``{figure: reason}`` for figures that were not drawn.

    Returns
    -------
    str
        Markdown text.
    """
    meta = results.get("meta", {})
    lines = ["# scDiffusion evaluation report", "",
             f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.", "",
             f"- Real cells: {meta.get('n_real_cells')} (used: {meta.get('n_real_cells_used')})",
             f"- Generated cells: {meta.get('n_generated_cells')} (used: {meta.get('n_generated_cells_used')})",
             f"- Genes: {meta.get('n_genes')}; principal components: {meta.get('n_comps')}",
             f"- Labels key: {meta.get('labels_key')}; seed: {meta.get('seed')}; quick: {meta.get('quick')}"]
    lines += [f"- Input scale ({side}): {how}" for side, how in (meta.get("scale") or {}).items()]
    lines += [f"- Raw counts ({side}): {how}" for side, how in (meta.get("counts") or {}).items()]
    ctrl = meta.get("control") or {}
    if ctrl:
        lines.append(f"- Real-vs-real control: {ctrl.get('n_repeats')} random split(s) of the real cells (per "
                     f"label) into {ctrl.get('n_reference_cells')} reference cells and "
                     f"{ctrl.get('n_compared_cells')} compared cells, against as many generated cells; "
                     f"{ctrl.get('rule')}.")
    entries = {k: v for k, v in results.items() if k != "meta" and isinstance(v, Mapping)}
    failed = [k for k, v in entries.items() if v.get("pass") is False]
    judged = [k for k, v in entries.items() if v.get("pass") is not None]
    lines += ["", "## Verdict", "",
              f"**{len(judged) - len(failed)} of {len(judged)} metrics with a control pass**; "
              + (f"the generated cells differ from real ones in: {', '.join(failed)}." if failed else
                 "no metric separates the generated cells from real ones more than real cells differ "
                 "among themselves.")]
    skipped = {**(meta.get("skipped") or {}),
               **{f"figure {name}": why for name, why in (figure_errors or {}).items()}}
    by_reason: dict[str, list[str]] = {}
    for name, why in skipped.items():
        by_reason.setdefault(why, []).append(name)
    if by_reason:
        lines += ["", "Skipped or not drawn, and why:"] + [f"- {', '.join(names)}: {why}"
                                                          for why, names in by_reason.items()]
    lines += ["", "## Metrics"] + _metric_tables(results)
    lines += ["", "AUC and 1-NN accuracy: 0.5 = indistinguishable. Verdicts compare each value's distance from "
              "the ideal with the real-vs-real control's."]

    for name in ("memorization", "zero_fraction_gap", "mean_variance_agreement"):
        entry = results.get(name)
        if not isinstance(entry, Mapping) or entry.get("skipped"):
            continue
        detail = {k: v for k, v in entry.items() if k not in (
            "value", "space", "ideal", "better", "description", "seconds", "group", "control", "threshold",
            "pass", "control_note", "matched") and not isinstance(v, (dict, list))}
        if detail:
            lines += ["", f"### {name}", "", "| quantity | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in detail.items()]
    lines += _per_label(results, ["knn_auc_per_label"], "kNN AUC per label")
    for key in ("label_classifier_accuracy", "celltypist_accuracy"):
        entry = results.get(key)
        if not isinstance(entry, Mapping) or not entry.get("per_label"):
            continue
        lines += ["", f"### {key}", "",
                  f"Generated: {_fmt(entry.get('generated_accuracy'))}; held-out real (control): "
                  f"{_fmt(entry.get('heldout_real_accuracy'))}.", "",
                  "| label | generated acc. | n gen. | held-out real acc. | n held-out |", "|---|---|---|---|---|"]
        lines += [f"| {lab} | {_fmt(e.get('generated_accuracy'))} | {e.get('n_generated')} | "
                  f"{_fmt(e.get('heldout_real_accuracy'))} | {e.get('n_heldout_real')} |"
                  for lab, e in entry["per_label"].items()]
    count_names = [n for n, e in entries.items() if e.get("group") == "count_properties"]
    de_names = [n for n, e in entries.items() if e.get("group") == "differential_expression"]
    lines += _per_label(results, count_names, "Count properties per label")
    lines += _per_label(results, de_names, "Differential expression per label")
    pairs = next((results[n].get("per_pair") for n in de_names if results[n].get("per_pair")), None)
    if pairs:
        lines += ["", "| pair | " + " | ".join(de_names) + " |", "|---|" + "---|" * len(de_names)]
        lines += [f"| {p} | " + " | ".join(_fmt(results[n]["per_pair"][p].get(n.removeprefix("de_")))
                                           for n in de_names) + " |" for p in pairs]
    lines += _per_label(results, list(PER_LABEL),
                        "Distances on the real PCA per label")

    if figures:
        lines += ["", "## Figures", ""]
        for caption, rel in figures.items():
            lines += [f"### {caption}", "", f"![{caption}]({rel})", ""]

    return "\n".join(lines).rstrip() + "\n"
