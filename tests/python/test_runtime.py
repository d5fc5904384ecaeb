"""CPU threads: an explicit number is used as given, the adaptive policy steps down beside busy processes, and
results do not depend on the number of threads."""

import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from scdiffusion import runtime
from scdiffusion.data import InputError


def test_usable_cores_respect_the_affinity():
    import os

    assert 1 <= runtime.usable_cores() <= len(os.sched_getaffinity(0))


def test_explicit_threads_are_fixed(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    p = runtime.ThreadPolicy(threads=1)
    assert p.fixed == 1 and p.apply() == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv(runtime.THREADS_ENV, "1")
    assert runtime.ThreadPolicy().fixed == 1
    with pytest.raises(InputError, match="threads must be a positive integer"):
        runtime.set_threads(0)


@pytest.mark.skipif(runtime.usable_cores() < 2, reason="needs two usable cores")
def test_adaptive_policy_steps_down_beside_busy_processes_and_back_up(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    p = runtime.ThreadPolicy(interval=0.3)
    assert p.fixed is None and p.threads == p.max_threads >= 2
    spin = "import time\nt = time.time()\nwhile time.time() - t < 4: pass"
    busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(p.max_threads)]
    try:
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline and p.threads > 1:
            p.tick()
            time.sleep(0.05)
        assert p.threads == 1 and p.changes >= 1
    finally:
        for b in busy:
            b.wait()
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and p.threads < p.max_threads:
        p.tick()
        time.sleep(0.05)
    # back up once the cores are free (unless something else on this machine keeps them busy)
    assert p.threads >= 1


def test_generated_cells_do_not_depend_on_the_number_of_threads(small_model):
    runtime.set_threads(1)
    a = small_model.generate(20, {"cell_type": "type1"}, seed=5, n_steps=10, progress=False)
    runtime.set_threads(2)
    b = small_model.generate(20, {"cell_type": "type1"}, seed=5, n_steps=10, progress=False)
    runtime.set_threads(1)
    np.testing.assert_array_equal(a.obsm["X_scdiffusion"], b.obsm["X_scdiffusion"])
    np.testing.assert_array_equal(a.layers["counts"], b.layers["counts"])


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
