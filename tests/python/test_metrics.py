"""Behavioural tests of scdiffusion.metrics and scdiffusion.plotting (fast, CPU only)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from scdiffusion.errors import InputError

anndata = pytest.importorskip("anndata")
sc = pytest.importorskip("scanpy")

import scdiffusion.metrics as M  # noqa: E402
from scdiffusion.plotting import plot_interpolation_pseudotime, plot_loss_curves  # noqa: E402

LABELS = "bulk_labels"


@pytest.fixture(scope="module", autouse=True)
def _single_threaded_blas():
    """Multi-threaded OpenBLAS is pathologically slow on small, busy CI machines."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def pbmc_counts():
    """pbmc68k_reduced (bundled with scanpy) converted back to integer counts."""
    a = sc.datasets.pbmc68k_reduced()
    x = a.raw.X.toarray() if hasattr(a.raw.X, "toarray") else np.asarray(a.raw.X)
    counts = np.round(np.expm1(x) * a.obs["n_counts"].to_numpy()[:, None] / 1e4)
    out = anndata.AnnData(counts.astype(np.float32), obs=a.obs[[LABELS]].copy())
    out.var_names = list(a.raw.var_names)
    return out


@pytest.fixture(scope="module")
def pbmc_split(pbmc_counts):
    """Log-normalised train / held-out halves (stratified by cell type)."""
    logd, how = M.to_log_normalized(pbmc_counts)
    assert how.startswith("raw counts")
    rng = np.random.default_rng(0)
    y = logd.obs[LABELS].astype(str).to_numpy()
    train_idx = []
    for lab in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == lab))
        train_idx.extend(idx[: len(idx) // 2])
    mask = np.zeros(logd.n_obs, bool)
    mask[train_idx] = True
    return logd[mask].copy(), logd[~mask].copy()


def gaussian_blob_generator(train, n_comps: int = 50, seed: int = 0):
    """Per-label Gaussian in PCA space mapped back to genes.

    Reproduces the per-label means and PC covariance, but produces dense
    continuous values (no zeros, negative values) - a deliberately flawed generator.
    """
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    pca = PCA(n_comps, random_state=seed).fit(train.X)
    z = pca.transform(train.X)
    y = train.obs[LABELS].astype(str).to_numpy()
    samples, labels = [], []
    for lab in np.unique(y):
        zl = z[y == lab]
        cov = np.cov(zl, rowvar=False) if len(zl) > 2 else np.diag(z.var(axis=0))
        samples.append(rng.multivariate_normal(zl.mean(0), cov + 1e-6 * np.eye(n_comps),
                                               size=len(zl), method="eigh"))
        labels += [lab] * len(zl)
    out = anndata.AnnData(pca.inverse_transform(np.vstack(samples)).astype(np.float32))
    out.var_names = train.var_names
    out.obs[LABELS] = labels
    return out


@pytest.fixture(scope="module")
def blob(pbmc_split):
    return gaussian_blob_generator(pbmc_split[0])


# --------------------------------------------------------------------------- identical data
def test_identical_data_is_indistinguishable(pbmc_split):
    x = pbmc_split[1].X
    assert M.mmd_rbf(x, x.copy()) == pytest.approx(0.0, abs=1e-10)
    assert M.scc_gene_means(x, x.copy()) == pytest.approx(1.0)
    assert M.gene_correlation_error(x, x.copy()) == pytest.approx(0.0, abs=1e-12)
    assert M.rf_auc(x, x.copy(), space="genes", n_estimators=50) == pytest.approx(0.5, abs=0.05)
    assert M.rf_auc(x, x.copy(), space="pca", n_estimators=50) == pytest.approx(0.5, abs=0.05)
    assert M.knn_auc(x, x.copy()) == pytest.approx(0.5, abs=0.05)
    assert M.zero_fraction_gap(x, x.copy()).mean_abs_diff == 0.0
    # exact copies: every cell's nearest neighbour is its twin -> 1-NN accuracy 0
    assert M.one_nn_accuracy(x, x.copy()) == pytest.approx(0.0)


def test_real_vs_real_heldout_is_near_chance(pbmc_split):
    train, held = pbmc_split
    assert M.rf_auc(held.X, train.X, space="genes", n_estimators=50) < 0.65
    assert M.one_nn_accuracy(held.X, train.X) < 0.6
    assert M.scc_gene_means(held.X, train.X) > 0.97


# --------------------------------------------------------------------------- shifted / noisy copy
def test_shifted_noisy_copy_is_detected(pbmc_split):
    train, held = pbmc_split
    rng = np.random.default_rng(1)
    noisy = held.X + 1.0 + rng.normal(0.0, 1.0, size=held.X.shape)
    mmd_same = M.mmd_rbf(held.X, train.X)
    mmd_noisy = M.mmd_rbf(held.X, noisy)
    assert mmd_noisy > 0.5
    assert mmd_noisy > 20 * mmd_same
    assert M.rf_auc(held.X, noisy, space="genes", n_estimators=50) > 0.95
    assert M.rf_auc(held.X, noisy, space="pca", n_estimators=50) > 0.95
    # Euclidean kNN in 765-dim gene space suffers from hubness: detected, but less sharply
    assert M.knn_auc(held.X, noisy) > 0.6
    assert M.one_nn_accuracy(held.X, noisy) > 0.8
    assert M.zero_fraction_gap(held.X, noisy).mean_abs_diff > 0.5


# --------------------------------------------------------------------------- Gaussian blob generator
def test_gaussian_blob_generator_is_caught_in_gene_space(pbmc_split, blob):
    train, held = pbmc_split
    auc_blob = M.rf_auc(held.X, blob.X, space="genes", n_estimators=100)
    auc_real = M.rf_auc(held.X, train.X, space="genes", n_estimators=100)
    # the blob fits gene means well ...
    assert M.scc_gene_means(held.X, blob.X) > 0.95
    # ... but its zeros are wrong, which a gene-space classifier sees immediately
    assert auc_blob > 0.9
    assert auc_blob > auc_real + 0.3
    zeros = M.zero_fraction_gap(held.X, blob.X)
    assert zeros.real.shape == (held.n_vars,) and zeros.generated.shape == (held.n_vars,)
    assert zeros.mean_abs_diff > 0.3
    assert zeros.mean_abs_diff > 10 * M.zero_fraction_gap(held.X, train.X).mean_abs_diff
    assert M.one_nn_accuracy(held.X, blob.X) > M.one_nn_accuracy(held.X, train.X) + 0.2
    mv = M.mean_variance_agreement(held.X, blob.X)
    assert mv.mean_correlation > 0.95
    assert mv.real_var.shape == (held.n_vars,)


def test_memorization(pbmc_split, blob):
    train, held = pbmc_split
    copies = M.memorization(train.X, train.X.copy(), held.X)
    assert copies.ratio == pytest.approx(0.0)
    assert copies.fraction_closer_than_p5 == 1.0
    fresh = M.memorization(train.X, blob.X, held.X)
    assert 0.7 < fresh.ratio < 1.5
    assert fresh.fraction_closer_than_p5 < 0.2
    assert set(fresh.summary()) >= {"ratio", "median_generated_to_train", "median_heldout_to_train"}


# --------------------------------------------------------------------------- LISI
def test_ilisi_mixed_vs_disjoint(pbmc_split):
    train, held = pbmc_split
    assert M.ilisi(held.X, train.X) > 0.8
    assert M.ilisi(held.X, held.X + 20.0) < 0.05
    assert M.ilisi(held.X, train.X, method="perplexity") > M.ilisi(held.X, held.X + 20.0,
                                                                   method="perplexity")


# --------------------------------------------------------------------------- small units
def test_gene_correlation_error_is_nan_safe_for_constant_genes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6))
    y = x.copy()
    x[:, 2] = 0.0  # constant gene in real
    y[:, 4] = 3.0  # constant gene in generated
    err = M.gene_correlation_error(x, y, n_top_genes=6)
    assert np.isfinite(err) and err > 0
    assert np.isfinite(M.mean_variance_agreement(x, y).log_variance_correlation)


