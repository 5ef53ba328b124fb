"""The event model every source shares: validated, frozen events built from plain mappings.

Untrusted input (a file line, an OSC packet, a WebSocket message) is validated once, here, into
frozen dataclasses; the engine never sees a raw dict. Errors name the field and the value.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mural.events.errors import MuralError
from mural.events.vocabulary import EMOTIONS

MAX_PARTICIPANT_LEN = 64
MAX_NAME_LEN = 128
HEART_RATE_RANGE = (20.0, 250.0)
EXCERPT_CHARS = 60  # of a rejected value, echoed in a message

# The fields of every event type and the values they take (a field is valid or not on its own).
NUMBER_FIELDS: dict[str, tuple[float, float]] = {
    "t": (0.0, 1e9), "valence": (-1.0, 1.0), "arousal": (0.0, 1.0), "intensity": (0.0, 1.0),
    "x": (0.0, 1.0), "y": (0.0, 1.0), "heart_rate": HEART_RATE_RANGE, "level": (0.0, 1.0),
    "hue": (380.0, 700.0), "weight": (0.0, 0.8),
}
PATTERNS = ("bloom", "ring", "pulse")  # a participant's emission: soft cloud, halo, slow breath
TEXT_FIELDS: dict[str, int] = {"participant": MAX_PARTICIPANT_LEN, "name": MAX_NAME_LEN}

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = EXCERPT_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A value as an error message echoes it: its repr, cut short.

    Text longer than `limit` shows its first `limit` characters and how long it was, so a
    megabyte-long input makes a one-line warning: 'ppppp…' (1,000,000 characters).
    """
    if isinstance(value, str | bytes | bytearray):
        if len(value) <= limit:
            return repr(value)
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{value[:limit]!r}… ({len(value):,} {unit})"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 10_000:
        return f"<an integer of {value.bit_length():,} bits>"  # str() of it is refused
    try:
        text = _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still reported
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit + 20 else text[: limit + 20] + "…"


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
class PersonalEvent:
    """A participant chooses their own light from now on (a phone's "my colour"): a
    wavelength of living light their emotions lean toward, and/or an emission pattern."""

    t: float
    participant: str
    hue: float | None = None  # nm, 380..700
    pattern: str | None = None  # bloom | ring | pulse
    weight: float | None = None  # 0..0.8: how far the hue leans toward it (default 0.4)
    type: ClassVar[str] = "personal"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.t, "type": "personal", "participant": self.participant}
        for name in ("hue", "pattern", "weight"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class Header:
    """Optional first line of a stream file: free-form metadata."""

    meta: Mapping[str, Any] = field(default_factory=dict)
    type: ClassVar[str] = "header"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "header", **{k: v for k, v in self.meta.items() if k != "type"}}


Event = EmotionEvent | SignalEvent | MarkerEvent | PersonalEvent
EVENT_TYPES = ("emotion", "signal", "marker", "personal", "header")


def _number(
    obj: Mapping[str, Any], name: str, lo: float, hi: float, *, coerce: bool, required: bool
) -> float | None:
    if name not in obj or obj[name] is None or (coerce and obj[name] == ""):
        if required:
            raise EventError(name, None, "is required")
        return None
    raw = obj[name]
    if isinstance(raw, bool):
        raise EventError(name, raw, f"expected a number, got {excerpt(raw)}")
    if isinstance(raw, str) and coerce:
        try:
            value = float(raw)
        except ValueError:
            raise EventError(name, raw, f"expected a number, got {excerpt(raw)}") from None
    elif isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # a JSON integer beyond float range
            raise EventError(name, raw, "number is too large") from None
    else:
        raise EventError(name, raw, f"expected a number, got {excerpt(raw)}")
    if not math.isfinite(value):
        raise EventError(name, raw, f"must be a finite number, got {excerpt(raw)}")
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
        raise EventError(name, raw, f"expected text, got {excerpt(raw)}")
    text = raw.strip()
    if not text or len(text) > max_len or not text.isprintable():
        raise EventError(name, raw, f"expected 1..{max_len} printable characters, "
                         f"got {excerpt(raw)}")
    return text


