"""The R package's bridge (inst/bridge/scdiffusion_rbridge.py), called as R calls it, without R.

What generated cells look like when they travel to R (sparse counts, or ``log1pCP10k`` for models without
counts), that Python warnings and ``scdiffusion`` WARNING records come back for R to raise, and that other
packages' informational logging stays out of the R console.
"""

import importlib.util
import logging
from pathlib import Path

import numpy as np
import pytest

from scdiffusion.data.sce import decode_matrix, encode_adata

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bridge():
    spec = importlib.util.spec_from_file_location("scdiffusion_rbridge", ROOT / "inst" / "bridge" /
                                                  "scdiffusion_rbridge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_cells_travel_as_sparse_counts_only(bridge, small_model_dir):
    res = bridge.generate(model_dir=str(small_model_dir), n_cells=7, condition={"cell_type": "type1"},
                          n_steps=3, seed=1, progress=False)
    assert "error" not in res, res
    enc = res["result"]
    assert enc["assay_names"] == ["counts"]  # R derives logcounts and size factors from the counts
    assert enc["assays"]["counts"]["kind"] == "csr"
    counts = decode_matrix(enc["assays"]["counts"], 7, int(enc["n_vars"])).toarray()
    assert np.all(counts == np.round(counts)) and counts.sum() > 0
    assert "X_scdiffusion" in enc["obsm_names"]


def test_models_without_counts_send_log1p_counts_per_10k(bridge, counts_adata, tmp_path):
    from scdiffusion import ScDiffusion

    model = ScDiffusion(counts_adata, likelihood="mse", target_sum=1e6, hidden=(16,), n_latent=4, seed=0)
    model.train(max_steps=5, progress=False)
    model.save(tmp_path / "mse")
    res = bridge.generate(model_dir=str(tmp_path / "mse"), n_cells=4, condition=None, n_steps=2, seed=0,
                          progress=False)
    enc = res["result"]
    assert enc["assay_names"] == [bridge.LOG1P_ASSAY]
    x = decode_matrix(enc["assays"][bridge.LOG1P_ASSAY], 4, int(enc["n_vars"]))
    python = np.asarray(model.generate(4, n_steps=2, seed=0, progress=False).X, dtype=np.float64)
    np.testing.assert_allclose(x, np.log1p(np.expm1(python) * 1e-2), rtol=1e-6)  # per 1e6 -> per 1e4


def test_python_warnings_and_scdiffusion_warning_records_reach_r(bridge):
    import warnings

    @bridge._r_call
    def noisy():
        warnings.warn("a Python warning", stacklevel=1)
        logging.getLogger("scdiffusion.metrics").warning("a scdiffusion warning record")
        logging.getLogger("scdiffusion").info("an info record")
        return 1

    res = noisy()
    assert res["result"] == 1
    assert sorted(res["warnings"]) == ["UserWarning: a Python warning", "a scdiffusion warning record"]


def test_knn_auc_warning_reaches_r_and_celltypist_prints_nothing(bridge, capfd):
    """On data where every test cell gets the same kNN score, the suite warns that knn_auc = 0.5 is
    uninformative; the warning must come back with the result. CellTypist's INFO lines (with emoji) must not
    reach the console."""
    import anndata as ad
    import pandas as pd

    rng = np.random.default_rng(0)
    n, d = 90, 200
    obs = pd.DataFrame({"cell_type": ["A", "B", "C"] * (n // 3)}, index=[f"c{i}" for i in range(n)])
    var = pd.DataFrame(index=[f"gene{j}" for j in range(d)])
    real = ad.AnnData(3 + rng.normal(0, 1, (n, d)), obs=obs, var=var)
    # generated cells tightly around the real centre: the nearest neighbours of every cell ("hubs"); not exact
    # duplicates, which the AUC splits keep on one side
    hub = ad.AnnData(3 + rng.normal(0, 1e-3, (n, d)), obs=obs.set_axis([f"g{i}" for i in range(n)]), var=var)
    enc = [encode_adata(a, x_name="logcounts") for a in (real, hub)]
    for e in enc:  # as R's .encode_sce sends them
        e["x_name"], e["r_meta"] = "logcounts", {}
    capfd.readouterr()
    res = bridge.evaluate(real=enc[0], generated=enc[1], labels_key="cell_type", quick=True, max_cells=None,
                          n_comps=5, seed=0)
    assert "error" not in res, res
    assert any("knn_auc: every test cell got the same" in w for w in res["warnings"]), res["warnings"]
    assert not any("FutureWarning" in w for w in res["warnings"])  # CellTypist reading scanpy.__version__
    out, err = capfd.readouterr()
    printed = out + err
    assert not any(ord(ch) > 0x2000 for ch in printed), printed[-500:]
    assert "Input data has" not in printed


def test_r_threads_option_fixes_the_core_threads_and_null_restores_the_automatic_count(bridge):
    import torch

    from scdiffusion import runtime

    try:
        res = bridge.version(threads=1)
        assert "error" not in res
        assert torch.get_num_threads() == 1 and runtime.thread_policy().fixed == 1
        bridge.version(threads=None)
        assert runtime.thread_policy().fixed in (None, runtime.ThreadPolicy().fixed)  # env may fix it
        assert "error" not in bridge.version(threads=0)  # the one rule: 0 means every usable core
        assert runtime.thread_policy().threads == runtime.ThreadPolicy().threads
        bad = bridge.version(threads=-1)
        assert bad["user_error"] and "threads" in bad["error"]
    finally:
        runtime.set_threads(None)


def test_comparison_tables_travel_to_r_as_columns(bridge):
    import json

    from scdiffusion.datasets import pbmc68k_counts

    pbmc = pbmc68k_counts()
    real, gen = pbmc[:350].copy(), pbmc[350:].copy()
    enc = [encode_adata(a, x_name="counts") for a in (real, gen)]
    for e in enc:  # as R's .encode_sce sends them
        e["x_name"], e["r_meta"] = "counts", {}
    res = bridge.comparison(real=enc[0], generated=enc[1], labels_key="bulk_labels", max_cells=None, seed=0)
    assert "error" not in res, res
    data = json.loads(res["result"])
    cells, genes, lfc = data["cells"], data["genes"], data["lfc"]
    assert len(cells["library_size"]) == pbmc.n_obs and set(cells["source"]) == {"real", "generated"}
    real_lib = [v for v, s in zip(cells["library_size"], cells["source"]) if s == "real"]
    np.testing.assert_allclose(sorted(real_lib), sorted(np.asarray(real.X.sum(1)).ravel()))
    assert len(genes["gene"]) == 2 * pbmc.n_vars and set(genes["gene"]) == set(pbmc.var_names)
    assert {"label", "gene", "lfc_real", "lfc_generated"} <= set(lfc) and len(lfc["gene"]) > 0
    # without labels the fold changes are skipped with the reason
    res = bridge.comparison(real=enc[0], generated=enc[1], labels_key=None, max_cells=None, seed=0)
    data = json.loads(res["result"])
    assert data["lfc"] is None and "labels" in data["skipped"]["lfc"]


def test_input_errors_are_the_users_and_anything_else_an_internal_error_with_its_traceback(bridge):
    from scdiffusion.errors import InputError, InputKeyError

    def raising(exc):
        @bridge._r_call
        def op():
            raise exc
        return op()

    user = raising(InputError("n_cells must be positive"))
    assert user["user_error"] and user["error"] == "n_cells must be positive" and user["traceback"] == ""
    key = raising(InputKeyError("labels_key='x' is not a column"))
    assert key["user_error"] and key["error"] == "labels_key='x' is not a column"  # not KeyError's quoted repr
    bug = raising(KeyError("n_latent"))  # a lookup that failed inside scDiffusion: a bug, not the user's input
    assert not bug["user_error"] and bug["class"] == "KeyError"
    assert "Traceback" in bug["traceback"] and "raise exc" in bug["traceback"]


def test_check_rds_refuses_a_crafted_file_for_r(bridge, tmp_path):
    import gzip
    import struct

    path = tmp_path / "evil.rds"
    path.write_bytes(gzip.compress(b"X\n" + struct.pack(">iiii", 3, 0, 0, 5) + b"UTF-8" + struct.pack(">ii", 5, 254)))
    res = bridge.check_rds(path=str(path))
    assert res["user_error"] and "promise" in res["error"] and str(path) in res["error"]
