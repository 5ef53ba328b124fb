"""The source contract: anything that yields validated events in time order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mural.events import Event


@dataclass
class SourceStats:
    """What a source let through and what it turned away (shown in summaries and the HUD)."""

    accepted: int = 0
    rejected: int = 0  # parsed, but not a valid event (unknown emotion, out of range, NaN ...)
    malformed: int = 0  # could not be parsed at all (not JSON, not OSC ...)
    dropped: int = 0  # valid, but shed by flood control

    def merge(self, other: SourceStats) -> SourceStats:
        return SourceStats(
            self.accepted + other.accepted,
            self.rejected + other.rejected,
            self.malformed + other.malformed,
            self.dropped + other.dropped,
        )


@runtime_checkable
class EventSource(Protocol):
    """A stream of events on the session clock.

    `poll(now)` never blocks: it returns the events with `t <= now` not returned before, in time
    order. Live sources stamp `t` from the receiving clock (seconds since the session started);
    recordings and simulations already carry it. `finished` turns true when a finite source has
    nothing more to give.
    """

    name: str
    live: bool
    stats: SourceStats

    def poll(self, now: float) -> list[Event]: ...

    @property
    def finished(self) -> bool: ...

    def close(self) -> None: ...
