"""Decoded cells against held-out real cells: rows, per-label rows and diagnostics of the decoder benchmarks.

Used by ``decoder.py`` (PBMC, HSMM) and ``simulated.py`` (known count model). Every set of cells is compared
on log1p(normalize_total(1e4)) values over the model's genes with the same held-out real cells.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

#: Two-sample columns of the decoder benchmarks (ideal values in IDEALS).
#: ``zero_fraction_diff``: |difference of the overall zero fractions| (the issue's "zero-fraction gap": real vs
#: real scores ~0.002); ``zero_fraction_gap``: mean over genes of |difference of per-gene zero fractions|
#: (``scdiffusion.metrics.zero_fraction_gap``; its sampling floor with 142 held-out cells is ~0.03).
COLUMNS = ["rf_auc_genes", "rf_auc_pca", "mmd_rbf", "one_nn_accuracy", "one_nn_side_gap", "ilisi",
           "zero_fraction_diff", "zero_fraction_gap", "latent_rf_auc", "latent_mmd", "mixed_share_gap",
           "nearest_distance_ratio"]
#: ``one_nn_side_gap``: the 1-NN accuracy of the row's own cells minus that of the held-out cells (the two sides
#: ``one_nn_accuracy`` averages; 0 ideal). Near +1 the row's cells are everybody's nearest neighbours (hubs: e.g.
#: samples without the real cells' residual noise, which sit between real cells) -- an overall 1-NN accuracy
#: near 0.5 can then hide two sides of 1 and 0.
#: ``latent_*``: the row's 128-d latents (unit-norm, as the diffusion sees them) against the held-out cells' encoded
#: latents -- the diffusion stage's own share of the gap (rows without latents: none). ``mixed_share_gap``: share of
#: the row's cells between real cell types minus the held-out cells' share; ``nearest_distance_ratio``: median
#: distance to the nearest real training cell over the held-out cells' (both from
#: ``scdiffusion.metrics.mixed_neighbourhoods`` against the labelled training cells: smearing between types).
IDEALS = {"rf_auc_genes": 0.5, "rf_auc_pca": 0.5, "mmd_rbf": 0.0, "one_nn_accuracy": 0.5, "one_nn_side_gap": 0.0,
          "ilisi": 1.0,
          "zero_fraction_diff": 0.0, "zero_fraction_gap": 0.0, "latent_rf_auc": 0.5, "latent_mmd": 0.0,
          "mixed_share_gap": 0.0, "nearest_distance_ratio": 1.0}


# ---------------------------------------------------------------------------------------------- model internals
def reconstruct(model, adata: ad.AnnData, seed: int) -> tuple[ad.AnnData, np.ndarray, np.ndarray]:
    """Counts drawn from the decoder for every cell's own latent and its own library size.

    Uses the tensor-only module (``model.module``: ``sample_counts`` and ``unscale``) and the autoencoder's
    likelihood for the expected counts and dispersion.

    Returns
    -------
    ``(cells, mean, theta)``: AnnData with the drawn counts in ``X`` (``obs`` of ``adata``), the decoder's
    expected counts ``μ`` and its inverse dispersion ``θ`` for every cell and gene.
    """
    import torch

    counts = model.preprocessor.counts(adata)
    library = torch.from_numpy(np.asarray(counts.sum(axis=1), dtype=np.float32).ravel())
    z = torch.from_numpy(model.get_latent_representation(adata, scaled=True))
    gen = torch.Generator().manual_seed(int(seed))
    x = model.module.sample_counts(z, library, gen).numpy()
    with torch.no_grad():
        zz = model.module.unscale(z.to(model.module.device)).cpu()
        ae = model.autoencoder.cpu().eval()
        params = ae.decoder(zz)
        mean = ae.likelihood.expected_counts(params, library).numpy()
        theta = ae.likelihood.dispersion(params).numpy()
    out = ad.AnnData(X=x, obs=adata.obs.copy(), var=pd.DataFrame(index=pd.Index(model.genes)))
    return out, mean, theta


# ---------------------------------------------------------------------------------------------- scale
def log_normalized(counts: np.ndarray, target_sum: float = 1e4) -> np.ndarray:
    """log1p(normalize_total) of dense counts (float32)."""
    from scdiffusion.data.preprocessing import log_normalize

    return log_normalize(np.asarray(counts, dtype=np.float32), target_sum)


def as_log(adata: ad.AnnData, genes: list[str]) -> np.ndarray:
    """Dense log-normalised values over ``genes``: raw counts are normalised, log values are kept."""
    from scdiffusion.metrics._utils import looks_like_counts

    x = adata[:, genes].X
    x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32)
    return log_normalized(x) if looks_like_counts(x) else x


# ---------------------------------------------------------------------------------------------- rows
def two_sample(real: np.ndarray, other: np.ndarray, seed: int, quick: bool = False) -> dict[str, float]:
    """The :data:`COLUMNS` of ``other`` against ``real`` (both log-normalised, same genes)."""
    from scdiffusion.metrics import ilisi, mmd_rbf, one_nn_accuracy, rf_auc, zero_fraction_gap

    trees = 100 if quick else 1000
    zeros = zero_fraction_gap(real, other)
    return {"rf_auc_genes": rf_auc(real, other, space="genes", n_estimators=trees, seed=seed),
            "rf_auc_pca": rf_auc(real, other, space="pca", n_estimators=trees, seed=seed),
            "mmd_rbf": mmd_rbf(real, other, seed=seed),
            "one_nn_accuracy": one_nn_accuracy(real, other, seed=seed),
            "ilisi": ilisi(real, other, seed=seed),
            "zero_fraction_diff": abs(float(zeros.real.mean() - zeros.generated.mean())),
            "zero_fraction_gap": zeros.mean_abs_diff}


def per_label(real: np.ndarray, real_labels: np.ndarray, other: np.ndarray, other_labels: np.ndarray,
              seed: int, min_cells: int = 5) -> dict[str, dict]:
    """MMD² and zero-fraction gap within every label with at least ``min_cells`` cells on both sides."""
    from scdiffusion.metrics import mmd_rbf, zero_fraction_gap

    out = {}
    for lab in np.unique(real_labels):
        r, o = real[real_labels == lab], other[other_labels == lab]
        if len(r) < min_cells or len(o) < min_cells:
            out[str(lab)] = {"n_real": int(len(r)), "n_other": int(len(o))}
            continue
        out[str(lab)] = {"n_real": int(len(r)), "n_other": int(len(o)),
                         "mmd_rbf": mmd_rbf(r, o, n_comps=min(20, len(r) + len(o) - 1), seed=seed),
                         "zero_fraction_gap": zero_fraction_gap(r, o).mean_abs_diff}
    return out


def summarize(per_seed: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, dict]]:
    """``{row: {column: {"mean", "sd", "values"}}}`` over seeds (rows present in every seed)."""
    rows = [r for r in per_seed[0] if all(r in s for s in per_seed)]
    out = {}
    for r in rows:
        out[r] = {}
        for c in per_seed[0][r]:
            vals = [s[r].get(c) for s in per_seed]
            vals = [float(v) for v in vals if v is not None and np.isfinite(v)]
            out[r][c] = {"mean": float(np.mean(vals)) if vals else None,
                         "sd": float(np.std(vals)) if len(vals) > 1 else None, "values": vals}
    return out


def means(summary: dict[str, dict[str, dict]]) -> dict[str, dict[str, float]]:
    """Only the means of :func:`summarize` (for tables and figures)."""
    return {r: {c: v["mean"] for c, v in cols.items()} for r, cols in summary.items()}


# ---------------------------------------------------------------------------------------------- diagnostics
def gene_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-gene mean, variance and zero fraction of log-normalised values."""
    return {"mean": x.mean(0), "var": x.var(0), "zero": (x <= 0).mean(0)}


