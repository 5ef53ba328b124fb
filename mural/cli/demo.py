"""`mural demo`: the shipped festival recording in a window, or a short video and a still."""

from __future__ import annotations

import click

from mural.cli.options import TIME, friendly
from mural.show.demo import run_demo


@click.command("demo")
@click.option("--duration", type=TIME, default=None,
              help="Seconds to play (window) or of video to render (no window; default 12).")
@click.option("--no-window", is_flag=True, help="Render a video and a still even if a display "
                                                "is available.")
@friendly
def command(duration, no_window) -> None:
    """Show what the mural does with the shipped festival recording.

    With a display, it plays in a window with the HUD on (hotkeys as in `mural play`). Without
    one (or with --no-window), it renders a 12 s time-lapse of the blackout and the recovery
    (t=88..124 s at 3x, 720p, 30 fps) and a still into the current folder, and prints where
    they are.
    """
    if duration is not None and duration <= 0:
        raise click.BadParameter("must be more than 0 seconds", param_hint="--duration")
    result = run_demo(duration=duration, window=not no_window, say=click.echo)
    click.echo(result.summary)
    if result.video is not None:
        click.echo(f"video: {result.video.resolve()}")
    if result.still is not None:
        click.echo(f"still: {result.still.resolve()}")
