"""Stream summaries: counts, participants, emotion mix over time, drops, markers, bad lines."""

from __future__ import annotations

import json

import pytest

from mural.events import EmotionEvent, MarkerEvent, Problem, SignalEvent, Stream
from mural.events.summary import DROP_MERGE_GAP, summarise
from mural.sources.simulate import simulate


def joy(t, who="p01"):
    return EmotionEvent(t, who, 0.8, 0.65, 1.0, "joy")


def test_counts_participants_markers_and_bad_lines():
    problems = [Problem("s.jsonl", n, "emotion", "glee", "unknown emotion 'glee'")
                for n in range(2, 10)]
    stream = Stream(
        [joy(0.0), joy(1.0, "p02"), MarkerEvent(2.0, "drop"), SignalEvent(3.0, 0.9),
         SignalEvent(4.0, 0.8, "p02"), joy(10.0)],
        problems=problems, source="s.jsonl", truncated_tail=True,
    )
    info = summarise(stream)
    json.dumps(info)  # serialisable as-is
    assert info["source"] == "s.jsonl" and info["duration"] == 10.0
    assert info["events"] == {"total": 6, "emotion": 3, "signal": 2, "marker": 1}
    assert info["participants"] == {"count": 2, "ids": ["p01", "p02"],
                                    "events": {"p01": 2, "p02": 2}}
    assert info["markers"] == [{"t": 2.0, "name": "drop"}]
    assert info["bad_lines"]["count"] == 8
    first = info["bad_lines"]["first"]
    assert first[0] == "s.jsonl line 2: field 'emotion': unknown emotion 'glee'"
    assert len(info["bad_lines"]["first"]) == 5
    assert info["truncated_tail"] is True
    assert info["header"] is None


def test_emotion_mix_bins_and_nearest_label():
    events = [joy(0.5), joy(1.0), EmotionEvent(9.5, "p01", 0.45, 0.12), joy(10.0)]
    info = summarise(Stream(events), bins=2)
    first, second = info["emotion_mix"]["bins"]
    assert info["emotion_mix"]["bin_seconds"] == 5.0
    assert (first["start"], first["end"], first["events"]) == (0.0, 5.0, 2)
    assert first["counts"] == {"joy": 2} and first["dominant"] == "joy"
    assert second["counts"] == {"joy": 1, "calm": 1}  # the point (0.45, 0.12) is nearest calm
    assert info["emotions"] == {"joy": 3, "calm": 1}
    assert first["valence"] == 0.8


def test_fixed_width_bins_and_empty_bins():
    info = summarise(Stream([joy(0.0), joy(65.0)]), bin_seconds=30.0)
    bins = info["emotion_mix"]["bins"]
    assert [(b["start"], b["end"], b["events"]) for b in bins] == [
        (0.0, 30.0, 1), (30.0, 60.0, 0), (60.0, 90.0, 1)]
    assert bins[1]["dominant"] is None and bins[1]["valence"] is None


def test_empty_stream():
    info = summarise(Stream([]))
    assert info["duration"] == 0.0 and info["events"]["total"] == 0
    assert len(info["emotion_mix"]["bins"]) == 1
    assert info["signal"]["network_drops"] == []


def test_bad_bin_arguments():
    with pytest.raises(ValueError):
        summarise(Stream([]), bins=0)
    with pytest.raises(ValueError):
        summarise(Stream([]), bin_seconds=0)


def test_network_drops_merge_flicker_and_track_minimum():
    levels = [(0, 1.0), (10, 0.4), (11, 0.6), (11.5, 0.3), (13, 0.9),  # flicker: one drop
              (20, 0.0), (21, 0.0), (30, 1.0),  # a blackout
              (40, 0.2)]  # never recovers
    events = [SignalEvent(float(t), lv) for t, lv in levels] + [joy(50.0)]
    drops = summarise(Stream(events))["signal"]["network_drops"]
    assert drops == [
        {"start": 10.0, "end": 13.0, "min_level": 0.3, "recovered": True},
        {"start": 20.0, "end": 30.0, "min_level": 0.0, "recovered": True},
        {"start": 40.0, "end": 50.0, "min_level": 0.2, "recovered": False},
    ]
    assert DROP_MERGE_GAP < 30.0 - 21.0  # the blackout's two zero readings are not flicker


def test_participant_signals_are_dropouts_not_network_drops():
    events = [SignalEvent(1.0, 0.1, "p01"), SignalEvent(2.0, 0.05, "p01"), joy(4.0, "p01"),
              SignalEvent(5.0, 0.2, "p02"), SignalEvent(7.0, 0.9, "p02"),
              SignalEvent(8.0, 0.0, "p03"), joy(9.0)]
    signal = summarise(Stream(events))["signal"]
    assert signal["network_drops"] == []
    assert signal["participant_dropouts"] == [
        {"participant": "p01", "start": 1.0, "end": 4.0, "min_level": 0.05, "recovered": True},
        {"participant": "p02", "start": 5.0, "end": 7.0, "min_level": 0.2, "recovered": True},
        {"participant": "p03", "start": 8.0, "end": 9.0, "min_level": 0.0, "recovered": False},
    ]


def test_festival_summary_tells_the_story():
    info = summarise(simulate("festival", seed=7), bins=10)
    assert [m["name"] for m in info["markers"]][:3] == ["gathering", "festival", "malfunction"]
    drops = info["signal"]["network_drops"]
    blackout = next(d for d in drops if d["min_level"] == 0.0)
    assert blackout["start"] == 93.0 and blackout["recovered"]
    assert info["signal"]["participant_dropouts"]
    assert info["emotion_mix"]["bins"][0]["dominant"] in {"calm", "trust", "hope"}
    assert info["emotion_mix"]["bins"][-1]["dominant"] in {"joy", "love", "awe"}
    assert info["header"]["scenario"] == "festival"
    assert "manual-1" in info["participants"]["ids"]
