"""The benchmarks' cache of trained models is keyed on the code version: a code change never reuses a stale model."""

import argparse
import importlib
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "python" / "scdiffusion"


@pytest.fixture
def common(monkeypatch):
    """benchmarks/_common.py, imported without leaving its thread settings in this process's environment."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        # importing _common sets these when unset; monkeypatch puts back what was there before
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    sys.modules.pop("_common", None)
    module = importlib.import_module("_common")
    yield module
    sys.modules.pop("_common", None)


def test_source_digest_changes_with_any_source_file_and_ignores_byte_code(common, tmp_path):
    copy = tmp_path / "scdiffusion"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = common.source_digest(copy)
    assert before == common.source_digest(PACKAGE)  # content, not location
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"byte code")
    assert common.source_digest(copy) == before
    f = copy / "diffusion" / "schedule.py"
    f.write_text(f.read_text() + "\n# a change\n")
    assert common.source_digest(copy) != before
    (copy / "new_module.py").write_text("")
    changed = common.source_digest(copy)
    (copy / "new_module.py").rename(copy / "renamed.py")
    assert common.source_digest(copy) != changed


def test_model_cache_key_includes_the_code_version(common, monkeypatch):
    args = argparse.Namespace(seed=0, max_time=480.0)
    version = {"scdiffusion": "0.99.0", "torch": "2.13.0", "source_sha256": "a" * 64}
    monkeypatch.setattr(common, "code_version", lambda: dict(version))
    key = common.model_cache_key("pbmc_bulk_labels", args, {})
    assert key.startswith("pbmc_bulk_labels_nb_") and key.endswith("_seed0_t480")
    assert common.model_cache_key("pbmc_bulk_labels", args, {}) == key  # the same code reuses the model
    for field, other in [("source_sha256", "b" * 64), ("scdiffusion", "1.0.0"), ("torch", "2.14.0")]:
        monkeypatch.setattr(common, "code_version", lambda f=field, o=other: {**version, f: o})
        assert common.model_cache_key("pbmc_bulk_labels", args, {}) != key, field
    # settings still count
    monkeypatch.setattr(common, "code_version", lambda: dict(version))
    assert common.model_cache_key("pbmc_bulk_labels", args, {"likelihood": "mse"}) != key


def test_code_version_is_the_imported_package(common):
    import scdiffusion

    v = common.code_version()
    assert v["scdiffusion"] == scdiffusion.__version__
    assert v["source_sha256"] == common.source_digest(Path(scdiffusion.__file__).parent)
