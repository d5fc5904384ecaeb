"""Count-level decoder: NB / ZINB likelihoods against scipy, integer output, library sizes."""

import numpy as np
import pytest
import torch
from scipy import stats

from conftest import SMALL_ARCH, SMALL_TRAIN
from scdiffusion import ScDiffusion
from scdiffusion.nn.likelihood import NBLikelihood, ZINBLikelihood, nb_log_prob, zinb_log_prob


def test_nb_log_prob_matches_scipy():
    x = torch.tensor([0.0, 1.0, 5.0, 40.0, 0.0, 3.0], dtype=torch.float64)
    mu = torch.tensor([0.5, 2.0, 5.0, 30.0, 10.0, 0.1], dtype=torch.float64)
    theta = torch.tensor([0.3, 1.0, 10.0, 2.0, 50.0, 5.0], dtype=torch.float64)
    p = theta / (theta + mu)  # scipy: n = θ, p = θ / (θ + μ)
    ref = stats.nbinom.logpmf(x.numpy(), theta.numpy(), p.numpy())
    np.testing.assert_allclose(nb_log_prob(x, mu, theta, eps=0).numpy(), ref, rtol=1e-8)


def test_zinb_log_prob_is_the_mixture():
    x = torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64)
    mu = torch.tensor([2.0, 0.2, 3.0], dtype=torch.float64)
    theta = torch.tensor([1.0, 4.0, 2.0], dtype=torch.float64)
    logits = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    pi = torch.sigmoid(logits).numpy()
    nb = stats.nbinom.pmf(x.numpy(), theta.numpy(), (theta / (theta + mu)).numpy())
    ref = np.where(x.numpy() == 0, np.log(pi + (1 - pi) * nb), np.log((1 - pi) * nb))
    np.testing.assert_allclose(zinb_log_prob(x, mu, theta, logits, eps=0).numpy(), ref, rtol=1e-8)


def test_nb_samples_have_nb_mean_and_variance_and_are_reproducible():
    lik = NBLikelihood(3)
    with torch.no_grad():
        lik.log_theta.copy_(torch.log(torch.tensor([0.5, 2.0, 20.0])))
    params = torch.log(torch.tensor([[0.2, 0.3, 0.5]])).repeat(20000, 1)
    lib = torch.full((20000,), 100.0)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a, b = lik.sample(params, lib, g1), lik.sample(params, lib, g2)
    torch.testing.assert_close(a, b)
    assert torch.equal(a, a.round()) and a.min() >= 0
    mu = np.array([20.0, 30.0, 50.0])
    theta = np.array([0.5, 2.0, 20.0])
    np.testing.assert_allclose(a.mean(0).numpy(), mu, rtol=0.05)
    np.testing.assert_allclose(a.var(0).numpy(), mu + mu**2 / theta, rtol=0.1)


def test_zinb_adds_zeros():
    lik = ZINBLikelihood(2)
    with torch.no_grad():
        lik.pi_logits.copy_(torch.tensor([0.0, -20.0]))  # π = 0.5 and ≈ 0
        lik.log_theta.fill_(np.log(100.0))
    s = lik.sample(torch.zeros(5000, 2), torch.full((5000,), 40.0), torch.Generator().manual_seed(1))
    zero = (s == 0).float().mean(0)
    assert zero[0] == pytest.approx(0.5, abs=0.03) and zero[1] < 0.01


@pytest.mark.parametrize("likelihood", ["nb", "zinb"])
def test_count_model_generates_integer_counts_with_training_library_sizes(counts_adata, tmp_path, likelihood):
    m = ScDiffusion(counts_adata, labels_keys=["cell_type"], likelihood=likelihood, device="cpu", seed=0,
                    **SMALL_ARCH)
    m.train(progress=False, **SMALL_TRAIN)
    h = m.history["autoencoder"]
    assert h["best_loss"] < h["val_loss"][0]
    g = m.generate(40, {"cell_type": "type1"}, n_steps=30, seed=0, progress=False)
    counts = g.layers["counts"]
    assert np.array_equal(counts, np.round(counts)) and counts.min() >= 0
    assert (counts == 0).mean() > 0.05  # real zeros, not clipped regression output
    np.testing.assert_allclose(np.expm1(g.X).sum(1)[counts.sum(1) > 0], 1e4, rtol=1e-3)
    lib_type1 = np.asarray(counts_adata[counts_adata.obs["cell_type"] == "type1"].X.sum(1)).ravel()
    assert set(g.obs["library_size"]).issubset(set(lib_type1.astype(np.float32)))
    # the counts follow the drawn library sizes (NB mean = library · proportions)
    assert np.corrcoef(g.obs["library_size"], counts.sum(1))[0, 1] > 0.5
    m.save(tmp_path / "m")
    again = ScDiffusion.load(tmp_path / "m").generate(40, {"cell_type": "type1"}, n_steps=30, seed=0, progress=False)
    np.testing.assert_array_equal(again.layers["counts"], counts)


