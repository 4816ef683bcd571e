"""Excitations: what the two generator channels must do for a differential, common-mode or single-ended drive.

An :class:`Excitation` is a plan, checked against the board's safe limits (:func:`check_limits`) before any
output turns on, then applied through the generator interface (:func:`apply_excitation`). Amplitudes here are
peak volts *at the board pins* assuming a high-impedance board; the generator is set to its High-Z load
setting so its numbers mean that (docs/reference/scpi.md §2.1: with the 50 Ohm default the pins would see twice
the request). The gain solve uses the phasors measured at the pins, never these nominal values.

Differential: two channels 180 degrees apart around the DC bias; common mode: in phase, or one channel into
both inputs when the bench wiring ties them (docs/reference/measurement-methods.md §3.4 step 4, §4 bench recipe).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from instruments.board_config import BoardConfig
from instruments.errors import SafetyError
from instruments.generator import HIGH_Z, FunctionGenerator

Mode = Literal["dm", "cm", "se1", "se2", "dc"]


@dataclass(frozen=True)
class ChannelDrive:
    """One generator channel: sine amplitude (V peak at a high-impedance load), DC level (V), phase (deg)."""

    amplitude_vpk: float
    offset_v: float
    phase_deg: float = 0.0
    on: bool = True


@dataclass(frozen=True)
class Excitation:
    """A drive of both board inputs at one frequency (``frequency_hz = 0`` for DC).

    ``channels[i]`` drives generator channel ``i + 1``. ``tied`` means the bench wires one channel into both
    inputs. ``vid_vpk``/``vic_vpk`` are the nominal differential and common-mode peak amplitudes and
    ``vid_dc_v`` the nominal DC differential input, used for the safety check.
    """

    mode: Mode
    frequency_hz: float
    channels: tuple[ChannelDrive, ChannelDrive]
    vid_vpk: float
    vic_vpk: float
    vid_dc_v: float = 0.0
    vic_dc_v: float = 0.0
    tied: bool = False

    @property
    def label(self) -> str:
        if self.mode == "dc":
            return f"dc vid={self.vid_dc_v * 1e3:+.3f} mV vic={self.vic_dc_v:.3f} V"
        amp = self.vid_vpk if self.mode in ("dm", "se1", "se2") else self.vic_vpk
        return f"{self.mode} {self.frequency_hz:.6g} Hz {amp * 1e3:.4g} mVpk"


def differential(frequency_hz: float, vid_vpk: float, bias_v: float) -> Excitation:
    """Two channels 180 degrees apart, each ``vid/2`` peak, around ``bias_v`` (docs/conventions.md: vid = v1 - v2)."""
    half = vid_vpk / 2
    return Excitation("dm", frequency_hz,
                      (ChannelDrive(half, bias_v, 0.0), ChannelDrive(half, bias_v, 180.0)),
                      vid_vpk=vid_vpk, vic_vpk=0.0, vic_dc_v=bias_v)


def common_mode(frequency_hz: float, vic_vpk: float, bias_v: float, tied: bool) -> Excitation:
    """Both inputs in phase at ``vic_vpk``: one channel into both inputs when ``tied``, else two channels."""
    if tied:
        chans = (ChannelDrive(vic_vpk, bias_v, 0.0), ChannelDrive(0.0, bias_v, 0.0, on=False))
    else:
        chans = (ChannelDrive(vic_vpk, bias_v, 0.0), ChannelDrive(vic_vpk, bias_v, 0.0))
    return Excitation("cm", frequency_hz, chans, vid_vpk=0.0, vic_vpk=vic_vpk, vic_dc_v=bias_v, tied=tied)


def single_ended(frequency_hz: float, amplitude_vpk: float, bias_v: float, channel: int) -> Excitation:
    """One input driven, the other held at the bias by its channel's DC level (vid = vic*2 = amplitude)."""
    active = ChannelDrive(amplitude_vpk, bias_v, 0.0)
    quiet = ChannelDrive(0.0, bias_v, 0.0)
    chans = (active, quiet) if channel == 1 else (quiet, active)
    return Excitation("se1" if channel == 1 else "se2", frequency_hz, chans,
                      vid_vpk=amplitude_vpk, vic_vpk=amplitude_vpk / 2, vic_dc_v=bias_v)


