"""What a new run archive is declared with (:class:`RunDeclaration`), and the check of it before any file is made.

The tables and records themselves are declared with :class:`~procedures.archive.spec.TableSpec` and
:class:`~procedures.archive.spec.WaveformSpec`; a :class:`RunDeclaration` gathers them with the run's
metadata, its configs and its instruments, which is everything :meth:`procedures.archive.writer.RunArchive.create`
needs to build the schema (``docs/archive.md``, "Layout").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from procedures.archive.spec import (
    INSTRUMENT_TEXT_KEYS,
    ArchiveError,
    TableSpec,
    WaveformSpec,
    check_name,
    json_text,
    validate_table_spec,
    validate_waveform_spec,
)


@dataclass(frozen=True)
class RunDeclaration:
    """Everything a run archive holds besides its data, fixed when the archive is created.

    ``metadata`` is any JSON-able dict (operator, board, procedure name, ...); ``configs`` maps a name
    (``bench``, ``board``, ``procedure``) to the TOML text as given; ``instruments`` maps a name to
    ``{"idn": *IDN? reply, "resource": VISA resource, "driver": module or class, "settings": JSON-able
    dict}``; ``tables`` maps each table's name to its declaration, in the order they are stored;
    ``waveform_spec`` declares the raw scope records (``None``: the run stores none).
    """

    metadata: Mapping[str, Any]
    configs: Mapping[str, str]
    instruments: Mapping[str, Mapping[str, Any]]
    tables: Mapping[str, TableSpec]
    waveform_spec: WaveformSpec | None = None


def check_declarations(declaration: RunDeclaration) -> tuple[str, dict[str, dict[str, str]]]:
    """Check everything a new archive is declared with; return the metadata JSON and each instrument's attributes.

    Raises :class:`ArchiveError` (one line) on the first bad declaration; :class:`RunDeclaration` says what
    each field holds.
    """
    metadata = declaration.metadata
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise ArchiveError("metadata must be a dict with string keys")
    metadata_json = json_text("metadata", dict(metadata))
    _check_configs(declaration.configs)
    inst_attrs = _instrument_attrs(declaration.instruments)
    tables, waveform_spec = declaration.tables, declaration.waveform_spec
    if not isinstance(tables, Mapping):
        raise ArchiveError("tables must be a dict of name -> TableSpec")
    for tname, spec in tables.items():
        validate_table_spec(tname, spec)
    if waveform_spec is not None:
        validate_waveform_spec(waveform_spec)
    if not tables and waveform_spec is None:
        raise ArchiveError("an archive needs at least one table or a waveform_spec")
    return metadata_json, inst_attrs


def _check_configs(configs: Mapping[str, str]) -> None:
    if not isinstance(configs, Mapping):
        raise ArchiveError("configs must be a dict of name -> TOML text")
    for name, text in configs.items():
        check_name("config", name)
        if name == "NX_class":
            raise ArchiveError("config name 'NX_class' is reserved")
        if not isinstance(text, str):
            raise ArchiveError(f"config {name!r} must be text (str), got {type(text).__name__}")


def _instrument_attrs(instruments: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Each instrument's attributes as stored: its text keys, and its settings as JSON in ``settings_json``."""
    if not isinstance(instruments, Mapping):
        raise ArchiveError("instruments must be a dict of name -> {idn, resource, driver, settings}")
    inst_attrs: dict[str, dict[str, str]] = {}
    for name, info in instruments.items():
        check_name("instrument", name)
        if not isinstance(info, Mapping):
            raise ArchiveError(f"instrument {name!r}: expected a dict, got {type(info).__name__}")
        unknown = set(info) - {*INSTRUMENT_TEXT_KEYS, "settings"}
        missing = set(INSTRUMENT_TEXT_KEYS) - set(info)
        if unknown or missing:
            raise ArchiveError(
                f"instrument {name!r}: keys are idn, resource, driver, settings"
                + (f"; missing {sorted(missing)}" if missing else "")
                + (f"; unknown {sorted(unknown)}" if unknown else "")
            )
        for k in INSTRUMENT_TEXT_KEYS:
            if not isinstance(info[k], str):
                raise ArchiveError(f"instrument {name!r}: {k} must be a string")
        settings = info.get("settings", {})
        if not isinstance(settings, Mapping):
            raise ArchiveError(f"instrument {name!r}: settings must be a dict")
        inst_attrs[name] = {k: info[k] for k in INSTRUMENT_TEXT_KEYS}
        inst_attrs[name]["settings_json"] = json_text(f"instrument {name!r} settings", dict(settings))
    return inst_attrs
