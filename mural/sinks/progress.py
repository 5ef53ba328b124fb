"""Terminal progress bar for exports: percentage, frames, render fps and ETA on stderr."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

_MIN_REDRAW_S = 0.1  # redraw at most 10x a second: a bar must not slow the render down


def format_duration(seconds: float) -> str:
    """0:07, 12:34, 1:02:03 - compact enough for the end of a bar."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """A one-line progress bar redrawn in place with ``\\r``.

    It draws only when ``enabled`` (default: the stream is a TTY and not ``quiet``), so
    piped or logged runs stay clean. ``total=None`` shows a counter without a bar.
    ``stream``, ``clock`` and ``width`` are injectable so tests can fake a terminal.
    """

    def __init__(
        self,
        total: int | None,
        enabled: bool | None = None,
        quiet: bool = False,
        label: str = "",
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        self.total = total if total is None else max(0, int(total))
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled and not quiet
        self.clock = clock
        self.width = width
        self.done = 0
        self.start = clock()
        self._last_draw: float | None = None
        self._last_len = 0
        self._closed = False

    @property
    def rate(self) -> float:
        """Frames per second since the start (0 before the first frame)."""
        elapsed = self.clock() - self.start
        return self.done / elapsed if elapsed > 0 and self.done else 0.0

    def eta(self) -> float | None:
        """Seconds left at the average rate so far, or None when unknown."""
        if self.total is None or not self.done:
            return None
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None

    def update(self, n: int = 1) -> None:
        """Count n more frames; redraws if enough time passed or the total is reached."""
        self.done += n
        if not self.enabled:
            return
        now = self.clock()
        finished = self.total is not None and self.done >= self.total
        if finished or self._last_draw is None or now - self._last_draw >= _MIN_REDRAW_S:
            self._draw(now)

    def render_line(self) -> str:
        """The current bar as text (without ``\\r``), fitted to the terminal width."""
        columns = self.width or shutil.get_terminal_size((80, 24)).columns
        head = f"{self.label} " if self.label else ""
        rate = f"{self.rate:.1f} fps"
        if self.total is None:
            return f"{head}{self.done} frames  {rate}"[: columns - 1]
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        eta = self.eta()
        eta_text = "ETA --:--" if eta is None else f"ETA {format_duration(eta)}"
        if self.total and self.done >= self.total:
            eta_text = f"in {format_duration(self.clock() - self.start)}"
        tail = f" {fraction:4.0%} {self.done}/{self.total}  {rate}  {eta_text}"
        bar_width = columns - 1 - len(head) - len(tail) - 2
        if bar_width < 5:
            return (head + tail.lstrip())[: columns - 1]
        filled = int(round(bar_width * fraction))
        return f"{head}[{'#' * filled}{'-' * (bar_width - filled)}]{tail}"

    def _draw(self, now: float) -> None:
        line = self.render_line()
        pad = " " * max(0, self._last_len - len(line))  # wipe leftovers of a longer line
        self.stream.write("\r" + line + pad)
        self.stream.flush()
        self._last_len = len(line)
        self._last_draw = now

    def close(self) -> None:
        """Draw the final state and end the line, so the next output starts clean."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._draw(self.clock())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()
