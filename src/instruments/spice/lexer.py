"""A netlist file's text as cards: logical lines (continuations joined, comments removed), split into tokens.

Line syntax (ngspice User's Manual sec. 2.1 "General Structure and Conventions"): the first line of a main
file is the title, whatever it holds (an included file has none); a line whose first non-blank character is
``*`` is a comment; ``;`` starts an inline comment, and so does ``$`` standing between blanks; a line starting
with ``+`` continues the card before it (comment and blank lines may sit in between); ``.control`` ...
``.endc`` blocks (ngspice's interactive commands) are skipped; ``.end`` stops reading.

Tokens are case-preserving (each consumer folds case where SPICE ignores it): a ``{...}`` group (braces may
nest), a ``'...'`` or ``"..."`` group, one of ``( ) = ,``, or a run of anything else between blanks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import NetlistError
from .circuit import Where

_INLINE_COMMENT = re.compile(r";|(?:^|(?<=\s))\$(?=\s|$)")
_SINGLE = "()=,"
_CLOSING = {"{": "}", "'": "'", '"': '"'}


@dataclass(frozen=True)
class Card:
    """One logical line: where it starts, its text (comments removed, continuations joined by a blank) and
    its tokens."""

    where: Where
    text: str
    tokens: tuple[str, ...]

    @property
    def keyword(self) -> str:
        """The first token in lower case (``.model``, ``r1``, ...)."""
        return self.tokens[0].lower()


def _strip_comment(line: str) -> str:
    if line.lstrip().startswith("*"):
        return ""
    m = _INLINE_COMMENT.search(line)
    return (line[:m.start()] if m else line).strip()


def _group_end(text: str, start: int, where: Where) -> int:
    """The index just past the group that opens at ``text[start]`` (``{`` nests; quotes do not)."""
    opening = text[start]
    closing = _CLOSING[opening]
    depth = 0
    for k in range(start, len(text)):
        ch = text[k]
        if opening == "{" and ch == "{":
            depth += 1
        elif ch == closing and (k > start or opening == "{"):
            depth -= 1
            if depth <= 0:
                return k + 1
    raise NetlistError(where.file, where.line, f"unbalanced {opening!r} in {text[start:start + 40]!r}")


def tokenize(text: str, where: Where) -> tuple[str, ...]:
    """The tokens of one logical line (see the module docstring)."""
    out: list[str] = []
    k, word_start = 0, -1
    while k < len(text):
        ch = text[k]
        if ch.isspace() or ch in _SINGLE or ch in _CLOSING:
            if word_start >= 0:
                out.append(text[word_start:k])
                word_start = -1
            if ch in _SINGLE:
                out.append(ch)
            elif ch in _CLOSING:
                end = _group_end(text, k, where)
                out.append(text[k:end])
                k = end
                continue
        elif ch == "}":
            raise NetlistError(where.file, where.line, f"unbalanced '}}' in {text!r}")
        elif word_start < 0:
            word_start = k
        k += 1
    if word_start >= 0:
        out.append(text[word_start:])
    return tuple(out)


def _logical_lines(lines: list[str], first_no: int, file: str) -> list[tuple[int, str]]:
    """(line number, joined text) of each card, ``.control`` blocks skipped, stopping at ``.end``."""
    out: list[tuple[int, str]] = []
    in_control = False
    for no, raw in enumerate(lines, first_no):
        line = _strip_comment(raw)
        if not line:
            continue
        low = line.lower().split()[0]
        if in_control:
            in_control = low != ".endc"
            continue
        if low == ".control":
            in_control = True
        elif low == ".end":
            break
        elif line.startswith("+"):
            if not out:
                raise NetlistError(file, no, "a continuation line ('+') with no card before it")
            out[-1] = (out[-1][0], f"{out[-1][1]} {line[1:].strip()}")
        else:
            out.append((no, line))
    return out


def read_cards(text: str, file: str, has_title: bool) -> tuple[str, list[Card]]:
    """The title (the first line when ``has_title``, else "") and the cards of a netlist file's text."""
    lines = text.splitlines()
    title = ""
    first_no = 1
    if has_title and lines:
        title = lines[0].strip()
        lines = lines[1:]
        first_no = 2
    cards = []
    for no, joined in _logical_lines(lines, first_no, file):
        where = Where(file, no)
        tokens = tokenize(joined, where)
        if tokens:
            cards.append(Card(where, joined, tokens))
    return title, cards
