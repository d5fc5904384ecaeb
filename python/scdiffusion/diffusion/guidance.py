"""Classifier guidance as a ``cond_fn``: the gradient of a weighted sum of class log-probabilities.

One object covers every use of the method:

- one condition: weight ``γ`` on one class of one classifier;
- a combination: one weighted class per classifier (labels of several ``obs`` columns), which can ask
  for combinations never seen together in training;
- Gradient Interpolation: per-cell weights on two classes of one classifier, ``(γ(1−w), γw)``.
"""

from __future__ import annotations

import torch
from torch import nn


class ClassifierGuidance:
    """``cond_fn(x_t, t) = ∇_x Σ_k Σ_c W_k[i, c] · log p_k(c | x_t, t)``.

    Parameters
    ----------
    classifiers
        Noise-aware classifiers, in eval mode.
    weights
        One ``n_cells × n_classes_k`` weight matrix per classifier (guidance scale already applied).
    t_max
        Guidance is applied only at original time steps ``t < t_max`` (paper: T/2), whatever the sampler.
    """

    def __init__(self, classifiers: list[nn.Module], weights: list[torch.Tensor], t_max: int = 500):
        if len(classifiers) != len(weights):
            raise ValueError("one weight matrix per classifier is needed")
        self.classifiers = classifiers
        self.weights = weights
        self.t_max = int(t_max)
        # checked once here, not at every sampling step
        self._has_weight = any(bool(torch.any(w != 0)) for w in weights)

    def active(self, t: int) -> bool:
        """Whether guidance applies at original time step ``t``."""
        return t < self.t_max and self._has_weight

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        """Guidance gradient for the cells ``rows`` of the weight matrices."""
        with torch.enable_grad():
            x = x_t.detach().requires_grad_(True)
            total = x.new_zeros(())
            for clf, w in zip(self.classifiers, self.weights):
                log_p = torch.log_softmax(clf(x, t), dim=-1)
                total = total + (log_p * w[rows].to(x.device)).sum()
            (grad,) = torch.autograd.grad(total, x)
        return grad.detach()
