"""Out-of-core data: backed training from a CSR .h5ad on disk, chunked generation straight to an .h5ad."""

import hashlib
import os

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from conftest import SMALL_ARCH, SMALL_TRAIN, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.data.backed import BackedCounts, scan_counts
from scdiffusion.data.preprocessing import Preprocessor, log_normalize
from scdiffusion.data.validation import InputError


def _write_csr(adata, path):
    adata = adata.copy()
    adata.X = sp.csr_matrix(adata.X)
    adata.write_h5ad(path)
    return path


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def h5ad_path(tmp_path_factory):
    adata = make_counts(240, 60)
    adata.X[:, 0] = 0  # a gene in no cell, one in 2 cells: dropped by min_cells=3
    adata.X[:, 1] = 0
    adata.X[:2, 1] = 7
    return _write_csr(adata, tmp_path_factory.mktemp("ooc") / "counts.h5ad")


@pytest.fixture(scope="module")
def backed_model(h5ad_path):
    before = _sha(h5ad_path)
    model = ScDiffusion(h5ad_path, labels_keys=["cell_type"], backed=True, device="cpu", seed=0, **SMALL_ARCH)
    model.train(progress=False, **SMALL_TRAIN)
    assert _sha(h5ad_path) == before  # the input file is never modified
    return model


def test_scan_matches_in_memory_preprocessor(h5ad_path):
    adata = ad.read_h5ad(h5ad_path)
    mem = Preprocessor(min_counts=200)
    _, cell_mask = mem.fit_transform(adata)
    assert 0 < cell_mask.sum() < adata.n_obs  # the cell filter bites
    backed = Preprocessor(min_counts=200)
    with BackedCounts(h5ad_path) as counts:
        scan = scan_counts(counts, backed, chunk_rows=37, progress=False)
    assert backed.genes == mem.genes and "gene1" not in backed.genes
    np.testing.assert_array_equal(scan.cell_mask, cell_mask)
    lib = np.asarray(mem.counts(adata)[np.flatnonzero(cell_mask)].sum(1)).ravel()
    np.testing.assert_allclose(scan.library, lib)


def test_backed_library_sizes_equal_in_memory(h5ad_path, backed_model):
    mem = ScDiffusion(ad.read_h5ad(h5ad_path), labels_keys=["cell_type"], device="cpu", seed=0, **SMALL_ARCH)
    assert backed_model.genes == mem.genes
    np.testing.assert_allclose(backed_model.library_sizes.numpy(), mem.library_sizes.numpy())
    np.testing.assert_array_equal(backed_model.library_labels["cell_type"].numpy(),
                                  mem.library_labels["cell_type"].numpy())


@pytest.mark.parametrize("bad, message", [(np.nan, "NaN or infinite"), (-1.0, "negative"), (0.5, "non-integer")])
def test_bad_value_in_a_later_chunk(tmp_path, bad, message):
    adata = make_counts(240, 60)
    adata.X[230, 5] = bad
    path = _write_csr(adata, tmp_path / "bad.h5ad")
    with BackedCounts(path) as counts, pytest.raises(InputError, match=message):
        scan_counts(counts, Preprocessor(), chunk_rows=50, progress=False)
    with pytest.raises(InputError, match=message):
        ScDiffusion(path, backed=True, device="cpu", **SMALL_ARCH)


def test_backed_refuses_unsupported(h5ad_path, tmp_path, backed_model):
    with pytest.raises(InputError, match="checkpoint"):
        backed_model.train(progress=False, checkpoint_dir=tmp_path / "ckpt", **SMALL_TRAIN)
    with pytest.raises(InputError, match="path"):
        ScDiffusion(make_counts(), backed=True, device="cpu")
    adata = make_counts()
    adata.X = sp.csc_matrix(adata.X)
    adata.write_h5ad(tmp_path / "csc.h5ad")
    with pytest.raises(InputError, match="CSR"):
        ScDiffusion(tmp_path / "csc.h5ad", backed=True, device="cpu")


def test_backed_model_trains_and_generates(backed_model, tmp_path):
    assert backed_model.is_trained
    assert backed_model.history["autoencoder"]["n_steps"] == SMALL_TRAIN["autoencoder"]["max_steps"]
    gen = backed_model.generate(50, {"cell_type": "type1"}, sampler="dpmpp", n_steps=10, progress=False)
    assert gen.shape == (50, len(backed_model.genes)) and np.isfinite(gen.X).all()
    backed_model.save(tmp_path / "model")
    loaded = ScDiffusion.load(tmp_path / "model", device="cpu")
    again = loaded.generate(50, {"cell_type": "type1"}, sampler="dpmpp", n_steps=10, progress=False)
    np.testing.assert_allclose(again.X, gen.X, atol=1e-5)


