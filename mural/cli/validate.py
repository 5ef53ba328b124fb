"""`mural validate`: check a session, participants, palette or stream file; list every problem."""

from __future__ import annotations

from pathlib import Path

import click

from mural.session.validate import KINDS, validate_file


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
