"""Benchmark 8: out-of-core data — backed training and chunked generation of a million cells.

Data: a simulated negative-binomial count matrix (default 1,000,000 cells × 2,000 genes, 8 cell types, about
10 % non-zero), written chunk by chunk as a CSR ``.h5ad`` under ``benchmarks/results/tmp/out_of_core/``
(git-ignored; never held in memory as a whole; deleted at the end unless ``--keep``).

Phases, each in its own subprocess so that the peak resident memory (``ru_maxrss`` of that child, from
``os.wait4``) is measured per phase:

* **simulate** — write the count matrix (cells/s).
* **train** — ``ScDiffusion(path, labels_keys=["cell_type"], backed=True)`` with the default architecture
  (NB decoder, 1024×3 hidden, 128 latent): one chunked pass validates and filters the counts; the autoencoder
  trains on batches streamed from disk through a 32,768-cell buffer; every cell is then encoded once, chunk by
  chunk; the diffusion model and classifier train on the latents. Small budgets (this measures memory and
  throughput, not quality): autoencoder 300 steps, diffusion 1,000, classifier 300, batch 128 (``--quick``:
  100 / 200 / 100). Reported: the preprocessing pass and encoding in cells/s, each stage in steps/s.
* **generate** — ``generate_to_file`` of as many cells as the data set (``--n-generate``), 20,000 per chunk,
  sampler ``dpmpp-sde`` with ``--n-steps`` (default 20) steps; then the file is opened with
  ``anndata.read_h5ad(backed="r")`` and checked (shape, CSR, integer counts).

Goal: peak RSS < 4 GB for training and for generating 1 M cells.

    OMP_NUM_THREADS=2 python benchmarks/out_of_core.py [--quick] [--n-cells 1000000] [--keep]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

NAME = "out_of_core"
WORK = C.RESULTS / "tmp" / NAME
N_TYPES = 8
SIM_CHUNK = 20_000
BUDGETS = {"full": {"autoencoder": 300, "diffusion": 1000, "classifier": 300},
           "quick": {"autoencoder": 100, "diffusion": 200, "classifier": 100}}


# ---------------------------------------------------------------------------------------------- phases
def simulate(path: Path, n_cells: int, n_genes: int, seed: int) -> dict:
    """Write an NB count matrix chunk by chunk as a CSR .h5ad (obs: cell_type)."""
    import h5py
    import pandas as pd
    import scipy.sparse as sp
    from anndata.io import write_elem

    from scdiffusion.data.h5ad_writer import CSRWriter

    rng = np.random.default_rng(seed)
    base = rng.lognormal(-3.0, 1.5, n_genes)
    factors = np.exp(rng.normal(0.0, 1.0, (N_TYPES, n_genes)) * (rng.random((N_TYPES, n_genes)) < 0.1))
    types = rng.integers(0, N_TYPES, n_cells)
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
        writer = CSRWriter(f, "X", n_cells, n_genes)
        for start in range(0, n_cells, SIM_CHUNK):
            stop = min(start + SIM_CHUNK, n_cells)
            lib = rng.lognormal(0.0, 0.4, (stop - start, 1))
            mu = base * factors[types[start:stop]] * lib
            x = rng.poisson(rng.gamma(2.0, mu / 2.0)).astype(np.float32)  # NB with dispersion 2
            writer.append(sp.csr_matrix(x))
        writer.close()
        obs = pd.DataFrame({"cell_type": pd.Categorical([f"type{t}" for t in types])},
                           index=pd.Index([f"cell{i}" for i in range(n_cells)]))
        write_elem(f, "obs", obs)
        write_elem(f, "var", pd.DataFrame(index=pd.Index([f"gene{j}" for j in range(n_genes)])))
        for name in ("layers", "obsm", "varm", "obsp", "varp", "uns"):
            write_elem(f, name, {})
        nnz = writer.nnz
    os.replace(tmp, path)
    seconds = time.perf_counter() - t0
    return {"n_cells": n_cells, "n_genes": n_genes, "n_cell_types": N_TYPES, "nnz": int(nnz),
            "density": nnz / (n_cells * n_genes), "seconds": seconds, "cells_per_s": n_cells / seconds,
            "file_bytes": path.stat().st_size}


def train(path: Path, model_dir: Path, budgets: dict, seed: int) -> dict:
    """Backed training with small budgets; saves the model."""
    from scdiffusion import ScDiffusion

    t0 = time.perf_counter()
    model = ScDiffusion(path, labels_keys=["cell_type"], backed=True, device="cpu", seed=seed)
    t_init = time.perf_counter() - t0
    stages = {"autoencoder": {"max_steps": budgets["autoencoder"], "eval_every": 100, "patience": 0},
              "diffusion": {"max_steps": budgets["diffusion"], "eval_every": 250, "patience": 0},
              "classifier": {"max_steps": budgets["classifier"], "eval_every": 100, "patience": 0}}
    model.train(progress=False, **stages)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model.save(model_dir)
    seconds = time.perf_counter() - t0
    out = {"seconds": seconds, "init_seconds": t_init, "budgets": budgets, **model.backed_summary}
    for name, hist in model.history.items():
        out[f"{name}_steps"] = hist["n_steps"]
        out[f"{name}_seconds"] = hist["seconds"]
        out[f"{name}_steps_per_s"] = hist["n_steps"] / hist["seconds"]
        out[f"{name}_final_val_loss"] = hist["val_loss"][-1] if hist["val_loss"] else None
    out["autoencoder_buffer_refills"] = model.history["autoencoder"].get("buffer_refills")
    return out


def generate(model_dir: Path, out_path: Path, n_cells: int, chunk_size: int, sampler: str, n_steps: int,
             seed: int) -> dict:
    """generate_to_file only (the check of the file is its own phase, so this peak memory is generation's)."""
    from scdiffusion import ScDiffusion

    model = ScDiffusion.load(model_dir, device="cpu")
    t0 = time.perf_counter()
    model.generate_to_file(out_path, n_cells, chunk_size=chunk_size, sampler=sampler, n_steps=n_steps, seed=seed,
                           overwrite=True, progress=False)
    seconds = time.perf_counter() - t0
    return {"n_cells": n_cells, "chunk_size": chunk_size, "sampler": sampler, "n_steps": n_steps,
            "seconds": seconds, "cells_per_s": n_cells / seconds, "file_bytes": out_path.stat().st_size}


def verify(out_path: Path) -> dict:
    """Open the generated file backed and check its first 1,000 cells (anndata's backed mode keeps only X on
    disk and reads layers whole, so the file is read in row chunks with h5py instead; tests/python/
    test_out_of_core.py checks that ``anndata.read_h5ad`` opens such files)."""
    import scipy.sparse as sp

    from scdiffusion.data.backed import BackedCounts

    with BackedCounts(out_path) as x, BackedCounts(out_path, layer="counts") as c:
        head_x, head_c = x.read_rows(0, 1000), c.read_rows(0, 1000)
        shape = [x.n_obs, x.n_vars]
    lib = np.asarray(head_c.sum(1)).ravel()
    return {"shape": shape, "x_is_csr": bool(sp.issparse(head_x)),
            "counts_integer": bool(np.all(np.round(head_c.data) == head_c.data)),
            "x_is_log_normalised_counts": bool(np.allclose(
                head_x.toarray(), np.log1p(head_c.toarray() / np.maximum(lib, 1)[:, None] * 1e4), atol=1e-3)),
            "mean_library_size": float(lib.mean())}


# ---------------------------------------------------------------------------------------------- driver
def run_phase(args, phase: str) -> dict:
    """Run one phase in a child process; its result JSON plus wall time and peak RSS (os.wait4)."""
    result = WORK / f"{phase}.json"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--phase", phase, "--n-cells", str(args.n_cells), "--n-genes", str(args.n_genes),
           "--n-generate", str(args.n_generate), "--n-steps", str(args.n_steps), "--seed", str(args.seed),
           "--chunk-size", str(args.chunk_size), "--sampler", args.sampler]
    if args.quick:
        cmd.append("--quick")
    C.logger.info("phase %s: %s", phase, " ".join(cmd[1:]))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"phase {phase} failed with exit code {proc.returncode}")
    out = json.loads(result.read_text())
    out.update(wall_seconds=wall, peak_rss_bytes=usage.ru_maxrss * 1024, peak_rss_gb=usage.ru_maxrss / 2**20)
    C.logger.info("phase %s: %.0f s, peak RSS %.2f GB", phase, wall, out["peak_rss_gb"])
    return out


