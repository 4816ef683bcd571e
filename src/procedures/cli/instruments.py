"""``diffbench list`` and ``diffbench identify``: what VISA can see, what answers ``*IDN?``, which driver.

``list`` asks pyvisa-py (``@py``) for the resources it can discover (USB-TMC, VXI-11 on the local
interface, ...; raw ``::SOCKET`` addresses cannot be discovered, so ``--resource`` adds them), asks each
``*IDN?`` with a short timeout and names the driver diffbench would pick. ``identify RESOURCE`` does the
same for one address and fails with one clear line when nothing answers or no driver fits.

Top-level imports stay light (the CLI parser imports every subcommand module); pyvisa loads in ``run_*``.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from instruments import registry
from instruments.errors import InstrumentError

DEFAULT_LIST_TIMEOUT_MS = 500
DEFAULT_IDENTIFY_TIMEOUT_MS = 2000


def add_arguments_list(parser: argparse.ArgumentParser) -> None:
    """Options of ``diffbench list``."""
    parser.add_argument("--query", default="?*::INSTR",
                        help="VISA resource pattern to discover (default: %(default)s)")
    parser.add_argument("--resource", action="append", default=[], metavar="RESOURCE",
                        help="also probe this address (raw sockets are not discoverable); repeatable")
    parser.add_argument("--timeout-ms", type=int, default=DEFAULT_LIST_TIMEOUT_MS,
                        help="VISA timeout per resource, ms (default: %(default)s)")


def add_arguments_identify(parser: argparse.ArgumentParser) -> None:
    """Options of ``diffbench identify``."""
    parser.add_argument("resource", metavar="RESOURCE",
                        help="VISA resource, e.g. TCPIP0::192.168.1.20::5025::SOCKET")
    parser.add_argument("--timeout-ms", type=int, default=DEFAULT_IDENTIFY_TIMEOUT_MS,
                        help="VISA timeout, ms (default: %(default)s)")


def _resource_manager() -> Any:
    import pyvisa

    return pyvisa.ResourceManager("@py")


def probe(rm: Any, address: str, timeout_ms: int) -> str:
    """Open ``address``, ask ``*IDN?`` and close again; returns the reply. Failures are
    :class:`~instruments.errors.InstrumentError` naming the address."""
    from instruments.bench import open_visa_resource, read_identity
    from instruments.scpi_instrument import ScpiInstrument

    label = f"instrument at {address}"
    res = open_visa_resource(rm, address, timeout_ms, label)
    inst = ScpiInstrument(res, label)
    try:
        return read_identity(inst)
    finally:
        inst.close()


def _describe(idn: str) -> str:
    info = registry.match(idn)
    return f"{info.name} ({info.kind})" if info else "no driver"


def run_list(args: argparse.Namespace) -> int:
    """Print one line per resource: address, ``*IDN?`` reply (or why none) and the driver that fits."""
    rm = _resource_manager()
    try:
        with warnings.catch_warnings():
            # pyvisa-py warns that discovery without psutil/zeroconf is partial; the footer says so once.
            warnings.simplefilter("ignore")
            found = list(rm.list_resources(args.query))
        addresses = list(dict.fromkeys(found + list(args.resource)))
        if not addresses:
            print("pyvisa-py sees no VISA resources; raw-socket instruments are not discoverable: "
                  "probe them with --resource TCPIP0::<ip>::<port>::SOCKET")
            return 0
        rows = []
        for address in addresses:
            try:
                idn = probe(rm, address, args.timeout_ms)
                rows.append((address, idn or "(empty reply)", _describe(idn)))
            except InstrumentError as exc:
                rows.append((address, f"(no answer: {exc.message})", "-"))
        width = max(len(r[0]) for r in rows)
        idn_width = min(max(len(r[1]) for r in rows), 70)
        print(f"{'RESOURCE':<{width}}  {'*IDN?':<{idn_width}}  DRIVER")
        for address, idn, driver in rows:
            print(f"{address:<{width}}  {idn:<{idn_width}}  {driver}")
        print("(raw-socket instruments are not discoverable: add them with --resource)")
        return 0
    finally:
        rm.close()


def run_identify(args: argparse.Namespace) -> int:
    """Print the ``*IDN?`` reply of RESOURCE and the driver diffbench would use; error if there is none."""
    rm = _resource_manager()
    try:
        idn = probe(rm, args.resource, args.timeout_ms)
    finally:
        rm.close()
    info = registry.match(idn)
    if info is None:
        raise InstrumentError(f"instrument at {args.resource}", f"*IDN? answered {idn!r}: no diffbench driver "
                              f"serves model {registry.parse_idn(idn).model!r} (known: "
                              + "; ".join(d.family for d in registry.DRIVERS.values()) + ")")
    print(f"{args.resource}: {idn}")
    print(f"driver: {info.name} ({info.kind}: {info.family})")
    return 0

