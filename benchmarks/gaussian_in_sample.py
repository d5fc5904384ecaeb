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

import time

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
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (0 with --quick)")
    args = C.finish_args(p.parse_args(argv), NAME)
    args.seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    t_start = time.perf_counter()
    per_seed = {str(s): run_seed(s, 100 if args.quick else 300) for s in args.seeds}
    rows = list(next(iter(per_seed.values())))
    cols = ["rf_auc_pca", "mmd_rbf", "one_nn_accuracy"]
    summary = {r: {c: C.seed_stats([s[r][c] for s in per_seed.values()]) for c in cols} for r in rows}
    table = C.print_table({r: {c: v[c]["mean"] for c in cols} for r, v in summary.items()}, cols,
                          f"{NAME}: mean over seeds {args.seeds}")
    out = {"meta": C.meta(args, t_start, data="PBMC68k-reduced exact counts, 80/20 split by bulk_labels",
                          seeds=args.seeds, rows_note=__doc__),
           "summary": summary, "seeds": per_seed, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
