"""Exact Wasserstein distances, PRDC and the real-PCA protocol on hand-computable point sets."""

from __future__ import annotations

import numpy as np
import pytest

from scdiffusion.errors import InputError
from scdiffusion.metrics.classifier_auc import auc_null_sd
from scdiffusion.metrics.energy import energy_distance
from scdiffusion.metrics.mmd import mmd_rbf_embedded
from scdiffusion.metrics.optimal_transport import wasserstein_distance
from scdiffusion.metrics.pca_distances import PCA_DISTANCES, pca_distances
from scdiffusion.metrics.prdc import prdc


def test_wasserstein_hand_cases():
    col = lambda *v: np.array(v, dtype=float)[:, None]  # noqa: E731
    assert wasserstein_distance(col(0, 1), col(2, 3), p=1) == pytest.approx(2.0)
    assert wasserstein_distance(col(0, 1), col(2, 3), p=2) == pytest.approx(2.0)
    # half of the mass moves by 2: W1 = 1, W2 = sqrt(0.5 * 4)
    assert wasserstein_distance(col(0, 0), col(0, 2), p=1) == pytest.approx(1.0)
    assert wasserstein_distance(col(0, 0), col(0, 2), p=2) == pytest.approx(np.sqrt(2.0))
    assert wasserstein_distance(col(0), col(0, 2), p=1) == pytest.approx(1.0)  # unequal sizes
    assert wasserstein_distance(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), p=1) == pytest.approx(5.0)
    x = np.random.default_rng(0).normal(size=(50, 3))
    assert wasserstein_distance(x, x[::-1].copy(), p=2) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="dimensions"):
        wasserstein_distance(x, x[:, :2])


def test_prdc_hand_case():
    """Real points 0..3 (k = 1: every radius 1); generated 0.5 and 10."""
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    gen = np.array([[0.5], [10.0]])
    res = prdc(real, gen, k=1)
    assert res.precision == 0.5  # 0.5 lies in the balls of 0 and 1; 10 in none
    assert res.density == 1.0  # (2 balls + 0 balls) / (k * 2 generated points)
    assert res.coverage == 0.5  # real 0 and 1 have a generated point within 1
    assert res.recall == 1.0  # generated radii are 9.5: every real point is inside
    with pytest.raises(ValueError, match="more than 5"):
        prdc(real, gen)


def test_pca_distances_identical_and_shifted():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 30))
    labels = np.repeat(["a", "b"], 60)
    same = pca_distances(x, x.copy(), labels, labels, n_comps=10)
    assert set(same) == set(PCA_DISTANCES)
    for name in ("wasserstein1", "wasserstein2", "mmd_rbf_per_label", "energy_distance"):
        assert same[name]["value"] == pytest.approx(0.0, abs=1e-9)
        assert set(same[name]["per_label"]) == {"a", "b"}
    assert same["precision"]["value"] == same["recall"]["value"] == same["coverage"]["value"] == 1.0
    shifted = pca_distances(x, x + 3.0, labels, labels, n_comps=10)
    assert shifted["wasserstein1"]["value"] > 5 and shifted["coverage"]["value"] < 0.1
    assert shifted["precision"]["value"] < 0.1 and shifted["mmd_rbf_per_label"]["value"] > 0.5
    assert shifted["energy_distance"]["value"] > 5


def test_mmd_embedded_zero_for_identical():
    z = np.random.default_rng(1).normal(size=(40, 5))
    assert mmd_rbf_embedded(z, z.copy()) == pytest.approx(0.0, abs=1e-12)
    assert mmd_rbf_embedded(z, z + 5) > 1.0


def test_auc_null_sd():
    assert auc_null_sd(1, 1) == pytest.approx(0.5)  # AUC is 0 or 1 with equal chance
    assert auc_null_sd(100, 100) == pytest.approx(np.sqrt(201 / 120000))
    rng = np.random.default_rng(0)
    from sklearn.metrics import roc_auc_score

    aucs = [roc_auc_score(np.r_[np.zeros(30), np.ones(20)], rng.normal(size=50)) for _ in range(2000)]
    assert np.std(aucs) == pytest.approx(auc_null_sd(20, 30), rel=0.1)


def test_energy_distance_hand_case_and_inputs():
    col = lambda *v: np.array(v, dtype=float)[:, None]  # noqa: E731
    # 2 * mean|x - y| - mean|x - x'| - mean|y - y'| = 2 * 2 - 1 - 1
    assert energy_distance(col(0, 1), col(2, 3)) == pytest.approx(2.0)
    # unbiased (U-statistic): within-sample means leave out self-distances, so the same two points give
    # 2 * 0.5 - 1 - 1 = -1, not 0 (the expectation over fresh samples of one distribution is 0)
    assert energy_distance(col(0, 1), col(1, 0)) == pytest.approx(-1.0)
    # biased (V-statistic): self-pairs count, within means 1 * 2/4 = 0.5 each: 2 * 0.5 - 0.5 - 0.5 = 0
    assert energy_distance(col(0, 1), col(1, 0), unbiased=False) == pytest.approx(0.0)
    assert energy_distance(col(0, 1), col(2, 3), unbiased=False) == pytest.approx(3.0)  # 4 - 0.5 - 0.5
    with pytest.raises(InputError, match="same dimensions"):
        energy_distance(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(InputError, match="at least 2 points"):
        energy_distance(np.zeros((1, 2)), np.zeros((3, 2)))
    with pytest.raises(InputError, match="NaN"):
        energy_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))


def test_energy_distance_charges_for_shrinkage_where_w1_rewards_it():
    """40 points in 50 dimensions: a second sample of the reference's distribution pulled 30 % to its mean is
    closer than an unmodified sample by empirical W1, farther by the energy distance (which is ~0 for the
    unmodified one)."""
    rng = np.random.default_rng(0)
    w1, energy = {"fresh": [], "shrunk": []}, {"fresh": [], "shrunk": []}
    for _ in range(5):
        ref, other = rng.normal(size=(40, 50)), rng.normal(size=(40, 50))
        for name, x in (("fresh", other), ("shrunk", 0.7 * other + 0.3 * other.mean(0))):
            w1[name].append(wasserstein_distance(ref, x, p=1))
            energy[name].append(energy_distance(ref, x))
    assert np.mean(w1["shrunk"]) < np.mean(w1["fresh"])
    assert np.mean(energy["shrunk"]) > np.mean(energy["fresh"]) + 0.15  # 0.32 vs 0.00, sd ~0.03
    assert abs(np.mean(energy["fresh"])) < 0.3
