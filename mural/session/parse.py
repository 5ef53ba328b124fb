"""Reading a session file into the model, collecting every structural problem with its line."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mural.render.palette import DEFAULT_PALETTE
from mural.session.model import (
    CUE_ACTIONS,
    CUE_KEYS,
    DEFAULT_FPS,
    DEFAULT_SIZE,
    MAX_SPEED,
    MIN_SPEED,
    MURAL_KEYS,
    STILL_KEYS,
    TABLES,
    VIDEO_KEYS,
    Cue,
    MuralSettings,
    Output,
    Overrides,
    Session,
    SourceSpec,
)
from mural.session.toml import FileProblem, TomlLines, read_toml
from mural.session.values import parse_range, parse_size, parse_time
from mural.show.video import MAX_FPS, MIN_FPS
from mural.sources import scheme_of


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
                if not math.isfinite(raw):
                    raise ValueError(f"must be a finite number, got {raw!r}")
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



MAX_OFFSET = 24 * 3600.0  # a cue's offset from its marker: at most a day either way


def parse_session(path: str | Path) -> tuple[Session | None, list[FileProblem]]:
    """Read a session file into a Session, collecting every structural problem.

    Files, streams, markers and outputs are checked by `check_session`.
    """
    path = Path(path)
    data, lines, problems = read_toml(path)
    if data is None:
        return None, problems
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
    fps = r.value("mural", 0, raw_mural, "fps", "number", lo=MIN_FPS, hi=MAX_FPS)
    seed = r.value("mural", 0, raw_mural, "seed", "int", lo=0, hi=2**32 - 1)
    palette = r.value("mural", 0, raw_mural, "palette", "text")
    settings = MuralSettings(
        size=size or DEFAULT_SIZE, fps=float(fps or DEFAULT_FPS), seed=seed or 0,
        palette=r.palette(palette) if palette else DEFAULT_PALETTE,
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
        "offset": r.value("cue", i, spec, "offset", "number", lo=-MAX_OFFSET, hi=MAX_OFFSET),
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
        fps = r.value("output", i, spec, "fps", "number", lo=MIN_FPS, hi=MAX_FPS)
        size = r.value("output", i, spec, "size", "size")
        speed = r.value("output", i, spec, "speed", "number", lo=MIN_SPEED, hi=MAX_SPEED)
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


