"""How long to wait for a scope acquisition and for a binary block transfer: one rule for every driver.

Nothing here is a bare constant: every wait follows from what is waited for, with the margins below.

**Acquisition** (a driver's ``single()``/``acquire()``, :func:`acquisition_wait_s`). One record is complete
once the scope has filled its pre-trigger part, seen the trigger and filled its post-trigger part. With the
record spanning ``T_rec`` seconds:

* filling pre- and post-trigger takes at most ``T_rec`` in all. ``T_rec`` is the larger of the screen plus
  the trigger delay, ``scale_s_per_div x divisions + |position_s|``, and the acquisition memory's length
  in time, ``points / sample_rate`` (a fixed memory depth may reach beyond the screen at the top sample
  rate); the sample rate used is the *lowest* top rate of the family (all channels on), which makes the
  memory longest;
* an edge trigger on a periodic signal comes within one period of it, and the procedures put at least one
  period on the record (``min_periods >= 1``), so the wait for the trigger is at most ``T_rec`` too;
* the trigger holdoff ``t_ho`` (the dead time after a trigger) comes before each trigger is accepted;
* averaging ``M`` records needs ``M`` triggers: ``M`` times all of the above.

So the expected time is ``t_acq = M x (t_ho + 2 T_rec)``, and the wait is
``MARGIN x t_acq + LATENCY_S + extra_s``: twice the expected time, plus one second for the command and reply
round trips, the polling granularity and the instrument's processing of the record, plus whatever the
operator allows on top (the procedure's ``[acquisition] timeout_s``).

**Transfer** (the VISA timeout during a ``#``-block read, :func:`transfer_timeout_s`): ``n_bytes`` at a
conservative link rate ``R``, ``MARGIN x n_bytes / R + LATENCY_S + extra_s``. pyvisa applies its timeout to
each read call of up to ``chunk_size`` bytes; the whole block's time bounds every one of them. The default
rate, :data:`CONSERVATIVE_LINK_RATE_BYTES_S`, is the slowest transfer on record for these scopes: a DS1054Z
bench log read 2.4 Mpoints (BYTE) over VXI-11 in about 135 s, 18 kB/s; the rule takes 16 kB/s.

**Polling** (:func:`poll_interval_s`): a family that polls a status asks about ``POLLS_PER_RECORD`` times per
expected acquisition time, never more often than every :data:`MIN_POLL_S` nor less often than its own
longest interval -- a short record is not held up by a fixed 20 ms sleep, a long one does not flood the
instrument with queries.

**Auto trigger** (:func:`auto_trigger_after_s`): when a family's single-shot mode cannot auto-trigger (Rigol
DS1000Z ``:SINGle``) but the sweep it replaced was AUTO, a driver keeps AUTO's promise by forcing a trigger
once a periodic signal would certainly have triggered: ``MARGIN x t_acq + AUTO_LATENCY_S``. A signal with
no edge (a DC level) then costs that much per record instead of hanging.
"""

from __future__ import annotations

from dataclasses import dataclass

#: factor on every expected time: a loaded host or a slow instrument may take twice as long
MARGIN = 2.0
#: allowance on every wait for command and reply round trips, the polling granularity and the instrument's
#: processing of the record, s
LATENCY_S = 1.0
#: the slowest block transfer on record for the supported scopes (DS1054Z over VXI-11: 2.4 Mpts in ~135 s,
#: 18 kB/s), rounded down, bytes/s
CONSERVATIVE_LINK_RATE_BYTES_S = 16_000.0
#: status polls per expected acquisition time
POLLS_PER_RECORD = 8
#: shortest interval between two status polls, s (one query round trip on a LAN instrument)
MIN_POLL_S = 0.001
#: how long after the expected trigger time a missing trigger is declared and forced (AUTO emulation), s
AUTO_LATENCY_S = 0.02


@dataclass(frozen=True)
class RecordTiming:
    """What one acquisition has to wait for.

    ``scale_s_per_div`` x ``divisions`` is the screen, ``position_s`` the trigger delay (s from the trigger to
    the reference point), ``holdoff_s`` the trigger holdoff, ``averages`` the records averaged into one
    acquisition. ``points`` is the acquisition memory depth per channel when the driver set one, and
    ``sample_rate_sa_s`` the lowest sample rate that memory can run at when the family fills it at its top
    rate (None when either is unknown: the memory then spans the screen, as on families with automatic
    depth).
    """

    scale_s_per_div: float
    divisions: int
    position_s: float = 0.0
    holdoff_s: float = 0.0
    averages: int = 1
    points: int | None = None
    sample_rate_sa_s: float | None = None

    @property
    def screen_s(self) -> float:
        """The horizontal window: ``scale_s_per_div x divisions``, s."""
        return self.scale_s_per_div * self.divisions

    @property
    def record_s(self) -> float:
        """``T_rec``: the larger of the screen plus ``|position_s|`` and ``points / sample_rate_sa_s``, s."""
        span = self.screen_s + abs(self.position_s)
        if self.points and self.sample_rate_sa_s:
            span = max(span, self.points / self.sample_rate_sa_s)
        return span

    @property
    def expected_s(self) -> float:
        """``t_acq = M x (t_ho + 2 T_rec)``: filling the record and waiting for its trigger, per average, s."""
        return max(1, self.averages) * (self.holdoff_s + 2.0 * self.record_s)


def acquisition_wait_s(timing: RecordTiming, extra_s: float = 0.0) -> float:
    """Longest wait for one acquisition: ``MARGIN x t_acq + LATENCY_S + extra_s``, s (module docstring)."""
    return MARGIN * timing.expected_s + LATENCY_S + max(0.0, extra_s)


def transfer_timeout_s(n_bytes: float, link_rate_bytes_s: float = CONSERVATIVE_LINK_RATE_BYTES_S,
                       extra_s: float = 0.0) -> float:
    """VISA timeout for reading a block of ``n_bytes``: ``MARGIN x n_bytes / rate + LATENCY_S + extra_s``, s."""
    if link_rate_bytes_s <= 0:
        raise ValueError(f"link rate must be > 0 bytes/s, got {link_rate_bytes_s!r}")
    return MARGIN * max(0.0, n_bytes) / link_rate_bytes_s + LATENCY_S + max(0.0, extra_s)


def poll_interval_s(timing: RecordTiming | None, longest_s: float) -> float:
    """Interval between status polls: ``t_acq / POLLS_PER_RECORD`` within ``[MIN_POLL_S, longest_s]``; the
    family's ``longest_s`` when the record is unknown, s."""
    if timing is None:
        return longest_s
    return min(longest_s, max(MIN_POLL_S, timing.expected_s / POLLS_PER_RECORD))


def auto_trigger_after_s(timing: RecordTiming) -> float:
    """When to force a trigger that has not come (AUTO sweep emulation): ``MARGIN x t_acq + AUTO_LATENCY_S``,
    s from the start of the acquisition."""
    return MARGIN * timing.expected_s + AUTO_LATENCY_S
