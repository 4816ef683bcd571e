"""Reading a run archive's raw scope records: :class:`Records`, lazy access to the committed codes and their scaling.

The per-record variables (:data:`procedures.archive.spec.RECORD_VARS`) are read at once; the codes, the bulk
of the file, are read one record at a time. The layout is in ``docs/archive.md`` ("Waveforms").
"""

from __future__ import annotations

import h5py
import numpy as np

from procedures.archive.checked_access import check_extent, check_var, damaged, dataset_in, read_rows, spec_json
from procedures.archive.h5_open import first_line
from procedures.archive.spec import RECORD_VARS, ArchiveError, WaveformSpec, validate_waveform_spec


class Records:
    """The committed raw scope records of a run, read lazily from the open file.

    ``point``, ``y_increment``, ``y_origin``, ``y_reference`` (shape ``(records, channels)``),
    ``x_increment``, ``x_origin`` and ``n_valid`` (shape ``(records,)``) are in memory (the per-record
    variables, ``procedures.archive.spec.RECORD_VARS``); codes are read per record.
    """

    point: np.ndarray
    y_increment: np.ndarray
    y_origin: np.ndarray
    y_reference: np.ndarray
    x_increment: np.ndarray
    x_origin: np.ndarray
    n_valid: np.ndarray

    def __init__(self, group: h5py.Group, spec: WaveformSpec, n: int) -> None:
        self.spec = spec
        C, N = len(spec.channels), spec.n_samples
        self.dataset: h5py.Dataset = dataset_in(group, "code")
        if self.dataset.ndim != 3 or self.dataset.shape[1:] != (C, N) or self.dataset.dtype != np.dtype(spec.dtype):
            raise ArchiveError(f"{group.file.filename}: {self.dataset.name} is {self.dataset.dtype} "
                               f"{self.dataset.shape}, not {spec.dtype} (record, {C}, {N}) as declared; the file "
                               "is damaged")
        self._n = n
        check_extent(group, self.dataset, n)
        for name, _, _, per_channel, dtype in RECORD_VARS:
            ds = dataset_in(group, name)
            check_var(ds, "int64" if dtype == "int64" else "float64", (C,) if per_channel else ())
            setattr(self, name, read_rows(group, ds, n))

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, in the order of the codes' first axis."""
        return self.spec.channels

    def __len__(self) -> int:
        return self._n

    def _index(self, i: int) -> int:
        j = i + self._n if i < 0 else i
        if not 0 <= j < self._n:
            raise IndexError(f"record {i} out of range ({self._n} committed records)")
        return j

    def codes(self, i: int) -> np.ndarray:
        """Record ``i``'s integer codes, shape ``(channels, n_valid)`` (the padding left out)."""
        j = self._index(i)
        return self.dataset[j, :, :int(self.n_valid[j])]

    def time_s(self, i: int) -> np.ndarray:
        """Record ``i``'s sample times in seconds relative to the trigger, shape ``(n_valid,)``."""
        j = self._index(i)
        return self.x_origin[j] + self.x_increment[j] * np.arange(int(self.n_valid[j]))

    def volts(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Record ``i`` in volts, shape ``(channels, samples)``, and its time axis in seconds.

        ``volts = (code - y_reference) * y_increment + y_origin`` per channel (the scopes' affine scaling,
        docs/reference/scpi.md §5).
        """
        j = self._index(i)
        codes = self.codes(j).astype(np.float64)
        v = (codes - self.y_reference[j][:, None]) * self.y_increment[j][:, None] + self.y_origin[j][:, None]
        return v, self.time_s(j)

    def of_point(self, point: int) -> np.ndarray:
        """Indices of the records that belong to measurement point ``point``."""
        return np.flatnonzero(self.point == point)


def waveform_spec(group: h5py.Group) -> WaveformSpec:
    """The records' declaration, decoded and checked like a new one."""
    d = spec_json(group)
    try:
        spec = WaveformSpec.from_json(d)
        validate_waveform_spec(spec)
    except (ArchiveError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise damaged(group, f"diffbench_spec is not a valid records declaration ({first_line(e)})") from None
    return spec


