"""Event sources: recordings, simulated scenarios and live inputs, all behind one SOURCE syntax."""

from mural.sources.base import (
    SCHEMES,
    Clock,
    EventSource,
    Scheme,
    SourceError,
    SourceStats,
    is_live,
    monotonic_clock,
    open_source,
    scheme_of,
)

__all__ = [
    "SCHEMES",
    "Clock",
    "EventSource",
    "Scheme",
    "SourceError",
    "SourceStats",
    "is_live",
    "monotonic_clock",
    "open_source",
    "scheme_of",
]
