"""mixed_neighbourhoods: cells between real cell types are counted, real held-out cells are not (real PBMCs)."""

from __future__ import annotations

import numpy as np
import pytest

from scdiffusion.errors import InputError
from scdiffusion.metrics import mixed_neighbourhoods


@pytest.fixture(scope="module")
def pbmc_split():
    """scanpy's 700 PBMCs (log-normalised raw values), 80/20 split; labels ``bulk_labels``."""
    import scanpy as sc

    a = sc.datasets.pbmc68k_reduced()
    x = np.asarray(a.raw.X.toarray() if hasattr(a.raw.X, "toarray") else a.raw.X, dtype=np.float64)
    labels = a.obs["bulk_labels"].astype(str).to_numpy()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    test, train = order[:140], order[140:]
    return x[train], labels[train], x[test], labels[test]


def test_blends_of_two_types_are_mixed_and_real_held_out_cells_are_not(pbmc_split):
    x_train, lab_train, x_test, lab_test = pbmc_split
    real = mixed_neighbourhoods(x_train, lab_train, x_test, seed=0)
    # blends: the mean of a CD14+ monocyte and a CD56+ NK cell, the smearing the measure is for
    rng = np.random.default_rng(1)
    mono = x_test[lab_test == "CD14+ Monocyte"]
    nk = x_test[lab_test == "CD56+ NK"]
    assert len(mono) >= 5 and len(nk) >= 5
    blends = 0.5 * mono[rng.integers(0, len(mono), 100)] + 0.5 * nk[rng.integers(0, len(nk), 100)]
    smeared = mixed_neighbourhoods(x_train, lab_train, blends, seed=0)
    assert smeared.fraction_mixed > real.fraction_mixed + 0.3, (smeared.fraction_mixed, real.fraction_mixed)
    # each cell's share is of n_neighbors neighbours; the fraction is the share below purity
    assert real.purity.shape == (140,) and np.all((real.purity > 0) & (real.purity <= 1))
    assert np.allclose(real.purity * 15, np.round(real.purity * 15))
    assert real.fraction_mixed == pytest.approx(np.mean(real.purity < 0.8))
    # a reference cell scored against its own reference sits at distance 0 from itself
    own = mixed_neighbourhoods(x_train, lab_train, x_train[:20], seed=0)
    np.testing.assert_allclose(own.nearest_distance, 0.0, atol=1e-6)
    assert smeared.median_nearest_distance > 0


def test_purity_threshold_and_neighbours(pbmc_split):
    x_train, lab_train, x_test, _ = pbmc_split
    strict = mixed_neighbourhoods(x_train, lab_train, x_test, purity=1.0, seed=0)
    loose = mixed_neighbourhoods(x_train, lab_train, x_test, purity=0.5, seed=0)
    assert strict.fraction_mixed >= loose.fraction_mixed
    one = mixed_neighbourhoods(x_train, lab_train, x_test, n_neighbors=1, seed=0)
    assert one.fraction_mixed == 0.0  # a single neighbour always agrees with itself


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cells": np.zeros((0, 5))}, "cells is empty"),
    ({"cells": np.full((3, 5), np.nan)}, "NaN/inf values. Remove or impute"),
    ({"cells": np.zeros((3, 4))}, "same genes"),
    ({"reference_labels": ["a"] * 7}, "one label per cell"),
    ({"n_neighbors": 50}, "n_neighbors must be between 1"),
    ({"purity": 0.0}, "purity must be in"),
])
def test_bad_inputs_say_how_to_fix(kwargs, message):
    rng = np.random.default_rng(0)
    args = {"reference": rng.random((30, 5)), "reference_labels": ["a"] * 15 + ["b"] * 15,
            "cells": rng.random((3, 5)), **kwargs}
    with pytest.raises(InputError, match=message):
        mixed_neighbourhoods(**args)
