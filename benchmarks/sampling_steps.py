"""Benchmark 5: sampling steps vs realism vs throughput (DDPM, DDIM, DPM-Solver++ ODE/SDE), with run-to-run noise.

One trained PBMC model (NB decoder, the package default; cached like the other benchmarks), three kinds of
sampling, each with several seeds:

* ``unconditional``: cells compared with the held-out real PBMCs — squared MMD on 50 pooled PCs of the
  log-normalised genes (``mmd_genes``) and of the unit-norm latents (``mmd_latent``; free of the decoder's count
  noise, so it shows the sampler's own error), random-forest real-vs-generated AUC on 50 PCs (``rf_auc_pca``);
* ``guided``: every cell type in the held-out proportions with γ = 2 — the same metrics, plus the fraction of
  cells a logistic-regression annotator trained on real training cells calls the requested type
  (``accuracy``);
* ``interpolation``: Gradient Interpolation CD14+ Monocyte → Dendritic from noised real start cells
  (t_start 600, 5 states): fraction of each state called the end type (``end_fraction`` per state) and the
  latent MMD of each state to the 1000-step (601 visited steps) state of the same seed, averaged over states
  (``mmd_to_reference``).

The run-to-run noise is the spread (max − min) of each metric over the seeds of the reference sampler (ancestral
DDPM with every step); a few-step sampler "matches" a metric when its mean over seeds is not worse than the
reference mean by more than that spread (for the end fraction of interpolation, which has no better side: within
the spread on both sides; for ``mmd_to_reference``: at most twice the reference's own seed-to-seed value).
Throughput is cells per second of the whole ``generate`` call (sampling + decoding to counts) on this machine,
timed in the same process, one after the other.

    OMP_NUM_THREADS=2 python benchmarks/sampling_steps.py [--quick] [--seeds 0,1,2]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import time

import numpy as np

NAME = "sampling_steps"
START, END = "CD14+ Monocyte", "Dendritic"


def _configs(quick: bool) -> list[tuple[str, int | None]]:
    if quick:
        return [("ddpm", None), ("dpmpp-sde", 10), ("dpmpp", 10)]
    return [("ddpm", None), ("ddpm", 100), ("ddpm", 50), ("dpmpp-sde", 50), ("dpmpp-sde", 25),
            ("dpmpp-sde", 15), ("dpmpp-sde", 10), ("ddim", 100), ("ddim", 50), ("dpmpp", 50), ("dpmpp", 25)]


def _label(sampler: str, n_steps: int | None) -> str:
    return f"{sampler}-{'all' if n_steps is None else n_steps}"


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2", help="comma-separated sampling seeds")
    p.add_argument("--kinds", default="unconditional,guided,interpolation")
    args = C.finish_args(p.parse_args(argv), NAME)
    t_begin = time.perf_counter()
    import torch

    from scdiffusion.metrics import fit_annotator, mmd_rbf, rf_auc

    seeds = [int(s) for s in args.seeds.split(",")][: 2 if args.quick else None]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    train, test = C.pbmc_split(args.seed)
    model, train_info = C.train_model(train, [C.PBMC_LABELS], args, "pbmc_bulk_labels", likelihood="nb")
    genes = model.genes
    real_test = C.log_norm(model, test)
    real_train = C.log_norm(model, train)
    z_test = model.get_latent_representation(test)
    annotate = fit_annotator(real_train.X, train.obs[C.PBMC_LABELS].astype(str).to_numpy(),
                             "logistic_regression", seed=args.seed, max_iter=500)
    n_gen = 60 if args.quick else 2 * test.n_obs
    test_labels = test.obs[C.PBMC_LABELS].astype(str).to_numpy()
    rng = np.random.default_rng(args.seed)
    guided_labels = rng.choice(test_labels, size=n_gen, replace=True)
    n_interp = 20 if args.quick else 60
    rf_trees = 100 if args.quick else 500

    rows: list[dict] = []
    reference_states: dict[int, list[np.ndarray]] = {}
    for kind in kinds:
        for sampler, n_steps in _configs(args.quick):
            for seed in seeds:
                t0 = time.perf_counter()
                if kind == "interpolation":
                    g = model.interpolate(train, C.PBMC_LABELS, START, END, n_states=5, n_cells=n_interp,
                                          t_start=600, sampler=sampler, n_steps=n_steps, seed=seed,
                                          progress=False)
                else:
                    cond = {C.PBMC_LABELS: list(guided_labels)} if kind == "guided" else None
                    g = model.generate(n_gen, cond, sampler=sampler, n_steps=n_steps, seed=seed, progress=False)
                secs = time.perf_counter() - t0
                row = {"kind": kind, "sampler": sampler, "n_steps": int(g.uns["scdiffusion"]["n_steps"]),
                       "config": _label(sampler, n_steps), "seed": seed, "seconds": round(secs, 3),
                       "cells_per_second": round(g.n_obs / secs, 2)}
                x = np.asarray(g[:, genes].X, dtype=np.float32)
                if kind == "interpolation":
                    state = g.obs["interpolation_state"].to_numpy()
                    z_states = [g.obsm["X_scdiffusion"][state == s] for s in range(5)]
                    called = annotate(x)
                    row["end_fraction"] = [float(np.mean(called[state == s] == END)) for s in range(5)]
                    row["end_fraction_mean"] = float(np.mean(row["end_fraction"]))
                    if sampler == "ddpm":
                        reference_states.setdefault(seed, z_states)
                    ref = reference_states.get(seed)
                    if ref is not None and sampler != "ddpm":
                        row["mmd_to_reference"] = float(np.mean([
                            mmd_rbf(ref[s], z_states[s], seed=seed) for s in range(5)]))
                else:
                    row["mmd_genes"] = mmd_rbf(real_test.X, x, seed=seed)
                    row["mmd_latent"] = mmd_rbf(z_test, g.obsm["X_scdiffusion"], seed=seed)
                    row["rf_auc_pca"] = rf_auc(real_test.X, x, seed=seed, n_estimators=rf_trees, n_jobs=1)
                    if kind == "guided":
                        row["accuracy"] = float(np.mean(annotate(x) == np.asarray(guided_labels)))
                print(row, flush=True)
                rows.append(row)
        # the interpolation reference for ddpm itself: seed-to-seed distance between its own runs
        if kind == "interpolation" and len(reference_states) > 1:
            ks = sorted(reference_states)
            for a, b in zip(ks, ks[1:]):
                rows.append({"kind": kind, "sampler": "ddpm", "config": "ddpm-all (seed vs seed)",
                             "seed": f"{a}-{b}", "mmd_to_reference": float(np.mean([
                                 mmd_rbf(reference_states[a][s], reference_states[b][s], seed=a)
                                 for s in range(5)]))})

    summary = summarise(rows)
    out = {"meta": C.meta(args, t_begin, data="scanpy pbmc68k_reduced exact counts, 80/20 split stratified by "
                          "bulk_labels", n_heldout=int(test.n_obs), n_generated=n_gen, n_interpolation_cells=n_interp,
                          seeds=seeds, training=train_info, torch_threads=torch.get_num_threads(),
                          reference="ddpm-all: ancestral DDPM visiting every original step (1000; 601 from "
                          "t_start=600 for interpolation)"),
           "summary": summary, "runs": rows}
    path = C.write_json(args, out)
    print_summary(summary)
    print(f"Wrote {path}", flush=True)
    return out


#: +1: higher is better, −1: lower is better, 0: neither (must stay within the noise on both sides)
DIRECTION = {"mmd_genes": -1, "mmd_latent": -1, "rf_auc_pca": -1, "accuracy": 1, "end_fraction_mean": 0}
METRICS = {"unconditional": ["mmd_genes", "mmd_latent", "rf_auc_pca"],
           "guided": ["mmd_genes", "mmd_latent", "rf_auc_pca", "accuracy"],
           "interpolation": ["end_fraction_mean", "mmd_to_reference"]}


def summarise(rows: list[dict]) -> dict:
    """Mean / min / max per (kind, config) and whether each metric matches the reference within its noise."""
    summary: dict = {}
    for kind, metrics in METRICS.items():
        by_cfg: dict[str, list[dict]] = {}
        for r in rows:
            if r["kind"] == kind:
                by_cfg.setdefault(r["config"], []).append(r)
        if not by_cfg:
            continue
        ref_rows = by_cfg.get("ddpm-all", [])
        ref_cps = np.mean([r["cells_per_second"] for r in ref_rows]) if ref_rows else None
        table = {}
        for cfg, rs in by_cfg.items():
            entry: dict = {"n_seeds": len(rs)}
            if "cells_per_second" in rs[0]:
                cps = float(np.mean([r["cells_per_second"] for r in rs]))
                entry["cells_per_second"] = round(cps, 2)
                entry["n_steps"] = rs[0]["n_steps"]
                if ref_cps:
                    entry["speedup_vs_reference"] = round(cps / ref_cps, 1)
            matches = []
            for m in metrics:
                vals = [r[m] for r in rs if r.get(m) is not None]
                if not vals:
                    continue
                entry[m] = {"mean": float(np.mean(vals)), "min": float(np.min(vals)), "max": float(np.max(vals))}
                ref_vals = [r[m] for r in ref_rows if r.get(m) is not None]
                if m == "mmd_to_reference":
                    noise = by_cfg.get("ddpm-all (seed vs seed)")
                    if noise and cfg != "ddpm-all (seed vs seed)":
                        nv = [r[m] for r in noise]
                        ok = float(np.mean(vals)) <= 2 * max(nv)
                        entry[m]["within_noise"] = bool(ok)
                        matches.append(ok)
                elif ref_vals and cfg != "ddpm-all":
                    spread = max(max(ref_vals) - min(ref_vals), 1e-12)
                    diff = float(np.mean(vals)) - float(np.mean(ref_vals))
                    sign = DIRECTION[m]
                    ok = abs(diff) <= spread if sign == 0 else sign * diff >= -spread
                    entry[m]["within_noise"] = bool(ok)
                    matches.append(ok)
            if matches:
                entry["matches_reference"] = bool(all(matches))
            table[cfg] = entry
        summary[kind] = table
    return summary


def print_summary(summary: dict) -> None:
    for kind, table in summary.items():
        print(f"\n{kind}")
        for cfg, e in table.items():
            parts = [f"{cfg:<26}", f"cells/s {e.get('cells_per_second', '–')!s:>8}",
                     f"x{e.get('speedup_vs_reference', '–')!s:<6}"]
            for m in METRICS[kind]:
                if m in e:
                    parts.append(f"{m} {e[m]['mean']:.3f} [{e[m]['min']:.3f}, {e[m]['max']:.3f}]"
                                 + ("" if "within_noise" not in e[m] else (" ok" if e[m]["within_noise"] else " NO")))
            print("  ".join(parts))


def resummarise(path: str) -> None:
    """Recompute the summary of an existing results.json (e.g. after changing the matching rule)."""
    import json
    from pathlib import Path

    data = json.loads(Path(path).read_text())
    data["summary"] = summarise(data["runs"])
    Path(path).write_text(json.dumps(data, indent=2))
    print_summary(data["summary"])


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--resummarise":
        resummarise(sys.argv[2])
    else:
        main()