def test_knn_auc_per_label_skips_small_labels(pbmc_split, blob):
    _, held = pbmc_split
    res = M.knn_auc_per_label(held.X, blob.X, held.obs[LABELS], blob.obs[LABELS], min_cells=20)
    assert "Dendritic" in res and res["Dendritic"]["auc"] is not None
    assert res["CD34+"]["auc"] is None and "skipped" in res["CD34+"]


def test_label_classifier_accuracy(pbmc_split, blob):
    train, held = pbmc_split
    res = M.label_classifier_accuracy(train, held, LABELS)
    assert res["classifier"] == "logistic_regression"
    assert 0.6 < res["generated_accuracy"] <= 1.0
    assert 0.5 < res["heldout_real_accuracy"] <= 1.0
    assert res["per_label"]["Dendritic"]["n_generated"] > 0


def test_celltypist_accuracy(pbmc_split, blob):
    pytest.importorskip("celltypist")
    train, _ = pbmc_split
    res = M.celltypist_accuracy(train, blob, LABELS, max_iter=100)
    assert res["classifier"] == "celltypist"
    assert 0.5 < res["generated_accuracy"] <= 1.0
    assert res["heldout_real_accuracy"] is not None
    assert set(res["per_label"]) >= set(blob.obs[LABELS])


