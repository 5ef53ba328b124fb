"""`mural validate`: check a session, participants, palette or stream file; list every problem."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click

from mural.events.formats import SUFFIXES

PALETTE_KEYS = {"background_top", "background_bottom", "shadow_tint", "shadow_level", "exposure",
                "bloom", "bloom_wide", "saturation", "tint", "lift", "memory_gain",
                "head_strength"}
KINDS = ("auto", "session", "stream", "participants", "palette")


def file_kind(path: Path) -> str:
    """What a file is, from its suffix and (for TOML) its top-level keys."""
    if path.suffix.lower() in SUFFIXES:
        return "stream"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "participants" if "particip" in path.stem.lower() else "session"
    from mural.session.model import TABLES

    if set(data) & set(TABLES):
        return "session"
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
    if kind == "palette":
        from mural.show.palettes import PaletteError, load_palette

        try:
            palette = load_palette(path)
        except PaletteError as exc:
            return [_palette_problem(path, str(exc))], [], "palette"
        return [], [], f"palette {palette.name!r}"
    from mural.session import check_session

    plan, trouble, warnings = check_session(path, force=force, strict=strict)
    if plan is None:
        return [str(p) for p in trouble], warnings, "session"
    s = plan.session
    live = ", live" if plan.live else f", {plan.duration:g}s"
    return [], warnings, (f"session: {len(s.sources)} source(s){live}, {len(s.cues)} cue(s), "
                          f"{len(plan.outputs)} output(s)")


def _palette_problem(path: Path, message: str) -> str:
    from mural.session import TomlLines

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


@click.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), default="auto", show_default=True,
              help="What FILE is (auto: by suffix and content).")
@click.option("--force", is_flag=True, help="Outputs that already exist are fine (run --force).")
@click.option("--strict", is_flag=True, help="Bad lines in a session's streams are problems.")
def command(file: Path, kind: str, force: bool, strict: bool) -> None:
    """Check FILE (a session .toml, a stream .jsonl/.csv, a participants or palette .toml) and
    report EVERY problem with its line number; exit 1 if there is any.

    A session is checked as `mural run` checks it before rendering: palettes load, sources
    open and parse, markers named by cues exist, participants are valid, and outputs are
    writable and do not exist yet (unless --force).
    """
    problems, warnings, summary = validate_file(file, kind, force=force, strict=strict)
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    for line in problems:
        click.echo(line)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        click.echo(f"{file}: {count}", err=True)
        raise SystemExit(1)
    click.echo(f"ok: {file} ({summary})")
