"""Devices evaluated together: the instances of one model card share one vectorised evaluation.

The device equations work elementwise (:mod:`.device_equations`, :mod:`.gummel_poon`, :mod:`.mos_level1`,
:mod:`.diode_equations`), so devices of the same class and the same model (the pair's cascodes, a mirror's
transistors, every 2N3904 of a netlist) are evaluated in one call on terminal voltages of shape
(nt, n_devices, N) instead of one call each; only the sampled evaluation of the analyses uses this (the
single-point evaluations stay per device). Their currents and derivatives are added into the port arrays
through precomputed flat indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import FloatArray, IndexArray
from .devices import Device

#: ``[(targets, sources), ...]``: ``out[targets] += values[sources]`` layer by layer, targets unique per layer
Scatter = list[tuple[IndexArray, IndexArray]]


@dataclass
class DeviceGroup:
    """Devices of one class and one model: ``proto`` evaluates them all (its model is theirs), ``ports``
    (nt, n) the port of each terminal (-1 ground), and the scatters of terminal samples into the flat
    port vector (m), port matrix (m * m) and branch matrix (n_branches * m)."""

    proto: Device
    members: list[int]
    ports: IndexArray
    to_vector: Scatter
    to_matrix: Scatter
    to_branches: Scatter


def group_devices(devices: list[Device], device_ports: list[IndexArray], branch_rows: list[tuple[int, ...]],
                  branch_offsets: list[int], m: int) -> list[DeviceGroup]:
    """The devices grouped by (class, model, number of terminals), in order of first appearance."""
    keyed: dict[tuple[type, object, int], list[int]] = {}
    for d, dev in enumerate(devices):
        key: tuple[type, object, int] = (type(dev), getattr(dev, "model", None), len(dev.terminals))
        try:
            hash(key)
        except TypeError:
            key = (type(dev), id(dev), len(dev.terminals))
        keyed.setdefault(key, []).append(d)
    groups = []
    for members in keyed.values():
        ports = np.array([device_ports[d] for d in members]).T  # (nt, n)
        nt, n = ports.shape
        vec, mat, br = [], [], []
        for j, d in enumerate(members):
            for a in range(nt):
                pa = int(ports[a, j])
                if pa < 0:
                    continue
                vec.append((pa, a * n + j))
                for b in range(nt):
                    pb = int(ports[b, j])
                    if pb >= 0:
                        mat.append((pa * m + pb, (a * nt + b) * n + j))
            for k, row in enumerate(branch_rows[d]):
                for b in range(nt):
                    pb = int(ports[b, j])
                    if pb >= 0:
                        br.append(((branch_offsets[d] + k) * m + pb, (row * nt + b) * n + j))
        groups.append(DeviceGroup(devices[members[0]], members, ports, _layers(vec), _layers(mat), _layers(br)))
    return groups


def _layers(pairs: list[tuple[int, int]]) -> Scatter:
    """(target, source) pairs split into layers whose targets are unique (so a fancy-indexed ``+=`` adds
    every pair: two terminals of one device on one node, a diode-connected transistor, share a target)."""
    layers: list[tuple[list[int], list[int]]] = []
    for tgt, src in pairs:
        for tl, sl in layers:
            if tgt not in tl:
                tl.append(tgt)
                sl.append(src)
                break
        else:
            layers.append(([tgt], [src]))
    return [(np.array(tl, dtype=int), np.array(sl, dtype=int)) for tl, sl in layers]


def scatter_add(out: FloatArray, values: FloatArray, scatter: Scatter) -> None:
    """``out`` (T, N) += the rows of ``values`` (S, N) as ``scatter`` maps them (both flattened views)."""
    for tgt, src in scatter:
        out[tgt] += values[src]
