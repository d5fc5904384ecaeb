"""Classifier-free guidance: the denoiser conditioned on labels, combined per label column.

With a label-conditioned denoiser ``ε(x_t, t, y)`` trained with every label column dropped to a null label at
random, one weight matrix ``W_k`` (cells × labels of column ``k``) per column gives

``ε̂ = ε(x_t, t, ∅) + Σ_k Σ_c W_k[i, c] · (ε(x_t, t, y_k = c) − ε(x_t, t, ∅))``

(each conditional term has only column ``k`` set, the others null). One label per column with weight ``w``
is classifier-free guidance of strength ``w`` (``w = 1``: the conditional model; ``w > 1`` sharpens); several
columns compose, so combinations never seen together in training can be asked for; two labels of one column
with weights ``(w(1−s), w s)`` are the classifier-free analogue of Gradient Interpolation. The weight matrices
are the same as those of :class:`~scdiffusion.diffusion.ClassifierGuidance`.

A continuous column (a denoiser conditioned on values, ``value_keys``) is one more term: its value per cell with
weight ``w`` (``ε(x_t, t, v_k) − ε(x_t, t, ∅)``), composing with the label columns in the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..nn.backbone import value_key


class ClassifierFreeGuidance:
    """``eps_fn(x_t, t, rows)``: the guided noise prediction for the cells ``rows`` of the weight matrices.

    Parameters
    ----------
    denoiser
        A label-conditioned :class:`~scdiffusion.nn.SkipMLP` (its ``null_ids`` give the null label of each column).
    weights
        ``{label column: n_cells × n_labels weight matrix}``; at most a few non-zero labels per cell.
    values
        ``{continuous column: (n_cells normalised values, weight)}`` for a denoiser with those ``value_keys``.
    """

    def __init__(self, denoiser: nn.Module, weights: Mapping[str, torch.Tensor],
                 values: Mapping[str, tuple[torch.Tensor, float]] | None = None):
        unknown = set(weights) - set(getattr(denoiser, "null_ids", {}))
        unknown |= set(values or {}) - set(getattr(denoiser, "value_keys", []))
        if unknown:
            raise ValueError(f"the denoiser is not conditioned on {sorted(unknown)}")
        self.denoiser = denoiser
        # per column: the non-zero labels of every cell as "slots" (label id, weight), padded with weight 0
        self.slots: list[tuple[str, torch.Tensor, torch.Tensor]] = []
        for key, w in weights.items():
            n_slots = int((w != 0).sum(1).max()) if w.numel() else 0
            order = torch.argsort((w != 0).float(), dim=1, descending=True, stable=True)[:, :n_slots]
            for s in range(n_slots):
                ids = order[:, s]
                self.slots.append((key, ids, w.gather(1, ids[:, None]).squeeze(1)))
        for key, (v, w) in (values or {}).items():
            v = torch.as_tensor(v, dtype=torch.float32)
            self.slots.append((value_key(key), v, torch.full_like(v, float(w))))

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        n = x_t.shape[0]
        null = {k: torch.full((n,), i, dtype=torch.long, device=x_t.device) for k, i in self.denoiser.null_ids.items()}
        null.update({value_key(k): torch.full((n,), float("nan"), device=x_t.device)
                     for k in getattr(self.denoiser, "value_keys", [])})
        labels = {k: [v] for k, v in null.items()}  # one block of rows per forward pass, batched together
        for key, ids, _ in self.slots:
            for k in labels:
                labels[k].append(ids[rows].to(x_t.device) if k == key else null[k])
        n_blocks = 1 + len(self.slots)
        eps = self.denoiser(x_t.repeat(n_blocks, 1), t.repeat(n_blocks),
                            {k: torch.cat(v) for k, v in labels.items()}).view(n_blocks, n, -1)
        out = eps[0].clone()
        for b, (_, _, w) in enumerate(self.slots, start=1):
            out += w[rows].to(x_t.device)[:, None] * (eps[b] - eps[0])
        return out


class JointConditional:
    """``eps_fn(x_t, t, rows)``: the denoiser with every label column set to each cell's own labels.

    With ``weight`` 1, sampling with it draws from ``p(x | labels)`` (one forward pass per step); with labels drawn
    from the training cells, from the data distribution ``Σ p(labels) p(x | labels)``. Another weight ``w`` guides
    towards the joint labels, ``ε(x_t, t, ∅) + w (ε(x_t, t, labels) − ε(x_t, t, ∅))`` (two passes per step).

    Parameters
    ----------
    denoiser
        A label-conditioned :class:`~scdiffusion.nn.SkipMLP`.
    labels
        ``{label column: class id of every cell}`` for every column the denoiser is conditioned on.
    weight
        Classifier-free weight of the joint labels.
    """

    def __init__(self, denoiser: nn.Module, labels: Mapping[str, torch.Tensor], weight: float = 1.0):
        missing = set(getattr(denoiser, "null_ids", {})) ^ set(labels)
        if missing:
            raise ValueError(f"labels must name exactly the denoiser's columns; mismatch: {sorted(missing)}")
        self.denoiser = denoiser
        self.labels = {k: torch.as_tensor(v, dtype=torch.long) for k, v in labels.items()}
        self.weight = float(weight)

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        labels = {k: v[rows].to(x_t.device) for k, v in self.labels.items()}
        if self.weight == 1.0:
            return self.denoiser(x_t, t, labels)
        n = x_t.shape[0]  # null and joint labels in one batched forward pass
        both = {k: torch.cat([torch.full((n,), self.denoiser.null_ids[k], dtype=torch.long, device=x_t.device), v])
                for k, v in labels.items()}
        eps = self.denoiser(x_t.repeat(2, 1), t.repeat(2), both).view(2, n, -1)
        return eps[0] + self.weight * (eps[1] - eps[0])
