"""Stream files: reading and writing recorded event streams as JSON lines or CSV.

A stream file is one event per line. JSON lines (`.jsonl`, `.ndjson`, `.json`) carry one object
per line; an optional first line `{"type": "header", ...}` holds free-form metadata. CSV (`.csv`)
has a column row naming the same fields as the JSON keys; empty cells mean absent, and an
optional `# {"type": "header", ...}` comment line before the column row holds the header.

Recordings come from the field, so reading is forgiving by default: a bad line is skipped and
reported (file, line, field, value) and the rest still plays. A bad line loses nothing but
itself: lines end at LF, CRLF or a lone CR, and each is read on its own (a CSV quote left open
does not run on into the next line: no event holds a line break). A last line cut off mid-write
(a recorder killed on stage: the start of a valid line, with no line break after it) is dropped
silently, even in strict mode, because it is an artefact of how the file ended, not bad data;
a last line that could never have become valid is a bad line like any other. Values echoed in
problems are short excerpts, however long the input.
"""

from __future__ import annotations

import csv
import json
import json.scanner
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

from mural.events.errors import MuralError
from mural.events.model import (
    EXCERPT_CHARS,
    Event,
    EventError,
    Header,
    MarkerEvent,
    check_field,
    could_become,
    event_from_dict,
    excerpt,
)

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)
SUFFIXES = JSONL_SUFFIXES + CSV_SUFFIXES

# CSV column order when writing; reading accepts any subset in any order.
CSV_COLUMNS = (
    "t", "type", "participant", "emotion", "valence", "arousal", "intensity",
    "x", "y", "heart_rate", "level", "name", "hue", "pattern", "weight",
)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Problem:
    """One bad line in a stream file, precise enough to find and fix it."""

    path: str
    line: int
    field: str | None
    value: Any
    message: str

    def __str__(self) -> str:
        where = f"{self.path} line {self.line}: "
        if self.field is None:
            return where + self.message
        return f"{where}field '{self.field}': {self.message}"


class StreamError(MuralError):
    """A stream file that cannot be read (missing, unreadable, unknown format) or, in strict
    mode, its first bad line (then `problem` is set)."""

    def __init__(self, message: str, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass
class Stream:
    """A whole recording in memory: time-ordered events plus what went wrong reading it.

    Events are stably sorted by `t`, so events recorded at the same instant keep file order.
    Iterating a Stream iterates its events.
    """

    events: list[Event]
    header: Header | None = None
    problems: list[Problem] = field(default_factory=list)
    source: str = ""
    truncated_tail: bool = False

    def __post_init__(self) -> None:
        self.events = sorted(self.events, key=attrgetter("t"))

    @property
    def duration(self) -> float:
        """Time of the last event (0 for an empty stream)."""
        return self.events[-1].t if self.events else 0.0

    @property
    def markers(self) -> list[MarkerEvent]:
        return [e for e in self.events if isinstance(e, MarkerEvent)]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)


