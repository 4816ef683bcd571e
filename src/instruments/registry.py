"""Which diffbench driver serves which instrument: driver names, classes and ``*IDN?`` model matching.

Every driver is known here by name (the names bench configs use, ``bench_config.GENERATOR_DRIVERS`` and
``SCOPE_DRIVERS``), with the model numbers it serves and the module and class that implement it (a family
may have a subclass for some of its models: ``rigol_ds1000z`` serves DHO800/DHO900 with ``RigolDHO``). Driver
modules are imported only by :func:`load_driver`, by name, so a missing or broken module fails only when
that driver is used, and importing the registry costs nothing.

Matching follows docs/reference/scpi.md §1.1: "match on model, not maker" (the maker string differs per vendor
and era: ``Agilent Technologies`` / ``Keysight Technologies``, ``RIGOL TECHNOLOGIES`` / ``Rigol
Technologies``). The model field of ``*IDN?`` (the second comma-separated field, after stripping an
optional ``*IDN`` header some Siglent units send, §3.3) must match one of a driver's model patterns as a
whole, case-insensitively; if the model field matches nothing, the other fields are tried.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Literal

from .errors import DiffbenchError, InstrumentError

Kind = Literal["generator", "scope"]


@dataclass(frozen=True)
class Variant:
    """One implementation of a driver: the models it serves and where its class lives."""

    #: regular expressions, each matched against the whole ``*IDN?`` model field (case-insensitive)
    models: tuple[str, ...]
    module: str
    class_name: str

    def matches(self, model: str) -> bool:
        """True if ``model`` (an ``*IDN?`` model field) is one this variant serves."""
        m = model.strip()
        return any(re.fullmatch(p, m, re.I) for p in self.models)


@dataclass(frozen=True)
class DriverInfo:
    """One driver as bench configs name it: what kind of instrument, which family, and its variants (a
    family may need a subclass for some models, e.g. the 12-bit Rigol DHO800/900 under ``rigol_ds1000z``)."""

    name: str
    kind: Kind
    family: str
    variants: tuple[Variant, ...]

    @property
    def models(self) -> tuple[str, ...]:
        """Every model pattern of every variant."""
        return tuple(p for v in self.variants for p in v.models)

    @property
    def module(self) -> str:
        """Module of the family's main variant."""
        return self.variants[0].module

    @property
    def class_name(self) -> str:
        """Class of the family's main variant."""
        return self.variants[0].class_name

    def matches(self, model: str) -> bool:
        """True if ``model`` (an ``*IDN?`` model field) is one this driver serves."""
        return any(v.matches(model) for v in self.variants)

    def variant_for(self, model: str | None) -> Variant:
        """The variant serving ``model``; the main variant if ``model`` is ``None`` or matches none."""
        if model:
            for v in self.variants:
                if v.matches(model):
                    return v
        return self.variants[0]


def _driver(name: str, kind: Kind, family: str, module: str, class_name: str, models: tuple[str, ...],
            *more: Variant) -> DriverInfo:
    return DriverInfo(name, kind, family, (Variant(models, module, class_name),) + more)


