"""Benchmark 9: CPU threads when cores are shared: one job alone, two jobs side by side, one job beside a busy process.

The job is a fixed-step training (``scdiffusion`` on the PBMC training split, every stage a fixed number of steps,
no early stopping), run in its own process. Each scenario is run with the package default (every usable core,
fixed for the run, OpenMP waiting passively: :mod:`scdiffusion.runtime`), with one thread, and with every core
under OpenMP's default wait policy (spinning: torch's behaviour without the package's setting). Reported: each
job's wall time, its ratio to the same job alone at the package default (after an untimed warm-up job; alone:
median of five rounds, the order of the settings rotated from round to round so that none always runs first),
and a hash of its trained weights. Goals: two jobs side by side and a job beside a busy single-threaded process
each <= 2.5x the job alone; every run of the default gives the same weights (reproducible whatever the load).

Run it on an otherwise idle machine (it measures contention):

    python benchmarks/threads.py [--quick]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import json
import os
import subprocess
import sys
import time

NAME = "threads"

JOB = r"""
import json, sys, time
sys.path.insert(0, {src!r})
from scdiffusion import ScDiffusion
from scdiffusion.data.split import stratified_split
from scdiffusion.datasets import pbmc68k_counts
import hashlib
from scdiffusion.runtime import thread_policy
pbmc = pbmc68k_counts()
tr, _ = stratified_split(pbmc.obs["bulk_labels"].astype(str).to_numpy(), 0.2, 0)
m = ScDiffusion(pbmc[tr].copy(), labels_keys=["bulk_labels"], device="cpu", seed=0)
stage = {{"patience": 0, "eval_every": 50}}
t0 = time.perf_counter()
m.train(progress=False, max_steps={steps}, autoencoder=stage, diffusion=stage, classifier=stage)
seconds = time.perf_counter() - t0
h = hashlib.sha256()
for k, v in sorted(m.module.state_dict().items()):
    h.update(k.encode()); h.update(v.detach().contiguous().numpy().tobytes())
print(json.dumps({{"seconds": seconds, "threads_end": thread_policy().threads, "weights_sha256": h.hexdigest()[:16]}}))
"""

BUSY = "import time\nt = time.time()\nwhile time.time() - t < {seconds}: pass\n"


SPINNING = "all cores, OpenMP spinning"


def _env(setting: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY",
                                                               "OPENBLAS_NUM_THREADS", "SCDIFFUSION_THREADS")}
    if setting == SPINNING:
        env["OMP_WAIT_POLICY"] = ""  # set but empty: the package leaves it alone, OpenMP uses its default (spin)
    elif setting != "default":
        env["SCDIFFUSION_THREADS"] = setting
    return env


def run_jobs(n_jobs: int, setting: str, steps: dict, busy: int = 0) -> list[dict]:
    """Start ``n_jobs`` training jobs (and ``busy`` spinning processes) at once; their results."""
    code = JOB.format(src=str(C.REPO / "python"), steps=json.dumps(steps))
    spinners = [subprocess.Popen([sys.executable, "-c", BUSY.format(seconds=3600)]) for _ in range(busy)]
    try:
        time.sleep(1.0 if busy else 0.0)  # the busy process is running before the job starts
        jobs = [subprocess.Popen([sys.executable, "-c", code], env=_env(setting), stdout=subprocess.PIPE, text=True)
                for _ in range(n_jobs)]
        out = []
        for j in jobs:
            stdout, _ = j.communicate()
            if j.returncode != 0:
                raise RuntimeError(f"job failed ({setting}): exit {j.returncode}")
            out.append(json.loads(stdout.strip().splitlines()[-1]))
        return out
    finally:
        for s in spinners:
            s.kill()
            s.wait()


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    args = C.finish_args(p.parse_args(argv), NAME)
    t_start = time.perf_counter()
    from scdiffusion.runtime import usable_cores

    cores = usable_cores()
    steps = ({"autoencoder": 10, "diffusion": 40, "classifier": 10} if args.quick
             else {"autoencoder": 60, "diffusion": 300, "classifier": 60})
    settings = ["default", "1", SPINNING] if cores > 1 else ["default", "1"]
    scenarios = {"alone": (1, 0), "two jobs side by side": (2, 0), "beside a busy process": (1, 1)}
    results: dict = {}
    run_jobs(1, "default", steps)  # warm-up (untimed): the first job of a session reads files from a cold cache
    # the job alone is the reference of every ratio: five rounds, the settings' order rotated, medians kept
    rounds = {setting: [] for setting in settings}
    for i in range(1 if args.quick else 5):
        for setting in settings[i % len(settings):] + settings[:i % len(settings)]:
            rounds[setting].append(run_jobs(1, setting, steps)[0])
    for setting, runs in rounds.items():
        median = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        results.setdefault("alone", {})[setting] = [{**median, "rounds": [r["seconds"] for r in runs]}]
        print("alone", setting, [round(r["seconds"], 1) for r in runs], flush=True)
    for scenario, (n_jobs, busy) in list(scenarios.items())[1:]:
        for setting in settings:
            runs = run_jobs(n_jobs, setting, steps, busy)
            results.setdefault(scenario, {})[setting] = runs
            print(scenario, setting, [round(r["seconds"], 1) for r in runs], flush=True)
    alone = results["alone"]["default"][0]["seconds"]
    rows = {}
    for scenario, by_setting in results.items():
        for setting, runs in by_setting.items():
            worst = max(r["seconds"] for r in runs)
            name = "default (all usable cores, passive wait)" if setting == "default" else (
                setting if setting == SPINNING else f"fixed {setting} thread(s)")
            rows[f"{scenario}: {name}"] = {"seconds (slowest job)": worst, "ratio to alone (default)": worst / alone,
                                            "threads": max(r["threads_end"] for r in runs),
                                            "weights": ",".join(sorted({r["weights_sha256"] for r in runs}))}
    default_hashes = {r["weights_sha256"] for by_setting in results.values() for r in by_setting["default"]}
    goals = {
        "two jobs side by side, default, each <= 2.5x alone": max(
            r["seconds"] for r in results["two jobs side by side"]["default"]) / alone <= 2.5,
        "beside a busy process, default, <= 2.5x alone": results["beside a busy process"]["default"][0][
            "seconds"] / alone <= 2.5,
        "default: the same weights in every scenario": len(default_hashes) == 1,
    }
    table = C.print_table(rows, list(next(iter(rows.values()))), f"{NAME}: fixed-step training, {cores:g} cores")
    print("goals:", goals, flush=True)
    out = {"meta": C.meta(args, t_start, usable_cores=cores, steps=steps,
                          note="run on an otherwise idle machine; each job is a separate process"),
           "rows": rows, "goals": goals, "runs": results, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
