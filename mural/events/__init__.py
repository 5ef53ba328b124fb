"""Emotion events: the model, its validation, and the stream file formats."""

from mural.events.model import (
    EVENT_TYPES,
    EmotionEvent,
    Event,
    EventError,
    Header,
    MarkerEvent,
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
    "SignalEvent",
    "event_from_dict",
    "nearest_emotion",
]
