"""What is in a stream: counts, participants, emotion mix over time, signal drops, markers.

The summary is a plain JSON-serialisable dict, so `mural inspect --json` and tests read the same
thing the human table is printed from.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from mural.events.formats import Stream
from mural.events.model import EmotionEvent, MarkerEvent, SignalEvent
from mural.events.vocabulary import nearest_emotion

DROP_LEVEL = 0.5  # a signal level below this counts as a drop
DROP_MERGE_GAP = 2.0  # drops this close together (s) are one drop: a flickering network, not many
MAX_PROBLEMS_SHOWN = 5
SHOWN_CHARS = 200  # of one free-form value in a table for people


def printable(value: Any, limit: int | None = SHOWN_CHARS) -> str:
    """Text safe to print on a terminal: control and other unprintable characters (escape
    sequences, bells, carriage returns, bidi overrides) shown as \\x1b-style escapes, and cut
    to `limit` characters with how long it was.

    Header metadata is free-form and unvalidated; printed raw, a recording could clear the
    screen, retitle the terminal or hide text. JSON output needs none of this (json escapes
    control characters itself).
    """
    text = value if isinstance(value, str) else str(value)
    cut = ""
    if limit is not None and len(text) > limit:
        cut = f"… ({len(text):,} characters)"
        text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else _escaped(c) for c in text)
    return text + cut


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _r(value: float) -> float:
    return round(value, 3)


def _interval(start: float, end: float, low: float, recovered: bool) -> dict[str, Any]:
    return {"start": _r(start), "end": _r(end), "min_level": _r(low), "recovered": recovered}


def _network_drops(signals: list[SignalEvent], duration: float) -> list[dict[str, Any]]:
    """Intervals where the network-wide level sat below DROP_LEVEL, flicker merged."""
    spans: list[list[Any]] = []  # [start, end, min, recovered]
    current: list[Any] | None = None
    for s in signals:
        if s.level < DROP_LEVEL:
            if current is None:
                current = [s.t, duration, s.level, False]
            else:
                current[2] = min(current[2], s.level)
        elif current is not None:
            current[1], current[3] = s.t, True
            spans.append(current)
            current = None
    if current is not None:
        spans.append(current)
    merged: list[list[Any]] = []
    for span in spans:
        if merged and merged[-1][3] and span[0] - merged[-1][1] < DROP_MERGE_GAP:
            last = merged[-1]
            last[1], last[2], last[3] = span[1], min(last[2], span[2]), span[3]
        else:
            merged.append(span)
    return [_interval(*span) for span in merged]


def _participant_dropouts(stream: Stream) -> list[dict[str, Any]]:
    """A participant's own signal going below DROP_LEVEL, until it recovers or they speak."""
    open_: dict[str, list[float]] = {}
    found: list[dict[str, Any]] = []
    for e in stream.events:
        who = getattr(e, "participant", None)
        if who is None:
            continue
        if isinstance(e, SignalEvent) and e.level < DROP_LEVEL:
            if who in open_:
                open_[who][1] = min(open_[who][1], e.level)
            else:
                open_[who] = [e.t, e.level]
        elif who in open_:
            start, low = open_.pop(who)
            found.append({"participant": who, **_interval(start, e.t, low, True)})
    for who, (start, low) in open_.items():
        found.append({"participant": who, **_interval(start, stream.duration, low, False)})
    found.sort(key=lambda d: (d["start"], d["participant"]))
    return found


def _emotion_mix(
    emotions: list[EmotionEvent], duration: float, bins: int, bin_seconds: float | None
) -> dict[str, Any]:
    if bin_seconds is not None:
        width = float(bin_seconds)
        count = max(1, math.ceil(duration / width))
    else:
        count = bins if duration > 0 else 1
        width = duration / count
    labels: list[Counter[str]] = [Counter() for _ in range(count)]
    sums = [[0.0, 0.0] for _ in range(count)]
    for e in emotions:
        index = min(int(e.t / width), count - 1) if width > 0 else 0
        labels[index][e.emotion or nearest_emotion(e.valence, e.arousal)] += 1
        sums[index][0] += e.valence
        sums[index][1] += e.arousal
    out = []
    for i, (mix, (v, a)) in enumerate(zip(labels, sums, strict=True)):
        n = sum(mix.values())
        out.append({
            "start": _r(i * width),
            "end": _r(min((i + 1) * width, duration) if bin_seconds is None else (i + 1) * width),
            "events": n,
            "counts": dict(mix.most_common()),
            "dominant": mix.most_common(1)[0][0] if n else None,
            "valence": _r(v / n) if n else None,
            "arousal": _r(a / n) if n else None,
        })
    return {"bin_seconds": _r(width), "bins": out}


def summarise(
    stream: Stream, *, bins: int = 10, bin_seconds: float | None = None
) -> dict[str, Any]:
    """Summarise a stream for `mural inspect` (and anything else that wants the overview).

    The emotion mix is split into `bins` equal bins over the duration, or into fixed
    `bin_seconds` bins when given. Valence/arousal-only events count as their nearest label.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if bin_seconds is not None and not bin_seconds > 0:
        raise ValueError(f"bin_seconds must be positive, got {bin_seconds}")
    emotions: list[EmotionEvent] = []
    network: list[SignalEvent] = []
    markers: list[MarkerEvent] = []
    per_participant: Counter[str] = Counter()
    for e in stream.events:
        if isinstance(e, EmotionEvent):
            emotions.append(e)
            per_participant[e.participant] += 1
        elif isinstance(e, SignalEvent):
            if e.participant is None:
                network.append(e)
            else:
                per_participant[e.participant] += 1
        else:
            markers.append(e)
    signals = len(stream.events) - len(emotions) - len(markers)
    duration = stream.duration
    return {
        "source": stream.source,
        "header": dict(stream.header.meta) if stream.header is not None else None,
        "duration": _r(duration),
        "events": {
            "total": len(stream.events),
            "emotion": len(emotions),
            "signal": signals,
            "marker": len(markers),
        },
        "participants": {
            "count": len(per_participant),
            "ids": sorted(per_participant),
            "events": dict(sorted(per_participant.items())),
        },
        "emotions": dict(Counter(
            e.emotion or nearest_emotion(e.valence, e.arousal) for e in emotions
        ).most_common()),
        "emotion_mix": _emotion_mix(emotions, duration, bins, bin_seconds),
        "signal": {
            "network_events": len(network),
            "network_drops": _network_drops(network, duration),
            "participant_dropouts": _participant_dropouts(stream),
        },
        "markers": [{"t": _r(m.t), "name": m.name} for m in markers],
        "bad_lines": {
            "count": len(stream.problems),
            "first": [str(p) for p in stream.problems[:MAX_PROBLEMS_SHOWN]],
        },
        "truncated_tail": stream.truncated_tail,
    }


__all__ = ["DROP_LEVEL", "DROP_MERGE_GAP", "printable", "summarise"]
