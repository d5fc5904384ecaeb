"""Rebuild the results section of benchmarks/README.md from benchmarks/results/<name>/results.json.

    python benchmarks/make_table.py [--results DIR] [--readme PATH] [--stdout]

Only the text between ``<!-- RESULTS:BEGIN -->`` and ``<!-- RESULTS:END -->`` is replaced, so the table is
reproducible from the JSON files alone (no re-run needed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- RESULTS:BEGIN -->", "<!-- RESULTS:END -->"

#: metric -> (label, direction) ; direction: "high", "low" or "half" (closer to 0.5) or "one" (closer to 1)
UNCOND = {"scc_gene_means": ("SCC", "high"), "mmd_rbf": ("MMD²", "low"), "ilisi": ("iLISI", "high"),
          "rf_auc_pca": ("RF AUC PCA", "half"), "rf_auc_genes": ("RF AUC genes", "half"),
          "one_nn_accuracy": ("1-NN acc.", "half"), "zero_fraction_gap": ("zero-frac. gap", "low"),
          "mean_variance_agreement": ("mean–var r", "high"), "gene_correlation_error": ("gene-corr. error", "low"),
          "memorization": ("memorization", "one")}
IDEAL = {"high": "↑", "low": "↓", "half": "→0.5", "one": "→1"}



def _t_start(value) -> str:
    """``t_start`` of a trajectory run: one number, or each method's default (``{method: t_start}``)."""
    if isinstance(value, dict):
        return ", ".join(f"{v} ({k})" for k, v in value.items())
    return str(value)

def f(v, d=3):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return str(v)
    return f"{v:.{d}f}"


def better(a, b, direction) -> bool | None:
    """Is a strictly better than b?"""
    if a is None or b is None:
        return None
    key = {"high": lambda v: -v, "low": lambda v: v, "half": lambda v: abs(v - 0.5), "one": lambda v: abs(v - 1)}
    return key[direction](a) < key[direction](b)


def header(meta: dict) -> list[str]:
    g = meta.get("generation", {})
    tr = meta.get("training", {})
    stages = ", ".join(f"{k} {v.get('steps')} steps ({v.get('stopped')})" for k, v in tr.get("stages", {}).items())
    if tr.get("default_budgets") or ("max_time" in tr and tr["max_time"] is None):  # no wall-time cap
        budget = "default step budgets" + (f" (seed {tr['seed']}: {stages})" if stages and "seed" in tr else "")
    else:
        budget = f"{tr.get('max_time', '–')} s ({stages or 'cached model'})"
    return [f"*Command:* `OMP_NUM_THREADS=1 {meta['command']}` · *date:* {meta['date']} · *machine:* "
            f"{meta['machine']} ({meta['threads']} thread) · *sampler:* {g.get('sampler')} "
            f"{g.get('n_steps') or 'its default number of'} steps · *training budget:* {budget} · "
            f"*total:* {meta['total_seconds']:.0f} s"
            + (" · **quick mode (not a benchmark result)**" if meta.get("quick") else ""), ""]


