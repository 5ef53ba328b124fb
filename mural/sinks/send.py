"""Sending events to a live mural: OSC datagrams, WebSocket messages, or JSON lines."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any, Protocol, TextIO

from mural.events import Event
from mural.events.errors import MuralError
from mural.sources.live import format_address, parse_listen_uri

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

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, event: Event) -> None:
        out = self.stream or sys.stdout
        out.write(json.dumps(wire_dict(event), separators=(",", ":"), ensure_ascii=False) + "\n")
        out.flush()

    def close(self) -> None:
        pass


def open_target(uri: str) -> Target:
    """`osc://HOST:PORT`, `ws://HOST:PORT` (host defaults to 127.0.0.1) or `-`."""
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
    address = format_address(scheme, host, port)
    try:
        if scheme == "osc":
            return OscTarget(host, port)
        return WebSocketTarget(address)
    except Exception as exc:  # refused, unknown host, failed handshake, timeout
        raise SendError(f"cannot connect to {address}: {exc}") from None


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
           "replay", "send_events", "wire_dict"]
