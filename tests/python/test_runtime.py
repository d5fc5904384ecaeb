"""CPU threads: one rule for every surface, a count fixed for the run, and exactly what is reproducible.

Promised (README, "Reproducibility"): the same command with the same seed and thread count gives bit-identical
weights and cells, whatever else runs on the machine. Across thread counts: not bit-identical (torch's CPU
kernels split sums by thread), generated latents agree to a stated tolerance.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from scdiffusion import runtime
from scdiffusion.cli import main
from scdiffusion.errors import InputError

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "python"


# ------------------------------------------------------------------------------------------------ the one rule
@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("auto", None), (" AUTO ", None), (0, None),
                                             ("0", None), (1, 1), ("2", 2), (3.0, 3), ("4", 4)])
def test_parse_threads_accepts_auto_and_positive_whole_numbers(value, expected):
    assert runtime.parse_threads(value) == expected


@pytest.mark.parametrize("value", [-1, "-2", 1.5, "1.5", "two", True, "nan"])
def test_parse_threads_refuses_anything_else_naming_the_source(value):
    with pytest.raises(InputError, match=r"\$SCDIFFUSION_THREADS must be a positive whole number"):
        runtime.parse_threads(value, "$SCDIFFUSION_THREADS")


def test_thread_count_precedence_argument_then_env_then_omp_then_cores(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    auto = runtime.ThreadPolicy()
    assert auto.fixed is None and auto.threads == max(1, int(runtime.usable_cores())) and auto.source == "usable cores"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert (runtime.ThreadPolicy().threads, runtime.ThreadPolicy().source) == (3, "$OMP_NUM_THREADS")
    monkeypatch.setenv(runtime.THREADS_ENV, "2")
    assert (runtime.ThreadPolicy().threads, runtime.ThreadPolicy().source) == (2, "$SCDIFFUSION_THREADS")
    assert runtime.ThreadPolicy(threads=1).threads == 1
    monkeypatch.setenv(runtime.THREADS_ENV, "auto")  # 'auto' defers to the next rule
    assert runtime.ThreadPolicy().threads == 3
    monkeypatch.setenv(runtime.THREADS_ENV, "lots")
    with pytest.raises(InputError, match="SCDIFFUSION_THREADS"):
        runtime.ThreadPolicy()


def test_set_threads_applies_to_torch_and_auto_restores_the_core_count(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        assert runtime.set_threads(1).threads == 1 and torch.get_num_threads() == 1
        assert runtime.set_threads(0).threads == max(1, int(runtime.usable_cores()))
        assert torch.get_num_threads() == runtime.thread_policy().threads
        with pytest.raises(InputError, match="threads must be a positive whole number"):
            runtime.set_threads(-1)
    finally:
        runtime.set_threads(1)


def test_cli_and_environment_follow_the_same_rule():
    runner = CliRunner()
    ok = runner.invoke(main, ["generate", "--help"], env={runtime.THREADS_ENV: "0"})
    assert ok.exit_code == 0, ok.output
    for value in ("-1", "1.5", "many"):
        bad = runner.invoke(main, ["--threads", value, "generate", "--help"])
        assert bad.exit_code == 2 and "positive whole number" in bad.output and "Traceback" not in bad.output
        # (--version exits before the group reads its options' environment: a subcommand's --help does not)
        bad_env = runner.invoke(main, ["generate", "--help"], env={runtime.THREADS_ENV: value})
        assert bad_env.exit_code == 2 and "SCDIFFUSION_THREADS" in bad_env.output


def test_api_takes_zero_as_automatic(counts_adata):
    from scdiffusion import ScDiffusion

    model = ScDiffusion(counts_adata, labels_keys=["cell_type"], device="cpu", threads=0, hidden=(16,), n_latent=4)
    assert model.threads is None
    with pytest.raises(InputError, match="threads"):
        ScDiffusion(counts_adata, labels_keys=["cell_type"], device="cpu", threads=-2)
    runtime.set_threads(1)


# ------------------------------------------------------------------------------------------------ cgroups
def _cgroup(tmp_path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_usable_cores_respect_the_affinity_and_cgroup_quotas(tmp_path):
    affinity = float(len(os.sched_getaffinity(0)))
    assert runtime.usable_cores(tmp_path / "none") == max(affinity, 1.0)
    # cgroup v2: quota and period in one file; "max" means no quota
    assert runtime.usable_cores(_cgroup(tmp_path / "v2", {"cpu.max": "50000 100000\n"})) == 1.0  # at least 1
    if affinity >= 2:
        assert runtime.usable_cores(_cgroup(tmp_path / "v2b", {"cpu.max": "150000 100000\n"})) == 1.5
    assert runtime.usable_cores(_cgroup(tmp_path / "v2c", {"cpu.max": "max 100000\n"})) == affinity
    # cgroup v1: two files; -1 means no quota; a malformed file is ignored
    v1 = _cgroup(tmp_path / "v1", {"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"})
    assert runtime.usable_cores(v1) == 1.0
    assert runtime.usable_cores(_cgroup(tmp_path / "v1b", {"cpu/cpu.cfs_quota_us": "-1\n",
                                                          "cpu/cpu.cfs_period_us": "100000\n"})) == affinity
    assert runtime.usable_cores(_cgroup(tmp_path / "bad", {"cpu.max": "garbage\n"})) == affinity


# ------------------------------------------------------------------------------------------------ OpenMP waiting
def test_importing_scdiffusion_before_torch_makes_openmp_wait_passively_unless_the_user_chose():
    code = "import os, scdiffusion, torch; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(SRC)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "active"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "active"


# ------------------------------------------------------------------------------------------------ reproducibility
TRAIN_JOB = r"""
import hashlib, json, sys
sys.path[:0] = [{here!r}, {src!r}]
from conftest import make_counts
from scdiffusion import ScDiffusion
m = ScDiffusion(make_counts(n_cells=300, n_genes=300), labels_keys=["cell_type"], device="cpu", seed=0,
                hidden=(256, 128), n_latent=16)
