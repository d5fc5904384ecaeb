"""Odd but valid sparse counts must work: a scipy CSR matrix with explicitly stored zeros and unsorted
column indices within rows trains, encodes and generates exactly as the dense matrix it stands for."""

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion

STEPS = {"autoencoder": {"max_steps": 10}, "diffusion": {"max_steps": 10}, "classifier": {"max_steps": 10}}


def _odd_csr(dense: np.ndarray) -> sp.csr_matrix:
    """The CSR form of ``dense`` with reversed (unsorted) indices in every row and an explicit zero per row."""
    m = sp.csr_matrix(dense)
    indices, data, indptr = [], [], [0]
    for i in range(m.shape[0]):
        s, e = m.indptr[i], m.indptr[i + 1]
        zero_col = int(np.flatnonzero(dense[i] == 0)[0])  # a column with no count in this row
        indices.append(np.r_[m.indices[s:e][::-1], zero_col])
        data.append(np.r_[m.data[s:e][::-1], 0.0])
        indptr.append(indptr[-1] + e - s + 1)
    out = sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=m.shape)
    return out


@pytest.fixture(scope="module")
def dense_and_odd():
    a = make_counts(n_cells=90, n_genes=30)
    dense = np.asarray(a.X)
    odd = _odd_csr(dense)
    # the matrix really is odd, and stands for the same values
    assert not odd.has_sorted_indices
    assert np.sum(odd.data == 0) == odd.shape[0]
    np.testing.assert_array_equal(odd.toarray(), dense)
    return ad.AnnData(dense, obs=a.obs, var=a.var), ad.AnnData(odd, obs=a.obs, var=a.var)


def _train(adata):
    m = ScDiffusion(adata, labels_keys=["cell_type"], device="cpu", seed=3, **SMALL_ARCH)
    m.train(progress=False, **STEPS)
    return m


def test_odd_sparse_counts_train_encode_and_generate_like_dense(dense_and_odd):
    dense, odd = dense_and_odd
    odd_before = odd.X.copy()
    m_dense, m_odd = _train(dense), _train(odd)
    assert m_odd.genes == m_dense.genes
    np.testing.assert_array_equal(m_odd.data.x.numpy(), m_dense.data.x.numpy())  # the training matrix
    for k in ("autoencoder", "diffusion"):
        assert m_odd.history[k]["train_loss"] == pytest.approx(m_dense.history[k]["train_loss"], rel=1e-5)
    # encoding: the odd matrix gives the latents of the dense one, with either model
    z = m_dense.get_latent_representation(dense)
    np.testing.assert_allclose(m_dense.get_latent_representation(odd), z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m_odd.get_latent_representation(dense), z, rtol=1e-5, atol=1e-6)
    g1 = m_dense.generate(5, {"cell_type": "type1"}, n_steps=5, seed=1)
    g2 = m_odd.generate(5, {"cell_type": "type1"}, n_steps=5, seed=1)
    np.testing.assert_allclose(np.asarray(g2.X), np.asarray(g1.X), rtol=1e-4, atol=1e-5)
    # the caller's matrix is not sorted or cleaned in place
    assert not odd.X.has_sorted_indices
    assert (odd.X.indices == odd_before.indices).all() and (odd.X.data == odd_before.data).all()
