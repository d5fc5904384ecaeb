"""Writing an AnnData ``.h5ad`` chunk by chunk (generated cells beyond memory), in anndata's on-disk format."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

logger = logging.getLogger(__name__)


class CSRWriter:
    """Append rows to a CSR matrix in an open ``h5py`` file, in anndata's on-disk format.

    Parameters
    ----------
    group_parent
        The h5py group (or file) to create the matrix in.
    name
        Name of the matrix group (e.g. ``"X"`` or ``"counts"`` inside ``layers``).
    n_rows, n_cols
        Final shape (the rows must add up to ``n_rows`` before :meth:`close`).
    dtype
        Value dtype.
    """

    def __init__(self, group_parent, name: str, n_rows: int, n_cols: int, dtype=np.float32,
                 compression: str | None = None):
        self.group = group_parent.create_group(name)
        self.group.attrs["encoding-type"] = "csr_matrix"
        self.group.attrs["encoding-version"] = "0.1.0"
        self.group.attrs["shape"] = np.array([n_rows, n_cols], dtype=np.int64)
        chunk = (1 << 18,)
        self._data = self.group.create_dataset("data", shape=(0,), maxshape=(None,), dtype=dtype, chunks=chunk,
                                               compression=compression)
        self._indices = self.group.create_dataset("indices", shape=(0,), maxshape=(None,), dtype=np.int32,
                                                  chunks=chunk, compression=compression)
        self._indptr = self.group.create_dataset("indptr", shape=(n_rows + 1,), dtype=np.int64)
        self.n_rows, self.n_cols = int(n_rows), int(n_cols)
        self.row, self.nnz = 0, 0

    def append(self, x: sp.csr_matrix) -> None:
        """Append the rows of ``x`` (CSR with ``n_cols`` columns)."""
        x = sp.csr_matrix(x)
        if x.shape[1] != self.n_cols or self.row + x.shape[0] > self.n_rows:
            raise ValueError(f"Cannot append a {x.shape} block at row {self.row} of a {self.n_rows}×{self.n_cols} "
                             "matrix.")
        n = x.nnz
        self._data.resize((self.nnz + n,))
        self._indices.resize((self.nnz + n,))
        self._data[self.nnz:] = x.data.astype(self._data.dtype, copy=False)
        self._indices[self.nnz:] = x.indices.astype(np.int32, copy=False)
        self._indptr[self.row:self.row + x.shape[0] + 1] = x.indptr.astype(np.int64) + self.nnz
        self.row += x.shape[0]
        self.nnz += n

    def close(self) -> None:
        """Check that every row was written."""
        if self.row != self.n_rows:
            raise ValueError(f"Only {self.row} of {self.n_rows} rows were written.")
        if self.n_rows == 0:
            self._indptr[0] = 0


class ChunkedH5ADWriter:
    """An ``.h5ad`` whose rows arrive in chunks: CSR ``X`` and layers, dense ``obsm``; ``obs``/``uns`` at the end.

    Parameters
    ----------
    path
        File to write (callers write to a temporary file and rename it; see :mod:`scdiffusion.atomic`).
    n_obs
        Final number of cells.
    var_names
        Genes (columns).
    layers
        Names of the CSR layers.
    obsm
        ``{name: number of columns}`` of dense float32 ``obsm`` entries.
    """

    def __init__(self, path: str, n_obs: int, var_names: list[str], *, layers: tuple[str, ...] = (),
                 obsm: dict[str, int] | None = None):
        import h5py

        # no chunk cache: every append reaches the file at once, so a full disk fails the append that hit it and
        # no dirty chunks wait for the close (flushing them on a full disk at release crashes h5py)
        self._path = str(path)
        self._file = f = h5py.File(path, "w", rdcc_nbytes=0)
        self.n_obs, self.var_names, self.row = int(n_obs), list(var_names), 0
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
        n_vars = len(self.var_names)
        self._x = CSRWriter(f, "X", n_obs, n_vars)
        group = f.create_group("layers")
        group.attrs["encoding-type"], group.attrs["encoding-version"] = "dict", "0.1.0"
        self._layers = {name: CSRWriter(group, name, n_obs, n_vars) for name in layers}
        group = f.create_group("obsm")
        group.attrs["encoding-type"], group.attrs["encoding-version"] = "dict", "0.1.0"
        self._obsm = {}
        for name, n_cols in (obsm or {}).items():
            d = group.create_dataset(name, shape=(n_obs, n_cols), dtype=np.float32,
                                     chunks=(min(max(n_obs, 1), 4096), n_cols))
            d.attrs["encoding-type"], d.attrs["encoding-version"] = "array", "0.2.0"
            self._obsm[name] = d

    def append(self, x: sp.spmatrix | np.ndarray, layers: dict[str, sp.spmatrix | np.ndarray] | None = None,
               obsm: dict[str, np.ndarray] | None = None) -> None:
        """Append the next rows: ``X``, every layer and every ``obsm`` entry for the same cells."""
        n = x.shape[0]
        self._x.append(sp.csr_matrix(x))
        for name, writer in self._layers.items():
            writer.append(sp.csr_matrix(layers[name]))
        for name, d in self._obsm.items():
            d[self.row:self.row + n] = obsm[name]
        self.row += n

    def finish(self, obs: pd.DataFrame, uns: dict) -> None:
        """Write ``obs`` (one row per cell), ``var``, ``uns`` and close the file."""
        from anndata.io import write_elem

        self._x.close()
        for writer in self._layers.values():
            writer.close()
        f = self._file
        write_elem(f, "obs", obs)
        write_elem(f, "var", pd.DataFrame(index=pd.Index(self.var_names)))
        write_elem(f, "uns", uns)
        for name in ("varm", "obsp", "varp"):
            write_elem(f, name, {})
        f.close()

    def close(self) -> None:
        """Close without finishing (after an error, e.g. a full disk).

        The datasets and groups are released before the file: h5py objects that outlive a file whose close
        failed (HDF5 could not flush its metadata) crash the interpreter when they are freed later.
        """
        self._x, self._layers, self._obsm = None, {}, {}
        f, self._file = self._file, None
        if f is None:
            return
        try:
            if f.id.valid:
                f.close()
        except Exception as err:  # noqa: BLE001  (the caller is already handling the error that got us here)
            # (the h5py File must not be touched after a failed close: even reading its name crashes)
            logger.debug("closing the unfinished .h5ad %s failed: %s", self._path, err)