def _leftovers(folder):
    return [p for p in os.listdir(folder) if p.endswith(".tmp")]


def test_generate_to_file(backed_model, tmp_path):
    path = tmp_path / "gen.h5ad"
    kw = dict(sampler="dpmpp-sde", n_steps=5, seed=3, progress=False)
    cond = {"cell_type": ["type0", "type2"] * 45}
    backed_model.generate_to_file(path, 90, cond, chunk_size=40, **kw)
    gen = ad.read_h5ad(path)
    assert gen.shape == (90, len(backed_model.genes))
    assert sp.issparse(gen.X) and sp.issparse(gen.layers["counts"])
    counts = gen.layers["counts"].toarray()
    assert np.all(counts == np.round(counts)) and counts.sum() > 0
    np.testing.assert_allclose(gen.X.toarray(), log_normalize(counts, 1e4), atol=1e-5)
    assert list(gen.obs["cell_type"].astype(str)) == cond["cell_type"]
    assert gen.obsm["X_scdiffusion"].shape == (90, backed_model.arch["n_latent"])
    assert gen.uns["scdiffusion"]["n_cells"] == 90
    backed = ad.read_h5ad(path, backed="r")
    assert backed.shape == gen.shape
    backed.file.close()
    # same seed, same file content; another chunk size is valid too
    backed_model.generate_to_file(tmp_path / "same.h5ad", 90, cond, chunk_size=40, **kw)
    same = ad.read_h5ad(tmp_path / "same.h5ad")
    assert (same.X != gen.X).nnz == 0 and (same.layers["counts"] != gen.layers["counts"]).nnz == 0
    backed_model.generate_to_file(tmp_path / "other.h5ad", 90, cond, chunk_size=90, **kw)
    assert ad.read_h5ad(tmp_path / "other.h5ad").shape == gen.shape
    assert not _leftovers(tmp_path)


def test_generate_to_file_refuses_overwrite_and_cleans_up(backed_model, tmp_path, monkeypatch):
    path = tmp_path / "gen.h5ad"
    path.write_text("precious")
    with pytest.raises(InputError, match="already exists"):
        backed_model.generate_to_file(path, 10, n_steps=3, progress=False)
    assert path.read_text() == "precious"
    calls = []

    def failing_generate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("induced failure")
        return original(*args, **kwargs)

    original = backed_model.generate
    monkeypatch.setattr(backed_model, "generate", failing_generate)
    with pytest.raises(RuntimeError, match="induced"):
        backed_model.generate_to_file(path, 20, chunk_size=10, n_steps=3, overwrite=True, progress=False)
    assert path.read_text() == "precious" and not _leftovers(tmp_path)
    calls.clear()
    with pytest.raises(RuntimeError, match="induced"):
        backed_model.generate_to_file(tmp_path / "new.h5ad", 20, chunk_size=10, n_steps=3, progress=False)
    assert not (tmp_path / "new.h5ad").exists() and not _leftovers(tmp_path)


def test_cli_backed_train_and_chunked_generate(h5ad_path, tmp_path):
    from click.testing import CliRunner

    from scdiffusion.cli import main

    runner = CliRunner()
    model_dir = tmp_path / "model"
    res = runner.invoke(main, ["train", str(h5ad_path), "--model-dir", str(model_dir), "--labels-key", "cell_type",
                               "--backed", "--device", "cpu", "--max-steps", "autoencoder=3",
                               "--max-steps", "diffusion=3", "--max-steps", "classifier=3", "--quiet"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "model.ckpt").exists()
    out = tmp_path / "gen.h5ad"
    res = runner.invoke(main, ["generate", "--model-dir", str(model_dir), "--n-cells", "25", "--chunk-size", "10",
                               "--n-steps", "3", "--condition", "cell_type=type1", "--output", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    gen = ad.read_h5ad(out)
    assert gen.n_obs == 25 and set(gen.obs["cell_type"].astype(str)) == {"type1"}


def test_backed_and_in_memory_data_give_the_same_cells_for_the_dispersion_refit(h5ad_path, backed_model):
    # noise_fit='eval-train' (the default) refits the NB dispersion on training cells read back from disk
    assert 0 < backed_model.history["autoencoder"]["noise_refit_cells"] <= 240
    backed = ScDiffusion(h5ad_path, labels_keys=["cell_type"], backed=True, device="cpu", seed=0, **SMALL_ARCH)
    memory = ScDiffusion(h5ad_path, labels_keys=["cell_type"], device="cpu", seed=0, **SMALL_ARCH)
    np.testing.assert_array_equal(backed.data.train_idx, memory.data.train_idx)
    for a, b in zip(backed.data.sample_training_cells(50, seed=4), memory.data.sample_training_cells(50, seed=4)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
