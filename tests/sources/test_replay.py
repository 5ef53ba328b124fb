"""Replaying recordings on the session clock, seeking, and merging sources."""

from __future__ import annotations

import json

import pytest

from mural.events import EmotionEvent, MarkerEvent, SignalEvent, Stream, StreamError, write_stream
from mural.sources import EventSource, SourceError, open_source
from mural.sources.replay import MergedSource, ReplayError, ReplaySource, open_replay


def ev(t, who="p01"):
    return EmotionEvent(t, who, 0.8, 0.65, 1.0, "joy")


def make_stream(times, who="p01"):
    return Stream([ev(t, who) for t in times], source="mem")


def test_is_an_event_source():
    source = ReplaySource(make_stream([1.0]))
    assert isinstance(source, EventSource)
    assert not source.live and source.name == "mem"


def test_poll_hands_out_each_event_once_in_order():
    source = ReplaySource(make_stream([0.0, 0.5, 0.5, 1.0, 2.0]))
    assert [e.t for e in source.poll(0.5)] == [0.0, 0.5, 0.5]
    assert source.poll(0.5) == []
    assert not source.finished
    assert [e.t for e in source.poll(1.9)] == [1.0]
    assert [e.t for e in source.poll(10.0)] == [2.0]
    assert source.finished and source.poll(20.0) == []


def test_seek_back_and_forward():
    source = ReplaySource(make_stream([0.0, 1.0, 2.0, 3.0]))
    source.poll(10.0)
    source.seek(1.0)
    assert not source.finished and source.position == 1.0
    assert [e.t for e in source.poll(2.0)] == [1.0, 2.0]
    source.seek(2.5)
    assert [e.t for e in source.poll(2.9)] == []
    assert [e.t for e in source.poll(3.0)] == [3.0]
    source.seek(0.0)
    assert len(source.poll(3.0)) == 4


def test_empty_stream_is_finished():
    source = ReplaySource(Stream([]))
    assert source.finished and source.poll(1.0) == []


def test_open_replay_counts_accepted_and_rejected(tmp_path):
    path = tmp_path / "s.jsonl"
    lines = [ev(0.5).to_dict(), {"t": 1, "participant": "p", "emotion": "glee"}, ev(2).to_dict()]
    path.write_text("\n".join(json.dumps(obj) for obj in lines) + "\n")
    source = open_replay(str(path), strict=False, clock=None)
    assert (source.stats.accepted, source.stats.rejected) == (2, 1)
    assert len(source.stream.problems) == 1
    assert source.name == "s.jsonl"


def test_open_replay_errors_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        open_replay(str(tmp_path / "missing.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 1, "participant": "p", "emotion": "glee"}\n')
    with pytest.raises(ReplayError, match="line 1") as info:
        open_replay(str(bad), strict=True)
    assert isinstance(info.value, StreamError) and info.value.problem.field == "emotion"


def test_open_source_routes_files(tmp_path):
    path = tmp_path / "s.csv"
    write_stream(path, [ev(0.0), ev(1.0)])
    for uri in (str(path), f"file://{path}"):
        source = open_source(uri)
        assert isinstance(source, ReplaySource) and len(source.poll(5.0)) == 2


def test_merged_source_orders_stably_and_sums_stats():
    a = ReplaySource(Stream([ev(0.0, "a"), ev(1.0, "a"), ev(2.0, "a")], source="a"))
    b = ReplaySource(Stream([ev(1.0, "b"), MarkerEvent(1.5, "m"), SignalEvent(3.0, 0.1)],
                            source="b"))
    merged = MergedSource([a, b])
    assert isinstance(merged, EventSource)
    assert merged.name == "a + b" and not merged.live
    out = merged.poll(1.5)
    assert [(e.t, getattr(e, "participant", None)) for e in out] == [
        (0.0, "a"), (1.0, "a"), (1.0, "b"), (1.5, None)
    ]
    assert not merged.finished
    assert [e.t for e in merged.poll(5.0)] == [2.0, 3.0]
    assert merged.finished
    assert merged.stats.accepted == 6
    merged.seek(0.0)
    assert len(merged.poll(5.0)) == 6
    merged.close()


def test_merged_live_if_any_source_is_live():
    class Live:
        name, live = "live", True
        stats = ReplaySource(Stream([])).stats
        finished = False

        def poll(self, now):
            return [ev(now, "live")]

        def close(self):
            pass

    merged = MergedSource([ReplaySource(make_stream([0.1])), Live()])
    assert merged.live and not merged.finished
    assert [e.participant for e in merged.poll(0.2)] == ["p01", "live"]
    merged.seek(0.0)  # live sources have no seek: left alone


def test_merged_needs_sources():
    with pytest.raises(SourceError):
        MergedSource([])