def _held(value: Any) -> Any:
    """What a Problem keeps of a rejected value: short values as they are, long ones (and
    containers, whatever their size) as an excerpt, so a problem never holds a huge input."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and len(value) <= EXCERPT_CHARS:
        return value
    return excerpt(value)


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise StreamError(
        f"{path}: unknown stream format {suffix or '(no extension)'!r} "
        f"(expected one of {', '.join(SUFFIXES)})"
    )


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StreamError(f"{path}: no such file") from None
    except OSError as exc:
        raise StreamError(f"{path}: cannot read ({exc.strerror or exc})") from None
    # surrogateescape keeps undecodable bytes visible (and rejected as unprintable) instead of
    # failing the whole file on one corrupt byte.
    return data.decode("utf-8-sig", errors="surrogateescape")


class _Collector:
    """Shared bookkeeping for both formats: strictness, problem reporting, the header rule."""

    def __init__(self, name: str, strict: bool, on_problem: Callable[[Problem], None] | None):
        self.name = name
        self.strict = strict
        self.on_problem = on_problem
        self.events: list[Event] = []
        self.problems: list[Problem] = []
        self.header: Header | None = None
        self.seen_event = False

    def problem(self, line: int, field_name: str | None, value: Any, message: str) -> None:
        found = Problem(self.name, line, field_name, _held(value), message)
        if self.strict:
            raise StreamError(str(found), found)
        self.problems.append(found)
        if self.on_problem is not None:
            self.on_problem(found)

    def add(self, obj: Any, line: int, coerce: bool) -> None:
        try:
            event = event_from_dict(obj, coerce=coerce)
        except EventError as exc:
            self.problem(line, exc.field, exc.value, exc.reason)
            return
        except OverflowError:  # an integer too large for a float (JSON allows any size)
            self.problem(line, None, None, "a number is too large")
            return
        if isinstance(event, Header):
            if self.seen_event or self.header is not None:
                self.problem(line, "type", "header", "a header is only allowed on the first line")
            else:
                meta = {k: v for k, v in event.meta.items() if k != "type"}
                self.header = Header(meta=meta)
            self.seen_event = True
            return
        self.seen_event = True
        self.events.append(event)


def _lines(text: str) -> tuple[list[str], bool]:
    """The physical lines of a text (LF, CRLF or a lone CR end a line), and whether the last
    one is unterminated (no line break after it, and not blank)."""
    lines = _LINE_BREAK.split(text)
    return lines, bool(lines[-1].strip())


# -- JSON lines ------------------------------------------------------------------------------

_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_STRING_BODY = re.compile(r'(?:[^"\\\x00-\x1f]+|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')
_JSON_ESCAPE_START = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_JSON_NUMBER_START = re.compile(
    r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*|(?:\.[0-9]+)?[eE][+-]?[0-9]*)?)?"
)
_JSON_WORDS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


def _json_string_end(text: str, i: int) -> int:
    """After the string opening at text[i]: the index past its closing quote, len(text) if the
    text ends inside it (with nothing invalid so far), or -1 if it is not a valid string."""
    j = _JSON_STRING_BODY.match(text, i + 1).end()
    if j == len(text):
        return j
    if text[j] == '"':
        return j + 1
    if text[j] == "\\" and _JSON_ESCAPE_START.fullmatch(text, j):
        return len(text)  # cut off inside an escape
    return -1


def _json_start(text: str) -> bool:
    """Whether `text` (which does not parse) is the start of some JSON text: cut off, rather
    than wrong. An explicit stack, no recursion: nesting depth costs nothing."""
    n = len(text)
    stack: list[str] = []
    expect = "value"  # value | value_or_end | key | key_or_end | colon | comma_or_end | done
    i = 0
    while True:
        i = _JSON_WS.match(text, i).end()
        if i >= n:
            return expect != "done"
        c = text[i]
        if expect in ("value", "value_or_end"):
            if c == "]" and expect == "value_or_end":
                stack.pop()
            elif c in "{[":
                stack.append(c)
                expect = "key_or_end" if c == "{" else "value_or_end"
                i += 1
                continue
            elif c == '"':
                i = _json_string_end(text, i)
                if i < 0 or i >= n:
                    return i >= n
                expect = "comma_or_end" if stack else "done"
                continue
            elif c in "-0123456789":
                if _JSON_NUMBER_START.fullmatch(text, i) or "-Infinity".startswith(text[i:]):
                    return True  # the text ends in a number that may go on
                if text.startswith("-Infinity", i):
                    i += len("-Infinity")
                else:
                    found = _JSON_NUMBER.match(text, i)
                    if found is None:
                        return False
                    i = found.end()
                expect = "comma_or_end" if stack else "done"
                continue
            else:
                word = next((w for w in _JSON_WORDS if text.startswith(w, i)), None)
                if word is None:
                    return any(w.startswith(text[i:]) for w in _JSON_WORDS)
                i += len(word)
                expect = "comma_or_end" if stack else "done"
                continue
            i += 1
            expect = "comma_or_end" if stack else "done"
        elif expect in ("key", "key_or_end"):
            if c == "}" and expect == "key_or_end":
                stack.pop()
                i += 1
                expect = "comma_or_end" if stack else "done"
                continue
            if c != '"':
                return False
            i = _json_string_end(text, i)
            if i < 0 or i >= n:
                return i >= n
            expect = "colon"
        elif expect == "colon":
            if c != ":":
                return False
            i += 1
            expect = "value"
        elif expect == "comma_or_end":
            if c == ",":
                expect = "key" if stack[-1] == "{" else "value"
            elif c == ("}" if stack[-1] == "{" else "]"):
                stack.pop()
                expect = "comma_or_end" if stack else "done"
            else:
                return False
            i += 1
        else:  # something after a complete value
            return False


def _read_jsonl(text: str, out: _Collector) -> bool:
    scan = json.scanner.make_scanner(json.JSONDecoder())
    loads = json.loads
    add = out.add
    lines, unterminated = _lines(text)
    last = len(lines)  # 1-based number of the final physical line
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj, end = scan(line, 0)
            if end != len(line):
                raise ValueError
        except (StopIteration, ValueError):
            if number == last and unterminated and line.startswith("{") and _json_start(line):
                return True  # cut off mid-write: tolerated silently
            try:
                loads(line)
                message = "not valid JSON (extra data after the object)"
            except json.JSONDecodeError as exc:
                message = f"not valid JSON ({exc.msg} at column {exc.colno})"
            except RecursionError:
                message = "not valid JSON (nested too deeply)"
            except ValueError as exc:  # e.g. an integer longer than Python will parse
                message = f"not valid JSON ({excerpt(str(exc))})"
            out.problem(number, None, line, f"{message}: {excerpt(line)}")
            continue
        except RecursionError:
            out.problem(number, None, line, "not valid JSON (nested too deeply)")
            continue
        add(obj, number, False)
    return False


# -- CSV -------------------------------------------------------------------------------------


def _csv_cells(line: str) -> tuple[list[str], bool]:
    """The cells of one CSV line read on its own, and whether a quoted cell is left open
    (then the last cell holds the rest of the line)."""
    if '"' not in line:
        return line.split(","), False
    cells = next(csv.reader([line]), [])
    try:
        next(csv.reader([line], strict=True), None)
    except csv.Error as exc:
        return cells, "unexpected end of data" in str(exc)
    return cells, False


def _csv_prefix(cells: list[str], columns: list[str]) -> bool:
    """Whether a short last row is the start of a valid row: every cell but the last valid for
    its column, and the last (cut off) able to become valid."""
    for k, cell in enumerate(cells):
        if k >= len(columns):
            return False
        if k == len(cells) - 1:
            return could_become(columns[k], cell)
        try:
            check_field(columns[k], cell, coerce=True)
        except EventError:
            return False
    return True


def _read_csv(text: str, out: _Collector) -> bool:
    lines, unterminated = _lines(text)
    last = len(lines)
    # Leading '#' comments; one of them may carry the JSON header.
    number = 0
    for number, raw in enumerate(lines, 1):  # noqa: B007 - ends at the column row
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            break
        body = stripped[1:].strip()
        if body.startswith("{"):
            try:
                meta = json.loads(body)
            except json.JSONDecodeError as exc:
                out.problem(number, None, body, f"header comment is not valid JSON "
                            f"({exc.msg})")
                continue
            except (RecursionError, ValueError):
                out.problem(number, None, body, "header comment is not valid JSON "
                            "(nested too deeply or a number too long)")
                continue
            if isinstance(meta, dict) and meta.get("type") == "header":
                out.add(meta, number, False)
    else:
        return False  # nothing but comments (or nothing at all)
    column_row = number
    try:
        names, open_quote = _csv_cells(lines[number - 1])
    except csv.Error as exc:
        raise StreamError(f"{out.name} line {number}: unreadable CSV column row ({exc})") from None
    if open_quote:
        raise StreamError(f"{out.name} line {number}: unreadable CSV column row (a quote opens "
                          "and is never closed)")
    columns = [c.strip() for c in names]
    if "t" not in columns:
        raise StreamError(
            f"{out.name} line {number}: the CSV column row has no 't' column "
            f"(expected columns like {','.join(CSV_COLUMNS)})"
        )
    for name in CSV_COLUMNS:
        if columns.count(name) > 1:
            first = columns.index(name)
            second = columns.index(name, first + 1)
            raise StreamError(
                f"{out.name} line {number}: the CSV column row names {name!r} twice "
                f"(columns {first + 1} and {second + 1}): which one holds the value?"
            )
    width = len(columns)
    for number in range(column_row + 1, last + 1):
        line = lines[number - 1]
        if not line.strip():
            continue
        try:
            row, open_quote = _csv_cells(line)
        except csv.Error as exc:
            out.problem(number, None, line, f"unreadable CSV ({exc})")
            continue
        if not "".join(row).strip():
            continue
        if (number == last and unterminated and (len(row) < width or open_quote)
                and _csv_prefix(row, columns)):
            return True  # cut off mid-write: tolerated silently
        if open_quote:
            k = len(row) - 1
            out.problem(number, columns[k] if k < width else None, row[-1],
                        "a quote opens this cell and is never closed (a quoted cell cannot "
                        f"span lines): {excerpt(row[-1])}")
            continue
        if len(row) != width:
            out.problem(number, None, ",".join(row),
                        f"expected {width} cells (as in the column row), got {len(row)}: "
                        f"{excerpt(line)}")
            continue
        out.add({k: v for k, v in zip(columns, row, strict=True) if v != ""}, number, True)
    return False


def read_stream(
    path: str | Path,
    *,
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
) -> Stream:
    """Read a JSONL or CSV stream file.

    Bad lines are skipped, recorded in `Stream.problems` and passed to `on_problem` once each;
    with `strict` the first bad line raises StreamError instead. File-level failures (missing,
    a directory, unknown extension, unreadable) always raise StreamError.
    """
    name = str(path)
    path = Path(path)
    if path.is_dir():
        raise StreamError(f"{name}: is a directory, not a stream file")
    if not path.exists():
        raise StreamError(f"{name}: no such file")
    kind = _format_of(path)
    text = _read_text(path)
    out = _Collector(name, strict, on_problem)
    truncated = (_read_jsonl if kind == "jsonl" else _read_csv)(text, out)
    return Stream(out.events, out.header, out.problems, name, truncated)


def _header_json(header: Header) -> str:
    # Header metadata is free-form and unvalidated: keep it ASCII and always serialisable.
    return json.dumps(header.to_dict(), ensure_ascii=True, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_stream(
    path: str | Path, events: Iterable[Event], header: Header | None = None
) -> None:
    """Write events as JSONL or CSV (chosen by suffix) so `read_stream` gives them back exactly.

    Floats are written with repr, which round-trips bit-exactly.
    """
    path = Path(path)
    kind = _format_of(path)
    try:
        with path.open("w", encoding="utf-8", newline="") as fh:
            if kind == "jsonl":
                dumps = json.dumps
                if header is not None:
                    fh.write(_header_json(header) + "\n")
                fh.writelines(dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in events)
                return
            if header is not None:
                fh.write("# " + _header_json(header) + "\n")
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            for event in events:
                d = event.to_dict()
                d.setdefault("type", event.type)
                writer.writerow([_cell(d.get(c)) for c in CSV_COLUMNS])
    except OSError as exc:
        raise StreamError(f"{path}: cannot write ({exc.strerror or exc})") from None


__all__ = [
    "CSV_COLUMNS",
    "SUFFIXES",
    "Problem",
    "Stream",
    "StreamError",
    "read_stream",
    "write_stream",
]
