"""Read-back comparison for generator families that clamp or ignore a setting without any error.

Rigol DG (docs/reference/scpi.md §3.2: out-of-range values are clamped with only an on-screen warning) and
Siglent SDG (§3.3: no error queue at all) are checked by reading every setting back. The tolerances sit
above what the replies print (7 significant digits on the DG, units-attached text on the SDG) and the
setting resolution, and far below what a clamp to a limit changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    """How far a read-back may be from what was asked: ``max(abs_tol, rel * |asked|)``; angles wrap."""

    what: str          # the quantity and its unit, as error messages name it: "frequency (Hz)"
    rel: float
    abs_tol: float
    wrap_deg: bool = False  # compare angles modulo 360 degrees (0 and 360 are the same phase)

    def kept(self, asked: float, got: float) -> bool:
        """True if ``got`` (read back) is ``asked`` within the tolerance."""
        diff = got - asked
        if self.wrap_deg:
            diff = (diff + 180.0) % 360.0 - 180.0
        return not abs(diff) > max(self.abs_tol, self.rel * abs(asked))  # a NaN reply is not a mismatch

    def mismatch(self, asked: float, got: float) -> str | None:
        """``"<what>: asked <a>, the instrument kept <b>"`` if ``got`` is not ``asked``, else ``None``."""
        return None if self.kept(asked, got) else f"{self.what}: asked {asked:g}, the instrument kept {got:g}"


FREQUENCY = Tolerance("frequency (Hz)", 1e-6, 1e-6)
AMPLITUDE = Tolerance("amplitude (Vpp)", 1e-3, 1e-4)
OFFSET = Tolerance("offset (V)", 1e-3, 1e-3)
PHASE = Tolerance("phase (deg)", 0.0, 0.05, wrap_deg=True)
LOAD_REL = 1e-4  # a load setting is an exact number of ohms; the reply rounds it


def load_kept(asked: float, got: float) -> bool:
    """True if the load read back is the one asked for: both High-Z (``math.inf``), or within
    :data:`LOAD_REL`."""
    return math.isinf(got) if math.isinf(asked) else abs(got - asked) <= LOAD_REL * asked
