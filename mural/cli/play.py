"""`mural play`: the installation, one or more sources played live in a window, with hotkeys."""

from __future__ import annotations

import click

from mural.cli.options import (
    SIZE,
    TIME,
    friendly,
    live_options,
    palette_option,
    safety_from_flag,
    seed_option,
    strict_option,
    unsafe_option,
)
from mural.show.player import MAX_SPEED, MIN_SPEED, hotkeys_text
from mural.sources import with_live_options

NO_DISPLAY_HINT = (
    "render offline instead: `mural video SOURCE -o mural.mp4` or "
    "`mural still SOURCE --at 60 -o still.png`"
)

HELP = f"""Play SOURCE... live in a window: recordings, sim:NAME scenarios and live inputs
(osc://HOST:PORT, ws://HOST:PORT, - for stdin), several at once merged into one mural.

The simulation keeps its fixed step whatever the display rate; the render size adapts to hold
--fps and is scaled to the window. Ends at Esc/Q, after --duration, or when every source has
finished (recordings: 3 s after their last event, unless --loop).

\b
Hotkeys:
{hotkeys_text()}
"""


@click.command("play", help=HELP)
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--fullscreen", is_flag=True,
              help="Fullscreen at the display's native resolution, cursor hidden.")
@click.option("--display", "display", type=click.IntRange(min=0), default=0, show_default=True,
              help="Which display to use (0 = primary).")
@click.option("--size", type=SIZE, default=None,
              help="Window size WIDTHxHEIGHT (default 1280x720); with --fullscreen, the "
                   "simulation size (default: the screen's).")
@click.option("--fps", type=click.FloatRange(min=1, max=240), default=60, show_default=True,
              help="Target frames per second.")
@palette_option
@seed_option
@click.option("--speed", type=click.FloatRange(MIN_SPEED, MAX_SPEED), default=1.0,
              show_default=True, help="Playback speed of recordings (live input stays live).")
@click.option("--loop", is_flag=True, help="Restart recordings when they end.")
@click.option("--duration", type=TIME, default=None,
              help="Stop after this much wall time: seconds or m:ss.")
@click.option("--hud", is_flag=True, help="Start with the HUD shown (H toggles it).")
@click.option("--state", "state", type=click.Path(dir_okay=False), default="mural-state.npz",
              show_default=True, help="Where the show's state is saved (atomically).")
@click.option("--autosave-every", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds between state saves (also saved on exit).")
@click.option("--no-autosave", is_flag=True, help="Do not save the state.")
@click.option("--resume", type=click.Path(dir_okay=False), default=None,
              help="Continue from a saved state (after a crash or power loss).")
@click.option("--record", "record", type=click.Path(dir_okay=False), default=None,
              help="Record every event played (sources and manual input) to a .jsonl file.")
@click.option("--force", is_flag=True, help="Overwrite an existing --record file.")
@click.option("--show-join", is_flag=True,
              help="Draw a web:// source's join code (QR) small and dim in a corner of the wall.")
@live_options
@strict_option
@unsafe_option
@friendly
def command(sources, fullscreen, display, size, fps, palette, seed, speed, loop, duration, hud,
            state, autosave_every, no_autosave, resume, record, force, show_join, live_key,
            join_ttl, max_phones, strict, unsafe) -> None:
    from mural.show.player import PlayerConfig, play_session
    from mural.sinks.display import DisplayUnavailable

    config = PlayerConfig(
        size=size, fps=fps, palette=palette, seed=seed, speed=speed, loop=loop,
        duration=duration, hud=hud, strict=strict, safety=safety_from_flag(unsafe),
        autosave=None if no_autosave else state, autosave_every=autosave_every,
        resume=resume, record=record, record_force=force, show_join=show_join,
    )
    sources = with_live_options(sources, key=live_key, join_ttl=join_ttl, max_phones=max_phones)
    try:
        stats = play_session(sources, fullscreen=fullscreen, display=display, config=config,
                             echo=click.echo)
    except DisplayUnavailable as exc:
        raise click.ClickException(f"cannot open a window: {exc}; {NO_DISPLAY_HINT}") from None
    click.echo(stats.summary())
