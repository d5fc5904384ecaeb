"""Run every metric of :mod:`.catalogue` on real vs generated AnnData, each with its real-vs-real control."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._json import to_builtin
from ..metrics._utils import TooFewCells, effective_n_comps
from ..metrics.annotation import CELLTYPIST_INSTALL_HINT
from ..metrics.inputs import CellSet, cell_set, check_labels_key, check_same_genes, subsample_adata
from ..options import EVALUATE
from .catalogue import MetricGroup, Settings, catalogue
from .control import PASS_FACTOR, ControlSplit, control_splits, judge

logger = logging.getLogger(__name__)

__all__ = ["evaluate"]


def _scored_labels(res: dict[str, dict[str, Any]]) -> list[str] | None:
    """Labels that got a value in any entry of a group's result (``None`` if the group is not per label)."""
    labels: set[str] = set()
    found = False
    for entry in res.values():
        per = entry.get("per_label") if isinstance(entry, dict) else None
        if per is None:
            continue
        found = True
        labels |= {lab for lab, v in per.items() if "skipped" not in v and v.get("auc", 0) is not None}
    return sorted(labels) if found else None


def _why_skipped(group: MetricGroup, r: CellSet, g: CellSet, s: Settings) -> str | None:
    if group.unavailable:
        return group.unavailable
    if group.needs_labels and s.labels_key is None:
        return "needs labels: pass labels_key (an obs column present in both data sets)"
    if group.needs_train and s.train is None:
        return "needs the training cells: pass train="
    if group.needs_counts and (r.counts is None or g.counts is None):
        return f"needs raw counts on both sides (real: {r.counts_source}; generated: {g.counts_source})"
    return None


def _run_group(group: MetricGroup, r: CellSet, g: CellSet, s: Settings,
               splits: list[ControlSplit], pass_factor: float) -> dict[str, dict[str, Any]]:
    """Compute a group's entries on all cells, then matched (A, G) and control (A, B) values, and verdicts."""
    base = {name: {"value": None, "group": group.name, **dataclasses.asdict(spec)}
            for name, spec in group.entries.items()}
    reason = _why_skipped(group, r, g, s)
    if reason:
        return {name: {**e, "skipped": reason, "pass": None} for name, e in base.items()}
    t0 = time.perf_counter()
    try:
        res = group.compute(r, g, s, None)
    except TooFewCells as exc:
        return {name: {**e, "skipped": str(exc), "pass": None} for name, e in base.items()}
    except Exception as exc:  # noqa: BLE001 - one failing metric must not lose the others
        logger.warning("Metric group %s failed: %s: %s", group.name, type(exc).__name__, exc)
        return {name: {**e, "error": f"{type(exc).__name__}: {exc}", "pass": None} for name, e in base.items()}
    matched, controls, control_error = [], [], None
    if group.control:
        only = _scored_labels(res)
        for split in splits:
            reference = r.take(split.reference)
            gi = split.generated_by_label if group.per_label else split.generated
            try:
                matched.append(group.compute(reference, g.take(gi), s, only))
                controls.append(group.compute(reference, r.take(split.real), s, only))
            except Exception as exc:  # noqa: BLE001
                control_error = f"{type(exc).__name__}: {exc}"
                logger.warning("Control of %s failed: %s", group.name, control_error)
                break
    seconds = round(time.perf_counter() - t0, 3)
    out = {}
    for name, entry in base.items():
        entry.update(res.get(name, {}))
        if group.control:
            m = [x.get(name, {}).get("value") for x in matched[:len(controls)]]
            c = [x.get(name, {}).get("value") for x in controls]
            sds = [x.get(name, {}).get("null_sd") for x in matched[:len(controls)]]
            sds = [v for v in sds if v is not None]
            entry.update(judge(m, c, entry["ideal"], pass_factor, float(np.mean(sds)) if sds else None))
            entry.update(matched_values=m, control_values=c)
            if "kde" in entry:
                for key, runs in (("kde_matched", matched), ("kde_control", controls)):
                    kde = [x[name]["kde"] for x in runs if x.get(name, {}).get("kde") is not None]
                    entry[key] = float(np.mean(kde)) if kde else None
            if control_error:
                entry["control_error"] = control_error
        else:
            entry.update({"matched": None, "control": None, "threshold": None, "pass": None,
                          "control_note": group.no_control_note})
        entry["seconds"] = seconds
        logger.info("%s = %s (matched %s, control %s, pass %s)", name, entry["value"], entry.get("matched"),
                    entry.get("control"), entry["pass"])
        out[name] = entry
    return out


