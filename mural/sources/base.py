"""The source contract and the SOURCE syntax: what every way of receiving events shares.

SOURCE is `path.jsonl` / `path.csv` (replay), `sim:NAME` (a simulated scenario), `-` (JSON lines
on stdin), or a live listener `SCHEME://HOST:PORT[?...]` (osc://, ws://, ...). Every factory is
`factory(uri, *, strict, clock) -> EventSource`, registered by scheme in `SCHEMES`; the package's
`open_source` imports a module only when its scheme is opened, so `mural still` never loads a
network library. Source modules import from here, never from the package.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mural.events import Event
from mural.events.errors import MuralError

Clock = Callable[[], float]


class SourceError(MuralError):
    """A SOURCE that cannot be opened (missing file, unknown scenario, port in use ...)."""


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


@dataclass(frozen=True)
class Scheme:
    """One kind of SOURCE: where its factory lives, and whether it listens live."""

    factory: str  # "module:function"
    live: bool
    network: bool = False  # a listener that can fail mid-show and be reopened with backoff


SCHEMES: dict[str, Scheme] = {
    "sim": Scheme("mural.sources.simulate:open_simulation", live=False),
    "file": Scheme("mural.sources.replay:open_replay", live=False),
    "stdin": Scheme("mural.sources.stdin:open_stdin", live=True),
    "osc": Scheme("mural.sources.osc:open_osc", live=True, network=True),
    "ws": Scheme("mural.sources.websocket:open_websocket", live=True, network=True),
    "web": Scheme("mural.sources.web:open_web", live=True, network=True),
    "brainflow": Scheme("mural.sources.brainflow_source:open_brainflow", live=True, network=True),
}


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
    return SCHEMES[scheme_of(uri)].live


def monotonic_clock() -> Clock:
    """A session clock: seconds since it was made."""
    start = time.monotonic()
    return lambda: time.monotonic() - start
