"""Emotion events: the model, its validation, and the stream file formats."""

from mural.events.formats import Problem, Stream, StreamError, read_stream, write_stream
from mural.events.model import (
    EVENT_TYPES,
    PATTERNS,
    EmotionEvent,
    Event,
    EventError,
    Header,
    MarkerEvent,
    PersonalEvent,
    SignalEvent,
    event_from_dict,
)
from mural.events.vocabulary import EMOTION_NAMES, EMOTIONS, EmotionAnchor, nearest_emotion

__all__ = [
    "EMOTIONS",
    "EMOTION_NAMES",
    "EVENT_TYPES",
    "EmotionAnchor",
    "EmotionEvent",
    "Event",
    "EventError",
    "Header",
    "MarkerEvent",
    "PATTERNS",
    "PersonalEvent",
    "Problem",
    "SignalEvent",
    "Stream",
    "StreamError",
    "event_from_dict",
    "nearest_emotion",
    "read_stream",
    "write_stream",
]
