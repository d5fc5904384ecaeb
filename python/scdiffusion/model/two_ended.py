"""Two-ended interpolation's starting points: real start and end cells, paired by optimal transport, noised with
one shared noise and blended spherically, state by state."""

from __future__ import annotations

import logging

import numpy as np
import torch

from ..diffusion.pairing import ot_pairs, slerp
from ..errors import InputError

logger = logging.getLogger(__name__)


def two_ended_starts(model, cells, labels_key: str, start: str, end: str, *, layer: str | None, n_cells: int,
                     w_end: np.ndarray, t_start: int, generator: torch.Generator,
                     masks: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """The noised latents each state denoises from, and the real cells behind them.

    The cells of ``start`` and of ``end`` in ``cells`` are encoded; ``n_cells`` (start, end) pairs are drawn from
    the exact optimal-transport coupling of the two latent sets (:func:`~scdiffusion.diffusion.pairing.ot_pairs`);
    both cells of a pair are noised to ``t_start`` with the same noise ε, and state ``i`` starts from the spherical
    blend (:func:`~scdiffusion.diffusion.pairing.slerp`) at ``w_end[i]`` of the two noised latents.

    Parameters
    ----------
    model
        A trained :class:`~scdiffusion.ScDiffusion`.
    cells
        AnnData with raw counts and the ``labels_key`` column.
    labels_key, start, end
        The column and the two labels.
    layer
        Layer with raw counts (``None``: the model's).
    n_cells
        Pairs drawn (cells per state).
    w_end
        Blend position of each state, 0 (start) to 1 (end).
    t_start
        Noise level of the blends.
    generator
        Seeded generator (pairs and noise).
    masks
        The start and the end cells, when not those labelled ``start`` and ``end`` (e.g. the cells at two values
        of a continuous column).

    Returns
    -------
    ``(x_t (len(w_end)·n_cells × d), start cell names (n_cells), end cell names (n_cells))``.
    """
    labels = cells.obs[labels_key].astype(str).to_numpy()
    given = dict(zip(("start", "end"), masks)) if masks is not None else {}
    masks = {}
    for role, label in (("start", start), ("end", end)):
        masks[role] = given[role] if given else labels == str(label)
        if not masks[role].any() and role == "start":
            raise InputError(f"start_cells has no cell labelled {label!r} in '{labels_key}'; interpolation starts "
                             f"from real cells of the start label: add cells of {label!r} to start_cells.")
        if not masks[role].any():
            raise InputError(f"start_cells has no cell labelled {label!r} in '{labels_key}'; two-ended "
                             f"interpolation starts from real cells of both labels: add cells of {label!r} to "
                             f"start_cells, or use method='gradient' (start cells only).")
    za, zb = (torch.from_numpy(model.get_latent_representation(cells[masks[r]], layer=layer, scaled=True))
              for r in ("start", "end"))
    logger.info("two-ended interpolation: pairing %d %r and %d %r cells by optimal transport", len(za), start,
                len(zb), end)
    ia, ib = ot_pairs(za, zb, n_cells, generator)
    noise = torch.randn((n_cells, za.shape[1]), generator=generator)
    t = torch.full((n_cells,), t_start)
    xa, xb = model.diffusion.q_sample(za[ia], t, noise), model.diffusion.q_sample(zb[ib], t, noise)
    x_t = torch.cat([slerp(xa, xb, float(w)) for w in w_end])
    names = (np.asarray(cells.obs_names[masks[r]]) for r in ("start", "end"))
    return x_t, next(names)[ia], next(names)[ib]
