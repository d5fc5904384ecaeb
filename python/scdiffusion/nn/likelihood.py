"""Output likelihoods of the decoder: how decoder outputs become a loss, expression and counts.

The decoder's last layer (SCimilarity's ``Linear(1024, n_genes)``) gives one value per gene. A likelihood turns
it into

- a training loss against a batch (``x``: log-normalised expression; ``counts`` and ``library`` for count
  likelihoods),
- expected log-normalised expression (:meth:`OutputLikelihood.mean`),
- optionally sampled integer counts for a given library size (:meth:`OutputLikelihood.sample`).

``mse`` is the paper's decoder; ``nb`` and ``zinb`` model raw counts (negative binomial, zero-inflated NB),
so generated cells get real zeros and integer counts.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .dispersion import fit_log_theta


class OutputLikelihood(nn.Module):
    """Interface of a decoder output likelihood (a module: it may own per-gene parameters)."""

    name: str = ""
    models_counts: bool = False

    def __init__(self, n_genes: int, target_sum: float = 1e4):
        super().__init__()
        self.n_genes = n_genes
        self.target_sum = float(target_sum)

    def loss(self, params: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Expected log-normalised expression."""
        raise NotImplementedError

    def fit_noise(self, params: torch.Tensor, counts: torch.Tensor, library: torch.Tensor,
                  chunk_size: int = 2048) -> float:
        """Refit the likelihood's dispersion (per-gene NB ``θ``) for fixed decoder outputs ``params``.

        The decoder's mean (and a ZINB's zero probability) is not changed. Returns the mean negative
        log-likelihood after the fit.
        """
        raise NotImplementedError(f"the '{self.name}' likelihood has no noise parameters to refit")

    def sample(self, params: torch.Tensor, library: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError(f"the '{self.name}' likelihood does not model counts")


class MSELikelihood(OutputLikelihood):
    """The paper's decoder: regress log-normalised expression with MSE; ReLU at inference."""

    name = "mse"

    def loss(self, params, batch):
        return F.mse_loss(params, batch["x"])

    def mean(self, params):
        return F.relu(params)


def nb_log_prob(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Log-probability of counts ``x`` under NB with mean ``mu`` and inverse dispersion ``theta``.

    ``P(x) = Γ(x+θ) / (Γ(θ) x!) · (θ/(θ+μ))^θ · (μ/(θ+μ))^x``; variance ``μ + μ²/θ``.
    """
    log_theta_mu = torch.log(theta + mu + eps)
    return (torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1.0)
            + theta * (torch.log(theta + eps) - log_theta_mu) + x * (torch.log(mu + eps) - log_theta_mu))


def zinb_log_prob(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, pi_logits: torch.Tensor,
                  eps: float = 1e-8) -> torch.Tensor:
    """Log-probability under a zero-inflated NB: with probability ``π = sigmoid(pi_logits)`` a structural zero."""
    nb = nb_log_prob(x, mu, theta, eps)
    log_pi = F.logsigmoid(pi_logits)
    log_1m_pi = F.logsigmoid(-pi_logits)
    zero = torch.logaddexp(log_pi, log_1m_pi + nb)
    return torch.where(x < 0.5, zero, log_1m_pi + nb)


class NBLikelihood(OutputLikelihood):
    """Negative binomial over raw counts: ``μ = library · softmax(params)``, one learned ``θ`` per gene."""

    name = "nb"
    models_counts = True

    def __init__(self, n_genes: int, target_sum: float = 1e4):
        super().__init__(n_genes, target_sum)
        self.log_theta = nn.Parameter(torch.zeros(n_genes))

    def _mu(self, params: torch.Tensor, library: torch.Tensor) -> torch.Tensor:
        return torch.softmax(params, dim=-1) * library.reshape(-1, 1)

    def log_prob(self, params: torch.Tensor, counts: torch.Tensor, library: torch.Tensor) -> torch.Tensor:
        return nb_log_prob(counts, self._mu(params, library), self.log_theta.exp())

    def expected_counts(self, params: torch.Tensor, library: torch.Tensor) -> torch.Tensor:
        """Expected counts of cells with library sizes ``library``."""
        return self._mu(params, library)

    def count_log_prob(self, counts: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Log-probability of counts for NB means ``mu`` and inverse dispersions ``theta`` (other parameters
        of the likelihood as they are)."""
        return nb_log_prob(counts, mu, theta)

    @torch.no_grad()
    def fit_noise(self, params, counts, library, chunk_size=2048):
        # per-gene maximum likelihood of log θ for the fixed means (profile-likelihood grid search)
        mu = [self._mu(p, lib) for p, lib in zip(torch.split(params, chunk_size), torch.split(library, chunk_size))]
        x = list(torch.split(counts, chunk_size))
        self.log_theta.copy_(fit_log_theta(self.count_log_prob, mu, x))
        theta = self.log_theta.exp()
        return float(sum(-self.count_log_prob(c, m, theta.expand_as(m)).sum() for m, c in zip(mu, x))
                     / counts.numel())

    def dispersion(self, params: torch.Tensor) -> torch.Tensor:
        """Inverse dispersion ``θ`` of every cell and gene (the NB part, for ZINB)."""
        return self.log_theta.exp().expand_as(params)

    def loss(self, params, batch):
        # mean negative log-likelihood per gene, so its scale does not grow with the number of genes
        return -self.log_prob(params, batch["counts"], batch["library"]).mean()

    def mean(self, params):
        return torch.log1p(torch.softmax(params, dim=-1) * self.target_sum)

    def _gamma_poisson(self, mu: torch.Tensor, theta: torch.Tensor, generator: torch.Generator | None):
        # NB(μ, θ) = Poisson(Gamma(shape θ, scale μ/θ)); drawn on the CPU with the generator (reproducible)
        mu, theta = mu.detach().cpu().double(), theta.detach().cpu().double()
        theta = theta.expand_as(mu) if generator is None or theta.dim() != 1 else theta  # per gene: broadcast
        rate = torch._standard_gamma(theta) if generator is None else _standard_gamma(theta, generator, mu.shape)
        return torch.poisson(rate * mu / theta, generator=generator)

    def sample(self, params, library, generator=None):
        return self._gamma_poisson(self._mu(params, library), self.log_theta.exp(), generator).float()


class ZINBLikelihood(NBLikelihood):
    """Zero-inflated negative binomial: NB plus a learned per-gene structural-zero probability."""

    name = "zinb"

    def __init__(self, n_genes: int, target_sum: float = 1e4):
        super().__init__(n_genes, target_sum)
        self.pi_logits = nn.Parameter(torch.full((n_genes,), -3.0))

    def log_prob(self, params, counts, library):
        return zinb_log_prob(counts, self._mu(params, library), self.log_theta.exp(), self.pi_logits)

    def mean(self, params):
        keep = torch.sigmoid(-self.pi_logits)
        return torch.log1p(torch.softmax(params, dim=-1) * keep * self.target_sum)

    def expected_counts(self, params, library):
        return super().expected_counts(params, library) * torch.sigmoid(-self.pi_logits)

    def count_log_prob(self, counts, mu, theta):
        return zinb_log_prob(counts, mu, theta, self.pi_logits.expand_as(mu))

    def sample(self, params, library, generator=None):
        counts = super().sample(params, library, generator)
        pi = torch.sigmoid(self.pi_logits.detach().cpu()).expand_as(counts)
        zero = torch.rand(counts.shape, generator=generator) < pi
        return counts.masked_fill(zero, 0.0)


def _standard_gamma(shape: torch.Tensor, generator: torch.Generator,
                    size: torch.Size | tuple[int, ...] | None = None) -> torch.Tensor:
    """Gamma(shape, 1) samples from a seeded generator (Marsaglia–Tsang with the shape < 1 boost).

    ``shape`` broadcasts to ``size`` (default: its own shape), e.g. one shape per gene for cells × genes draws.
    The first proposal of every entry is made without indexing (almost all are accepted); only the rejected
    entries are drawn again, in row-major order: the stream of the earlier entry-by-entry version, whose draws
    this repeats up to the last bit of rounding (the per-shape constants are computed once per shape), about
    3 times faster on 2,000 cells x 10,000 genes.
    """
    size = tuple(shape.shape if size is None else size)
    boost = shape < 1
    a = torch.where(boost, shape + 1.0, shape)
    d = a - 1.0 / 3.0
    c = 1.0 / torch.sqrt(9.0 * d)

    def accept(z: torch.Tensor, u: torch.Tensor, dd: torch.Tensor, cc: torch.Tensor) -> tuple[torch.Tensor, ...]:
        v = (1.0 + cc * z) ** 3
        ok = (v > 0) & (torch.log(u.clamp_min(1e-300)) < 0.5 * z**2 + dd - dd * v + dd * torch.log(v.clamp_min(1e-300)))
        return ok, dd * v

    n_all = math.prod(size)
    z = torch.randn(n_all, generator=generator, dtype=a.dtype).view(size)
    u = torch.rand(n_all, generator=generator, dtype=a.dtype).view(size)
    ok, value = accept(z, u, d, c)
    out = torch.where(ok, value, torch.zeros((), dtype=a.dtype))
    todo = ~ok
    d_all, c_all = d.expand(size), c.expand(size)
    while todo.any():
        n = int(todo.sum())
        z = torch.randn(n, generator=generator, dtype=a.dtype)
        u = torch.rand(n, generator=generator, dtype=a.dtype)
        ok, value = accept(z, u, d_all[todo], c_all[todo])
        idx = todo.nonzero(as_tuple=True)
        accepted = tuple(i[ok] for i in idx)
        out[accepted] = value[ok]
        todo[accepted] = False
    u = torch.rand(n_all, generator=generator, dtype=a.dtype).view(size)
    return torch.where(boost, out * u.clamp_min(1e-300) ** (1.0 / shape.clamp_min(1e-12)), out)


OUTPUT_LIKELIHOODS: dict[str, type[OutputLikelihood]] = {
    cls.name: cls for cls in (MSELikelihood, NBLikelihood, ZINBLikelihood)
}