def test_to_log_normalized_detects_counts():
    counts = anndata.AnnData(np.array([[1.0, 3.0], [0.0, 5.0]]))
    out, how = M.to_log_normalized(counts)
    assert how.startswith("raw counts")
    np.testing.assert_allclose(np.expm1(out.X).sum(axis=1), 1e4, rtol=1e-5)
    logd = anndata.AnnData(np.log1p(np.array([[1.5, 3.0], [0.0, 5.0]])))
    out2, how2 = M.to_log_normalized(logd)
    assert how2.startswith("used as is")
    np.testing.assert_allclose(out2.X, logd.X, rtol=1e-6)


def test_diffusion_pseudotime_follows_a_trajectory():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 1, 200))
    genes = np.stack([np.sin(np.pi * t * k / 2) * 3 for k in range(1, 11)]
                     + [t * 4, (1 - t) * 4], axis=1)
    x = genes + rng.normal(0, 0.05, size=genes.shape)
    from scipy.stats import spearmanr

    pt = M.diffusion_pseudotime(x, root_mask_or_index=int(np.argmin(t)), n_comps=10)
    assert spearmanr(pt, t).statistic > 0.9
    pt2 = M.diffusion_pseudotime(x, root_mask_or_index=t < 0.05, n_comps=10)
    assert spearmanr(pt2, t).statistic > 0.9


def test_plots_loss_and_pseudotime(tmp_path):
    hist = {"autoencoder": {"step": [0, 10, 20], "train_loss": [1.0, 0.5, 0.2],
                            "val_loss": [1.1, 0.6, 0.3]},
            "diffusion": {"step": [0, 5], "train_loss": [0.9, 0.4]}}
    p = plot_loss_curves(hist, tmp_path / "loss.png")
    assert p.exists() and p.stat().st_size > 1000
    p2 = plot_interpolation_pseudotime(np.repeat([0, 0.5, 1.0], 10), np.linspace(0, 1, 30),
                                       tmp_path / "pt.png")
    assert p2.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="train_loss"):
        plot_loss_curves({"ae": {"step": [1]}}, tmp_path / "bad.png")


# --------------------------------------------------------------------------- input validation
def test_mismatched_genes_give_helpful_error(pbmc_split, blob):
    _, held = pbmc_split
    gen = blob[:, :-3].copy()
    with pytest.raises(ValueError, match=r"missing from the generated.*Subset") as info:
        M.evaluate(held, gen, quick=True)
    assert held.var_names[-1] in str(info.value)
    with pytest.raises(ValueError, match="same genes"):
        M.mmd_rbf(held.X, blob.X[:, :-3])


def test_missing_labels_key_gives_helpful_error(pbmc_split, blob):
    _, held = pbmc_split
    with pytest.raises(KeyError, match="cell_type.*available columns"):
        M.evaluate(held, blob, labels_key="cell_type", quick=True)


# --------------------------------------------------------------------------- suite + report
@pytest.fixture(scope="module")
def quick_results(pbmc_split, blob):
    train, held = pbmc_split
    gen = blob[:, ::-1].copy()  # gene order differs: evaluate must realign
    return M.evaluate(held, gen, labels_key=LABELS, train=train, quick=True,
                      use_celltypist=False)


