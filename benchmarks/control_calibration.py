"""Benchmark: how often does the evaluation's pass rule fail real cells? (false-fail rate of the verdicts)

Real cells are "generated" here: for each seed, ``n`` random PBMC training cells (counts) are evaluated against
the held-out cells with :func:`scdiffusion.evaluation.evaluate` (labels ``bulk_labels``, the suite's seed set to
the same seed, so the control splits change too). Every ✗ is a false alarm. The benchmark reports, per metric,
in how many of the seeds it failed, and in how many seeds any metric failed.

    OMP_NUM_THREADS=1 python benchmarks/control_calibration.py [--quick] [--seeds 10,11,...]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import time

import numpy as np

NAME = "control_calibration"


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", default="10,11,12,13,14,15,16,17,18,19",
                   help="comma-separated seeds (each: another draw of training cells and other control splits)")
    p.add_argument("--n-cells", type=int, default=284, help="real training cells per draw (the benchmark's 2x142)")
    args = C.finish_args(p.parse_args(argv), NAME)
    t_start = time.perf_counter()
    from scdiffusion.evaluation import evaluate

    seeds = [int(s) for s in args.seeds.split(",")][: 2 if args.quick else None]
    train, test = C.pbmc_split(args.seed)
    failures: dict[str, list[int]] = {}
    runs = []
    for seed in seeds:
        pick = np.sort(np.random.default_rng(seed).choice(train.n_obs, args.n_cells, replace=False))
        t0 = time.perf_counter()
        res = evaluate(test, train[pick].copy(), labels_key=C.PBMC_LABELS, seed=seed, quick=args.quick,
                       use_celltypist=False)
        failed = sorted(k for k, v in res.items() if k != "meta" and v.get("pass") is False)
        judged = sum(1 for k, v in res.items() if k != "meta" and v.get("pass") is not None)
        for name in failed:
            failures.setdefault(name, []).append(seed)
        runs.append({"seed": seed, "n_judged": judged, "failed": failed,
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(f"seed {seed}: {judged} judged, failed {failed or 'none'}", flush=True)
    n_judged = sum(r["n_judged"] for r in runs)
    n_failed = sum(len(r["failed"]) for r in runs)
    out = {"meta": C.meta(args, t_start, data=f"{args.n_cells} random PBMC training cells (counts) vs the "
                          f"{test.n_obs} held-out cells, labels bulk_labels", generation=None),
           "seeds": seeds, "runs": runs, "failures_per_metric": failures,
           "false_fail_rate_per_verdict": n_failed / n_judged if n_judged else None,
           "runs_with_any_failure": sum(1 for r in runs if r["failed"])}
    print(f"{n_failed} false fails in {n_judged} verdicts; {out['runs_with_any_failure']} of {len(runs)} runs "
          f"with at least one", flush=True)
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
