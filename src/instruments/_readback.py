"""Read-back tolerances of the generator families that clamp or ignore a setting without any error.

Rigol DG (docs/reference/scpi.md §3.2: out-of-range values are clamped with only an on-screen warning) and
Siglent SDG (§3.3: no error queue at all) are checked by reading every setting back (the check column of their
tables, :mod:`instruments.setting_table`). The tolerances sit above what the replies print (7 significant digits
on the DG, units-attached text on the SDG) and the setting resolution, and far below what a clamp to a limit
changes.
"""

from __future__ import annotations

from .setting_table import Tolerance

FREQUENCY = Tolerance(rel=1e-6, abs_tol=1e-6)    # Hz
AMPLITUDE = Tolerance(rel=1e-3, abs_tol=1e-4)    # Vpp
OFFSET = Tolerance(rel=1e-3, abs_tol=1e-3)       # V
PHASE = Tolerance(abs_tol=0.05, wrap_deg=True)   # degrees: 0 and 360 are the same phase
LOAD = Tolerance(rel=1e-4, high_z=True)          # ohms, an exact number the reply rounds; High-Z reads back infinite
