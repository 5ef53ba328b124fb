"""Stream files: JSONL/CSV round trips, forgiving and strict reading, truncated tails."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mural.events import (
    EmotionEvent,
    Header,
    MarkerEvent,
    Problem,
    SignalEvent,
    Stream,
    StreamError,
    read_stream,
    write_stream,
)

EVENTS = [
    MarkerEvent(0.0, "start"),
    EmotionEvent(0.1, "p01", 0.8, 0.65, 0.5, "joy"),
    EmotionEvent(0.2, "p02", -0.123456789012345, 0.3333333333333333, 1.0, None, 0.1, 0.9, 72.5),
    EmotionEvent(0.2, "p 3, \"q\"", 0.1, 0.2, 0.3, "calm"),  # comma and quotes for CSV
    SignalEvent(0.7, 0.25),
    SignalEvent(0.7, 0.0, "p01"),
    EmotionEvent(1e-7, "007", 0.45, 0.1, 0.7, "calm", 0.0, 1.0),
]
HEADER = Header(meta={"scenario": "test", "seed": 3, "nested": {"a": [1, 2]}})


def write_text(path, text, *, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def line(**obj):
    return json.dumps(obj)


GOOD = line(t=1.0, participant="p01", emotion="joy")


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json", ".csv", ".CSV"])
def test_round_trip_is_exact(tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    write_stream(path, EVENTS, HEADER)
    stream = read_stream(path)
    assert stream.events == sorted(EVENTS, key=lambda e: e.t)
    assert stream.header == HEADER
    assert stream.problems == [] and not stream.truncated_tail
    assert stream.source == str(path)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_round_trip_without_header(tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    write_stream(path, EVENTS)
    stream = read_stream(path)
    assert stream.header is None and len(stream.events) == len(EVENTS)


floats01 = st.floats(0.0, 1.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1e6), floats01, floats01, floats01), max_size=20))
def test_round_trip_property(tmp_path_factory, rows):
    events = [EmotionEvent(t, "p", v * 2 - 1, a, i) for t, v, a, i in rows]
    directory = tmp_path_factory.mktemp("rt")
    for suffix in (".jsonl", ".csv"):
        write_stream(directory / f"s{suffix}", events)
        assert read_stream(directory / f"s{suffix}").events == sorted(events, key=lambda e: e.t)


def test_events_are_stably_sorted_by_time(tmp_path):
    path = write_text(tmp_path / "s.jsonl", "\n".join([
        line(t=2, participant="late", emotion="joy"),
        line(t=1, participant="a", emotion="joy"),
        line(t=1, participant="b", emotion="joy"),
        line(t=0.5, type="marker", name="m"),
        line(t=1, participant="c", emotion="joy"),
    ]) + "\n")
    stream = read_stream(path)
    assert [getattr(e, "participant", "m") for e in stream.events] == ["m", "a", "b", "c", "late"]
    assert stream.duration == 2.0
    assert stream.markers == [MarkerEvent(0.5, "m")]
    assert list(stream) == stream.events and len(stream) == 5


def test_empty_stream(tmp_path):
    stream = read_stream(write_text(tmp_path / "s.jsonl", ""))
    assert stream.events == [] and stream.duration == 0.0 and stream.header is None
    assert read_stream(write_text(tmp_path / "s.csv", "")).events == []


# --- bad lines ---------------------------------------------------------------------------------


BAD_FILE = "\n".join([
    GOOD,
    line(t=2, participant="p01", emotion="glee"),  # line 2: unknown emotion
    "",  # blank: ignored, still counted
    "{not json",  # line 4
    line(t=4, participant="p02", emotion="joy", x=1.5),  # line 5: out of range
    GOOD,
]) + "\n"


def test_bad_lines_are_skipped_and_reported_once(tmp_path):
    path = write_text(tmp_path / "festival.jsonl", BAD_FILE)
    seen: list[Problem] = []
    stream = read_stream(path, on_problem=seen.append)
    assert len(stream.events) == 2
    assert seen == stream.problems
    assert [p.line for p in seen] == [2, 4, 5]
    glee, broken, far = seen
    assert (glee.field, glee.value) == ("emotion", "glee")
    assert str(glee) == f"{path} line 2: field 'emotion': unknown emotion 'glee'"
    assert broken.field is None and "not valid JSON" in str(broken) and "{not json" in str(broken)
    assert (far.field, far.value) == ("x", 1.5) and "line 5" in str(far)


def test_problem_uses_the_name_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_text(tmp_path / "festival.jsonl", BAD_FILE)
    stream = read_stream("festival.jsonl")
    expected = "festival.jsonl line 2: field 'emotion': unknown emotion 'glee'"
    assert str(stream.problems[0]) == expected


def test_strict_raises_on_first_bad_line(tmp_path):
    path = write_text(tmp_path / "s.jsonl", BAD_FILE)
    with pytest.raises(StreamError, match="line 2") as info:
        read_stream(path, strict=True)
    assert info.value.problem is not None and info.value.problem.field == "emotion"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[1, 2]", None),
        ('"just text"', None),
        ('{"t": 1}{"t": 2}', None),
        (line(t=-1, participant="p", emotion="joy"), "t"),
        ('{"t": NaN, "participant": "p", "emotion": "joy"}', "t"),
        ('{"t": Infinity, "participant": "p", "emotion": "joy"}', "t"),
        (line(t=1, participant="p", emotion="joy", intensity=True), "intensity"),
        (line(t=1, type="nope"), "type"),
        (line(t=1, type="signal"), "level"),
        ('{"t": 1' + "0" * 400 + ', "participant": "p", "emotion": "joy"}', "t"),
        ("[" * 50000 + "]" * 50000, None),
    ],
)
def test_each_kind_of_bad_line_is_a_problem(tmp_path, text, field):
    path = write_text(tmp_path / "s.jsonl", f"{GOOD}\n{text}\n{GOOD}\n")
    stream = read_stream(path)
    assert len(stream.events) == 2
    (problem,) = stream.problems
    assert problem.line == 2 and problem.field == field


def test_invalid_utf8_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(GOOD.encode() + b'\n{"t": 1, "participant": "p\xff", "emotion": "joy"}\n')
    stream = read_stream(path)
    assert len(stream.events) == 1 and stream.problems[0].field == "participant"
    str(stream.problems[0]).encode("utf-8")  # printable on a UTF-8 terminal


# --- headers ------------------------------------------------------------------------------------


def test_header_only_on_first_line(tmp_path):
    path = write_text(tmp_path / "s.jsonl", "\n".join([
        line(type="header", scenario="a"), GOOD, line(type="header", scenario="b"), GOOD,
    ]))
    stream = read_stream(path)
    assert stream.header == Header(meta={"scenario": "a"})
    (problem,) = stream.problems
    assert problem.line == 3 and problem.field == "type"
    with pytest.raises(StreamError, match="line 3"):
        read_stream(path, strict=True)


def test_header_after_leading_blank_lines_still_counts(tmp_path):
    stream = read_stream(write_text(tmp_path / "s.jsonl", f"\n\n{line(type='header')}\n{GOOD}\n"))
    assert stream.header == Header(meta={}) and not stream.problems


# --- truncated tails ------------------------------------------------------------------------------


def test_truncated_last_line_is_tolerated_even_strict(tmp_path):
    path = write_text(tmp_path / "s.jsonl", f'{GOOD}\n{GOOD}\n{{"t": 3.5, "partic')
    for strict in (False, True):
        stream = read_stream(path, strict=strict)
        assert len(stream.events) == 2 and stream.problems == [] and stream.truncated_tail


def test_broken_last_line_with_newline_is_a_problem(tmp_path):
    path = write_text(tmp_path / "s.jsonl", f'{GOOD}\n{{"t": 3.5, "partic\n')
    stream = read_stream(path)
    assert not stream.truncated_tail and stream.problems[0].line == 2
    with pytest.raises(StreamError, match="line 2"):
        read_stream(path, strict=True)


def test_complete_but_invalid_last_line_is_a_problem(tmp_path):
    path = write_text(tmp_path / "s.jsonl", f'{GOOD}\n{line(t=1, participant="p", emotion="x")}')
    stream = read_stream(path)
    assert not stream.truncated_tail and len(stream.problems) == 1


def test_complete_last_line_without_newline_is_read(tmp_path):
    stream = read_stream(write_text(tmp_path / "s.jsonl", f"{GOOD}\n{GOOD}"))
    assert len(stream.events) == 2 and not stream.truncated_tail


@pytest.mark.parametrize("tail", ["3,p0", '3,p01,"jo'])
def test_truncated_csv_row_is_tolerated(tmp_path, tail):
    path = write_text(tmp_path / "s.csv", f"t,participant,emotion\n1,p01,joy\n{tail}")
    stream = read_stream(path, strict=True)
    assert len(stream.events) == 1 and stream.truncated_tail and not stream.problems


# --- encodings and line endings --------------------------------------------------------------


def test_bom_and_crlf(tmp_path):
    jsonl = write_text(tmp_path / "s.jsonl", f"{line(type='header', a=1)}\r\n{GOOD}\r\n\r\n",
                       encoding="utf-8-sig")
    stream = read_stream(jsonl, strict=True)
    assert stream.header == Header(meta={"a": 1}) and len(stream.events) == 1
    csv_path = write_text(tmp_path / "s.csv", "t,participant,emotion\r\n1,p01,joy\r\n2,p02,calm",
                          encoding="utf-8-sig")
    stream = read_stream(csv_path, strict=True)
    assert [e.participant for e in stream.events] == ["p01", "p02"]


def test_crlf_line_numbers(tmp_path):
    path = write_text(tmp_path / "s.jsonl", f"{GOOD}\r\n{GOOD}\r\n{{bad\r\n")
    assert read_stream(path).problems[0].line == 3


# --- CSV specifics --------------------------------------------------------------------------------


def test_csv_empty_cells_are_absent_and_numbers_coerced(tmp_path):
    path = write_text(tmp_path / "s.csv", "\n".join([
        "t,type,participant,emotion,valence,arousal,intensity,x,y,heart_rate,level,name",
        "1.5,,p01,joy,,,0.5,0.25,,80,,",
        "2,signal,,,,,,,,,0.3,",
        "3,marker,,,,,,,,,,drop",
        "4,,p02,,-0.5,0.5,,,,,,",
    ]) + "\n")
    stream = read_stream(path, strict=True)
    joy, signal, marker, point = stream.events
    assert joy == EmotionEvent(1.5, "p01", 0.8, 0.65, 0.5, "joy", 0.25, None, 80.0)
    assert signal == SignalEvent(2.0, 0.3)
    assert marker == MarkerEvent(3.0, "drop")
    assert (point.emotion, point.valence, point.intensity) == (None, -0.5, 1.0)


def test_csv_columns_in_any_order_and_extra_columns_ignored(tmp_path):
    path = write_text(tmp_path / "s.csv", "note,emotion,participant,t\nhi,calm,p9,4\n")
    assert read_stream(path).events == [EmotionEvent(4.0, "p9", 0.45, 0.1, 1.0, "calm")]


def test_csv_bad_rows(tmp_path):
    path = write_text(tmp_path / "s.csv", "\n".join([
        "t,participant,emotion",
        "1,p01,joy",
        "2,p01,glee",
        "3,p01",
        "4,p01,joy,extra",
        "abc,p01,joy",
        "5,p01,joy",
    ]) + "\n")
    seen: list[Problem] = []
    stream = read_stream(path, on_problem=seen.append)
    assert len(stream.events) == 2
    assert [(p.line, p.field) for p in seen] == [(3, "emotion"), (4, None), (5, None), (6, "t")]
    assert seen[3].value == "abc"
    with pytest.raises(StreamError, match="line 3"):
        read_stream(path, strict=True)


def test_csv_without_t_column(tmp_path):
    with pytest.raises(StreamError, match="no 't' column"):
        read_stream(write_text(tmp_path / "s.csv", "participant,emotion\np,joy\n"))


def test_csv_header_comment(tmp_path):
    path = write_text(tmp_path / "s.csv", '# recorded live\n# {"type": "header", "v": 2}\n'
                      "t,participant,emotion\n1,p,joy\nbad,p,joy\n")
    stream = read_stream(path)
    assert stream.header == Header(meta={"v": 2})
    assert stream.problems[0].line == 5


# --- file-level errors ------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(StreamError, match="no such file"):
        read_stream(tmp_path / "nope.jsonl")


def test_directory(tmp_path):
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(StreamError, match="directory"):
        read_stream(tmp_path / "dir.jsonl")


def test_unknown_extension(tmp_path):
    path = write_text(tmp_path / "s.txt", GOOD)
    with pytest.raises(StreamError, match="unknown stream format"):
        read_stream(path)
    with pytest.raises(StreamError, match="unknown stream format"):
        write_stream(tmp_path / "out.txt", EVENTS)


def test_unwritable_destination(tmp_path):
    with pytest.raises(StreamError, match="cannot write"):
        write_stream(tmp_path / "missing-dir" / "s.jsonl", EVENTS)


def test_stream_sorts_events_it_is_given():
    stream = Stream([MarkerEvent(2.0, "b"), MarkerEvent(1.0, "a")])
    assert [m.name for m in stream.markers] == ["a", "b"]


# --- size ------------------------------------------------------------------------------------


def test_a_large_file_reads_back_exactly(tmp_path):
    events = [EmotionEvent(i * 0.01, f"p{i % 12:02d}", 0.8, 0.65, (i % 100) / 100, "joy",
                           (i % 7) / 7, (i % 5) / 5, 60.0 + i % 50) for i in range(30_000)]
    path = tmp_path / "hour.jsonl"
    write_stream(path, events)
    stream = read_stream(path)
    assert stream.events == events
