"""Experiment T5: the scale of a continuous value's embedding, and cells generated at a time never trained on.

A continuous-time model (``continuous_keys``) embeds its value, normalised to [0, 1] over the trained range, with
the sinusoidal embedding of the diffusion time step after multiplying it by ``value_scale`` (the first releases:
1000). At 1000 most of the embedding's frequencies turn many times over [0, 1]: with four trained time points
they code each point apart, and a value between them (24 h, 0.5) lands on a combination of features the denoiser
never saw. A small scale keeps every feature smooth in the value, so that a value between trained ones is embedded
between them. This script trains one continuous-time model per scale (same cells, seed and step budgets; the
simulated trajectory of ``trajectory.py``, 24 h held out) and scores, against the held-out cells on the same PCA
as ``trajectory.py``: cells generated from noise at 24 h (``generate(condition={"time": 24})``), two-ended
interpolation by value at 24 h (``interpolate(..., at=[24])``, the default method and t_start), the same
generation with other classifier-free weights (``--cfg-scales``; the default weight is 4), cells generated at
the trained neighbours 12 h and 36 h (they must stay apart from 24 h: the embedding still tells times apart), and
the reference rows (direct interpolation, real neighbours, the other half of the held-out cells).

    OMP_NUM_THREADS=1 python benchmarks/value_embedding.py [--quick] [--seeds 0 1 2] [--scales 1000 1]
"""

from __future__ import annotations

import _common as C  # noqa: I001  (pins threads before numpy/torch)

import time

import numpy as np
import trajectory as T
from _trajectory_sim import TrajectoryModel

NAME = "value_embedding"


def run_seed(sim: TrajectoryModel, seed: int, args) -> dict:
    """Cells, PCA and reference of ``trajectory.py`` for ``seed``; one model per scale, every row scored."""
    import scdiffusion.nn.backbone as backbone

    held = args.held_out
    d = T.seed_draws(sim, held, args.n_per_time, seed)
    prev, nxt, w_rule, _, fresh, pca_draw = d
    cells, is_held, train = d.split(held)
    args.seed = seed
    rows: dict[str, dict] = {}
    training = {}
    score = None
    for scale in args.scales:
        backbone.VALUE_SCALE = float(scale)  # new networks take it; the model records it in its config
        model, info = C.train_model(train, [T.KEY], args, f"trajectory_{sim.n_genes}g_{args.n_per_time}c_sim"
                                    f"{args.sim_seed}_held{held}_continuous_vs{scale:g}", continuous_keys=[T.KEY])
        assert model.module.denoiser.value_scale == float(scale)
        training[f"{scale:g}"] = info
        if score is None:  # the reference rows, once (log-normalisation does not depend on the scale)
            real = C.log_norm(model, cells).X
            t = cells.obs[T.KEY].to_numpy()
            rng = np.random.default_rng(seed)
            halves = rng.permutation(np.flatnonzero(is_held))
            n_ref = len(halves) // 2
            ref, other = real[halves[:n_ref]], real[halves[n_ref:2 * n_ref]]
            score = T.Scorer(C.log_norm(model, pca_draw.to_anndata(T.KEY, prefix="pca")).X, ref, seed,
                             n_trees=args.n_trees)
            x_prev, x_next = real[t == prev], real[t == nxt]
            rows[f"{T.DIRECT} (w = {w_rule:.2f})"] = score(T.direct_interpolation(x_prev, x_next, w_rule, n_ref, rng))
            rows[f"real {prev} h (previous)"] = score(x_prev[rng.choice(len(x_prev), n_ref, replace=False)])
            rows[f"real {nxt} h (next)"] = score(x_next[rng.choice(len(x_next), n_ref, replace=False)])
            rows[T.CONTROL] = score(other)
            fresh_log = C.log_norm(model, fresh.to_anndata(T.KEY, prefix="fresh")).X
            rows[T.FRESH] = score(fresh_log[rng.choice(len(fresh_log), n_ref, replace=False)])
        tag = f"scale {scale:g}"
        gen = model.generate(n_ref, condition={T.KEY: float(held)}, seed=seed, progress=False, **C.sampling(args))
        rows[f"{tag}: generated at {held} h"] = score(T._dense(gen.X))
        for w in args.cfg_scales:  # the same cells' guidance weight towards the value (default 4)
            g = model.generate(n_ref, condition={T.KEY: float(held)}, cfg_scale=w, seed=seed, progress=False,
                               **C.sampling(args))
            rows[f"{tag}: generated at {held} h, cfg_scale {w:g}"] = score(T._dense(g.X))
        rows[f"{tag}: two-ended by value at {held} h"] = score(T.interpolate_at_value(
            model, train, "two-ended", prev, nxt, held, args, n_ref, seed))
        for value in (float(prev), float(nxt)):
            g = model.generate(n_ref, condition={T.KEY: value}, seed=seed + 1, progress=False, **C.sampling(args))
            rows[f"{tag}: generated at {value:g} h (trained; vs held-out {held} h)"] = score(T._dense(g.X))
        C.logger.info("seed %d %s: generated at %s h MMD² %.3f, two-ended %.3f", seed, tag, held,
                      rows[f"{tag}: generated at {held} h"]["mmd2"],
                      rows[f"{tag}: two-ended by value at {held} h"]["mmd2"])
    return {"rows": rows, "training": training, "n_per_row": n_ref, "w_rule": w_rule, "neighbours": [prev, nxt]}


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0], full_time=360.0)
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (0 with --quick)")
    p.add_argument("--scales", type=float, nargs="+", default=[1000.0, 1.0], help="value_scale of each arm")
    p.add_argument("--cfg-scales", type=float, nargs="*", default=[1.0, 2.0],
                   help="also generate at the held-out value with these classifier-free weights")
    p.add_argument("--held-out", default="24")
    p.add_argument("--n-genes", type=int, default=600)
    p.add_argument("--n-per-time", type=int, default=600)
    p.add_argument("--sim-seed", type=int, default=0)
    p.add_argument("--n-trees", type=int, default=1000)
    p.add_argument("--t-start", type=int, default=None)
    args = C.finish_args(p.parse_args(argv), NAME)
    if args.quick:
        args.n_genes, args.n_per_time, args.n_trees = 200, 160, 100
    if args.seeds is None:
        args.seeds = [0] if args.quick else [0, 1, 2]
    t_start = time.perf_counter()
    sim = TrajectoryModel.make(args.n_genes, args.sim_seed, time_labels=T.TIME_LABELS)
    per_seed = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        per_seed[str(seed)] = run_seed(sim, seed, args)
        per_seed[str(seed)]["seconds"] = round(time.perf_counter() - t0, 1)
    summary, _ = T.summarize({s: {**r, "states": {}} for s, r in per_seed.items()})
    table = C.print_table({k: {c: v[c]["mean"] for c in T.COLUMNS} for k, v in summary.items()}, list(T.COLUMNS),
                          f"{NAME}: held-out {args.held_out} h, mean over seeds {args.seeds}")
    out = {"meta": C.meta(args, t_start, data="simulated differentiation (_trajectory_sim.TrajectoryModel)",
                          seeds=args.seeds, scales=args.scales, held_out=args.held_out,
                          training_per_seed={s: r["training"] for s, r in per_seed.items()},
                          seconds_per_seed={s: r["seconds"] for s, r in per_seed.items()}),
           "columns": {c: {"label": lab, "ideal": ideal} for c, (lab, ideal) in T.COLUMNS.items()},
           "summary": summary, "seeds": per_seed, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
