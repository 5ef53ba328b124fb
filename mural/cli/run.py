"""`mural run`: a whole show from a session file: sources, participants, cues and outputs."""

from __future__ import annotations

from pathlib import Path

import click

from mural.cli.options import SIZE, TIME, friendly
from mural.cli.video import farm_from_flags, farm_options


@click.command("run")
@click.argument("session", type=click.Path(path_type=Path))
@click.option("--size", type=SIZE, default=None,
              help="Override [mural] size and every video/still size (not the posters).")
@click.option("--poster-size", type=SIZE, default=None,
              help="Override the size of every exposure poster.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=None, help="Override the seed.")
@click.option("--fps", type=click.FloatRange(min=1, max=240), default=None,
              help="Override every frame rate.")
@click.option("--palette", default=None, help="Override the starting palette (cues still apply).")
@click.option("--until", type=TIME, default=None,
              help="End the whole session here: outputs are cut, later cues and stills skipped.")
@click.option("--force", is_flag=True, help="Overwrite outputs that exist.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option("--strict", is_flag=True, help="A bad line in a stream is a problem, not a warning.")
@click.option("--fullscreen", is_flag=True, help="Live sessions: play fullscreen.")
@click.option("--display", type=click.IntRange(min=0), default=0, show_default=True,
              help="Live sessions: which display.")
@click.option("--hud", is_flag=True, help="Live sessions: start with the HUD shown.")
@farm_options
@friendly
def command(session, size, poster_size, seed, fps, palette, until, force, quiet, strict,
            fullscreen, display, hud, workers, scheduler, resume, segment) -> None:
    """Run SESSION.toml: check everything first, then render every output.

    Nothing is rendered when any problem is found (each is listed with its line; exit 1).
    With recordings and sim: sources, outputs are rendered offline, frame-exactly, cues at
    their exact frame times. With a live source (osc://, ws://, -) the show plays in a window
    with its cues, and the outputs are rendered from what was played when it ends.
    --workers N / --scheduler ADDRESS render the .mp4 videos and frame folders on a Dask
    render farm, as `mural video` does.
    """
    farm = farm_from_flags(workers, scheduler, resume, segment)
    from mural.session import Overrides, check_session, play_plan, render_plan

    overrides = Overrides(size=size, seed=seed, fps=fps, palette=palette,
                          poster_size=poster_size, until=until)
    plan, problems, warnings = check_session(session, overrides=overrides, force=force,
                                             strict=strict)
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    if plan is None:
        for problem in problems:
            click.echo(str(problem), err=True)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise click.ClickException(f"{count} in {session}; nothing was rendered")
    if plan.live:
        from mural.sinks.display import DisplayUnavailable

        try:
            result = play_plan(plan, fullscreen=fullscreen, display=display, hud=hud,
                               force=force, quiet=quiet, echo=click.echo)
        except DisplayUnavailable as exc:
            raise click.ClickException(f"cannot open a window: {exc}") from None
    else:
        result = render_plan(plan, force=force, quiet=quiet, echo=click.echo, farm=farm)
    click.echo(f"session done: {len(result.written)} output(s) written"
               + (f", {len(result.skipped)} skipped" if result.skipped else ""))