def cell_depth_zeros(counts_or_log: np.ndarray, library: np.ndarray, n_bins: int = 5) -> dict:
    """Mean per-cell zero fraction in library-size quintiles (of ``library``)."""
    zeros = (counts_or_log <= 0).mean(1)
    edges = np.quantile(library, np.linspace(0, 1, n_bins + 1))
    idx = np.clip(np.searchsorted(edges, library, side="right") - 1, 0, n_bins - 1)
    return {"library_bin_median": [float(np.median(library[idx == b])) for b in range(n_bins)],
            "zero_fraction": [float(zeros[idx == b].mean()) for b in range(n_bins)],
            "mean_zero_fraction": float(zeros.mean())}


def rf_top_features(real: np.ndarray, other: np.ndarray, genes: list[str], seed: int, n_top: int = 10,
                    trees: int = 300) -> list[dict]:
    """The genes a random forest (depth 5, balanced) uses most to tell ``other`` from ``real``."""
    from sklearn.ensemble import RandomForestClassifier

    x = np.vstack([real, other])
    y = np.r_[np.zeros(len(real), int), np.ones(len(other), int)]
    rf = RandomForestClassifier(n_estimators=trees, max_depth=5, class_weight="balanced", random_state=seed)
    imp = rf.fit(x, y).feature_importances_
    top = np.argsort(-imp)[:n_top]
    return [{"gene": genes[j], "importance": float(imp[j]), "mean_real": float(real[:, j].mean()),
             "mean_other": float(other[:, j].mean()), "zero_real": float((real[:, j] <= 0).mean()),
             "zero_other": float((other[:, j] <= 0).mean())} for j in top]


def diagnostics(real: np.ndarray, real_library: np.ndarray, rows: dict[str, tuple[np.ndarray, np.ndarray]],
                genes: list[str], seed: int, trees: int = 300) -> dict[str, dict]:
    """What separates every row from the real cells.

    ``rows`` maps a row name to ``(log values, library sizes)``. Per row: per-gene log-variance ratio
    (median, and of the 10 % most expressed genes), mean |Δ| of per-gene means and zero fractions, zero
    fraction against library size, gene–gene correlation error and the random forest's top genes.
    """
    from scdiffusion.metrics import gene_correlation_error

    sr = gene_stats(real)
    top = sr["mean"] >= np.quantile(sr["mean"], 0.9)
    out = {"real": {"depth_zeros": cell_depth_zeros(real, real_library)}}
    for name, (x, lib) in rows.items():
        so = gene_stats(x)
        ok = (sr["var"] > 0) & (so["var"] > 0)
        ratio = so["var"][ok] / sr["var"][ok]
        out[name] = {"variance_ratio_median": float(np.median(ratio)),
                     "variance_ratio_top10pct_genes": float(np.median(so["var"][ok & top] / sr["var"][ok & top])),
                     "mean_abs_diff_gene_means": float(np.mean(np.abs(so["mean"] - sr["mean"]))),
                     "mean_abs_diff_zero_fraction": float(np.mean(np.abs(so["zero"] - sr["zero"]))),
                     "zero_fraction_real_minus_row": float(sr["zero"].mean() - so["zero"].mean()),
                     "depth_zeros": cell_depth_zeros(x, lib),
                     "gene_correlation_error": gene_correlation_error(real, x, n_top_genes=100),
                     "rf_top_genes": rf_top_features(real, x, genes, seed, trees=trees)}
    return out
