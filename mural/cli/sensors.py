"""`mural sensors`: what sensors can drive the mural here, or what an OSC device sends."""

from __future__ import annotations

import click

from mural.cli.options import friendly
from mural.sources import monotonic_clock
from mural.sources.discovery import brainflow_boards, sniff_osc


@click.command("sensors")
@click.option("--sniff", "port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Listen for OSC on this UDP port and list the addresses that arrive.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="With --sniff: the address to listen on (0.0.0.0: the room's network).")
@click.option("--seconds", type=click.FloatRange(min=0.1, max=600), default=10.0,
              show_default=True, help="With --sniff: how long to listen.")
@friendly
def command(port: int | None, host: str, seconds: float) -> None:
    """List the BrainFlow boards this machine can use, each with a one-line status; or, with
    --sniff PORT, the OSC addresses a device sends (the raw material of an osc:// map file)."""
    if port is None:
        for name, status in brainflow_boards():
            click.echo(f"brainflow://{name:<22} {status}")
        return
    click.echo(f"listening for OSC on {host}:{port} for {seconds:g} s ...", err=True)
    seen = sniff_osc(host, port, seconds, monotonic_clock(),
                     ready=lambda bound: click.echo(f"bound to port {bound}", err=True))
    if not seen:
        click.echo("nothing arrived")
    for address, count, example in seen:
        shown = ", ".join(repr(a) for a in example[:6]) + (" ..." if len(example) > 6 else "")
        click.echo(f"{address:<40} x{count:<6} e.g. [{shown}]")
