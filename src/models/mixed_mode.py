"""Mixed-mode gains from nodal gains, single-ended views and CMRRs (docs/conventions.md conventions).

``vid = v1 - v2``, ``vic = (v1 + v2)/2``, ``vod = vo1 - vo2``, ``voc = (vo1 + vo2)/2``; with
``T = [[1, -1], [1/2, 1/2]]`` and the nodal ``[vo1; vo2] = H [v1; v2]``, ``S = T H T^-1 = [[Add, Acd], [Adc, Acc]]``
(docs/reference/measurement-methods.md §3.2). Written out:

    Add = (h11 - h12 - h21 + h22)/2      Acd = h11 + h12 - h21 - h22
    Adc = (h11 - h12 + h21 - h22)/4      Acc = (h11 + h12 + h21 + h22)/2

Single-ended (§3.2): ``Ad_se,1 = Add/2 + Adc``, ``Acm_se,1 = Acc + Acd/2``, ``Ad_se,2 = -Add/2 + Adc``,
``Acm_se,2 = Acc - Acd/2``; ``CMRR_se,k = |Ad_se,k / Acm_se,k|`` (the textbook g_m R_SS figure) and
``CMRR_diff = |Add / Acd|`` (set by mismatch; infinite for a matched pair).

This module is the one home of that algebra: the prediction (``procedures.predict``), the measurement
(``procedures.analysis``) and the report all call it (docs/explanations/decisions/0004-mixed-mode-algebra.md).
It works on arrays of any shape, so the same formulas serve one measured S, a column of S over frequency
and a model curve; uncertainties are not its business (``procedures.analysis.propagation``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

T_MODE = np.array([[1.0, -1.0], [0.5, 0.5]])
"""Mode transform: ``[vid; vic] = T [v1; v2]`` and ``[vod; voc] = T [vo1; vo2]``."""

S_ELEMENTS: dict[str, tuple[int, int]] = {"Add": (0, 0), "Acd": (0, 1), "Adc": (1, 0), "Acc": (1, 1)}
"""Where each mixed-mode gain sits in ``S = [[Add, Acd], [Adc, Acc]]``, in row-major order."""

GAIN_NAMES: tuple[str, ...] = tuple(S_ELEMENTS)
"""The four gains in row-major order of S: ``("Add", "Acd", "Adc", "Acc")``."""


def db(x: ArrayLike) -> np.ndarray:
    """``20 log10 |x|`` in dB (``-inf`` for 0, ``inf`` for an infinite ratio), without warnings."""
    with np.errstate(divide="ignore"):
        out: np.ndarray = 20.0 * np.log10(np.abs(np.asarray(x)))
    return out


def phase_deg(x: ArrayLike) -> np.ndarray:
    """Phase of a complex gain in degrees, in (-180, 180]."""
    out: np.ndarray = np.degrees(np.angle(np.asarray(x)))
    return out


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.abs(a) / np.abs(b)
    return out


@dataclass(frozen=True)
class MixedModeGains:
    """The four complex mixed-mode gains (arrays over frequency or parameters) and what follows from them."""

    add: np.ndarray
    acd: np.ndarray
    adc: np.ndarray
    acc: np.ndarray

    @classmethod
    def from_nodal(cls, h: ArrayLike) -> MixedModeGains:
        """From the nodal matrix ``h`` (shape (2, 2, ...)): ``S = T H T^-1`` written out (module docstring)."""
        h = np.asarray(h)
        h11, h12, h21, h22 = h[0, 0], h[0, 1], h[1, 0], h[1, 1]
        return cls(
            add=(h11 - h12 - h21 + h22) / 2.0,
            acd=h11 + h12 - h21 - h22,
            adc=(h11 - h12 + h21 - h22) / 4.0,
            acc=(h11 + h12 + h21 + h22) / 2.0,
        )

    @classmethod
    def from_matrix(cls, s: ArrayLike) -> MixedModeGains:
        """From S itself, shape (2, 2, ...) like :attr:`matrix`: ``[[Add, Acd], [Adc, Acc]]``."""
        s = np.asarray(s)
        return cls(add=s[0, 0], acd=s[0, 1], adc=s[1, 0], acc=s[1, 1])

    @property
    def matrix(self) -> np.ndarray:
        """S as an array of shape (2, 2, ...): ``[[Add, Acd], [Adc, Acc]]``."""
        return np.array([[self.add, self.acd], [self.adc, self.acc]])

    def nodal(self) -> np.ndarray:
        """Back to H = T^-1 S T (shape (2, 2, ...))."""
        S = np.moveaxis(self.matrix, (0, 1), (-2, -1))
        H = np.linalg.inv(T_MODE) @ S @ T_MODE
        return np.moveaxis(H, (-2, -1), (0, 1))

    def ad_se(self, k: int) -> np.ndarray:
        """Single-ended differential gain of output k (1 or 2): ``±Add/2 + Adc``."""
        return self._pick(k, self.add / 2.0 + self.adc, -self.add / 2.0 + self.adc)

    def acm_se(self, k: int) -> np.ndarray:
        """Single-ended common-mode gain of output k: ``Acc ± Acd/2``."""
        return self._pick(k, self.acc + self.acd / 2.0, self.acc - self.acd / 2.0)

    def cmrr_se(self, k: int) -> np.ndarray:
        """``CMRR_se,k = |Ad_se,k / Acm_se,k|`` (linear ratio)."""
        return _ratio(self.ad_se(k), self.acm_se(k))

    def single_ended(self) -> dict[str, np.ndarray]:
        """The four single-ended gains by name: ``Ad_se1``, ``Acm_se1``, ``Ad_se2``, ``Acm_se2``."""
        return {"Ad_se1": self.ad_se(1), "Acm_se1": self.acm_se(1), "Ad_se2": self.ad_se(2), "Acm_se2": self.acm_se(2)}

    def ratio_se(self, k: int) -> np.ndarray:
        """The complex ratio ``Ad_se,k / Acm_se,k`` behind CMRR_se,k (its magnitude; its phase is the CMRR's)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out: np.ndarray = self.ad_se(k) / self.acm_se(k)
        return out

    @property
    def ratio_diff(self) -> np.ndarray:
        """The complex ratio ``Add / Acd`` behind CMRR_diff (inf or NaN when Acd = 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out: np.ndarray = self.add / self.acd
        return out

    @property
    def cmrr_diff(self) -> np.ndarray:
        """``CMRR_diff = |Add / Acd|`` (linear ratio; inf when Acd = 0)."""
        return _ratio(self.add, self.acd)

    @property
    def cm_to_cm_ratio(self) -> np.ndarray:
        """``|Add / Acc|`` (= 2 CMRR_se for a symmetric circuit, docs/reference/measurement-methods.md §3.2)."""
        return _ratio(self.add, self.acc)

    def respond(self, vid: ArrayLike, vic: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Output phasors for input phasors ``vid``, ``vic``: returns ``(vod, voc, vo1, vo2)``."""
        vid, vic = np.asarray(vid), np.asarray(vic)
        vod = self.add * vid + self.acd * vic
        voc = self.adc * vid + self.acc * vic
        return vod, voc, voc + vod / 2.0, voc - vod / 2.0

    @staticmethod
    def _pick(k: int, one: np.ndarray, two: np.ndarray) -> np.ndarray:
        if k == 1:
            return one
        if k == 2:
            return two
        raise ValueError(f"output index must be 1 or 2, got {k!r}")
