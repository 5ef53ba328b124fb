"""The one cursor that feeds an engine its events: sorted by time, applied step by step.

Every frame path (the wall, the long exposure, the fairness probe) feeds its engine through a
Timeline, so an event lands on the same simulation step whichever path plays it: an event at
time t is applied just before the step during which it happens (the step from k/hz to
(k+1)/hz takes the events with t < (k+1)/hz that it has not taken yet).

Pure bookkeeping: no clock, no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, overload

from mural.events import Event

if TYPE_CHECKING:
    from mural.engine.engine import Engine


def step_end(engine: Engine) -> float:
    """The time at which the step the engine takes next ends: (step_index + 1) / sim_hz."""
    return (engine.step_index + 1) / engine.config.sim_hz


class EventsView(Sequence[Event]):
    """A read-only view of a timeline's events, in time order (it follows later changes)."""

    __slots__ = ("_events",)

    def __init__(self, events: list[Event]) -> None:
        self._events = events

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index):
        item = self._events[index]
        return list(item) if isinstance(index, slice) else item

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventsView):
            return self._events == other._events
        if isinstance(other, list | tuple):
            return self._events == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # it changes with its timeline

    def __repr__(self) -> str:
        return f"EventsView({self._events!r})"


class Timeline:
    """Events sorted by time (stable: events at equal times keep their order), and a cursor:
    the first event not yet applied.

    Before each engine step call `apply_due(engine)` (or let `step(engine)` do both). `push`
    adds live input: an event lands at the first step not yet simulated, after anything
    already applied, so the past is never rewritten.
    """

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self._events: list[Event] = sorted(events, key=attrgetter("t"))
        self._times: list[float] = [e.t for e in self._events]
        self._next = 0

    # -- reading ------------------------------------------------------------------------------
    @property
    def events(self) -> EventsView:
        """All events held (applied or not), in time order, read-only."""
        return EventsView(self._events)

    @property
    def times(self) -> Sequence[float]:
        """The events' times, in order (read-only use)."""
        return self._times

    @property
    def position(self) -> int:
        """How many of the held events have been applied (the index of the next one)."""
        return self._next

    @property
    def duration(self) -> float:
        """The time of the last event held (0 without events)."""
        return self._times[-1] if self._times else 0.0

    def __len__(self) -> int:
        return len(self._events)

    # -- changing -----------------------------------------------------------------------------
    def push(self, events: Iterable[Event]) -> None:
        """Add events (live input); each lands at the first step not yet simulated.

        An event is placed after every event at the same time (and after everything already
        applied), so pushing keeps the order of arrival among equal times.
        """
        for event in events:
            index = bisect.bisect_right(self._times, event.t, lo=self._next)
            self._times.insert(index, event.t)
            self._events.insert(index, event)

    def apply_due(self, engine: Engine) -> int:
        """Apply to `engine` every event due before the end of its next step (t < end);
        call it just before `engine.step()`. Returns how many were applied."""
        end = step_end(engine)
        events, times = self._events, self._times
        first = n = self._next
        count = len(events)
        try:
            while n < count and times[n] < end:
                engine.apply(events[n])
                n += 1
        finally:  # if the engine refuses one, those applied before it stay counted
            self._next = n
        return n - first

    def step(self, engine: Engine) -> None:
        """Apply what is due, then step the engine once."""
        self.apply_due(engine)
        engine.step()

    def reset(self) -> None:
        """Back to the start: every held event counts as not applied (for a fresh engine)."""
        self._next = 0

    def seek_to(self, t: float) -> None:
        """Count the events before time t as applied and the rest as not: the position after
        resuming an engine saved at t. Use the boundary `apply_due` uses, step_index / sim_hz
        (the engine's `t`, step_index * dt, can differ from it in the last bit)."""
        self._next = bisect.bisect_left(self._times, t)

    def forget_applied(self) -> None:
        """Drop the events already applied (live or looping play runs for hours).

        After this, going back in time can only rebuild from the events still held.
        """
        del self._events[: self._next]
        del self._times[: self._next]
        self._next = 0


__all__ = ["EventsView", "Timeline", "step_end"]
