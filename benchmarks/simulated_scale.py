"""Realism against training-set size, up to the scale users bring: ``simulated.py`` at 1k … 50k cells × 10k genes.

Each size is one run of ``simulated.py`` (the rows and columns of the decoder benchmark against a fresh draw of
the same count model; 10,000 genes; library sizes and zero rates of a 10x run: median library size 3,000, about
85 % zeros and 1,450 genes detected per cell) in its own process, trained with the package's defaults (default
step budgets and early stopping, no wall-time cap) on one thread, so its wall time and peak resident memory
(``os.wait4``) are those of one command. The children's results stay in ``results/simulated_scale/n<size>/``; this
script collects the generated, ceiling, control and per-label Gaussian rows into one table by size.

    OMP_NUM_THREADS=1 python benchmarks/simulated_scale.py [--sizes 1000,5000,10000,50000] [--seeds 0]
    OMP_NUM_THREADS=1 python benchmarks/simulated_scale.py --collect   # table from the children already run
"""

from __future__ import annotations

import _common as C

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _decoder_eval as E
import _decoder_run as R

NAME = "simulated_scale"
HERE = Path(__file__).resolve().parent
ROWS = (R.CONTROL, R.CEILING, R.GENERATED, R.GAUSSIAN)
#: Columns of the by-size table (besides time and memory).
SIZE_COLUMNS = ("rf_auc_genes", "rf_auc_pca", "mmd_rbf", "one_nn_accuracy", "ilisi", "zero_fraction_gap",
                "latent_rf_auc", "mixed_share_gap")


def run_size(args, n_cells: int) -> dict:
    """``simulated.py`` at ``n_cells`` in a child process; its results plus wall time and peak RSS."""
    out_dir = args.output_dir / f"n{n_cells}"
    cmd = [sys.executable, str(HERE / "simulated.py"), "--n-cells", str(n_cells), "--n-genes", str(args.n_genes),
           "--n-test", str(args.n_test), "--library-median", str(args.library_median),
           "--seeds", ",".join(map(str, args.seeds)), "--output-dir", str(out_dir),
           "--sampler", args.sampler, "--n-steps", str(args.n_steps)]
    if args.quick:
        cmd.append("--quick")
    if args.model_kwargs:
        cmd += ["--model-kwargs", args.model_kwargs]
    C.logger.info("size %d: %s", n_cells, " ".join(cmd[1:]))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"simulated.py at {n_cells} cells failed (exit {os.waitstatus_to_exitcode(status)})")
    run = {"wall_seconds": round(time.perf_counter() - t0, 1), "peak_rss_gb": round(usage.ru_maxrss / 2**20, 3)}
    (out_dir / "process.json").write_text(json.dumps(run, indent=2))
    C.logger.info("size %d: %.0f s, peak RSS %.2f GB", n_cells, run["wall_seconds"], run["peak_rss_gb"])
    return run


def collect(out_dir: Path) -> dict:
    """One entry per size found under ``out_dir``: mean rows, training times and steps, wall time and memory."""
    sizes = {}
    for d in sorted(out_dir.glob("n*"), key=lambda p: int(p.name[1:]) if p.name[1:].isdigit() else -1):
        res, proc = d / "results.json", d / "process.json"
        if not (d.name[1:].isdigit() and res.exists()):
            continue
        data = json.loads(res.read_text())
        seeds = data["seeds"]
        sizes[d.name[1:]] = {
            "simulation": data["meta"]["simulation"], "seeds": data["meta"]["seeds"],
            "rows": {r: {c: data["summary"][r][c] for c in SIZE_COLUMNS if c in data["summary"].get(r, {})}
                     for r in ROWS if r in data["summary"]},
            "train_seconds": [s["training"]["train_seconds"] for s in seeds.values()],
            "stages": {k: s["training"]["stages"] for k, s in seeds.items()},
            "generate_seconds": [s["seconds"].get("generate") for s in seeds.values()],
            "process": json.loads(proc.read_text()) if proc.exists() else None,
            "git_commit": data["meta"].get("git_commit")}
    return sizes


def markdown(sizes: dict) -> str:
    head = ["cells", "row", *SIZE_COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n, entry in sizes.items():
        for row, cols in entry["rows"].items():
            cells = []
            for c in SIZE_COLUMNS:
                v = cols.get(c) or {}
                m, s = v.get("mean"), v.get("sd")
                cells.append("–" if m is None else (f"{m:.3f}" if not s else f"{m:.3f} ± {s:.3f}"))
            lines.append(f"| {int(n):,} | {row} | " + " | ".join(cells) + " |")
    lines += ["", "| cells | seeds | train s (per seed) | generate s (per seed) | whole run s | peak RSS GiB |",
              "|---|---|---|---|---|---|"]
    for n, e in sizes.items():
        proc = e["process"] or {}
        lines.append(f"| {int(n):,} | {e['seeds']} | {', '.join(f'{t:.0f}' for t in e['train_seconds'])} | "
                     f"{', '.join(f'{t:.1f}' for t in e['generate_seconds'] if t is not None)} | "
                     f"{proc.get('wall_seconds', '–')} | {proc.get('peak_rss_gb', '–')} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", default=None, help="training-set sizes (default 1000,5000,10000,50000)")
    p.add_argument("--seeds", default=None, help="seeds of every size (default 0)")
    p.add_argument("--n-genes", type=int, default=10_000)
    p.add_argument("--n-test", type=int, default=2_000)
    p.add_argument("--library-median", type=float, default=3000.0)
    p.add_argument("--model-kwargs", default=None, help="JSON of extra ScDiffusion(...) arguments of every size")
    p.add_argument("--collect", action="store_true", help="only rebuild the table from the sizes already run")
    p.set_defaults(sampler="dpmpp-sde", n_steps=25)
    args = C.finish_args(p.parse_args(argv), NAME)
    if args.quick:
        args.sizes, args.n_genes, args.n_test = args.sizes or "300,600", 300, 200
    args.sizes = [int(s) for s in (args.sizes or "1000,5000,10000,50000").split(",")]
    args.seeds = [int(s) for s in (args.seeds or "0").split(",")]
    t_start = time.perf_counter()
    if not args.collect:
        for n in args.sizes:
            run_size(args, n)
    sizes = collect(args.output_dir)
    md = markdown(sizes)
    (args.output_dir / "table.md").write_text(md + "\n")
    print(md, flush=True)
    out = {"meta": C.meta(args, t_start, sizes=args.sizes, n_genes=args.n_genes, library_median=args.library_median,
                          rows_note=R.__doc__),
           "columns": list(SIZE_COLUMNS), "ideal": {c: E.IDEALS.get(c) for c in SIZE_COLUMNS}, "sizes": sizes}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