def md_table(cols: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def unconditional(d: dict) -> list[str]:
    lines = ["### 1. Unconditional generation (PBMC68k-reduced, 20 % held out)", ""] + header(d["meta"])
    cols = [c for c in UNCOND if c in d["columns"]]
    lines += md_table(["row"] + [f"{UNCOND[c][0]} {IDEAL[UNCOND[c][1]]}" for c in cols],
                      [[f"**{n}**" if n.startswith("scDiffusion") else n] + [f(v.get(c)) for c in cols]
                       for n, v in d["rows"].items()])
    lines.append(f"{d['meta']['n_generated']} cells per row vs {d['meta']['n_heldout']} held-out real cells. "
                 "Row notes:")
    lines += [f"- *{n}*: {t}" for n, t in d["notes"].items()]
    losses = []
    for sd_name in [n for n in d["rows"] if n.startswith("scDiffusion")]:
        sd = d["rows"][sd_name]
        for base in [n for n in d["rows"] if n in ("PCA Gaussian", "scVI")]:
            lost = [UNCOND[c][0] for c in cols if better(d["rows"][base].get(c), sd.get(c), UNCOND[c][1])]
            if lost:
                losses.append(f"**{sd_name} loses to {base} on:** {', '.join(lost)}.")
    for name, tr in d["meta"].get("training_extra", {}).items():
        st = ", ".join(f"{k} {v.get('steps')} steps ({v.get('stopped')})" for k, v in tr.get("stages", {}).items())
        if st:
            losses.append(f"Training of {name}: {st}.")
    for name, res in d["details"].items():
        failed = [UNCOND[c][0] for c in cols if res.get(c, {}).get("pass") is False]
        losses.append(f"Against the real-vs-real control (matched values, as in the second table) {name} "
                      + (f"fails {', '.join(failed)}." if failed else "passes every column."))
    default = d["meta"].get("default_row", "scDiffusion")
    side = d["details"].get(default, {}).get("one_nn_accuracy_by_side")
    if side:
        losses.append(f"1-NN accuracy by side for {default}: real cells {side['real_side']:.2f}, generated "
                      f"cells {side['generated_side']:.2f} (an overall value near 0.5 can hide generated "
                      "cells that are every cell's nearest neighbour).")
    return lines + [""] + [f"- {x}" for x in losses] + [""] + verdict_table(d)


#: Short names of the second table's rows (entries of the evaluation suite).
PROPERTY_LABELS = {
    "library_size": "library size", "tmm_factor": "TMM factor", "effective_library_size": "effective library size",
    "cell_zero_fraction": "zeros per cell", "gene_mean": "gene mean", "gene_variance": "gene variance",
    "gene_scaled_variance": "gene scaled variance", "gene_zero_fraction": "zeros per gene",
    "library_size_vs_zero_fraction": "library size vs zeros", "mean_vs_variance": "mean vs variance",
    "mean_vs_zero_fraction": "mean vs zeros", "cell_correlation": "cell–cell correlation",
    "gene_correlation": "gene–gene correlation", "de_lfc_correlation": "DE: log2FC correlation ↑",
    "de_top20_recall": "DE: top-20 marker recall ↑", "de_top50_recall": "DE: top-50 marker recall ↑",
    "de_top100_recall": "DE: top-100 marker recall ↑", "de_sign_agreement": "DE: sign agreement ↑",
    "wasserstein1": "W1 per type (real PCs)", "wasserstein2": "W2 per type (real PCs)",
    "mmd_rbf_per_label": "MMD² per type (real PCs)", "energy_distance": "energy per type (real PCs)",
    "precision": "precision →1", "recall": "recall →1",
    "density": "density →1", "coverage": "coverage →1"}


def verdict_table(d: dict) -> list[str]:
    """Count properties, DE fidelity and real-PCA distances: one row per measure, one column per method."""
    props = d.get("properties")
    if not props:
        return []
    ctrl = d["meta"].get("control", {})
    names = list(props)
    # the control does not depend on the generated cells (only on their number): one column for all rows
    control = {c: next((props[n][c]["control"] for n in names if props[n][c].get("control") is not None), None)
               for c in d["property_columns"]}
    differ = [n for n in names for c in d["property_columns"]
              if props[n][c].get("control") is not None and props[n][c]["control"] != control[c]]

    def cell(entry: dict) -> str:
        if entry.get("skipped"):
            return "skipped"
        if entry.get("error"):
            return "error"
        mark = {True: " ✓", False: " ✗"}.get(entry.get("pass"), "")
        return f"{f(entry.get('matched'))}{mark}"

    lines = ["#### Count properties, differential-expression fidelity and distances on the real PCs", "",
             f"Each value compares {ctrl.get('n_compared_cells')} generated cells (drawn with the real label counts) "
             f"with {ctrl.get('n_reference_cells')} held-out reference cells; the control column compares "
             f"{ctrl.get('n_compared_cells')} other held-out real cells with the same reference cells (mean of "
             f"{ctrl.get('n_repeats')} random splits, per label). ✓/✗: {ctrl.get('rule')}. Count properties are KS "
             "statistics (joint ones: kernel-density L2), per cell type weighted by the types' shares; lower is "
             "better unless marked.", ""]
    rows = []
    for c in d["property_columns"]:
        rows.append([PROPERTY_LABELS.get(c, c)] + [cell(props[n][c]) for n in names] + [f(control[c])])
    lines += md_table(["measure"] + [f"**{n}**" if n.startswith("scDiffusion") else n for n in names]
                      + ["real vs real (control)"], rows)
    summary = []
    for n in names:
        verdicts = [props[n][c].get("pass") for c in d["property_columns"]]
        judged = [v for v in verdicts if v is not None]
        if judged:
            summary.append(f"{n}: {sum(judged)} of {len(judged)} pass")
        skipped = {props[n][c]["skipped"] for c in d["property_columns"] if props[n][c].get("skipped")}
        if skipped:
            summary.append(f"{n}: skipped {sum(1 for c in d['property_columns'] if props[n][c].get('skipped'))} "
                           f"({'; '.join(sorted(skipped))})")
    lines += [f"- {x}" for x in summary]
    if differ:
        lines.append(f"- Note: the control differs for {', '.join(sorted(set(differ)))} (fewer generated cells).")
    return lines + [""]


def conditional(d: dict) -> list[str]:
    m = d["meta"]
    lines = [f"### 2. Cell-type-conditional generation (default guidance: {m.get('default_guidance', 'classifier')}; "
             f"classifier γ = {m.get('guidance_scale')}, classifier-free w = {m.get('cfg_scale', '–')})", ""]
    lines += header(m)
    if d["meta"].get("celltypist_note"):
        lines += [f"Note: {d['meta']['celltypist_note']}", ""]
    ov = d["overall"]
    kinds = [k for k in ov if k != "knn_auc_mean_vs_heldout"]
    lines += md_table(["annotator (trained on real training cells)", "guided generated", "unguided (same noise)",
                       "held-out real (control)", "AE reconstruction of held-out (reference)"],
                      [[k, f(ov[k]["guided"]), f(ov[k]["unguided (same noise)"]), f(ov[k]["heldout_real"]),
                        f(ov[k].get("AE reconstruction of held-out (reference)"))] for k in kinds])
    pt = d["per_type"]
    cols = list(next(iter(pt.values())))
    lines += md_table(["type"] + [c.replace("_", " ") for c in cols],
                      [[t] + [f(v[c]) for c in cols] for t, v in pt.items()])
    notes = []
    for k in kinds:
        o = ov[k]
        if o["guided"] < o["heldout_real"]:
            notes.append(f"{k}: guided cells are annotated correctly {o['guided']:.1%} of the time vs "
                         f"{o['heldout_real']:.1%} for held-out real cells (**scDiffusion below the real-data "
                         f"control**); unguided reference {o['unguided (same noise)']:.1%}.")
    hubs = [t for t, v in pt.items() if v.get("1nn_acc_real_side") is not None and v["1nn_acc_real_side"] < 0.2]
    if hubs:
        notes.append("kNN AUC ≈ 0.5 is **not** evidence of realism for " + ", ".join(hubs) + ": fewer than 20 % "
                     "of their held-out real cells have a real nearest neighbour (generated cells are hubs).")
    worse = [t for t, v in pt.items() if v.get("mmd_vs_heldout") is not None
             and v["mmd_vs_heldout"] > v["mmd_control_train_vs_heldout"]]
    if worse:
        notes.append(f"Per-type MMD² to held-out cells is higher for generated than for real training cells "
                     f"(control) in {len(worse)} of {sum(v.get('mmd_vs_heldout') is not None for v in pt.values())} "
                     f"types scored ({', '.join(worse)}).")
    notes.append("Types with < 10 held-out cells get no kNN AUC / MMD vs held-out; 'vs train' compares with the "
                 "type's training cells (seen by the model: lenient).")
    return lines + [f"- {x}" for x in notes] + [""]


def unseen(d: dict) -> list[str]:
    m = d["meta"]
    lines = [f"### 3. Unseen combination: {m['target']} removed from training ({m['n_target_cells']} real cells)",
             ""] + header(m)
    rows = d["rows"]
    cols = list(next(iter(rows.values())))
    lines += md_table(["row"] + cols, [[n] + [f(v[c]) if not isinstance(v[c], int) else str(v[c]) for c in cols]
                                       for n, v in rows.items()])
    notes = ["Annotators' accuracy on held-out real cells of the other combinations: " + "; ".join(
        f"{k}: type {a['bulk_labels']['heldout_real_accuracy']:.2f}, phase {a['phase']['heldout_real_accuracy']:.2f}"
        for k, a in d["annotation"].items())]
    for name, v in d["mmd"].items():
        notes.append(f"{name}: closest real combination by MMD is *{v['closest']}* (target rank "
                     f"{v['rank_of_target']}/{v['n_combinations']}).")
    ctrl = "real held-out combination (control)"
    for k, a in d["annotation"].items():
        c = a["phase"][ctrl]["fraction_target"]
        if c < 0.2:
            notes.append(f"{k}: only {c:.0%} of the *real* {m['target']} cells are called "
                         f"{m['target'].split(' & ')[-1]}: an annotator trained without that combination does not "
                         "recognise it in real cells either, so the phase columns cannot show success here.")
            break
    notes.append(m.get("note_phase", ""))
    return lines + [f"- {x}" for x in notes if x] + [""]


def interpolation(d: dict) -> list[str]:
    m = d["meta"]
    lines = ["### 4. Gradient Interpolation, HSMM myoblasts 24 h → 72 h vs held-out 48 h", ""] + header(m)
    g = m.get("generation", {})
    if g.get("n_steps") and g["n_steps"] > m["interpolation_t_start"] + 1:
        lines += [f"(Interpolation denoises from t_start, so the sampler visits "
                  f"{m['interpolation_t_start'] + 1} of its steps.)", ""]
    lines += [f"Cells: {m['n_cells']}; {m['preprocessing']}. {m['n_states']} states × {m['n_cells_per_state']} "
              f"cells, t_start {m['interpolation_t_start']}, γ {m['guidance_scale']}, classifier-free w "
              f"{m.get('cfg_scale', '–')}. Pseudotime: {m['pseudotime']}; "
              f"real medians {', '.join(f'{h} h {v:.3f}' for h, v in d['real_median_pseudotime'].items())}.", ""]
    cols = ["mmd_to_48h", "ilisi_vs_48h", "mean_corr_48h", "median_pseudotime", "frac_called_72h"]
    rows = []
    for method, states in d["per_state"].items():
        for s in states:
            rows.append([f"{method}, w₇₂ = {s['weight_72h']:.2f}"] + [f(s.get(c)) for c in cols])
    for name, v in d["reference"].items():
        same = name.startswith("real 48 h (held out)")
        rows.append([name] + [("(self)" if same and c in ("mmd_to_48h", "ilisi_vs_48h", "mean_corr_48h")
                               else f(v.get(c))) for c in cols])
    lines += md_table(["state", "MMD² to 48 h ↓", "iLISI vs 48 h ↑", "r(gene means, 48 h) ↑",
                       "median pseudotime", "fraction called 72 h"], rows)
    notes = []
    r48 = d["reference"].get("real 48 h (held out)", {}).get("frac_called_72h")
    for method, c in d["closest_state_to_48h"].items():
        st = d["per_state"][method]
        txt = (f"{method}: state closest to 48 h by MMD = w₇₂ {st[c['by_mmd']]['weight_72h']:.2f}, "
               f"by pseudotime = w₇₂ {st[c['by_pseudotime']]['weight_72h']:.2f}")
        if r48 is not None and all("frac_called_72h" in x for x in st):
            i = min(range(len(st)), key=lambda j: abs(st[j]["frac_called_72h"] - r48))
            txt += (f", by fraction called 72 h (real 48 h: {r48:.2f}) = w₇₂ {st[i]['weight_72h']:.2f} "
                    f"({st[i]['frac_called_72h']:.2f})")
        notes.append(txt + ".")
    lin = d["per_state"].get("linear")
    sds = {k: v for k, v in d["per_state"].items() if k.startswith("scDiffusion")}
    for method, sd in sds.items():
        if not lin:
            break
        lost, won = [], []
        for c, name, direction in [("mmd_to_48h", "best-state MMD", "low"),
                                   ("ilisi_vs_48h", "best-state iLISI", "high"),
                                   ("mean_corr_48h", "best-state gene-mean r", "high")]:
            pick = min if direction == "low" else max
            a, b = pick(s[c] for s in sd), pick(s[c] for s in lin)
            (lost if better(b, a, direction) else won).append(f"{name} ({a:.3f} vs {b:.3f})")
        if lost:
            notes.append(f"**{method} loses to linear interpolation on:** " + ", ".join(lost) + "."
                         + (f" It wins on {', '.join(won)}." if won else ""))
        else:
            notes.append(f"**{method} beats linear interpolation on** " + ", ".join(won) + ".")
    if sds and lin:
        rp = d["real_median_pseudotime"]
        spread = max(rp["24"], rp["48"], rp["72"]) - min(rp["24"], rp["48"], rp["72"])
        if spread < 0.1 or not rp["24"] < rp["48"] < rp["72"]:
            notes.append(f"Real 24/48/72 h median pseudotimes ({rp['24']:.3f}, {rp['48']:.3f}, {rp['72']:.3f}) do "
                         "not order the time points: on these genes DPT separates 0 h from the rest only, so the "
                         "pseudotime column cannot rank states.")
        ref = d["reference"]
        notes.append(f"Reference: real 24 h cells vs 48 h MMD {ref['real 24 h']['mmd_to_48h']:.3f}, real 72 h "
                     f"{ref['real 72 h']['mmd_to_48h']:.3f}, 48 h half vs half "
                     f"{ref['real 48 h half vs other half']['mmd_to_48h']:.3f}.")
    return lines + [f"- {x}" for x in notes] + [""]


def _ms(v: dict | None) -> str:
    """``mean ± sd`` of a summary entry (or the single value of one seed)."""
    if not v:
        return "–"
    return f"{v['mean']:.3f} ± {v['sd']:.3f}" if len(v.get("per_seed", [])) > 1 else f"{v['mean']:.3f}"


def trajectory(d: dict) -> list[str]:
    m = d["meta"]
    sim = m["simulation"]
    prev, nxt = m["neighbours"]
    title = (f"### 5. Interpolation against a ground-truth trajectory (simulated differentiation, "
             f"{m['held_out']} h held out)")
    lines = [title, ""] + header(m)
    kinds = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sim["gene_kinds"].items())
    skipped = "; ".join(f"`{k}` skipped ({v})" for k, v in m.get("methods_skipped", {}).items())
    lines += [f"Simulation: {sim['n_genes']} genes ({kinds}), {sim['n_per_time']} cells per time point "
              f"({', '.join(sim['time_labels'])} h; mean τ {', '.join(f'{x:.2f}' for x in sim['time_means_tau'])}), "
              f"NB θ median {sim['theta_median']:.1f}, {sim['zero_fraction']:.0%} zeros. Trained on "
              f"{m['n_train_cells']} cells (all but {m['held_out']} h); interpolation {prev} h → {nxt} h, "
              f"{m['n_states']} states, t_start {_t_start(m['interpolation_t_start'])}; methods run: "
              f"{', '.join(m['methods_run'])}" + (f"; {skipped}" if skipped else "") + ". "
              f"Every row: {m['n_cells_per_row']} cells vs the same {m['n_cells_per_row']} held-out cells, on 50 PCs "
              f"fitted on an independent draw of real cells of every time point (no scored cell in the fit). "
              f"Chosen state: nearest to w = {m['w_rule']:.2f} (the time rule, no held-out cells); "
              f"best state: lowest MMD² (chosen by looking). Mean ± sd over seeds "
              f"{', '.join(map(str, m['seeds']))}.", ""]
    cols = [(c, v["label"], v["ideal"]) for c, v in d["columns"].items()]
    arrow = {0.0: "↓", 0.5: "→0.5", 1.0: "↑"}
    heads = ["row"] + [f"{lab} {arrow.get(ideal, '')}" for _, lab, ideal in cols]
    rows = []
    for name, v in d["summary"].items():
        label = f"**{name}**" if name.startswith(d.get("default_method", "gradient") + ":") else name
        if "state_per_seed" in v and "best state" in name:
            label += f" (state per seed: {', '.join(map(str, v['state_per_seed']))})"
        rows.append([label] + [_ms(v[c]) for c, _, _ in cols])
    lines += md_table(heads, rows)
    for method, states in d["states"].items():
        lines += [f"Every state of `{method}` (mean ± sd):", ""]
        lines += md_table(["state", "w", "MMD² ↓", "W1 (5 PCs) ↓", "RF AUC →0.5"],
                          [[str(s["state"]), f"{s['w']:.2f}", _ms(s["mmd2"]), _ms(s["w1_5pc"]), _ms(s["rf_auc"])]
                           for s in states])
    notes = []
    for k, v in d.get("targets", {}).items():
        if isinstance(v, dict):
            notes.append(f"Target `{k}`: {v['value']:.3f} vs {v['threshold']:.3f} — "
                         f"{'**met**' if v['met'] else '**missed**'}.")
    return lines + [f"- {x}" for x in notes] + [""]