def child(args) -> None:
    data, model_dir, gen_path = WORK / "simulated.h5ad", WORK / "model", WORK / "generated.h5ad"
    if args.phase == "simulate":
        out = simulate(data, args.n_cells, args.n_genes, args.seed)
    elif args.phase == "train":
        out = train(data, model_dir, BUDGETS["quick" if args.quick else "full"], args.seed)
    elif args.phase == "generate":
        out = generate(model_dir, gen_path, args.n_generate, args.chunk_size, args.sampler, args.n_steps, args.seed)
    else:
        out = verify(gen_path)
    (WORK / f"{args.phase}.json").write_text(json.dumps(out, default=float))


def main() -> None:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--n-cells", type=int, default=None, help="simulated cells (default 1,000,000; 20,000 with --quick)")
    p.add_argument("--n-genes", type=int, default=2000)
    p.add_argument("--n-generate", type=int, default=None, help="generated cells (default: --n-cells)")
    p.add_argument("--chunk-size", type=int, default=20_000)
    p.add_argument("--keep", action="store_true", help="keep the simulated data, model and generated file")
    p.add_argument("--phase", choices=["simulate", "train", "generate", "verify"], default=None,
                   help=argparse_suppress())
    p.add_argument("--phases", default="simulate,train,generate,verify",
                   help="phases to run; the others are taken from the existing results.json (e.g. 'generate' with "
                        "--n-generate 1000000 to re-measure generation with the kept model of an earlier --keep run)")
    args = p.parse_args()
    args.n_cells = args.n_cells or (20_000 if args.quick else 1_000_000)
    args.n_generate = args.n_generate or args.n_cells
    args.sampler = args.sampler or "dpmpp-sde"
    args.n_steps = args.n_steps or 20
    WORK.mkdir(parents=True, exist_ok=True)
    if args.phase is not None:
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        child(args)
        return
    sampler, n_steps = args.sampler, args.n_steps
    args = C.finish_args(args, NAME)
    args.sampler, args.n_steps = sampler, n_steps
    t_start = time.perf_counter()
    phases = {}
    to_run = [x.strip() for x in args.phases.split(",") if x.strip()]
    previous = args.output_dir / "results.json"
    if set(to_run) != {"simulate", "train", "generate", "verify"}:
        if not previous.exists():
            raise SystemExit(f"--phases {args.phases}: the other phases come from {previous}, which does not exist.")
        old = json.loads(previous.read_text())
        phases = {k: {**v, "from_earlier_run": old["meta"].get("date")} for k, v in old["phases"].items()}
        if "generate" in to_run and not (WORK / "model" / "config.json").exists():
            raise SystemExit(f"No model in {WORK / 'model'}: run the train phase with --keep first.")
    try:
        for phase in ("simulate", "train", "generate", "verify"):
            if phase in to_run:
                phases[phase] = run_phase(args, phase)
    finally:
        if not args.keep:
            for name in ("simulated.h5ad", "generated.h5ad", "model"):
                target = WORK / name
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
    tr, gen = phases["train"], phases["generate"]
    summary = {
        "scale": f"{args.n_cells:,} cells × {args.n_genes:,} genes; {gen.get('n_cells', args.n_generate):,} generated",
        "peak_rss_gb": {k: round(v["peak_rss_gb"], 3) for k, v in phases.items()},
        "goal_peak_rss_below_4gb": all(phases[k]["peak_rss_gb"] < 4.0 for k in ("train", "generate")),
        "throughput": {"simulate_cells_per_s": phases["simulate"]["cells_per_s"],
                       "preprocessing_pass_cells_per_s": tr["scan_cells_per_s"],
                       "encoding_cells_per_s": tr["encode_cells_per_s"],
                       "autoencoder_steps_per_s": tr["autoencoder_steps_per_s"],
                       "diffusion_steps_per_s": tr["diffusion_steps_per_s"],
                       "classifier_steps_per_s": tr["classifier:cell_type_steps_per_s"],
                       "generation_cells_per_s": gen["cells_per_s"]},
        "file_gb": {"simulated": phases["simulate"]["file_bytes"] / 2**30, "generated": gen["file_bytes"] / 2**30},
        "wall_seconds": {k: round(v["wall_seconds"], 1) for k, v in phases.items()},
    }
    data = {"meta": C.meta(args, t_start, n_cells=args.n_cells, n_genes=args.n_genes, n_generate=args.n_generate,
                           chunk_size=args.chunk_size),
            "summary": summary, "phases": phases}
    path = C.write_json(args, data)
    C.logger.info("wrote %s\n%s", path, json.dumps(summary, indent=2, default=float))


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
