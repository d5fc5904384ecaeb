"""A known count model for ground-truth benchmarks: negative binomial cells with group programmes.

Every cell belongs to one of ``n_groups`` groups. Its expected counts are

    μ_ig = ℓ_i · softmax_g(b_g + P_kg + Σ_j a_ij L_jg)

with ``b`` a per-gene baseline (log-normal spread of expression levels), ``P_k`` the programme of the cell's
group ``k`` (a sparse set of up- and down-regulated genes), ``a_ij`` the activity of shared continuous
programmes ``L_j`` (within-group variation), and ``ℓ_i`` a log-normal library size with a per-group scale.
Counts are ``NB(μ_ig, θ_g)`` with a per-gene inverse dispersion ``θ_g`` (gamma–Poisson draw).

The model's parameters come from one seed; cells are drawn from it with another, so two draws from the same
:class:`CountModel` are two samples of one distribution (a "fresh draw" is an ideal held-out set).
Nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass
class Draw:
    """One sample of cells from a :class:`CountModel`.

    Attributes
    ----------
    counts
        Integer counts, cells × genes (float32, dense).
    mu
        The expected counts ``μ_ig`` every cell was drawn with (float32).
    library
        ``ℓ_i``, the expected library size of every cell.
    groups
        Group index of every cell.
    """

    counts: np.ndarray
    mu: np.ndarray
    library: np.ndarray
    groups: np.ndarray

    def to_anndata(self, prefix: str = "cell") -> ad.AnnData:
        """The counts as an AnnData (CSR ``X``, ``obs['group']``, genes ``gene0…``)."""
        n, g = self.counts.shape
        obs = pd.DataFrame({"group": pd.Categorical([f"group{k}" for k in self.groups])},
                           index=pd.Index([f"{prefix}{i}" for i in range(n)]))
        return ad.AnnData(X=sp.csr_matrix(self.counts), obs=obs,
                          var=pd.DataFrame(index=pd.Index([f"gene{j}" for j in range(g)])))


@dataclass
class CountModel:
    """Parameters of the simulated count distribution (see the module docstring).

    Use :meth:`make` to build one from a seed and :meth:`draw` to sample cells.
    """

    baseline: np.ndarray         # (genes,)
    programmes: np.ndarray       # (groups, genes) log fold changes
    loadings: np.ndarray         # (n_continuous, genes)
    activity_sd: np.ndarray      # (groups, n_continuous)
    group_weights: np.ndarray    # (groups,)
    group_library: np.ndarray    # (groups,) multiplicative library scale
    library_median: float
    library_sd: float            # sd of log library size within a group
    theta: np.ndarray            # (genes,) inverse dispersion

    @classmethod
    def make(cls, n_genes: int = 2000, n_groups: int = 6, seed: int = 0, *, n_continuous: int = 3,
             library_median: float = 500.0, library_sd: float = 0.45, theta_median: float = 10.0) -> CountModel:
        """A random model: 10 % of genes in every group programme, 5 % in every continuous programme.

        Parameters
        ----------
        n_genes, n_groups
            Size of the gene space and number of cell groups.
        seed
            Seed of every parameter.
        n_continuous
            Number of shared continuous programmes (within-group variation).
        library_median, library_sd
            Median library size and the standard deviation of its logarithm within a group.
        theta_median
            Median of the per-gene inverse dispersion (log-normal spread, sd 0.5 in log).
        """
        rng = np.random.default_rng(seed)
        baseline = rng.normal(0.0, 1.6, n_genes)
        on = rng.random((n_groups, n_genes)) < 0.10
        programmes = np.where(on, rng.normal(0.0, 1.3, (n_groups, n_genes)), 0.0)
        on = rng.random((n_continuous, n_genes)) < 0.05
        loadings = np.where(on, rng.normal(0.0, 0.8, (n_continuous, n_genes)), 0.0)
        activity_sd = rng.uniform(0.3, 1.0, (n_groups, n_continuous))
        weights = rng.dirichlet(np.full(n_groups, 3.0))
        group_library = np.exp(rng.normal(0.0, 0.3, n_groups))
        theta = theta_median * np.exp(rng.normal(0.0, 0.5, n_genes))
        return cls(baseline, programmes, loadings, activity_sd, weights, group_library, float(library_median),
                   float(library_sd), theta)

    @property
    def n_genes(self) -> int:
        return int(self.baseline.shape[0])

    @property
    def n_groups(self) -> int:
        return int(self.programmes.shape[0])

    def draw(self, n_cells: int, seed: int, chunk_size: int = 5000) -> Draw:
        """Sample ``n_cells`` cells (group, activities, library size, counts) with ``seed``."""
        rng = np.random.default_rng(seed)
        groups = rng.choice(self.n_groups, size=n_cells, p=self.group_weights)
        activity = rng.normal(size=(n_cells, self.loadings.shape[0])) * self.activity_sd[groups]
        library = (self.library_median * self.group_library[groups]
                   * np.exp(rng.normal(0.0, self.library_sd, n_cells)))
        counts = np.empty((n_cells, self.n_genes), dtype=np.float32)
        mu_all = np.empty((n_cells, self.n_genes), dtype=np.float32)
        for start in range(0, n_cells, chunk_size):
            rows = slice(start, min(start + chunk_size, n_cells))
            logits = self.baseline + self.programmes[groups[rows]] + activity[rows] @ self.loadings
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            mu = library[rows, None] * p
            counts[rows] = rng.poisson(rng.gamma(self.theta, mu / self.theta))
            mu_all[rows] = mu
        return Draw(counts, mu_all, library.astype(np.float32), groups)
