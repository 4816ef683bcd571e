"""Siglent SDG1000X, SDG2000X and SDG6000X function generators.

Facts: docs/reference/scpi.md §3.3 (QCoDeS-contrib ``Siglent/sdg.py`` and ``sdg_channel.py``; the SDG2000X
phase-invert, channel-interaction and protocol-audit hardware logs of an SDG2122X, fw 2.01.01.39R7T2,
against programming guide PG02_E05C), §2.1-§2.4, §1.2.

Siglent generators speak their own LeCroy-heritage dialect: ``C<n>:BSWV NAME,value,...`` sets the basic
wave, ``C<n>:BSWV?`` answers every field with units attached (``FRQ,1000HZ``, ``AMP,4V``), ``C<n>:OUTP``
carries the output state, ``LOAD`` and ``PLRT``. The family documents **no error queue** (§1.2, §3.3),
so :attr:`error_query` is ``None`` and every setting is read back instead: a value the instrument did not
keep raises :class:`~instruments.errors.InstrumentError` with what was asked and what was kept.
"""

from __future__ import annotations

import math
import re
from typing import TypeVar

from . import _readback
from ._scpi_format import NUMBER
from ._scpi_format import scpi_number as _num
from .errors import InstrumentError
from .generator import (
    LOAD_ABOVE_ZERO,
    ChannelState,
    FunctionGenerator,
    GeneratorLimits,
    Tracking,
    amplitude_offset_order,
    load_encoding,
)
from .setting_table import KEPT, WORD, Encoding, ReadBack, Setting, apply, on_off, read

_FUNCTIONS = {"SINE": "sine", "DC": "dc"}
V = TypeVar("V")

# Sine limits of the source EMF (what appears across High-Z): 2 mVpp-20 Vpp, |offset| + Vpp/2 <= 10 V
# (QCoDeS-contrib sdg.py ranges, the High-Z figures of §3.3; §2.1 scales them to the load setting).
# These are the low-frequency figures: above ~10 MHz the models allow less, which the read-back catches.
_EMF_AMPLITUDE_MIN_VPP = 2e-3
_EMF_AMPLITUDE_MAX_VPP = 20.0
_EMF_LEVEL_MAX_V = 10.0
_SOURCE_OHM = 50.0  # §2.1: every generator here has a 50 ohm source
#: maximum sine frequency per model (QCoDeS-contrib: SDG2042X 40 MHz, SDG6022X 200 MHz; the others from
#: the Siglent model numbering, which encodes the bandwidth: SDG1032X 30 MHz ... SDG6052X 500 MHz)
_MAX_SINE_HZ = {
    "SDG1032X": 30e6, "SDG1062X": 60e6,
    "SDG2042X": 40e6, "SDG2082X": 80e6, "SDG2122X": 120e6,
    "SDG6022X": 200e6, "SDG6032X": 350e6, "SDG6052X": 500e6,
}


def _split(reply: str) -> tuple[str | None, dict[str, str]]:
    """``C1:OUTP ON,LOAD,HZ,PLRT,NOR`` -> ``("ON", {"LOAD": "HZ", "PLRT": "NOR"})``; the header (up to the
    first space) is dropped; a leading value without a name (odd field count) is returned first."""
    body = reply.strip().split(" ", 1)[-1]
    tokens = [t.strip() for t in body.split(",")]
    first = tokens.pop(0) if len(tokens) % 2 else None
    return first, {tokens[i].upper(): tokens[i + 1] for i in range(0, len(tokens) - 1, 2)}


def _value(text: str) -> float:
    """``1000HZ`` -> 1000.0, ``-2V`` -> -2.0, ``1.414Vrms`` -> 1.414 (Siglent attaches units)."""
    m = NUMBER.match(text.strip())
    if not m:
        raise ValueError(f"not a number: {text!r}")
    return float(m.group(0))


def _output(reply: str) -> tuple[bool, float]:
    """(output on, load setting in ohm) from a ``C<n>:OUTP?`` reply (``C1:OUTP ON,LOAD,HZ,PLRT,NOR``)."""
    state, fields = _split(reply)
    load = fields.get("LOAD", "")
    if state not in ("ON", "OFF") or not load:
        raise ValueError(f"unexpected reply {reply!r}")
    return state == "ON", math.inf if load.upper() == "HZ" else _value(load)


