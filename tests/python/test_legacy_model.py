"""A model directory saved by release 0.1.0 (format version 1) still loads and generates the same cells.

The fixture ``tests/fixtures/legacy_model_v1`` and the cells it generated then were made by
``tests/fixtures/make_legacy_model.py`` at release 0.1.0; this test repeats the same calls now.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
sys.path.insert(0, str(FIXTURES))

from make_legacy_model import CALLS, OUT, start_cells  # noqa: E402

from scdiffusion import ScDiffusion  # noqa: E402


@pytest.fixture(scope="module")
def legacy():
    return ScDiffusion.load(OUT, device="cpu")


@pytest.fixture(scope="module")
def expected():
    return dict(np.load(OUT.with_suffix(".expected.npz")))


def test_legacy_model_loads(legacy):
    assert legacy.is_trained
    assert len(legacy.genes) == 40
    assert set(legacy.registries) == {"cell_type", "tissue"}
    assert legacy.registries["cell_type"].categories == ("type0", "type1", "type2")


@pytest.mark.parametrize("name", list(CALLS))
def test_legacy_model_generates_the_same_cells(legacy, expected, name):
    method, args, kwargs = CALLS[name]
    args = tuple(start_cells() if a == "START_CELLS" else a for a in args)
    if method == "interpolate":  # release 0.1.0 had only Gradient Interpolation; the default is now "auto"
        kwargs = {**kwargs, "method": "gradient"}
    out = getattr(legacy, method)(*args, **kwargs)
    np.testing.assert_allclose(out.obsm["X_scdiffusion"], expected[f"{name}.latent"], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(out.obs["library_size"].to_numpy(), expected[f"{name}.library_size"])
    counts = np.asarray(out.layers["counts"])
    assert counts.shape == expected[f"{name}.counts"].shape
    # identical draws (a float difference in the last bit may, rarely, move one gamma-Poisson draw)
    assert np.mean(counts == expected[f"{name}.counts"]) >= 0.995
