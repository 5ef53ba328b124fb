"""Everything `mural run` checks before it renders anything: files, streams, markers, outputs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from mural.engine.engine import Personal
from mural.events import Event, Problem, Stream, StreamError
from mural.session.model import (
    Output,
    Overrides,
    Plan,
    Session,
    SessionError,
    TimedCue,
)
from mural.session.parse import _Reader, apply_overrides, parse_session
from mural.session.participants import check_participants
from mural.session.toml import FileProblem
from mural.show.palettes import PaletteError, load_palette
from mural.show.video import ExportError, VideoJob
from mural.sources import SourceError, is_live


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
    for cue in session.cues:
        if cue.add_source and cue.add_source in known:
            bad(lines.key("cue", cue.index, "add_source"),
                f"add_source {cue.add_source!r} is already a [[source]] (it plays from the "
                "start); add it only here, or only as a [[source]]")
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
        elif out.kind == "video" and end > out.start:
            job = VideoJob(out.target, out.start, end, out.fps or session.mural.fps, out.speed)
            try:
                job.check(out.size or session.mural.size)
            except ExportError as exc:
                bad(lines.key("output", out.index, "video"), str(exc))
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
    try:
        return _unwritable_path(Path(target), target, force)
    except OSError as exc:  # a name too long for the file system, a loop of links ...
        return f"cannot write {target}: {exc.strerror or exc}"


def _unwritable_path(path: Path, target: str, force: bool) -> str | None:
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


