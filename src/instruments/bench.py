"""Open a bench: the generator and the scope of a bench config, identified, checked and ready.

:func:`open_bench` opens both VISA resources with pyvisa-py (``@py``), asks ``*IDN?``, picks the driver
from the answer (or checks the configured one against it), clears status with ``*CLS`` and checks the
error queue. Any failure on the way is one clear error naming the instrument; before it propagates, the
generator's outputs are switched off (if the generator answered) and everything opened is closed.

:class:`Bench` is a context manager: on exit the generator's outputs go off, the scope is left running
(the drivers' safe states, docs/conventions.md "instruments/") and both resources are closed, each step tried even
if another fails.

pyvisa is imported only when a resource has to be opened, so importing this module stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from . import registry
from .bench_config import BenchConfig, InstrumentEntry, Wiring, load_bench
from .errors import ConfigError, InstrumentConnectionError
from .generator import FunctionGenerator
from .scope import Oscilloscope
from .scpi_instrument import ScpiInstrument

log = logging.getLogger(__name__)

KINDS: tuple[registry.Kind, ...] = ("generator", "scope")


@dataclass
class Bench:
    """An open bench: drivers for the generator and the scope, the wiring, and what each instrument said
    it was (``identities[kind]`` is the ``*IDN?`` reply, ``drivers[kind]`` the driver name)."""

    generator: FunctionGenerator
    scope: Oscilloscope
    wiring: Wiring
    identities: dict[str, str]
    drivers: dict[str, str] = field(default_factory=dict)
    config: BenchConfig | None = None
    _resource_manager: Any = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Generator outputs off, scope running, both resources closed; every step is tried, then the first
        failure (if any) is raised. Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        first: BaseException | None = None
        for step in (self.generator.outputs_off, self.scope.safe_state, self.generator.close, self.scope.close):
            try:
                step()
            except Exception as exc:  # keep going: the outputs must go off and the sockets must close
                first = first or exc
        _close_manager(self._resource_manager)
        if first is not None:
            raise first
        log.info("bench closed: generator outputs off, scope running, both sessions closed")

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        try:
            self.close()
        except Exception as cleanup:
            if exc is None:
                raise
            # The body's error is the one to see; the cleanup failure rides along with it.
            log.error("closing the bench after an error also failed: %s", cleanup)
            if hasattr(exc, "add_note"):
                exc.add_note(f"while closing the bench: {cleanup}")


def open_bench(config: BenchConfig | str | Path, *, resources: Mapping[str, Any] | None = None) -> Bench:
    """Open the generator and the scope of a bench config and return a :class:`Bench`.

    ``config`` is a :class:`~instruments.bench_config.BenchConfig` or the path of a bench TOML.
    ``resources`` maps ``"generator"``/``"scope"`` to a VISA resource string, or to an already open
    pyvisa-like resource object (used as it is: its timeout and terminations are the caller's; from the
    call on, the bench owns it and closes it), and takes precedence over the config's addresses; a
    simulated bench needs it (its servers pick their ports when they start), e.g.
    ``open_bench(cfg, resources={"generator": "TCPIP0::127.0.0.1::40123::SOCKET", "scope": ...})``.

    For each instrument: open with the ``@py`` backend (``\\n`` read/write termination for ``::SOCKET``
    resources, docs/reference/scpi.md §1.4), set the config's timeout, read ``*IDN?`` (asked a second time if
    the first answer is empty: AFG1062 quirk, §3.4), pick the driver from it or check the configured one
    (:func:`registry.check_driver`), ``*CLS`` and drain the error queue (§1.1, §1.2).
    """
    cfg = config if isinstance(config, BenchConfig) else load_bench(config)
    given = dict(resources or {})
    unknown = sorted(set(given) - set(KINDS))
    if unknown:
        raise ValueError(f"open_bench: resources has unknown keys {unknown} (use 'generator' and 'scope')")
    for kind in KINDS:
        entry: InstrumentEntry = getattr(cfg, kind)
        if given.get(kind) is None and entry.resource is None:
            why = ("a simulated bench is served by diffbench's simulator: pass the served address as "
                   f"open_bench(cfg, resources={{'{kind}': ...}})") if cfg.simulated else "no VISA resource"
            raise ConfigError(cfg.source, f"[{kind}] resource", why)

    opener = _Opener()
    opened: dict[str, ScpiInstrument] = {}
    identities: dict[str, str] = {}
    drivers: dict[str, str] = {}
    try:
        for kind in KINDS:
            entry = getattr(cfg, kind)
            target = given.get(kind) if given.get(kind) is not None else entry.resource
            inst, idn, name = opener.open_instrument(kind, entry, target)
            opened[kind] = inst
            identities[kind] = idn
            drivers[kind] = name
    except BaseException as exc:
        for note in opener.abandon(opened):
            if hasattr(exc, "add_note"):
                exc.add_note(note)
        raise
    return Bench(generator=cast(FunctionGenerator, opened["generator"]), scope=cast(Oscilloscope, opened["scope"]),
                 wiring=cfg.wiring, identities=identities, drivers=drivers, config=cfg,
                 _resource_manager=opener.rm)


def open_visa_resource(rm: Any, address: str, timeout_ms: int, label: str | None = None) -> Any:
    """Open ``address`` with pyvisa resource manager ``rm``: timeout ``timeout_ms`` (also used to
    connect) and, for raw ``::SOCKET`` resources, ``\\n`` read and write termination (§1.4).

    A failure is one :class:`~instruments.errors.InstrumentConnectionError` naming ``label`` (default
    ``instrument at <address>``).
    """
    res = None
    log.debug("opening %s (VISA timeout %d ms)", address, timeout_ms)
    try:
        res = rm.open_resource(address, open_timeout=timeout_ms)
        res.timeout = timeout_ms
        if address.upper().endswith("::SOCKET"):
            res.read_termination = "\n"
            res.write_termination = "\n"
    except Exception as exc:
        if res is not None:
            res.close()
        raise InstrumentConnectionError(label or f"instrument at {address}", "cannot open the VISA resource "
                                        f"({exc.__class__.__name__}: {exc})") from exc
    return res


def read_identity(inst: ScpiInstrument) -> str:
    """``*IDN?``, asked once more if the first answer is empty (AFG1062 quirk, docs/reference/scpi.md §3.4)."""
    return inst.idn() or inst.idn()


def _close_manager(rm: Any) -> None:
    """Leave pyvisa's ResourceManager open: pyvisa shares one session per backend across every
    ResourceManager of the process, so closing ours would close a bench script's own resources too.
    Our resources are closed one by one; the session goes with the process."""


class _Opener:
    """Opens instruments one by one and remembers enough to undo it all if a later step fails."""

    def __init__(self) -> None:
        self.rm: Any = None
        self.raw: list[Any] = []              # resources opened or handed in (closed on failure)
        self.generator_off: ScpiInstrument | None = None   # a generator driver that answered

    def _manager(self) -> Any:
        if self.rm is None:
            import pyvisa

            self.rm = pyvisa.ResourceManager("@py")
        return self.rm

    def open_instrument(self, kind: registry.Kind, entry: InstrumentEntry,
                        target: Any) -> tuple[ScpiInstrument, str, str]:
        """Open, identify, pick/check the driver, ``*CLS``; returns (driver instance, *IDN? reply, name).

        A resource object handed in (not an address) belongs to the bench from here on, like one opened here.
        """
        if isinstance(target, str):
            address = target
            res = open_visa_resource(self._manager(), target, entry.timeout_ms, f"{kind} at {address}")
        else:
            res, address = target, getattr(target, "resource_name", "?")
        self.raw.append(res)

        idn = read_identity(ScpiInstrument(res, f"{kind} at {address}"))
        ident = registry.parse_idn(idn)
        label = f"{kind} {ident.short} at {address}"
        if kind == "generator":
            # From here on the generator answers: whatever fails next, its outputs must go off, with the
            # driver that fits what answered (even if the configured one does not).
            fits = registry.match(ident, "generator")
            if fits is not None:
                try:
                    self.generator_off = self._driver(fits.name, res, label, ident)
                except Exception:
                    self.generator_off = None
        info = (registry.check_driver(entry.driver, ident, kind, label) if entry.driver
                else registry.driver_for_idn(ident, kind, label))
        inst = self._driver(info.name, res, label, ident)
        inst.identity = idn
        log.info("%s: *IDN? %s; driver %s", label, idn, info.name)
        if kind == "generator":
            self.generator_off = inst
        inst.clear()
        inst.check_errors("*CLS")
        return inst, idn, info.name

    @staticmethod
    def _driver(name: str, res: Any, label: str, ident: registry.Identity) -> ScpiInstrument:
        cls = registry.load_driver(name, ident.model)
        inst: ScpiInstrument = cls(res, label)
        configure = getattr(inst, "configure_model", None)
        if configure is not None:
            configure(ident.model)
        return inst

    def abandon(self, opened: Mapping[str, ScpiInstrument]) -> list[str]:
        """After a failure: generator outputs off (if it answered), then close everything opened.

        Returns one note per cleanup step that failed too (the original error is the one raised).
        """
        notes = []
        if isinstance(self.generator_off, FunctionGenerator):  # every generator driver is one
            try:
                self.generator_off.outputs_off()
            except Exception as exc:
                notes.append(f"switching the generator outputs off also failed: {exc}")
        for inst in opened.values():
            inst.close()
        for res in self.raw:
            try:
                res.close()
            except Exception:
                pass
        _close_manager(self.rm)
        return notes
