"""`mural record`: live sources to a JSONL stream file, until a duration, Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging

import click

from mural.cli.options import friendly
from mural.show.record import record


@click.command("record")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The JSONL file to write (refused if it exists, unless --force).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop after this long (default: until Ctrl-C or SIGTERM).")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@friendly
def command(sources: tuple[str, ...], output: str, duration: float | None, force: bool) -> None:
    """Record live SOURCEs, merged in time order, to a stream file that replays identically.

    Live events keep the time they arrived (seconds since recording started). Lines are
    written whole and fsynced every second, so even a killed recorder leaves a readable file.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    result = record(sources, output, duration=duration, force=force,
                    say=lambda line: click.echo(line, err=True))
    click.echo(result.summary(), err=True)
