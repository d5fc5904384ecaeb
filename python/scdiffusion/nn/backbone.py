"""Skip-connected MLP denoiser with a time embedding (the paper's backbone, ~3.5 M parameters), optionally
conditioned on labels for classifier-free guidance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from .embedding import timestep_embedding

#: Scale of a continuous value (normalised to [0, 1]) before its sinusoidal embedding, for new networks; saved
#: models record their own (``config["denoiser"]["value_scale"]``; none recorded: 1000, the first releases'). At
#: 1000 most features turn many times over [0, 1] and code each trained value apart, so a value between trained
#: ones meets features never seen; at 10 every feature turns at most ~1.6 times (experiment T5, benchmarks/README).
VALUE_SCALE = 10.0
#: The scale of models that record none (the first releases with continuous columns).
LEGACY_VALUE_SCALE = 1000.0


class _TimeBlock(nn.Module):
    """``h = Linear(x) + Linear(SiLU(emb))``, then LayerNorm and SiLU."""

    def __init__(self, n_in: int, n_out: int, n_emb: int):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.emb = nn.Linear(n_emb, n_out)
        self.norm = nn.LayerNorm(n_out)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.linear(x) + self.emb(emb)))


class SkipMLP(nn.Module):
    """ε-prediction network over latents.

    Down path ``n_latent → 512 → 512 → 256 → 128``; up path ``128 → 256 → 512 → 512`` with additive skips
    from the down path; head ``512 → 1024 → LayerNorm → SiLU → n_latent``.

    With ``n_classes`` (``{label column: number of labels}``), every column has a learned embedding of its labels
    plus a *null* label (index ``n_classes[column]``) added to the time embedding: the network then predicts
    ``ε(x_t, t, y)`` for any subset of known labels (the others null), which classifier-free guidance combines.
    Without labels it is the paper's unconditional network (same weights).

    With ``continuous`` (columns of ordered numbers: times, doses), every column has an MLP on the sinusoidal
    embedding of its value (normalised to [0, 1] over the training range, embedded as ``value_scale·value``), also added
    to the time embedding, and a learned null vector for "no value"; values come in ``labels`` under
    :func:`value_key` as floats (NaN: null). The MLPs' last layers and the null vectors start at zero, so the
    untrained conditioning changes nothing; a network without continuous columns has no such weights.
    """

    def __init__(self, n_latent: int = 128, down: Sequence[int] = (512, 512, 256, 128),
                 n_time: int = 512, n_head: int = 1024, n_classes: Mapping[str, int] | None = None,
                 continuous: Sequence[str] = (), value_scale: float | None = None):
        super().__init__()
        self.n_time = n_time
        self.time_mlp = nn.Sequential(nn.Linear(n_time, n_time), nn.SiLU(), nn.Linear(n_time, n_time))
        #: label columns in the order of their embeddings, and the null index of each
        self.label_keys = list(n_classes or {})
        self.null_ids = {k: int(n) for k, n in (n_classes or {}).items()}
        # zero embeddings: the network starts as the unconditional one, and draws no random numbers
        self.label_emb = nn.ModuleList(nn.Embedding.from_pretrained(torch.zeros(self.null_ids[k] + 1, n_time),
                                                                    freeze=False) for k in self.label_keys)
        dims = [n_latent, *down]
        self.down = nn.ModuleList(_TimeBlock(a, b, n_time) for a, b in zip(dims[:-1], dims[1:]))
        up_dims = list(reversed(down))  # 128, 256, 512, 512
        self.up = nn.ModuleList(_TimeBlock(a, b, n_time) for a, b in zip(up_dims[:-1], up_dims[1:]))
        self.head = nn.Sequential(nn.Linear(up_dims[-1], n_head), nn.LayerNorm(n_head), nn.SiLU(),
                                  nn.Linear(n_head, n_latent))
        self.act = nn.SiLU()
        #: continuous columns (made last: the other weights draw the same random numbers as without them)
        self.value_keys = list(continuous)
        self.value_scale = float(VALUE_SCALE if value_scale is None else value_scale)
        self.value_mlp = nn.ModuleList(_value_mlp(n_time) for _ in self.value_keys)
        self.value_null = nn.ParameterList(nn.Parameter(torch.zeros(n_time)) for _ in self.value_keys)

    @property
    def conditional(self) -> bool:
        """Whether the network takes labels."""
        return bool(self.label_keys)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: Mapping[str, torch.Tensor] | None = None
                ) -> torch.Tensor:
        """ε for noised latents ``x`` at time steps ``t``; ``labels`` maps label columns to class ids per row
        (the null id, or a missing column, means "no label")."""
        emb = self.time_mlp(timestep_embedding(t, self.n_time))
        for key, table in zip(self.label_keys, self.label_emb):
            ids = labels.get(key) if labels is not None else None
            if ids is None:
                ids = torch.full((x.shape[0],), self.null_ids[key], dtype=torch.long, device=x.device)
            emb = emb + table(ids)
        for key, mlp, null in zip(self.value_keys, self.value_mlp, self.value_null):
            v = labels.get(value_key(key)) if labels is not None else None
            if v is None:
                emb = emb + null
                continue
            v = v.to(emb.dtype)
            known = ~torch.isnan(v)
            e = mlp(timestep_embedding(torch.nan_to_num(v) * self.value_scale, self.n_time)).to(emb.dtype)
            emb = emb + torch.where(known[:, None], e, null.to(emb.dtype))
        emb = self.act(emb)
        skips = []
        h = x
        for block in self.down:
            h = block(h, emb)
            skips.append(h)
        skips.pop()  # the bottleneck output is the input of the up path
        for block in self.up:
            h = block(h, emb) + skips.pop()
        return self.head(h)


def value_key(column: str) -> str:
    """The key of a continuous column's values in the ``labels`` mapping of :meth:`SkipMLP.forward`."""
    return f"value:{column}"


def _value_mlp(n_time: int) -> nn.Sequential:
    mlp = nn.Sequential(nn.Linear(n_time, n_time), nn.SiLU(), nn.Linear(n_time, n_time))
    nn.init.zeros_(mlp[2].weight)
    nn.init.zeros_(mlp[2].bias)
    return mlp
