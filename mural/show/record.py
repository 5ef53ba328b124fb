"""Recording live sources to a stream file that replays the show: `mural record`'s loop."""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from mural._version import __version__
from mural.events.errors import MuralError
from mural.events.formats import JSONL_SUFFIXES
from mural.sinks.recorder import StreamRecorder
from mural.sources import Clock, EventSource, SourceStats, monotonic_clock, open_source
from mural.sources.replay import MergedSource

POLL_INTERVAL = 0.01  # seconds between polls: small enough that queues never fill


class RecordError(MuralError):
    """A recording that cannot start: wrong file type, or the file exists."""


@dataclass(frozen=True)
class RecordResult:
    """What a recording kept, and why it ended."""

    path: Path
    events: int
    seconds: float
    reason: str
    stats: SourceStats

    def summary(self) -> str:
        s = self.stats
        return (f"recorded {self.events} events to {self.path} in {self.seconds:.1f} s "
                f"({self.reason}): accepted {s.accepted}, rejected {s.rejected} (invalid), "
                f"malformed {s.malformed} (unparseable), dropped {s.dropped}"
                + (f", refused {s.refused} (key, allow-list, origin or cap)" if s.refused else ""))


class StopSignals:
    """Turns SIGINT/SIGTERM/SIGHUP into a flag the loop checks, so the file always closes
    cleanly (signals are only caught on the main thread; elsewhere `signal` stays None)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.signal = number


def describe(source: EventSource) -> str:
    """One line saying where a source listens or what it replays."""
    address = getattr(source, "address", None)
    if address == "stdin":
        return "reading JSON lines from stdin"
    if address:
        return f"listening on {address}"
    return f"replaying {source.name}"


def open_all(uris: Sequence[str | EventSource], clock: Clock) -> list[EventSource]:
    """Open every SOURCE (or take an open EventSource as is); if one fails, the ones already
    open are closed (ports released)."""
    opened: list[EventSource] = []
    try:
        for uri in uris:
            opened.append(open_source(uri, clock=clock) if isinstance(uri, str) else uri)
    except BaseException:
        for source in opened:
            source.close()
        raise
    return opened


def record(
    uris: Sequence[str | EventSource],
    output: str | Path,
    *,
    duration: float | None = None,
    force: bool = False,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = lambda line: None,
    stop: StopSignals | None = None,
) -> RecordResult:
    """Record SOURCEs merged in time order until `duration`, a stop signal, or their end.

    Events keep the time they arrived on `clock` (seconds since recording started). `stop`
    is checked between polls (default: SIGINT/SIGTERM/SIGHUP on the main thread).
    """
    path = Path(output)
    if path.suffix.lower() not in JSONL_SUFFIXES:
        raise RecordError(f"{output}: recordings are JSON lines; name it .jsonl")
    if path.exists() and not force:
        raise RecordError(f"{output} already exists (use --force to overwrite)")
    clock = clock or monotonic_clock()
    merged = MergedSource(open_all(uris, clock))
    try:
        for source in merged.sources:
            say(describe(source))
        header = {
            "recorder": f"mural record {__version__}",
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sources": [source.name for source in merged.sources],
            "clock": "seconds since the recording started",
        }
        recorder = StreamRecorder(path, header=header, force=force, clock=clock)
        say(f"recording to {output}" + (f" for {duration:g} s" if duration else "")
            + " (Ctrl-C to stop)")
        reason = "stopped"
        with stop or StopSignals() as flag, recorder:
            while True:
                now = clock()
                if duration is not None and now >= duration:
                    recorder.write_many(merged.poll(duration))
                    reason = f"{duration:g} s elapsed"
                    break
                recorder.write_many(merged.poll(now))
                if flag.signal is not None:
                    recorder.write_many(merged.poll(clock()))
                    reason = signal.Signals(flag.signal).name
                    break
                if merged.finished:
                    reason = "input ended"
                    break
                sleep(POLL_INTERVAL)
    finally:
        merged.close()
    seconds = min(clock(), duration) if duration is not None else clock()
    return RecordResult(path, recorder.count, seconds, reason, merged.stats)


__all__ = ["RecordError", "RecordResult", "StopSignals", "describe", "open_all", "record"]
