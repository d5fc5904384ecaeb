"""Two-ended interpolation's building blocks (issue 22): spherical blending and optimal-transport pairing."""

import numpy as np
import pytest
import torch

from scdiffusion.diffusion.pairing import ot_pairs, slerp


def _rows(n, d, seed):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_slerp_endpoints_are_exact():
    a, b = _rows(20, 8, 0), _rows(20, 8, 1)
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
    # just inside the ends, the formula itself (not the shortcut) is continuous with the ends
    torch.testing.assert_close(slerp(a, b, 1e-9), a, atol=1e-7, rtol=0)
    torch.testing.assert_close(slerp(a, b, 1 - 1e-9), b, atol=1e-7, rtol=0)


def test_slerp_keeps_the_norm_of_equal_norm_rows_where_linear_shrinks_it():
    a, b = _rows(50, 16, 2), _rows(50, 16, 3)
    a, b = a / a.norm(dim=1, keepdim=True) * 4, b / b.norm(dim=1, keepdim=True) * 4
    for w in (0.25, 0.5, 0.75):
        torch.testing.assert_close(slerp(a, b, w).norm(dim=1), torch.full((50,), 4.0, dtype=torch.float64))
    # orthogonal unit vectors: the midpoint stays on the circle (linear blending would give norm 1/√2)
    e1, e2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    torch.testing.assert_close(slerp(e1, e2, 0.5), torch.tensor([[2 ** -0.5, 2 ** -0.5]]))
    torch.testing.assert_close(slerp(e1, e2, 1 / 3), torch.tensor([[np.cos(np.pi / 6), np.sin(np.pi / 6)]],
                                                                  dtype=torch.float32))


def test_slerp_norm_moves_monotonically_between_unequal_norms():
    a = torch.tensor([[1.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 3.0, 0.0]])
    ws = np.linspace(0, 1, 11)
    norms = [float(slerp(a, b, w).norm()) for w in ws]
    assert norms[0] == pytest.approx(1.0) and norms[-1] == pytest.approx(3.0)
    assert all(n1 < n2 for n1, n2 in zip(norms, norms[1:])), norms
    # orthogonal rows: the coefficients are (cos(wπ/2), sin(wπ/2))
    for w in (0.2, 0.5, 0.8):
        torch.testing.assert_close(slerp(a, b, w), torch.tensor([[np.cos(w * np.pi / 2), 3 * np.sin(w * np.pi / 2),
                                                                  0.0]], dtype=torch.float32))


def test_slerp_falls_back_to_linear_for_parallel_and_zero_rows():
    a = torch.tensor([[1.0, 2.0], [0.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[2.0, 4.0], [3.0, 1.0], [1.0, 1.0 + 1e-9]])
    out = slerp(a, b, 0.5)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, (a + b) / 2)


def test_slerp_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        slerp(torch.zeros(3, 2), torch.zeros(2, 2), 0.5)


def test_ot_pairs_each_point_with_its_shifted_copy():
    """Two clouds that are shifted copies (shift smaller than the spacing): the exact coupling is the
    permutation that pairs each point with its own copy, and every drawn pair is such a pair."""
    rng = np.random.default_rng(0)
    za = torch.from_numpy(rng.normal(size=(30, 4)) * 10)
    perm = rng.permutation(30)
    zb = za[perm] + 0.05  # zb[j] is the copy of za[perm[j]]
    ia, ib = ot_pairs(za, zb, 200, torch.Generator().manual_seed(1))
    assert len(ia) == len(ib) == 200
    np.testing.assert_array_equal(perm[ib], ia)
    assert len(set(ia.tolist())) > 25  # drawn from the whole uniform coupling, not one pair


def test_ot_pairs_is_seeded_and_subsamples_large_sets():
    za, zb = _rows(300, 3, 4), _rows(250, 3, 5) + 1
    a1 = ot_pairs(za, zb, 50, torch.Generator().manual_seed(7), max_points=100)
    a2 = ot_pairs(za, zb, 50, torch.Generator().manual_seed(7), max_points=100)
    a3 = ot_pairs(za, zb, 50, torch.Generator().manual_seed(8), max_points=100)
    for x, y in zip(a1, a2):
        np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(a1, a3))
    ia, ib = a1
    assert ia.max() < 300 and ib.max() < 250 and ia.min() >= 0 and ib.min() >= 0
    # with a 100-point cap per side, only 100 distinct points of each side can appear
    assert len(set(ia.tolist())) <= 100 and len(set(ib.tolist())) <= 100


def test_ot_pairs_of_unequal_sizes_split_the_mass():
    """Two start points and four end points, two near each start point: each start point is paired only
    with its own two neighbours, and all four end points are used."""
    za = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    zb = torch.tensor([[10.1, 0.0], [0.1, 0.0], [-0.1, 0.0], [9.9, 0.0]])
    ia, ib = ot_pairs(za, zb, 400, torch.Generator().manual_seed(0))
    near = {0: {1, 2}, 1: {0, 3}}
    assert all(j in near[i] for i, j in zip(ia.tolist(), ib.tolist()))
    assert set(ib.tolist()) == {0, 1, 2, 3}
