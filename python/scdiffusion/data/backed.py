"""Chunked access to counts on disk: read an ``.h5ad`` row chunk by row chunk.

Training on more cells than fit in memory reads the counts matrix of an ``.h5ad`` in contiguous row chunks
(CSR: ``indptr[a:b+1]``, then one slice of ``data`` and ``indices``), never the whole matrix. (Writing large
outputs chunk by chunk: :mod:`scdiffusion.data.h5ad_writer`.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from ..errors import InputError
from .preprocessing import Preprocessor, log_normalize
from .validation import check_counts_matrix, check_unique_names

logger = logging.getLogger(__name__)

#: Rows read per disk access by default (about 10-50 MB of CSR for 2,000 genes).
DEFAULT_CHUNK_ROWS = 8192


def _attr(obj, key: str, default=None):
    value = obj.attrs.get(key, default)
    return value.decode() if isinstance(value, bytes) else value


class BackedCounts:
    """A counts matrix (``X`` or a layer) of an ``.h5ad`` file, read in row chunks.

    The file is opened read-only and never modified. ``obs`` and ``var`` are read in memory (small);
    the matrix stays on disk.

    Parameters
    ----------
    path
        The ``.h5ad`` file.
    layer
        Layer holding raw counts (default ``X``).

    Raises
    ------
    InputError
        When the file cannot be read, the layer is missing, or the matrix is stored as CSC.
    """

    def __init__(self, path: str | os.PathLike, layer: str | None = None):
        import h5py
        from anndata.io import read_elem

        self.path = Path(path)
        self.layer = layer
        if not self.path.exists():
            raise InputError(f"Input file '{self.path}' does not exist.")
        if self.path.suffix != ".h5ad":
            raise InputError(f"Backed (out-of-core) training reads .h5ad files only, got '{self.path}'. "
                             "Save your data with `adata.write_h5ad()`.")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as err:
            raise InputError(f"Could not open '{self.path}' as HDF5/.h5ad ({err}).") from err
        f = self._file
        self.what = "X" if layer is None else f"layers['{layer}']"
        if layer is None:
            if "X" not in f:
                self.close()
                raise InputError(f"'{self.path}' has no X. Pass the layer that holds raw counts with `layer=`.")
            node = f["X"]
        else:
            layers = f["layers"] if "layers" in f else {}
            if layer not in layers:
                avail = ", ".join(layers.keys()) or "(none)"
                self.close()
                raise InputError(f"Layer '{layer}' is not in adata.layers. Available layers: {avail}.")
            node = layers[layer]
        try:
            self.obs = read_elem(f["obs"])
            self.var_names = pd.Index(read_elem(f["var"]).index.astype(str))
        except Exception as err:  # noqa: BLE001 - h5py/anndata raise many types
            self.close()
            raise InputError(f"Could not read obs/var of '{self.path}' ({type(err).__name__}: {err}).") from err
        encoding = _attr(node, "encoding-type", "array")
        if isinstance(node, h5py.Dataset):
            self._dense, self.shape = node, tuple(int(s) for s in node.shape)
        elif encoding == "csr_matrix":
            self._dense = None
            self.shape = tuple(int(s) for s in node.attrs["shape"])
            self._data, self._indices, self._indptr = node["data"], node["indices"], node["indptr"]
        else:
            self.close()
            raise InputError(
                f"{self.what} of '{self.path}' is stored as {encoding}; out-of-core training reads rows, which "
                "needs CSR (or dense). Convert once with `adata.X = scipy.sparse.csr_matrix(adata.X)` "
                "(for a layer: `adata.layers[name] = ...`) and `adata.write_h5ad(path)`."
            )
        if len(self.shape) != 2 or len(self.obs) != self.shape[0] or len(self.var_names) != self.shape[1]:
            self.close()
            raise InputError(f"{self.what} of '{self.path}' has shape {self.shape}, but obs has {len(self.obs)} "
                             f"rows and var {len(self.var_names)}; the file is inconsistent. Rewrite it with anndata.")

    @property
    def n_obs(self) -> int:
        return self.shape[0]

    @property
    def n_vars(self) -> int:
        return self.shape[1]

    def read_rows(self, start: int, stop: int) -> sp.csr_matrix:
        """Rows ``start:stop`` as CSR float32 (canonical: sorted indices, no duplicates)."""
        if self._dense is not None:
            return sp.csr_matrix(np.asarray(self._dense[start:stop], dtype=np.float32))
        ptr = np.asarray(self._indptr[start:stop + 1], dtype=np.int64)
        a, b = int(ptr[0]), int(ptr[-1])
        data = np.asarray(self._data[a:b], dtype=np.float32)
        indices = np.asarray(self._indices[a:b])
        x = sp.csr_matrix((data, indices, ptr - a), shape=(stop - start, self.n_vars))
        if not x.has_canonical_format:
            x.sum_duplicates()
        return x

    def iter_chunks(self, chunk_rows: int = DEFAULT_CHUNK_ROWS, *, progress: bool = False,
                    desc: str = "reading") -> Iterator[tuple[int, sp.csr_matrix]]:
        """Yield ``(start, rows start:start+chunk_rows as CSR)`` over the whole matrix, in order."""
        starts = range(0, self.n_obs, chunk_rows)
        for start in tqdm(starts, desc=desc, disable=not progress, leave=False):
            yield start, self.read_rows(start, min(start + chunk_rows, self.n_obs))

    def close(self) -> None:
        if getattr(self, "_file", None) is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> BackedCounts:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


@dataclass
class BackedScan:
    """What one chunked pass over the counts found (see :func:`scan_counts`).

    Attributes
    ----------
    gene_idx
        Column indices of the kept genes, in file order.
    cell_mask
        Boolean mask over all rows: the kept cells.
    library
        Library sizes over the kept genes of the kept cells (float32).
    n_cells_per_gene
        Cells with a non-zero count, per gene (all genes).
    """

    gene_idx: np.ndarray
    cell_mask: np.ndarray
    library: np.ndarray
    n_cells_per_gene: np.ndarray


def scan_counts(counts: BackedCounts, preprocessor: Preprocessor, *, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                progress: bool = True) -> BackedScan:
    """One chunked pass: validate every chunk and fit ``preprocessor``'s gene and cell filters.

    Gives the same genes, cells and library sizes as :meth:`Preprocessor.fit_transform` on the
    matrix in memory, and raises the same :class:`InputError` on NaN, infinite, negative or non-integer
    values. Sets ``preprocessor.genes``.
    """
    check_unique_names(counts.var_names, what="gene")
    check_unique_names(counts.obs.index, what="cell")
    n_genes, min_cells = counts.n_vars, preprocessor.min_cells
    n_cells_per_gene = np.zeros(n_genes, dtype=np.int64)
    lib_all = np.zeros(counts.n_obs, dtype=np.float64)
    # entries of genes seen in fewer than min_cells cells so far: enough to subtract the genes that end up
    # dropped from the library sizes without a second pass (a dropped gene has < min_cells entries)
    rare_rows, rare_cols, rare_vals = [], [], []
    nnz = 0
    for start, x in counts.iter_chunks(chunk_rows, progress=progress, desc="scanning counts"):
        if x.nnz:
            check_counts_matrix(x, what=counts.what)
        nnz += x.nnz
        lib_all[start:start + x.shape[0]] = np.asarray(x.sum(axis=1), dtype=np.float64).ravel()
        positive = x.data > 0
        before = n_cells_per_gene.copy()
        n_cells_per_gene += np.bincount(x.indices[positive], minlength=n_genes)
        keep = positive & (before[x.indices] < min_cells)
        if keep.any():
            rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))[keep] + start
            rare_rows.append(rows)
            rare_cols.append(x.indices[keep].astype(np.int64))
            rare_vals.append(x.data[keep].astype(np.float64))
        if rare_cols:  # forget genes that reached min_cells: they are kept
            r, c, v = (np.concatenate(a) for a in (rare_rows, rare_cols, rare_vals))
            still = n_cells_per_gene[c] < min_cells
            rare_rows, rare_cols, rare_vals = [r[still]], [c[still]], [v[still]]
    if nnz == 0:
        raise InputError(f"{counts.what} holds no non-zero value: every cell is empty. Pass raw counts.")
    gene_mask = n_cells_per_gene >= min_cells
    if not gene_mask.any():
        raise InputError(f"No gene is detected in at least {min_cells} cells. Pass more cells or lower min_cells.")
    if gene_mask.sum() < 2:
        raise InputError(f"Only 1 gene is detected in at least {min_cells} cells; scDiffusion models several genes "
                         "(in practice thousands). Pass more genes or lower min_cells.")
    lib = lib_all
    if rare_cols:
        r, c, v = (np.concatenate(a) for a in (rare_rows, rare_cols, rare_vals))
        lib = lib_all - np.bincount(r[~gene_mask[c]], weights=v[~gene_mask[c]], minlength=counts.n_obs)
    cell_mask = lib >= preprocessor.min_counts
    if cell_mask.sum() < 2:
        raise InputError(
            f"Only {int(cell_mask.sum())} cells have at least {preprocessor.min_counts} counts over the kept genes; "
            "scDiffusion needs at least 2 (in practice hundreds). Pass more cells or lower min_counts."
        )
    logger.info("Preprocessing (backed): kept %d/%d genes (detected in >= %d cells) and %d/%d cells (>= %d counts).",
                gene_mask.sum(), n_genes, min_cells, cell_mask.sum(), len(cell_mask), preprocessor.min_counts)
    preprocessor.genes = [str(g) for g in counts.var_names[gene_mask]]
    return BackedScan(np.flatnonzero(gene_mask), cell_mask, lib[cell_mask].astype(np.float32), n_cells_per_gene)


class BackedBatchSource:
    """Random training batches of log-normalised cells streamed from disk through an in-memory buffer.

    The buffer holds ``buffer_cells`` cells from randomly chosen contiguous row blocks (dense log-normalised
    expression, and for count likelihoods raw counts and library sizes, on ``device``). Batches are drawn
    uniformly from the buffer; after ``buffer_cells / batch_size`` batches the buffer is refilled.
    :func:`~scdiffusion.train.fit` accepts it in place of its tensors.

    Parameters
    ----------
    counts
        The matrix on disk.
    scan
        Its :func:`scan_counts` result (kept genes and cells).
    rows
        Indices of the training cells among the kept cells, sorted.
    target_sum
        Normalisation target of ``log_normalize``.
    with_counts
        Also yield raw counts and library sizes (count likelihoods).
    buffer_cells, block_rows
        Buffer size, and rows of the file read per random block.
    """

    def __init__(self, counts: BackedCounts, scan: BackedScan, rows: np.ndarray, target_sum: float, *,
                 with_counts: bool, device: torch.device | str = "cpu", buffer_cells: int = 32768,
                 block_rows: int = 2048):
        self.counts, self.scan, self.target_sum = counts, scan, float(target_sum)
        self.with_counts, self.device = with_counts, torch.device(device)
        # file row of every training cell, and which training cells each block of the file holds
        kept_rows = np.flatnonzero(scan.cell_mask)
        self._file_rows = kept_rows[np.asarray(rows)]
        self.n_rows = len(self._file_rows)
        self.block_rows = int(block_rows)
        blocks = self._file_rows // self.block_rows
        self._blocks, self._block_start = np.unique(blocks, return_index=True)
        self._block_stop = np.append(self._block_start[1:], self.n_rows)
        self.buffer_cells = int(min(buffer_cells, self.n_rows))
        self._buffer: tuple[torch.Tensor, ...] = ()
        self._draws_left = 0
        self.n_refills = 0

    def read(self, train_positions: np.ndarray) -> tuple[torch.Tensor, ...]:
        """Tensors (x, [counts, library]) of the given training cells (positions into ``rows``, sorted)."""
        return self.read_file_rows(self._file_rows[train_positions])

    def read_file_rows(self, file_rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        """Tensors (x, [counts, library]) of kept cells given by their sorted rows in the file."""
        parts = []
        for block in np.unique(file_rows // self.block_rows):
            a = int(block) * self.block_rows
            sel = file_rows[(file_rows >= a) & (file_rows < a + self.block_rows)]
            if len(sel) * 16 < self.block_rows:  # a few cells: read them one by one
                x = sp.vstack([self.counts.read_rows(int(r), int(r) + 1) for r in sel], format="csr")
            else:
                x = self.counts.read_rows(a, min(a + self.block_rows, self.counts.n_obs))[sel - a]
            parts.append(x[:, self.scan.gene_idx])
        return self._tensors(sp.vstack(parts, format="csr"))

    def _tensors(self, counts: sp.csr_matrix) -> tuple[torch.Tensor, ...]:
        x = torch.from_numpy(log_normalize(counts, self.target_sum)).to(self.device)
        if not self.with_counts:
            return (x,)
        lib = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
        return x, torch.from_numpy(counts.toarray()).to(self.device), torch.from_numpy(lib).to(self.device)

    def _refill(self, generator: torch.Generator | None) -> None:
        self._buffer = ()  # free the old buffer before reading the new one
        order = torch.randperm(len(self._blocks), generator=generator).numpy()
        chosen, n = [], 0
        for i in order:
            chosen.append(i)
            n += int(self._block_stop[i] - self._block_start[i])
            if n >= self.buffer_cells:
                break
        positions = np.concatenate([np.arange(self._block_start[i], self._block_stop[i]) for i in sorted(chosen)])
        self._buffer = self.read(positions)
        self.n_refills += 1

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """One batch of ``batch_size`` cells drawn from the buffer (refilled when used up)."""
        holds_all = bool(self._buffer) and len(self._buffer[0]) == self.n_rows
        if not self._buffer or (self._draws_left <= 0 and not holds_all):
            self._refill(generator)
            self._draws_left = max(1, len(self._buffer[0]) // batch_size)
        self._draws_left -= 1
        idx = torch.randint(0, len(self._buffer[0]), (batch_size,), generator=generator).to(self.device)
        return tuple(t[idx] for t in self._buffer)


def iter_kept_cells(counts: BackedCounts, scan: BackedScan, *, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                    progress: bool = True, desc: str = "reading cells") -> Iterator[sp.csr_matrix]:
    """Counts of the kept cells over the kept genes, in file order, one CSR chunk at a time."""
    for start, x in counts.iter_chunks(chunk_rows, progress=progress, desc=desc):
        mask = scan.cell_mask[start:start + x.shape[0]]
        if mask.any():
            yield x[mask][:, scan.gene_idx]
