"""Replay sources: a recorded stream played back on the session clock, and a merge of sources."""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from operator import attrgetter
from pathlib import Path

from mural.events import Event, Stream, StreamError, read_stream
from mural.sources.base import Clock, EventSource, SourceError, SourceStats


class ReplayError(SourceError, StreamError):
    """A recording that cannot be replayed; catchable as either SourceError or StreamError."""


class ReplaySource:
    """Plays a Stream already in memory: `poll(now)` hands out events as the clock passes them.

    Recordings carry their own times, so this never looks at a clock; the caller's `now` is the
    playhead, which `seek` can move (a player's scrub bar).
    """

    live = False

    def __init__(self, stream: Stream, name: str | None = None) -> None:
        self.stream = stream
        self.name = name or stream.source or "replay"
        self.stats = SourceStats(accepted=len(stream.events), rejected=len(stream.problems))
        self._times = [e.t for e in stream.events]
        self._next = 0

    def poll(self, now: float) -> list[Event]:
        end = bisect_right(self._times, now, lo=self._next)
        out = self.stream.events[self._next : end]
        self._next = end
        return out

    def seek(self, t: float) -> None:
        """Reposition so the next poll starts with the events at or after `t`."""
        self._next = bisect_left(self._times, t)

    @property
    def position(self) -> float:
        """Time of the next event to hand out (the stream's duration once finished)."""
        if self._next < len(self._times):
            return self._times[self._next]
        return self.stream.duration

    @property
    def finished(self) -> bool:
        return self._next >= len(self._times)

    def close(self) -> None:
        """Nothing to release: the whole recording is in memory."""


def _path_of(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def open_replay(uri: str, *, strict: bool = False, clock: Clock | None = None) -> ReplaySource:
    """Open a `.jsonl`/`.csv` recording (or `file://path`) as a source; `clock` is unused."""
    del clock  # recordings carry their own times
    path = _path_of(uri)
    try:
        stream = read_stream(path, strict=strict)
    except StreamError as exc:
        raise ReplayError(str(exc), exc.problem) from None
    return ReplaySource(stream, name=Path(path).name)


class MergedSource:
    """Several sources as one time-ordered source (e.g. a recording plus a live input).

    Each poll merges what every source returned by `t`; ties keep the sources' order, so the
    merge is stable and deterministic.
    """

    def __init__(self, sources: Iterable[EventSource], name: str | None = None) -> None:
        self.sources = list(sources)
        if not self.sources:
            raise SourceError("nothing to merge: no sources given")
        self.name = name or " + ".join(s.name for s in self.sources)
        self.live = any(s.live for s in self.sources)

    @property
    def stats(self) -> SourceStats:
        total = SourceStats()
        for source in self.sources:
            total = total.merge(source.stats)
        return total

    def poll(self, now: float) -> list[Event]:
        batches = [batch for batch in (s.poll(now) for s in self.sources) if batch]
        if len(batches) <= 1:
            return batches[0] if batches else []
        return list(heapq.merge(*batches, key=attrgetter("t")))

    def seek(self, t: float) -> None:
        """Seek every source that can seek (live ones cannot, and are left alone)."""
        for source in self.sources:
            seek = getattr(source, "seek", None)
            if seek is not None:
                seek(t)

    @property
    def finished(self) -> bool:
        return all(s.finished for s in self.sources)

    def close(self) -> None:
        for source in self.sources:
            source.close()


__all__ = ["MergedSource", "ReplayError", "ReplaySource", "open_replay"]
