"""Bad input loses at most its own line, and the warning names it (line, field) in a few words.

Stray quotes, CR-only line endings, garbage tails, duplicate columns and huge values, each as it
was found in the field; then a property-based fuzz over both readers.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mural.events import (
    EmotionEvent,
    EventError,
    MarkerEvent,
    SignalEvent,
    StreamError,
    event_from_dict,
    read_stream,
    write_stream,
)
from mural.events.model import excerpt


def rows(n: int) -> list:
    return [EmotionEvent(round(k * 0.1, 3), f"p{k % 50}", 0.8, 0.65, 0.5, "joy") for k in range(n)]


def write_text(path, text: str):
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    return path


# --- a stray quote --------------------------------------------------------------------------


def test_a_stray_quote_in_row_4_of_10000_loses_only_row_4(tmp_path):
    path = tmp_path / "s.csv"
    write_stream(path, rows(10_000))
    lines = path.read_text().split("\n")
    assert lines[4].split(",")[2] == "p3"  # row 4 is line 5 (the column row is line 1)
    lines[4] = lines[4].replace(",p3,", ',"p3,', 1)
    path.write_text("\n".join(lines))
    stream = read_stream(path)
    assert len(stream.events) == 9_999
    (problem,) = stream.problems
    assert problem.line == 5 and problem.field == "participant"
    assert "quote" in problem.message
    with pytest.raises(StreamError, match="line 5"):
        read_stream(path, strict=True)


def test_a_quoted_field_does_not_run_into_the_next_line(tmp_path):
    path = write_text(tmp_path / "s.csv",
                      't,participant,emotion\n1,"p1,joy\n2,p2,calm\n3,"p3",joy\n')
    stream = read_stream(path)
    assert [e.participant for e in stream.events] == ["p2", "p3"]
    assert [(p.line, p.field) for p in stream.problems] == [(2, "participant")]


# --- line endings and tails -----------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_cr_only_line_endings_are_lines(tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    write_stream(path, rows(20))
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    stream = read_stream(path, strict=True)
    assert len(stream.events) == 20 and not stream.problems and not stream.truncated_tail


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_bad_line_in_a_cr_only_file_names_its_line(tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    write_stream(path, rows(10))
    text = path.read_text().split("\n")
    text[6] = "rubbish"
    path.write_text("\r".join(text))
    stream = read_stream(path)
    assert len(stream.events) == 9
    assert [p.line for p in stream.problems] == [7]


@pytest.mark.parametrize(("suffix", "head"), [
    (".jsonl", '{"t": 1, "participant": "p1", "emotion": "joy"}\n'),
    (".csv", "t,participant,emotion\n1,p1,joy\n"),
])
@pytest.mark.parametrize("garbage", ["garbage", "%%%%", "}{", "1,p1,joy,extra,cells", "\x00\x01"])
def test_a_garbage_last_line_without_newline_is_a_problem(tmp_path, suffix, head, garbage):
    path = write_text(tmp_path / f"s{suffix}", head + garbage)
    stream = read_stream(path)
    assert len(stream.events) == 1 and not stream.truncated_tail
    line = head.count("\n") + 1
    assert [p.line for p in stream.problems] == [line]
    with pytest.raises(StreamError, match=f"line {line}"):
        read_stream(path, strict=True)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_file_of_nothing_but_garbage_is_not_ok(tmp_path, suffix):
    path = write_text(tmp_path / f"s{suffix}", "t\x1b[2J garbage")
    if suffix == ".csv":  # the column row itself is garbage
        with pytest.raises(StreamError):
            read_stream(path)
        return
    stream = read_stream(path)
    assert stream.events == [] and len(stream.problems) == 1
    with pytest.raises(StreamError, match="line 1"):
        read_stream(path, strict=True)


@pytest.mark.parametrize("tail", [
    '{"t": 3.5, "partic', '{"t": 3.', '{"t": 3.5, "participant": "p\\u00', '{', '{"t": 3.5,',
    '{"t": 3.5, "participant": "p1", "emotion": "jo', '{"t": 3.5, "x": tr', '{"t": -',
])
def test_a_last_line_cut_off_mid_write_is_still_tolerated(tmp_path, tail):
    path = write_text(tmp_path / "s.jsonl", '{"t": 1, "participant": "p1", "emotion": "joy"}\n'
                      + tail)
    stream = read_stream(path, strict=True)
    assert len(stream.events) == 1 and stream.truncated_tail and not stream.problems


@pytest.mark.parametrize("tail", ["3,p1,jo", "3,p", "3.", '3,"p1', "", "3,p1,j", "3,p1,joy"])
def test_a_csv_row_cut_off_mid_write_is_still_tolerated(tmp_path, tail):
    path = write_text(tmp_path / "s.csv", "t,participant,emotion,x\n1,p1,joy,0.5\n" + tail)
    stream = read_stream(path, strict=True)
    assert len(stream.events) == 1 and not stream.problems
    assert stream.truncated_tail == bool(tail)


@pytest.mark.parametrize("tail", ["abc,p1", "3,p1,glee", "-5,p1", "3,p1,joy,7"])
def test_a_short_csv_tail_that_cannot_be_a_good_row_is_a_problem(tmp_path, tail):
    path = write_text(tmp_path / "s.csv", "t,participant,emotion,x\n1,p1,joy,0.5\n" + tail)
    stream = read_stream(path)
    assert len(stream.events) == 1 and len(stream.problems) == 1
    assert stream.problems[0].line == 3 and not stream.truncated_tail


# --- duplicate columns ----------------------------------------------------------------------


def test_a_duplicate_csv_column_is_an_error_naming_it(tmp_path):
    path = write_text(tmp_path / "s.csv", "t,participant,emotion,participant\n1,a,joy,b\n")
    with pytest.raises(StreamError, match="'participant'.*twice") as caught:
        read_stream(path)
    assert "line 1" in str(caught.value) and "columns 2 and 4" in str(caught.value)


def test_duplicate_unknown_columns_are_harmless(tmp_path):
    path = write_text(tmp_path / "s.csv", "note,t,participant,emotion,note,,\nx,1,a,joy,y,,\n")
    assert len(read_stream(path, strict=True).events) == 1


# --- huge values are echoed as excerpts -----------------------------------------------------


def test_excerpt_cuts_long_values_and_says_how_long():
    assert excerpt("joy") == "'joy'"
    cut = excerpt("x" * 1_000_000)
    assert len(cut) < 100 and "1,000,000 characters" in cut and cut.startswith("'xxx")
    assert len(excerpt(list(range(100_000)))) < 100
    assert len(excerpt({"k" * 500: "v"})) < 100
    assert len(excerpt(10**10_000)) < 100  # an int past Python's str limit is no crash
    assert excerpt(1.5) == "1.5"


@pytest.mark.parametrize("obj", [
    {"t": 1, "participant": "p" * 1_000_000, "emotion": "joy"},
    {"t": 1, "participant": "p1", "emotion": "e" * 1_000_000},
    {"t": "9" * 1_000_000, "participant": "p1", "emotion": "joy"},
    {"t": 1, "type": "x" * 1_000_000},
    {"t": 1, "participant": ["p"] * 1_000_000, "emotion": "joy"},
    {"t": 1, "type": "marker", "name": "n" * 1_000_000},
])
def test_event_errors_echo_short_excerpts(obj):
    with pytest.raises(EventError) as caught:
        event_from_dict(obj, coerce=True)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_megabyte_participant_makes_a_short_warning(tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    write_stream(path, [EmotionEvent(1.0, "p" * 1_000_000, 0.1, 0.2)] + rows(3))
    stream = read_stream(path)
    assert len(stream.events) == 3
    (problem,) = stream.problems
    assert problem.field == "participant" and len(str(problem)) < 300
    assert "1,000,000 characters" in str(problem)
    assert len(repr(problem.value)) < 300  # the problem does not hold the megabyte either


def test_a_huge_bad_json_line_makes_a_short_warning(tmp_path):
    huge = '{"t": 1, "participant": "' + "p" * 5_000_000 + '", oops}\n'
    good = '{"t": 2, "participant": "p", "emotion": "joy"}\n'
    path = write_text(tmp_path / "s.jsonl", huge + good)
    stream = read_stream(path)
    assert len(stream.events) == 1
    assert len(str(stream.problems[0])) < 300


def test_a_csv_header_comment_nested_too_deeply_is_a_problem(tmp_path):
    nested = '# {"type": "header", "a": ' + "[" * 100_000
    path = write_text(tmp_path / "s.csv", nested + "\nt,participant,emotion\n1,a,joy\n")
    stream = read_stream(path)
    assert len(stream.events) == 1 and stream.problems[0].line == 1


# --- fuzz -----------------------------------------------------------------------------------

GOOD_EVENTS = st.one_of(
    st.builds(EmotionEvent, t=st.floats(0, 1e6), participant=st.sampled_from(["p1", "a b", "ü"]),
              valence=st.floats(-1, 1), arousal=st.floats(0, 1), intensity=st.floats(0, 1),
              emotion=st.sampled_from([None, "joy", "calm"]),
              x=st.one_of(st.none(), st.floats(0, 1)), y=st.one_of(st.none(), st.floats(0, 1))),
    st.builds(SignalEvent, t=st.floats(0, 1e6), level=st.floats(0, 1),
              participant=st.sampled_from([None, "p1"])),
    st.builds(MarkerEvent, t=st.floats(0, 1e6), name=st.sampled_from(["cue", 'a "q"', "x,y"])),
)


def _fix(event):
    """Events as the writers make them: an emotion's point is its label's when labelled."""
    if isinstance(event, EmotionEvent) and event.emotion is not None:
        return event_from_dict(event.to_dict())
    return event


FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # tmp_path is reused, each case overwrites
MUTATIONS = st.sampled_from(["quote", "cr", "nul", "cut", "huge", "join", "garbage", "esc"])


def _mutate(line: str, kind: str, where: float) -> str:
    at = int(where * len(line))
    if kind == "quote":
        return line[:at] + '"' + line[at:]
    if kind == "cr":
        return line[:at] + "\r" + line[at:]
    if kind == "nul":
        return line[:at] + "\x00" + line[at:]
    if kind == "cut":
        return line[:at]
    if kind == "huge":
        return line[:at] + "Z" * 200_000 + line[at:]
    if kind == "garbage":
        return line[:at] + "\udcff\x1b[31m}{,,\"" + line[at:]
    if kind == "esc":
        return line[:at] + "\\" + line[at:]
    return line  # "join" is handled by the caller


def _fuzz_case(tmp_path, suffix, events, mutations, final_newline):
    path = tmp_path / f"fuzz{suffix}"
    events = [_fix(e) for e in events]
    write_stream(path, events)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")[:-1]
    first = 1 if suffix == ".csv" else 0  # the column row stays
    good = [True] * len(lines)
    for index, kind, where in mutations:
        i = first + index % max(1, len(lines) - first)
        if i >= len(lines):
            continue
        good[i] = False
        if kind == "join" and i + 1 < len(lines):
            lines[i] += lines[i + 1]
            lines[i + 1] = ""
            good[i + 1] = False
        else:
            lines[i] = _mutate(lines[i], kind, where)
    body = "\n".join(lines) + ("\n" if final_newline else "")
    write_text(path, body)
    stream = read_stream(path)
    expected = Counter()
    for i, ok in enumerate(good):
        if ok and i >= first:
            expected[events[i - first]] += 1
    got = Counter(stream.events)
    missing = expected - got
    assert not missing, f"good lines lost: {list(missing)[:3]}"
    for problem in stream.problems:
        assert len(str(problem)) < 400
    with contextlib.suppress(StreamError):  # strict: the first bad line, cleanly
        read_stream(path, strict=True)


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(suffix=st.sampled_from([".jsonl", ".csv"]),
       events=st.lists(GOOD_EVENTS, min_size=1, max_size=12),
       mutations=st.lists(st.tuples(st.integers(0, 50), MUTATIONS, st.floats(0, 1)), max_size=4),
       final_newline=st.booleans())
def test_fuzz_mutated_good_files_lose_no_good_line(tmp_path, suffix, events, mutations,
                                                    final_newline):
    _fuzz_case(tmp_path, suffix, events, mutations, final_newline)


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(suffix=st.sampled_from([".jsonl", ".csv"]), data=st.binary(max_size=400),
       strict=st.booleans())
def test_fuzz_random_bytes_give_a_result_or_a_clean_error(tmp_path, suffix, data, strict):
    path = tmp_path / f"bytes{suffix}"
    path.write_bytes(data)
    try:
        stream = read_stream(path, strict=strict)
    except StreamError as exc:
        assert len(str(exc)) < 400
        return
    for problem in stream.problems:
        assert len(str(problem)) < 400


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE_OK)
@given(suffix=st.sampled_from([".jsonl", ".csv"]),
       events=st.lists(GOOD_EVENTS, min_size=1, max_size=8),
       noise=st.lists(st.tuples(st.integers(0, 20), st.one_of(
           st.text(max_size=30), st.text(alphabet='"{}[],:\\\x00\x1b ab1.-e', max_size=30))),
           max_size=4))
def test_fuzz_random_lines_between_good_ones_lose_no_good_line(tmp_path, suffix, events, noise):
    path = tmp_path / f"noise{suffix}"
    events = [_fix(e) for e in events]
    write_stream(path, events)
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    first = 1 if suffix == ".csv" else 0
    for at, text in sorted(noise, reverse=True):
        # noise is a line of its own: no line breaks inside it
        text = text.replace("\n", " ").replace("\r", " ")
        lines.insert(first + at % (len(lines) - first + 1), text)
    write_text(path, "\n".join(lines) + "\n")
    stream = read_stream(path)
    assert not Counter(events) - Counter(stream.events)


def test_fuzz_helper_finds_a_lost_line_when_there_is_one(tmp_path, monkeypatch):
    """The fuzz property has teeth: a reader that drops the line after a bad one fails it."""
    import mural.events.formats as formats

    real = formats.read_stream

    def lossy(path, **kwargs):
        stream = real(path, **kwargs)
        if stream.problems:
            stream.events = stream.events[1:]
        return stream

    monkeypatch.setattr("tests.events.test_hardening.read_stream", lossy)
    events = [MarkerEvent(float(k), f"m{k}") for k in range(4)]
    with pytest.raises(AssertionError, match="good lines lost"):
        _fuzz_case(tmp_path, ".jsonl", events, [(1, "garbage", 0.5)], True)


def test_json_header_and_events_survive_a_bad_neighbour(tmp_path):
    path = write_text(tmp_path / "s.jsonl", "\n".join([
        json.dumps({"type": "header", "scenario": "x"}),
        '{"t": 1, "participant": "a", "emotion": "joy"}',
        '{"t": 2, "participant": "b", "emotion": "joy"',  # a brace short
        '{"t": 3, "participant": "c", "emotion": "joy"}',
    ]) + "\n")
    stream = read_stream(path)
    assert stream.header is not None
    assert [e.participant for e in stream.events] == ["a", "c"]
    assert [p.line for p in stream.problems] == [3]
