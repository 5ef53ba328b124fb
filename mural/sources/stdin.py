"""`-`: JSON lines on stdin, read on a background thread; end of input finishes the source.

One object per line in the stream-file schema. Like every live source, events are stamped with
the session clock as each line arrives (a `t` on the line is ignored), so `tail -f log | mural
...` and a program printing events both work. A piped recording's header line is skipped; blank
lines are ignored; lines longer than 1 MiB, or not UTF-8, count as malformed.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import IO

from mural.sources.live import QUEUE_CAP, QUEUE_SOFT, Clock, LiveSource

log = logging.getLogger(__name__)

MAX_LINE = 1024 * 1024


class StdinSource(LiveSource):
    """Reads JSON lines from a binary (or text) stream until it ends."""

    def __init__(
        self,
        stream: IO[bytes] | IO[str],
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
        self._thread = threading.Thread(target=self._run, name=f"mural {name}", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        """True once the input has ended and every event it carried has been polled."""
        return (self._eof.is_set() or self._closed) and not len(self.queue)

    def close(self) -> None:
        """Stop taking lines. A read already blocked on stdin cannot be interrupted portably;
        the thread is a daemon and ends with the process."""
        super().close()

    def _run(self) -> None:
        try:
            while not self._closed:
                line = self._stream.readline(MAX_LINE + 1)
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

    def _skip_rest(self, line: bytes | str) -> None:
        newline = b"\n" if isinstance(line, bytes) else "\n"
        while line and not line.endswith(newline):  # type: ignore[arg-type]
            line = self._stream.readline(MAX_LINE)


def open_stdin(
    uri: str = "-",
    *,
    strict: bool = False,
    clock: Clock,
    stream: IO[bytes] | IO[str] | None = None,
) -> StdinSource:
    """The `-` factory registered in mural.sources.SCHEMES (a stream may be injected)."""
    return StdinSource(
        stream if stream is not None else sys.stdin.buffer, strict=strict, clock=clock
    )


__all__ = ["StdinSource", "open_stdin"]
