"""What the ranging code asks of a scope beyond setting, reading and acquiring channels, for stand-in scopes
without I/O: every channel displayed, states and ranges read through ``channel_state``, no error queue to defer
(``checked_step``), no short records."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from instruments.scope import ScopeChannelState


class StandInInterface:
    """Mixin: the class defines ``channel_state(channel)``."""

    def channel_state(self, channel: int) -> ScopeChannelState:
        raise NotImplementedError

    def displayed_channels(self) -> list[int]:
        return [1, 2, 3, 4]

    def channel_states(self, channels: Sequence[int]) -> dict[int, ScopeChannelState]:
        return {ch: self.channel_state(ch) for ch in channels}

    def vertical_ranges(self, channels: Sequence[int]) -> dict[int, tuple[float, float]]:
        states = self.channel_states(channels)
        return {ch: (st.scale_v_per_div, st.offset_v) for ch, st in states.items()}

    def vertical_range(self, channel: int) -> tuple[float, float]:
        return self.vertical_ranges([channel])[channel]

    def finest_scale_for(self, offset_v: float, probe: float) -> float:
        return 0.0

    @contextmanager
    def checked_step(self, *, locate: bool = True) -> Iterator[None]:
        yield

    @contextmanager
    def short_records(self, points: int) -> Iterator[int | None]:
        yield None