def test_evaluate_returns_json_serialisable_entries_with_space(quick_results):
    res = json.loads(json.dumps(quick_results, allow_nan=False))
    assert res["meta"]["n_genes"] == 765
    for name in ("scc_gene_means", "gene_correlation_error", "mmd_rbf", "ilisi", "rf_auc_pca",
                 "rf_auc_genes", "knn_auc", "one_nn_accuracy", "zero_fraction_gap",
                 "mean_variance_agreement", "memorization", "knn_auc_per_label",
                 "label_classifier_accuracy"):
        entry = res[name]
        assert "error" not in entry, entry
        assert isinstance(entry["space"], str) and entry["space"]
        assert entry["value"] is not None
    assert res["rf_auc_genes"]["value"] > 0.9
    assert res["scc_gene_means"]["value"] > 0.95
    assert "Dendritic" in res["knn_auc_per_label"]["per_label"]
    assert "heldout_real_accuracy" in res["label_classifier_accuracy"]
    assert res["celltypist_accuracy"]["value"] is None and "skipped" in res["celltypist_accuracy"]


def test_write_report_creates_files_and_refuses_overwrite(tmp_path, pbmc_split, blob):
    train, held = pbmc_split
    real_s, gen_s = held[:150].copy(), blob[:150].copy()
    hist = {"diffusion": {"step": [1, 2, 3], "train_loss": [1.0, 0.7, 0.5],
                          "val_loss": [1.1, 0.8, 0.6]}}
    out = tmp_path / "report"
    path = M.write_report(real_s, gen_s, out, labels_key=LABELS, history=hist, quick=True,
                          use_celltypist=False)
    assert path == out.resolve()
    files = {p.name for p in out.iterdir()}
    assert {"metrics.json", "report.md", "qq.png", "violins.png", "loss.png", "fold_changes.png"} <= files
    assert "umap.png" not in files  # quick mode leaves the UMAP out and says so
    md = (out / "report.md").read_text()
    assert "figure umap.png: quick mode" in md
    assert "figure comparison.png: needs raw counts" in md  # log-normalised inputs have no counts
    metrics = json.loads((out / "metrics.json").read_text())
    assert "mmd_rbf" in metrics
    assert "| mmd_rbf |" in md and "![" in md and "qq.png" in md
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.tmp")]

    assert (out / ".scdiffusion-output.json").exists()  # the marker: a report folder scDiffusion wrote
    with pytest.raises(InputError, match="overwrite=True"):
        M.write_report(real_s, gen_s, out, quick=True)
    before = (out / "metrics.json").stat().st_ino
    M.write_report(real_s, gen_s, out, quick=True, overwrite=True)  # its own report folder: replaced
    assert (out / "metrics.json").stat().st_ino != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temporary or old folder left


@pytest.mark.parametrize("setup", ["notes", "cwd", "file", "other_kind"])
def test_write_report_overwrite_never_touches_a_folder_it_did_not_write(tmp_path, pbmc_split, blob, setup,
                                                                       monkeypatch):
    """--output-dir . --overwrite, a user's folder, a file, or a model folder: refused, nothing changed."""
    from scdiffusion.atomic import write_marker

    real_s, gen_s = pbmc_split[1][:60].copy(), blob[:60].copy()
    target = tmp_path / "target"
    if setup == "file":
        target.write_text("results")
    else:
        (target / "sub").mkdir(parents=True)
        (target / "my_notes.txt").write_text("keep me")
        (target / "sub" / "data.csv").write_text("1,2")
        if setup == "other_kind":
            write_marker(target, "model")
    if setup == "cwd":
        monkeypatch.chdir(target)
        target = Path(".")
    snapshot = sorted((str(p.relative_to(tmp_path)), p.read_bytes() if p.is_file() else b"")
                      for p in tmp_path.rglob("*"))
    with pytest.raises(InputError, match="Refusing to overwrite|not a folder"):
        M.write_report(real_s, gen_s, target, quick=True, overwrite=True, use_celltypist=False)
    assert sorted((str(p.relative_to(tmp_path)), p.read_bytes() if p.is_file() else b"")
                  for p in tmp_path.rglob("*")) == snapshot


# --------------------------------------------------------------------------- import hygiene
def test_metrics_plotting_and_evaluation_do_not_import_torch():
    """Import the subpackages under a bare parent package and check torch stays unloaded."""
    src = Path(M.__file__).resolve().parents[2]
    code = textwrap.dedent(f"""
        import sys, types
        pkg = types.ModuleType("scdiffusion")
        pkg.__path__ = [{str(src / "scdiffusion")!r}]
        sys.modules["scdiffusion"] = pkg
        import scdiffusion.metrics, scdiffusion.plotting, scdiffusion.evaluation
        assert "torch" not in sys.modules, "torch was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
