"""Distances on principal components of the real cells (the CFGen / scLDM evaluation protocol).

A PCA is fitted on the real cells only (at most one component per 10 real cells) and the generated cells are
projected onto it, so the generated cells cannot shape the axes. Per label (at least ``min_cells`` cells on
both sides): exact Wasserstein-1 and -2 distances, the multi-bandwidth RBF MMD^2 and the energy distance; the
value is their plain mean over labels, as CFGen reports it. The empirical W1 and W2 of small samples favour a
generator with less spread than the real cells (real cells pulled towards their mean score lower than real
cells); the energy distance does not, so it is the distance in W1's units to read beside them. Over all cells:
precision, recall, density and coverage (k nearest neighbours).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ._utils import fit_pca, label_groups, make_rng, subsample_rows
from .energy import energy_distance
from .mmd import mmd_rbf_embedded
from .optimal_transport import wasserstein_distance
from .prdc import prdc

logger = logging.getLogger(__name__)

__all__ = ["PCA_DISTANCES", "PER_LABEL", "pca_distances"]

#: Real cells per principal component at least (the number of components is capped accordingly).
CELLS_PER_COMPONENT = 10

#: Entries computed per label (the value is their mean over labels).
PER_LABEL = ("wasserstein1", "wasserstein2", "mmd_rbf_per_label", "energy_distance")

#: Entries returned by :func:`pca_distances`: ``name -> (ideal, description)``.
PCA_DISTANCES: dict[str, tuple[float, str]] = {
    "wasserstein1": (0.0, "Exact Wasserstein-1 distance per label (mean over labels)"),
    "wasserstein2": (0.0, "Exact Wasserstein-2 distance per label (mean over labels)"),
    "mmd_rbf_per_label": (0.0, "RBF MMD^2 (5 bandwidths) per label (mean over labels)"),
    "energy_distance": (0.0, "Energy distance per label, biased (V-statistic, >= 0; a shrunk sample scores "
                             "above a real one, unlike W1) (mean over labels)"),
    "precision": (1.0, "Share of generated cells within a real cell's 5-NN ball"),
    "recall": (1.0, "Share of real cells within a generated cell's 5-NN ball"),
    "density": (1.0, "Real 5-NN balls per generated cell / 5"),
    "coverage": (1.0, "Share of real cells whose 5-NN ball holds a generated cell"),
}


def pca_distances(
    real_log: np.ndarray,
    gen_log: np.ndarray,
    real_labels: np.ndarray | None = None,
    gen_labels: np.ndarray | None = None,
    *,
    n_comps: int = 50,
    k: int = 5,
    min_cells: int = 10,
    max_cells: int | None = 2000,
    seed: int = 0,
    labels_to_score: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Wasserstein distances, MMD and PRDC of generated cells on the real cells' principal components.

    Parameters
    ----------
    real_log, gen_log
        log1p-normalised expression, cells x genes, same genes.
    real_labels, gen_labels, min_cells, labels_to_score
        Optional labels and which of them are scored, as in
        :func:`~scdiffusion.metrics.count_properties.compare_count_properties`.
    n_comps
        Principal components, at most one per :data:`CELLS_PER_COMPONENT` real cells (fitted cells spread
        more along the components than projected ones; with few cells per component that dominates).
    k
        Neighbour rank of the PRDC balls.
    max_cells
        Cells per side and label for the transport problems and per side for PRDC (random subsample; exact
        transport and the PRDC distance matrix grow quadratically).
    seed
        Seed of the PCA solver and the subsampling.

    Returns
    -------
    dict
        ``{name: {"value", ...}}`` for the names of :data:`PCA_DISTANCES`; the per-label entries carry
        ``per_label`` and ``skipped_labels``. The energy distance is the biased (V-statistic) estimate of
        :func:`~scdiffusion.metrics.energy_distance`: like the biased MMD^2 it is compared with a real-vs-real
        control of the same sizes, where its bias is the same.
    """
    r = np.asarray(real_log, dtype=np.float64)
    g = np.asarray(gen_log, dtype=np.float64)
    if r.shape[1] != g.shape[1]:
        raise InputError(f"Real data have {r.shape[1]} genes, generated {g.shape[1]}; use the same genes.")
    # cells that fit a PCA spread more along its components than cells projected onto it; with fewer than
    # ~10 fitted cells per component that artefact dominates k-NN measures, so the components are capped
    n_comps = min(n_comps, max(2, r.shape[0] // CELLS_PER_COMPONENT))
    pca = fit_pca(r, n_comps=n_comps, seed=seed)
    zr, zg = pca.transform(r), pca.transform(g)
    rng = make_rng(seed)
    groups, skipped = label_groups(real_labels, gen_labels, max(2, min_cells), r.shape[0], g.shape[0],
                                  only=labels_to_score)
    per_label: dict[str, dict[str, Any]] = {}
    for label, ri, gi, weight in groups:
        a, b = subsample_rows(zr[ri], max_cells, rng), subsample_rows(zg[gi], max_cells, rng)
        per_label[label] = {"wasserstein1": wasserstein_distance(a, b, 1),
                            "wasserstein2": wasserstein_distance(a, b, 2),
                            "mmd_rbf_per_label": mmd_rbf_embedded(a, b),
                            "energy_distance": energy_distance(a, b, unbiased=False),
                            "n_real": int(ri.size), "n_generated": int(gi.size), "weight": weight}
    out: dict[str, dict[str, Any]] = {}
    for name in PER_LABEL:
        vals = [v[name] for v in per_label.values()]
        out[name] = {"value": float(np.mean(vals)) if vals else None,
                     "per_label": {lab: {name: v[name], "n_real": v["n_real"], "n_generated": v["n_generated"]}
                                   for lab, v in per_label.items()},
                     "skipped_labels": skipped}
    pr, pg = subsample_rows(zr, max_cells, rng), subsample_rows(zg, max_cells, rng)
    res = prdc(pr, pg, k=k)
    # precision is a share of the generated cells, recall and coverage of the real cells: binomial scatter,
    # with the share shrunk by one cell each way ((x + 1) / (n + 2)) so that a share of exactly 1 keeps some
    shares = {"precision": pg.shape[0], "recall": pr.shape[0], "coverage": pr.shape[0]}
    for name, value in res.summary().items():
        out[name] = {"value": value, "n_comps": int(pca.n_components_)}
        if name in shares:
            n = shares[name]
            p = (value * n + 1.0) / (n + 2.0)
            out[name]["null_sd"] = float(np.sqrt(p * (1.0 - p) / n))
    return out
