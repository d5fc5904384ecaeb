"""Count-level properties (SimBench): two-sample statistics, TMM, per-cell/per-gene statistics, hand-checked."""

from __future__ import annotations

import numpy as np
import pytest

from scdiffusion.metrics.count_properties import (
    COUNT_PROPERTIES,
    cell_statistics,
    compare_count_properties,
    correlation_values,
    gene_statistics,
    log2_cpm,
    statistics_table,
)
from scdiffusion.metrics.tmm import tmm_factors
from scdiffusion.metrics.two_sample import kde_statistic, ks_statistic


def nb_counts(n_cells: int, n_genes: int = 80, seed: int = 0, base_seed: int = 0, scale: float = 1.0):
    """Negative-binomial counts whose gene means are fixed by ``base_seed``, the draws by ``seed``."""
    mu = np.random.default_rng(base_seed).gamma(0.6, 4.0, n_genes) * scale
    rng = np.random.default_rng(seed)
    lib = rng.lognormal(0.0, 0.3, (n_cells, 1))
    return rng.negative_binomial(3, 3 / (3 + mu * lib)).astype(np.float32)


# --------------------------------------------------------------------------- two-sample statistics
def test_ks_statistic_hand_cases():
    assert ks_statistic([1, 2, 3], [1, 2, 3]) == 0.0
    assert ks_statistic([1, 2, 3], [2, 3, 4]) == pytest.approx(1 / 3)  # F_x(1) - F_y(1) = 1/3
    assert ks_statistic([0, 1], [5, 6]) == 1.0
    assert ks_statistic([0, 1, np.nan], [0, 1]) == 0.0  # non-finite values are dropped
    assert np.isnan(ks_statistic([], [1.0]))


def test_kde_statistic_closed_form_and_ordering():
    # one point each at 0 and d: sd(x) = 0 -> pooled sd d/2 -> standardised 0 and 2; Scott h = 1 (n = 1),
    # kernel variance 2: T = (1 + 1 - 2 exp(-4 / 4)) / sqrt(4 pi)
    expected = (2 - 2 / np.e) / np.sqrt(4 * np.pi)
    assert kde_statistic([0.0], [3.0]) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    assert kde_statistic(x, x.copy()) == pytest.approx(0.0, abs=1e-12)
    near, far = kde_statistic(x, x + 0.2), kde_statistic(x, x + 2.0)
    assert 0 < near < far
    xy = rng.normal(size=(300, 2))
    assert kde_statistic(xy, xy + [0.0, 1.0]) > 5 * kde_statistic(xy, rng.normal(size=(300, 2)))
    with pytest.raises(ValueError, match="dimensions"):
        kde_statistic(xy, x)


# --------------------------------------------------------------------------- TMM
def test_tmm_hand_computed_composition_case():
    """Cell 2 = 2 x cell 1 except one gene with 100,000 counts: trimming drops that gene, so the raw factor is
    2^M with M = log2(2 N1 / N2), and after rescaling to geometric mean 1 the factors are sqrt(N2 / (2 N1))
    and its inverse (edgeR 3.40.2 calcNormFactors gives 9.577435602878 and 0.104412082886)."""
    c1 = np.array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], dtype=float)
    c2 = 2 * c1
    c2[-1] = 100_000
    f = tmm_factors(np.vstack([c1, c2]))
    n1, n2 = c1.sum(), c2.sum()
    np.testing.assert_allclose(f, [np.sqrt(n2 / (2 * n1)), np.sqrt(2 * n1 / n2)], rtol=1e-10)
    np.testing.assert_allclose(f, [9.577435602878, 0.104412082886], rtol=1e-10)


def test_tmm_matches_edger_on_a_sparse_matrix():
    """Reference values: edgeR 3.40.2, calcNormFactors(t(x), method = "TMM")."""
    x = np.array([[10, 20, 30, 0, 5], [20, 40, 60, 0, 500], [1, 0, 3, 4, 0], [7, 7, 7, 7, 7]], dtype=float)
    np.testing.assert_allclose(tmm_factors(x), [1.186717552219, 0.412638269462, 1.967639024525,
                                                1.037857440767], rtol=1e-9)


def test_tmm_of_proportional_cells_is_one_and_empty_cells_get_nan():
    x = np.array([[1, 2, 3, 4], [2, 4, 6, 8], [0, 0, 0, 0], [3, 6, 9, 12]], dtype=float)
    f = tmm_factors(x)
    np.testing.assert_allclose(f[[0, 1, 3]], 1.0)
    assert np.isnan(f[2])


# --------------------------------------------------------------------------- per-cell / per-gene statistics
def test_cell_statistics_hand_values():
    x = np.array([[1, 0, 3], [2, 4, 6], [0, 0, 5]], dtype=float)
    cs = cell_statistics(x)
    np.testing.assert_array_equal(cs["library_size"], [4, 12, 5])
    np.testing.assert_allclose(cs["zero_fraction"], [1 / 3, 0, 2 / 3])
    np.testing.assert_allclose(cs["effective_library_size"], cs["library_size"] * cs["tmm_factor"])
    np.testing.assert_allclose(np.exp(np.mean(np.log(cs["tmm_factor"]))), 1.0)