NUMBERS = Encoding(_num, _value)

#: the basic-wave fields of ``C<n>:BSWV NAME,value,...`` (one command for several fields, :meth:`SiglentSDG._set_wave`),
#: each read back from ``C<n>:BSWV?`` within the tolerances of :mod:`instruments._readback`
WAVE: dict[str, Setting[float]] = {
    "FRQ": Setting("frequency", "Hz", "FRQ", None, NUMBERS, check=ReadBack(_readback.FREQUENCY, KEPT)),
    "AMP": Setting("amplitude", "Vpp", "AMP", None, NUMBERS, check=ReadBack(_readback.AMPLITUDE, KEPT)),
    "OFST": Setting("offset", "V", "OFST", None, NUMBERS, check=ReadBack(_readback.OFFSET, KEPT)),
    "PHSE": Setting("phase", "deg", "PHSE", None, NUMBERS, check=ReadBack(_readback.PHASE, KEPT)),  # sent 0-360
}
WAVE_TYPE = Setting("WVTP", "", "WVTP", None, WORD, check=ReadBack(says="{name}: asked {asked}, kept {reply}"))

#: no error queue (§1.2, §3.3): every setting is read back
LOAD: Setting[float] = Setting("load", "ohm", "C{n}:OUTP LOAD,{}", "C{n}:OUTP?",  # 50-100 000 Ohm or HZ (High-Z)
                               Encoding(load_encoding("HZ").text, lambda reply: _output(reply)[1], "{why}"),
                               LOAD_ABOVE_ZERO, ReadBack(_readback.LOAD, KEPT))
OUTPUT: Setting[bool] = Setting("output", "", "C{n}:OUTP {}", "C{n}:OUTP?",
                                Encoding(on_off, lambda reply: _output(reply)[0], "{why}"),
                                check=ReadBack(says="{what}: asked {asked}, the instrument reads back {kept}"))
# the unhyphenated spelling was silently ignored on an SDG2122X (§3.3)
PHASE_MODE = Setting("phase mode", "", "MODE {}", "MODE?", Encoding(str, str),
                     check=ReadBack(lambda asked, got: asked in got.upper(),
                                    "{name}: asked {asked}, the instrument kept {got!r}"))
# CH2 copies CH1's basic wave and follows it (COUP TRACE,ON|OFF)
TRACKING = Setting("tracking", "", "COUP TRACE,{}", "COUP?",
                   Encoding(str, lambda reply: reply.upper().replace(" ", "")),
                   check=ReadBack(lambda asked, got: ("TRACE,ON" in got) == (asked == "ON"),
                                  "{name}: asked {asked}, the instrument answers {got!r}"))
INVERTED = Setting("polarity invert", "", "C{n}:INVT {}", "C{n}:INVT?",
                   Encoding(str, lambda reply: (_split(reply)[0] or "").upper()),
                   check=ReadBack(says="{name}: asked {asked}, the instrument kept {reply}",
                                  shows=lambda reply: repr(_split(reply)[0])))


