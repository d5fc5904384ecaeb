"""Benchmark: wall time of ``scdiffusion evaluate --quick`` on 1,000 x 1,000 real vs 1,000 x 1,000 generated cells.

Goal (issue 15): under 60 s on the 2-core machine. Data: simulated negative-binomial counts, 5 cell types with
their own over-expressed genes; the real cells hold counts in ``X``, the generated cells are shaped like the NB
decoder's output (integer ``layers["counts"]``, log1p(CP10k) ``X``) and come from the same distribution with
another seed. The CLI runs in a fresh process (imports included, figures included); a second, in-process
:func:`scdiffusion.evaluation.evaluate` call gives the time of each metric group.

    OMP_NUM_THREADS=1 python benchmarks/evaluate_speed.py [--quick] [--n-cells 1000] [--n-genes 1000]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

NAME = "evaluate_speed"
GOAL_SECONDS = 60.0


def simulate(n_cells: int, n_genes: int, seed: int, n_types: int = 5, counts_in_layer: bool = False) -> ad.AnnData:
    """NB counts with fixed gene means per type (``seed`` only changes the draws)."""
    from scdiffusion.data.preprocessing import log_normalize

    base = np.random.default_rng(1234).gamma(0.6, 2.0, n_genes)
    rng = np.random.default_rng(seed)
    types = np.array([f"type{i}" for i in range(n_types)])[np.arange(n_cells) % n_types]
    mu = np.tile(base, (n_cells, 1))
    block = n_genes // (2 * n_types)
    for i in range(n_types):
        mu[types == f"type{i}", i * block:(i + 1) * block] *= 6.0
    lib = rng.lognormal(0.0, 0.3, (n_cells, 1))
    counts = rng.negative_binomial(3, 3 / (3 + mu * lib)).astype(np.float32)
    obs = pd.DataFrame({"cell_type": types}, index=[f"s{seed}_{i}" for i in range(n_cells)])
    var = pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)])
    if counts_in_layer:
        return ad.AnnData(log_normalize(counts, 1e4), obs=obs, var=var, layers={"counts": counts})
    return ad.AnnData(counts, obs=obs, var=var)


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--n-cells", type=int, default=None, help="cells per side (default 1000; 200 with --quick)")
    p.add_argument("--n-genes", type=int, default=None, help="genes (default 1000; 200 with --quick)")
    args = C.finish_args(p.parse_args(argv), NAME)
    t_start = time.perf_counter()
    n_cells = args.n_cells or (200 if args.quick else 1000)
    n_genes = args.n_genes or (200 if args.quick else 1000)
    real = simulate(n_cells, n_genes, seed=args.seed)
    gen = simulate(n_cells, n_genes, seed=args.seed + 1, counts_in_layer=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        real.write_h5ad(tmp / "real.h5ad")
        gen.write_h5ad(tmp / "generated.h5ad")
        cmd = [sys.executable, "-m", "scdiffusion.cli", "evaluate", "--real", str(tmp / "real.h5ad"), "--generated",
               str(tmp / "generated.h5ad"), "--labels-key", "cell_type", "--output-dir", str(tmp / "report"),
               "--quick", "--seed", str(args.seed)]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
        cli_seconds = round(time.perf_counter() - t0, 1)
        if res.returncode != 0:
            raise RuntimeError(f"scdiffusion evaluate failed:\n{res.stderr[-3000:]}")
        metrics = json.loads((tmp / "report" / "metrics.json").read_text())
        figures = sorted(x.name for x in (tmp / "report").glob("*.png"))
        report = (tmp / "report" / "report.md").read_text()

    from scdiffusion.evaluation import evaluate

    t0 = time.perf_counter()
    evaluate(real, gen, labels_key="cell_type", quick=True, seed=args.seed)
    evaluate_seconds = round(time.perf_counter() - t0, 1)
    groups: dict[str, float] = {}
    for name, entry in metrics.items():
        if name != "meta" and entry.get("seconds") is not None:
            groups[entry.get("group", name)] = entry["seconds"]
    out = {"meta": C.meta(args, t_start, data=f"simulated NB counts, {n_cells} real and {n_cells} generated cells x "
                          f"{n_genes} genes, 5 cell types", generation=None),
           "n_cells": n_cells, "n_genes": n_genes, "cli_seconds": cli_seconds, "evaluate_seconds": evaluate_seconds,
           "goal_seconds": GOAL_SECONDS, "goal_met": cli_seconds < GOAL_SECONDS,
           "seconds_per_group": dict(sorted(groups.items(), key=lambda kv: -kv[1])),
           "skipped": metrics["meta"].get("skipped", {}), "n_passed": metrics["meta"].get("n_passed"),
           "n_failed": metrics["meta"].get("n_failed"), "figures": figures,
           "report_lists_skipped": "Skipped or not drawn, and why:" in report}
    print(json.dumps({k: v for k, v in out.items() if k != "meta"}, indent=2), flush=True)
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
