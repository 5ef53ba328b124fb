"""The sources of a show: recordings polled with the playhead, live inputs with the session clock.

Recordings and scenarios ("replays") are polled with the playhead (`--speed` scales them, a
seek moves them, `--loop` restarts them); live sources (osc://, ws://, -) stamp events with the
session clock, are polled with it, and their events land on the mural at once.

Timestamping (what `poll` returns is on the mural's timeline):
* a live event is stamped with the *floor*: the earliest time a new event may carry, i.e. the
  mural's current time or the last event pushed, whichever is later, so the mural's event list
  stays in order;
* a replayed event keeps its recording time, unless the mural skipped ahead: then it moves
  behind the playhead by `skipped`, never before the floor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from mural.events import Event
from mural.sources import SCHEMES, EventSource, SourceStats, open_source, scheme_of
from mural.sources.replay import MergedSource
from mural.sources.resilient import ResilientSource

Opener = Callable[..., EventSource]


class SourceSet:
    """Every source a show plays, by the SOURCE string it was added with.

    `clock` is the session clock live sources stamp with. Strings are opened with `opener`
    (`mural.sources.open_source`); live network listeners are made resilient (reopened with
    backoff when they fail mid-show).
    """

    def __init__(
        self,
        sources: Iterable[str | EventSource] = (),
        *,
        clock: Callable[[], float],
        strict: bool = False,
        opener: Opener = open_source,
    ) -> None:
        self.clock = clock
        self.strict = strict
        self._opener = opener
        self.sources: list[EventSource] = []
        self.by_uri: dict[str, EventSource] = {}
        self._retired = SourceStats()  # what removed sources let through
        self.replay: MergedSource | None = None
        self.live: MergedSource | None = None
        try:
            for item in sources:
                self.add(item)
        except BaseException:
            self.close()
            raise

    # -- membership ---------------------------------------------------------------------

    def add(self, item: str | EventSource, *, at: float = 0.0, retry: bool = False
            ) -> EventSource:
        """Open (a SOURCE string) or take (an open EventSource) a source and play it.

        A replay added mid-show is positioned at recording time `at`. With `retry`, a network
        listener that cannot open now (port in use ...) is not an error: it is retried with
        backoff like any live source that failed, and its events arrive once it is open.
        Anything else that cannot be opened raises (SourceError, OSError ...).
        """
        if isinstance(item, str):
            source = self._open(item, retry)
            key = item
        else:
            source = item
            key = getattr(source, "name", "?")
        if not source.live and at > 0:
            seek = getattr(source, "seek", None)
            if seek is not None:
                seek(at)
        self.sources.append(source)
        self.by_uri.setdefault(key, source)
        self._regroup()
        return source

    def _open(self, uri: str, retry: bool) -> EventSource:
        try:
            return self._opener(uri, strict=self.strict, clock=self.clock, resilient=True)
        except Exception as exc:
            if not (retry and SCHEMES[scheme_of(uri)].network):
                raise
            # ResilientSource logs the failure and every retry
            def again() -> EventSource:
                return self._opener(uri, strict=self.strict, clock=self.clock)

            return ResilientSource(again, name=uri, clock=self.clock, failure=str(exc))

    def remove(self, uri: str) -> EventSource | None:
        """Stop playing the source added as `uri` (or so named) and close it; None if none."""
        source = self.by_uri.pop(uri, None)
        if source is None:
            source = next((s for s in self.sources if getattr(s, "name", None) == uri), None)
            if source is None:
                return None
            for key in [k for k, v in self.by_uri.items() if v is source]:
                del self.by_uri[key]
        if source in self.sources:
            self.sources.remove(source)
        self._regroup()
        try:
            source.close()
        finally:
            self._retired = self._retired.merge(source.stats)
        return source

    def _regroup(self) -> None:
        replays = [s for s in self.sources if not s.live]
        lives = [s for s in self.sources if s.live]
        self.replay = MergedSource(replays) if replays else None
        self.live = MergedSource(lives) if lives else None

    # -- playing ------------------------------------------------------------------------

    def poll(self, now: float, position: float, *, floor: float, skipped: float = 0.0
             ) -> list[Event]:
        """What arrived by session time `now` (live) and playhead `position` (replays), on
        the mural's timeline: live events at `floor`, then replayed ones (shifted back by
        `skipped` when the mural skipped ahead, never before `floor`)."""
        out: list[Event] = []
        if self.live is not None:
            out += [replace(e, t=floor) for e in self.live.poll(now)]
        if self.replay is not None:
            batch = self.replay.poll(position)
            if batch and skipped:
                batch = [shifted(e, skipped, floor) for e in batch]
            out += batch
        return out

    def seek(self, t: float) -> None:
        """Position the replays at recording time `t` (live sources cannot seek)."""
        if self.replay is not None:
            self.replay.seek(t)

    def rewind(self, t: float) -> list[Event]:
        """The replays' events from their start up to `t` (recording times), leaving them
        positioned there: what a mural rebuilt at `t` holds (a seek back, a loop)."""
        if self.replay is None:
            return []
        self.replay.seek(0.0)
        return self.replay.poll(t)

    # -- state --------------------------------------------------------------------------

    @property
    def has_replay(self) -> bool:
        return self.replay is not None

    @property
    def replay_finished(self) -> bool:
        return self.replay is not None and self.replay.finished

    @property
    def finished(self) -> bool:
        """Every source has finished (never with no sources: manual play goes on)."""
        return bool(self.sources) and all(source.finished for source in self.sources)

    @property
    def replay_end(self) -> float:
        """The end of the longest recording (infinite when a replay has no known end)."""
        replays = self.replay.sources if self.replay is not None else []
        return max((stream_end(s) for s in replays), default=math.inf)

    @property
    def names(self) -> list[str]:
        return [getattr(s, "name", "?") for s in self.sources]

    @property
    def name(self) -> str:
        return " + ".join(self.names) or "manual"

    @property
    def stats(self) -> SourceStats:
        total = self._retired
        for source in self.sources:
            total = total.merge(source.stats)
        return total

    def close(self) -> None:
        """Close every source (listeners release their ports); closing twice is harmless."""
        errors: list[BaseException] = []
        for source in self.sources:
            try:
                source.close()
            except Exception as exc:  # close the others anyway
                errors.append(exc)
        if errors:
            raise errors[0]

    def __len__(self) -> int:
        return len(self.sources)

    def __iter__(self) -> Iterator[EventSource]:
        return iter(self.sources)


def stream_end(source: EventSource) -> float:
    """The duration of a recording, infinite for sources without a stream."""
    stream = getattr(source, "stream", None)
    return stream.duration if stream is not None else math.inf


def shifted(event: Event, skipped: float, floor: float) -> Event:
    """A recorded event moved onto the mural's timeline (behind the playhead by `skipped`)."""
    return replace(event, t=max(floor, event.t - skipped))


__all__ = ["SourceSet", "shifted", "stream_end"]
