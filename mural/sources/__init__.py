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


def open_source(
    uri: str, *, strict: bool = False, clock: Clock | None = None, resilient: bool = False
) -> EventSource:
    """Open any SOURCE string as an EventSource.

    With `resilient`, a network listener (osc://, ws://) that fails later is reopened with
    backoff instead of ending the show; failing to open at all is still an error here.
    """
    scheme = scheme_of(uri)
    target = SCHEMES.get(scheme)
    if target is None:
        raise SourceError(f"unknown source {uri!r}")
    module_name, factory_name = target.split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    clock = clock or monotonic_clock()
    source = factory(uri, strict=strict, clock=clock)
    if resilient and scheme in ("osc", "ws"):
        from mural.sources.resilient import ResilientSource

        # reopen on the port actually bound (an ephemeral :0 must come back where it was)
        port = getattr(source, "port", None)
        again = uri if port is None else _with_port(uri, port)
        source = ResilientSource(lambda: factory(again, strict=strict, clock=clock),
                                 name=source.name, clock=clock, first=source)
    return source


def _with_port(uri: str, port: int) -> str:
    head, _, rest = uri.partition("://")
    host = rest.rsplit(":", 1)[0]
    return f"{head}://{host}:{port}"


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
