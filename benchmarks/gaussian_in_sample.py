"""Experiment E12: the per-label PCA Gaussian scored on the cells it was fitted on, and on held-out cells.

The per-label Gaussian baseline (``_common.pca_gaussian``: a Gaussian per label in the 50-PC space of the training
cells' log values, mapped back to genes, clipped at 0) is a model *of the training cells*. Scored against those same
training cells it is scored in-sample; scored against held-out cells it is scored like every row of ``decoder.py``.
For each seed's PBMC split (``_common.pbmc_split``): the Gaussian (2 × 140 cells) against the training cells and
against the held-out cells (RF AUC on a pooled PCA, MMD², 1-NN accuracy), and a control: as many real training cells
against the held-out cells.

    OMP_NUM_THREADS=1 python benchmarks/gaussian_in_sample.py [--quick] [--seeds 0 1 2]
"""

from __future__ import annotations

import _common as C  # noqa: I001  (pins threads before numpy/torch)

import numpy as np

import _decoder_eval as E

NAME = "gaussian_in_sample"


def run_seed(seed: int, trees: int) -> dict:
    from scdiffusion.metrics import mmd_rbf, one_nn_accuracy, rf_auc

    train, test = C.pbmc_split(seed)
    genes = list(train.var_names)
    x_train, x_test = E.as_log(train, genes), E.as_log(test, genes)
    labels = train.obs[C.PBMC_LABELS].astype(str).to_numpy()
    n = 2 * test.n_obs
    x_gauss, _ = C.pca_gaussian(x_train, labels, n, seed)
    sub = x_train[np.random.default_rng(seed).choice(len(x_train), n, replace=False)]

    def score(ref: np.ndarray, x: np.ndarray) -> dict:
        return {"rf_auc_pca": rf_auc(ref, x, space="pca", n_estimators=trees, seed=seed),
                "mmd_rbf": mmd_rbf(ref, x, seed=seed), "one_nn_accuracy": one_nn_accuracy(ref, x, seed=seed)}

    return {"Gaussian vs training cells (in-sample)": score(x_train, x_gauss),
            "Gaussian vs held-out cells": score(x_test, x_gauss),
            "real training cells vs held-out cells (control)": score(x_test, sub)}


def main(argv=None) -> dict:
    return C.run_seeded_rows(argv, __doc__, NAME, lambda seed, args: run_seed(seed, 100 if args.quick else 300),
                             ["rf_auc_pca", "mmd_rbf", "one_nn_accuracy"],
                             "PBMC68k-reduced exact counts, 80/20 split by bulk_labels")


if __name__ == "__main__":
    main()
