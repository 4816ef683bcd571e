"""Every reference written in the repository resolves inside the repository.

Scanned: ``src/``, ``tests/``, ``benchmarks/``, ``docs/`` (``.py`` and ``.md`` files) and ``README.md``, all but this
file (the only one allowed to name what (a) looks for; its planted examples below are broken on purpose). The
checks, each one test below, print every failure as ``file:line: what``:

(a) no mention of files that live outside the repository: the ``shared/`` folder the project was started from
    and its design note;
(b) every ``docs/....md`` (or ``README.md``) named exists, and so does every Python file named by its path
    (``procedures/run/preflight.py``, ``tests/...py``, ``benchmarks/...py``); a Markdown link is resolved from
    the folder of the page that holds it;
(c) every section reference ``§N`` or ``§N.M`` names a numbered heading (``## 2.``, ``### 2.1``) of the page it
    points at. Which page that is: one written after it (``§2.1 of docs/reference/hdf5-archive.md``); the page
    of the reference it continues in a list (``docs/reference/scpi.md §2.1, §2.4``: the bare ``§2.4`` is
    scpi.md's); the page a file declares for all its bare references (a module saying "``§n`` refers to sections
    of docs/reference/hdf5-archive.md", a page saying "docs/reference/hdf5-archive.md, cited below as §n"); the
    doc path written last before it in the same docstring, comment block or paragraph; in a page of ``docs/``,
    that page itself; else the last doc path named earlier in the file. A section of an outside work
    (``IEEE 488.2 §7.7.2``, ``Razavi §3.5``, a vendor ``guide §3.3.1``) is not ours to resolve: see
    :data:`OUTSIDE_WORKS`;
(d) every module path written in backticks or in a Sphinx role (``procedures.run.runner.run_procedure``,
    ``:mod:`models.mixed_mode```, ``~instruments.scope.Oscilloscope``) imports as a module or a module attribute,
    and so does every ``from procedures... import ...`` in a code block of a page. This is what catches stale
    paths after modules move.
"""

from __future__ import annotations

import importlib
import inspect
import io
import re
import tokenize
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("src", "tests", "benchmarks", "docs", "README.md")
THIS_FILE = Path(__file__).resolve()

# (a): spelled in pieces so that only the pattern, not a mention, stands in this file
OUTSIDE_FILES = re.compile("shared" + "/|" + "DESIGN" + r"\.md")

# (b)
DOC_PATH = re.compile(r"(?<![\w./-])(docs/(?:[\w-]+/)*[\w.-]+\.md|README\.md)")
MD_LINK = re.compile(r"\]\(([^()\s]+?\.md)(?:#[^()\s]*)?\)")
PY_PATH = re.compile(r"(?<![\w./-])((?:src/|tests/|benchmarks/)?(?:procedures|instruments|models)/(?:\w+/)*\w+\.py"
                     r"|(?:tests|benchmarks)/(?:\w+/)*\w+\.py)")

# (c)
SECTION = re.compile(r"§\s?(\d+(?:\.\d+)*)(?:\s*[-–]\s*§?\s?(\d+(?:\.\d+)*))?")
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?(?:\s|$)", re.M)
AFTER_OF_DOC = re.compile(r"^[\s\d.,§and-]*\s+of\s+[`'\"]*(docs/(?:[\w-]+/)*[\w.-]+\.md)")
DECLARATION = re.compile(
    r"§n[`'\"]*\s+refers?\s+to[^.]*?(docs/(?:[\w-]+/)*[\w.-]+\.md)"
    r"|(docs/(?:[\w-]+/)*[\w.-]+\.md)[`'\"]*,?\s+(?:is\s+)?cited\s+(?:below\s+)?as\s+[`'\"]*§n", re.S)
LIST_GAP = re.compile(r"[\s,;&/]*(?:and|or)?[\s,;&/]*")
#: Works outside the repository cited by section: a ``§`` right after one of these names is theirs, not ours
#: (a standard, a textbook author, a vendor's guide, the Introduction of the Review of Particle Physics).
OUTSIDE_WORKS = re.compile(r"(?:IEEE\s+(?:Std\s+)?\d+(?:\.\d+)*|Razavi|Meyer|guide|Guide\*?|Introduction,)\s*$")

