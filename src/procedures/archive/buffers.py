"""The buffered writers behind :class:`procedures.archive.writer.RunArchive`: rows and records on their way to the file.

Each dataset of an open archive gets one writer. Rows of the tables and the per-record scaling wait in
memory (:class:`RowBuffer`, :class:`StrRows`) and reach the file only when the archive commits, as whole
chunks; the large codes of a record go out at once (:class:`CodeWriter`). :func:`open_writers` makes
them for an archive reopened after its committed rows. Nothing here flushes or moves the counters:
that is the commit protocol of :meth:`procedures.archive.writer.RunArchive.commit` (§0.3, §2.3 of
``docs/reference/hdf5-archive.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from procedures.archive.layout import group_spec
from procedures.archive.spec import (
    RECORD_VAR_NAMES,
    VLEN_STR,
    WAVEFORMS_GROUP,
    StoredVar,
    TableSpec,
    WaveformSpec,
    stored_vars,
)


class RowBuffer:
    """Rows for one chunked dataset of a fixed-size type, written as whole chunks at commit time.

    Rows collect in a one-chunk buffer; :meth:`write_out` sets the extent and writes every touched chunk
    with HDF5's direct chunk write (``H5Dwrite_chunk``), which skips the selection, conversion and
    chunk-cache machinery. Measured on this project's VM: ~12 us per dataset and commit against ~30 us
    for an ``H5Dwrite`` of one row (and ~270 us for h5py's ``resize`` + ``ds[i] = x``), plus the chunk
    cache's write-back at every flush. A point writes about a dozen small variables, so this is most of
    the archive's overhead against a plain write of the codes (§2.3 "the time goes into the
    resize-and-write calls"). The tables have no filters, so a chunk's bytes are the rows themselves.
    """

    __slots__ = ("ds", "row_shape", "chunk_rows", "n", "n_written", "_buf", "_buf_start", "_full", "_zeros")

    def __init__(self, ds: h5py.Dataset, n: int = 0) -> None:
        self.ds = ds
        self.row_shape = tuple(ds.shape[1:])
        self.chunk_rows = ds.chunks[0]
        self.n = n
        self.n_written = n
        self._buf = np.zeros((self.chunk_rows,) + self.row_shape, dtype=ds.dtype)
        self._buf_start = n - n % self.chunk_rows
        if n > self._buf_start:  # reopened mid-chunk: the next write rewrites that chunk whole
            self._buf[: n - self._buf_start] = ds[self._buf_start : n]
        self._full: list[tuple[int, bytes]] = []
        self._zeros = (0,) * len(self.row_shape)

    def append(self, rows: np.ndarray) -> None:
        """Queue ``rows`` (shape ``(k, *row_shape)``); they reach the file in :meth:`write_out`."""
        k = rows.shape[0]
        i = 0
        while i < k:
            pos = self.n - self._buf_start
            take = min(k - i, self.chunk_rows - pos)
            self._buf[pos : pos + take] = rows[i : i + take]
            self.n += take
            i += take
            if self.n - self._buf_start == self.chunk_rows:
                self._full.append((self._buf_start, self._buf.tobytes()))
                self._buf_start += self.chunk_rows
                self._buf[...] = 0

    def write_out(self) -> None:
        """Grow the dataset to the queued rows and write the chunks that hold them."""
        if self.n == self.n_written:
            return
        dsid = self.ds.id
        dsid.set_extent((self.n,) + self.row_shape)
        for start, data in self._full:
            dsid.write_direct_chunk((start,) + self._zeros, data)
        self._full.clear()
        if self.n > self._buf_start:
            dsid.write_direct_chunk((self._buf_start,) + self._zeros, self._buf)
        self.n_written = self.n


class StrRows:
    """Rows of a variable-length string dataset, queued and written with one ``H5Dwrite`` at commit.

    Variable-length data live in HDF5's global heap, so they cannot be written as raw chunks.
    """

    __slots__ = ("ds", "row_shape", "n", "n_written", "_pending")

    def __init__(self, ds: h5py.Dataset, n: int = 0) -> None:
        self.ds = ds
        self.row_shape = tuple(ds.shape[1:])
        self.n = n
        self.n_written = n
        self._pending: list[np.ndarray] = []

    def append(self, rows: np.ndarray) -> None:
        """Queue ``rows`` (shape ``(k, *row_shape)``, str objects)."""
        self._pending.append(rows)
        self.n += rows.shape[0]

    def write_out(self) -> None:
        """Grow the dataset and write the queued rows."""
        if self.n == self.n_written:
            return
        rows = np.empty((self.n - self.n_written,) + self.row_shape, dtype=VLEN_STR)
        pos = 0
        for block in self._pending:
            rows[pos : pos + block.shape[0]] = block
            pos += block.shape[0]
        dsid = self.ds.id
        dsid.set_extent((self.n,) + self.row_shape)
        fspace = dsid.get_space()
        fspace.select_hyperslab((self.n_written,) + (0,) * len(self.row_shape), rows.shape)
        dsid.write(h5py.h5s.create_simple(rows.shape), fspace, rows)
        self._pending.clear()
        self.n_written = self.n


def row_writer(ds: h5py.Dataset, n: int) -> RowBuffer | StrRows:
    """The writer for table dataset ``ds`` holding ``n`` committed rows."""
    return StrRows(ds, n) if h5py.check_string_dtype(ds.dtype) is not None else RowBuffer(ds, n)


class CodeWriter:
    """Writes each record's codes at once (they are large): one chunk per channel per record (§0.4, §3).

    Uncompressed codes go out as direct chunk writes (a channel's samples are exactly one chunk);
    compressed ones through HDF5's filter pipeline (shuffle + deflate).
    """

    __slots__ = ("ds", "n", "_direct", "_C", "_N")

    def __init__(self, ds: h5py.Dataset, n: int = 0) -> None:
        self.ds = ds
        self.n = n
        self._direct = ds.compression is None and not ds.shuffle
        _, self._C, self._N = ds.shape

    def append(self, codes: np.ndarray) -> None:
        """Write one record, ``codes`` of shape ``(channels, samples)`` in the dataset's dtype."""
        n = self.n
        dsid = self.ds.id
        dsid.set_extent((n + 1, self._C, self._N))
        if self._direct:
            for c in range(self._C):
                dsid.write_direct_chunk((n, c, 0), codes[c])
        else:
            fspace = dsid.get_space()
            fspace.select_hyperslab((n, 0, 0), (1, self._C, self._N))
            dsid.write(h5py.h5s.create_simple((1, self._C, self._N)), fspace, codes.reshape(1, self._C, self._N))
        self.n = n + 1


@dataclass
class TableWriters:
    """The writers of one table: one per stored dataset, keyed by dataset name."""

    name: str
    spec: TableSpec
    vars: list[StoredVar]
    writers: dict[str, RowBuffer | StrRows]

    @property
    def n(self) -> int:
        return next(iter(self.writers.values())).n


@dataclass
class RecordWriters:
    """The writers of the raw records: the codes, and one buffer per per-record variable (``RECORD_VARS``)."""

    spec: WaveformSpec
    code: CodeWriter
    rows: dict[str, RowBuffer]

    def small(self) -> tuple[RowBuffer, ...]:
        """The buffered per-record variables (everything but the codes)."""
        return tuple(self.rows.values())

    @property
    def n(self) -> int:
        return self.code.n


def open_writers(entry: h5py.Group, counts: dict[str, int]) -> tuple[dict[str, TableWriters], RecordWriters | None]:
    """Writers for every table and the records of an archive's ``/entry``, continuing after ``counts`` rows."""
    tables: dict[str, TableWriters] = {}
    records: RecordWriters | None = None
    for name, n in counts.items():
        g = entry[name]
        spec_json = group_spec(g)
        if name == WAVEFORMS_GROUP:
            rows = {v: RowBuffer(g[v], n) for v in RECORD_VAR_NAMES}
            records = RecordWriters(WaveformSpec.from_json(spec_json), CodeWriter(g["code"], n), rows)
        else:
            spec = TableSpec.from_json(spec_json)
            vars_ = stored_vars(spec)
            # The axis coordinate goes last: commit() grows it after every other variable, so a writer killed
            # in the middle leaves the coordinate no longer than the data (xarray and netCDF-C then size the
            # dimension from the longest variable and read the file; a longer coordinate breaks xarray).
            ordered = sorted(vars_, key=lambda sv: sv.key == spec.axis)
            writers = {h5name: row_writer(g[h5name], n) for sv in ordered for h5name, _ in sv.datasets}
            tables[name] = TableWriters(name, spec, vars_, writers)
    return tables, records
