"""Two-ended interpolation's building blocks: optimal-transport pairing of two latent sets and spherical blending.

Both work on tensors only; the model layer (``model/two_ended.py``) encodes the cells and denoises the blends.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

logger = logging.getLogger(__name__)

#: at most this many points per side enter the exact optimal-transport problem (network simplex, O(n³) worst case)
MAX_OT_POINTS = 2000


def slerp(a: torch.Tensor, b: torch.Tensor, w: float, eps: float = 1e-4) -> torch.Tensor:
    """Spherical linear interpolation between the rows of ``a`` and ``b``.

    Row ``i`` is ``sin((1−w)θ)/sin θ · a[i] + sin(wθ)/sin θ · b[i]``, ``θ`` the angle between ``a[i]`` and
    ``b[i]``, applied to the rows as they are (as latent interpolation in diffusion models does): rows of equal
    norm follow the great-circle arc and keep their norm, where the straight line would shrink it (noised latents
    of a high-dimensional Gaussian have nearly equal norms). Rows whose angle is below ``eps`` radians (nearly
    parallel, or a zero row) are blended linearly, where the spherical formula divides by ~0.

    Parameters
    ----------
    a, b
        ``(n, d)`` tensors of the same shape.
    w
        Position along the arc, 0 (``a``) to 1 (``b``); ``w = 0`` gives ``a`` and ``w = 1`` gives ``b`` exactly.
    eps
        Angle (radians) below which a row is blended linearly.

    Returns
    -------
    ``(n, d)`` tensor.
    """
    if a.shape != b.shape:
        raise ValueError(f"slerp needs tensors of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
    if w == 0:
        return a.clone()
    if w == 1:
        return b.clone()
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(-1, keepdim=True) / (na * nb).clamp_min(torch.finfo(a.dtype).tiny)
    theta = torch.arccos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(theta)
    linear = (1 - w) * a + w * b
    small = (theta < eps) | (na == 0) | (nb == 0)
    safe = torch.where(small, torch.ones_like(sin), sin)
    spherical = (torch.sin((1 - w) * theta) / safe) * a + (torch.sin(w * theta) / safe) * b
    return torch.where(small, linear, spherical)


def ot_pairs(za: torch.Tensor, zb: torch.Tensor, n_pairs: int, generator: torch.Generator,
             max_points: int = MAX_OT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows of ``za`` and ``zb`` drawn from their exact optimal-transport coupling.

    Each side is subsampled (without replacement, by ``generator``) to at most ``max_points`` rows; the coupling
    of the two uniform distributions under the squared Euclidean cost is solved exactly (POT's ``ot.emd``), and
    ``n_pairs`` pairs are drawn from it, with replacement, by ``generator``.

    Parameters
    ----------
    za, zb
        ``(n_a, d)`` and ``(n_b, d)`` latents.
    n_pairs
        Number of pairs to draw.
    generator
        Seeded generator: the same seed gives the same pairs.
    max_points
        Cap on the rows of each side entering the transport problem.

    Returns
    -------
    ``(index into za, index into zb)``, two int64 arrays of length ``n_pairs``.
    """
    import ot

    ia, ib = (_subsample(len(z), max_points, generator) for z in (za, zb))
    xa, xb = za[ia].double().numpy(), zb[ib].double().numpy()
    cost = ot.dist(xa, xb, metric="sqeuclidean")
    uniform_a, uniform_b = np.full(len(xa), 1.0 / len(xa)), np.full(len(xb), 1.0 / len(xb))
    coupling = ot.emd(uniform_a, uniform_b, cost, numItermax=10_000_000)
    logger.debug("two-ended pairing: exact OT between %d and %d latents, mean paired cost %.3g", len(xa), len(xb),
                 float((coupling * cost).sum()))
    support = np.flatnonzero(coupling > 0)  # an exact coupling has at most n_a + n_b - 1 nonzero entries
    mass = torch.from_numpy(coupling.ravel()[support])
    draws = support[torch.multinomial(mass, n_pairs, replacement=True, generator=generator).numpy()]
    return ia[draws // len(xb)], ib[draws % len(xb)]


def _subsample(n: int, at_most: int, generator: torch.Generator) -> np.ndarray:
    """All of ``range(n)``, or ``at_most`` of them drawn without replacement (sorted)."""
    if n <= at_most:
        return np.arange(n)
    return np.sort(torch.randperm(n, generator=generator)[:at_most].numpy())
