"""Stream files: reading and writing recorded event streams as JSON lines or CSV.

A stream file is one event per line. JSON lines (`.jsonl`, `.ndjson`, `.json`) carry one object
per line; an optional first line `{"type": "header", ...}` holds free-form metadata. CSV (`.csv`)
has a column row naming the same fields as the JSON keys; empty cells mean absent, and an
optional `# {"type": "header", ...}` comment line before the column row holds the header.

Recordings come from the field, so reading is forgiving by default: a bad line is skipped and
reported (file, line, field, value) and the rest still plays. A last line cut off mid-write (a
recorder killed on stage) is dropped silently, even in strict mode, because it is an artefact of
how the file ended, not bad data.
"""

from __future__ import annotations

import csv
import io
import json
import json.scanner
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

from mural.events.errors import MuralError
from mural.events.model import Event, EventError, Header, MarkerEvent, event_from_dict

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)
SUFFIXES = JSONL_SUFFIXES + CSV_SUFFIXES

# CSV column order when writing; reading accepts any subset in any order.
CSV_COLUMNS = (
    "t", "type", "participant", "emotion", "valence", "arousal", "intensity",
    "x", "y", "heart_rate", "level", "name",
)

_SNIPPET = 80


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


def _snippet(text: str) -> str:
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 3] + "..."


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
        found = Problem(self.name, line, field_name, value, message)
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


def _read_jsonl(text: str, out: _Collector) -> bool:
    scan = json.scanner.make_scanner(json.JSONDecoder())
    loads = json.loads
    add = out.add
    lines = text.split("\n")
    last = len(lines)  # 1-based number of the final physical line
    # A file ending in "\n" leaves an empty final piece: its real last line was complete.
    unterminated = bool(lines[-1].strip())
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj, end = scan(line, 0)
            if end != len(line):
                raise ValueError
        except (StopIteration, ValueError):
            if number == last and unterminated:
                return True  # cut off mid-write: tolerated silently
            try:
                loads(line)
                message = "not valid JSON (extra data after the object)"
            except json.JSONDecodeError as exc:
                message = f"not valid JSON ({exc.msg} at column {exc.colno})"
            except RecursionError:
                message = "not valid JSON (nested too deeply)"
            except ValueError as exc:  # e.g. an integer longer than Python will parse
                message = f"not valid JSON ({exc})"
            out.problem(number, None, _snippet(line), f"{message}: {_snippet(line)!r}")
            continue
        except RecursionError:
            out.problem(number, None, _snippet(line), "not valid JSON (nested too deeply)")
            continue
        add(obj, number, False)
    return False


def _read_csv(text: str, out: _Collector) -> bool:
    buffer = io.StringIO(text, newline="")
    # Leading '#' comments; one of them may carry the JSON header.
    number = 0
    position = 0
    while True:
        raw = buffer.readline()
        if not raw:
            return False  # nothing but comments (or nothing at all)
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            buffer.seek(position)
            break
        number += 1
        position = buffer.tell()
        body = stripped[1:].strip()
        if body.startswith("{"):
            try:
                meta = json.loads(body)
            except json.JSONDecodeError as exc:
                out.problem(number, None, _snippet(body), f"header comment is not valid JSON "
                            f"({exc.msg})")
                continue
            if isinstance(meta, dict) and meta.get("type") == "header":
                out.add(meta, number, False)
    reader = csv.reader(buffer)
    try:
        columns = [c.strip() for c in next(reader)]
    except csv.Error as exc:
        raise StreamError(
            f"{out.name} line {number + 1}: unreadable CSV column row ({exc})"
        ) from None
    if "t" not in columns:
        raise StreamError(
            f"{out.name} line {number + 1}: the CSV column row has no 't' column "
            f"(expected columns like {','.join(CSV_COLUMNS)})"
        )
    offset = number  # reader.line_num counts from the column row
    width = len(columns)
    # A last row with no newline after it is cut off if it is short or stops inside quotes.
    cut_tail = not text.endswith(("\n", "\r"))
    tail = text[max(text.rfind("\n"), text.rfind("\r")) + 1 :]
    open_quote = tail.count('"') % 2 == 1
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return False
        except csv.Error as exc:
            out.problem(offset + reader.line_num, None, None, f"unreadable CSV ({exc})")
            continue
        number = offset + reader.line_num
        if not "".join(row).strip():
            continue
        if cut_tail and (len(row) < width or open_quote) and buffer.tell() >= len(text):
            return True  # cut off mid-write: tolerated silently
        if len(row) != width:
            out.problem(number, None, _snippet(",".join(row)),
                        f"expected {width} cells (as in the column row), got {len(row)}")
            continue
        out.add({k: v for k, v in zip(columns, row, strict=True) if v != ""}, number, True)


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
