"""Event sources: recordings, simulated scenarios and live inputs, all behind one SOURCE syntax.

SOURCE is `path.jsonl` / `path.csv` (replay), `sim:NAME` (a simulated scenario), `-` (JSON lines
on stdin), `osc://HOST:PORT` or `ws://HOST:PORT` (live listeners).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable

from mural.sources.base import EventSource, SourceStats

Clock = Callable[[], float]

# scheme -> "module:factory"; every factory is factory(uri, *, strict, clock) -> EventSource
SCHEMES: dict[str, str] = {
    "sim": "mural.sources.simulate:open_simulation",
    "file": "mural.sources.replay:open_replay",
    "osc": "mural.sources.osc:open_osc",
    "ws": "mural.sources.websocket:open_websocket",
    "stdin": "mural.sources.stdin:open_stdin",
}


class SourceError(Exception):
    """A SOURCE that cannot be opened (missing file, unknown scenario, port in use ...)."""


def scheme_of(uri: str) -> str:
    """Which kind of source a SOURCE string names."""
    if uri == "-":
        return "stdin"
    head, sep, _ = uri.partition(":")
    if sep and head in SCHEMES and (head == "sim" or uri.startswith(f"{head}://")):
        return head
    return "file"


def is_live(uri: str) -> bool:
    """Live sources stamp events with the receiving clock; they cannot be fast-forwarded."""
    return scheme_of(uri) not in ("file", "sim")


def monotonic_clock() -> Clock:
    """A session clock: seconds since it was made."""
    start = time.monotonic()
    return lambda: time.monotonic() - start


def open_source(uri: str, *, strict: bool = False, clock: Clock | None = None) -> EventSource:
    """Open any SOURCE string as an EventSource."""
    scheme = scheme_of(uri)
    target = SCHEMES.get(scheme)
    if target is None:
        raise SourceError(f"unknown source {uri!r}")
    module_name, factory_name = target.split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    return factory(uri, strict=strict, clock=clock or monotonic_clock())


__all__ = [
    "SCHEMES",
    "Clock",
    "EventSource",
    "SourceError",
    "SourceStats",
    "is_live",
    "monotonic_clock",
    "open_source",
    "scheme_of",
]
