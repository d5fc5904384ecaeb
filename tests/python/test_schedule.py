"""Closed-form checks of the diffusion schedule and the samplers against float64 numpy."""

import numpy as np
import pytest
import torch

from scdiffusion.diffusion import ClassifierGuidance, DDIMSampler, DDPMSampler, GaussianDiffusion, sample_loop


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
