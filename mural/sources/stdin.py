"""`-`: JSON lines on stdin, read on a background thread; end of input finishes the source.

One object per line in the stream-file schema. Like every live source, events are stamped with
the session clock as each line arrives (a `t` on the line is ignored), so `tail -f log | mural
...` and a program printing events both work. A piped recording's header line is skipped; blank
lines are ignored; lines longer than 1 MiB, or not UTF-8, count as malformed. Like the other
live sources, bad lines are counted and warned about (at most about once a second), strict or
not; they never end the input.

The real stdin is read from its file descriptor with `os.read`, after `select`/`poll` says
there is something to read, and `close()` wakes the reader through a pipe of its own and joins
it. The reader never blocks inside `sys.stdin`'s buffered reader, so the interpreter can exit
while stdin is still open (a daemon thread blocked there makes CPython abort at exit with
"Fatal Python error: _enter_buffered_busy"). Streams handed in by tests (`io.BytesIO`,
`io.StringIO`) are read with `readline`, since they never block.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import sys
import threading
from typing import IO

from mural.sources.live import QUEUE_CAP, QUEUE_SOFT, Clock, LiveSource

log = logging.getLogger(__name__)

MAX_LINE = 1024 * 1024
CHUNK = 64 * 1024  # bytes per os.read


def _selector() -> selectors.BaseSelector:
    # poll() takes pipes, ttys and regular files (epoll refuses regular files) and has no
    # FD_SETSIZE limit; select() is the fallback where there is no poll().
    if hasattr(selectors, "PollSelector"):
        return selectors.PollSelector()
    return selectors.SelectSelector()


class StdinSource(LiveSource):
    """Reads JSON lines until the input ends: from a file descriptor (an int: the real stdin,
    a pipe), or from a binary or text stream."""

    def __init__(
        self,
        stream: IO[bytes] | IO[str] | int,
        *,
        strict: bool = False,
        clock: Clock,
        name: str = "stdin",
        cap: int = QUEUE_CAP,
        soft: int = QUEUE_SOFT,
    ) -> None:
        super().__init__(name, strict=strict, clock=clock, logger=log, cap=cap, soft=soft)
        self.address = name
        self.line_number = 0
        self._stream = stream
        self._eof = threading.Event()
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        if isinstance(stream, int):
            self._wake_r, self._wake_w = os.pipe()
            target = self._run_fd
        else:
            target = self._run_stream
        self._thread = threading.Thread(target=target, name=f"mural {name}", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        """True once the input has ended and every event it carried has been polled."""
        return (self._eof.is_set() or self._closed) and not len(self.queue)

    def close(self) -> None:
        """Stop taking lines: the reader of a file descriptor is woken and joined at once
        (the descriptor itself is left open: it is the caller's)."""
        already = self._closed
        super().close()
        if already or self._wake_w is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        self._thread.join(timeout=2.0)
        if not self._thread.is_alive():
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)  # type: ignore[arg-type]

    # -- reading a file descriptor -----------------------------------------------------------

    def _run_fd(self) -> None:
        fd = self._stream
        assert isinstance(fd, int) and self._wake_r is not None
        pending = b""
        skipping = False  # inside a line that is already too long
        try:
            with _selector() as selector:
                selector.register(fd, selectors.EVENT_READ)
                selector.register(self._wake_r, selectors.EVENT_READ)
                while not self._closed:
                    ready = {key.fd for key, _ in selector.select(timeout=1.0)}
                    if self._closed or self._wake_r in ready:
                        break
                    if fd not in ready:
                        continue
                    try:
                        chunk = os.read(fd, CHUNK)
                    except (BlockingIOError, InterruptedError):
                        continue
                    if not chunk:
                        break
                    pending, skipping = self._split(pending + chunk, skipping)
            if pending and not skipping and not self._closed:
                self.line_number += 1
                self._ingest_line(pending)  # the last line, without a newline
        except OSError as exc:  # a closed or broken descriptor ends the input
            if exc.errno != errno.EBADF or not self._closed:
                log.warning("%s: stopped reading: %s", self.name, exc)
        except Exception as exc:
            log.warning("%s: stopped reading: %s", self.name, exc)
        finally:
            self._eof.set()

    def _split(self, data: bytes, skipping: bool) -> tuple[bytes, bool]:
        """Take the complete lines out of `data`; returns what is left and whether it belongs
        to a line already counted as too long."""
        start = 0
        while not self._closed:
            end = data.find(b"\n", start)
            if end < 0:
                break
            line = data[start : end + 1]
            start = end + 1
            if skipping:
                skipping = False  # the end of the overlong line
                continue
            self.line_number += 1
            if len(line) > MAX_LINE:
                self.malformed(f"line {self.line_number} is longer than {MAX_LINE} bytes")
                continue
            self._ingest_line(line)
        rest = data[start:]
        if not skipping and len(rest) > MAX_LINE:
            self.line_number += 1
            self.malformed(f"line {self.line_number} is longer than {MAX_LINE} bytes")
            return b"", True
        return (b"" if skipping else rest), skipping

    # -- reading a stream (in-process callers and tests) -------------------------------------

    def _run_stream(self) -> None:
        stream = self._stream
        assert not isinstance(stream, int)
        try:
            while not self._closed:
                line = stream.readline(MAX_LINE + 1)
                if not line:
                    break
                self.line_number += 1
                if len(line) > MAX_LINE:
                    self._skip_rest(line)
                    self.malformed(f"line {self.line_number} is longer than {MAX_LINE} bytes")
                    continue
                self._ingest_line(line)
        except Exception as exc:  # a closed or broken pipe ends the input, it is not a crash
            log.warning("%s: stopped reading: %s", self.name, exc)
        finally:
            self._eof.set()

    def _skip_rest(self, line: bytes | str) -> None:
        stream = self._stream
        assert not isinstance(stream, int)
        newline = b"\n" if isinstance(line, bytes) else "\n"
        while line and not line.endswith(newline):  # type: ignore[arg-type]
            line = stream.readline(MAX_LINE)

    # -- one line ----------------------------------------------------------------------------

    def _ingest_line(self, line: bytes | str) -> None:
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                self.malformed(f"line {self.line_number} is not UTF-8")
                return
        if not line.strip():
            return
        try:
            self.ingest_json(line, where=f"line {self.line_number}")
        except Exception as exc:
            self.malformed(f"line {self.line_number}: {type(exc).__name__}: {exc}")


def _stdin_fd() -> int | None:
    stdin = sys.stdin
    if stdin is None:
        return None
    try:
        return stdin.fileno()
    except (OSError, ValueError, AttributeError):  # closed, or replaced by something fd-less
        return None


def open_stdin(
    uri: str = "-",
    *,
    strict: bool = False,
    clock: Clock,
    stream: IO[bytes] | IO[str] | int | None = None,
) -> StdinSource:
    """The `-` factory registered in mural.sources.SCHEMES (a stream or fd may be injected).

    The real stdin is read from its file descriptor (see the module docstring); a stdin
    without one (replaced by a test harness) is read as a stream."""
    if stream is None:
        fd = _stdin_fd()
        if fd is not None:
            stream = fd
        else:
            stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    return StdinSource(stream, strict=strict, clock=clock)


__all__ = ["StdinSource", "open_stdin"]
