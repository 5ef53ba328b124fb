"""`mural send`: send one event, or re-send a recording in real time, to a live source."""

from __future__ import annotations

import json
from typing import Any

import click

from mural.cli.options import friendly
from mural.events import EMOTION_NAMES, Event, EventError, Header, event_from_dict, read_stream
from mural.sinks.send import send_events


def _validate(obj: Any) -> Event:
    try:
        event = event_from_dict(obj, t=0.0)
    except EventError as exc:
        raise click.ClickException(f"invalid event: {exc}") from None
    if isinstance(event, Header):
        raise click.ClickException("invalid event: a header is not an event")
    return event


def _event_from_options(opts: dict[str, Any]) -> Event:
    given = {k: v for k, v in opts.items() if v is not None}
    modes = [m for m in ("json_text", "level", "marker") if m in given]
    emotion_fields = {"emotion", "valence", "arousal", "intensity", "x", "y", "heart_rate"}
    if given.keys() & emotion_fields:
        modes.append("emotion")
    if len(modes) != 1:
        raise click.UsageError(
            "give exactly one of: --emotion/--valence/--arousal (with --participant), "
            "--signal, --marker, --json or --replay"
        )
    mode = modes[0]
    if mode == "json_text":
        if len(given) > 1:
            raise click.UsageError("--json takes the whole event; combine it with nothing else")
        try:
            obj = json.loads(given["json_text"])
        except ValueError as exc:
            raise click.ClickException(f"--json is not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise click.ClickException("--json must be one JSON object")
        return _validate({k: v for k, v in obj.items() if k != "t"})
    if mode == "level":
        return _validate({"type": "signal", "level": given["level"],
                          "participant": given.get("participant")})
    if mode == "marker":
        if "participant" in given:
            raise click.UsageError("--marker takes no --participant")
        return _validate({"type": "marker", "name": given["marker"]})
    return _validate({k: v for k, v in given.items() if k != "json_text"})


@click.command("send")
@click.argument("target", metavar="TARGET")
@click.option("--participant", "-p", help="Who the event is about.")
@click.option("--emotion", "-e", help=f"An emotion label: {', '.join(EMOTION_NAMES)}.")
@click.option("--intensity", type=float, help="0..1 (default 1).")
@click.option("--valence", type=float,
              help="-1..1; with --arousal, instead of (or refining) a label.")
@click.option("--arousal", type=float, help="0..1.")
@click.option("--x", "x", type=float, help="Where on the mural, 0..1 (with --y).")
@click.option("--y", "y", type=float, help="Where on the mural, 0..1 (with --x).")
@click.option("--heart-rate", type=float, help="Beats per minute.")
@click.option("--signal", "level", type=float, metavar="LEVEL",
              help="Send a signal-health event, 0..1 (network-wide, or for --participant).")
@click.option("--marker", metavar="NAME", help="Send a marker event.")
@click.option("--json", "json_text", metavar="JSON", help="Send this event (validated first).")
@click.option("--replay", type=click.Path(dir_okay=False), metavar="FILE",
              help="Re-send a recording, paced by its event times.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Replay speed factor (with --replay).")
@friendly
def command(target: str, replay: str | None, speed: float, **opts: Any) -> None:
    """Send events to TARGET: osc://HOST:PORT, ws://HOST:PORT, or - (JSON lines on stdout).

    Useful to test an installation's inputs by hand, or to feed a recording back into a live
    mural. Events are validated before anything is sent.
    """
    if replay is not None:
        if any(v is not None for v in opts.values()):
            raise click.UsageError("--replay sends a whole recording; combine it with --speed only")
        event = None
    else:
        if speed != 1.0:
            raise click.UsageError("--speed only applies to --replay")
        event = _event_from_options(opts)
    events = [event] if event is not None else read_stream(
        replay, on_problem=lambda p: click.echo(f"warning: {p}", err=True)).events
    sent, total = send_events(target, events, speed=speed if event is None else None)
    if target != "-":
        noun = "event" if total == 1 else "events"
        done = f"{sent} {noun}" if sent == total else f"{sent} of {total} {noun}"
        click.echo(f"sent {done} to {target}", err=True)