_DRIVERS: tuple[DriverInfo, ...] = (
    # -- generators (docs/reference/scpi.md §3) -----------------------------------------------------------------
    _driver("keysight_33500", "generator", "Keysight/Agilent 33500B/33600A Trueform generator",
            "instruments.keysight_33500", "Keysight33500",
            # §3.1: 33509B-33522B and 33611A-33622A; the Agilent-era 33521A/33522A share the set
            (r"335\d\d[AB]", r"336\d\dA")),
    _driver("rigol_dg1000z", "generator", "Rigol DG1000Z/DG800/DG900 generator",
            "instruments.rigol_dg1000z", "RigolDG1000Z",
            # §3.2: DG1022Z/DG1032Z/DG1062Z, DG811-DG832, DG952/DG972/DG992 (and their "Pro" variants)
            (r"DG10\d\dZ", r"DG8\d\d( ?PRO)?", r"DG9\d\d( ?PRO)?")),
    _driver("siglent_sdg", "generator", "Siglent SDG1000X/2000X/6000X generator",
            "instruments.siglent_sdg", "SiglentSDG",
            # §3.3: SDG1032X, SDG2042X, SDG6022X ... (with -E / Plus suffixes)
            (r"SDG[126]\d{3}X(-E| ?PLUS)?",)),
    _driver("tektronix_afg31000", "generator", "Tektronix AFG31000/AFG3000/AFG1000 generator",
            "instruments.tektronix_afg31000", "TektronixAFG31000",
            # §3.4: AFG31021-AFG31252, AFG3011C-AFG3252C, AFG1022/AFG1062
            (r"AFG31\d{3}", r"AFG3\d{3}[BC]?", r"AFG10[26]2")),
    # -- oscilloscopes (docs/reference/scpi.md §4) --------------------------------------------------------------
    _driver("keysight_infiniivision", "scope", "Keysight/Agilent InfiniiVision X-series oscilloscope",
            "instruments.keysight_infiniivision", "KeysightInfiniiVision",
            # §4.1: DSOX1204G, DSO-X 2024A (Agilent era, with hyphen and space), MSOX3054T, EDUX1052G
            (r"(DSO|MSO|EDU)-?X ?\d{4}[A-Z]{0,2}",)),
    _driver("rigol_ds1000z", "scope", "Rigol DS1000Z/MSO1000Z or DHO800/DHO900 oscilloscope",
            "instruments.rigol_ds1000z", "RigolDS1000Z",
            # §4.2: DS1054Z, DS1104Z Plus, MSO1104Z-S, DS1202Z-E
            (r"(DS|MSO)1\d{3}Z(-[A-Z]+)?( ?PLUS)?",),
            # §4.2 "DHO800 / DHO900": the same command set with 16-bit transfers, in its own subclass
            Variant((r"DHO[89]\d{2}S?",), "instruments.rigol_dho", "RigolDHO")),
    _driver("siglent_sds", "scope", "Siglent SDS1000X-E / SDS2000X Plus / SDS800X HD oscilloscope",
            "instruments.siglent_sds", "SiglentSDS",
            # §4.3 "New SCPI": SDS2104X Plus, SDS824X HD, SDS1104X HD, SDS5104X, SDS6204A
            (r"SDS\d{3,4}X ?(PLUS|HD)", r"SDS[56]\d{3}[XA]"),
            # §4.3 "Legacy": SDS1104X-E, SDS1202X-E, SDS1104X-U (LeCroy-style set, its own module)
            Variant((r"SDS[12]\d{3}X(-E|-U)?",), "instruments.siglent_sds1000xe", "SiglentSDS1000XE")),
    _driver("tektronix_mso", "scope", "Tektronix MSO 4/5/6 Series or TBS1000/TBS2000 oscilloscope",
            "instruments.tektronix_mso", "TektronixMSO",
            # §4.4: MSO44/46, MSO54/56/58, MSO64/66 (B and LP variants); TBS 1102B-EDU, TBS2104, TBS2104B
            (r"MSO[456]\d(B|LP)?", r"TBS ?[12]\d{3}B?(-EDU)?")),
)

#: driver name -> :class:`DriverInfo`, generators first
DRIVERS: dict[str, DriverInfo] = {d.name: d for d in _DRIVERS}


@dataclass(frozen=True)
class Identity:
    """The four fields of an ``*IDN?`` reply (``maker,model,serial,firmware``, §1.1) and the reply itself."""

    maker: str
    model: str
    serial: str
    firmware: str
    raw: str

    @property
    def short(self) -> str:
        """``maker-first-word model`` for labels, e.g. ``Keysight 33522B``."""
        maker = self.maker.split()[0] if self.maker.split() else ""
        return f"{maker} {self.model}".strip()


