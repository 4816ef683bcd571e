"""How long the real instruments would take: a timing model per simulated family, and a ledger of a run.

The simulator answers as fast as it computes, so a simulated run says nothing about a real bench's wall time.
With ``[sim] timing = true`` each served message takes at least what the family's model says the real
instrument takes, and each acquisition takes the model's time; with it off (the default, so CI stays fast) the
same model is only *accounted*: :class:`TimingLedger` adds up, per category, what the model would have
added, and :meth:`TimingLedger.predicted_wall_s` turns a fast run's wall time into the real one's.

The model of one message (:meth:`TimingModel.message_s`): ``latency_s`` (the instrument parses, executes and,
for a query, starts its reply; one LAN round trip included) plus ``reply bytes / transfer_bytes_s``. The model
of one acquisition (:meth:`TimingModel.acquisition_s`): ``averages x (screen time + mean trigger wait) +
rearm_s``, the mean trigger wait half a period of the trigger channel's signal (an edge of a periodic signal
comes within one period, uniformly), ``rearm_s`` the scope's own processing of a single-shot record before it
reports done.

Where each figure comes from (:data:`FAMILY_TIMING`): the interface line rates are the data sheets'
(33500B: LAN 10/100/1000BASE-T; InfiniiVision 1000 X, DS1000Z, SDS2000X Plus: 10/100BASE-T; SDG2000X:
10/100BASE-T; AFG31000: 10/100/1000BASE-T; MSO 4/5/6: 10/100/1000BASE-T, each vendor's data sheet, "computer
interfaces" / "I/O"). The share of that line rate a raw-socket block transfer reaches, the per-message latency
and the re-arm time are not published; they are our assumptions, said so in each entry, and a bench that has
measured its own instruments sets them with ``[sim] timing_latency_s``, ``timing_transfer_bytes_s`` and
``timing_rearm_s`` (:func:`model_for`). The model is a planning figure, not a data-sheet promise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

#: share of a LAN line rate a raw-socket SCPI block read reaches (TCP/IP and the instrument's own buffering:
#: our assumption, about half the line rate of 100BASE-T; a gigabit port is limited by the instrument)
_LAN100_BYTES_S = 0.5 * 100e6 / 8


@dataclass(frozen=True)
class TimingModel:
    """One instrument's timing. ``latency_s``: per program message, s; ``transfer_bytes_s``: reply bytes per
    second; ``rearm_s``: a scope's processing of each single-shot acquisition, s (0 for a generator);
    ``basis``: where the figures come from, one line."""

    latency_s: float
    transfer_bytes_s: float
    rearm_s: float = 0.0
    basis: str = ""

    def message_s(self, reply_bytes: int) -> tuple[float, float]:
        """(latency, transfer) of one message whose reply has ``reply_bytes`` bytes, s."""
        return self.latency_s, reply_bytes / self.transfer_bytes_s

    def acquisition_s(self, screen_s: float, averages: int, trigger_period_s: float | None) -> float:
        """One (possibly averaged) single-shot acquisition, s: ``averages x (screen_s + T/2) + rearm_s``,
        ``T`` the trigger channel's period (0 when it has no periodic signal)."""
        wait = 0.5 * trigger_period_s if trigger_period_s else 0.0
        return max(1, averages) * (screen_s + wait) + self.rearm_s


#: dialect -> model (module docstring for the sources; "assumed" marks what no data sheet gives)
FAMILY_TIMING: dict[str, TimingModel] = {
    "keysight_33500": TimingModel(2e-3, 2 * _LAN100_BYTES_S,
                                  basis="33500B data sheet: LAN 1000BASE-T; latency 2 ms assumed"),
    "keysight_infiniivision": TimingModel(3e-3, _LAN100_BYTES_S, rearm_s=0.1,
                                          basis="InfiniiVision 1000 X data sheet: LAN 100BASE-T; latency 3 ms, "
                                                "re-arm 0.1 s assumed"),
    "rigol_dg1000z": TimingModel(5e-3, _LAN100_BYTES_S,
                                 basis="DG1000Z data sheet: LAN 10/100BASE-T; latency 5 ms assumed"),
    "rigol_ds1000z": TimingModel(5e-3, 0.1 * _LAN100_BYTES_S, rearm_s=0.2,
                                 basis="DS1000Z data sheet: LAN 10/100BASE-T; a tenth of the 100BASE-T figure "
                                       "assumed (a DS1054Z bench log read memory over VXI-11 at 18 kB/s, "
                                       "instruments.timing; a raw socket is faster), latency 5 ms, re-arm 0.2 s "
                                       "assumed"),
    "siglent_sdg": TimingModel(5e-3, _LAN100_BYTES_S,
                               basis="SDG2000X data sheet: LAN 10/100BASE-T; latency 5 ms assumed"),
    "siglent_sds": TimingModel(5e-3, _LAN100_BYTES_S, rearm_s=0.15,
                               basis="SDS2000X Plus data sheet: LAN 10/100BASE-T; latency 5 ms, re-arm 0.15 s "
                                     "assumed"),
    "tektronix_afg31000": TimingModel(2e-3, 2 * _LAN100_BYTES_S,
                                      basis="AFG31000 data sheet: LAN 10/100/1000BASE-T; latency 2 ms assumed"),
    "tektronix_mso": TimingModel(2e-3, 4 * _LAN100_BYTES_S, rearm_s=0.1,
                                 basis="MSO 4/5/6 data sheet: LAN 10/100/1000BASE-T; latency 2 ms, re-arm 0.1 s "
                                       "assumed"),
}


