"""Experiment E34: how far the decoder benchmarks' measures move between count draws of one fixed distribution.

Two runs of ``simulated.py`` at 50,000 × 10,000 on two processors trained autoencoders equal to six digits of
validation loss, yet their ceilings differed by 0.045 in RF AUC on PCs: the counts drawn from the decoder are drawn
anew (a gamma-Poisson draw shifts its whole random stream when one value changes). This script measures that
scatter without any model, on the count model of ``simulated.py`` (``_simulation.CountModel``; 10,000 genes and a
10x-like depth by default). Every seed is one draw of the counts, scored against one fixed fresh draw of held-out
cells with the measures of ``_decoder_eval.two_sample`` (random forest and subsampling seeds fixed, so only the
counts change):

* ``new cells (control)``: a fresh draw of new cells, as the ``real train (control)`` row;
* ``fixed cells, true μ``: the same cells' true means, counts redrawn, as the ``true μ, …`` oracle row;
* ``fixed cells, μ off by 20 %``: those means with a fixed log-normal error (sd 0.2 per cell and gene), counts
  redrawn: a decoder that is off by a fixed amount, as the ``decoder ceiling`` row.

The sd over seeds of each row is the scatter a single-run comparison of these measures carries.

    OMP_NUM_THREADS=1 python benchmarks/draw_noise.py [--quick] [--seeds 0 1 2 3]
"""

from __future__ import annotations

import _common as C  # noqa: I001  (pins threads before numpy/torch)

import numpy as np

import _decoder_eval as E
from _simulation import CountModel
from simulated import nb_draw

NAME = "draw_noise"
COLUMNS = ["rf_auc_genes", "rf_auc_pca", "mmd_rbf", "one_nn_accuracy"]
#: Log-scale sd of the fixed error of the "off" row's means.
MEAN_ERROR_SD = 0.2


def run_seed(seed: int, args) -> dict:
    n_genes, n_cells = (300, 300) if args.quick else (10_000, 2000)
    sim = CountModel.make(n_genes, 6, 0, library_median=3000.0)
    held_out = sim.draw(n_cells, seed=10_001)  # simulated.py's fresh draw of seed 0
    cells = sim.draw(n_cells, seed=10_000)  # fixed cells (their means; their counts are redrawn)
    off = cells.mu * np.exp(MEAN_ERROR_SD * np.random.default_rng(99).standard_normal(cells.mu.shape))
    keep = held_out.counts.sum(0) > 0
    real = E.log_normalized(held_out.counts[:, keep])

    def score(counts: np.ndarray) -> dict:
        scores = E.two_sample(real, E.log_normalized(counts[:, keep]), seed=0, quick=args.quick)
        return {c: scores[c] for c in COLUMNS}

    return {"new cells (control)": score(sim.draw(n_cells, seed=20_000 + seed).counts),
            "fixed cells, true μ": score(nb_draw(cells.mu, sim.theta, 30_000 + seed)),
            f"fixed cells, μ off by {MEAN_ERROR_SD:.0%}": score(nb_draw(off, sim.theta, 40_000 + seed))}


def main(argv=None) -> dict:
    return C.run_seeded_rows(argv, __doc__, NAME, run_seed, COLUMNS,
                             "simulated NB counts (_simulation.CountModel, 10,000 genes, library median 3,000)",
                             "count draws")


if __name__ == "__main__":
    main()
