"""`mural checkpoint`: the whole mural saved every N seconds of a stream, in one simulation pass.

`mural still --checkpoints DIR` and `mural video --checkpoints DIR` then start from the nearest
checkpoint instead of from 0, with the same pixels bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import click

from mural.cli.options import (
    TIME,
    friendly,
    palette_option,
    safety_from_flag,
    seed_option,
    size_option,
    strict_option,
    unsafe_option,
    warn_problem,
)


@click.command("checkpoint")
@click.argument("source")
@click.option("--every", type=TIME, default=60.0, show_default=True,
              help="Seconds of SOURCE between checkpoints (seconds or m:ss).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for checkpoint-NNNNNN.npz files and their index.json.")
@click.option("--end", type=TIME, default=None,
              help="The last moment to checkpoint (default: the stream's last event).")
@size_option()
@seed_option
@palette_option
@strict_option
@unsafe_option
@click.option("--force", is_flag=True, help="Replace the checkpoints already in the folder.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@friendly
def command(source, every, output, end, size, seed, palette, strict, unsafe, force,
            quiet) -> None:
    """Save the whole mural every --every seconds of SOURCE into a folder.

    One simulation pass, no compositing (on a 2-core machine about 30x real time at
    1920x1080, 10x at 3840x2160). Stills and videos given
    --checkpoints FOLDER start from the latest checkpoint at or before their moment, with the
    same pixels as from the start; they must use the same --size, --seed and --palette (a
    folder made for anything else is refused, saying what differs).
    """
    from mural.show.checkpoint import checkpoint_recording

    if every <= 0:
        raise click.BadParameter("must be more than 0 seconds", param_hint="--every")
    found = checkpoint_recording(source, output, every, size=size, seed=seed, palette=palette,
                                 safety=safety_from_flag(unsafe), end=end, force=force,
                                 quiet=quiet, strict=strict, on_problem=warn_problem)
    click.echo(found.summary())
