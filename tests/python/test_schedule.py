"""Closed-form checks of the diffusion schedule and the samplers against float64 numpy."""

import numpy as np
import pytest
import torch

from scdiffusion.diffusion import (
    SAMPLERS,
    ClassifierGuidance,
    DDIMSampler,
    DDPMSampler,
    DPMSolverSampler,
    GaussianDiffusion,
    sample_loop,
)


def test_schedule_matches_paper():
    d = GaussianDiffusion()
    assert d.n_timesteps == 1000
    np.testing.assert_allclose(d.betas[[0, -1]], [1e-4, 0.02])
    np.testing.assert_allclose(np.diff(d.betas), np.diff(d.betas)[0])  # linear
    np.testing.assert_allclose(d.alphas_cumprod, np.cumprod(1 - np.linspace(1e-4, 0.02, 1000)))


def test_q_sample_mean_and_variance():
    d = GaussianDiffusion()
    x0 = torch.full((200_000, 1), 2.0)
    t = torch.full((200_000,), 600, dtype=torch.long)
    xt = d.q_sample(x0, t, torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)))
    ab = np.prod(1 - np.linspace(1e-4, 0.02, 1000)[:601])
    assert xt.mean().item() == pytest.approx(2.0 * np.sqrt(ab), abs=0.01)
    assert xt.var().item() == pytest.approx(1 - ab, rel=0.02)


def test_ddpm_step_is_the_true_posterior_mean():
    """With the true noise, the DDPM mean is the posterior mean of q(x_{t-1} | x_t, x_0)."""
    d = GaussianDiffusion()
    s = DDPMSampler(d)
    s.set_timesteps(1000)
    i = 1000 - 1 - 300  # t = 300
    assert s.timesteps[i] == 300
    x0 = torch.randn(5, 4, dtype=torch.float64)
    eps = torch.randn(5, 4, dtype=torch.float64)
    ab = d.alphas_cumprod
    xt = np.sqrt(ab[300]) * x0 + np.sqrt(1 - ab[300]) * eps
    beta = d.betas[300]
    mean_ref = (np.sqrt(ab[299]) * beta / (1 - ab[300])) * x0 + \
        (np.sqrt(1 - beta) * (1 - ab[299]) / (1 - ab[300])) * xt
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out, x0_pred = s.step(eps, i, xt, generator=g)
    torch.testing.assert_close(x0_pred, x0)
    torch.testing.assert_close(out, mean_ref + np.sqrt(beta) * noise, rtol=1e-6, atol=1e-6)


def test_ddim_eta0_is_deterministic_and_exact_on_noiseless_path():
    d = GaussianDiffusion()
    s = DDIMSampler(d, eta=0.0)
    steps = s.set_timesteps(50)
    assert steps[0] == 999 and steps[-1] == 0 and len(steps) == 50
    x0 = torch.randn(3, 2, dtype=torch.float64)
    eps = torch.randn(3, 2, dtype=torch.float64)
    ab = d.alphas_cumprod
    xt = np.sqrt(ab[999]) * x0 + np.sqrt(1 - ab[999]) * eps
    x_prev, _ = s.step(eps, 0, xt)
    t_prev = steps[1]
    torch.testing.assert_close(x_prev, np.sqrt(ab[t_prev]) * x0 + np.sqrt(1 - ab[t_prev]) * eps)


def test_respaced_timesteps_start_at_t_start_in_original_units():
    d = GaussianDiffusion()
    s = DDPMSampler(d)
    steps = s.set_timesteps(25, t_start=600)
    assert steps[0] == 600 and steps[-1] == 0 and len(steps) == 25
    assert np.all(np.diff(steps) < 0)
    assert len(s.set_timesteps(1000, t_start=600)) == 601
    with pytest.raises(ValueError):
        s.set_timesteps(10, t_start=1000)


class _Recorder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x, t):
        self.seen.append(int(t[0]))
        return x[:, :2]


def test_guidance_window_is_in_original_timesteps_whatever_the_sampler():
    d = GaussianDiffusion()
    for sampler in (DDPMSampler(d), DDIMSampler(d)):
        sampler.set_timesteps(20)
        clf = _Recorder()
        guidance = ClassifierGuidance([clf], [torch.ones(4, 2)], t_max=500)
        denoiser = lambda x, t: torch.zeros_like(x)  # noqa: E731
        sample_loop(denoiser, sampler, torch.randn(4, 3), guidance=guidance,
                    generator=torch.Generator().manual_seed(0))
        expected = [int(t) for t in sampler.timesteps if t < 500]
        assert clf.seen == expected and max(clf.seen) < 500


def test_guidance_gradient_points_to_the_class():
    """∇ log p(y|x) for a linear classifier moves x towards class y."""
    lin = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(2))
    clf = lambda x, t: lin(x)  # noqa: E731
    w = torch.zeros(1, 2)
    w[0, 1] = 3.0
    g = ClassifierGuidance([clf], [w])(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))
    assert g[0, 1] > 0 and g[0, 0] < 0


