"""On real PBMC data: the quickstart pipeline end to end and classifier guidance to real cell types."""

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from scdiffusion import ScDiffusion
from scdiffusion.quickstart import LABELS_KEY, run_quickstart

# Reduced budgets: the test checks behaviour, the quickstart's defaults give the quality.
TRAIN = {"autoencoder": {"max_steps": 400}, "diffusion": {"max_steps": 1000, "eval_every": 250},
         "classifier": {"max_steps": 600}}


@pytest.fixture(scope="module")
def quickstart_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pbmc") / "qs"
    run_quickstart(out, n_cells_per_type=5, seed=0, device="cpu", progress=False, train_kwargs=TRAIN)
    return out


def test_quickstart_writes_model_cells_and_summary(quickstart_dir):
    import anndata as ad

    summary = json.loads((quickstart_dir / "summary.json").read_text())
    gen = ad.read_h5ad(quickstart_dir / "generated.h5ad")
    assert gen.n_obs == 50 and gen.obs[LABELS_KEY].nunique() == 10
    r = summary["realism_vs_heldout"]
    assert 0.8 < r["scc_gene_means"] <= 1.0
    assert 0.0 <= r["rf_auc_genes"] <= 1.0 and r["n_real_heldout"] == 142
    # the distribution metrics compare generated cells of the held-out cells' label composition (twice over)
    assert r["n_generated"] == 2 * 142
    assert "SCC of gene means" in (quickstart_dir / "summary.md").read_text()
    # what the figures depend on is recorded with them (the README's figures: benchmarks/results/quickstart)
    config = json.loads((quickstart_dir / "model" / "config.json").read_text())
    assert summary["train_threads"] == config["train_threads"] >= 1 and summary["device"] == "cpu"
    assert summary["seed"] == 0 and summary["n_cells_per_type"] == 5 and summary["scdiffusion_version"]
    assert f"{summary['train_threads']} CPU thread(s)" in summary["text"]


def test_guided_cells_are_called_their_cell_type_by_a_classifier_on_real_cells(quickstart_dir):
    import anndata as ad

    from scdiffusion.datasets import pbmc68k_counts

    model = ScDiffusion.load(quickstart_dir / "model", device="cpu")
    real = pbmc68k_counts()
    held = ad.read_h5ad(quickstart_dir / "heldout.h5ad")
    train = real[~real.obs_names.isin(held.obs_names)]
    x = model.preprocessor.transform(train)
    clf = LogisticRegression(max_iter=2000, C=0.1).fit(x, train.obs[LABELS_KEY].astype(str))
    kw = {"sampler": "ddpm", "n_steps": 200, "progress": False}
    plain = clf.predict(model.generate(100, guidance="classifier", seed=11, **kw).X)
    for label in ("CD14+ Monocyte", "CD19+ B"):
        guided = clf.predict(model.generate(60, {LABELS_KEY: label}, seed=12, **kw).X)
        f_guided, f_plain = np.mean(guided == label), np.mean(plain == label)
        assert f_guided >= 0.35 and f_guided > 2 * f_plain, (label, f_guided, f_plain)
