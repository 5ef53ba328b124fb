"""`mural record`: live sources to a JSONL stream file, until a duration, Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging

import click

from mural.cli.options import friendly, live_options
from mural.show.record import record
from mural.sources import with_live_options


@click.command("record")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The JSONL file to write (refused if it exists, unless --force).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop after this long (default: until Ctrl-C or SIGTERM).")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@live_options
@friendly
def command(sources: tuple[str, ...], output: str, duration: float | None, force: bool,
            live_key: str | None, join_ttl: float | None, max_phones: int | None) -> None:
    """Record live SOURCEs, merged in time order, to a stream file that replays identically.

    Live events keep the time they arrived (seconds since recording started). Lines are
    written whole and fsynced every second, so even a killed recorder leaves a readable file.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    sources = with_live_options(sources, key=live_key, join_ttl=join_ttl, max_phones=max_phones)
    result = record(sources, output, duration=duration, force=force,
                    say=lambda line: click.echo(line, err=True))
    click.echo(result.summary(), err=True)
