"""Benchmark 11b: how close *any* interpolation between the neighbours can get on the simulated trajectory.

No model is trained. The cells, the held-out half, the PCA and the baselines are those of ``trajectory.py`` (same
seeds, same draws, same order of random numbers, so its direct-interpolation, OT-displacement and control rows
repeat here to the last digit). Beside them, rows that no trained model can beat within its family, because they
use what the simulator knows and a model never sees — every cell's noise-free state (pseudotime τ, activity of the
τ-independent programmes, expected library size) and the exact count model:

* **oracle blend, random pairs** — random pairs of real cells of the two neighbours; each interpolated cell is
  drawn from the simulator with the *blend of the pair's states* (logits ``(1 − w) η_a + w η_b``, log library
  blended alike) and fresh NB counts. Direct interpolation with a perfect encoder and decoder: no averaged counting
  noise, no decoder error.
* **oracle blend, OT pairs** — the same with pairs from the exact OT coupling of the two neighbours' noise-free
  logits. This is what two-ended interpolation aims at (pairs by OT in a latent space, blend, decode) with a
  perfect autoencoder: the best a *blend* of neighbour cells can do.
* **oracle pseudotime** — the same OT pairs, but the interpolated cell has the blended *pseudotime*
  ``τ = (1 − w) τ_a + w τ_b`` and every gene's response at that τ (activity and library blended): what a model
  that knew every gene's response curve in the gap could do. Genes that switch or peak inside the gap, which no
  cell of either neighbour shows, are right here and wrong in every blend.

The gap between *oracle blend, OT pairs* and *oracle pseudotime* is what the neighbours cannot tell: where inside
the gap a gene switches, and the transient programmes that peak there. The JSON also counts the genes whose
response at the held-out time point differs from the blend of the neighbours' responses (at the time points' mean
τ) by more than ``--gap-threshold`` (natural-log units), and scores the rows on the other genes alone (a PCA fitted
on them).

    OMP_NUM_THREADS=1 python benchmarks/trajectory_oracle.py [--quick] [--seeds 0 1 2]
"""

from __future__ import annotations

import _common as C  # noqa: I001  (pins threads before numpy/torch)

import time

import numpy as np
import trajectory as T
from _trajectory_sim import TrajectoryDraw, TrajectoryModel

NAME = "trajectory_oracle"
ORACLE_RANDOM, ORACLE_OT, ORACLE_TAU = ("oracle blend, random pairs", "oracle blend, OT pairs",
                                        "oracle pseudotime, OT pairs")


def _log_norm(counts: np.ndarray, genes: np.ndarray, target_sum: float = 1e4) -> np.ndarray:
    """Counts → log1p of counts per ``target_sum`` over the kept genes (the package's preprocessing)."""
    x = np.asarray(counts, dtype=np.float64)[:, genes]
    lib = np.maximum(x.sum(axis=1, keepdims=True), 1.0)
    return np.log1p(x / lib * target_sum).astype(np.float32)


def _states(sim: TrajectoryModel, draw: TrajectoryDraw, rows: np.ndarray) -> dict[str, np.ndarray]:
    return {"tau": draw.tau[rows].astype(np.float64), "activity": draw.activity[rows].astype(np.float64),
            "log_library": np.log(draw.library[rows].astype(np.float64))}


def oracle_cells(sim: TrajectoryModel, a: dict, b: dict, w: float, rng: np.random.Generator, *,
                 blend_tau: bool) -> np.ndarray:
    """Counts of cells whose state blends paired states ``a`` and ``b`` (arrays of equal length) at weight ``w``.

    ``blend_tau=False``: the logits are blended (a perfect blend of two cells); ``True``: the pseudotime is blended
    and the response taken at it (a perfect model of every gene's response curve)."""
    activity = (1.0 - w) * a["activity"] + w * b["activity"]
    library = np.exp((1.0 - w) * a["log_library"] + w * b["log_library"])
    if blend_tau:
        logits = sim.logits((1.0 - w) * a["tau"] + w * b["tau"], activity)
    else:
        logits = (1.0 - w) * sim.logits(a["tau"], a["activity"]) + w * sim.logits(b["tau"], b["activity"])
    return sim.sample_counts(logits, library, rng).astype(np.float32)


