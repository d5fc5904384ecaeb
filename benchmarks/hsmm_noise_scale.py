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
    d = HT.prepare_seed(fpkm, held, seed, args)
    counts, model, info, real, pca_idx, pool = d.counts, d.model, d.info, d.real, d.pca_idx, d.pool
    held_idx, n_ref, ref, other = d.held_idx, d.n_ref, d.ref, d.other
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
    HT.add_arguments(p)
    args = HT.finish_arguments(C.finish_args(p.parse_args(argv), NAME))
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
    return HT.write_results(
        args, t_start, results, how, preprocessing="as hsmm_trajectory.py",
        theta_scales=[s if s is not None else "poisson" for s in THETA_SCALES],
        shrink_fractions=list(SHRINK_FRACTIONS),
        measures="the cells, PCA and reference of hsmm_trajectory.py (same seeds, same split)")

if __name__ == "__main__":
    main()