# (d)
ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|exc|obj):`~?([\w.]+)`")
BACKTICKED = re.compile(r"(?<!`)(`{1,2})(?!`)([^`\n]+?)\1(?!`)")
DOTTED = re.compile(r"^~?((?:procedures|instruments|models)(?:\.[A-Za-z_]\w*)+)")
FROM_IMPORT = re.compile(r"^\s*from\s+((?:procedures|instruments|models)(?:\.\w+)*)\s+import\s+\(?([\w\s,]+)\)?",
                         re.M)


@dataclass(frozen=True)
class Block:
    """A docstring or string, a run of comment lines, or a paragraph: the reach of a bare ``§``."""

    line: int
    text: str

    def line_of(self, offset: int) -> int:
        return self.line + self.text.count("\n", 0, offset)


def scanned_files(root: Path = REPO) -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = root / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".py", ".md") and "__pycache__" not in p.parts)
    return [f for f in files if f.resolve() != THIS_FILE]


def rel(path: Path, root: Path = REPO) -> str:
    return path.relative_to(root).as_posix()


def blocks(path: Path, text: str) -> list[Block]:
    """Where a bare ``§`` may take its page from: Markdown paragraphs, or Python strings and comment runs."""
    return _paragraphs(text) if path.suffix == ".md" else _strings_and_comments(text)


def _paragraphs(text: str) -> list[Block]:
    found: list[Block] = []
    lines: list[str] = []
    start = 1
    for number, line in enumerate([*text.splitlines(), ""], 1):
        if line.strip():
            start = start if lines else number
            lines.append(line)
        elif lines:
            found.append(Block(start, "\n".join(lines)))
            lines = []
    return found


def _strings_and_comments(text: str) -> list[Block]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return [Block(1, text)]
    found: list[Block] = []
    comment: list[str] = []
    comment_start = comment_end = 0
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            if not (comment and tok.start[0] == comment_end + 1):
                if comment:
                    found.append(Block(comment_start, "\n".join(comment)))
                comment, comment_start = [], tok.start[0]
            comment.append(tok.string)
            comment_end = tok.start[0]
        elif tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            found.append(Block(tok.start[0], tok.string))
    if comment:
        found.append(Block(comment_start, "\n".join(comment)))
    return found


# -- (a) ---------------------------------------------------------------------------------------------------------


def outside_file_mentions(root: Path = REPO) -> list[str]:
    failures = []
    for path in scanned_files(root):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in OUTSIDE_FILES.finditer(line):
                failures.append(f"{rel(path, root)}:{number}: names {match.group(0)!r}, a file outside the repository")
    return failures


# -- (b) ---------------------------------------------------------------------------------------------------------


def named_files(path: Path, text: str, root: Path = REPO) -> Iterator[tuple[int, str, Path]]:
    """Every file ``path`` names: (line, as written, where it should be)."""
    for number, line in enumerate(text.splitlines(), 1):
        for match in DOC_PATH.finditer(line):
            yield number, match.group(1), root / match.group(1)
        for match in PY_PATH.finditer(line):
            written = match.group(1)
            inside = written if written.split("/")[0] in ("src", "tests", "benchmarks") else f"src/{written}"
            yield number, written, root / inside
        if path.suffix == ".md":
            for match in MD_LINK.finditer(line):
                target = match.group(1)
                if "://" not in target and not DOC_PATH.fullmatch(target):
                    yield number, target, (path.parent / target)


def missing_files(root: Path = REPO) -> list[str]:
    failures = []
    for path in scanned_files(root):
        for number, written, where in named_files(path, path.read_text(encoding="utf-8"), root):
            if not where.resolve().is_file():
                failures.append(f"{rel(path, root)}:{number}: {written} does not exist")
    return failures


# -- (c) ---------------------------------------------------------------------------------------------------------


def headings(doc: Path) -> set[str]:
    return set(HEADING.findall(doc.read_text(encoding="utf-8")))


def declared_page(text: str) -> str | None:
    match = DECLARATION.search(text)
    return (match.group(1) or match.group(2)) if match else None


