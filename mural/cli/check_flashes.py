"""`mural check-flashes`: WCAG 2.3.1 flash check of a rendered video, GIF or PNG folder."""

from __future__ import annotations

import json
from pathlib import Path

import click


class InputError(click.ClickException):
    """Unreadable input: a clean one-line error and exit code 2 (1 means the check failed)."""

    exit_code = 2


@click.command("check-flashes")
@click.argument("source", metavar="VIDEO|FRAMES_DIR", type=click.Path(path_type=Path))
@click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Frame rate of a PNG folder (default 30); for videos and GIFs, resample to this rate.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_context
def command(ctx: click.Context, source: Path, fps: float | None, as_json: bool) -> None:
    """Count general and red flashes per second (WCAG 2.3.1) in VIDEO (MP4, WebM, GIF, ...)
    or FRAMES_DIR (a folder of PNG frames, in name order).

    Exit code 0 when no one-second window holds more than 3 flashes in any third-of-frame
    region, 1 when one does, 2 when the input cannot be read. The report lists the limits of
    the method; it supports, not replaces, a review of the installation on site.
    """
    from mural.show.flashes import FlashInputError, analyse_video

    try:
        report = analyse_video(source, fps=fps)
    except FlashInputError as exc:
        raise InputError(str(exc)) from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"cannot analyse {source}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), separators=(",", ":")))
    else:
        click.echo(report.format())
    ctx.exit(0 if report.passed else 1)
