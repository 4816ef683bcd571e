"""Serials typed (or scanned) by the operator: one per line until an empty line, a bad or repeated one asked
again; drawn serials follow the lot's name."""

from __future__ import annotations

from collections.abc import Iterator

from procedures.lot.units import drawn_serial, typed_serials


def answers(*lines: str) -> Iterator[str]:
    yield from lines


def test_serials_are_read_until_an_empty_line_and_bad_ones_are_asked_again() -> None:
    typed = answers("A0001", "bad serial!", "A0002", "A0001", "A0003", "")
    said: list[str] = []
    assert typed_serials(lambda prompt: next(typed), said.append) == ["A0001", "A0002", "A0003"]
    assert len(said) == 2 and "not a serial number" in said[0] and "already in this lot" in said[1]


def test_the_end_of_input_ends_the_list() -> None:
    typed = answers("X1", "X2")

    def ask(prompt: str) -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    assert typed_serials(ask, print) == ["X1", "X2"]


def test_drawn_serials_follow_the_lot_name() -> None:
    assert drawn_serial("sim-bjt-lot", 0) == "sim-bjt-lot-0001"
    assert drawn_serial("my lot", 41) == "my_lot-0042"
