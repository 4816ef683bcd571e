"""netCDF-4 dimensions as HDF5 dimension scales, and the CF attributes of a variable.

Written with h5py's own dims API (§1.1, §1.3), so that netCDF-C, h5netcdf and xarray read the archive's
variables with named dimensions. Used by the schema (:mod:`procedures.archive.layout`) and by the
whole-run results written at the end (:mod:`procedures.archive.result_groups`). ``§n`` refers to sections
of ``docs/reference/hdf5-archive.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import h5py
import numpy as np

from procedures.archive.spec import VLEN_STR

# netCDF-C's marker for a dimension that has no coordinate variable (h5netcdf writes the same).
NOT_A_VARIABLE = "This is a netCDF dimension but not a netCDF variable."


class DimMaker:
    """Creates netCDF-4 dimensions (HDF5 dimension scales) and attaches them (§1.1)."""

    def __init__(self, first_id: int = 0) -> None:
        self.next_id = first_id

    @classmethod
    def after(cls, group: h5py.Group) -> DimMaker:
        """A maker whose ids continue after every dimension already below ``group`` (ids are unique in a file)."""
        dimids: list[int] = []
        group.visititems(
            lambda _, obj: dimids.append(int(obj.attrs.get("_Netcdf4Dimid", -1)))
            if isinstance(obj, h5py.Dataset) else None
        )
        return cls(max(dimids, default=-1) + 1)

    def _ids(self, ds: h5py.Dataset, coordinate: bool) -> None:
        ds.attrs["_Netcdf4Dimid"] = np.int32(self.next_id)
        if coordinate:
            ds.attrs["_Netcdf4Coordinates"] = np.array([self.next_id], dtype=np.int32)
        self.next_id += 1

    def pure(self, group: h5py.Group, name: str, size: int, unlimited: bool = False) -> h5py.Dataset:
        """A dimension without coordinate values (netCDF-C's "not a variable" scale)."""
        if unlimited:
            ds = group.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(1024,), dtype="f4")
        else:
            ds = group.create_dataset(name, shape=(size,), dtype="f4")
        ds.make_scale(f"{NOT_A_VARIABLE}{0 if unlimited else size:10d}")
        self._ids(ds, coordinate=False)
        return ds

    def coordinate(self, group: h5py.Group, name: str, labels: Sequence[str], long_name: str) -> h5py.Dataset:
        """A dimension whose coordinate variable holds string labels."""
        ds = group.create_dataset(name, data=np.array(list(labels), dtype=VLEN_STR))
        ds.attrs["long_name"] = long_name
        ds.make_scale(name)
        self._ids(ds, coordinate=True)
        return ds

    def sample_index(self, group: h5py.Group, name: str, size: int, long_name: str) -> h5py.Dataset:
        """A fixed dimension whose coordinate variable holds the indices 0 .. ``size`` - 1 (int32: 4 bytes a
        sample, once per file), so that xarray indexes it and broadcasts a per-record time axis from it."""
        ds = group.create_dataset(name, data=np.arange(size, dtype=np.int32))
        ds.attrs["units"] = "1"
        ds.attrs["long_name"] = long_name
        ds.make_scale(name)
        self._ids(ds, coordinate=True)
        return ds

    def axis_coordinate(self, ds: h5py.Dataset) -> h5py.Dataset:
        """Make the 1-D variable ``ds`` the coordinate variable of a dimension of its own name (netCDF's rule
        for a coordinate variable); its values are data, written like any other variable's."""
        ds.make_scale(ds.name.rsplit("/", 1)[-1])
        self._ids(ds, coordinate=True)
        return ds

    @staticmethod
    def attach(ds: h5py.Dataset, scales: Sequence[h5py.Dataset]) -> None:
        """Attach ``scales`` to the axes of ``ds`` in order."""
        for axis, scale in enumerate(scales):
            ds.dims[axis].attach_scale(scale)


def set_var_attrs(ds: h5py.Dataset, units: str, long_name: str, kind: str = "") -> None:
    """CF attributes of a variable: ``units`` (if any), ``long_name``, and the flags of a ``bool`` one."""
    if units:
        ds.attrs["units"] = units
    ds.attrs["long_name"] = long_name
    if kind == "bool":
        ds.attrs["flag_values"] = np.array([0, 1], dtype=np.int8)
        ds.attrs["flag_meanings"] = "false true"
