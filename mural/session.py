"""Session files: a whole show (sources, personal colours, cues, outputs) in one TOML file.

Parsing gives frozen dataclasses; `check_session` finds every problem (each with its line)
before anything renders; `run_session` renders every output frame-exactly when all sources are
recordings or simulations. See the README's "Sessions" section for every key.

Timeline rules (offline):
* A cue happens at `at`, or at the first marker named `marker` in the session's streams plus
  `offset`. Cues at the same moment apply in file order, before any frame or still at that
  moment is rendered, so a frame at exactly the cue's time already shows it.
* `palette` crossfades over `fade` seconds of mural time (as `Mural.set_palette`).
* `pause` holds the mural still for that many seconds in every video that spans the cue:
  the frame at the cue's moment is repeated, then the video goes on where it stopped.
  Exposures and stills ignore it. `speed` only affects live play.
* `add_source` brings in a recording's events from the cue on (its own timestamps, events
  before the cue are left out); `remove_source` drops a source's events from the cue on.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from mural.cli.options import parse_size, parse_time
from mural.engine.engine import Personal
from mural.events import Event, Problem, Stream, StreamError
from mural.participants import FileProblem, check_participants
from mural.render.palette import PaletteError, load_palette
from mural.sources import SourceError, is_live, scheme_of

SessionProblem = FileProblem
DEFAULT_SIZE = (1920, 1080)
DEFAULT_FPS = 30.0
MIN_SPEED, MAX_SPEED = 1 / 16, 1024.0
TABLES = ("mural", "source", "participants", "cue", "output")
MURAL_KEYS = ("size", "fps", "seed", "palette")
CUE_KEYS = ("at", "marker", "offset", "palette", "fade", "still", "size", "add_source",
            "remove_source", "speed", "pause")
CUE_ACTIONS = ("palette", "still", "add_source", "remove_source", "speed", "pause")
VIDEO_KEYS = ("video", "start", "end", "fps", "size", "speed", "crf")
STILL_KEYS = ("still", "at", "exposure", "size")


class SessionError(ValueError):
    """A session with problems; `problems` lists every one (file, line, message)."""

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{count}:\n" + "\n".join(f"  {p}" for p in problems))


# -- where things are in the text -----------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


@dataclass
class TomlLines:
    """Line numbers of table headers and keys in a TOML text, for messages that point there.

    A small scanner, not a parser: `[[cue]]` tables are counted per name, so the third cue's
    `marker` key is `key("cue", 2, "marker")`. Top-level keys are in table "".
    """

    tables: dict[tuple[str, int], int] = field(default_factory=dict)
    keys: dict[tuple[str, int, str], int] = field(default_factory=dict)

    @classmethod
    def scan(cls, text: str) -> TomlLines:
        found = cls()
        counts: dict[str, int] = {}
        current = ("", 0)
        in_string: str | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            if in_string is not None:
                if raw.count(in_string) % 2 == 1:
                    in_string = None
                continue
            header = _HEADER.match(raw)
            if header and not raw.lstrip().startswith("#"):
                name = _unquote(header[2])
                if header[1] == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                else:
                    index = 0
                current = (name, index)
                found.tables.setdefault(current, number)
                continue
            key = _KEY.match(raw)
            if key:
                found.keys.setdefault((*current, _unquote(key[1])), number)
                rest = raw[key.end():]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_string = quote
        return found

    def table(self, name: str, index: int = 0) -> int | None:
        return self.tables.get((name, index))

    def key(self, table: str, index: int, key: str) -> int | None:
        """The key's line, else its table's line."""
        return self.keys.get((table, index, key)) or self.tables.get((table, index))


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def toml_error(exc: tomllib.TOMLDecodeError) -> tuple[int | None, str]:
    """(line, message) of a TOML syntax error."""
    text = str(exc)
    match = _TOML_AT.search(text)
    line = getattr(exc, "lineno", None) or (int(match[1]) if match else None)
    message = _TOML_AT.sub("", text)
    if match:
        message += f" (column {match[2]})"
    return line, f"not valid TOML: {message}"


# -- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MuralSettings:
    """[mural]: the defaults every output starts from."""

    size: tuple[int, int] = DEFAULT_SIZE
    fps: float = DEFAULT_FPS
    seed: int = 0
    palette: str = "abyss"  # a name, or a resolved path to a palette file


@dataclass(frozen=True)
class SourceSpec:
    """[[source]]: one SOURCE, relative paths resolved against the session file."""

    uri: str
    written: str  # as in the file (remove_source refers to this or to `uri`)
    line: int | None = None


@dataclass(frozen=True)
class Cue:
    """[[cue]]: something that happens at a time or at a marker."""

    at: float | None = None
    marker: str | None = None
    offset: float = 0.0
    palette: str | None = None
    fade: float = 0.0
    still: str | None = None
    size: tuple[int, int] | None = None
    add_source: str | None = None
    remove_source: str | None = None
    speed: float | None = None
    pause: float | None = None
    index: int = 0
    line: int | None = None


@dataclass(frozen=True)
class Output:
    """[[output]]: a video (mp4/webm/gif/frames folder) or a still (a moment or an exposure)."""

    kind: str  # "video", "still" or "exposure"
    target: str  # resolved path (a folder keeps its trailing "/")
    start: float = 0.0
    end: float | None = None  # None: the end of the session
    at: float | None = None
    fps: float | None = None
    size: tuple[int, int] | None = None
    speed: float = 1.0
    crf: int = 20
    index: int = 0
    line: int | None = None


@dataclass(frozen=True)
class Session:
    """A parsed session file. Paths are resolved against the file's folder."""

    path: Path
    mural: MuralSettings
    sources: tuple[SourceSpec, ...]
    participants: str | None
    cues: tuple[Cue, ...]
    outputs: tuple[Output, ...]
    lines: TomlLines = field(default_factory=TomlLines, compare=False, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def live(self) -> bool:
        """True when any source (or added source) is live: it is played, not rendered."""
        uris = [s.uri for s in self.sources] + [c.add_source for c in self.cues if c.add_source]
        return any(is_live(u) for u in uris)


@dataclass(frozen=True)
class Overrides:
    """Command-line values that win over the file.

    `size` sets the session's size and every video/still size (not the exposure posters:
    `poster_size` sets those); `fps` every frame rate; `palette` the starting palette
    (palette cues still apply); `until` ends the whole session there (outputs are cut,
    later cues and stills are skipped).
    """

    size: tuple[int, int] | None = None
    seed: int | None = None
    fps: float | None = None
    palette: str | None = None
    poster_size: tuple[int, int] | None = None
    until: float | None = None


# -- parsing --------------------------------------------------------------------------------


class _Reader:
    """Collects problems while reading values out of the parsed TOML."""

    def __init__(self, path: Path, lines: TomlLines) -> None:
        self.path = path
        self.name = str(path)
        self.lines = lines
        self.problems: list[FileProblem] = []

    def bad(self, line: int | None, message: str) -> None:
        self.problems.append(FileProblem(self.name, line, message))

    def resolve(self, text: str) -> str:
        """A path relative to the session file; a trailing '/' (a frames folder) is kept."""
        path = Path(text).expanduser()
        resolved = path if path.is_absolute() else self.path.parent / path
        return str(resolved) + ("/" if text.endswith(("/", os.sep)) else "")

    def resolve_uri(self, uri: str) -> str:
        if scheme_of(uri) != "file":
            return uri
        bare = uri[len("file://"):] if uri.startswith("file://") else uri
        return self.resolve(bare)

    def palette(self, value: str) -> str:
        return self.resolve(value) if value.endswith(".toml") else value

    def value(self, table: str, index: int, data: Mapping[str, Any], key: str, kind: str,
              **limits: Any) -> Any:
        """data[key] converted to `kind` (time, size, number, int, text); None if absent/bad."""
        if key not in data:
            return None
        raw = data[key]
        line = self.lines.key(table, index, key)
        try:
            if kind == "time":
                if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                    raise ValueError(f"must be seconds or \"m:ss\", got {raw!r}")
                return parse_time(raw)
            if kind == "size":
                if not isinstance(raw, str):
                    raise ValueError(f"must be text like \"1920x1080\", got {raw!r}")
                return parse_size(raw)
            if kind in ("number", "int"):
                if isinstance(raw, bool) or not isinstance(raw, int | float):
                    raise ValueError(f"must be a number, got {raw!r}")
                if kind == "int" and not isinstance(raw, int):
                    raise ValueError(f"must be a whole number, got {raw!r}")
                lo, hi = limits.get("lo", float("-inf")), limits.get("hi", float("inf"))
                if not lo <= raw <= hi or (limits.get("positive") and raw <= 0):
                    span = f"{lo:g}..{hi:g}" if hi != float("inf") else f">= {lo:g}"
                    if limits.get("positive"):
                        span = "> 0" + (f" and <= {hi:g}" if hi != float("inf") else "")
                    raise ValueError(f"must be {span}, got {raw!r}")
                return raw
            if not isinstance(raw, str) or not raw.strip():
                raise ValueError(f"must be non-empty text, got {raw!r}")
            return raw.strip()
        except ValueError as exc:
            self.bad(line, f"{key}: {exc}")
            return None

    def unknown(self, table: str, index: int, data: Mapping[str, Any], known: tuple[str, ...],
                what: str) -> None:
        for key in data:
            if key not in known:
                self.bad(self.lines.key(table, index, key),
                         f"unknown key {key!r} in {what} (known: {', '.join(known)})")


def parse_range(text: Any) -> tuple[float, float | None]:
    """An exposure span: "session", "START..END", "START-END", "A:B" in seconds, or [A, B].

    END may be left out ("60..") for the end of the session. Times are seconds or m:ss.
    """
    if isinstance(text, list):
        if len(text) != 2:
            raise ValueError(f"a span needs [START, END], got {text!r}")
        start, end = parse_time(text[0]), parse_time(text[1])
    elif not isinstance(text, str):
        raise ValueError(f"expected \"session\" or \"START..END\", got {text!r}")
    elif text.strip().lower() in ("session", "all"):
        return 0.0, None
    else:
        s = text.strip()
        for sep in ("..", "-"):
            if sep in s:
                a, _, b = s.partition(sep)
                break
        else:
            if s.count(":") != 1:
                raise ValueError(f"a span looks like \"1:05..3:00\" or \"65:180\", got {text!r}")
            a, _, b = s.partition(":")
        start = parse_time(a) if a.strip() else 0.0
        end = parse_time(b) if b.strip() else None
    if end is not None and not end > start:
        raise ValueError(f"a span must end after it starts, got {text!r}")
    return start, end


def parse_session(path: str | Path) -> tuple[Session | None, list[FileProblem]]:
    """Read a session file into a Session, collecting every structural problem.

    Files, streams, markers and outputs are checked by `check_session`.
    """
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [FileProblem(name, None, "no such file")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [FileProblem(name, None, f"cannot read ({exc})")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = toml_error(exc)
        return None, [FileProblem(name, line, message)]
    lines = TomlLines.scan(text)
    r = _Reader(path, lines)

    for key, value in data.items():
        if key not in TABLES:
            r.bad(lines.table(key) or lines.key("", 0, key),
                  f"unknown table or key {key!r} (known: [mural], [[source]], [participants], "
                  "[[cue]], [[output]])")
        elif key in ("mural", "participants") and not isinstance(value, dict):
            r.bad(lines.key("", 0, key), f"{key} must be a table: [{key}]")
        elif key in ("source", "cue", "output") and not (
                isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            r.bad(lines.key("", 0, key) or lines.table(key),
                  f"{key} must be a list of tables: [[{key}]]")

    def tables(key: str) -> list[dict]:
        value = data.get(key)
        return value if isinstance(value, list) and all(isinstance(v, dict) for v in value) else []

    raw_mural = data.get("mural") if isinstance(data.get("mural"), dict) else {}
    r.unknown("mural", 0, raw_mural, MURAL_KEYS, "[mural]")
    size = r.value("mural", 0, raw_mural, "size", "size")
    fps = r.value("mural", 0, raw_mural, "fps", "number", positive=True, hi=240)
    seed = r.value("mural", 0, raw_mural, "seed", "int", lo=0, hi=2**32 - 1)
    palette = r.value("mural", 0, raw_mural, "palette", "text")
    settings = MuralSettings(
        size=size or DEFAULT_SIZE, fps=float(fps or DEFAULT_FPS), seed=seed or 0,
        palette=r.palette(palette) if palette else "abyss",
    )

    sources = []
    for i, spec in enumerate(tables("source")):
        r.unknown("source", i, spec, ("uri",), "[[source]]")
        uri = r.value("source", i, spec, "uri", "text")
        if uri is None and "uri" not in spec:
            r.bad(lines.table("source", i), "[[source]] needs uri = \"...\"")
        if uri:
            sources.append(SourceSpec(r.resolve_uri(uri), uri, lines.key("source", i, "uri")))
    if not sources and not any("add_source" in c for c in tables("cue")):
        r.bad(lines.table("source") or None,
              "no sources: add a [[source]] with uri = \"recording.jsonl\" (or sim:NAME, osc://...)")

    participants = None
    raw_people = data.get("participants") if isinstance(data.get("participants"), dict) else {}
    r.unknown("participants", 0, raw_people, ("file",), "[participants]")
    people = r.value("participants", 0, raw_people, "file", "text")
    if people:
        participants = r.resolve(people)
    elif raw_people is not None and "participants" in data and "file" not in raw_people:
        r.bad(lines.table("participants"), "[participants] needs file = \"participants.toml\"")

    cues = [c for i, spec in enumerate(tables("cue")) if (c := _cue(r, i, spec)) is not None]
    outputs = [o for i, spec in enumerate(tables("output"))
               if (o := _output(r, i, spec)) is not None]
    session = Session(path, settings, tuple(sources), participants, tuple(cues), tuple(outputs),
                      lines)
    return session, r.problems


def _cue(r: _Reader, i: int, spec: dict) -> Cue | None:
    line = r.lines.table("cue", i)
    r.unknown("cue", i, spec, CUE_KEYS, "[[cue]]")
    ok = True
    if ("at" in spec) == ("marker" in spec):
        r.bad(line, "a cue needs exactly one of at = TIME or marker = \"NAME\"")
        ok = False
    if not any(k in spec for k in CUE_ACTIONS):
        r.bad(line, f"a cue needs something to do: one of {', '.join(CUE_ACTIONS)}")
        ok = False
    for key, needs in (("fade", "palette"), ("size", "still"), ("offset", "marker")):
        if key in spec and needs not in spec:
            r.bad(r.lines.key("cue", i, key), f"{key} only applies with {needs}")
    values = {
        "at": r.value("cue", i, spec, "at", "time"),
        "marker": r.value("cue", i, spec, "marker", "text"),
        "offset": r.value("cue", i, spec, "offset", "number"),
        "palette": r.value("cue", i, spec, "palette", "text"),
        "fade": r.value("cue", i, spec, "fade", "number", lo=0, hi=3600),
        "still": r.value("cue", i, spec, "still", "text"),
        "size": r.value("cue", i, spec, "size", "size"),
        "add_source": r.value("cue", i, spec, "add_source", "text"),
        "remove_source": r.value("cue", i, spec, "remove_source", "text"),
        "speed": r.value("cue", i, spec, "speed", "number", lo=MIN_SPEED, hi=MAX_SPEED),
        "pause": r.value("cue", i, spec, "pause", "number", positive=True, hi=3600),
    }
    if any(values[k] is None for k in spec if k in values):
        ok = False
    if values["still"] is not None and not values["still"].lower().endswith(".png"):
        r.bad(r.lines.key("cue", i, "still"), f"still must be a .png file, got {values['still']!r}")
        ok = False
    if not ok:
        return None
    return Cue(
        at=values["at"], marker=values["marker"], offset=float(values["offset"] or 0.0),
        palette=r.palette(values["palette"]) if values["palette"] else None,
        fade=float(values["fade"] or 0.0),
        still=r.resolve(values["still"]) if values["still"] else None, size=values["size"],
        add_source=r.resolve_uri(values["add_source"]) if values["add_source"] else None,
        remove_source=values["remove_source"],
        speed=float(values["speed"]) if values["speed"] is not None else None,
        pause=float(values["pause"]) if values["pause"] is not None else None,
        index=i, line=line,
    )


def _output(r: _Reader, i: int, spec: dict) -> Output | None:
    line = r.lines.table("output", i)
    if ("video" in spec) == ("still" in spec):
        r.bad(line, "an output needs exactly one of video = \"PATH\" or still = \"PATH.png\"")
        return None
    ok = True
    if "video" in spec:
        r.unknown("output", i, spec, VIDEO_KEYS, "a video [[output]]")
        target = r.value("output", i, spec, "video", "text")
        start = r.value("output", i, spec, "start", "time")
        end = r.value("output", i, spec, "end", "time")
        fps = r.value("output", i, spec, "fps", "number", positive=True, hi=240)
        size = r.value("output", i, spec, "size", "size")
        speed = r.value("output", i, spec, "speed", "number", positive=True, hi=MAX_SPEED)
        crf = r.value("output", i, spec, "crf", "int", lo=0, hi=51)
        if any(v is None for k, v in (("video", target), ("start", start), ("end", end),
                                      ("fps", fps), ("size", size), ("speed", speed),
                                      ("crf", crf)) if k in spec):
            return None
        if target is not None:
            from mural.sinks.video import output_kind

            try:
                output_kind(target)
            except ValueError as exc:
                r.bad(r.lines.key("output", i, "video"), str(exc))
                ok = False
        if start is not None and end is not None and not end > start:
            r.bad(r.lines.key("output", i, "end"), f"end ({end:g}s) must be after start "
                  f"({start:g}s)")
            ok = False
        if not ok:
            return None
        return Output("video", r.resolve(target), start=start or 0.0, end=end,
                      fps=float(fps) if fps else None, size=size,
                      speed=float(speed) if speed else 1.0,
                      crf=20 if crf is None else crf, index=i, line=line)
    r.unknown("output", i, spec, STILL_KEYS, "a still [[output]]")
    target = r.value("output", i, spec, "still", "text")
    at = r.value("output", i, spec, "at", "time")
    size = r.value("output", i, spec, "size", "size")
    if ("at" in spec) == ("exposure" in spec):
        r.bad(line, "a still needs exactly one of at = TIME or exposure = \"session\" / "
              "\"START..END\"")
        return None
    span: tuple[float, float | None] | None = None
    if "exposure" in spec:
        try:
            span = parse_range(spec["exposure"])
        except ValueError as exc:
            r.bad(r.lines.key("output", i, "exposure"), f"exposure: {exc}")
            return None
    if target is not None and not target.lower().endswith(".png"):
        r.bad(r.lines.key("output", i, "still"), f"still must be a .png file, got {target!r}")
        return None
    if target is None or ("at" in spec and at is None) or ("size" in spec and size is None):
        return None
    if span is not None:
        return Output("exposure", r.resolve(target), start=span[0], end=span[1], size=size,
                      index=i, line=line)
    return Output("still", r.resolve(target), at=at, size=size, index=i, line=line)


def apply_overrides(session: Session, overrides: Overrides | None) -> Session:
    """The session with command-line values in place of the file's (see Overrides)."""
    if overrides is None:
        return session
    o = overrides
    settings = replace(
        session.mural,
        size=o.size or session.mural.size,
        fps=float(o.fps) if o.fps else session.mural.fps,
        seed=session.mural.seed if o.seed is None else o.seed,
        palette=o.palette or session.mural.palette,
    )
    outputs = []
    for out in session.outputs:
        if out.kind == "exposure":
            out = replace(out, size=o.poster_size or out.size)
        else:
            out = replace(out, size=o.size or out.size)
        if out.kind == "video" and o.fps:
            out = replace(out, fps=float(o.fps))
        outputs.append(out)
    cues = tuple(replace(c, size=o.size or c.size) if c.still else c for c in session.cues)
    return replace(session, mural=settings, outputs=tuple(outputs), cues=cues)


# -- checking everything --------------------------------------------------------------------


@dataclass(frozen=True)
class TimedCue:
    """A cue with its moment resolved."""

    t: float
    cue: Cue


@dataclass
class Plan:
    """A checked session, ready to render: merged events, resolved cues, outputs to write."""

    session: Session
    events: list[Event]
    duration: float
    markers: dict[str, float]
    cues: list[TimedCue]
    outputs: list[Output]
    personal: dict[str, Personal]
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    until: float | None = None

    @property
    def live(self) -> bool:
        return self.session.live

    def palette_changes(self) -> list[tuple[float, str, float]]:
        return [(c.t, c.cue.palette, c.cue.fade) for c in self.cues if c.cue.palette]


def check_session(
    path: str | Path,
    *,
    overrides: Overrides | None = None,
    force: bool = False,
    strict: bool = False,
) -> tuple[Plan | None, list[FileProblem], list[str]]:
    """Everything `mural run` checks before rendering: (plan, problems, warnings).

    The plan is None when there are problems. Warnings are the bad lines skipped in the
    streams (problems with `strict`) and notes like cues skipped by `until`.
    """
    session, problems = parse_session(path)
    if session is None:
        return None, problems, []
    session = apply_overrides(session, overrides)
    lines = session.lines
    name = str(session.path)
    warnings: list[str] = []

    def bad(line: int | None, message: str) -> None:
        problems.append(FileProblem(name, line, message))

    def palette_ok(value: str, line: int | None) -> None:
        try:
            load_palette(value)
        except PaletteError as exc:
            bad(line, str(exc))

    palette_ok(session.mural.palette, lines.key("mural", 0, "palette"))
    for cue in session.cues:
        if cue.palette:
            palette_ok(cue.palette, lines.key("cue", cue.index, "palette"))

    personal: dict[str, Personal] = {}
    if session.participants:
        personal, trouble = check_participants(session.participants)
        problems.extend(trouble)

    streams: dict[str, Stream] = {}
    unreadable: list[str] = []  # spans and markers are not checked against a partial stream

    def load(uri: str, line: int | None) -> Stream | None:
        if uri in streams:
            return streams[uri]
        if is_live(uri):
            return None
        from mural.sources.offline import load_offline

        collected: list[Problem] = []
        try:
            stream = load_offline(uri, strict=False, on_problem=collected.append)
        except (StreamError, SourceError, ValueError) as exc:
            bad(line, f"source {uri}: {exc}")
            unreadable.append(uri)
            return None
        for problem in collected:
            if strict:
                problems.append(FileProblem(problem.path, problem.line, _problem_text(problem)))
            else:
                warnings.append(f"skipped {problem}")
        streams[uri] = stream
        return stream

    for source in session.sources:
        load(source.uri, source.line)
    for cue in session.cues:
        if cue.add_source:
            load(cue.add_source, lines.key("cue", cue.index, "add_source"))

    markers: dict[str, float] = {}
    for stream in streams.values():
        for marker in stream.markers:
            if marker.t < markers.get(marker.name, float("inf")):
                markers[marker.name] = marker.t

    known = {s.uri for s in session.sources} | {s.written for s in session.sources}
    known |= {c.add_source for c in session.cues if c.add_source}
    timed: list[TimedCue] = []
    for cue in session.cues:
        if cue.remove_source and cue.remove_source not in known and _resolve_like(
                session, cue.remove_source) not in known:
            bad(lines.key("cue", cue.index, "remove_source"),
                f"remove_source {cue.remove_source!r} is not one of the session's sources")
        if cue.marker is not None:
            if cue.marker in markers:
                timed.append(TimedCue(max(0.0, markers[cue.marker] + cue.offset), cue))
            elif unreadable:
                pass
            elif session.live:
                warnings.append(f"{name}:{cue.line}: marker {cue.marker!r} is not in the "
                                "recordings; the cue waits for it to arrive live")
            else:
                listed = ", ".join(sorted(markers, key=markers.get)) or "none"
                bad(lines.key("cue", cue.index, "marker"),
                    f"marker {cue.marker!r} is not in the stream (markers: {listed})")
        else:
            timed.append(TimedCue(max(0.0, (cue.at or 0.0) + cue.offset), cue))
    timed.sort(key=lambda c: c.t)  # stable: same moment keeps file order

    events = _effective_events(session, streams, timed)
    duration = max((e.t for e in events), default=0.0)
    if not session.live and not events and not unreadable:
        bad(lines.table("source"), "the sources hold no events: nothing to render")

    until = overrides.until if overrides else None
    skipped: list[str] = []
    outputs: list[Output] = []
    for out in session.outputs:
        end = out.end if out.end is not None else duration
        if until is not None:
            if (out.kind == "still" and (out.at or 0) > until) or out.start >= until:
                skipped.append(f"{out.target} (after --until {until:g}s)")
                continue
            end = min(end, until)
            out = replace(out, end=end)
        elif out.kind != "still" and not session.live:
            out = replace(out, end=end)
        if out.kind != "still" and not session.live and not unreadable and not end > out.start:
            bad(lines.key("output", out.index, "end" if out.end is not None else out.kind),
                f"{out.kind} span {out.start:g}..{end:g}s is empty (the session ends at "
                f"{duration:g}s)")
        outputs.append(out)
    if until is not None:
        kept = []
        for c in timed:
            if c.t > until:
                skipped.append(f"cue at {c.t:g}s (line {c.cue.line}, after --until {until:g}s)")
            else:
                kept.append(c)
        timed = kept

    targets: dict[str, int | None] = {}
    writes = [(o.target, lines.key("output", o.index, "video" if o.kind == "video" else "still"))
              for o in outputs]
    writes += [(c.cue.still, lines.key("cue", c.cue.index, "still")) for c in timed if c.cue.still]
    for target, line in writes:
        assert target is not None
        key = os.path.normpath(target)
        if key in targets:
            bad(line, f"{target} is written twice (also on line {targets[key]})")
            continue
        targets[key] = line
        trouble = _unwritable(target, force)
        if trouble:
            bad(line, trouble)

    warnings.extend(f"skipped {s}" for s in skipped)
    if not outputs and not any(c.cue.still for c in timed) and not session.live:
        warnings.append(f"{name}: no [[output]] and no still cues: nothing to render")
    if problems:
        return None, problems, warnings
    plan = Plan(session, events, duration, markers, timed, outputs, personal, warnings, skipped,
                until)
    return plan, [], warnings


def _problem_text(problem: Problem) -> str:
    text = str(problem)
    prefix = f"{problem.path} line {problem.line}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _resolve_like(session: Session, uri: str) -> str:
    return _Reader(session.path, session.lines).resolve_uri(uri)


def _unwritable(target: str, force: bool) -> str | None:
    """Why an output cannot be written (exists, or its folder is not writable), or None."""
    path = Path(target)
    if path.exists():
        if not force:
            return f"{target} exists (use --force to overwrite)"
        if path.is_dir() and not target.endswith("/") and path.suffix:
            return f"{target} is a folder"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot write {target}: {parent} is not a writable folder"
    return None


def _effective_events(session: Session, streams: Mapping[str, Stream],
                      cues: list[TimedCue]) -> list[Event]:
    """The merged events of all sources within their windows (add_source/remove_source)."""
    windows: dict[str, list[float]] = {}
    for source in session.sources:
        windows.setdefault(source.uri, [0.0, float("inf")])
    reader = _Reader(session.path, session.lines)
    for timed in cues:
        cue = timed.cue
        if cue.add_source:
            windows[cue.add_source] = [timed.t, float("inf")]
        if cue.remove_source:
            uri = cue.remove_source
            if uri not in windows:
                uri = next((s.uri for s in session.sources if s.written == uri),
                           reader.resolve_uri(uri))
            if uri in windows:
                windows[uri][1] = min(windows[uri][1], timed.t)
    merged: list[Event] = []
    for uri, (a, b) in windows.items():
        stream = streams.get(uri)
        if stream is not None:
            merged.extend(e for e in stream.events if a <= e.t < b)
    merged.sort(key=lambda e: e.t)  # stable: sources in file order at equal times
    return merged


def load_session(path: str | Path, *, overrides: Overrides | None = None, force: bool = True,
                 strict: bool = False) -> Plan:
    """A checked session (SessionError lists every problem). `force` accepts outputs that
    already exist (they would be overwritten by a run)."""
    plan, problems, _ = check_session(path, overrides=overrides, force=force, strict=strict)
    if plan is None:
        raise SessionError(problems)
    return plan


# -- rendering ------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What a session run wrote."""

    written: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class _Moment:
    cues: list[Cue] = field(default_factory=list)
    stills: list[tuple[str, tuple[int, int] | None, str]] = field(default_factory=list)
    frames: list[tuple[int, int]] = field(default_factory=list)  # (writer, repeats)


def _source_name(plan: Plan) -> str:
    names = [s.written for s in plan.session.sources]
    names += [c.cue.add_source for c in plan.cues if c.cue.add_source]
    return " + ".join(str(n) for n in names)


def render_plan(plan: Plan, *, force: bool = False, quiet: bool = True,
                echo: Callable[[str], None] | None = None) -> RunResult:
    """Render every output of a checked plan from its events, frame-exactly."""
    from mural.export import frame_count, frame_time

    session = plan.session
    say = echo or (lambda line: None)
    result = RunResult(skipped=list(plan.skipped))
    base_size = session.mural.size
    groups: dict[tuple[int, int], dict[float, _Moment]] = {}
    videos: dict[tuple[int, int], list[Output]] = {}

    def moment(size: tuple[int, int], t: float) -> _Moment:
        return groups.setdefault(size, {}).setdefault(t, _Moment())

    for out in plan.outputs:
        if out.kind == "video":
            size = out.size or base_size
            index = len(videos.setdefault(size, []))
            videos[size].append(out)
            fps = out.fps or session.mural.fps
            end = out.end if out.end is not None else plan.duration
            for k in range(frame_count(out.start, end, fps, out.speed)):
                moment(size, frame_time(out.start, k, fps, out.speed)).frames.append((index, 1))
            for timed in plan.cues:
                if timed.cue.pause and out.start <= timed.t < end:
                    rate = Fraction(fps).limit_denominator(1001 * 1000)
                    held = Fraction(str(timed.cue.pause)) * rate
                    hold = max(1, math.floor(held + Fraction(1, 2)))
                    moment(size, timed.t).frames.append((index, hold))
        elif out.kind == "still":
            moment(base_size, float(out.at or 0.0)).stills.append(
                (out.target, out.size, f"output line {out.line}"))
    for timed in plan.cues:
        if timed.cue.still:
            moment(base_size, timed.t).stills.append(
                (timed.cue.still, timed.cue.size, f"cue line {timed.cue.line}"))
    for size, moments in groups.items():
        _add_cues(moments, plan, max(moments))
        _render_pass(plan, size, moments, videos.get(size, []), force, quiet, result, say)

    for out in plan.outputs:
        if out.kind == "exposure":
            _render_exposure_output(plan, out, force, quiet, result, say)
    return result


def _add_cues(moments: dict[float, _Moment], plan: Plan, last: float) -> None:
    """Palette cues go into a pass in time order (same moment: file order)."""
    for timed in plan.cues:
        if timed.cue.palette and timed.t <= last:
            moments.setdefault(timed.t, _Moment()).cues.append(timed.cue)


def _render_pass(plan: Plan, size: tuple[int, int], moments: dict[float, _Moment],
                 outs: list[Output], force: bool, quiet: bool, result: RunResult,
                 say: Callable[[str], None]) -> None:
    import contextlib

    from mural import __version__
    from mural.export import cores_shared_with_the_encoder, preset_for
    from mural.runtime import Mural
    from mural.sinks.png import save_png
    from mural.sinks.progress import Progress
    from mural.sinks.video import VideoWriter

    session = plan.session
    settings = session.mural
    mural = Mural(plan.events, size=size, seed=settings.seed, palette=settings.palette,
                  personal=plan.personal)
    source = _source_name(plan)
    total = sum(sum(r for _, r in m.frames) + len(m.stills) for m in moments.values())
    with contextlib.ExitStack() as stack:
        writers = []
        for out in outs:
            fps = out.fps or settings.fps
            end = out.end if out.end is not None else plan.duration
            meta = {
                "Software": f"Lumina Mural {__version__}", "mural:session": str(session.path),
                "mural:source": source, "mural:seed": settings.seed,
                "mural:palette": mural.palette.name, "mural:size": f"{size[0]}x{size[1]}",
                "mural:fps": f"{fps:g}", "mural:start": f"{out.start:g}",
                "mural:end": f"{end:g}",
            }
            writers.append(stack.enter_context(VideoWriter(
                out.target, size, fps, crf=out.crf, force=force, preset=preset_for(size),
                metadata=meta)))
        if writers:
            stack.enter_context(cores_shared_with_the_encoder())
        label = Path(outs[0].target).name if outs else "stills"
        bar = stack.enter_context(Progress(total, quiet=quiet, label=label))
        for t in sorted(moments):
            m = moments[t]
            mural.advance_to(t)
            for cue in m.cues:
                mural.set_palette(cue.palette, cue.fade)
            for target, still_size, _ in m.stills:
                frame = _still_frame(mural, still_size or size)
                width, height = frame.shape[1], frame.shape[0]
                save_png(target, frame, {
                    "Software": f"Lumina Mural {__version__}",
                    "mural:session": str(session.path), "mural:source": source,
                    "mural:time": f"{t:g}", "mural:seed": settings.seed,
                    "mural:palette": mural.palette.name, "mural:size": f"{width}x{height}",
                })
                result.written.append(Path(target))
                result.lines.append(f"wrote {target} ({width}x{height}, t={t:g}s)")
                say(result.lines[-1])
                bar.update()
            if m.frames:
                frame = mural.render()
                for index, repeats in m.frames:
                    for _ in range(repeats):
                        writers[index].write(frame)
                        bar.update()
    for out, writer in zip(outs, writers, strict=True):
        result.written.append(Path(out.target))
        width, height = writer.output_size
        result.lines.append(f"wrote {out.target}: {writer.frames_written} frames, "
                            f"{width}x{height} @ {float(writer.fps):g} fps")
        say(result.lines[-1])


def _still_frame(mural, size: tuple[int, int]):
    """The current moment composited at `size` (the simulation keeps its own size)."""
    if tuple(size) == mural.compositor.size:
        return mural.render().copy()
    own = mural.compositor.size
    mural.set_render_size(size)
    try:
        return mural.render().copy()
    finally:
        mural.set_render_size(own)


def _render_exposure_output(plan: Plan, out: Output, force: bool, quiet: bool,
                            result: RunResult, say: Callable[[str], None]) -> None:
    from mural.exposure import DEFAULT_POSTER, render_exposure
    from mural.sinks.progress import Progress

    settings = plan.session.mural
    end = out.end if out.end is not None else plan.duration
    with Progress(1000, quiet=quiet, label=Path(out.target).name) as bar:
        def progress(stage: str, fraction: float) -> None:
            bar.update(max(0, int(fraction * 1000) - bar.done))

        done = render_exposure(
            plan.events, out.target, start=out.start, end=end, size=out.size or DEFAULT_POSTER,
            seed=settings.seed, palette=settings.palette, palette_changes=plan.palette_changes(),
            personal=plan.personal, force=force, progress=progress,
            metadata={"mural:session": str(plan.session.path), "mural:source": _source_name(plan)},
        )
    result.written.append(Path(out.target))
    result.lines.append(done.summary())
    say(done.summary())


def run_session(
    path: str | Path,
    *,
    overrides: Overrides | None = None,
    force: bool = False,
    quiet: bool = True,
    strict: bool = False,
    echo: Callable[[str], None] | None = None,
) -> RunResult:
    """Check everything, then render every output (a live session plays in a window first).

    Raises SessionError (every problem, nothing written) before any rendering starts.
    """
    plan, problems, warnings = check_session(path, overrides=overrides, force=force, strict=strict)
    if plan is None:
        raise SessionError(problems)
    for line in warnings:
        (echo or (lambda _: None))(f"warning: {line}")
    if plan.live:
        return play_plan(plan, force=force, quiet=quiet, echo=echo)
    return render_plan(plan, force=force, quiet=quiet, echo=echo)


# -- live sessions --------------------------------------------------------------------------


def _session_player_class():
    """The Player with a session's cues, personal colours and a log of what was played.

    Built on first use (the player module pulls in the display code). The Player has no
    public hooks for this yet, so it overrides `_new_mural` (personal colours) and `_push`
    (the log, live markers) and edits `sources` / `replay` / `live` to add and remove sources.
    """
    from mural.events import MarkerEvent
    from mural.player import Player
    from mural.runtime import Mural
    from mural.sources import open_source
    from mural.sources.replay import MergedSource

    class SessionPlayer(Player):
        def __init__(self, plan: Plan, sink, **kwargs: Any) -> None:
            self.plan = plan
            self.log: list[Event] = []
            self.pending: list[TimedCue] = list(plan.cues)
            self.fired: list[TimedCue] = []
            self.waiting: dict[str, list[Cue]] = {}
            for cue in plan.session.cues:
                if cue.marker is not None and cue.marker not in plan.markers:
                    self.waiting.setdefault(cue.marker, []).append(cue)
            self.resume_at: float | None = None
            self.still_lines: list[str] = []
            self.still_paths: list[Path] = []
            settings = plan.session.mural
            super().__init__([s.uri for s in plan.session.sources], sink, size=settings.size,
                             palette=settings.palette, seed=settings.seed, **kwargs)
            self.by_uri = dict(zip([s.uri for s in plan.session.sources], self.sources,
                                   strict=True))

        def _new_mural(self, events=()):
            mural = Mural(events, size=self.size, seed=self.seed, palette=self.palette,
                          safety=self.safety, personal=self.plan.personal)
            mural.set_render_size(self.render_size)
            return mural

        def _push(self, events):
            super()._push(events)
            self.log.extend(events)
            for event in events:
                if isinstance(event, MarkerEvent) and event.name in self.waiting:
                    for cue in self.waiting.pop(event.name):
                        self.pending.append(TimedCue(event.t + cue.offset, cue))
                    self.pending.sort(key=lambda c: c.t)

        def tick(self):
            super().tick()
            if self.resume_at is not None and self.session_time() >= self.resume_at:
                self.paused, self.resume_at = False, None
            while self.pending and self.pending[0].t <= self.mural.time and not self.done:
                self.fire(self.pending.pop(0))

        def fire(self, timed: TimedCue) -> None:
            from mural import __version__
            from mural.sinks.png import save_png

            cue = timed.cue
            self.fired.append(TimedCue(self.mural.time, cue))
            if cue.palette:
                self.palette = load_palette(cue.palette)
                self.mural.set_palette(self.palette, cue.fade)
                self.notify(f"palette {self.palette.name}")
            if cue.speed:
                self.set_speed(cue.speed)
            if cue.pause:
                self.paused, self.resume_at = True, self.session_time() + cue.pause
            if cue.add_source:
                self.add_source(cue.add_source)
            if cue.remove_source:
                self.remove_source(cue.remove_source)
            if cue.still:
                frame = _still_frame(self.mural, cue.size or self.size)
                save_png(cue.still, frame, {
                    "Software": f"Lumina Mural {__version__}", "mural:source": self.name,
                    "mural:time": f"{self.mural.time:.3f}", "mural:seed": self.seed,
                    "mural:palette": self.palette.name,
                    "mural:size": f"{frame.shape[1]}x{frame.shape[0]}",
                })
                self.still_paths.append(Path(cue.still))
                self.still_lines.append(f"wrote {cue.still} (t={self.mural.time:.2f}s)")

        def add_source(self, uri: str) -> None:
            source = open_source(uri, clock=self.session_time)
            self.sources.append(source)
            self.by_uri[uri] = source
            if source.live:
                if self.live is None:
                    self.live = MergedSource([source])
                else:
                    self.live.sources.append(source)
            else:
                source.seek(self.position)
                if self.replay is None:
                    self.replay = MergedSource([source])
                else:
                    self.replay.sources.append(source)

        def remove_source(self, uri: str) -> None:
            match = next((s for s in self.plan.session.sources if uri in (s.written, s.uri)),
                         None)
            source = self.by_uri.pop(match.uri if match else uri, None)
            if source is None:
                return
            for merged in (self.live, self.replay):
                if merged is not None and source in merged.sources:
                    merged.sources.remove(source)
            if source in self.sources:
                self.sources.remove(source)
            source.close()
            if self.live is not None and not self.live.sources:
                self.live = None
            if self.replay is not None and not self.replay.sources:
                self.replay = None

    return SessionPlayer


def play_plan(
    plan: Plan,
    *,
    fullscreen: bool = False,
    display: int = 0,
    hud: bool = False,
    force: bool = False,
    quiet: bool = True,
    echo: Callable[[str], None] | None = None,
    sink=None,
    **player_args: Any,
) -> RunResult:
    """Play a live session in a window with its cues; then render its outputs from what was
    played (the events as they landed on the mural), frame-exactly like an offline run.

    Cue stills are taken the moment their cue fires. `sink` and `player_args` (clock, sleep,
    duration ...) are for tests and embedding.
    """
    say = echo or (lambda line: None)
    window = sink
    if window is None:
        from mural.sinks.display import Display

        window = Display(plan.session.mural.size, fullscreen=fullscreen, display=display)
    player_class = _session_player_class()
    try:
        with player_class(plan, window, hud=hud, **player_args) as player:
            stats = player.run()
    finally:
        if sink is None:
            window.close()
    say(stats.summary())
    result = RunResult(written=list(player.still_paths), lines=list(player.still_lines),
                       skipped=list(plan.skipped))
    for line in result.lines:
        say(line)
    duration = player.mural.time
    played = Plan(plan.session, sorted(player.log, key=lambda e: e.t), duration, plan.markers,
                  [c for c in player.fired if not c.cue.still], [], plan.personal)
    for out in plan.outputs:
        end = duration if out.end is None else min(out.end, duration)
        if out.kind != "still" and not end > out.start:
            result.skipped.append(f"{out.target} (the show ended at {duration:.1f}s)")
            continue
        played.outputs.append(replace(out, end=end) if out.kind != "still" else out)
    if played.outputs:
        done = render_plan(played, force=force, quiet=quiet, echo=echo)
        result.written += done.written
        result.lines += done.lines
    return result


__all__ = [
    "Cue",
    "MuralSettings",
    "Output",
    "Overrides",
    "Plan",
    "RunResult",
    "Session",
    "SessionError",
    "SessionProblem",
    "SourceSpec",
    "TimedCue",
    "TomlLines",
    "apply_overrides",
    "check_session",
    "load_session",
    "parse_range",
    "parse_session",
    "play_plan",
    "render_plan",
    "run_session",
    "toml_error",
]
