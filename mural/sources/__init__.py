"""Event sources: recordings, simulated scenarios and live inputs, all behind one SOURCE syntax."""

from __future__ import annotations

import importlib

from mural.sources.base import (
    KEYED_SCHEMES,
    SCHEMES,
    Clock,
    EventSource,
    Scheme,
    SourceError,
    SourceStats,
    is_live,
    monotonic_clock,
    scheme_for,
    scheme_of,
    with_key,
    with_live_options,
    with_query,
)


def open_source(
    uri: str, *, strict: bool = False, clock: Clock | None = None, resilient: bool = False
) -> EventSource:
    """Open any SOURCE string as an EventSource.

    An unknown `NAME://` scheme, or a query parameter a listener does not take, is a
    SourceError saying what was not understood and what is accepted. With `resilient`, a
    network listener that fails later is reopened with backoff instead of ending the show;
    failing to open at all is still an error here. Bad input never counts as failing: live
    sources count it (strict or not), they do not raise it.
    """
    scheme = scheme_for(uri)
    module_name, factory_name = scheme.factory.split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    clock = clock or monotonic_clock()
    source = factory(uri, strict=strict, clock=clock)
    if resilient and scheme.network:
        from mural.sources.resilient import ResilientSource

        # reopen on the port actually bound (an ephemeral :0 must come back where it was)
        port = getattr(source, "port", None)
        again = uri if port is None else _with_port(uri, port)
        source = ResilientSource(lambda: factory(again, strict=strict, clock=clock),
                                 name=source.name, clock=clock, first=source)
    return source


def _with_port(uri: str, port: int) -> str:
    head, _, rest = uri.partition("://")
    hostport, query_sep, query = rest.partition("?")
    host = hostport.rsplit(":", 1)[0]
    return f"{head}://{host}:{port}" + (f"?{query}" if query_sep else "")


__all__ = [
    "KEYED_SCHEMES",
    "SCHEMES",
    "Clock",
    "EventSource",
    "Scheme",
    "SourceError",
    "SourceStats",
    "is_live",
    "monotonic_clock",
    "open_source",
    "scheme_for",
    "scheme_of",
    "with_key",
    "with_live_options",
    "with_query",
]
