"""The event model every source shares: validated, frozen events built from plain mappings.

Untrusted input (a file line, an OSC packet, a WebSocket message) is validated once, here, into
frozen dataclasses; the engine never sees a raw dict. Errors name the field and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mural.events.errors import MuralError
from mural.events.vocabulary import EMOTIONS

MAX_PARTICIPANT_LEN = 64
MAX_NAME_LEN = 128
HEART_RATE_RANGE = (20.0, 250.0)


class EventError(MuralError, ValueError):
    """An input that is not a valid event; names the field, the value and what was expected."""

    def __init__(self, field_name: str | None, value: Any, reason: str) -> None:
        self.field = field_name
        self.value = value
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.field is None:
            return self.reason
        return f"field '{self.field}': {self.reason}"


@dataclass(frozen=True, slots=True)
class EmotionEvent:
    """One participant's expression: an emotion label and/or a point on the circumplex."""

    t: float
    participant: str
    valence: float
    arousal: float
    intensity: float = 1.0
    emotion: str | None = None
    x: float | None = None
    y: float | None = None
    heart_rate: float | None = None
    type: ClassVar[str] = "emotion"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.t, "participant": self.participant}
        if self.emotion is not None:
            out["emotion"] = self.emotion
            anchor = EMOTIONS[self.emotion]
            # Only write valence/arousal when they differ from the label's own point.
            if (self.valence, self.arousal) != (anchor.valence, anchor.arousal):
                out["valence"], out["arousal"] = self.valence, self.arousal
        else:
            out["valence"], out["arousal"] = self.valence, self.arousal
        out["intensity"] = self.intensity
        for name in ("x", "y", "heart_rate"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """The sensor network's health, network-wide (participant None) or for one participant."""

    t: float
    level: float
    participant: str | None = None
    type: ClassVar[str] = "signal"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.t, "type": "signal", "level": self.level}
        if self.participant is not None:
            out["participant"] = self.participant
        return out


@dataclass(frozen=True, slots=True)
class MarkerEvent:
    """A named moment in a stream (cues and summaries use these)."""

    t: float
    name: str
    type: ClassVar[str] = "marker"

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.t, "type": "marker", "name": self.name}


@dataclass(frozen=True, slots=True)
class Header:
    """Optional first line of a stream file: free-form metadata."""

    meta: Mapping[str, Any] = field(default_factory=dict)
    type: ClassVar[str] = "header"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "header", **{k: v for k, v in self.meta.items() if k != "type"}}


Event = EmotionEvent | SignalEvent | MarkerEvent
EVENT_TYPES = ("emotion", "signal", "marker", "header")


def _number(
    obj: Mapping[str, Any], name: str, lo: float, hi: float, *, coerce: bool, required: bool
) -> float | None:
    if name not in obj or obj[name] is None or (coerce and obj[name] == ""):
        if required:
            raise EventError(name, None, "is required")
        return None
    raw = obj[name]
    if isinstance(raw, bool):
        raise EventError(name, raw, f"expected a number, got {raw!r}")
    if isinstance(raw, str) and coerce:
        try:
            value = float(raw)
        except ValueError:
            raise EventError(name, raw, f"expected a number, got {raw!r}") from None
    elif isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # a JSON integer beyond float range
            raise EventError(name, raw, "number is too large") from None
    else:
        raise EventError(name, raw, f"expected a number, got {raw!r}")
    if not math.isfinite(value):
        raise EventError(name, raw, f"must be a finite number, got {raw!r}")
    if not lo <= value <= hi:
        raise EventError(name, raw, f"{value:g} is outside {lo:g}..{hi:g}")
    return value


def _text(obj: Mapping[str, Any], name: str, max_len: int, *, required: bool) -> str | None:
    raw = obj.get(name)
    if raw is None or raw == "":
        if required:
            raise EventError(name, None, "is required")
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        raw = format(raw, "g")  # CSV/OSC may carry numeric ids; keep them as text
    if not isinstance(raw, str):
        raise EventError(name, raw, f"expected text, got {raw!r}")
    text = raw.strip()
    if not text or len(text) > max_len or not text.isprintable():
        raise EventError(name, raw, f"expected 1..{max_len} printable characters, got {raw!r}")
    return text


def event_from_dict(
    obj: Mapping[str, Any], *, t: float | None = None, coerce: bool = False
) -> Event | Header:
    """Validate one mapping into an event.

    `t` stamps live events that arrive without a time (a given `t` in `obj` wins). `coerce`
    accepts numbers written as text, as CSV cells are.
    """
    if not isinstance(obj, Mapping):
        raise EventError(None, obj, f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("type", "emotion")
    if kind in (None, ""):
        kind = "emotion"
    if kind not in EVENT_TYPES:
        raise EventError("type", kind, f"unknown type {kind!r} (expected one of {EVENT_TYPES})")
    if kind == "header":
        return Header(meta=dict(obj))

    when = _number(obj, "t", 0.0, 1e9, coerce=coerce, required=t is None)
    when = t if when is None else when
    assert when is not None

    if kind == "signal":
        level = _number(obj, "level", 0.0, 1.0, coerce=coerce, required=True)
        who = _text(obj, "participant", MAX_PARTICIPANT_LEN, required=False)
        return SignalEvent(t=when, level=level, participant=who)  # type: ignore[arg-type]
    if kind == "marker":
        name = _text(obj, "name", MAX_NAME_LEN, required=True)
        return MarkerEvent(t=when, name=name)  # type: ignore[arg-type]

    who = _text(obj, "participant", MAX_PARTICIPANT_LEN, required=True)
    label = obj.get("emotion")
    if label in (None, ""):
        label = None
    elif not isinstance(label, str) or label.strip().lower() not in EMOTIONS:
        raise EventError("emotion", label, f"unknown emotion {label!r}")
    else:
        label = label.strip().lower()
    valence = _number(obj, "valence", -1.0, 1.0, coerce=coerce, required=False)
    arousal = _number(obj, "arousal", 0.0, 1.0, coerce=coerce, required=False)
    if label is None:
        if valence is None or arousal is None:
            missing = "valence" if valence is None else "arousal"
            raise EventError(missing, None, "an emotion event needs 'emotion' or both "
                             "'valence' and 'arousal'")
    else:
        anchor = EMOTIONS[label]
        valence = anchor.valence if valence is None else valence
        arousal = anchor.arousal if arousal is None else arousal
    intensity = _number(obj, "intensity", 0.0, 1.0, coerce=coerce, required=False)
    return EmotionEvent(
        t=when,
        participant=who,  # type: ignore[arg-type]
        valence=valence,  # type: ignore[arg-type]
        arousal=arousal,  # type: ignore[arg-type]
        intensity=1.0 if intensity is None else intensity,
        emotion=label,
        x=_number(obj, "x", 0.0, 1.0, coerce=coerce, required=False),
        y=_number(obj, "y", 0.0, 1.0, coerce=coerce, required=False),
        heart_rate=_number(obj, "heart_rate", *HEART_RATE_RANGE, coerce=coerce, required=False),
    )
