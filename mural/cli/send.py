"""`mural send`: send one event, or re-send a recording in real time, to a live source."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from typing import Any, Protocol

import click

from mural.events import EMOTION_NAMES, Event, EventError, Header, event_from_dict
from mural.sources.live import format_address, parse_listen_uri

SEND_TIMEOUT = 5.0


class Target(Protocol):
    def send(self, event: Event) -> None: ...

    def close(self) -> None: ...


def wire_dict(event: Event) -> dict[str, Any]:
    """An event as sent to a live source: no `t`, since the receiver stamps its own."""
    return {k: v for k, v in event.to_dict().items() if k != "t"}


class OscTarget:
    """UDP to an `osc://` source, in the address space documented in mural.sources.osc."""

    def __init__(self, host: str, port: int) -> None:
        from pythonosc.udp_client import UDPClient

        self.client = UDPClient(host, port, timeout=SEND_TIMEOUT)  # blocking: waits, never drops

    def send(self, event: Event) -> None:
        from mural.sources.osc import event_to_osc, pack

        self.client.send(pack(event_to_osc(event)))

    def close(self) -> None:
        self.client.close()


class WebSocketTarget:
    """One WebSocket connection to a `ws://` source; one JSON text message per event."""

    def __init__(self, uri: str) -> None:
        from websockets.sync.client import connect

        self._stack = ExitStack()  # connect() is meant to be used as a context manager
        try:
            self.connection = self._stack.enter_context(
                connect(uri, open_timeout=SEND_TIMEOUT, proxy=None)
            )
        except TypeError:  # websockets < 15 has no proxy support to turn off
            self.connection = self._stack.enter_context(connect(uri, open_timeout=SEND_TIMEOUT))

    def send(self, event: Event) -> None:
        self.connection.send(json.dumps(wire_dict(event), separators=(",", ":")))

    def close(self) -> None:
        self._stack.close()


class StdoutTarget:
    """`-`: JSON lines on stdout, for piping into `mural record -` or another program."""

    def send(self, event: Event) -> None:
        click.echo(json.dumps(wire_dict(event), separators=(",", ":"), ensure_ascii=False))

    def close(self) -> None:
        pass


def open_target(uri: str) -> Target:
    """`osc://HOST:PORT`, `ws://HOST:PORT` (host defaults to 127.0.0.1) or `-`."""
    if uri == "-":
        return StdoutTarget()
    scheme = uri.partition("://")[0]
    if scheme not in ("osc", "ws"):
        raise click.ClickException(f"unknown target {uri!r} (expected osc://HOST:PORT, "
                                   f"ws://HOST:PORT or -)")
    try:
        host, port = parse_listen_uri(uri, scheme)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    address = format_address(scheme, host, port)
    try:
        if scheme == "osc":
            return OscTarget(host, port)
        return WebSocketTarget(address)
    except Exception as exc:  # refused, unknown host, failed handshake, timeout
        raise click.ClickException(f"cannot connect to {address}: {exc}") from None


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


def _replay(target: Target, path: str, speed: float) -> tuple[int, int]:
    from mural.events.formats import StreamError, read_stream

    try:
        stream = read_stream(path, on_problem=lambda p: click.echo(f"warning: {p}", err=True))
    except StreamError as exc:
        raise click.ClickException(str(exc)) from None
    events = stream.events
    if not events:
        return 0, 0
    origin = events[0].t  # start at once, whatever the first event's time
    start = time.monotonic()
    sent = 0
    try:
        for event in events:
            delay = start + (event.t - origin) / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            target.send(event)
            sent += 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
    return sent, len(events)


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
    out = open_target(target)
    try:
        if event is not None:
            out.send(event)
            sent = total = 1
        else:
            assert replay is not None
            sent, total = _replay(out, replay, speed)
    except click.ClickException:
        raise
    except Exception as exc:  # connection dropped, network unreachable ...
        raise click.ClickException(f"sending to {target} failed: {exc}") from None
    finally:
        out.close()
    if target != "-":
        noun = "event" if total == 1 else "events"
        done = f"{sent} {noun}" if sent == total else f"{sent} of {total} {noun}"
        click.echo(f"sent {done} to {target}", err=True)
