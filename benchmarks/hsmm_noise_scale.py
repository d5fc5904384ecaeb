"""Benchmark 13: what limits W1 on the HSMM time course — the decoder's count noise, or the measure?

``hsmm_trajectory.py`` finds every generated row behind direct interpolation of real cells on W1 (50 PCs) while
ahead of it on MMD², and the held-out cells' own reconstructions (the ceiling) behind it at 48 h. Two readings:
the decoder's counts are noisier than real cells (then counts drawn with less noise should come closer), or the
empirical W1 of a few dozen cells rewards less spread whatever the cells are (then real held-out cells pulled
towards their own mean should beat the unmodified ones). This script measures both on the models, cells, PCA and
reference of ``hsmm_trajectory.py`` (the same model cache: run that first, or this trains the label models
afresh with the same settings):

* the ceiling (held-out control half through the autoencoder) with counts drawn at the refitted inverse dispersion
  θ, at θ × 2, × 4, × 16 and as Poisson (θ → ∞): less count noise, the same decoded means;
* the real held-out control half, and the same cells moved 10 % and 30 % of the way to their own mean;
* direct interpolation (w = 0.5) for reference;

each against the reference half on every measure of ``trajectory.py`` (MMD², W1, W2, W1 on 5 PCs, energy distance,
RF AUC, 1-NN, iLISI), and the summed per-gene variance of the log values (real control half vs reconstructions).

    OMP_NUM_THREADS=1 python benchmarks/hsmm_noise_scale.py [--quick] [--held-out 24 48] [--seeds 0 1 2]
"""

from __future__ import annotations

import _common as C  # noqa: I001  (pins threads before numpy/torch)

import time

import hsmm_trajectory as HT
import numpy as np
import trajectory as T

import _decoder_eval as E
import interpolation as H

NAME = "hsmm_noise_scale"
KEY = H.KEY
#: inverse-dispersion multipliers of the ceiling's counts (None: Poisson)
THETA_SCALES = (1.0, 2.0, 4.0, 16.0, None)
SHRINK_FRACTIONS = (0.1, 0.3)


def draw_counts(mean: np.ndarray, theta: np.ndarray, scale: float | None, rng: np.random.Generator) -> np.ndarray:
    """NB(mean, θ × scale) counts as a gamma–Poisson mixture; Poisson(mean) when ``scale`` is None."""
    if scale is None:
        return rng.poisson(mean).astype(np.float32)
    th = theta * scale
    return rng.poisson(rng.gamma(th, mean / th)).astype(np.float32)


def run_seed(fpkm, held: str, seed: int, args) -> dict:
    """Train (or load) the label model of ``hsmm_trajectory.py`` and score every row for one seed."""
    import anndata as ad
    import pandas as pd

    k = HT.HOURS.index(held)
    prev, nxt = HT.HOURS[k - 1], HT.HOURS[k + 1]
    counts = H.prepare(fpkm, args.n_genes, held_out=held)
    hours = counts.obs[KEY].to_numpy()
    train = counts[hours != held].copy()
    args.seed = seed
    model, info = C.train_model(train, [KEY], args, f"hsmm_held{held}_{counts.n_vars}genes")
    real = C.log_norm(model, counts).X
    real = np.asarray(real.toarray() if hasattr(real, "toarray") else real, dtype=np.float32)
    rng = np.random.default_rng(seed)
    held_idx, pca_idx, pool = HT.split_cells(hours, held, rng)
    n_ref = len(held_idx) // 2
    ref, other = real[held_idx[:n_ref]], real[held_idx[n_ref:2 * n_ref]]
    score = T.Scorer(real[pca_idx], ref, seed, n_trees=args.n_trees)
    rows = {T.CONTROL: score(other)}
    for f in SHRINK_FRACTIONS:
        rows[f"real held-out half, {f:.0%} toward its mean"] = score(T.shrunk(other, f))
    x_prev, x_next = real[pool[prev]], real[pool[nxt]]
    rows[f"{T.DIRECT} (w = 0.50)"] = score(T.direct_interpolation(x_prev, x_next, 0.5, n_ref,
                                                                    np.random.default_rng(seed)))
    _, mean, theta = E.reconstruct(model, counts[held_idx[n_ref:2 * n_ref]], seed)
    draws = np.random.default_rng(seed + 1)
    variance = {"real held-out half": float(np.var(other, axis=0).sum())}
    for scale in THETA_SCALES:
        x = draw_counts(mean, theta, scale, draws)
        logged = C.log_norm(model, ad.AnnData(X=x, var=pd.DataFrame(index=pd.Index(model.genes)))).X
        name = "ceiling, Poisson counts (θ → ∞)" if scale is None else f"ceiling, counts at θ × {scale:g}"
        rows[name] = score(logged)
        variance[name] = float(np.var(logged, axis=0).sum())
    return {"rows": rows, "summed_gene_variance": variance, "theta_median": float(np.median(theta)),
            "n_per_row": n_ref, "training": info, "neighbours": [prev, nxt]}


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0], full_time=360.0)
    p.add_argument("--held-out", nargs="+", default=["24", "48"], choices=["24", "48"])
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (0 with --quick)")
    p.add_argument("--n-genes", type=int, default=2000)
    p.add_argument("--n-trees", type=int, default=1000, help="random-forest trees of the RF AUC")
    C.add_model_kwargs(p)
    p.add_argument("--use-max-time", dest="default_budgets", action="store_false",
                   help="train with --max-time instead of the package's default step budgets (the default here)")
    p.set_defaults(default_budgets=True)
    args = C.finish_args(p.parse_args(argv), NAME)
    if args.quick:
        args.n_genes, args.n_trees, args.default_budgets = 300, 100, False
        args.held_out = args.held_out[:1]
    if args.seeds is None:
        args.seeds = [0] if args.quick else [0, 1, 2]
    t_start = time.perf_counter()
    fpkm, how = H.read_hsmm()
    results = {}
    for held in args.held_out:
        per_seed = {str(s): run_seed(fpkm, held, s, args) for s in args.seeds}
        runs = list(per_seed.values())
        summary = {r: {c: T._stats([s["rows"][r][c] for s in runs]) for c in T.COLUMNS} for r in runs[0]["rows"]}
        variance = {r: T._stats([s["summed_gene_variance"][r] for s in runs]) for r in runs[0]["summed_gene_variance"]}
        table = C.print_table({k: {c: v[c]["mean"] for c in T.COLUMNS} for k, v in summary.items()},
                              list(T.COLUMNS), f"{NAME}: held-out {held} h, {runs[0]['n_per_row']} cells per row, "
                              f"mean over seeds {args.seeds}")
        results[held] = {"summary": summary, "summed_gene_variance": variance, "table": table,
                         "theta_median": [s["theta_median"] for s in runs], "n_cells_per_row": runs[0]["n_per_row"],
                         "seeds": per_seed}
    out = {"meta": C.meta(
        args, t_start, data="HSMMSingleCell myoblasts (Trapnell 2014), FPKM", read=how,
        preprocessing="as hsmm_trajectory.py", seeds=args.seeds, held_out=args.held_out, n_trees=args.n_trees,
        theta_scales=[s if s is not None else "poisson" for s in THETA_SCALES],
        shrink_fractions=list(SHRINK_FRACTIONS),
        training={"max_time": None if args.default_budgets else args.max_time,
                  "default_budgets": bool(args.default_budgets)},
        measures="the cells, PCA and reference of hsmm_trajectory.py (same seeds, same split)"),
        "columns": {c: {"label": lab, "ideal": ideal} for c, (lab, ideal) in T.COLUMNS.items()},
        "held_out": results}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