def section_targets(path: Path, text: str, root: Path = REPO) -> Iterator[tuple[int, str, str | None]]:
    """Every section reference of one file: (line, ``§...`` as written, the doc it points at or None).

    The page, in this order: one written after it (``§2.1 of docs/x.md``); the page of the ``§`` it continues in
    a list (``§2.1, §2.4``, ``§1.1 and §1.3``); the page the file declares for its bare references; the last doc
    path named before it in its block; the page itself (pages of ``docs/``); the last doc path named earlier in
    the file.
    """
    declared = declared_page(text)
    own = rel(path, root) if path.suffix == ".md" and rel(path, root).startswith("docs/") else None
    earlier = [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in DOC_PATH.finditer(text)]
    for block in blocks(path, text):
        in_block = [(m.start(), m.group(1)) for m in DOC_PATH.finditer(block.text)]
        previous: tuple[int, str | None] | None = None  # end and page of the last section reference
        for match in SECTION.finditer(block.text):
            before = block.text[: match.start()]
            if OUTSIDE_WORKS.search(before):
                previous = None
                continue
            after = AFTER_OF_DOC.match(block.text[match.end():])
            continued = previous is not None and LIST_GAP.fullmatch(block.text[previous[0]: match.start()])
            named_before = [doc for at, doc in in_block if at < match.start()]
            line = block.line_of(match.start())
            file_before = [doc for at, doc in earlier if at <= line]
            if after:
                target: str | None = after.group(1)
            elif continued and previous is not None:
                target = previous[1]
            else:
                target = declared or (named_before[-1] if named_before else None) or own \
                    or (file_before[-1] if file_before else None)
            previous = (match.end(), target)
            yield line, match.group(0).strip(), target


def unresolved_sections(root: Path = REPO) -> list[str]:
    failures = []
    cache: dict[str, set[str] | None] = {}
    for path in scanned_files(root):
        for number, written, target in section_targets(path, path.read_text(encoding="utf-8"), root):
            where = f"{rel(path, root)}:{number}"
            if target is None:
                failures.append(f"{where}: {written} names no page (no docs/... path before it in the file)")
                continue
            if target not in cache:
                doc = root / target
                cache[target] = headings(doc) if doc.is_file() else None
            known = cache[target]
            if known is None:
                continue  # the missing page itself is reported by test_named_files_exist
            wanted = [n for n in SECTION.match(written).groups() if n]  # type: ignore[union-attr]
            for number_wanted in wanted:
                if number_wanted not in known:
                    failures.append(f"{where}: {written} -> {target} has no heading numbered {number_wanted}")
    return failures


# -- (d) ---------------------------------------------------------------------------------------------------------


def _instance_attribute(cls: type, name: str) -> bool:
    """A dataclass field, an annotation or an attribute set on ``self`` in the class body."""
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return True
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if re.search(rf"self\.{re.escape(name)}\s*(?::[^=\n]+)?=", source):
            return True
    return False


