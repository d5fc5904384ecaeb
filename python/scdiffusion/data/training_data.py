"""The training cells of one model, behind one interface whether they sit in memory or on disk.

:class:`TrainingData` holds preprocessed cells in memory; :class:`BackedTrainingData` streams them from an
``.h5ad`` file (data larger than memory). Both give the model what its training stages need — the
autoencoder's training batches and validation tensors, every kept cell's log-normalised expression chunk by
chunk for encoding, the labels, the train/validation split and the library sizes of the training cells — so the
model never branches on where the data live.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import torch

from ..errors import InputError
from .backed import BackedBatchSource, BackedCounts, iter_kept_cells, scan_counts
from .continuous import ContinuousRegistry, fit_continuous
from .library import LibrarySizes
from .preprocessing import Preprocessor, log_normalize
from .registry import LabelRegistry, fit_registries

if TYPE_CHECKING:
    from ..train.loop import BatchSource

logger = logging.getLogger(__name__)

#: Backed training holds out at most this many validation cells (read once into memory).
BACKED_VALIDATION_CELLS = 2000


def validation_split(n_cells: int, fraction: float, seed: int, max_cells: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)``: a random ``fraction`` of the cells (none below 20 cells) for validation."""
    n_val = int(round(fraction * n_cells)) if n_cells >= 20 else 0
    if max_cells is not None:
        n_val = min(n_val, max_cells)
    perm = np.random.default_rng(seed).permutation(n_cells)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


class TrainingData:
    """Preprocessed training cells in memory (dense tensors on the training device).

    Use :meth:`from_anndata`. Attributes: ``registries`` (one :class:`LabelRegistry` per label column),
    ``labels`` (class ids of every kept cell, per column, on the device), ``train_idx`` / ``val_idx``,
    ``library`` (:class:`LibrarySizes` of the training cells), ``n_cells``.
    """

    backed = False

    def __init__(self, x: torch.Tensor, counts: torch.Tensor | None, library: torch.Tensor | None,
                 registries: dict[str, LabelRegistry], labels: dict[str, torch.Tensor], train_idx: np.ndarray,
                 val_idx: np.ndarray, library_sizes: LibrarySizes):
        self.x, self.counts, self.lib = x, counts, library
        self.registries, self.labels = registries, labels
        self.train_idx, self.val_idx = train_idx, val_idx
        self.library = library_sizes
        self.n_cells = int(x.shape[0])
        self.device = x.device

    @classmethod
    def from_anndata(cls, adata: ad.AnnData, preprocessor: Preprocessor, *, labels_keys: list[str],
                     layer: str | None, min_cells_per_label: int, validation_fraction: float, seed: int,
                     with_counts: bool, device: torch.device, continuous_keys: list[str] = (),
                     continuous_pseudotime: bool | None = None) -> TrainingData:
        """Validate, filter and normalise ``adata`` (fits ``preprocessor``), split off validation cells;
        ``continuous_pseudotime``: spread time-course values within time points (:mod:`.pseudotime`; None: where
        expression predicts them well out of sample)."""
        fit_continuous(adata.obs, continuous_keys)  # bad columns refused before any work
        x, cell_mask = preprocessor.fit_transform(adata, layer)
        registries, ids = fit_registries(adata.obs.loc[cell_mask], labels_keys,
                                         min_cells_per_label=min_cells_per_label)
        continuous, values = fit_continuous(adata.obs.loc[cell_mask], continuous_keys,
                                            None if continuous_pseudotime is False else x, seed,
                                            auto=continuous_pseudotime is None)
        train_idx, val_idx = validation_split(x.shape[0], validation_fraction, seed)
        counts = preprocessor.counts(adata, layer)[np.flatnonzero(cell_mask)]
        lib = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
        library = LibrarySizes(torch.from_numpy(lib[train_idx]),
                               {k: torch.from_numpy(v[train_idx]) for k, v in ids.items()})
        dense_counts = lib_t = None
        if with_counts:
            dense_counts = torch.from_numpy(counts.toarray()).to(device)
            lib_t = torch.from_numpy(lib).to(device)
        data = cls(torch.from_numpy(x).to(device), dense_counts, lib_t, registries,
                   {k: torch.from_numpy(v).to(device) for k, v in ids.items()}, train_idx, val_idx, library)
        return data.with_values(continuous, values)

    def with_values(self, continuous: dict[str, ContinuousRegistry], values: dict[str, np.ndarray]):
        """Set the continuous columns: ``continuous`` (registries) and ``values`` (normalised, per kept cell)."""
        self.continuous = continuous
        self.values = {k: torch.from_numpy(v).to(self.device) for k, v in values.items()}
        return self

    # ---------------------------------------------------------------- what the training stages use
    def split(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of ``t`` (one per kept cell) of the training and the validation cells."""
        return t[torch.from_numpy(self.train_idx).to(t.device)], t[torch.from_numpy(self.val_idx).to(t.device)]

    def _tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.x, self.counts, self.lib) if self.counts is not None else (self.x,)

    def autoencoder_batches(self) -> tuple[torch.Tensor, ...] | BatchSource:
        """The autoencoder's training rows: ``(x, [counts, library])`` tensors (or a streaming source)."""
        return tuple(self.split(t)[0] for t in self._tensors())

    def validation_tensors(self) -> tuple[torch.Tensor, ...]:
        """``(x, [counts, library])`` of the validation cells (empty rows when there are none)."""
        return tuple(self.split(t)[1] for t in self._tensors())

    def sample_training_cells(self, max_cells: int, seed: int) -> tuple[torch.Tensor, ...]:
        """``(x, [counts, library])`` of at most ``max_cells`` training cells drawn at random (seeded)."""
        rows = self._some_training_cells(max_cells, seed)
        return tuple(t[torch.from_numpy(rows).to(t.device)] for t in self._tensors())

    def _some_training_cells(self, max_cells: int, seed: int) -> np.ndarray:
        rows = np.asarray(self.train_idx)
        if len(rows) > max_cells:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_cells, replace=False))
        return rows

    def iter_log_normalized(self, progress: bool = False) -> Iterator[torch.Tensor]:
        """Log-normalised expression of every kept cell, in order, chunk by chunk."""
        yield self.x

    @property
    def n_validation(self) -> int:
        return len(self.val_idx)

    def fingerprint(self) -> dict:
        """What identifies the data for resumable checkpoints."""
        return {"n_cells": self.n_cells, "x_sum": round(float(self.x.sum()), 2)}


