"""Gaussian diffusion with the paper's schedule: T = 1000, linear β from 1e-4 to 0.02, ε-prediction."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def linear_betas(n_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Linear β schedule in float64."""
    return np.linspace(beta_start, beta_end, n_timesteps, dtype=np.float64)


class GaussianDiffusion:
    """Forward process and training loss; holds no weights.

    Parameters
    ----------
    n_timesteps
        Number of diffusion steps ``T``.
    beta_start, beta_end
        Ends of the linear β schedule.
    """

    def __init__(self, n_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        self.n_timesteps = n_timesteps
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.betas = linear_betas(n_timesteps, beta_start, beta_end)
        self.alphas_cumprod = np.cumprod(1.0 - self.betas)
        self._sqrt_ac = torch.tensor(np.sqrt(self.alphas_cumprod), dtype=torch.float32)
        self._sqrt_1mac = torch.tensor(np.sqrt(1.0 - self.alphas_cumprod), dtype=torch.float32)

    def to_dict(self) -> dict:
        return {"n_timesteps": self.n_timesteps, "beta_schedule": "linear", "beta_start": self.beta_start,
                "beta_end": self.beta_end, "prediction": "epsilon"}

    def _coef(self, table: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return table.to(x.device)[t].reshape(-1, *([1] * (x.ndim - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Sample ``x_t ~ q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)``."""
        return self._coef(self._sqrt_ac, t, x0) * x0 + self._coef(self._sqrt_1mac, t, x0) * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return (x_t - self._coef(self._sqrt_1mac, t, x_t) * eps) / self._coef(self._sqrt_ac, t, x_t)

    def training_loss(self, model: nn.Module, x0: torch.Tensor, t: torch.Tensor,
                      noise: torch.Tensor | None = None, labels: dict[str, torch.Tensor] | None = None
                      ) -> torch.Tensor:
        """ε-prediction MSE at time steps ``t`` (``labels``: class ids per row for a label-conditioned model)."""
        if noise is None:
            noise = torch.randn_like(x0)
        x_t = self.q_sample(x0, t, noise)
        return F.mse_loss(model(x_t, t) if labels is None else model(x_t, t, labels), noise)