stage = {{"eval_every": 50, "patience": 0}}
m.train(progress=False, max_steps={{"autoencoder": 60, "diffusion": 30, "classifier": 5}}, autoencoder=stage,
        diffusion=stage, classifier=stage)
h = hashlib.sha256()
for k, v in sorted(m.module.state_dict().items()):
    h.update(k.encode()); h.update(v.detach().contiguous().numpy().tobytes())
print(json.dumps({{"hash": h.hexdigest(), "threads": m.train_threads}}))
"""
SPIN = "import time\nt = time.time()\nwhile time.time() - t < 120: pass\n"


def _train_jobs(threads: list[str | None], *, busy: int = 0) -> list[dict]:
    """Training jobs started together (one per entry of ``threads``: None = the default count), beside ``busy``
    spinning processes."""
    base = {k: v for k, v in os.environ.items() if k not in (runtime.THREADS_ENV, "OMP_NUM_THREADS")}
    code = TRAIN_JOB.format(here=str(HERE), src=str(SRC))
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
    try:
        jobs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=base if t is None else {**base, runtime.THREADS_ENV: t}, text=True)
                for t in threads]
        out = []
        for job in jobs:
            stdout, stderr = job.communicate(timeout=600)
            assert job.returncode == 0, stderr[-2000:]
            out.append(json.loads(stdout.strip().splitlines()[-1]))
        return out
    finally:
        for s in spinners:
            s.kill()
            s.wait()


@pytest.mark.skipif(runtime.usable_cores() < 2, reason="needs two usable cores to share")
def test_same_training_command_gives_bit_identical_weights_alone_beside_a_busy_process_and_beside_a_training():
    cores = int(runtime.usable_cores())
    alone = _train_jobs([None])[0]
    assert alone["threads"] == cores
    # beside busy processes on every core, one of them a training at a single thread
    busy, one = _train_jobs([None, "1"], busy=cores)
    side_by_side = _train_jobs([None, None])
    assert {r["hash"] for r in [busy, *side_by_side]} == {alone["hash"]}
    # the check can fail: this training is sensitive to the thread count (a policy that stepped down to one
    # thread under load, as before, gave another model)
    assert one["threads"] == 1 and one["hash"] != alone["hash"]


def test_the_training_thread_count_is_recorded_in_the_model(counts_adata, small_model, small_model_dir, tmp_path):
    from scdiffusion import ScDiffusion

    # the count in force during train(), not the process-wide policy at some later time
    steps = {"autoencoder": 2, "diffusion": 2, "classifier": 2}
    pinned = ScDiffusion(counts_adata, labels_keys=["cell_type"], device="cpu", threads=1, hidden=(16,), n_latent=4)
    assert pinned.train_threads is None
    pinned.train(max_steps=steps, progress=False)
    assert pinned.train_threads == 1
    pinned.save(tmp_path / "pinned")
    assert json.loads((tmp_path / "pinned" / "config.json").read_text())["train_threads"] == 1
    assert ScDiffusion.load(tmp_path / "pinned", device="cpu").train_threads == 1
    # the shared fixture, trained with the automatic count, records a positive count that survives save/load
    assert isinstance(small_model.train_threads, int) and small_model.train_threads >= 1
    config = json.loads((small_model_dir / "config.json").read_text())
    assert config["train_threads"] == small_model.train_threads
    assert ScDiffusion.load(small_model_dir, device="cpu").train_threads == small_model.train_threads


def test_generation_is_bit_identical_for_one_thread_count_and_close_across_counts(small_model):
    kw = dict(n_cells=64, condition={"cell_type": "type1"}, seed=5, n_steps=10, progress=False)
    try:
        runtime.set_threads(2)
        a = small_model.generate(**kw)
        b = small_model.generate(**kw)
        runtime.set_threads(1)
        c = small_model.generate(**kw)
    finally:
        runtime.set_threads(1)
    np.testing.assert_array_equal(a.obsm["X_scdiffusion"], b.obsm["X_scdiffusion"])
    np.testing.assert_array_equal(a.layers["counts"], b.layers["counts"])
    # across thread counts: the README's stated tolerance for latents
    np.testing.assert_allclose(a.obsm["X_scdiffusion"], c.obsm["X_scdiffusion"], rtol=0, atol=1e-4)


def test_mixed_precision_trains_and_generates_on_the_cpu_with_float32_outputs(tmp_path):
    """bfloat16 autocast of the forward passes (the GPU path), run on the CPU: losses fall, outputs are float32
    and close to the float32 model's, counts are integers."""
    from conftest import SMALL_ARCH, make_counts
    from scdiffusion import ScDiffusion

    a = make_counts(n_cells=120, n_genes=30)
    kw = dict(labels_keys=["cell_type"], device="cpu", seed=0, **SMALL_ARCH)
    stage = {"eval_every": 40, "patience": 0}
    bf16 = ScDiffusion(a, mixed_precision=True, **kw).train(progress=False, max_steps=160, autoencoder=stage,
                                                            diffusion=stage, classifier=stage)
    assert bf16.history["diffusion"]["config"]["mixed_precision"] is True
    for stage in ("autoencoder", "diffusion"):
        h = bf16.history[stage]
        assert h["train_loss"][-1] < h["train_loss"][0]
    g = bf16.generate(8, {"cell_type": "type1"}, n_steps=10, seed=0, progress=False)
    assert g.X.dtype == np.float32 and g.obsm["X_scdiffusion"].dtype == np.float32
    assert np.all(g.layers["counts"] == np.round(g.layers["counts"]))
    # the same weights in float32 give nearly the same latents (bfloat16 keeps ~3 significant digits)
    bf16.save(tmp_path / "m")
    f32 = ScDiffusion.load(tmp_path / "m", device="cpu")
    z16 = bf16.get_latent_representation(a[:20])
    z32 = f32.get_latent_representation(a[:20])
    assert np.abs(z16 - z32).max() < 0.05 and not np.array_equal(z16, z32)