class BackedTrainingData(TrainingData):
    """Training cells on disk: counts of an ``.h5ad`` read in row chunks, never whole.

    One chunked pass validates the counts and fits the gene and cell filters; the autoencoder's batches are
    streamed through a buffer; at most :data:`BACKED_VALIDATION_CELLS` validation cells are read into memory.
    Resumable checkpoints are not available (the streamed batches cannot be replayed).
    """

    backed = True

    def __init__(self, counts: BackedCounts, scan, preprocessor: Preprocessor, registries, labels, train_idx,
                 val_idx, library_sizes: LibrarySizes, with_counts: bool, device: torch.device, summary: dict):
        self._file, self._scan, self._preprocessor = counts, scan, preprocessor
        self.registries, self.labels = registries, labels
        self.train_idx, self.val_idx = train_idx, val_idx
        self.library = library_sizes
        self.n_cells = int(scan.cell_mask.sum())
        self.with_counts, self.device = with_counts, device
        self.summary = summary
        self._val: tuple[torch.Tensor, ...] | None = None

    @staticmethod
    def path_of(adata: ad.AnnData | str | os.PathLike) -> Path:
        """The ``.h5ad`` path behind ``adata`` (a path, or an AnnData opened ``backed='r'``)."""
        if isinstance(adata, ad.AnnData):
            if adata.isbacked:
                return Path(adata.filename)
            raise InputError("backed=True reads the counts from an .h5ad file: pass its path (or an AnnData opened "
                             "with `anndata.read_h5ad(path, backed='r')`), or use backed=False for data in memory.")
        if not isinstance(adata, (str, os.PathLike)):
            raise InputError(f"backed=True needs the path of an .h5ad file, got {type(adata).__name__}.")
        return Path(adata)

    @classmethod
    def from_h5ad(cls, path: str | os.PathLike, preprocessor: Preprocessor, *, labels_keys: list[str],
                  layer: str | None, min_cells_per_label: int, validation_fraction: float, seed: int,
                  with_counts: bool, device: torch.device, continuous_keys: list[str] = (),
                  continuous_pseudotime: bool | None = None) -> BackedTrainingData:
        """Scan the counts on disk (validation, filters, library sizes); keep only labels and sizes in memory.
        Continuous values are used as measured (``continuous_pseudotime`` needs the expression in memory)."""
        t0 = time.perf_counter()
        counts = BackedCounts(path, layer)
        scan = scan_counts(counts, preprocessor)
        seconds = time.perf_counter() - t0
        registries, ids = fit_registries(counts.obs.loc[scan.cell_mask], labels_keys,
                                         min_cells_per_label=min_cells_per_label)
        continuous, values = fit_continuous(counts.obs.loc[scan.cell_mask], continuous_keys)
        if continuous_pseudotime is not False and continuous_keys:
            logger.log(logging.WARNING if continuous_pseudotime else logging.INFO,
                       "backed=True: the continuous columns %s are used as measured (spreading them within time "
                       "points needs the expression in memory; train without backed=True for it).",
                       list(continuous_keys))
        n = int(scan.cell_mask.sum())
        train_idx, val_idx = validation_split(n, validation_fraction, seed, BACKED_VALIDATION_CELLS)
        library = LibrarySizes(torch.from_numpy(scan.library[train_idx]),
                               {k: torch.from_numpy(v[train_idx]) for k, v in ids.items()})
        summary = {"path": str(path), "n_cells_file": counts.n_obs, "n_genes_file": counts.n_vars, "n_cells": n,
                   "n_genes": len(preprocessor.genes), "n_validation": len(val_idx), "scan_seconds": seconds,
                   "scan_cells_per_s": counts.n_obs / max(seconds, 1e-9)}
        data = cls(counts, scan, preprocessor, registries, {k: torch.from_numpy(v).to(device) for k, v in ids.items()},
                   train_idx, val_idx, library, with_counts, device, summary)
        return TrainingData.with_values(data, continuous, values)

    def autoencoder_batches(self) -> BatchSource:
        self._source = BackedBatchSource(self._file, self._scan, self.train_idx, self._preprocessor.target_sum,
                                         with_counts=self.with_counts, device=self.device)
        return self._source

    def validation_tensors(self) -> tuple[torch.Tensor, ...]:
        if self._val is None:
            self._val = self._read_kept_cells(self.val_idx)
        return self._val

    def sample_training_cells(self, max_cells: int, seed: int) -> tuple[torch.Tensor, ...]:
        return self._read_kept_cells(self._some_training_cells(max_cells, seed))

    def _read_kept_cells(self, positions: np.ndarray) -> tuple[torch.Tensor, ...]:
        """``(x, [counts, library])`` of kept cells at ``positions`` (indices among the kept cells), from disk."""
        source = BackedBatchSource(self._file, self._scan, self.train_idx, self._preprocessor.target_sum,
                                   with_counts=self.with_counts, device=self.device)
        rows = np.flatnonzero(self._scan.cell_mask)[positions]
        return source.read_file_rows(rows) if len(rows) else ()

    def iter_log_normalized(self, progress: bool = True) -> Iterator[torch.Tensor]:
        t0, n = time.perf_counter(), 0
        for c in iter_kept_cells(self._file, self._scan, progress=progress, desc="encoding"):
            n += c.shape[0]
            yield torch.from_numpy(log_normalize(c, self._preprocessor.target_sum))
        seconds = time.perf_counter() - t0
        self.summary.update(encode_seconds=seconds, encode_cells_per_s=n / max(seconds, 1e-9))

    @property
    def buffer_refills(self) -> int:
        return getattr(getattr(self, "_source", None), "n_refills", 0)

    def fingerprint(self) -> dict:
        raise InputError("Resumable checkpoints (checkpoint_dir) are not available with backed=True: the streamed "
                         "batches cannot be replayed. Train without checkpoint_dir, or in memory (backed=False).")