@pytest.mark.parametrize("cls", [NBLikelihood, ZINBLikelihood])
def test_fit_noise_recovers_the_dispersion_for_a_fixed_mean(cls):
    # counts drawn with known per-gene θ around the decoder's mean: the refit finds θ, the mean is untouched
    rng = np.random.default_rng(0)
    n, g = 4000, 6
    theta = np.array([0.5, 1.0, 2.0, 5.0, 10.0, 20.0])
    params = torch.from_numpy(rng.normal(0.0, 0.5, (n, g))).float()
    lib = torch.from_numpy(rng.lognormal(np.log(300.0), 0.3, n)).float()
    mu = (torch.softmax(params, -1) * lib[:, None]).numpy()
    counts = torch.from_numpy(rng.poisson(rng.gamma(theta, mu / theta))).float()
    lik = cls(g)
    if cls is ZINBLikelihood:  # its zero probability is kept as it is: none here
        with torch.no_grad():
            lik.pi_logits.fill_(-20.0)
    before = params.clone()
    with torch.no_grad():
        nll0 = float(-lik.log_prob(params, counts, lib).mean())
    nll = lik.fit_noise(params, counts, lib)
    assert nll < nll0
    torch.testing.assert_close(params, before)
    np.testing.assert_allclose(lik.log_theta.exp().detach().numpy(), theta, rtol=0.25)


def test_fit_noise_reaches_the_upper_bound_for_poisson_counts():
    # no over-dispersion at all: θ goes to the grid's upper bound instead of diverging
    rng = np.random.default_rng(1)
    params = torch.zeros(3000, 4)
    lib = torch.full((3000,), 200.0)
    counts = torch.from_numpy(rng.poisson(50.0, (3000, 4))).float()
    lik = NBLikelihood(4)
    lik.fit_noise(params, counts, lib)
    assert torch.isfinite(lik.log_theta).all() and (lik.log_theta > 5).all()


def test_gamma_with_one_shape_per_gene_draws_what_the_expanded_shapes_draw():
    # the per-gene (broadcast) path keeps the seeded stream of drawing every entry: the same draws, up to the
    # last bit of rounding (per-gene constants are computed on a short vector instead of every entry)
    from scdiffusion.nn.likelihood import _standard_gamma

    shape = torch.tensor([0.3, 1.0, 4.0, 60.0], dtype=torch.float64)
    size = (500, 4)
    a = _standard_gamma(shape, torch.Generator().manual_seed(3), size)
    b = _standard_gamma(shape.expand(size).contiguous(), torch.Generator().manual_seed(3))
    assert a.shape == size
    torch.testing.assert_close(a, b, rtol=1e-13, atol=0.0)
    assert (a > 0).all()
    big = _standard_gamma(shape, torch.Generator().manual_seed(4), (40_000, 4))
    np.testing.assert_allclose(big.mean(0).numpy(), shape.numpy(), rtol=0.05)  # Gamma(k, 1) has mean k


def test_fit_noise_keeps_its_grid_on_the_cells_device():
    # the profile-likelihood grid is built where the cells are; a grid made on the CPU fails against CUDA
    # tensors (seen on a GPU). The meta device stands in for any non-CPU device here.
    from scdiffusion.nn.dispersion import fit_log_theta

    mu, counts = [torch.ones(5, 3, device="meta")], [torch.ones(5, 3, device="meta")]
    log_theta = fit_log_theta(nb_log_prob, mu, counts)
    assert log_theta.device.type == "meta" and log_theta.shape == (3,)