class SiglentSDG(FunctionGenerator):
    """Siglent SDG1000X / SDG2000X / SDG6000X two-channel generators.

    Differential drive (§2.4, §3.3): identical basic waves on C1 and C2 (same load), then either
    ``C2`` phase 180 or :meth:`set_inverted` (``C2:INVT ON``, measured 179.5 degrees on an SDG2122X),
    then :meth:`sync_phase` (``MODE PHASE-LOCKED`` + ``EQPHASE``). The family has no documented
    track-inverted, so :meth:`set_tracking` accepts only "on"/"off" (``COUP TRACE``).
    """

    error_query = None
    differential_methods = ("phase-180", "polarity-inverted")
    # every SDG model here has two channels: no single_channel_models

    # -- the basic wave -------------------------------------------------------------------------------
    def _wave(self, channel: int) -> dict[str, str]:
        """The fields of ``C<n>:BSWV?`` by name, values as sent (units attached)."""
        return _split(self.query(f"C{self._check_channel(channel)}:BSWV?"))[1]

    def _set_wave(self, channel: int, wave_type: str | None, fields: dict[str, float]) -> None:
        """One ``C<n>:BSWV`` with the wave type (if given) and ``fields`` (:data:`WAVE`, in order), then
        ``C<n>:BSWV?``; raise naming every field not kept."""
        n = self._check_channel(channel)
        asked = ([f"WVTP,{wave_type}"] if wave_type is not None else []) + [
            f"{key},{WAVE[key].encoding.text(value)}" for key, value in fields.items()]
        command = f"C{n}:BSWV " + ",".join(asked)
        self.write(command)
        kept = self._wave(channel)
        wrong = [] if wave_type is None else [_wave_field_wrong(WAVE_TYPE, "WVTP", wave_type, kept)]
        wrong += [_wave_field_wrong(WAVE[key], key, value, kept) for key, value in fields.items()]
        messages = [w for w in wrong if w is not None]
        if messages:
            raise InstrumentError(self.label, "; ".join(messages) + " (silently not applied)", command)

    # -- per channel ----------------------------------------------------------------------------------
    def set_sine(self, channel: int, frequency_hz: float, amplitude_vpp: float, offset_v: float,
                 phase_deg: float = 0.0) -> None:
        """One ``C<n>:BSWV WVTP,SINE,FRQ,..,AMP,..,OFST,..,PHSE,..`` (Hz, Vpp at the load setting, V,
        degrees 0-360), read back.

        The current amplitude is read first so AMP and OFST go in the order that never passes through a
        state outside ``|offset| + Vpp/2 <= Vmax`` (§2.3); the instrument would clamp silently.
        """
        current = _value(self._wave(channel).get("AMP", "0"))
        fields = {"FRQ": frequency_hz}
        fields.update(amplitude_offset_order(amplitude_vpp, current, ("AMP", amplitude_vpp), ("OFST", offset_v)))
        fields["PHSE"] = phase_deg % 360.0
        self._set_wave(channel, "SINE", fields)

    def set_dc(self, channel: int, level_v: float) -> None:
        """``C<n>:BSWV WVTP,DC,OFST,<V>``, read back."""
        self._set_wave(channel, "DC", {"OFST": level_v})

    def set_frequency(self, channel: int, frequency_hz: float) -> None:
        """``C<n>:BSWV FRQ,<Hz>``, read back."""
        self._set_wave(channel, None, {"FRQ": frequency_hz})

    def set_amplitude(self, channel: int, amplitude_vpp: float) -> None:
        """``C<n>:BSWV AMP,<Vpp>`` (AMP is always Vpp into the load setting, §3.3), read back."""
        self._set_wave(channel, None, {"AMP": amplitude_vpp})

    def set_offset(self, channel: int, offset_v: float) -> None:
        """``C<n>:BSWV OFST,<V>``, read back."""
        self._set_wave(channel, None, {"OFST": offset_v})

    def set_phase(self, channel: int, phase_deg: float) -> None:
        """``C<n>:BSWV PHSE,<deg>`` (sent as 0-360), read back."""
        self._set_wave(channel, None, {"PHSE": phase_deg % 360.0})

    def _output_state(self, channel: int) -> tuple[bool, float]:
        """(output on, load setting in ohm) from one ``C<n>:OUTP?``."""
        query = f"C{self._check_channel(channel)}:OUTP?"
        reply = self.query(query)
        try:
            return _output(reply)
        except ValueError as exc:
            raise InstrumentError(self.label, str(exc), query) from None

    def set_load(self, channel: int, load_ohm: float) -> None:
        """``C<n>:OUTP LOAD,HZ`` for ``math.inf`` or ``LOAD,<ohm>`` (50-100 000 Ω), read back (§3.3)."""
        apply(self, LOAD.to(load_ohm, n=self._check_channel(channel)))

    def set_output(self, channel: int, on: bool) -> None:
        """``C<n>:OUTP ON|OFF``, then ``C<n>:OUTP?`` to confirm."""
        apply(self, OUTPUT.to(on, n=self._check_channel(channel)))

    def channel_state(self, channel: int) -> ChannelState:
        """Read back one channel from ``C<n>:BSWV?`` and ``C<n>:OUTP?``; fields a wave type does not
        have (frequency, amplitude and phase of DC) are NaN."""
        wave = self._wave(channel)
        output, load = self._output_state(channel)
        kind = wave.get("WVTP", "?").upper()

        def field(key: str) -> float:
            return _value(wave[key]) if key in wave else math.nan

        return ChannelState(function=_FUNCTIONS.get(kind, kind.lower()), frequency_hz=field("FRQ"),
                            amplitude_vpp=field("AMP"), offset_v=field("OFST"), phase_deg=field("PHSE"),
                            load_ohm=load, output=output)

    def limits(self, channel: int) -> GeneratorLimits:
        """Sine limits at the current settings, from the data-sheet figures (the SDG cannot be asked).

        The source-EMF limits (2 mVpp-20 Vpp, 10 V level) are scaled to the load setting by §2.1
        (``V = EMF * R/(R + 50)``). ``amplitude_max_vpp`` holds at the current offset, ``offset_max_v``
        at the current amplitude (``|offset| + Vpp/2 <= Vmax``, §2.3), as the SCPI families' MIN/MAX
        queries answer. ``*IDN?`` is asked if :meth:`configure_model` was not told the model.
        """
        wave = self._wave(channel)
        if wave.get("WVTP", "").upper() != "SINE":
            raise InstrumentError(self.label, f"limits are for a sine but channel {channel} is set to "
                                  f"{wave.get('WVTP')}; call set_sine first", f"C{channel}:BSWV?")
        load = self._output_state(channel)[1]
        model = self.model or self.idn().split(",")[1].strip()
        key = re.match(r"SDG\d{4}X", model.upper())
        if key is None or key.group(0) not in _MAX_SINE_HZ:
            raise InstrumentError(self.label, f"maximum sine frequency of model {model!r} unknown "
                                  f"(known: {', '.join(_MAX_SINE_HZ)})")
        scale = 1.0 if math.isinf(load) else load / (load + _SOURCE_OHM)
        level_max = _EMF_LEVEL_MAX_V * scale
        return GeneratorLimits(
            amplitude_min_vpp=_EMF_AMPLITUDE_MIN_VPP * scale,
            amplitude_max_vpp=min(_EMF_AMPLITUDE_MAX_VPP * scale, 2.0 * (level_max - abs(_value(wave["OFST"])))),
            offset_max_v=level_max - _value(wave["AMP"]) / 2.0,
            frequency_max_hz=_MAX_SINE_HZ[key.group(0)],
        )

    # -- across channels ------------------------------------------------------------------------------
    def sync_phase(self) -> None:
        """``MODE PHASE-LOCKED`` (read back, :data:`PHASE_MODE`), then ``EQPHASE`` (an action with no reply)."""
        apply(self, PHASE_MODE.to("PHASE-LOCKED"))
        self.write("EQPHASE")

    def set_tracking(self, mode: Tracking) -> None:
        """``COUP TRACE,ON|OFF`` (CH2 copies CH1's basic wave and follows it, §3.3), read back with ``COUP?``.

        "inverted" raises :class:`NotImplementedError`: the SDG has no documented track-inverted (§2.4);
        use :meth:`set_inverted` on channel 2 or phase 180, then :meth:`sync_phase`.
        """
        if mode == "inverted":
            raise NotImplementedError(f"{self.label}: Siglent SDG has no track-inverted; use set_inverted(2, True)"
                                      " or phase 180 on channel 2, then sync_phase()")
        if mode not in ("on", "off"):
            raise ValueError(f"{self.label}: tracking mode must be 'on', 'off' or 'inverted', got {mode!r}")
        apply(self, TRACKING.to(mode.upper()))

    def tracking(self) -> Tracking:
        """``COUP?``: "on" when it reports ``TRACE,ON`` (CH2 follows CH1, §3.3), else "off"; the SDG has no
        track-inverted."""
        return "on" if "TRACE,ON" in read(self, TRACKING) else "off"

    def set_inverted(self, channel: int, on: bool) -> None:
        """``C<n>:INVT ON|OFF``: invert the channel's polarity (§3.3), read back with ``C<n>:INVT?``.

        Whether the offset is inverted too is unconfirmed on Siglent (§2.4, §6 item 2).
        """
        apply(self, INVERTED.to(on_off(on), n=self._check_channel(channel)))


def _wave_field_wrong(row: Setting[V], key: str, asked: V, kept: dict[str, str]) -> str | None:
    """What is wrong with basic-wave field ``key`` of ``kept`` (the read-back) for ``asked``; None if it was kept."""
    got = kept.get(key)
    if got is None:
        return f"{key} missing from the reply"
    return row.disagreement(asked, row.encoding.parse(got), got)
