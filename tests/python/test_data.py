"""The data layer: validation errors that say how to fix them, preprocessing, label registries."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import make_counts
from scdiffusion.data import InputError, LabelRegistry, Preprocessor, check_label_column, pseudo_counts
from scdiffusion.data.io import write_h5ad_atomic


def _adata(x, **obs):
    return ad.AnnData(np.asarray(x, dtype=np.float32), obs=pd.DataFrame(obs, index=[f"c{i}" for i in range(len(x))]))


@pytest.mark.parametrize("x, match", [
    (np.array([[1.5, 2.0], [3.0, 4.0]]), "non-integer"),
    (np.array([[-1.0, 2.0], [3.0, 4.0]]), "negative"),
    (np.array([[np.nan, 2.0], [3.0, 4.0]]), "NaN"),
    (np.array([[np.inf, 2.0], [3.0, 4.0]]), "infinite"),
    (np.zeros((0, 3)), "empty"),
])
def test_bad_counts_are_refused_with_a_fix(x, match):
    with pytest.raises(InputError, match=match):
        Preprocessor().fit_transform(ad.AnnData(x.astype(np.float32)))


def test_log_normalised_input_is_detected():
    x = np.log1p(make_counts().X)
    with pytest.raises(InputError, match="log-normalised"):
        Preprocessor().fit_transform(ad.AnnData(x))


def test_missing_layer_names_available_layers():
    a = make_counts()
    a.layers["counts"] = a.X.copy()
    with pytest.raises(InputError, match="Available layers: counts"):
        Preprocessor().fit_transform(a, layer="raw")


def test_duplicated_genes_are_refused():
    a = make_counts()
    a.var_names = ["g"] * a.n_vars
    with pytest.raises(InputError, match="var_names_make_unique"):
        Preprocessor().fit_transform(a)


def test_filtering_matches_the_paper():
    a = make_counts(n_cells=60)
    x = a.X.copy()
    x[:, 0] = 0
    x[:2, 0] = 5  # gene 0 in 2 cells: dropped (needs >= 3)
    x[5] = 0
    x[5, 1] = 3  # cell 5 with 3 counts: dropped (needs >= 10)
    a.X = x
    p = Preprocessor()
    out, mask = p.fit_transform(a)
    assert "gene0" not in p.genes and len(p.genes) == a.n_vars - 1
    assert not mask[5] and mask.sum() == 59
    np.testing.assert_allclose(np.expm1(out).sum(1), 1e4, rtol=1e-4)


def test_sparse_with_explicit_zeros_and_unsorted_indices_works():
    a = make_counts(n_cells=30)
    dense = a.X.copy()
    m = sp.csr_matrix(dense)
    # reverse index order within rows and add explicit zeros
    rows = []
    for i in range(m.shape[0]):
        s, e = m.indptr[i], m.indptr[i + 1]
        rows.append((m.indices[s:e][::-1], m.data[s:e][::-1]))
    indices = np.concatenate([np.r_[r[0], 0] for r in rows])
    data = np.concatenate([np.r_[r[1], 0.0] for r in rows])
    indptr = np.r_[0, np.cumsum([len(r[0]) + 1 for r in rows])]
    weird = sp.csr_matrix((data, indices, indptr), shape=m.shape)
    assert not weird.has_sorted_indices
    x1, _ = Preprocessor().fit_transform(ad.AnnData(dense, obs=a.obs, var=a.var))
    x2, _ = Preprocessor().fit_transform(ad.AnnData(weird, obs=a.obs, var=a.var))
    np.testing.assert_allclose(x1, x2, rtol=1e-6)


def test_transform_requires_the_model_genes():
    a = make_counts()
    p = Preprocessor()
    p.fit_transform(a)
    with pytest.raises(InputError, match="missing from the data"):
        p.transform(a[:, 5:].copy())
    # extra genes and another gene order are fine
    shuffled = a[:, ::-1].copy()
    np.testing.assert_allclose(p.transform(shuffled), p.transform(a), rtol=1e-6)


@pytest.mark.parametrize("obs, key, match", [
    ({"ct": ["a"] * 10}, "ct", "single label"),
    ({"ct": ["a"] * 5 + ["b"] * 4 + [None]}, "ct", "missing values"),
    ({"ct": ["a"] * 8 + ["b"] * 2}, "ct", "fewer than 5 cells"),
    ({"ct": ["a"] * 10}, "cell_type", "not in adata.obs"),
])
def test_label_column_errors(obs, key, match):
    with pytest.raises(InputError, match=match):
        check_label_column(pd.DataFrame(obs), key)


def test_registry_keeps_category_order_and_round_trips():
    s = pd.Series(pd.Categorical(["z", "a", "z"], categories=["z", "a", "unused"]))
    reg = LabelRegistry.from_labels("ct", s)
    assert reg.categories == ("z", "a")
    assert list(reg.to_ids(["a", "z"])) == [1, 0]
    assert LabelRegistry.from_dict(reg.to_dict()) == reg
    with pytest.raises(InputError, match="Known labels"):
        reg.to_id("b")


def test_pseudo_counts_keep_relative_expression():
    fpkm = np.array([[10.0, 30.0, 0.0], [1.0, 1.0, 2.0]])
    pc = pseudo_counts(fpkm)
    np.testing.assert_allclose(pc, [[2500, 7500, 0], [2500, 2500, 5000]])
    np.testing.assert_allclose(pseudo_counts(sp.csr_matrix(fpkm)).toarray(), pc)


def test_atomic_write_refuses_to_overwrite(tmp_path):
    a = make_counts(n_cells=10)
    out = tmp_path / "x.h5ad"
    write_h5ad_atomic(a, out)
    before = out.read_bytes()
    with pytest.raises(InputError, match="already exists"):
        write_h5ad_atomic(a[:5].copy(), out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.h5ad"]