def parse_idn(reply: str) -> Identity:
    """Split an ``*IDN?`` reply into its fields; missing fields are empty strings."""
    raw = reply.strip()
    body = re.sub(r"^\*?IDN\s+", "", raw, flags=re.I)  # Siglent header form "*IDN SDG,..." (§3.3)
    fields = [f.strip() for f in body.split(",")] + ["", "", "", ""]
    return Identity(maker=fields[0], model=fields[1], serial=fields[2], firmware=",".join(
        f for f in fields[3:] if f), raw=raw)


def match(idn: str | Identity, kind: Kind | None = None) -> DriverInfo | None:
    """The driver for an ``*IDN?`` reply (optionally only of ``kind``), or ``None`` if none fits."""
    ident = idn if isinstance(idn, Identity) else parse_idn(idn)
    candidates = [d for d in DRIVERS.values() if kind is None or d.kind == kind]
    for d in candidates:
        if d.matches(ident.model):
            return d
    others = [f for f in ident.raw.replace("*IDN", "").split(",") if f.strip() and f.strip() != ident.model]
    for d in candidates:
        if any(d.matches(f) for f in others):
            return d
    return None


def _known(kind: Kind | None) -> str:
    return "; ".join(d.family for d in DRIVERS.values() if kind is None or d.kind == kind)


def driver_for_idn(idn: str | Identity, kind: Kind, instrument: str = "instrument") -> DriverInfo:
    """The driver of ``kind`` for an ``*IDN?`` reply; one clear :class:`InstrumentError` if there is none.

    ``instrument`` names the instrument in the error (e.g. ``"generator at TCPIP0::..."``).
    """
    ident = idn if isinstance(idn, Identity) else parse_idn(idn)
    found = match(ident)
    if found is not None and found.kind == kind:
        return found
    if found is not None:
        raise InstrumentError(instrument, f"*IDN? answered {ident.raw!r}, a {found.family} (driver "
                              f"{found.name!r}), not a {kind}: check the [{kind}] resource")
    raise InstrumentError(instrument, f"*IDN? answered {ident.raw!r}: no diffbench {kind} driver serves "
                          f"model {ident.model!r} (known: {_known(kind)})")


def check_driver(name: str, idn: str | Identity, kind: Kind, instrument: str = "instrument") -> DriverInfo:
    """Check a configured driver ``name`` against what answered ``*IDN?``; return its :class:`DriverInfo`.

    A driver whose family does not serve the instrument that answered is refused with one error naming the
    instrument, the ``*IDN?`` reply and the driver that would fit (if any).
    """
    ident = idn if isinstance(idn, Identity) else parse_idn(idn)
    info = DRIVERS.get(name)
    if info is None or info.kind != kind:
        names = ", ".join(d.name for d in DRIVERS.values() if d.kind == kind)
        raise InstrumentError(instrument, f"unknown {kind} driver {name!r} (known: {names})")
    if info.matches(ident.model) or match(ident) is info:
        return info
    fits = match(ident)
    if fits is None:
        hint = f"no diffbench driver serves model {ident.model!r}"
    elif fits.kind != kind:
        hint = f"that is a {fits.family} (driver {fits.name!r}), not a {kind}: check the [{kind}] resource"
    else:
        hint = f"the driver that fits is {fits.name!r} ({fits.family})"
    raise InstrumentError(instrument, f"configured driver {name!r} is for a {info.family}, but *IDN? answered "
                          f"{ident.raw!r}; {hint}")


def load_driver(name: str, model: str | None = None) -> type:
    """Import the module of driver ``name`` (the variant serving ``model``, if given) and return its class.

    Driver modules are imported only here, so a missing or broken one fails only when it is used.
    """
    info = DRIVERS.get(name)
    if info is None:
        raise DiffbenchError(f"unknown driver {name!r} (known: {', '.join(DRIVERS)})")
    variant = info.variant_for(model)
    try:
        module = importlib.import_module(variant.module)
        cls: type = getattr(module, variant.class_name)
        return cls
    except Exception as exc:  # a missing or broken module: one line naming driver, module and cause
        raise DiffbenchError(f"driver {name!r} ({variant.module}.{variant.class_name}) cannot be loaded: "
                             f"{exc.__class__.__name__}: {exc}") from exc
