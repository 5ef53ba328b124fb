"""Sending events to a live mural: OSC datagrams, WebSocket messages, or JSON lines.

A TARGET may carry the listener's shared secret, `osc://HOST:PORT?key=SECRET` or
`ws://HOST:PORT?key=SECRET`: OSC sends it as the first argument of every message, WebSocket as
an `Authorization: Bearer` header of the handshake (so it is not in the URL the server logs).
The listener's own options (allow=, origin=, map= ...) are accepted and ignored, so the SOURCE
string can be pasted as the TARGET; anything else is an error naming what is accepted.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any, Protocol, TextIO

from mural.events import Event
from mural.events.errors import MuralError
from mural.sources.base import SourceError, check_key
from mural.sources.live import format_address, parse_listen_uri, parse_options

SEND_TIMEOUT = 5.0


class SendError(MuralError):
    """A target that cannot be reached or written to."""


class Target(Protocol):
    def send(self, event: Event) -> None: ...

    def close(self) -> None: ...


def wire_dict(event: Event) -> dict[str, Any]:
    """An event as sent to a live source: no `t`, since the receiver stamps its own."""
    return {k: v for k, v in event.to_dict().items() if k != "t"}


class OscTarget:
    """UDP to an `osc://` source, in the address space documented in mural.sources.osc; with
    `key`, every message carries it as its first argument."""

    def __init__(self, host: str, port: int, key: str | None = None) -> None:
        from pythonosc.udp_client import UDPClient

        self.key = key
        self.client = UDPClient(host, port, timeout=SEND_TIMEOUT)  # blocking: waits, never drops

    def send(self, event: Event) -> None:
        from mural.sources.osc import event_to_osc, pack

        self.client.send(pack(event_to_osc(event, key=self.key)))

    def close(self) -> None:
        self.client.close()


class WebSocketTarget:
    """One WebSocket connection to a `ws://` source; one JSON text message per event. With
    `key`, the handshake presents it as `Authorization: Bearer KEY`."""

    def __init__(self, uri: str, key: str | None = None) -> None:
        from websockets.sync.client import connect

        headers = {"Authorization": f"Bearer {key}"} if key is not None else None
        self._stack = ExitStack()  # connect() is meant to be used as a context manager
        try:
            self.connection = self._stack.enter_context(
                connect(uri, open_timeout=SEND_TIMEOUT, proxy=None, additional_headers=headers)
            )
        except TypeError:  # websockets < 15 has no proxy support to turn off
            self.connection = self._stack.enter_context(
                connect(uri, open_timeout=SEND_TIMEOUT, additional_headers=headers)
            )

    def send(self, event: Event) -> None:
        self.connection.send(json.dumps(wire_dict(event), separators=(",", ":")))

    def close(self) -> None:
        self._stack.close()


class StdoutTarget:
    """`-`: JSON lines on stdout, for piping into `mural record -` or another program."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, event: Event) -> None:
        out = self.stream or sys.stdout
        out.write(json.dumps(wire_dict(event), separators=(",", ":"), ensure_ascii=False) + "\n")
        out.flush()

    def close(self) -> None:
        pass


def target_key(uri: str, scheme: str) -> str | None:
    """The `key=` of a TARGET (None without one); SendError for an option no listener of
    that scheme takes."""
    if scheme == "osc":
        from mural.sources.osc import OPTIONS
    else:
        from mural.sources.websocket import OPTIONS
    try:
        options = parse_options(uri, scheme, OPTIONS)
        return check_key(options["key"]) if "key" in options else None
    except SourceError as exc:
        raise SendError(f"target {uri!r}: {exc}") from None


def open_target(uri: str) -> Target:
    """`osc://HOST:PORT[?key=SECRET]`, `ws://HOST:PORT[?key=SECRET]` (host defaults to
    127.0.0.1) or `-`."""
    if uri == "-":
        return StdoutTarget()
    scheme = uri.partition("://")[0]
    if scheme not in ("osc", "ws"):
        raise SendError(f"unknown target {uri!r} (expected osc://HOST:PORT, "
                                   f"ws://HOST:PORT or -)")
    try:
        host, port = parse_listen_uri(uri, scheme)
    except ValueError as exc:
        raise SendError(str(exc)) from None
    key = target_key(uri, scheme)
    address = format_address(scheme, host, port)
    try:
        if scheme == "osc":
            return OscTarget(host, port, key)
        return WebSocketTarget(address, key)
    except Exception as exc:  # refused, unknown host, failed handshake, timeout
        raise SendError(f"cannot connect to {address}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """Why a connection failed, in words (an HTTP status says what the listener refused)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status is None:
        return str(exc)
    hint = {401: "the listener wants a key: add ?key=SECRET",
            403: "refused: wrong key, or an Origin or address not allowed",
            503: "the listener has as many connections as it takes (max_connections)"}
    return f"HTTP {status}" + (f" ({hint[status]})" if status in hint else "")


def replay(target: Target, events: Sequence[Event], speed: float = 1.0, *,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> int:
    """Send events paced by their times (the first at once) at `speed`; returns how many were
    sent before the end or a Ctrl-C."""
    if not events:
        return 0
    origin = events[0].t
    start = clock()
    sent = 0
    try:
        for event in events:
            delay = start + (event.t - origin) / speed - clock()
            if delay > 0:
                sleep(delay)
            target.send(event)
            sent += 1
    except KeyboardInterrupt:
        pass
    return sent


def send_events(uri: str, events: Sequence[Event], *,
                speed: float | None = None) -> tuple[int, int]:
    """Open TARGET, send one event or replay a recording at `speed`, close: (sent, total).

    A dropped connection or an unreachable network is a SendError naming the target.
    """
    out = open_target(uri)
    try:
        sent = replay(out, events, speed) if speed is not None else _send_all(out, events)
    except SendError:
        raise
    except Exception as exc:  # connection dropped, network unreachable ...
        raise SendError(f"sending to {uri} failed: {exc}") from None
    finally:
        out.close()
    return sent, len(events)


def _send_all(target: Target, events: Sequence[Event]) -> int:
    for event in events:
        target.send(event)
    return len(events)


__all__ = ["OscTarget", "SendError", "StdoutTarget", "Target", "WebSocketTarget", "open_target",
           "replay", "send_events", "target_key", "wire_dict"]