class _ExactGaussianDenoiser(torch.nn.Module):
    """Exact ε-prediction for data x_0 ~ N(m, s² I): E[ε | x_t] = σ (x_t − α m) / (α² s² + σ²)."""

    def __init__(self, d: GaussianDiffusion, mean: float, std: float):
        super().__init__()
        self.ac = torch.tensor(d.alphas_cumprod, dtype=torch.float64)
        self.mean, self.std = mean, std

    def forward(self, x, t):
        ab = self.ac[t].reshape(-1, 1).to(x.dtype)
        a, s = ab.sqrt(), (1 - ab).sqrt()
        return s * (x - a * self.mean) / (ab * self.std**2 + s**2)


@pytest.mark.parametrize("n_steps", [10, 25])
def test_dpm_solver_solves_the_ode_better_than_ddim_with_few_steps(n_steps):
    # With the exact denoiser, the probability-flow ODE maps N(0, I) at t = T−1 to N(m, s²) at t = 0.
    d = GaussianDiffusion()
    den = _ExactGaussianDenoiser(d, mean=0.7, std=0.3)
    x_T = torch.randn(20000, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    errors = {}
    for name, sampler in (("ddim", DDIMSampler(d)), ("dpmpp", DPMSolverSampler(d)), ("ref", DDIMSampler(d))):
        sampler.set_timesteps(1000 if name == "ref" else n_steps)
        x0 = sample_loop(den, sampler, x_T.clone())
        errors[name] = x0
    ref = errors.pop("ref")
    assert float(ref.mean()) == pytest.approx(0.7, abs=0.01) and float(ref.std()) == pytest.approx(0.3, rel=0.02)
    err = {k: float((v - ref).abs().mean()) for k, v in errors.items()}
    assert err["dpmpp"] < 0.5 * err["ddim"], err
    assert float(errors["dpmpp"].std()) == pytest.approx(0.3, rel=0.03)


def test_dpm_solver_state_does_not_leak_between_batches():
    d = GaussianDiffusion()
    den = _ExactGaussianDenoiser(d, mean=0.0, std=0.5)
    s = DPMSolverSampler(d)
    s.set_timesteps(15)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    whole = sample_loop(den, s, x.clone())
    halves = torch.cat([sample_loop(den, s, x[:32].clone()), sample_loop(den, s, x[32:].clone())])
    torch.testing.assert_close(whole, halves)
    assert "dpmpp" in SAMPLERS


def test_sde_dpm_solver_samples_the_data_distribution_with_few_steps():
    d = GaussianDiffusion()
    den = _ExactGaussianDenoiser(d, mean=0.7, std=0.3)
    s = SAMPLERS["dpmpp-sde"](d)
    assert len(s.set_timesteps(25)) == 25 and s.timesteps[0] == 999 and s.timesteps[-1] == 0
    x_T = torch.randn(20000, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x0 = sample_loop(den, s, x_T.clone(), generator=torch.Generator().manual_seed(1))
    assert float(x0.mean()) == pytest.approx(0.7, abs=0.01)
    assert float(x0.std()) == pytest.approx(0.3, rel=0.03)
    again = sample_loop(den, s, x_T.clone(), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(x0, again)  # same seed, same cells


def _logsnr_steps(n_steps: int, t_start: int, T: int = 1000) -> np.ndarray:
    """The rule, in float64 from the linear schedule's definition: targets equally spaced in log-SNR from t_start
    to 0, each mapped to its nearest time step, duplicates counted once, descending."""
    betas = np.linspace(1e-4, 0.02, T, dtype=np.float64)
    ac = np.cumprod(1.0 - betas)[: t_start + 1]
    lam = 0.5 * np.log(ac / (1.0 - ac))
    targets = np.linspace(lam[t_start], lam[0], n_steps)
    return np.unique([int(np.argmin(np.abs(lam - t))) for t in targets])[::-1]


@pytest.mark.parametrize("n_steps, t_start", [(100, 999), (10, 999), (50, 600), (400, 999)])
def test_samplers_record_the_steps_requested_and_take_distinct_ones(n_steps, t_start):
    """Log-SNR spacing maps several targets to one time step near t = 0, where log-SNR changes fastest per step:
    the steps taken are the distinct nearest steps of the targets (fewer than asked for many steps), from t_start
    down to 0. The request is kept (generated cells record both)."""
    from scdiffusion.diffusion import make_sampler

    d = GaussianDiffusion()
    s = make_sampler("dpmpp-sde", d, n_steps=n_steps, t_start=t_start)
    expected = _logsnr_steps(n_steps, t_start)
    assert s.n_steps_requested == n_steps
    np.testing.assert_array_equal(s.timesteps, expected)
    assert s.timesteps[0] == t_start and s.timesteps[-1] == 0 and np.all(np.diff(s.timesteps) < 0)
    lost = n_steps - len(expected)
    assert lost >= 0 and (lost > 0 or n_steps <= 10)  # 10 steps: all distinct; more: some coincide near t = 0
    if lost:  # the coinciding ones are near t = 0: every gap of one step lies in the low-t part
        assert np.all(np.flatnonzero(np.diff(s.timesteps) == -1) >= len(expected) // 2)
    s = make_sampler("ddim", d, n_steps=100)
    assert s.n_steps_requested == 100 and len(s.timesteps) == 100
