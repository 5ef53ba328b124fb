"""Values written in show files and on the command line: sizes, times and spans."""

from __future__ import annotations

import re
from typing import Any

MAX_SIDE = 16384


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080); raises ValueError with a readable message."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"size must look like WIDTHxHEIGHT (e.g. 1920x1080), got {text!r}")
    width, height = int(match[1]), int(match[2])
    if not (8 <= width <= MAX_SIDE and 8 <= height <= MAX_SIDE):
        raise ValueError(f"size {width}x{height} is outside 8..{MAX_SIDE} on a side")
    return width, height


def parse_time(text: str | float) -> float:
    """Seconds from '75', '75.5', '1:15' or '1:02:03'; raises ValueError when unreadable."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        parts = str(text).strip().split(":")
        if not 1 <= len(parts) <= 3 or any(p.strip() == "" for p in parts):
            raise ValueError(f"time must be seconds or m:ss, got {text!r}")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"time must be seconds or m:ss, got {text!r}") from None
        value = 0.0
        for number in numbers:
            value = value * 60.0 + number
    if not (value >= 0.0 and value < 1e7):  # also rejects NaN
        raise ValueError(f"time must be a number of seconds >= 0, got {text!r}")
    return value

def parse_range(text: Any) -> tuple[float, float | None]:
    """An exposure span: "session", "START..END", "START-END", "A:B" in seconds, or [A, B].

    END may be left out ("60..") for the end of the session. Times are seconds or m:ss.
    """
    if isinstance(text, list):
        if len(text) != 2:
            raise ValueError(f"a span needs [START, END], got {text!r}")
        start, end = parse_time(text[0]), parse_time(text[1])
    elif not isinstance(text, str):
        raise ValueError(f"expected \"session\" or \"START..END\", got {text!r}")
    elif text.strip().lower() in ("session", "all"):
        return 0.0, None
    else:
        s = text.strip()
        for sep in ("..", "-"):
            if sep in s:
                a, _, b = s.partition(sep)
                break
        else:
            if s.count(":") != 1:
                raise ValueError(f"a span looks like \"1:05..3:00\" or \"65:180\", got {text!r}")
            a, _, b = s.partition(":")
        start = parse_time(a) if a.strip() else 0.0
        end = parse_time(b) if b.strip() else None
    if end is not None and not end > start:
        raise ValueError(f"a span must end after it starts, got {text!r}")
    return start, end


