"""A known continuous differentiation process for ground-truth trajectory benchmarks.

Every cell has a pseudotime ``τ ∈ [0, 1]``. Its expected counts are

    μ_ig = ℓ_i · softmax_g(b_g + f_g(τ_i) + Σ_j a_ij L_jg)

with ``b`` a per-gene baseline (log-normal spread of expression levels), ``f_g`` the gene's response to
pseudotime and ``a_ij L_jg`` a few shared continuous programmes independent of τ (heterogeneity within a time
point). Genes are of four kinds:

* **switch on** ``A_g σ(k_g (τ − c_g))`` and **switch off** ``A_g (1 − σ(k_g (τ − c_g)))``: sigmoids whose
  midpoints ``c_g`` are spread over ``[0.05, 0.95]``, so genes switch one after the other (sequential waves);
* **transient** ``A_g exp(−(τ − c_g)² / 2 s_g²)``: programmes that rise and fall in the middle of the process
  (``c_g ∈ [0.25, 0.75]``), visible only at intermediate times;
* **static** (no response to τ).

Library sizes are log-normal with a median that drifts with τ (``log ℓ = log ℓ_0 + δ τ + N(0, σ²)``). Counts
are ``NB(μ_ig, θ_g)`` with a per-gene inverse dispersion ``θ_g`` (gamma–Poisson draw).

Cells are sampled at ordered time points (labels such as ``"0", "12", …, "48"`` hours): the τ of a cell of
time point ``k`` follows a Beta distribution with mean ``m_k`` (evenly spaced, endpoints pulled in from 0 and 1)
and concentration ``κ``, so neighbouring time points overlap a little.

The model's parameters come from one seed; cells are drawn from it with another, so two draws of the same time
point from one :class:`TrajectoryModel` are two samples of one distribution (a fresh draw is an ideal held-out
set). Nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["GENE_KINDS", "TrajectoryDraw", "TrajectoryModel"]

#: Gene kinds and their share of the genes (the rest are static).
GENE_KINDS: dict[str, float] = {"switch_on": 0.25, "switch_off": 0.20, "transient": 0.15}


@dataclass
class TrajectoryDraw:
    """One sample of cells from a :class:`TrajectoryModel`.

    Attributes
    ----------
    counts
        Integer counts, cells × genes (float32, dense).
    tau
        Pseudotime of every cell.
    time
        Time-point label of every cell (str).
    library
        ``ℓ_i``, the expected library size of every cell.
    activity
        Every cell's activity of the τ-independent programmes (cells × programmes).
    """

    counts: np.ndarray
    tau: np.ndarray
    time: np.ndarray
    library: np.ndarray
    activity: np.ndarray | None = None

    def to_anndata(self, key: str = "time", prefix: str = "cell") -> ad.AnnData:
        """The counts as an AnnData (CSR ``X``, ``obs[key]`` the time label, ``obs['tau']``, genes ``gene0…``)."""
        n, g = self.counts.shape
        obs = pd.DataFrame({key: self.time.astype(str), "tau": self.tau.astype(np.float32)},
                           index=pd.Index([f"{prefix}{i}" for i in range(n)]))
        return ad.AnnData(X=sp.csr_matrix(self.counts), obs=obs,
                          var=pd.DataFrame(index=pd.Index([f"gene{j}" for j in range(g)])))


@dataclass
class TrajectoryModel:
    """Parameters of the simulated differentiation process (see the module docstring).

    Use :meth:`make` to build one from a seed and :meth:`draw` to sample cells of given time points.
    """

    baseline: np.ndarray        # (genes,) logits
    kind: np.ndarray            # (genes,) 0 static, 1 switch on, 2 switch off, 3 transient
    amplitude: np.ndarray       # (genes,) log fold change of the response
    centre: np.ndarray          # (genes,) sigmoid midpoint / bump centre in τ
    steepness: np.ndarray       # (genes,) sigmoid slope (switches) or bump width s (transient)
    loadings: np.ndarray        # (n_continuous, genes) programmes independent of τ
    activity_sd: float
    theta: np.ndarray           # (genes,) inverse dispersion
    library_median: float       # median library size at τ = 0
    library_drift: float        # change of log library size from τ = 0 to τ = 1
    library_sd: float           # sd of log library size at fixed τ
    time_labels: tuple[str, ...]
    time_means: np.ndarray      # (time points,) mean τ of each time point
    concentration: float        # κ of the Beta distribution of τ within a time point

    @classmethod
    def make(cls, n_genes: int = 600, seed: int = 0, *, time_labels: tuple[str, ...] = ("0", "12", "24", "36", "48"),
             concentration: float = 40.0, n_continuous: int = 2, library_median: float = 1500.0,
             library_drift: float = 0.4, library_sd: float = 0.35, theta_median: float = 5.0) -> TrajectoryModel:
        """A random process with the gene kinds of :data:`GENE_KINDS`.

        Parameters
        ----------
        n_genes
            Size of the gene space.
        seed
            Seed of every parameter.
        time_labels
            Ordered time-point labels; their mean τ are evenly spaced from 0.04 to 0.96.
        concentration
            κ of the Beta(m κ, (1 − m) κ) distribution of τ within a time point (larger: narrower; 40 gives a
            standard deviation of about 0.08 at m = 0.5, a third of the spacing of 5 time points).
        n_continuous
            Number of shared programmes independent of τ (within-time-point heterogeneity; 5 % of genes each).
        library_median, library_drift, library_sd
            Median library size at τ = 0, the change of its logarithm over the process, and the standard
            deviation of the log library size at fixed τ.
        theta_median
            Median of the per-gene inverse dispersion (log-normal spread, sd 0.5 in log).
        """
        rng = np.random.default_rng(seed)
        baseline = rng.normal(0.0, 1.5, n_genes)
        shares = np.array([1.0 - sum(GENE_KINDS.values()), *GENE_KINDS.values()])
        kind = rng.choice(4, size=n_genes, p=shares)
        amplitude = np.abs(rng.normal(2.0, 0.7, n_genes))
        centre = np.where(kind == 3, rng.uniform(0.25, 0.75, n_genes), rng.uniform(0.05, 0.95, n_genes))
        steepness = np.where(kind == 3, rng.uniform(0.06, 0.15, n_genes), rng.uniform(8.0, 25.0, n_genes))
        on = rng.random((n_continuous, n_genes)) < 0.05
        loadings = np.where(on, rng.normal(0.0, 0.8, (n_continuous, n_genes)), 0.0)
        theta = theta_median * np.exp(rng.normal(0.0, 0.5, n_genes))
        means = np.linspace(0.04, 0.96, len(time_labels))
        return cls(baseline, kind, amplitude, centre, steepness, loadings, 0.7, theta, float(library_median),
                   float(library_drift), float(library_sd), tuple(str(t) for t in time_labels), means,
                   float(concentration))

    @property
    def n_genes(self) -> int:
        return int(self.baseline.shape[0])

    def response(self, tau: np.ndarray) -> np.ndarray:
        """``f_g(τ)`` for every cell (rows) and gene (columns)."""
        t = np.asarray(tau, dtype=np.float64)[:, None]
        sig = 1.0 / (1.0 + np.exp(-self.steepness * (t - self.centre)))
        bump = np.exp(-0.5 * ((t - self.centre) / self.steepness) ** 2)
        out = np.zeros((t.shape[0], self.n_genes))
        out = np.where(self.kind == 1, self.amplitude * sig, out)
        out = np.where(self.kind == 2, self.amplitude * (1.0 - sig), out)
        return np.where(self.kind == 3, self.amplitude * bump, out)

    def sample_tau(self, label: str, n_cells: int, rng: np.random.Generator) -> np.ndarray:
        """Pseudotimes of ``n_cells`` cells of time point ``label``."""
        m = self.time_means[self.time_labels.index(str(label))]
        return rng.beta(m * self.concentration, (1.0 - m) * self.concentration, n_cells)

    def draw(self, n_per_time: int | dict[str, int], seed: int, chunk_size: int = 5000) -> TrajectoryDraw:
        """Sample cells (pseudotime, library size, counts) with ``seed``.

        Parameters
        ----------
        n_per_time
            Cells per time point: one number for every label, or ``{label: n}`` (labels not named get none).
        seed
            Seed of the cells (use another seed than the parameters').
        chunk_size
            Cells computed at once (bounds memory).
        """
        rng = np.random.default_rng(seed)
        wanted = n_per_time if isinstance(n_per_time, dict) else {t: n_per_time for t in self.time_labels}
        time = np.concatenate([np.full(int(n), str(t), dtype=object) for t, n in wanted.items()])
        tau = np.concatenate([self.sample_tau(t, int(n), rng) for t, n in wanted.items()])
        n = tau.shape[0]
        activity = rng.normal(0.0, self.activity_sd, (n, self.loadings.shape[0]))
        library = self.library_median * np.exp(self.library_drift * tau + rng.normal(0.0, self.library_sd, n))
        counts = np.empty((n, self.n_genes), dtype=np.float32)
        for start in range(0, n, chunk_size):
            rows = slice(start, min(start + chunk_size, n))
            counts[rows] = self.sample_counts(self.logits(tau[rows], activity[rows]), library[rows], rng)
        return TrajectoryDraw(counts, tau.astype(np.float32), time.astype(str), library.astype(np.float32),
                              activity.astype(np.float32))

    def logits(self, tau: np.ndarray, activity: np.ndarray) -> np.ndarray:
        """``b_g + f_g(τ_i) + Σ_j a_ij L_jg`` of every cell (rows) and gene (columns), before the softmax."""
        return self.baseline + self.response(tau) + np.asarray(activity, dtype=np.float64) @ self.loadings

    def sample_counts(self, logits: np.ndarray, library: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """NB counts (gamma–Poisson, per-gene θ) with means ``ℓ_i · softmax_g(logits)``."""
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        mu = np.asarray(library, dtype=np.float64)[:, None] * p
        return rng.poisson(rng.gamma(self.theta, mu / self.theta))
