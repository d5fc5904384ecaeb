"""Label registry: a stable, saved mapping between string labels and class ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .validation import InputError


@dataclass(frozen=True)
class LabelRegistry:
    """Mapping of one ``obs`` column's labels to class ids.

    The order of ``categories`` defines the class ids and is saved with the model, so that
    every stage (classifier training, guidance, interpolation) uses the same mapping.
    """

    key: str
    categories: tuple[str, ...]

    @classmethod
    def from_labels(cls, key: str, labels: pd.Series) -> LabelRegistry:
        """Build a registry from a column, keeping categorical order when there is one."""
        if isinstance(labels.dtype, pd.CategoricalDtype):
            present = set(labels.astype(str))
            cats = [str(c) for c in labels.cat.categories if str(c) in present]
        else:
            cats = sorted(set(labels.astype(str)))
        return cls(key=key, categories=tuple(cats))

    @property
    def n_classes(self) -> int:
        return len(self.categories)

    def to_ids(self, labels: Iterable[str]) -> np.ndarray:
        """Class ids of ``labels``; unknown labels raise :class:`InputError`."""
        index = {c: i for i, c in enumerate(self.categories)}
        out = []
        for lab in labels:
            lab = str(lab)
            if lab not in index:
                raise InputError(self._unknown(lab))
            out.append(index[lab])
        return np.asarray(out, dtype=np.int64)

    def to_id(self, label: str) -> int:
        return int(self.to_ids([label])[0])

    def to_labels(self, ids: Iterable[int]) -> list[str]:
        return [self.categories[int(i)] for i in ids]

    def _unknown(self, label: str) -> str:
        known = ", ".join(repr(c) for c in self.categories[:20])
        return f"Unknown label {label!r} for column '{self.key}'. Known labels: {known}."

    def to_dict(self) -> dict:
        return {"key": self.key, "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, d: dict) -> LabelRegistry:
        return cls(key=str(d["key"]), categories=tuple(str(c) for c in d["categories"]))


def fit_registries(obs: pd.DataFrame, labels_keys: list[str], *, min_cells_per_label: int = 5
                   ) -> tuple[dict[str, LabelRegistry], dict[str, np.ndarray]]:
    """Check the label columns of the training cells and build one registry per column.

    Returns
    -------
    ``(registries, class ids of every cell per column)``.
    """
    from .validation import check_label_column

    registries, ids = {}, {}
    for key in labels_keys:
        labels = check_label_column(obs, key, min_cells_per_label=min_cells_per_label)
        registries[key] = LabelRegistry.from_labels(key, obs[key])
        ids[key] = registries[key].to_ids(labels)
    return registries, ids