def import_failure(dotted: str) -> str | None:
    """None when ``dotted`` is a module or an attribute of one, else why not."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            obj: object = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
                continue  # no module of that name: try its parent
            return f"importing {name} fails: {exc}"
        except Exception as exc:  # noqa: BLE001 -- any import error is the finding
            return f"importing {name} fails: {type(exc).__name__}: {exc}"
        break
    else:
        return "no such module"
    for attr in parts[cut:]:
        if hasattr(obj, attr):
            obj = getattr(obj, attr)
        elif isinstance(obj, type) and _instance_attribute(obj, attr):
            return None
        elif isinstance(obj, types.ModuleType) and attr in getattr(obj, "__annotations__", {}):
            return None
        else:
            return f"{'.'.join(parts[:cut])} has no attribute path {'.'.join(parts[cut:])}"
    return None


def module_paths(path: Path, text: str) -> Iterator[tuple[int, str]]:
    """Every module path ``path`` writes in a role or backticks, and every name a code block imports."""
    for number, line in enumerate(text.splitlines(), 1):
        seen: set[str] = set()
        for match in ROLE.finditer(line):
            if DOTTED.match(match.group(1)):
                seen.add(match.group(1))
        for match in BACKTICKED.finditer(line):
            found = DOTTED.match(match.group(2).strip())
            if found:
                seen.add(found.group(1))
        for dotted in sorted(seen):
            yield number, dotted
    if path.suffix == ".md":
        for match in FROM_IMPORT.finditer(text):
            number = text.count("\n", 0, match.start()) + 1
            yield number, match.group(1)
            for name in match.group(2).replace("\n", " ").split(","):
                if name.strip():
                    yield number, f"{match.group(1)}.{name.strip().split()[0]}"


def stale_module_paths(root: Path = REPO) -> list[str]:
    failures = []
    verdicts: dict[str, str | None] = {}
    for path in scanned_files(root):
        for number, dotted in module_paths(path, path.read_text(encoding="utf-8")):
            if dotted not in verdicts:
                verdicts[dotted] = import_failure(dotted)
            if verdicts[dotted] is not None:
                failures.append(f"{rel(path, root)}:{number}: {dotted}: {verdicts[dotted]}")
    return failures


# -- the checks on the repository ------------------------------------------------------------------------------


def _report(failures: list[str]) -> None:
    if failures:
        print("\n".join(failures))
    assert not failures, f"{len(failures)} broken reference(s):\n" + "\n".join(failures)


def test_nothing_names_files_outside_the_repository() -> None:
    _report(outside_file_mentions())


def test_named_files_exist() -> None:
    _report(missing_files())


def test_section_references_resolve() -> None:
    _report(unresolved_sections())


def test_module_paths_import() -> None:
    _report(stale_module_paths())


# -- the checker itself, on planted references ----------------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    (tmp_path / "docs" / "reference").mkdir(parents=True)
    (tmp_path / "docs" / "reference" / "page.md").write_text(
        "# Page\n\n## 1. One\n\n### 1.2 One two\n\nSee §1.2 and §3.\n", encoding="utf-8")
    (tmp_path / "src").mkdir()
    return tmp_path


def _write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text, encoding="utf-8")


def test_the_checker_resolves_sections_the_ways_the_repository_writes_them(planted: Path) -> None:
    _write(planted, "src/a.py", '"""docs/reference/page.md §1.2, §1 and §1.2-§1; Razavi §9.9, IEEE 488.2 §7.7."""\n'
                                "# a comment naming §1.2 takes the page named earlier in the file\n"
                                'X = "§1.2 of docs/reference/page.md"\n')
    _write(planted, "src/b.py", '"""``§n`` refers to sections of ``docs/reference/page.md``."""\n'
                                "def f():\n    \"\"\"Bare: §1.2.\"\"\"\n")
    failures = unresolved_sections(planted)
    assert failures == ["docs/reference/page.md:7: §3 -> docs/reference/page.md has no heading numbered 3"]


def test_the_checker_finds_what_is_broken(planted: Path) -> None:
    _write(planted, "src/c.py", '"""docs/reference/page.md §2.1; docs/gone.md; procedures/nowhere.py."""\n')
    _write(planted, "src/f.py", '"""A bare (§3.3), with no page named anywhere before it."""\n')
    _write(planted, "src/d.py", '"""Stale: :mod:`procedures.no_such_stage` and ``models.mixed_mode.no_such``."""\n')
    _write(planted, "docs/map.md", "[gone](missing.md), [page](reference/page.md)\n")
    assert sorted(unresolved_sections(planted)) == [
        "docs/reference/page.md:7: §3 -> docs/reference/page.md has no heading numbered 3",
        "src/c.py:1: §2.1 -> docs/reference/page.md has no heading numbered 2.1",
        "src/f.py:1: §3.3 names no page (no docs/... path before it in the file)",
    ]
    assert sorted(missing_files(planted)) == ["docs/map.md:1: missing.md does not exist",
                                              "src/c.py:1: docs/gone.md does not exist",
                                              "src/c.py:1: procedures/nowhere.py does not exist"]
    stale = stale_module_paths(planted)
    assert sorted(f.split(": ")[1] for f in stale) == ["models.mixed_mode.no_such", "procedures.no_such_stage"]
    _write(planted, "src/e.py", "# " + "shared" + "/reference/scpi.md\n")
    assert outside_file_mentions(planted) == ["src/e.py:1: names 'shared/', a file outside the repository"]