def check_field(name: str, raw: Any, *, coerce: bool = False) -> None:
    """Validate one field's value on its own: EventError if no event could carry it.

    Absent values (None, and '' with `coerce`) pass, as do fields no event type has (free-form
    extras). Whether the field is required is the event's business, not the field's.
    """
    if name in NUMBER_FIELDS:
        _number({name: raw}, name, *NUMBER_FIELDS[name], coerce=coerce, required=False)
    elif name in TEXT_FIELDS:
        _text({name: raw}, name, TEXT_FIELDS[name], required=False)
    elif name == "type":
        if raw not in (None, "") and raw not in EVENT_TYPES:
            raise EventError("type", raw, f"unknown type {excerpt(raw)} "
                             f"(expected one of {EVENT_TYPES})")
    elif name == "emotion" and raw not in (None, "") and (
        not isinstance(raw, str) or raw.strip().lower() not in EMOTIONS
    ):
        raise EventError("emotion", raw, f"unknown emotion {excerpt(raw)}")
    elif name == "pattern" and raw not in (None, "") and (
        not isinstance(raw, str) or raw.strip().lower() not in PATTERNS
    ):
        raise EventError("pattern", raw, f"unknown pattern {excerpt(raw)}")


# The start of a number as float() reads it: '0.', '-', '1e' can still become one.
_NUMBER_START = re.compile(r"\s*[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d*)?|\.)?")


def could_become(name: str, text: str) -> bool:
    """Whether `text` can be the start of a valid value of field `name`, written as text (a
    CSV cell cut off mid-write): 'jo' can still become 'joy' and '0.' a number; 'glee', 'abc'
    and unprintable text cannot. Fields no event type has can become anything."""
    if name in NUMBER_FIELDS:
        return _NUMBER_START.fullmatch(text) is not None
    if name in TEXT_FIELDS:
        body = text.lstrip()
        return len(body) <= TEXT_FIELDS[name] and (not body or body.isprintable())
    if name == "type":
        return any(kind.startswith(text) for kind in EVENT_TYPES)
    if name == "emotion":
        label = text.lstrip().lower()
        return any(known.startswith(label) for known in EMOTIONS)
    if name == "pattern":
        label = text.lstrip().lower()
        return any(known.startswith(label) for known in PATTERNS)
    return True


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
        raise EventError("type", kind, f"unknown type {excerpt(kind)} "
                         f"(expected one of {EVENT_TYPES})")
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
    if kind == "personal":
        who = _text(obj, "participant", MAX_PARTICIPANT_LEN, required=True)
        hue = _number(obj, "hue", *NUMBER_FIELDS["hue"], coerce=coerce, required=False)
        weight = _number(obj, "weight", *NUMBER_FIELDS["weight"], coerce=coerce,
                         required=False)
        pattern = obj.get("pattern")
        if pattern in (None, ""):
            pattern = None
        elif not isinstance(pattern, str) or pattern.strip().lower() not in PATTERNS:
            raise EventError("pattern", pattern, f"unknown pattern {excerpt(pattern)} "
                             f"(expected one of {', '.join(PATTERNS)})")
        else:
            pattern = pattern.strip().lower()
        if hue is None and pattern is None:
            raise EventError("hue", None, "a personal event needs 'hue' (380..700 nm) or "
                             "'pattern' (bloom, ring, pulse)")
        return PersonalEvent(t=when, participant=who, hue=hue,  # type: ignore[arg-type]
                             pattern=pattern, weight=weight)

    who = _text(obj, "participant", MAX_PARTICIPANT_LEN, required=True)
    label = obj.get("emotion")
    if label in (None, ""):
        label = None
    elif not isinstance(label, str) or label.strip().lower() not in EMOTIONS:
        raise EventError("emotion", label, f"unknown emotion {excerpt(label)}")
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