def hsmm_trajectory(d: dict) -> list[str]:
    m = d["meta"]
    budget = ("the package's default step budgets (early stopping)" if m["training"].get("default_budgets")
              else f"{m['training'].get('max_time')} s wall time")
    lines = ["### 6. Interpolation on a real time course (HSMM myoblasts, each intermediate time point held out)",
             ""] + header(m)
    lines += [f"HSMM {', '.join(f'{h} h: {n}' for h, n in m['n_cells'].items())} cells; FPKM → pseudo-counts, "
              f"{m['preprocessing'].split('; ', 1)[1]}. For each held-out time point and seed a model is trained "
              f"on the other three time points with {budget}; methods {', '.join(m['methods'])} (default "
              f"`{m['default_method']}`), {m['n_states']} states, t_start {_t_start(m['interpolation_t_start'])}"
              + ("; a second model with `continuous_keys=['Hours']` generates at the held-out value" if
                 m.get("continuous") else "") + f". {m['measures']}. Chosen state: {m['chosen_state_rule']}. "
              f"Mean ± sd over seeds {', '.join(map(str, m['seeds']))}.", ""]
    cols = [(c, v["label"], v["ideal"]) for c, v in d["columns"].items()]
    arrow = {0.0: "↓", 0.5: "→0.5", 1.0: "↑"}
    heads = ["row"] + [f"{lab} {arrow.get(ideal, '')}" for _, lab, ideal in cols]
    for held, r in d["held_out"].items():
        prev, nxt = r["neighbours"]
        lines += [f"**{held} h held out** (interpolation {prev} h → {nxt} h; {r['n_cells_per_row']} cells per row, "
                  f"{r['n_train_cells']} training cells, PCA on {r['n_pca_cells']}):", ""]
        rows = []
        for name, v in r["summary"].items():
            label = f"**{name}**" if name.startswith(m["default_method"] + ":") else name
            if "state_per_seed" in v and "best state" in name:
                label += f" (state per seed: {', '.join(map(str, v['state_per_seed']))})"
            rows.append([label] + [_ms(v[c]) for c, _, _ in cols])
        lines += md_table(heads, rows)
        for method, t in r.get("targets", {}).items():
            for k, v in t.items():
                lines.append(f"- `{method}` target `{k}` ({held} h): {v['value']:.3f} vs {v['threshold']:.3f} — "
                             f"{'**met**' if v['met'] else '**missed**'}.")
        lines += ["", f"Figure: [{held} h]({_link(r['figure'])})", ""]
    return lines


