"""GPU figures: training and generation on one GPU at the scale users bring (50,000 simulated cells x 10,000 genes).

Data: the count model and draws of ``simulated_scale.py`` at 50,000 cells (10,000 genes, 10x-like depth: median
library size 3,000, about 85 % zeros; simulation seed 0, training draw and fresh draw of seed ``--seed``), so the
rows compare with ``results/simulated_scale/n50000`` measured on the 2-core CPU. The model is trained with the
package's defaults (default step budgets and early stopping, no wall-time cap) on ``--device``, once in float32 and
once with ``mixed_precision=True`` (bfloat16 autocast of the networks). Per precision: seconds and steps of every
stage, peak GPU memory, generation throughput (unconditional cells at the default batch size and at
``--big-batch``; cells guided to every group), and the decoder benchmark's two-sample measures of 2,000 generated
cells against 2,000 cells of the fresh draw (``_decoder_eval.two_sample``: RF AUC genes / PCs, MMD², 1-NN, iLISI).
Results are written after every step, so a run stopped early keeps what it measured.

    python benchmarks/gpu_speed.py [--device cuda] [--precisions fp32,bf16] [--quick]
    python benchmarks/gpu_speed.py --quick --device cpu      # smoke test (tests/test_benchmarks_quick.py)
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import json
import time

import _decoder_eval as E
from _simulation import CountModel

NAME = "gpu_speed"
#: the CPU row this run compares with (simulated_scale.py at 50,000 cells, same model and draws)
CPU_REFERENCE = C.RESULTS / "simulated_scale" / "results.json"


def device_info(device: str) -> dict:
    """Name and memory of the accelerator (or the CPU's thread count)."""
    import torch

    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        return {"device": device, "name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                "torch": torch.__version__, "cuda": torch.version.cuda}
    return {"device": device, "name": "cpu", "threads": torch.get_num_threads(), "torch": torch.__version__}


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed_generate(model, device: str, n_cells: int, **kwargs) -> tuple[object, dict]:
    """Generate ``n_cells`` cells and return them with wall seconds and cells per second."""
    synchronize(device)
    t0 = time.perf_counter()
    g = model.generate(n_cells, progress=False, **kwargs)
    synchronize(device)
    seconds = time.perf_counter() - t0
    return g, {"n_cells": n_cells, "seconds": round(seconds, 3), "cells_per_second": round(n_cells / seconds, 1),
               **{k: v for k, v in kwargs.items() if k in ("batch_size", "condition")}}


def run_precision(args, train, fresh, precision: str, out: dict, write) -> dict:
    """Train and measure one precision; fills ``out`` as it goes and calls ``write(out)`` after each step."""
    import torch

    from scdiffusion import ScDiffusion

    row = out.setdefault("precisions", {}).setdefault(precision, {})
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    model = ScDiffusion(train, labels_keys="group", seed=args.seed, device=args.device,
                        mixed_precision=precision == "bf16")
    synchronize(args.device)
    t0 = time.perf_counter()
    model.train(max_steps=args.quick_steps, progress=False)
    synchronize(args.device)
    row["train_seconds"] = round(time.perf_counter() - t0, 1)
    row["stages"] = {k: {"steps": v.get("n_steps"), "seconds": round(v.get("seconds", 0.0), 1),
                         "stopped": v.get("stopped"), "best_step": v.get("best_step")}
                     for k, v in model.history.items()}
    if args.device.startswith("cuda"):
        row["peak_gpu_memory_gib_training"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    C.logger.info("%s: trained in %.1f s: %s", precision, row["train_seconds"], row["stages"])
    write(out)

    timings = []
    # warm-up (first CUDA kernels, cuBLAS handles) outside the timings
    model.generate(min(256, args.n_generate), progress=False, seed=99)
    g, t = timed_generate(model, args.device, args.n_eval, seed=args.seed)
    timings.append({"what": "unconditional, default batch", **t})
    gen_log, fresh_log = E.as_log(g, model.genes), E.as_log(fresh, model.genes)
    for n, bs in ((args.n_generate, None), (args.n_generate, args.big_batch)):
        kwargs = {"seed": args.seed + 1} if bs is None else {"seed": args.seed + 1, "batch_size": bs}
        _, t = timed_generate(model, args.device, n, **kwargs)
        timings.append({"what": "unconditional" + ("" if bs is None else f", batch {bs}"), **t})
    groups = list(train.obs["group"].cat.categories)
    per = max(1, args.n_generate // len(groups))
    labels = [c for c in groups for _ in range(per)]
    _, t = timed_generate(model, args.device, len(labels), condition={"group": labels}, seed=args.seed + 2)
    t.pop("condition", None)
    timings.append({"what": "guided to every group (default guidance)", **t})
    row["generation"] = timings
    if args.device.startswith("cuda"):
        row["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    C.logger.info("%s: generation %s", precision, [(t["what"], t["cells_per_second"]) for t in timings])
    write(out)

    t0 = time.perf_counter()
    row["generated_vs_fresh"] = E.two_sample(fresh_log, gen_log, args.seed, quick=args.quick)
    row["evaluation_seconds"] = round(time.perf_counter() - t0, 1)
    C.logger.info("%s: generated vs fresh draw %s", precision, row["generated_vs_fresh"])
    write(out)
    return row


def cpu_reference() -> dict | None:
    """The 2-core CPU row of the same data (``simulated_scale.py`` at 50,000 cells), if it is in the repository."""
    if not CPU_REFERENCE.exists():
        return None
    size = json.loads(CPU_REFERENCE.read_text())["sizes"].get("50000")
    if size is None:
        return None
    gen = size["rows"].get("generated", {})
    return {"source": str(CPU_REFERENCE.relative_to(C.REPO)), "machine": "2-core CPU, 1 thread",
            "train_seconds": size["train_seconds"], "generate_seconds_2000_cells": size["generate_seconds"],
            "peak_rss_gb_whole_run": (size.get("process") or {}).get("peak_rss_gb"),
            "stages": size["stages"], "generated_vs_fresh": {k: v["mean"] for k, v in gen.items()}}


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="torch device of the model (cuda, cuda:1, cpu)")
    p.add_argument("--precisions", default="fp32,bf16", help="fp32 and/or bf16 (mixed_precision=True)")
    p.add_argument("--n-cells", type=int, default=None, help="training cells (default 50,000; 600 with --quick)")
    p.add_argument("--n-genes", type=int, default=None, help="genes (default 10,000; 300 with --quick)")
    p.add_argument("--n-eval", type=int, default=None, help="generated and fresh cells compared (default 2,000)")
    p.add_argument("--n-generate", type=int, default=None, help="cells of the throughput runs (default 20,000)")
    p.add_argument("--big-batch", type=int, default=16_384, help="batch size of the large-batch throughput run")
    args = C.finish_args(p.parse_args(argv), NAME)
    quick = args.quick
    args.n_cells = args.n_cells or (600 if quick else 50_000)
    args.n_genes = args.n_genes or (300 if quick else 10_000)
    args.n_eval = args.n_eval or (200 if quick else 2_000)
    args.n_generate = args.n_generate or (400 if quick else 20_000)
    args.big_batch = min(args.big_batch, args.n_generate)
    args.quick_steps = {"autoencoder": 60, "diffusion": 60, "classifier": 30} if quick else None
    t_start = time.perf_counter()
    precisions = [s.strip() for s in args.precisions.split(",") if s.strip()]
    bad = sorted(set(precisions) - {"fp32", "bf16"})
    if bad:
        p.error(f"--precisions: unknown {bad}; use fp32 and/or bf16, e.g. --precisions fp32,bf16")

    out: dict = {}

    def write(data: dict) -> None:
        data["meta"] = C.meta(args, t_start, machine=device_info(args.device), n_cells=args.n_cells,
                              n_genes=args.n_genes, library_median=3000.0,
                              data="simulated NB counts (_simulation.CountModel, as simulated_scale.py)")
        C.write_json(args, data)

    sim = CountModel.make(args.n_genes, 6, 0, library_median=3000.0)
    t0 = time.perf_counter()
    train = sim.draw(args.n_cells, seed=10_000 + 2 * args.seed).to_anndata("cell")
    fresh = sim.draw(args.n_eval, seed=10_001 + 2 * args.seed).to_anndata("fresh")
    out["simulation_seconds"] = round(time.perf_counter() - t0, 1)
    out["cpu_reference"] = cpu_reference()
    write(out)
    for precision in precisions:
        run_precision(args, train, fresh, precision, out, write)
    write(out)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "stages"} for k, v in out["precisions"].items()},
                     indent=1), flush=True)
    return out


if __name__ == "__main__":
    main()
