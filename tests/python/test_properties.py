"""Property-based checks (hypothesis) of input validation and preprocessing."""

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scdiffusion.data import InputError, LabelRegistry, Preprocessor, check_counts_matrix

counts = arrays(np.float32, st.tuples(st.integers(4, 30), st.integers(3, 20)),
                elements=st.integers(0, 50).map(float))
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(x=counts, sparse=st.booleans())
def test_valid_counts_never_raise_and_normalise_to_target_sum(x, sparse):
    x[:, 0] = 0
    x[:, 1:] += 1  # every cell and gene has counts
    a = ad.AnnData(sp.csr_matrix(x) if sparse else x)
    p = Preprocessor(min_cells=1, min_counts=1)
    out, mask = p.fit_transform(a)
    assert out.dtype == np.float32 and np.all(out >= 0)
    np.testing.assert_allclose(np.expm1(out.astype(np.float64)).sum(1), 1e4, rtol=1e-3)
    # the genes kept are exactly those detected in >= min_cells cells: all but the empty gene 0, in order
    assert p.genes == [str(j) for j in range(1, x.shape[1])] and out.shape == (x.shape[0], x.shape[1] - 1)
    assert mask.all()  # every cell has >= min_counts counts


@SETTINGS
@given(x=counts, bad=st.sampled_from([np.nan, np.inf, -1.0, 0.5, 2.25]), data=st.data())
def test_any_bad_value_anywhere_is_refused(x, bad, data):
    i = data.draw(st.integers(0, x.shape[0] - 1))
    j = data.draw(st.integers(0, x.shape[1] - 1))
    x[i, j] = bad
    for m in (x, sp.csr_matrix(x)):
        with pytest.raises(InputError):
            check_counts_matrix(m)


@SETTINGS
@given(labels=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=30))
def test_registry_round_trips_any_labels(labels):
    import pandas as pd

    reg = LabelRegistry.from_labels("k", pd.Series(labels))
    assert reg.to_labels(reg.to_ids(labels)) == labels
    assert LabelRegistry.from_dict(reg.to_dict()) == reg
