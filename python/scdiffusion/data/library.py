"""Library sizes of the training cells, and drawing them for generated cells of given labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .registry import LabelRegistry


class LibrarySizes:
    """Total counts of the training cells with their labels; saved with the model.

    Parameters
    ----------
    sizes
        Library size of every training cell (float tensor).
    labels
        ``{column: class id of every training cell}``.
    """

    def __init__(self, sizes: torch.Tensor, labels: dict[str, torch.Tensor]):
        self.sizes = sizes.float().cpu()
        self.labels = {k: v.cpu() for k, v in labels.items()}

    def draw_labels(self, n_cells: int, registries: dict[str, LabelRegistry],
                    generator: torch.Generator | None) -> dict[str, list[str]]:
        """The labels of ``n_cells`` training cells drawn at random: ``{column: labels}`` (joint over columns)."""
        rows = torch.randint(0, len(self.sizes), (int(n_cells),), generator=generator)
        return {k: registries[k].to_labels(self.labels[k][rows].numpy()) for k in registries}

    def sample(self, obs: pd.DataFrame, registries: dict[str, LabelRegistry],
               generator: torch.Generator | None) -> torch.Tensor:
        """A library size for every row of ``obs``, drawn from training cells that share its labels.

        The label columns of ``obs`` that have a registry define the groups; an unseen combination of labels
        draws from the cells of its first label.
        """
        lib = torch.empty(len(obs))
        keys = [k for k in obs.columns if k in registries]
        groups = obs.groupby(keys, observed=True).indices if keys else {(): np.arange(len(obs))}
        for labels, rows in groups.items():
            labels = labels if isinstance(labels, tuple) else (labels,)
            mask = torch.ones(len(self.sizes), dtype=torch.bool)
            for key, label in zip(keys, labels):
                mask &= self.labels[key] == registries[key].to_id(str(label))
            if not mask.any() and keys:  # unseen combination: cells of the first condition
                mask = self.labels[keys[0]] == registries[keys[0]].to_id(str(labels[0]))
            pool = self.sizes[mask]
            lib[torch.as_tensor(rows)] = pool[torch.randint(0, len(pool), (len(rows),), generator=generator)]
        return lib
