"""Benchmark 10: ground truth — the decoder on counts simulated from a known negative-binomial model.

Data (made by the script, never written to disk): :class:`_simulation.CountModel` — 6 cell groups with
their own expression programmes, 3 shared continuous programmes, log-normal library sizes with per-group
scales, per-gene inverse dispersion θ (median 10), about 88 % zeros; 10,000 training cells × 2,000 genes and a
**fresh draw** of 2,000 cells of the same model as the held-out set (so results are not limited by a small
test set). The model's parameters are fixed (``--sim-seed``); every seed draws new cells and trains anew.

Rows (2,000 cells each, against the fresh draw): those of ``decoder.py`` (real training cells = a fresh-draw
control, decoder ceiling, reconstruction of held-out cells, generated cells, optional scVI) and two oracle rows
that swap in the truth for the training cells: ``true μ, learned θ`` (the simulation's means with the decoder's
dispersion) and ``decoded μ, true θ`` (the decoder's means with the simulation's dispersion) — which of the two
carries the gap says whether the mean or the noise model limits the decoder.

Guided cells (``guided`` in the JSON; not with ``--ae-only``): as many cells as the fresh draw, each conditioned
on a fresh cell's group with the package's default guidance, scored against the fresh draw: accuracy of the
logistic-regression annotator fitted on the training cells (control: its accuracy on the fresh draw), and the
kNN AUC per group (5-NN, 0.5 ideal; control: as many real training cells of each group, at most all of them).

Truth diagnostics (training cells): learned vs true θ, per-gene count variance of reconstructions over real,
per-cell zero fraction, and the correlation of the decoded mean's error ``(μ̂ − μ)/√μ`` with the cell's own
counting noise ``(x − μ)/√μ`` (0 for a decoder that does not pass sampling noise into its mean).

    OMP_NUM_THREADS=1 python benchmarks/simulated.py [--quick] [--seeds 0,1,2] [--ae-only] [--scvi]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import time

import numpy as np

import _decoder_eval as E
import _decoder_plots as P
import _decoder_run as R
from _simulation import CountModel

NAME = "simulated"
ORACLE_MU, ORACLE_THETA = "true μ, learned θ", "decoded μ, true θ"


def nb_draw(mu: np.ndarray, theta: np.ndarray, seed: int) -> np.ndarray:
    """Gamma–Poisson counts with means ``mu`` and inverse dispersions ``theta`` (broadcast)."""
    rng = np.random.default_rng(seed)
    theta = np.broadcast_to(theta, mu.shape)
    return rng.poisson(rng.gamma(theta, mu / theta)).astype(np.float32)


def truth(model_sim: CountModel, draw, extra: dict, genes_idx: np.ndarray, seed: int) -> tuple[dict, dict]:
    """Truth diagnostics of the training-cell reconstruction, and the two oracle rows' counts (over the
    model's genes, ``genes_idx`` of the simulated genes)."""
    pick = extra["pick"]
    x = draw.counts[np.ix_(pick, genes_idx)].astype(np.float64)
    mu = draw.mu[np.ix_(pick, genes_idx)].astype(np.float64)
    theta_true = model_sim.theta[genes_idx]
    mu_hat, theta_hat = extra["train_recon_mean"].astype(np.float64), extra["train_recon_theta"]
    recon = np.asarray(extra["train_recon"].X, dtype=np.float64)
    ok = mu.mean(0) > 0.05  # genes with enough signal for variance ratios
    var_ratio = recon[:, ok].var(0) / np.maximum(x[:, ok].var(0), 1e-12)
    s = np.sqrt(np.maximum(mu, 1e-6))
    err, noise = ((mu_hat - mu) / s).ravel(), ((x - mu) / s).ravel()
    theta_gene = np.median(theta_hat, axis=0) if theta_hat.ndim == 2 else theta_hat
    diag = {"theta_true_median": float(np.median(theta_true)),
            "theta_learned_median": float(np.median(theta_gene)),
            "theta_log_correlation": float(np.corrcoef(np.log(theta_true), np.log(theta_gene))[0, 1]),
            "count_variance_ratio_median": float(np.median(var_ratio)),
            "zero_fraction_per_cell_real": float((x == 0).mean()),
            "zero_fraction_per_cell_recon": float((recon == 0).mean()),
            "mean_error_vs_counting_noise_r": float(np.corrcoef(err, noise)[0, 1]),
            "mean_relative_rmse": float(np.sqrt(np.mean(err**2)))}
    oracle = {ORACLE_MU: nb_draw(mu, theta_hat, seed + 7), ORACLE_THETA: nb_draw(mu_hat, theta_true, seed + 8)}
    return diag, oracle


