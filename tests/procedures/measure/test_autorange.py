"""Auto-ranging settles when the scope cannot give the range it wants (a signal below its finest scale).

A small stand-in scope (no I/O) with a DS1000Z-like front end: 25 codes per division, 8 divisions, codes
0..255 around 127, and a finest scale of 1 mV/div below which a scale is refused (the driver reads it back
and raises). A 1 mV peak sine wants about 0.33 mV/div; the most the scope can do is a scale in [1, 2) mV/div,
and ranging must stop there instead of re-acquiring until ``max_attempts`` runs out.
"""

from __future__ import annotations

import numpy as np

from instruments.errors import InstrumentError
from instruments.scope import ScopeChannelState
from instruments.waveform import Waveform
from procedures.measure.acquisition import NODES, RangeMemory, autorange
from scope_stand_in import StandInInterface

FINEST_V_PER_DIV = 1e-3
CODES_PER_DIV = 25.0


class FineLimitedScope(StandInInterface):
    """Four channels carrying a 1 mV peak sine; scales below :data:`FINEST_V_PER_DIV` are refused."""

    label = "stand-in scope"
    vertical_divisions = 8

    def __init__(self) -> None:
        self.scale = {ch: 1.0 for ch in (1, 2, 3, 4)}
        self.centre = {ch: 0.0 for ch in (1, 2, 3, 4)}
        self.acquisitions = 0

    def set_channel(self, channel: int, *, enabled: bool | None = None, scale_v_per_div: float | None = None,
                    offset_v: float | None = None, **_: object) -> None:
        if scale_v_per_div is not None:
            if scale_v_per_div < FINEST_V_PER_DIV:
                raise InstrumentError(self.label, f"vertical scale set to {scale_v_per_div:g} but the "
                                                  f"instrument reads back {FINEST_V_PER_DIV:g}")
            self.scale[channel] = scale_v_per_div
        if offset_v is not None:
            self.centre[channel] = offset_v

    def channel_state(self, channel: int) -> ScopeChannelState:
        return ScopeChannelState(True, self.scale[channel], self.centre[channel], "AC", 1e6, 1.0, False)

    def acquire(self, channels: list[int], timeout_s: float | None = None) -> dict[int, Waveform]:
        self.acquisitions += 1
        t = np.arange(10_000) * 1e-6
        noise = np.random.default_rng(self.acquisitions).normal(0.0, 20e-6, t.size)
        out = {}
        for ch in channels:
            lsb = self.scale[ch] / CODES_PER_DIV
            v = 1e-3 * np.sin(2 * np.pi * 1e3 * t) + noise
            codes = np.clip(np.round((v - self.centre[ch]) / lsb) + 127, 0, 255).astype(np.uint8)
            out[ch] = Waveform(channel=ch, codes=codes, y_increment_v=lsb, y_origin_v=self.centre[ch],
                               y_reference=127.0, x_increment_s=1e-6, x_origin_s=0.0, code_min=0, code_max=255)
        return out


def test_ranging_stops_at_the_finest_scale_the_scope_allows():
    scope = FineLimitedScope()
    channels = {node: i + 1 for i, node in enumerate(NODES)}
    record = autorange(scope, channels, RangeMemory(), fill=0.75, max_attempts=6, timeout_s=None)
    assert record.ranging_attempts < 6
    assert not record.clipped
    for node in NODES:
        assert FINEST_V_PER_DIV <= record.ranges[node].scale_v_per_div < 2 * FINEST_V_PER_DIV
