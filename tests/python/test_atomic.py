"""Nothing lost: overwrite only replaces what scDiffusion wrote, writes are atomic under SIGKILL, outputs get the
user's permissions and reach the disk before they are renamed into place."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from scdiffusion import atomic
from scdiffusion.cli import main
from scdiffusion.errors import InputError


def _snapshot(root: Path) -> list[tuple[str, bytes]]:
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else b"") for p in root.rglob("*"))


def _user_folder(path: Path) -> Path:
    (path / "sub").mkdir(parents=True)
    (path / "my_notes.txt").write_text("keep me")
    (path / "sub" / "data.csv").write_text("1,2\n")
    return path


@pytest.fixture(scope="module")
def h5ad_path(tmp_path_factory):
    from conftest import make_counts

    path = tmp_path_factory.mktemp("atomic") / "counts.h5ad"
    make_counts(n_cells=90, n_genes=30).write_h5ad(path)
    return path


# ------------------------------------------------------------------------------------------------ markers
def test_every_model_folder_carries_the_marker(small_model_dir):
    assert atomic.read_marker(small_model_dir) == "model"
    marker = json.loads((small_model_dir / atomic.MARKER_FILE).read_text())
    assert marker["written_by"] == "scdiffusion" and marker["kind"] == "model" and marker["version"]


@pytest.mark.parametrize("case", ["user folder", "file", "report folder", "config.json only is not enough",
                                  "legacy model plus a user file", "symlink"])
def test_save_overwrite_refuses_what_scdiffusion_did_not_write_and_changes_nothing(small_model, small_model_dir,
                                                                                     tmp_path, case):
    target = tmp_path / "target"
    if case == "user folder":
        _user_folder(target)
    elif case == "file":
        target.write_text("results")
    elif case == "report folder":
        _user_folder(target)
        atomic.write_marker(target, "report")
    elif case == "config.json only is not enough":
        target.mkdir()
        (target / "config.json").write_text('{"my": "settings"}')
    elif case == "legacy model plus a user file":
        target.mkdir()
        for f in ("config.json", "genes.txt", "model.safetensors"):
            (target / f).write_bytes((small_model_dir / f).read_bytes())
        (target / "my_notes.txt").write_text("keep me")
    elif case == "symlink":
        _user_folder(tmp_path / "real")
        target.symlink_to(tmp_path / "real")
    before = _snapshot(tmp_path)
    with pytest.raises(InputError, match=r"target"):
        small_model.save(target, overwrite=True)
    assert _snapshot(tmp_path) == before


def test_save_overwrite_replaces_its_own_model_an_empty_folder_and_a_legacy_model(small_model, small_model_dir,
                                                                                   tmp_path):
    own = tmp_path / "own"
    small_model.save(own)
    (own / "history.json").write_text("{}")
    small_model.save(own, overwrite=True)
    assert (own / "history.json").read_text() != "{}" and atomic.read_marker(own) == "model"
    empty = tmp_path / "empty"
    empty.mkdir()
    small_model.save(empty)  # an empty folder is not an existing output: no overwrite needed
    assert atomic.read_marker(empty) == "model"
    legacy = tmp_path / "legacy"  # written by a release before markers: only its own files
    legacy.mkdir()
    for f in ("config.json", "genes.txt", "model.safetensors", "history.json"):
        (legacy / f).write_bytes((small_model_dir / f).read_bytes())
    small_model.save(legacy, overwrite=True)
    assert atomic.read_marker(legacy) == "model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "legacy", "own"]  # no temporary folders left


def test_a_failure_part_way_leaves_the_old_model(small_model, tmp_path, monkeypatch):
    from scdiffusion.model import serialization

    target = tmp_path / "m"
    small_model.save(target)
    before = _snapshot(tmp_path)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "save_file", broken)
    with pytest.raises(InputError, match="disk is full"):
        small_model.save(target, overwrite=True)
    assert _snapshot(tmp_path) == before


def test_a_folder_that_changes_while_the_command_runs_is_not_replaced(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(InputError, match="changed while this command ran"):
        with atomic.atomic_dir(target, "report", overwrite=True) as tmp:
            (tmp / "metrics.json").write_text("{}")
            _user_folder(target)  # appears meanwhile
    assert (target / "my_notes.txt").read_text() == "keep me" and not (target / "metrics.json").exists()


def test_cli_train_overwrite_refuses_a_user_folder(h5ad_path, tmp_path):
    target = _user_folder(tmp_path / "notes")
    before = _snapshot(tmp_path)
    res = CliRunner().invoke(main, ["train", str(h5ad_path), "--model-dir", str(target), "--overwrite",
                                    "--max-steps", "2", "--device", "cpu", "--quiet"])
    assert res.exit_code == 1 and "Refusing to overwrite" in res.output and "Traceback" not in res.output
    assert _snapshot(tmp_path) == before


def test_cli_never_removes_a_checkpoint_folder_it_did_not_write(h5ad_path, tmp_path):
    args = ["train", str(h5ad_path), "--labels-key", "cell_type", "--device", "cpu", "--quiet",
            "--max-steps", "autoencoder=3", "--max-steps", "diffusion=3", "--max-steps", "classifier=3"]
    # a user's folder where the default checkpoint folder would go: refused, kept
    users = _user_folder(tmp_path / "m1.ckpt")
    before = _snapshot(users)
    res = CliRunner().invoke(main, [*args, "--model-dir", str(tmp_path / "m1")])
    assert res.exit_code == 1 and "did not write" in res.output
    assert _snapshot(users) == before and not (tmp_path / "m1").exists()
    # an empty folder of that name is used and kept (it existed before the command); ours is removed after success
    (tmp_path / "m2.ckpt").mkdir()
    res = CliRunner().invoke(main, [*args, "--model-dir", str(tmp_path / "m2")])
    assert res.exit_code == 0, res.output
    assert atomic.read_marker(tmp_path / "m2") == "model"
    res = CliRunner().invoke(main, [*args, "--model-dir", str(tmp_path / "m3")])
    assert res.exit_code == 0 and not (tmp_path / "m3.ckpt").exists()


def test_remove_own_folder_only_removes_its_kind(tmp_path):
    users = _user_folder(tmp_path / "u")
    assert not atomic.remove_own_folder(users, "checkpoint") and (users / "my_notes.txt").exists()
    atomic.write_marker(users, "report")
    assert not atomic.remove_own_folder(users, "checkpoint") and users.exists()
    (tmp_path / "c").mkdir()
    atomic.write_marker(tmp_path / "c", "checkpoint")
    assert atomic.remove_own_folder(tmp_path / "c", "checkpoint") and not (tmp_path / "c").exists()


# ------------------------------------------------------------------------------------------------ permissions, fsync
def test_outputs_get_the_umask_permissions_and_are_flushed_before_the_rename(tmp_path, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    old = os.umask(0o027)
    try:
        assert atomic.current_umask() == 0o027  # read without changing it
        f = atomic.write_file_atomic(tmp_path / "a.txt", lambda p: Path(p).write_text("x"))
        with atomic.atomic_dir(tmp_path / "d", "report") as tmp:
            (tmp / "metrics.json").write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o750
    assert any(s.endswith(".tmp") for s in synced)  # the file under its temporary name, before the rename
    assert any("metrics.json" in s for s in synced) and str(tmp_path) in synced  # the folder's entries too


# ------------------------------------------------------------------------------------------------ SIGKILL
def _kill_at_random(write, check, n_tries: int, max_delay: float, seed: int) -> list[str]:
    """Fork a child that writes over and over; SIGKILL it at a random moment; ``check`` the output each time."""
    rng = random.Random(seed)
    seen = []
    for _ in range(n_tries):
        pid = os.fork()
        if pid == 0:  # child: write until killed (never returns)
            try:
                import torch

                torch.set_num_threads(1)  # OpenMP's thread pool does not survive fork
                while True:
                    write()
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.0, max_delay))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status), "the writer stopped by itself"
        seen.append(check())
    return seen


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_at_random_moments_leaves_the_old_or_the_new_output_never_a_partial_one(small_model, tmp_path,
                                                                                        monkeypatch):
    import anndata as ad

    from scdiffusion.evaluation import report
    from scdiffusion.model.serialization import read_model_dir

    # model folder: save over and over
    model_dir = tmp_path / "model"
    small_model.save(model_dir)

    def check_model():
        config, genes, tensors, _ = read_model_dir(model_dir)
        assert len(genes) == len(small_model.genes) and tensors and atomic.read_marker(model_dir) == "model"
        return "ok"

    assert _kill_at_random(lambda: small_model.save(model_dir, overwrite=True), check_model, 20, 0.6, 0) == ["ok"] * 20

    # one .h5ad written chunk by chunk
    out = tmp_path / "gen.h5ad"
    kw = dict(chunk_size=8, n_steps=3, progress=False)
    small_model.generate_to_file(out, 24, **kw)

    def check_h5ad():
        a = ad.read_h5ad(out)
        x = a.X.data if hasattr(a.X, "data") and not isinstance(a.X, np.ndarray) else a.X
        assert a.shape == (24, len(small_model.genes)) and np.isfinite(x).all() and a.obs_names.is_unique
        return "ok"

    assert _kill_at_random(lambda: small_model.generate_to_file(out, 24, overwrite=True, **kw), check_h5ad, 20,
                           1.0, 1) == ["ok"] * 20

    # an evaluation report (the metrics are computed once; the kill hits the figures and the swap)
    rng = np.random.default_rng(0)
    real = ad.AnnData(rng.poisson(2.0, (60, 20)).astype(np.float32))
    gen = ad.AnnData(rng.poisson(2.0, (60, 20)).astype(np.float32))
    results = report.evaluate(real, gen, quick=True)
    monkeypatch.setattr(report, "evaluate", lambda *a, **k: results)
    report_dir = tmp_path / "report"

    def write_report():
        report.write_report(real, gen, report_dir, quick=True, overwrite=True)

    write_report()

    def check_report():
        names = {p.name for p in report_dir.iterdir()}
        assert {"metrics.json", "report.md", atomic.MARKER_FILE} <= names
        json.loads((report_dir / "metrics.json").read_text())
        return "ok"

    assert _kill_at_random(write_report, check_report, 20, 0.8, 2) == ["ok"] * 20
    # what a kill can leave: hidden temporary siblings, never anything at the outputs' paths
    visible = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert visible == ["gen.h5ad", "model", "report"]


def test_remove_own_folder_takes_what_overwrite_may_replace(tmp_path):
    # an empty folder and a model folder of an older release (no marker) may be replaced, so they may be removed
    (tmp_path / "empty").mkdir()
    assert atomic.remove_own_folder(tmp_path / "empty", "model") and not (tmp_path / "empty").exists()
    old = tmp_path / "old_model"
    old.mkdir()
    (old / "config.json").write_text('{"format_version": 1}')
    assert atomic.remove_own_folder(old, "model") and not old.exists()
    (tmp_path / "target").mkdir()
    atomic.write_marker(tmp_path / "target", "model")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert not atomic.remove_own_folder(tmp_path / "link", "model")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target").is_dir()
