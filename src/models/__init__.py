"""Closed-form circuit models of differential pairs (operating point, small- and large-signal).

Imports nothing of diffbench: every function takes plain numbers (floats or numpy arrays, SI units), so the
same code serves prediction from component values (``procedures.predict.mapping``) and fitting with the
parameters free. Each formula cites its source in its docstring (docs/reference/measurement-methods.md §5-6,
the source texts, Razavi, Sedra & Smith, Gray-Hurst-Lewis-Meyer).

- :mod:`models.devices`: device laws and small-signal parameters of one transistor.
- :mod:`models.pair_circuit`: the pair's DC circuit as parameter objects (devices and what is in series with
  them, the Norton tail, resistive or current-mirror loads), taken by the DC solvers below.
- :mod:`models.operating_point`: DC operating point of the pair, saturation / triode flags (a subpackage: device
  law, root finders, one side, the tail node, the two load kinds).
- :mod:`models.small_signal`: exact nodal gains ``H(f)`` of the pair's linear circuit.
- :mod:`models.mixed_mode`: ``S = T H T^-1``, single-ended views, CMRRs, dB helpers.
- :mod:`models.large_signal`: DC transfer (tanh, degenerated, square law), input-referred offset.
- :mod:`models.dc_transfer`: the exact DC solution of a resistive-load pair at many input levels at once
  (Early effect, base currents, Norton tail, degeneration): what the DC and amplitude sweeps are fitted to.
- :mod:`models.distortion`: harmonics, THD and compression of a transfer driven by a sine.
- :mod:`models.full_region_laws`, :mod:`models.full_region_dc`, :mod:`models.cycle_transfer`: device laws past the
  edge of the active region (saturation, triode), the whole pair's DC solution with them (resistive or mirror
  load, pins behind a generator), and the distortion of a slow sine solved at each instant of the cycle.
- :mod:`models.cascoded_mirror`, :mod:`models.telescopic`: the cascoded mirror load and the telescopic stage's
  operating point; :mod:`models.gain_stage`, :mod:`models.two_stage`, :mod:`models.two_stage_transfer`: the second
  stage of source text fig. 5-12 (small signal, operating point, large signal).
- :mod:`models.split_tail`: the split tail of source text fig. 5-9 (a sink at each emitter, a bridge resistor) as
  its delta-star equivalent; :mod:`models.transistor_tail`: a transistor tail source through its compliance.
"""

from .cascoded_mirror import CascodedMirror, CascodedMirrorDevices, cascoded_mirror_load
from .dc_transfer import DcTransferError, PairDc, resistive_pair_dc
from .devices import (
    BjtParams,
    BjtSmallSignal,
    MosParams,
    MosSmallSignal,
    bjt_collector_current,
    bjt_small_signal,
    bjt_vbe,
    mos_drain_current,
    mos_overdrive,
    mos_small_signal,
    mos_vgs,
    thermal_voltage,
)
from .distortion import Distortion, amplitude_for_thd, harmonic_analysis
from .gain_stage import GainStage
from .large_signal import (
    bjt_input_offset,
    bjt_pair_currents,
    mos_input_offset,
    mos_pair_currents,
    mos_square_law_differential_current,
    resistive_outputs,
    tanh_differential_current,
)
from .mixed_mode import T_MODE, MixedModeGains, db, phase_deg
from .operating_point import (
    BJT_SATURATION_VBC_V,
    TAIL_COMPLIANCE_V,
    DeviceOperatingPoint,
    MirrorOperatingPoint,
    OperatingPointError,
    PairOperatingPoint,
    SideOperatingPoint,
    active_load_operating_point,
    resistive_pair_operating_point,
)
from .pair_circuit import Cascode, CurrentMirror, DiffPair, NortonTail, ResistorLoads, norton_tail_current
from .small_signal import (
    CascodeDevice,
    MirrorLoad,
    PairResponse,
    ResistiveLoad,
    Side,
    Tail,
    cascode_output_resistance,
    corner_hz,
    pair_response,
    split,
)
from .split_tail import SplitSinks, SplitTail, split_tail_operating_point
from .telescopic import CascodedMirrorOperatingPoint, TelescopicOperatingPoint, cascoded_mirror_operating_point
from .transistor_tail import TailState, TransistorTail, degenerated_output_resistance
from .two_stage import OutputStage, TwoStageOperatingPoint, two_stage_operating_point
from .two_stage_transfer import TwoStageTransfer, two_stage_transfer

__all__ = [
    "BJT_SATURATION_VBC_V", "TAIL_COMPLIANCE_V", "T_MODE",
    "BjtParams", "BjtSmallSignal", "Cascode", "CascodeDevice", "CurrentMirror", "DcTransferError",
    "DeviceOperatingPoint", "DiffPair", "Distortion", "MirrorLoad", "MirrorOperatingPoint", "MixedModeGains",
    "MosParams", "MosSmallSignal", "NortonTail", "OperatingPointError", "PairDc", "PairOperatingPoint",
    "PairResponse", "ResistiveLoad", "ResistorLoads", "Side", "SideOperatingPoint", "Tail",
    "active_load_operating_point", "amplitude_for_thd", "bjt_collector_current", "bjt_input_offset",
    "bjt_pair_currents", "bjt_small_signal", "bjt_vbe", "cascode_output_resistance", "corner_hz", "db",
    "harmonic_analysis", "mos_drain_current", "mos_input_offset", "mos_overdrive", "mos_pair_currents",
    "mos_small_signal", "mos_square_law_differential_current", "mos_vgs", "norton_tail_current", "pair_response",
    "phase_deg", "resistive_outputs", "resistive_pair_dc", "resistive_pair_operating_point", "split",
    "tanh_differential_current",
    "thermal_voltage",
]
# the active-load variants: the cascoded mirror (telescopic stage) and the second stage (source text fig. 5-12)
__all__ += [
    "CascodedMirror", "CascodedMirrorDevices", "CascodedMirrorOperatingPoint", "GainStage", "OutputStage",
    "TelescopicOperatingPoint", "TwoStageOperatingPoint", "TwoStageTransfer", "cascoded_mirror_load",
    "cascoded_mirror_operating_point", "two_stage_operating_point", "two_stage_transfer",
]
# the split tail (source text fig. 5-9) and the transistor tail
__all__ += ["SplitSinks", "SplitTail", "TailState", "TransistorTail", "degenerated_output_resistance",
            "split_tail_operating_point"]