_E = EVALUATE.defaults

def evaluate(
    real: Any,
    generated: Any,
    labels_key: str | None = _E.labels_key,
    train: Any | None = _E.train,
    seed: int = _E.seed,
    quick: bool = _E.quick,
    max_cells: int | None = _E.max_cells,
    use_celltypist: bool | None = _E.use_celltypist,
    n_comps: int = _E.n_comps,
    *,
    real_counts_layer: str | None = _E.real_counts_layer,
    generated_counts_layer: str | None = _E.generated_counts_layer,
    de_pairs: Sequence[tuple[str, str]] | None = _E.de_pairs,
    min_cells_per_label: int = _E.min_cells_per_label,
    n_control_repeats: int | None = _E.n_control_repeats,
    pass_factor: float = PASS_FACTOR,
) -> dict[str, Any]:
    """Compare generated with real cells on every metric, each judged against a real-vs-real control.

    Scales: log-scale metrics use ``log1p(normalize_total(1e4))``, computed from raw counts when a side has
    them (see ``*_counts_layer``), else ``X`` as is (assumed log-normalised; integer ``X`` is normalised).
    Count-level metrics (the SimBench properties) need raw counts on both sides and are skipped, with the
    reason, otherwise; scales are never mixed.

    Parameters
    ----------
    real
        Real cells (AnnData); with ``train`` these should be **held-out** cells the model did not see.
    generated
        Generated cells (AnnData) with the same genes (any order).
    labels_key
        ``.obs`` column with cell-type labels in both objects (for generated cells: the label they were
        generated for). Enables per-label metrics, differential expression and per-type distances.
    train
        Training cells (AnnData) for the memorisation check.
    seed
        Seed for every random step.
    quick
        Cheaper settings: 100 instead of 1000 random-forest trees, at most 2000 instead of 10000 cells per
        side, fewer classifier iterations, one control split instead of three, and no kernel density
        statistic for the one-dimensional count properties (KS only); ``meta.skipped`` lists what was left out.
    max_cells
        Override the per-side cell cap.
    use_celltypist
        Run the CellTypist annotator (needs labels). ``None``: if CellTypist is installed.
    n_comps
        Principal components of the PCA-space metrics.
    real_counts_layer, generated_counts_layer
        Where each side's raw counts are: ``"auto"`` (``layers["counts"]``, else an integer ``X``), ``"X"``,
        a layer name, or ``None`` (no counts; count-level metrics are skipped).
    de_pairs
        Label pairs ``(a, b)`` tested against each other in addition to every label against the rest.
    min_cells_per_label
        Labels with fewer real or generated cells are left out of the per-label metrics.
    n_control_repeats
        Random real-vs-real splits per metric (default 3, 1 with ``quick``).
    pass_factor
        A metric passes when it is at most this many times as far from its ideal as the control.

    Returns
    -------
    dict
        JSON-serialisable. ``result["meta"]`` describes inputs, settings and what was skipped; every other key
        is one flat entry with ``value`` (all cells), ``matched`` and ``control`` (generated and real cells vs
        the same real reference cells at the same sizes, see :mod:`scdiffusion.evaluation.control`),
        ``threshold``, ``pass`` (``True``/``False``, ``None`` without control), ``group``, ``space``, ``ideal``,
        ``better``,
        ``description`` and, where it applies, ``skipped`` or ``error`` (the reason) and details such as
        ``per_label``. :func:`scdiffusion.evaluation.results_table` turns it into one row per entry.

    Raises
    ------
    ValueError
        If the gene sets differ (the message says how to subset).
    KeyError
        If ``labels_key`` or a named counts layer is missing.
    """
    generated = check_same_genes(real, generated)
    if train is not None:
        train = check_same_genes(real, train, name_generated="train")
    if labels_key is not None:
        check_labels_key(labels_key, real=real, generated=generated)
    cap = max_cells if max_cells is not None else (2000 if quick else 10000)
    real_s = subsample_adata(real, cap, seed)
    gen_s = subsample_adata(generated, cap, seed + 1)
    r, scale_real = cell_set(real_s, labels_key, real_counts_layer)
    g, scale_gen = cell_set(gen_s, labels_key, generated_counts_layer)
    train_set, scale_train = (None, None) if train is None else cell_set(subsample_adata(train, cap, seed + 2))
    k = effective_n_comps(n_comps, r.n_cells + g.n_cells, r.log.shape[1])
    want_ct = importlib.util.find_spec("celltypist") is not None if use_celltypist is None else use_celltypist
    ct_skip = None if want_ct else ("disabled (use_celltypist=False)" if use_celltypist is False else
                                    f"celltypist not installed: {CELLTYPIST_INSTALL_HINT}")
    settings = Settings(seed=seed, quick=quick, n_comps=k, n_trees=100 if quick else 1000,
                        max_iter=100 if quick else 200, min_cells=min_cells_per_label,
                        de_pairs=tuple(tuple(map(str, p)) for p in (de_pairs or ())), kde=not quick,
                        labels_key=labels_key, train=train_set, celltypist_skip=ct_skip)
    repeats = n_control_repeats if n_control_repeats is not None else (1 if quick else 3)
    splits = control_splits(r.n_cells, g.n_cells, r.labels, g.labels, repeats, seed + 1)
    scale = {"real": scale_real, "generated": scale_gen, **({"train": scale_train} if scale_train else {})}
    meta: dict[str, Any] = {
        "n_real_cells": int(real.n_obs), "n_generated_cells": int(generated.n_obs),
        "n_real_cells_used": r.n_cells, "n_generated_cells_used": g.n_cells, "n_genes": int(r.log.shape[1]),
        "labels_key": labels_key, "seed": seed, "quick": quick, "n_comps": k, "rf_n_estimators": settings.n_trees,
        "scale": scale, "counts": {"real": r.counts_source, "generated": g.counts_source},
        "control": {"n_repeats": repeats, "n_reference_cells": int(splits[0].reference.size),
                    "n_compared_cells": int(splits[0].real.size), "pass_factor": pass_factor,
                    "rule": f"pass if |matched - ideal| <= {pass_factor:g} x mean |control - ideal| (matched: "
                            "generated vs reference cells, control: real vs reference cells, same sizes)"},
        "min_cells_per_label": min_cells_per_label,
    }
    out: dict[str, Any] = {"meta": meta}
    for group in catalogue(settings, k):
        out.update(_run_group(group, r, g, settings, splits, pass_factor))
    skipped = {name: e["skipped"] for name, e in out.items() if name != "meta" and e.get("skipped")}
    if quick and settings.kde is False and not out["library_size"].get("skipped"):
        skipped["kde (1-D count properties)"] = ("quick mode: kernel density statistics of the one-dimensional "
                                                 "count properties left out (KS statistics computed)")
    meta["skipped"] = skipped
    verdicts = [e.get("pass") for name, e in out.items() if name != "meta"]
    meta["n_passed"], meta["n_failed"] = verdicts.count(True), verdicts.count(False)
    return to_builtin(out)