def test_gene_statistics_hand_values():
    x = np.array([[1, 0], [0, 1]], dtype=float)  # each cell has all its counts in one gene
    gs = gene_statistics(x)
    top = np.log2(1e6 + 1)
    np.testing.assert_allclose(log2_cpm(x), [[top, 0], [0, top]])
    np.testing.assert_allclose(gs["mean_log2cpm"], [top / 2, top / 2])
    np.testing.assert_allclose(gs["variance_log2cpm"], [top ** 2 / 2, top ** 2 / 2])  # ddof = 1
    np.testing.assert_allclose(gs["zero_fraction"], [0.5, 0.5])
    np.testing.assert_allclose(gs["scaled_variance_log2cpm"], [0.0, 0.0])  # one bin, no spread
    with pytest.raises(ValueError, match="two cells"):
        gene_statistics(x[:1])


def test_scaled_variance_is_a_z_score_within_a_bin():
    x = nb_counts(200, 60)
    gs = gene_statistics(x, n_bins=1)
    v = gs["variance_log2cpm"].to_numpy()
    np.testing.assert_allclose(gs["scaled_variance_log2cpm"], (v - v.mean()) / v.std(ddof=1))


def test_correlation_values():
    x = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 9.0], [4.0, 3.0, 2.0, 1.0]])
    cells = correlation_values(x, np.arange(4), "cells")
    np.testing.assert_allclose(cells, [1.0, -1.0, -1.0])  # pairs (0,1), (0,2), (1,2) of Spearman rho
    genes = correlation_values(x, np.array([0, 3]), "genes")
    assert genes.shape == (1,) and -1 <= genes[0] <= 1
    with pytest.raises(ValueError, match="cells' or 'genes"):
        correlation_values(x, np.arange(4), "both")


# --------------------------------------------------------------------------- comparisons
def test_identical_counts_give_zero_for_every_property():
    x = nb_counts(150)
    res = compare_count_properties(x, x.copy(), n_top_genes=40)
    assert set(res) == set(COUNT_PROPERTIES)
    for name, entry in res.items():
        assert entry["value"] == pytest.approx(0.0, abs=1e-12), name
        if "kde" in entry:
            assert entry["kde"] == pytest.approx(0.0, abs=1e-12), name


def test_shifted_library_sizes_are_detected_and_normalised_properties_are_not():
    x = nb_counts(300, seed=1)
    y = x * 5  # every cell 5x deeper: library sizes disjoint, proportions unchanged
    res = compare_count_properties(x, y, n_top_genes=40)
    assert res["library_size"]["value"] > 0.9
    assert res["effective_library_size"]["value"] > 0.9
    # TMM is scale-free (up to rounding, which can move a single cell across a trimming bound)
    np.testing.assert_allclose(cell_statistics(x)["tmm_factor"], cell_statistics(y)["tmm_factor"], rtol=1e-3)
    assert res["tmm_factor"]["value"] <= 1 / 300 + 1e-12
    assert res["cell_zero_fraction"]["value"] == 0.0
    assert res["gene_zero_fraction"]["value"] == 0.0
    assert res["cell_correlation"]["value"] == pytest.approx(0.0, abs=1e-12)  # ranks unchanged


def test_same_distribution_scores_below_a_different_one():
    a, b = nb_counts(300, seed=1), nb_counts(300, seed=2)
    other = nb_counts(300, seed=3, scale=3.0)  # deeper cells with fewer zeros
    same = compare_count_properties(a, b, n_top_genes=40, kde=False)
    diff = compare_count_properties(a, other, n_top_genes=40, kde=False)
    for name in ("library_size", "cell_zero_fraction", "gene_zero_fraction", "gene_mean",
                 "library_size_vs_zero_fraction", "mean_vs_zero_fraction"):
        assert diff[name]["value"] > 3 * same[name]["value"], name
    assert "kde" not in same["library_size"]


def test_per_label_weights_and_skipped_labels():
    a, b = nb_counts(60, seed=1), nb_counts(60, seed=2)
    la = np.array(["x"] * 40 + ["y"] * 15 + ["z"] * 5)
    lb = np.array(["x"] * 30 + ["y"] * 30)
    res = compare_count_properties(a, b, la, lb, min_cells=10, n_top_genes=20, kde=False)
    per = res["library_size"]["per_label"]
    assert set(per) == {"x", "y"} and set(res["library_size"]["skipped_labels"]) == {"z"}
    assert per["x"]["weight"] == pytest.approx(40 / 55) and per["y"]["weight"] == pytest.approx(15 / 55)
    expected = per["x"]["weight"] * per["x"]["value"] + per["y"]["weight"] * per["y"]["value"]
    assert res["library_size"]["value"] == pytest.approx(expected)
    only = compare_count_properties(a, b, la, lb, min_cells=3, n_top_genes=20, kde=False, labels_to_score=["y"])
    assert set(only["gene_mean"]["per_label"]) == {"y"}
    with pytest.raises(ValueError, match="min_cells"):
        compare_count_properties(a, b, la, lb, min_cells=50)


def test_statistics_table_is_long_format():
    a, b = nb_counts(20, 30, seed=1), nb_counts(25, 30, seed=2)
    cells, genes = statistics_table(a, b)
    assert list(cells["source"].value_counts().sort_index()) == [25, 20]  # generated, real
    assert len(genes) == 60 and set(genes["gene"]) == set(range(30))
    assert {"library_size", "tmm_factor", "effective_library_size", "zero_fraction"} <= set(cells.columns)
