"""Experiment T4: interpolation conditioned on pseudotime instead of the time label (simulated trajectory).

The time label has four values in training; inside a time point the cells spread over pseudotime, so the
neighbours' leading and trailing cells show where genes start to switch in the gap. A continuous-time model
conditioned on a per-cell pseudotime (``continuous_keys=[column]``) sees that spread; one conditioned on the label
does not. Columns (``--column``):

* ``tau`` — the simulator's true pseudotime (an oracle column: the most a per-cell pseudotime can give);
* ``ridge`` — the hours predicted from the training cells' 30 principal components by ridge regression (RidgeCV)
  on their time labels, mapped piecewise-linearly so that every time point's median is its hours
  (:func:`scdiffusion.data.pseudotime.pseudotime_values`, which ``continuous_pseudotime=True`` applies; diffusion
  pseudotime breaks on the gap a held-out time point leaves in the kNN graph);
* ``hours`` — the measured hours themselves (the label value: what ``continuous_keys`` gives without the spread,
  the comparison for ``ridge``).

``--concentration`` sets κ of the simulator's within-time-point Beta (default 40, as ``trajectory.py``; smaller:
time points overlap more and expression predicts the hours less well out of sample — 8 gives R² 0.90, HSMM's
range; experiment T8).

The requested value of the held-out time point is its hours (``ridge``) or the mean of the neighbours' median τ
(``tau``). Rows at that value: generated from noise, and two-ended (the neighbours' cells paired by OT, noised
alike to ``t_start``, blended, denoised by the denoiser conditioned on the value) at several ``t_start``. Cells,
PCA, reference and scoring are those of ``trajectory.py`` (same seeds and draws); beside them direct
interpolation and OT displacement of the neighbours' real cells at the held-out time's weight, and the real
held-out control half.

    OMP_NUM_THREADS=1 python benchmarks/trajectory_pseudotime.py --column tau --seeds 0 --default-budgets
"""

from __future__ import annotations

import _common as C  # noqa: I001  (pins threads before numpy/torch)

import time

import numpy as np
import trajectory as T
from _trajectory_sim import TrajectoryModel

NAME = "trajectory_pseudotime"
PT = "pseudotime"