def dc_level(vid_dc_v: float, vic_dc_v: float) -> Excitation:
    """Static inputs: ``v1 = vic + vid/2``, ``v2 = vic - vid/2`` from the generators' DC outputs."""
    return Excitation("dc", 0.0,
                      (ChannelDrive(0.0, vic_dc_v + vid_dc_v / 2), ChannelDrive(0.0, vic_dc_v - vid_dc_v / 2)),
                      vid_vpk=0.0, vic_vpk=0.0, vid_dc_v=vid_dc_v, vic_dc_v=vic_dc_v)


def check_limits(exc: Excitation, board: BoardConfig) -> None:
    """Refuse an excitation outside the board's safe limits (board config ``[limits]``).

    Raises :class:`~instruments.errors.SafetyError` naming the quantity, the request and the limit. Called
    for every planned point before any output turns on.
    """
    where = f"{board.source} [limits]"
    tol = 1e-12
    if exc.vid_vpk > board.vid_max_vpk + tol:
        raise SafetyError(f"{exc.label}: differential drive {exc.vid_vpk * 1e3:.4g} mV peak exceeds "
                          f"vid_max_vpk = {board.vid_max_vpk * 1e3:.4g} mV of {where}; nothing was switched on")
    if abs(exc.vid_dc_v) > board.vid_max_vpk + tol:
        raise SafetyError(f"{exc.label}: DC differential input {exc.vid_dc_v * 1e3:.4g} mV exceeds "
                          f"vid_max_vpk = {board.vid_max_vpk * 1e3:.4g} mV of {where}; nothing was switched on")
    if exc.vic_vpk > board.vic_max_vpk + tol:
        raise SafetyError(f"{exc.label}: common-mode drive {exc.vic_vpk * 1e3:.4g} mV peak exceeds "
                          f"vic_max_vpk = {board.vic_max_vpk * 1e3:.4g} mV of {where}; nothing was switched on")
    for i, ch in enumerate(exc.channels, start=1):
        if not ch.on:
            continue
        lo, hi = ch.offset_v - ch.amplitude_vpk, ch.offset_v + ch.amplitude_vpk
        if lo < board.bias_min_v - tol or hi > board.bias_max_v + tol:
            raise SafetyError(f"{exc.label}: generator channel {i} swings {lo:.4g} V to {hi:.4g} V, outside the "
                              f"board's input range [{board.bias_min_v:g}, {board.bias_max_v:g}] V of {where}; "
                              "nothing was switched on")


def configure(gen: FunctionGenerator, exc: Excitation) -> None:
    """Set both channels for ``exc`` at the High-Z load setting, outputs untouched (call before outputs on)."""
    for ch, drive in zip(gen.channels, exc.channels):
        gen.set_load(ch, HIGH_Z)
        if exc.frequency_hz == 0.0 or drive.amplitude_vpk == 0.0:
            gen.set_dc(ch, drive.offset_v)
        else:
            gen.set_sine(ch, exc.frequency_hz, 2.0 * drive.amplitude_vpk, drive.offset_v, drive.phase_deg)


def apply_excitation(gen: FunctionGenerator, exc: Excitation) -> None:
    """Configure, switch the needed outputs on, then re-align phases (docs/reference/scpi.md §2.4 practical rules)."""
    with gen.checked_step():  # one error-queue read for the settings, before any output goes on
        configure(gen, exc)
    with gen.checked_step():
        for ch, drive in zip(gen.channels, exc.channels):
            gen.set_output(ch, drive.on)
    if exc.frequency_hz > 0.0 and all(d.on and d.amplitude_vpk > 0 for d in exc.channels):
        gen.sync_phase()


def nominal_vid_vic(exc: Excitation) -> tuple[complex, complex]:
    """The phasors an ideal generator would put on the pins: (vid, vic), V peak.

    Used only to show what an "ideal generator" assumption would report (docs/reference/measurement-methods.md §3.3),
    never for the gains themselves.
    """
    def ph(d: ChannelDrive) -> complex:
        if not d.on:
            return 0j
        return d.amplitude_vpk * complex(math.cos(math.radians(d.phase_deg)), math.sin(math.radians(d.phase_deg)))

    v1 = ph(exc.channels[0])
    v2 = v1 if exc.tied else ph(exc.channels[1])
    return v1 - v2, (v1 + v2) / 2
