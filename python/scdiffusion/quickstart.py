"""The quickstart: train on bundled PBMC data, generate every cell type, report realism on held-out cells."""

from __future__ import annotations

import json
import logging
import os
import time

import anndata as ad
import numpy as np

from .atomic import atomic_dir, check_output_dir
from .data.split import stratified_split

logger = logging.getLogger(__name__)

LABELS_KEY = "bulk_labels"


def realism_summary(model, real_test: ad.AnnData, real_train: ad.AnnData, generated: ad.AnnData,
                    labels_key: str, seed: int = 0, matched: ad.AnnData | None = None) -> dict:
    """Paper metrics of generated cells against held-out real cells, plus a cell-type classifier check.

    The distribution metrics compare ``matched`` (generated cells with the held-out cells' label composition;
    default ``generated``) with the held-out cells, so that a difference in composition is not counted as a
    difference in realism; the control is the real training cells (the same composition by the stratified
    split). The classifier (logistic regression on log-normalised genes) is trained on the real training cells
    and applied to held-out real cells (control) and to ``generated`` (against their condition).
    """
    from sklearn.linear_model import LogisticRegression

    from .metrics import mmd_rbf, rf_auc, scc_gene_means

    x_test = model.preprocessor.transform(real_test)
    x_train = model.preprocessor.transform(real_train)
    x_gen = np.asarray((generated if matched is None else matched).X)
    x_guided = np.asarray(generated.X)
    clf = LogisticRegression(max_iter=2000, C=0.1).fit(x_train, real_train.obs[labels_key].astype(str))
    out = {
        "space": "log1p(normalize_total(1e4)) over the model's genes",
        "n_real_heldout": int(x_test.shape[0]),
        "n_generated": int(x_gen.shape[0]),
        "scc_gene_means": float(scc_gene_means(x_test, x_gen)),
        "mmd_pca50": float(mmd_rbf(x_test, x_gen, seed=seed)),
        "rf_auc_pca50": float(rf_auc(x_test, x_gen, space="pca", seed=seed)),
        "rf_auc_genes": float(rf_auc(x_test, x_gen, space="genes", seed=seed)),
        "classifier_accuracy_generated": float(np.mean(clf.predict(x_guided) ==
                                                       generated.obs[labels_key].astype(str))),
        "classifier_accuracy_real_heldout": float(np.mean(clf.predict(x_test) ==
                                                          real_test.obs[labels_key].astype(str))),
        "control_real_train_vs_heldout": {
            "scc_gene_means": float(scc_gene_means(x_test, x_train)),
            "mmd_pca50": float(mmd_rbf(x_test, x_train, seed=seed)),
            "rf_auc_pca50": float(rf_auc(x_test, x_train, space="pca", seed=seed)),
            "rf_auc_genes": float(rf_auc(x_test, x_train, space="genes", seed=seed)),
        },
    }
    return out


def run_quickstart(output_dir: str | os.PathLike = "scdiffusion_quickstart", *, n_cells_per_type: int = 50,
                   seed: int = 0, device: str = "auto", overwrite: bool = False, progress: bool = True,
                   train_kwargs: dict | None = None) -> dict:
    """Train on 80 % of scanpy's ``pbmc68k_reduced`` (exact counts), generate every cell type, evaluate.

    Writes ``model/``, ``generated.h5ad``, ``heldout.h5ad`` (the 20 % real test cells), ``summary.json``
    and ``summary.md`` into ``output_dir`` (assembled in a temporary folder and renamed into place).

    Returns
    -------
    The summary dict (with a human-readable ``text``).
    """
    from . import ScDiffusion
    from .datasets import pbmc68k_counts

    out = check_output_dir(output_dir, overwrite=overwrite, kind="quickstart")
    t0 = time.perf_counter()
    pbmc = pbmc68k_counts()
    tr, te = stratified_split(pbmc.obs[LABELS_KEY].astype(str).to_numpy(), 0.2, seed)
    train, test = pbmc[tr].copy(), pbmc[te].copy()
    model = ScDiffusion(train, labels_keys=[LABELS_KEY], device=device, seed=seed)
    model.train(progress=progress, **(train_kwargs or {}))
    t_train = time.perf_counter() - t0
    labels = np.repeat(model.registries[LABELS_KEY].categories, n_cells_per_type)
    generated = model.generate(len(labels), {LABELS_KEY: labels}, seed=seed, progress=progress)
    t_gen = time.perf_counter() - t0 - t_train
    # for the distribution metrics: twice the held-out cells' labels (composition as in the held-out cells)
    composition = np.tile(test.obs[LABELS_KEY].astype(str).to_numpy(), 2)
    matched = model.generate(len(composition), {LABELS_KEY: composition}, seed=seed + 1, progress=False)
    realism = realism_summary(model, test, train, generated, LABELS_KEY, seed=seed, matched=matched)
    import torch

    from . import __version__

    summary = {
        "data": "scanpy pbmc68k_reduced, exact counts; 80 % train / 20 % held out per cell type",
        # results are bit-identical for one thread count and device, not across them (README, Reproducibility)
        "scdiffusion_version": __version__, "torch_version": torch.__version__,
        "device": str(model.device), "train_threads": model.train_threads, "seed": seed,
        "n_cells_per_type": n_cells_per_type,
        "n_train_cells": int(train.n_obs), "n_genes": len(model.genes),
        "train_seconds": round(t_train, 1), "generate_seconds": round(t_gen, 1),
        "training": {k: {"steps": v["n_steps"], "stopped": v["stopped"], "best_val_loss": v["best_loss"]}
                     for k, v in model.history.items()},
        "realism_vs_heldout": realism,
    }
    r, c = realism, realism["control_real_train_vs_heldout"]
    text = "\n".join([
        f"scDiffusion quickstart: trained on {train.n_obs} PBMCs x {len(model.genes)} genes in {t_train:.0f} s, "
        f"generated {generated.n_obs} cells ({n_cells_per_type} per cell type) in {t_gen:.0f} s "
        f"({model.train_threads} CPU thread(s) for training on {model.device}).",
        f"Realism against held-out real cells ({r['n_generated']} generated with their label composition; "
        "control: real training vs held-out cells):",
        f"  SCC of gene means  {r['scc_gene_means']:.3f}  (control {c['scc_gene_means']:.3f}; 1 is best)",
        f"  MMD, 50 PCs        {r['mmd_pca50']:.4f} (control {c['mmd_pca50']:.4f}; 0 is best)",
        f"  RF AUC, 50 PCs     {r['rf_auc_pca50']:.3f}  (control {c['rf_auc_pca50']:.3f}; 0.5 is best)",
        f"  RF AUC, genes      {r['rf_auc_genes']:.3f}  (control {c['rf_auc_genes']:.3f}; 0.5 is best)",
        f"  cell-type classifier accuracy: generated {r['classifier_accuracy_generated']:.3f}, "
        f"real held-out {r['classifier_accuracy_real_heldout']:.3f}",
        f"Outputs in {out}/: model/, generated.h5ad, heldout.h5ad, summary.json, summary.md",
    ])
    summary["text"] = text
    with atomic_dir(out, "quickstart", overwrite=overwrite) as tmp:
        model.save(tmp / "model")
        generated.write_h5ad(tmp / "generated.h5ad")
        test.write_h5ad(tmp / "heldout.h5ad")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        (tmp / "summary.md").write_text("```\n" + text + "\n```\n")
    logger.info("Quickstart finished in %.0f s.", time.perf_counter() - t0)
    return summary
