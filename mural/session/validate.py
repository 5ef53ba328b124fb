"""Checking any file the mural reads, without rendering: every problem with its line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from mural.events.formats import SUFFIXES
from mural.session.check import check_session
from mural.session.model import TABLES
from mural.session.toml import TomlLines
from mural.sources.oscmap import check_osc_map

PALETTE_KEYS = {"background_top", "background_bottom", "shadow_tint", "shadow_level", "exposure",
                "bloom", "bloom_wide", "saturation", "tint", "lift", "memory_gain",
                "head_strength"}
KINDS = ("auto", "session", "stream", "participants", "palette", "map")


def file_kind(path: Path) -> str:
    """What a file is, from its suffix and (for TOML) its top-level keys."""
    if path.suffix.lower() in SUFFIXES:
        return "stream"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "participants" if "particip" in path.stem.lower() else "session"
    if set(data) & set(TABLES):
        return "session"
    if isinstance(data.get("route"), list):  # an osc:// map: [[route]] tables
        return "map"
    if set(data) & PALETTE_KEYS:
        return "palette"
    return "participants"


def validate_file(path: Path, kind: str = "auto", *, force: bool = False,
                  strict: bool = False) -> tuple[list[str], list[str], str]:
    """(problems, warnings, summary) for one file; nothing is rendered or written."""
    kind = file_kind(path) if kind == "auto" else kind
    if kind == "stream":
        from mural.events import StreamError, read_stream

        problems: list[str] = []
        try:
            stream = read_stream(path, on_problem=lambda p: problems.append(str(p)))
        except StreamError as exc:
            return [str(exc)], [], "stream"
        return problems, [], f"stream: {len(stream)} events, {stream.duration:g}s"
    if kind == "participants":
        from mural.session.participants import check_participants

        people, trouble = check_participants(path)
        return [str(p) for p in trouble], [], f"participants: {len(people)}"
    if kind == "map":
        osc_map, trouble = check_osc_map(path)
        if osc_map is None or trouble:
            return [str(p) for p in trouble], [], "osc map"
        return [], [], f"osc map: {len(osc_map.routes)} route(s)"
    if kind == "palette":
        from mural.show.palettes import PaletteError, load_palette

        try:
            palette = load_palette(path)
        except PaletteError as exc:
            return [_palette_problem(path, str(exc))], [], "palette"
        return [], [], f"palette {palette.name!r}"
    plan, trouble, warnings = check_session(path, force=force, strict=strict)
    if plan is None:
        return [str(p) for p in trouble], warnings, "session"
    s = plan.session
    live = ", live" if plan.live else f", {plan.duration:g}s"
    return [], warnings, (f"session: {len(s.sources)} source(s){live}, {len(s.cues)} cue(s), "
                          f"{len(plan.outputs)} output(s)")


def _palette_problem(path: Path, message: str) -> str:
    match = re.search(r"'(\w+)'|key\(s\) (\w+)", message)
    if match:
        try:
            lines = TomlLines.scan(path.read_text(encoding="utf-8"))
            line = lines.key("", 0, match[1] or match[2])
            if line:
                return f"{path}:{line}: {message.split(': ', 1)[-1]}"
        except OSError:
            pass
    return message
