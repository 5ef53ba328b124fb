"""`mural simulate`: write a seeded crowd scenario to a stream file."""

from __future__ import annotations

from pathlib import Path

import click

from mural.cli.options import friendly
from mural.events.formats import SUFFIXES
from mural.sinks.files import save_stream
from mural.sources.simulate import SCENARIOS, simulate


@click.command(
    "simulate",
    help="Generate the scenario NAME and write it to a .jsonl or .csv stream file.\n\n"
    "Scenarios: " + "; ".join(f"{s.name} ({s.duration:g} s): {s.summary}"
                              for s in SCENARIOS.values()),
)
@click.argument("name")
@click.option("-o", "--output", required=True, metavar="OUT.jsonl|OUT.csv",
              type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--participants", type=int, default=12, show_default=True,
              help="Crowd size (ids p01, p02, ...).")
@click.option("--duration", type=float, default=None,
              help="Seconds; phases scale with it. [default: the scenario's own]")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Same seed, same events.")
@click.option("--force", is_flag=True, help="Overwrite the output if it exists.")
@friendly
def command(name: str, output: Path, participants: int, duration: float | None,
            seed: int, force: bool) -> None:
    if output.suffix.lower() not in SUFFIXES:
        raise click.ClickException(
            f"{output}: unknown stream format (use one of {', '.join(SUFFIXES)})"
        )
    stream = simulate(name, participants=participants, duration=duration, seed=seed)
    save_stream(output, stream, force=force)
    meta = stream.header.meta if stream.header is not None else {}
    kinds = {k: sum(1 for e in stream.events if e.type == k)
             for k in ("emotion", "signal", "marker")}
    click.echo(
        f"wrote {output}: {name} (seed {seed}, {participants} participants, "
        f"{meta.get('duration', stream.duration):g} s) - {len(stream.events)} events "
        f"({kinds['emotion']} emotion, {kinds['signal']} signal, {kinds['marker']} markers)"
    )