def run_seed(sim: TrajectoryModel, seed: int, args) -> dict:
    held = args.held_out
    d = T.seed_draws(sim, held, args.n_per_time, seed)
    prev, nxt, pca_draw = d.prev, d.nxt, d.pca_draw
    cells, is_held, train = d.split(held)
    args.seed = seed
    from scdiffusion.data.preprocessing import Preprocessor
    from scdiffusion.data.pseudotime import pseudotime_values

    pre = Preprocessor()
    train_log, _ = pre.fit_transform(train)
    th = train.obs[T.KEY].astype(float).to_numpy()
    spread = None
    if args.column == "tau":
        train.obs[PT] = train.obs["tau"].astype(float)
        value = float(np.mean([np.median(train.obs[PT][train.obs[T.KEY] == x]) for x in (prev, nxt)]))
    elif args.column == "hours":
        train.obs[PT] = th
        value = float(held)
    else:
        train.obs[PT], spread = pseudotime_values(th, train_log, seed=seed, key=T.KEY)
        value = float(held)
    kappa = "" if sim.concentration == 40.0 else f"_kappa{sim.concentration:g}"
    model, info = C.train_model(train, [T.KEY], args, f"trajectory_{sim.n_genes}g_{args.n_per_time}c_sim"
                                f"{args.sim_seed}{kappa}_held{held}_pt_{args.column}", continuous_keys=[PT],
                                # the column as given (the package's default would spread ``hours`` where R² >= 0.95)
                                continuous_pseudotime=False)
    real = C.log_norm(model, cells).X
    rng = np.random.default_rng(seed)
    halves = rng.permutation(np.flatnonzero(is_held))
    n_ref = len(halves) // 2
    score = T.Scorer(C.log_norm(model, pca_draw.to_anndata(T.KEY, prefix="pca")).X, real[halves[:n_ref]], seed,
                     n_trees=args.n_trees)
    rows = {}
    # baselines at the held-out time's weight, from the neighbours' real cells (trajectory.py's definitions)
    t = cells.obs[T.KEY].to_numpy()
    x_prev, x_next = real[t == prev], real[t == nxt]
    rows[T.CONTROL] = score(real[halves[n_ref:2 * n_ref]])
    rows[T.DIRECT] = score(T.direct_interpolation(x_prev, x_next, d.w_rule, n_ref, rng))
    pairs = T.ot_pairs(score.project(x_prev), score.project(x_next), n_ref, rng)
    rows[T.OT] = score(T.mccann(x_prev, x_next, pairs, d.w_rule))
    gen = model.generate(n_ref, condition={PT: value}, seed=seed, progress=False, **C.sampling(args))
    rows[f"{args.column}: generated at {value:.3g}"] = score(T._dense(gen.X))
    # two-ended along the pseudotime column: the neighbours' cells get their time point's median value as start/end
    starts = train[np.isin(train.obs[T.KEY].to_numpy(), [prev, nxt])].copy()
    meds = {x: float(np.median(train.obs[PT][train.obs[T.KEY] == x])) for x in (prev, nxt)}
    starts.obs[PT] = starts.obs[T.KEY].map(meds).astype(float)
    for ts in args.t_starts:
        out = model.interpolate(starts, PT, meds[prev], meds[nxt], at=[value], method="two-ended", n_cells=n_ref,
                                t_start=ts, seed=seed, progress=False, **C.sampling(args))
        rows[f"{args.column}: two-ended at {value:.3g}, t_start {ts}"] = score(T._dense(out.X))
    for name, r in rows.items():
        C.logger.info("seed %d %-45s MMD² %.3f W1 %.2f RF %.3f", seed, name, r["mmd2"], r["w1"], r["rf_auc"])
    return {"rows": rows, "value": value, "medians": meds, "training": info, "pseudotime": spread}


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0], full_time=360.0)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--column", choices=["tau", "ridge", "hours"], default="ridge")
    p.add_argument("--concentration", type=float, default=40.0,
                   help="κ of the within-time-point Beta of the simulator (smaller: time points overlap more)")
    p.add_argument("--t-starts", type=int, nargs="+", default=[50, 150, 300])
    p.add_argument("--held-out", default="24")
    p.add_argument("--n-genes", type=int, default=600)
    p.add_argument("--n-per-time", type=int, default=600)
    p.add_argument("--sim-seed", type=int, default=0)
    p.add_argument("--n-trees", type=int, default=1000)
    C.add_model_kwargs(p)
    args = C.finish_args(p.parse_args(argv), NAME)
    if args.quick:
        args.n_genes, args.n_per_time, args.n_trees, args.seeds = 200, 160, 100, [0]
    t0 = time.perf_counter()
    sim = TrajectoryModel.make(args.n_genes, args.sim_seed, time_labels=T.TIME_LABELS,
                               concentration=args.concentration)
    per_seed = {str(s): run_seed(sim, s, args) for s in args.seeds}
    runs = list(per_seed.values())
    summary = {r: {c: T._stats([s["rows"][r][c] for s in runs]) for c in T.COLUMNS} for r in runs[0]["rows"]
               if all(r in s["rows"] for s in runs)}
    table = C.print_table({k: {c: v[c]["mean"] for c in T.COLUMNS} for k, v in summary.items()}, list(T.COLUMNS),
                          f"{NAME} ({args.column}): held-out {args.held_out} h, mean over seeds {args.seeds}")
    out = {"meta": C.meta(args, t0, column=args.column, seeds=args.seeds, t_starts=args.t_starts,
                          held_out=args.held_out, concentration=args.concentration, n_per_time=args.n_per_time),
           "summary": summary, "seeds": per_seed, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
