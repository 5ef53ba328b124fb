"""Personal colours chosen live (a phone's "my colour"): the event, the wall, the snapshot."""

from __future__ import annotations

import numpy as np
import pytest

from mural.engine.engine import PATTERNS, Engine, EngineConfig
from mural.events import EventError, PersonalEvent, event_from_dict, read_stream, write_stream
from tests.helpers import emotion


def engine_with(*events) -> Engine:
    engine = Engine(EngineConfig(size=(160, 90), seed=1))
    for event in events:
        engine.apply(event)
    return engine


def test_a_chosen_hue_takes_the_colour_over_at_once_and_the_pattern_with_it():
    calm = emotion(0.0, "ana", "calm")
    plain = engine_with(calm)
    chosen = engine_with(calm, PersonalEvent(0.5, "ana", hue=560.0, pattern="ring"))
    before = plain.participants.target_colour[0]
    after = chosen.participants.target_colour[0]
    assert after[1] > before[1] and after[2] < before[2]  # toward firefly yellow-green
    assert chosen.participants.pattern[0] == PATTERNS.index("ring")
    later = engine_with(calm, PersonalEvent(0.5, "ana", pattern="pulse"),
                        PersonalEvent(0.6, "ana", hue=560.0))
    assert later.participants.pattern[0] == PATTERNS.index("pulse")  # a hue keeps the pattern


def test_a_choice_before_the_first_expression_applies_when_they_arrive():
    first = engine_with(PersonalEvent(0.0, "ben", hue=560.0, pattern="ring"),
                        emotion(0.5, "ben", "calm"))
    assert first.participants.pattern[0] == PATTERNS.index("ring")
    assert first.personal["ben"].colour is not None


def test_the_choice_survives_a_snapshot():
    engine = engine_with(emotion(0.0, "ana", "calm"), PersonalEvent(0.5, "ana", hue=509.0))
    copy = Engine(EngineConfig(size=(160, 90), seed=1))
    copy.restore(engine.snapshot())
    assert copy.personal == engine.personal
    bad = engine.snapshot()
    bad["personal"] = {"ana": {"colour": [2.0, 0, 0], "pattern": "ring", "weight": 0.4}}
    with pytest.raises(ValueError, match="personal"):
        copy.restore(bad)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_personal_events_round_trip_through_stream_files(tmp_path, suffix):
    events = [PersonalEvent(1.5, "web-3f9a", hue=509.0, pattern="ring"),
              PersonalEvent(2.0, "web-3f9a", pattern="pulse", weight=0.6)]
    path = tmp_path / f"s{suffix}"
    write_stream(path, events)
    assert read_stream(path, strict=True).events == events


@pytest.mark.parametrize("record, field", [
    ({"type": "personal", "participant": "a"}, "hue"),
    ({"type": "personal", "participant": "a", "hue": 900}, "hue"),
    ({"type": "personal", "participant": "a", "pattern": "spiral"}, "pattern"),
    ({"type": "personal", "hue": 500}, "participant"),
])
def test_bad_personal_events_name_their_field(record, field):
    with pytest.raises(EventError) as caught:
        event_from_dict({"t": 0, **record})
    assert caught.value.field == field


def test_nothing_changes_for_other_participants():
    a = engine_with(emotion(0.0, "ana", "calm"), emotion(0.0, "ben", "joy"))
    b = engine_with(emotion(0.0, "ana", "calm"), emotion(0.0, "ben", "joy"),
                    PersonalEvent(0.5, "ana", hue=620.0))
    assert np.array_equal(a.participants.target_colour[1], b.participants.target_colour[1])