def model_for(dialect: str, sim: Mapping[str, object]) -> TimingModel:
    """The model of ``dialect`` with the bench's ``[sim] timing_latency_s`` / ``timing_transfer_bytes_s`` /
    ``timing_rearm_s`` where given (a bench that measured its own instruments)."""
    base = FAMILY_TIMING.get(dialect, TimingModel(5e-3, _LAN100_BYTES_S, basis="no family figures: defaults"))
    given = {k: float(v) for k, v in (("latency_s", sim.get("timing_latency_s")),
                                      ("transfer_bytes_s", sim.get("timing_transfer_bytes_s")),
                                      ("rearm_s", sim.get("timing_rearm_s")))
             if isinstance(v, (int, float))}
    return replace(base, **given, basis=base.basis + "; overridden by [sim]") if given else base


@dataclass
class TimingLedger:
    """What a run's instruments did, and what the model says the real ones would have taken (thread-safe).

    Per served message: the model's latency and transfer, and the simulator's own time executing it
    (``simulator_s``); ``padded_s`` is what the model adds on top of the simulator's time (slept when timing is
    on). Per acquisition: the model's time and the simulator's (``acquisition_sim_s``, what a fast run waited)."""

    messages: int = 0
    reply_bytes: int = 0
    latency_s: float = 0.0
    transfer_s: float = 0.0
    simulator_s: float = 0.0
    padded_s: float = 0.0
    acquisitions: int = 0
    acquisition_s: float = 0.0
    acquisition_sim_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def message(self, model: TimingModel, reply_bytes: int, simulator_s: float) -> float:
        """Account one message; returns the time to pad it with (s) so it lasts as long as the model says."""
        lat, xfer = model.message_s(reply_bytes)
        pad = max(0.0, lat + xfer - simulator_s)
        with self._lock:
            self.messages += 1
            self.reply_bytes += reply_bytes
            self.latency_s += lat
            self.transfer_s += xfer
            self.simulator_s += simulator_s
            self.padded_s += pad
        return pad

    def acquisition(self, model_s: float, sim_s: float) -> None:
        """Account one acquisition: the model's time and the simulator's, s."""
        with self._lock:
            self.acquisitions += 1
            self.acquisition_s += model_s
            self.acquisition_sim_s += sim_s

    def predicted_wall_s(self, wall_s: float, timing_on: bool) -> float:
        """The real bench's wall time for a run that took ``wall_s`` here: as is when timing was on, else with
        what the model would have added (the padding, and each acquisition's model time in place of the
        simulator's)."""
        if timing_on:
            return wall_s
        return wall_s + self.padded_s + self.acquisition_s - self.acquisition_sim_s

    def merged(self, other: TimingLedger) -> TimingLedger:
        """The sum of two ledgers (a bench's generator and scope)."""
        out = TimingLedger()
        for name in ("messages", "reply_bytes", "latency_s", "transfer_s", "simulator_s", "padded_s",
                     "acquisitions", "acquisition_s", "acquisition_sim_s"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        return out


@dataclass(frozen=True)
class InstrumentTiming:
    """A simulated instrument's timing: every message and acquisition is accounted in ``ledger``; when ``on``,
    each also lasts at least what ``model`` says (a message's reply is sent after that time)."""

    model: TimingModel
    ledger: TimingLedger
    on: bool = False


def pause(seconds: float) -> None:
    """Sleep ``seconds`` (a served message's padding when timing is on)."""
    if seconds > 0:
        time.sleep(seconds)