def guided(model, train, real: R.Cells, annotate, seed: int, args) -> dict:
    """The guided-cell row: annotation accuracy and per-group kNN AUC against the fresh draw, and the same
    for as many real training cells of each group (the control)."""
    from scdiffusion.metrics import knn_auc_per_label

    wanted = real.labels
    t0 = time.perf_counter()
    g = model.generate(len(wanted), {"group": list(wanted)}, seed=seed, progress=False, **C.sampling(args))
    seconds = round(time.perf_counter() - t0, 2)
    x_guided = E.as_log(g, model.genes)
    rng = np.random.default_rng(seed + 13)
    y_train = train.obs["group"].astype(str).to_numpy()
    pick = np.concatenate([rng.choice(idx, size=min(len(idx), int((wanted == t).sum())), replace=False)
                           for t in np.unique(wanted) for idx in [np.flatnonzero(y_train == t)]])
    x_control = E.as_log(train[np.sort(pick)], model.genes)
    y_control = y_train[np.sort(pick)]
    out = {"generate_seconds": seconds}
    for name, x, y in (("guided", x_guided, wanted), ("control", x_control, y_control)):
        knn = knn_auc_per_label(real.x, x, real.labels, y, k=5, seed=seed)
        aucs = [v["auc"] for v in knn.values() if v["auc"] is not None]
        out[name] = {"accuracy": float(np.mean(annotate(x) == y)), "knn_auc_mean": float(np.mean(aucs)),
                     "knn_auc_max": float(np.max(aucs)), "knn_auc": {k: v["auc"] for k, v in knn.items()}}
    out["heldout_real_accuracy"] = float(np.mean(annotate(real.x) == real.labels))
    C.logger.info("seed %d guided: accuracy %.3f (fresh draw %.3f), kNN AUC %.3f (control %.3f)", seed,
                  out["guided"]["accuracy"], out["heldout_real_accuracy"], out["guided"]["knn_auc_mean"],
                  out["control"]["knn_auc_mean"])
    return out


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--n-cells", type=int, default=None, help="training cells (default 10,000; 1,500 with --quick)")
    p.add_argument("--n-test", type=int, default=None,
                   help="cells of the fresh draw (held out; default 2,000; 300 with --quick)")
    p.add_argument("--n-genes", type=int, default=None, help="genes (default 2,000; 300 with --quick)")
    p.add_argument("--n-groups", type=int, default=6)
    p.add_argument("--sim-seed", type=int, default=0, help="seed of the simulated model's parameters")
    p.add_argument("--library-median", type=float, default=500.0,
                   help="median library size of the simulated cells (3000 with 10,000 genes: ~85 %% zeros, "
                        "~1,450 genes detected per cell, as in a 10x run)")
    R.add_arguments(p)
    args = R.finish(p.parse_args(argv), NAME)
    for key, full, quick in (("n_cells", 10_000, 1500), ("n_test", 2000, 300), ("n_genes", 2000, 300)):
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    t_start = time.perf_counter()
    sim = CountModel.make(args.n_genes, args.n_groups, args.sim_seed, library_median=args.library_median)
    per_seed, seeds_out, first = [], {}, None
    for seed in args.seeds:
        draw = sim.draw(args.n_cells, seed=10_000 + 2 * seed)
        fresh = sim.draw(args.n_test, seed=10_001 + 2 * seed)
        train, test = draw.to_anndata("cell"), fresh.to_anndata("fresh")
        model, info = R.train_model(train, "group", args, seed)
        real, rows, extra = R.build_rows(model, train, test, "group", args, seed, n_rows=args.n_test)
        genes_idx = train.var_names.get_indexer(model.genes)
        diag, oracle = truth(sim, draw, extra, genes_idx, seed)
        labels = rows[R.CONTROL].labels
        for name, counts in oracle.items():
            rows[name] = R.Cells(E.log_normalized(counts), counts.sum(1), labels)
        scored = R.score(real, rows, model.genes, args, seed, extra["latents"], extra["reference"])
        scored.update(training=info, truth=diag, n_per_row={k: len(v.x) for k, v in rows.items()},
                      seconds=extra["seconds"], scvi=extra.get("scvi"))
        if not args.ae_only:
            scored["guided"] = guided(model, train, real, extra["annotate"], seed, args)
        C.logger.info("seed %d truth: %s", seed, {k: round(v, 3) for k, v in diag.items()})
        per_seed.append(scored["rows"])
        seeds_out[str(seed)] = scored
        if first is None:
            first = (real, rows, scored)
    summary = E.summarize(per_seed)
    truth_summary = {k: float(np.mean([s["truth"][k] for s in seeds_out.values()]))
                     for k in next(iter(seeds_out.values()))["truth"]}
    real, rows, scored = first
    tag = f"simulation, seed {args.seeds[0]}"
    shown = {k: v for k, v in rows.items() if k in (R.CEILING, R.GENERATED, ORACLE_MU, ORACLE_THETA)}
    figures = {
        "metrics": str(C.bar_figure(E.means(summary), E.COLUMNS, args.output_dir / "metrics.png",
                                    f"Simulated NB counts, mean of seeds {args.seeds}", E.IDEALS)),
        "genes": str(P.gene_panels(real, shown, args.output_dir / "gene_stats.png",
                                   f"Per-gene statistics vs the fresh draw ({tag})")),
        "depth_zeros": str(P.depth_zeros(real, shown, args.output_dir / "depth_zeros.png",
                                         f"Zero fraction vs library size ({tag})")),
    }
    table = C.print_table(E.means(summary), E.COLUMNS, f"{NAME}: mean over seeds {args.seeds}")
    md = R.markdown_rows(summary, "sim")
    (args.output_dir / "table.md").write_text(md + "\n")
    print(md, flush=True)
    print("truth:", {k: round(v, 3) for k, v in truth_summary.items()}, flush=True)
    guided_summary = None
    if not args.ae_only:
        per = [s["guided"] for s in seeds_out.values()]
        guided_summary = {f"{row}_{k}": float(np.mean([g[row][k] for g in per]))
                          for row in ("guided", "control") for k in ("accuracy", "knn_auc_mean")}
        guided_summary["heldout_real_accuracy"] = float(np.mean([g["heldout_real_accuracy"] for g in per]))
        print("guided:", {k: round(v, 3) for k, v in guided_summary.items()}, flush=True)
    out = {"meta": C.meta(args, t_start, data="simulated NB counts (_simulation.CountModel)",
                          simulation={"n_cells": args.n_cells, "n_test": args.n_test, "n_genes": args.n_genes,
                                      "n_groups": args.n_groups, "sim_seed": args.sim_seed,
                                      "library_median": args.library_median,
                                      "zero_fraction": float((draw.counts == 0).mean()),
                                      "median_counts_per_cell": float(np.median(draw.counts.sum(1))),
                                      "median_genes_detected": float(np.median((draw.counts > 0).sum(1)))},
                          peak_rss_gb=C.peak_rss_gb(),
                          seeds=args.seeds, model_kwargs=args.model_kwargs, train_kwargs=args.train_kwargs,
                          ae_only=args.ae_only, rows_note=R.__doc__),
           "columns": E.COLUMNS, "ideal": E.IDEALS, "summary": summary, "truth": truth_summary,
           "guided": guided_summary,
           "seeds": seeds_out, "figures": figures, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