def gap_genes(sim: TrajectoryModel, prev: str, held: str, nxt: str) -> np.ndarray:
    """Per gene, |f(τ_held) − blend of f(τ_prev), f(τ_next)| at the time points' mean τ (natural-log units)."""
    labels = list(sim.time_labels)
    tp, th, tn = (sim.time_means[labels.index(x)] for x in (prev, held, nxt))
    w = (th - tp) / (tn - tp)
    f = sim.response(np.array([tp, th, tn]))
    return np.abs(f[1] - ((1.0 - w) * f[0] + w * f[2]))


def run_seed(sim: TrajectoryModel, seed: int, args) -> dict:
    """The rows of one seed (draws and random numbers in ``trajectory.run_seed``'s order)."""
    held = args.held_out
    prev, nxt, w, draw, fresh, pca_draw = T.seed_draws(sim, held, args.n_per_time, seed)
    t = draw.time
    is_held = t == held
    # the model's preprocessing: genes detected in >= 3 training cells, counts per 10,000, log1p
    genes = np.flatnonzero((draw.counts[~is_held] > 0).sum(axis=0) >= 3)
    real = _log_norm(draw.counts, genes)
    rng = np.random.default_rng(seed)
    halves = rng.permutation(np.flatnonzero(is_held))
    n_ref = len(halves) // 2
    ref, other = real[halves[:n_ref]], real[halves[n_ref:2 * n_ref]]
    score = T.Scorer(_log_norm(pca_draw.counts, genes), ref, seed, n_trees=args.n_trees)
    i_prev, i_next = np.flatnonzero(t == prev), np.flatnonzero(t == nxt)
    x_prev, x_next = real[i_prev], real[i_next]
    w_states = np.linspace(0.0, 1.0, args.n_states)
    pairs = T.ot_pairs(score.project(x_prev), score.project(x_next), n_ref, rng)
    for ws in w_states:  # trajectory.py's baseline curves: the same random numbers, so the rows below repeat
        T.direct_interpolation(x_prev, x_next, float(ws), n_ref, rng)
    rows = {f"{T.DIRECT} (w = {w:.2f})": score(T.direct_interpolation(x_prev, x_next, w, n_ref, rng)),
            f"{T.OT} (w = {w:.2f})": score(T.mccann(x_prev, x_next, pairs, w))}
    rows[f"real {prev} h (previous)"] = score(x_prev[rng.choice(len(x_prev), n_ref, replace=False)])
    rows[f"real {nxt} h (next)"] = score(x_next[rng.choice(len(x_next), n_ref, replace=False)])
    rows[T.CONTROL] = score(other)
    fresh_log = _log_norm(fresh.counts, genes)
    rows[T.FRESH] = score(fresh_log[rng.choice(len(fresh_log), n_ref, replace=False)])

    orng = np.random.default_rng(20_000 + seed)  # the oracle rows' own stream
    ra, rb = orng.integers(0, len(i_prev), n_ref), orng.integers(0, len(i_next), n_ref)
    eta_prev = sim.logits(draw.tau[i_prev], draw.activity[i_prev])
    eta_next = sim.logits(draw.tau[i_next], draw.activity[i_next])
    oa, ob = T.ot_pairs(eta_prev, eta_next, n_ref, orng)
    oracle = {
        ORACLE_RANDOM: oracle_cells(sim, _states(sim, draw, i_prev[ra]), _states(sim, draw, i_next[rb]), w, orng,
                                    blend_tau=False),
        ORACLE_OT: oracle_cells(sim, _states(sim, draw, i_prev[oa]), _states(sim, draw, i_next[ob]), w, orng,
                                blend_tau=False),
        ORACLE_TAU: oracle_cells(sim, _states(sim, draw, i_prev[oa]), _states(sim, draw, i_next[ob]), w, orng,
                                 blend_tau=True)}
    for name, counts in oracle.items():
        rows[name] = score(_log_norm(counts, genes))

    # the same rows on the genes a blend of the neighbours can know (response at the held-out time within
    # --gap-threshold of the neighbours' blend); a PCA fitted on those genes alone
    gap = gap_genes(sim, prev, held, nxt)[genes]
    known = gap <= args.gap_threshold
    sub = T.Scorer(_log_norm(pca_draw.counts, genes)[:, known], ref[:, known], seed, n_trees=args.n_trees)
    srng = np.random.default_rng(seed + 1)
    subset_rows = {
        f"{T.DIRECT} (w = {w:.2f})": sub(T.direct_interpolation(x_prev[:, known], x_next[:, known], w, n_ref, srng)),
        f"{T.OT} (w = {w:.2f})": sub(T.mccann(x_prev[:, known], x_next[:, known], pairs, w)),
        T.CONTROL: sub(other[:, known]),
        **{name: sub(_log_norm(counts, genes)[:, known]) for name, counts in oracle.items()}}
    return {"rows": rows, "rows_known_genes": subset_rows, "w_rule": w, "neighbours": [prev, nxt],
            "n_per_row": n_ref, "n_genes": int(len(genes)), "n_known_genes": int(known.sum()),
            "gap_quantiles": {str(q): float(np.quantile(gap, q)) for q in (0.5, 0.75, 0.9, 0.95, 0.99)}}


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (0 with --quick)")
    p.add_argument("--held-out", default=None, help="time label held out (default: the middle one)")
    p.add_argument("--time-labels", default=",".join(T.TIME_LABELS),
                   help="comma-separated ordered time points in hours (a denser course narrows the gap)")
    p.add_argument("--n-genes", type=int, default=600)
    p.add_argument("--n-per-time", type=int, default=600, help="cells drawn per time point")
    p.add_argument("--sim-seed", type=int, default=0, help="seed of the simulated process's parameters")
    p.add_argument("--n-states", type=int, default=5)
    p.add_argument("--n-trees", type=int, default=1000, help="random-forest trees of the RF AUC")
    p.add_argument("--gap-threshold", type=float, default=0.25,
                   help="genes whose response at the held-out time differs from the neighbours' blend by more "
                        "than this (natural log) are left out of the 'known genes' rows")
    args = C.finish_args(p.parse_args(argv), NAME)
    if args.quick:
        args.n_genes, args.n_per_time, args.n_trees = 200, 160, 100
    if args.seeds is None:
        args.seeds = [0] if args.quick else [0, 1, 2]
    labels = tuple(x.strip() for x in args.time_labels.split(",") if x.strip())
    args.held_out = args.held_out or labels[len(labels) // 2]
    t_start = time.perf_counter()
    sim = TrajectoryModel.make(args.n_genes, args.sim_seed, time_labels=labels)
    per_seed = {str(s): run_seed(sim, s, args) for s in args.seeds}
    runs = list(per_seed.values())

    def summarize(key: str) -> dict:
        return {r: {c: T._stats([s[key][r][c] for s in runs]) for c in T.COLUMNS} for r in runs[0][key]}

    summary, known = summarize("rows"), summarize("rows_known_genes")
    first = runs[0]
    direct = next(v for k, v in summary.items() if k.startswith(T.DIRECT))["mmd2"]["mean"]
    ratios = {r: v["mmd2"]["mean"] / direct for r, v in summary.items()}
    for r, q in ratios.items():
        C.logger.info("MMD² %-42s %.3f  (%.2f x direct)", r, summary[r]["mmd2"]["mean"], q)
    table = C.print_table({k: {c: v[c]["mean"] for c in T.COLUMNS} for k, v in summary.items()}, list(T.COLUMNS),
                          f"{NAME}: held-out {args.held_out} h, {first['n_per_row']} cells per row, all "
                          f"{first['n_genes']} genes, mean over seeds {args.seeds}")
    table_known = C.print_table({k: {c: v[c]["mean"] for c in T.COLUMNS} for k, v in known.items()},
                                list(T.COLUMNS), f"the {first['n_known_genes']} genes whose response at "
                                f"{args.held_out} h is within {args.gap_threshold} of the neighbours' blend")
    out = {"meta": C.meta(args, t_start, data="simulated differentiation (_trajectory_sim.TrajectoryModel), NB "
                          "counts; no model trained", seeds=args.seeds, held_out=args.held_out,
                          neighbours=first["neighbours"], w_rule=first["w_rule"], n_cells_per_row=first["n_per_row"],
                          n_genes=first["n_genes"], n_known_genes=first["n_known_genes"],
                          gap_threshold=args.gap_threshold, time_labels=list(labels),
                          gap_quantiles=first["gap_quantiles"],
                          n_trees=args.n_trees, simulation={"n_genes": args.n_genes, "n_per_time": args.n_per_time,
                                                            "sim_seed": args.sim_seed}),
           "columns": {c: {"label": lab, "ideal": ideal} for c, (lab, ideal) in T.COLUMNS.items()},
           "summary": summary, "mmd2_over_direct": ratios, "summary_known_genes": known, "seeds": per_seed,
           "table": table + "\n" + table_known}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
