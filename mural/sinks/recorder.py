"""Crash-safe recording of a live event stream to a JSONL stream file, one line per event.

Every event goes to the operating system as one complete line in a single unbuffered write, so a
recorder killed outright (SIGKILL, power cut aside) leaves at most a partial last line, which
`read_stream` tolerates; the file is fsynced at least every `fsync_interval` seconds while events
arrive (and `sync_if_due` can be called between events) and on close. Events keep the receive
times the live sources stamped, so replaying a recording gives the same stream back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from mural.events.errors import MuralError
from mural.events.model import Event, Header


class RecorderError(MuralError):
    """The recording file cannot be created or written (exists, no space, no permission)."""


def event_line(event: Event) -> bytes:
    """One event as its JSONL line (floats via repr, so they round-trip exactly)."""
    text = json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8") + b"\n"


class StreamRecorder:
    """Appends events to a new stream file; refuses to overwrite one unless `force`."""

    def __init__(
        self,
        path: str | Path,
        *,
        header: Mapping[str, Any] | None = None,
        fsync_interval: float = 1.0,
        force: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.clock = clock  # when the last fsync was, for the cadence (injected in tests)
        self.fsync_interval = fsync_interval
        self.count = 0  # events written
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
        try:
            self._fd: int | None = os.open(self.path, flags | getattr(os, "O_BINARY", 0), 0o644)
        except FileExistsError:
            raise RecorderError(f"{self.path} already exists (use --force to overwrite)") from None
        except OSError as exc:
            raise RecorderError(f"cannot create {self.path}: {exc.strerror or exc}") from None
        self._dirty = False
        self._last_sync = self.clock()
        if header is not None:
            meta = {k: v for k, v in header.items() if k != "type"}
            line = json.dumps(
                Header(meta=meta).to_dict(), separators=(",", ":"), ensure_ascii=True, default=str
            )
            self._write(line.encode("ascii") + b"\n")
            self.sync()

    def __enter__(self) -> StreamRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._fd is None

    def write(self, event: Event) -> None:
        """Write one event as one complete line, straight to the OS."""
        self._write(event_line(event))
        self.count += 1
        self.sync_if_due()

    def write_many(self, events: Iterable[Event]) -> None:
        """Write a batch of events in one system call (each still a complete line)."""
        lines = [event_line(event) for event in events]
        if lines:
            self._write(b"".join(lines))
            self.count += len(lines)
        self.sync_if_due()

    def sync_if_due(self) -> None:
        """fsync if something was written and the interval has passed; cheap to call often."""
        if self._dirty and self.clock() - self._last_sync >= self.fsync_interval:
            self.sync()

    def sync(self) -> None:
        """Force what was written onto the disk."""
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise RecorderError(f"cannot sync {self.path}: {exc.strerror or exc}") from None
        self._dirty = False
        self._last_sync = self.clock()

    def close(self) -> None:
        """fsync and close; safe to call twice."""
        if self._fd is None:
            return
        try:
            self.sync()
        finally:
            os.close(self._fd)
            self._fd = None

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise RecorderError(f"{self.path} is closed")
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            raise RecorderError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._dirty = True


__all__ = ["RecorderError", "StreamRecorder", "event_line"]
