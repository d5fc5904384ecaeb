"""Maximum-likelihood per-gene inverse dispersion for fixed expected counts (a profile-likelihood grid search).

With the decoder's expected counts ``μ`` held fixed, the log-likelihood of each gene's counts is a smooth
function of that gene's ``log θ`` alone. It is maximised on a grid (coarse, then fine around the coarse
optimum), which needs no step size, cannot diverge when a gene is as regular as a Poisson (θ → ∞: the
upper bound), and costs ``n_coarse + n_fine`` passes over the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

#: ``log_prob(counts, mu, theta) -> per-entry log-probability`` of a count likelihood.
LogProb = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def profile_log_likelihood(log_prob: LogProb, mu: Sequence[torch.Tensor], counts: Sequence[torch.Tensor],
                           log_theta: torch.Tensor) -> torch.Tensor:
    """Per-gene log-likelihood summed over cells for every row of candidate ``log_theta`` (candidates × genes).

    ``mu`` and ``counts`` are matching chunks of cells (cells × genes each), so memory stays one chunk.
    """
    out = torch.zeros_like(log_theta)
    for k in range(log_theta.shape[0]):
        theta = log_theta[k].exp()
        for m, x in zip(mu, counts):
            out[k] += log_prob(x, m, theta.expand_as(m)).sum(0)
    return out


@torch.no_grad()
def fit_log_theta(log_prob: LogProb, mu: Sequence[torch.Tensor], counts: Sequence[torch.Tensor], *,
                  low: float = -4.0, high: float = 9.0, n_coarse: int = 53, n_fine: int = 11) -> torch.Tensor:
    """Maximum-likelihood ``log θ`` of every gene within ``[low, high]`` for fixed expected counts.

    Parameters
    ----------
    log_prob
        The count likelihood, e.g. :func:`~scdiffusion.nn.likelihood.nb_log_prob`.
    mu, counts
        Chunks of expected and observed counts (cells × genes each).
    low, high
        Bounds of ``log θ`` (``e⁹ ≈ 8100``: practically Poisson).
    n_coarse, n_fine
        Grid points of the coarse pass over ``[low, high]`` and of the fine pass over ± one coarse step.

    Returns
    -------
    ``log θ`` per gene (float32).
    """
    n_genes = mu[0].shape[1]
    # the grid lives where the cells are (a CPU grid against CUDA chunks fails), in their dtype
    coarse = torch.linspace(low, high, n_coarse, dtype=torch.float64).to(device=mu[0].device, dtype=mu[0].dtype)
    ll = profile_log_likelihood(log_prob, mu, counts, coarse[:, None].expand(-1, n_genes))
    best = coarse[ll.argmax(0)]
    step = (high - low) / (n_coarse - 1)
    offsets = torch.linspace(-step, step, n_fine, dtype=best.dtype, device=best.device)
    fine = (best[None, :] + offsets[:, None]).clamp(low, high)
    ll = profile_log_likelihood(log_prob, mu, counts, fine)
    return fine.gather(0, ll.argmax(0, keepdim=True))[0].float()
