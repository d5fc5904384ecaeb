"""Interruption: a training run killed with SIGKILL resumes from its checkpoints and ends with a usable model."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.data import InputError

SCRIPT = """
import sys
sys.path.insert(0, {src!r})
sys.path.insert(0, {tests!r})
from conftest import make_counts, SMALL_ARCH
from scdiffusion import ScDiffusion
m = ScDiffusion(make_counts(), labels_keys=["cell_type"], device="cpu", seed=0, **SMALL_ARCH)
m.train(progress=False, checkpoint_dir={ckpt!r}, checkpoint_every=20,
        autoencoder={{"max_steps": 100, "eval_every": 50, "patience": 0}},
        diffusion={{"max_steps": {diff_steps}, "eval_every": 50, "patience": 0, "batch_size": 64}},
        classifier={{"max_steps": 60, "eval_every": 30, "patience": 0}})
m.save({out!r})
"""


def _script(tmp_path, diff_steps):
    here = Path(__file__).resolve().parent
    return SCRIPT.format(src=str(here.parents[1] / "python"), tests=str(here), ckpt=str(tmp_path / "ckpt"),
                         out=str(tmp_path / "model"), diff_steps=diff_steps)


def test_sigkill_then_resume(tmp_path):
    code = _script(tmp_path, 4000)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    partial = tmp_path / "ckpt" / "diffusion.partial.pt"
    deadline = time.time() + 240
    while time.time() < deadline and not partial.exists():
        time.sleep(0.2)
    assert partial.exists(), "no diffusion checkpoint appeared"
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "ckpt" / "autoencoder.done.pt").exists()
    assert not (tmp_path / "model").exists()
    from scdiffusion.train import load_checkpoint

    killed_at = int(load_checkpoint(partial)["step"])
    assert killed_at >= 20
    # resume with a smaller step budget so the test stays short; the finished autoencoder is reused
    resumed = subprocess.run([sys.executable, "-c", _script(tmp_path, killed_at + 40)], env=env, timeout=600)
    assert resumed.returncode == 0
    model = ScDiffusion.load(tmp_path / "model", device="cpu")
    hist = json.loads((tmp_path / "model" / "history.json").read_text())
    assert hist["diffusion"]["resumed_at"] == [killed_at]
    assert hist["diffusion"]["n_steps"] == killed_at + 40
    assert np.isfinite(model.generate(5, {"cell_type": "type1"}, n_steps=10, progress=False).X).all()


def test_resume_gives_the_same_model_as_an_uninterrupted_run(tmp_path, counts_adata, monkeypatch):
    from scdiffusion.train import Checkpointer

    kw = dict(autoencoder={"max_steps": 60, "eval_every": 20, "patience": 0},
              diffusion={"max_steps": 60, "eval_every": 20, "patience": 0, "batch_size": 64},
              classifier={"max_steps": 40, "eval_every": 20, "patience": 0}, progress=False)
    a = ScDiffusion(counts_adata, labels_keys=["cell_type"], device="cpu", seed=3, **SMALL_ARCH)
    a.train(checkpoint_dir=tmp_path / "a", checkpoint_every=20, **kw)

    save = Checkpointer.save

    def save_then_crash(self, state):
        save(self, state)
        if self.path.name.startswith("diffusion") and state["step"] == 40:
            raise KeyboardInterrupt  # the process dies right after the step-40 checkpoint

    monkeypatch.setattr(Checkpointer, "save", save_then_crash)
    b = ScDiffusion(counts_adata, labels_keys=["cell_type"], device="cpu", seed=3, **SMALL_ARCH)
    with pytest.raises(KeyboardInterrupt):
        b.train(checkpoint_dir=tmp_path / "b", checkpoint_every=20, **kw)
    monkeypatch.setattr(Checkpointer, "save", save)
    c = ScDiffusion(counts_adata, labels_keys=["cell_type"], device="cpu", seed=3, **SMALL_ARCH)
    c.train(checkpoint_dir=tmp_path / "b", checkpoint_every=20, **kw)
    assert c.history["diffusion"]["resumed_at"] == [40]
    assert c.history["diffusion"]["n_steps"] == 60
    assert c.history["diffusion"]["val_loss"] == pytest.approx(a.history["diffusion"]["val_loss"], rel=1e-4)
    ga = a.generate(10, {"cell_type": "type0"}, seed=1, n_steps=20, progress=False).X
    gc = c.generate(10, {"cell_type": "type0"}, seed=1, n_steps=20, progress=False).X
    np.testing.assert_allclose(ga, gc, rtol=1e-4, atol=1e-5)


def test_checkpoints_of_other_data_are_refused(tmp_path, counts_adata):
    kw = dict(autoencoder={"max_steps": 5}, diffusion={"max_steps": 5}, classifier={"max_steps": 5}, progress=False)
    ScDiffusion(counts_adata, device="cpu", **SMALL_ARCH).train(checkpoint_dir=tmp_path / "c", **kw)
    other = ScDiffusion(make_counts(seed=9), device="cpu", **SMALL_ARCH)
    with pytest.raises(InputError, match="belong to another data set"):
        other.train(checkpoint_dir=tmp_path / "c", **kw)
