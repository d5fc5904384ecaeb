"""Differential-expression fidelity: fold changes, marker overlap and sign agreement on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from scdiffusion.data.preprocessing import log_normalize
from scdiffusion.metrics.differential_expression import (
    avg_log2_fold_change,
    compare_differential_expression,
    contrast_agreement,
    fold_change_table,
)


def labelled_counts(n_per_label: int = 40, n_genes: int = 120, seed: int = 0):
    """Three labels, each over-expressing its own block of 20 genes 6-fold; NB counts."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b", "c"], n_per_label)
    mu = np.tile(np.random.default_rng(99).gamma(1.0, 3.0, n_genes), (labels.size, 1))
    for i, lab in enumerate("abc"):
        mu[labels == lab, i * 20:(i + 1) * 20] *= 6.0
    counts = rng.negative_binomial(4, 4 / (4 + mu)).astype(np.float32)
    return log_normalize(counts, 1e4), labels


def test_avg_log2_fold_change_hand_value():
    x = np.log1p(np.array([[3.0, 0.0], [3.0, 0.0], [1.0, 1.0], [1.0, 1.0]]))
    lfc = avg_log2_fold_change(x, np.array([True, True, False, False]), np.array([False, False, True, True]))
    np.testing.assert_allclose(lfc, [np.log2(4) - np.log2(2), np.log2(1) - np.log2(2)])  # [1, -1]


def test_contrast_agreement_hand_cases():
    lfc = np.array([3.0, 2.0, 1.0, -1.0, -2.0])
    score = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    padj = np.array([0.001, 0.01, 0.2, 0.01, 0.001])
    real = {"lfc": lfc, "score": score, "pval_adj": padj}
    same = contrast_agreement(real, {"lfc": lfc.copy(), "score": score.copy(), "pval_adj": padj}, top_k=(2,))
    assert same == {"lfc_correlation": pytest.approx(1.0), "top2_recall": 1.0, "top2_jaccard": 1.0,
                    "n_real_de_genes": 4, "sign_agreement": 1.0}
    flipped = contrast_agreement(real, {"lfc": -lfc, "score": score[::-1].copy(), "pval_adj": padj}, top_k=(2,))
    assert flipped["lfc_correlation"] == pytest.approx(-1.0)
    assert flipped["sign_agreement"] == 0.0 and flipped["top2_recall"] == 0.0
    # generated top-2 = genes {0, 2}; real top-2 = {0, 1}: one shared -> recall 1/2, Jaccard 1/3
    half = contrast_agreement(real, {"lfc": lfc, "score": np.array([5.0, 0.0, 4.0, 1.0, 2.0]), "pval_adj": padj},
                              top_k=(2,))
    assert half["top2_recall"] == 0.5 and half["top2_jaccard"] == pytest.approx(1 / 3)
    none = contrast_agreement(real | {"pval_adj": np.ones(5)}, real, top_k=(2,))
    assert none["sign_agreement"] is None and none["n_real_de_genes"] == 0


def test_identical_cells_reproduce_every_de_result():
    x, y = labelled_counts()
    res = compare_differential_expression(x, x.copy(), y, y.copy(), top_k=(20,), pairs=[("a", "b")])
    assert set(res) == {"lfc_correlation", "top20_recall", "sign_agreement"}
    for name, entry in res.items():
        assert entry["value"] == pytest.approx(1.0), name
        assert set(entry["per_label"]) == {"a", "b", "c"}
        assert entry["per_pair"]["a vs b"][name] == pytest.approx(1.0)
    assert res["top20_recall"]["jaccard"] == pytest.approx(1.0)
    assert res["top20_recall"]["per_label"]["a"]["n_real_de_genes"] > 10


def test_shuffled_labels_lose_the_de_signal_but_a_fresh_sample_keeps_it():
    x, y = labelled_counts(seed=0)
    x2, y2 = labelled_counts(seed=1)
    fresh = compare_differential_expression(x, x2, y, y2, top_k=(20,))
    shuffled = compare_differential_expression(x, x2, y, np.random.default_rng(0).permutation(y2), top_k=(20,))
    assert fresh["lfc_correlation"]["value"] > 0.8 and fresh["top20_recall"]["value"] > 0.6
    assert shuffled["lfc_correlation"]["value"] < 0.3 and shuffled["top20_recall"]["value"] < 0.3
    assert fresh["sign_agreement"]["value"] > 0.9 > shuffled["sign_agreement"]["value"]


def test_de_errors_say_what_to_do():
    x, y = labelled_counts(10)
    with pytest.raises(ValueError, match="at least two labels"):
        compare_differential_expression(x, x, y, y, min_cells=20)
    with pytest.raises(ValueError, match="pairs"):
        compare_differential_expression(x, x, y, y, pairs=[("a", "zzz")])


def _lfc_by_hand(x_log, labels, label):
    """log2 fold change of the mean expression (counts scale, + 1) of ``label`` against the rest, in float64."""
    e = np.expm1(x_log.astype(np.float64))
    return np.log2(e[labels == label].mean(0) + 1) - np.log2(e[labels != label].mean(0) + 1)


def test_fold_change_table():
    """Real and generated sides are two different samples: each column is that side's own fold change (label vs
    rest), computed here independently, and the over-expressed block shows up on both."""
    x, y = labelled_counts(12, 60, seed=0)
    x2, y2 = labelled_counts(15, 60, seed=1)
    genes = [f"g{i}" for i in range(60)]
    tab = fold_change_table(x, x2, y, y2, gene_names=genes)
    assert list(tab.columns) == ["label", "gene", "lfc_real", "lfc_generated"] and len(tab) == 180
    for i, label in enumerate("abc"):
        t = tab[tab["label"] == label]
        assert list(t["gene"]) == genes
        np.testing.assert_allclose(t["lfc_real"], _lfc_by_hand(x, y, label), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(t["lfc_generated"], _lfc_by_hand(x2, y2, label), rtol=1e-4, atol=1e-5)
        block = slice(i * 20, (i + 1) * 20)  # 6-fold over-expressed: log2 fold change well above 1 on both sides
        assert t["lfc_real"].to_numpy()[block].mean() > 1.5 and t["lfc_generated"].to_numpy()[block].mean() > 1.5
    assert not np.allclose(tab["lfc_real"], tab["lfc_generated"])  # two samples, not one value twice
    assert fold_change_table(x, x2, y, y2, min_cells=50).empty
