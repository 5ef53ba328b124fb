"""Tiny streams and frame measurements shared by the rendering tests."""

from __future__ import annotations

import numpy as np

from mural.events import EmotionEvent, Event, SignalEvent, event_from_dict

LUMA = np.array([0.2126, 0.7152, 0.0722])


def crowd(
    emotions: list[str],
    *,
    people: int = 6,
    start: float = 0.0,
    end: float = 10.0,
    every: float = 0.5,
    intensity: float = 0.9,
    prefix: str = "p",
) -> list[Event]:
    """Each participant expresses its emotion (cycled through `emotions`) every `every` s."""
    events: list[Event] = []
    t = start
    while t < end:
        for i in range(people):
            events.append(event_from_dict({
                "t": round(t + i * 0.01, 4), "participant": f"{prefix}{i:02d}",
                "emotion": emotions[i % len(emotions)], "intensity": intensity,
            }))
        t += every
    return events


def blackout(at: float) -> SignalEvent:
    return SignalEvent(t=at, level=0.0)


def signal(at: float, level: float, participant: str | None = None) -> SignalEvent:
    return SignalEvent(t=at, level=level, participant=participant)


def emotion(t: float, who: str, label: str, **extra) -> EmotionEvent:
    return event_from_dict({"t": t, "participant": who, "emotion": label, **extra})


def linear(frame: np.ndarray) -> np.ndarray:
    v = frame.astype(np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def luminance(frame: np.ndarray) -> np.ndarray:
    return linear(frame) @ LUMA


def blocks(values: np.ndarray, n: int = 8) -> np.ndarray:
    """Block means on an n-pixel grid (structure at a coarse scale)."""
    h, w = values.shape[:2]
    h, w = h - h % n, w - w % n
    v = values[:h, :w]
    return v.reshape(h // n, n, w // n, n, *v.shape[2:]).mean(axis=(1, 3))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    return float((a @ b) / np.sqrt((a @ a) * (b @ b)))


def chroma(frame: np.ndarray) -> float:
    """Mean colourfulness: spread between the brightest and darkest channel (linear)."""
    lin = linear(frame)
    return float((lin.max(axis=-1) - lin.min(axis=-1)).mean())