SECTIONS = [("unconditional", unconditional), ("conditional", conditional), ("unseen_combination", unseen),
            ("interpolation", interpolation), ("trajectory", trajectory), ("hsmm_trajectory", hsmm_trajectory)]


def _mean_sd(values: list) -> str:
    v = [x for x in values if x is not None]
    if not v:
        return "–"
    return f"{np.mean(v):.3f} ± {np.std(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"


#: per benchmark with several seeds: rows and columns of the mean ± sd table, read from each seed's JSON
SEED_SUMMARIES = {
    "conditional": lambda d: {k: {"CellTypist accuracy": v.get("celltypist_accuracy"),
                                  "logistic-regression accuracy": v.get("logistic_regression_accuracy"),
                                  "lowest type accuracy (types with ≥ 10 training cells)":
                                      v.get("min_type_accuracy_ge10_train"),
                                  "mean per-type MMD²": v.get("mmd_mean"),
                                  "largest per-type MMD² / control": v.get("mmd_ratio_to_control_max")}
                              for k, v in d.get("per_kind_of_guidance", {}).items()}
    | {"held-out real (control)": {"CellTypist accuracy": d["overall"].get("celltypist", {}).get("heldout_real"),
                                   "logistic-regression accuracy":
                                       d["overall"].get("logistic_regression", {}).get("heldout_real")}},
    "unseen_combination": lambda d: {k: {c: v.get(c) for c in v if c not in ("n combinations",)}
                                     for k, v in d["rows"].items()},
    "interpolation": lambda d: {k: {"best state's MMD² to 48 h": v["best_mmd_to_48h"],
                                    "best state (w₇₂)": d["per_state"][k][v["by_mmd"]]["weight_72h"]}
                                for k, v in d["closest_state_to_48h"].items() if "best_mmd_to_48h" in v},
}


def seed_summary(name: str, runs: list[dict]) -> list[str]:
    """A mean ± sd table over the seeds of one benchmark."""
    tables = [SEED_SUMMARIES[name](d) for d in runs]
    rows = list(tables[0])
    cols = list(dict.fromkeys(c for t in tables for r in t.values() for c in r))
    seeds = [d["meta"].get("seed") for d in runs]
    lines = [f"**Mean ± sd over {len(runs)} seeds** (seeds {', '.join(map(str, seeds))}; each seed its own split, "
             "training and generation):", ""]
    return lines + md_table(["row"] + cols, [[r] + [_mean_sd([t.get(r, {}).get(c) for t in tables]) for c in cols]
                                             for r in rows]) + [""]


def build(results: Path) -> str:
    parts = ["<!-- generated by benchmarks/make_table.py from benchmarks/results/*/results.json; do not edit -->", ""]
    for name, fn in SECTIONS:
        seed_files = sorted((results / name).glob("seed*/results.json"))
        if seed_files:  # several seeds: details of the first, and a table over all of them
            runs = [json.loads(p.read_text()) for p in seed_files]
            parts += fn(runs[0]) + _figures(runs[0])
            if name in SEED_SUMMARIES:
                parts += seed_summary(name, runs)
            continue
        path = results / name / "results.json"
        if not path.exists():
            shown = path.relative_to(HERE.parent) if HERE.parent in path.parents else path
            parts += [f"### {name}", "", f"No results yet (`{shown}` missing).", ""]
            continue
        res = json.loads(path.read_text())
        parts += fn(res) + _figures(res)
    return "\n".join(parts)


def _link(path: str) -> str:
    """A figure's path relative to benchmarks/ (results may hold absolute paths of another checkout)."""
    parts = Path(path).parts
    if "benchmarks" in parts:
        return str(Path(*parts[len(parts) - parts[::-1].index("benchmarks"):]))
    return path


def _figures(res: dict) -> list[str]:
    figs = res.get("figures") or {}
    links = [f"[{k}](<{_link(v)}>)" if " " in _link(v) else f"[{k}]({_link(v)})" for k, v in figs.items()]
    return ["Figures: " + ", ".join(links), ""] if figs else []


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--readme", type=Path, default=HERE / "README.md")
    p.add_argument("--stdout", action="store_true", help="print the section instead of editing the README")
    a = p.parse_args(argv)
    section = build(a.results)
    if a.stdout:
        print(section)
        return
    text = a.readme.read_text() if a.readme.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n## Results\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    a.readme.write_text(head + BEGIN + "\n" + section + "\n" + END + tail)
    print(f"Updated {a.readme}")


if __name__ == "__main__":
    main()
