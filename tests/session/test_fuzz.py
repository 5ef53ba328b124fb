"""Property-based: whatever a session file holds, checking it is a plan or a list of problems,
never a traceback."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mural.session import check_session
from mural.session.participants import check_participants

KEYS = ["size", "fps", "seed", "palette", "uri", "file", "at", "marker", "offset", "fade",
        "still", "add_source", "remove_source", "speed", "pause", "video", "start", "end",
        "crf", "exposure", "hue", "colour", "pattern", "weight", "name", "nope"]
TABLES = ["[mural]", "[[source]]", "[participants]", "[[cue]]", "[[output]]", "[ana]", "[x.y]"]
VALUES = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: "nan" if f != f else ("inf" if f == float("inf") else
                                        "-inf" if f == float("-inf") else repr(f))),
    st.sampled_from(['"1920x1080"', '"0x0"', '"99999x99999"', '"1:05"', '"1:05..3:00"',
                     '"session"', '"abyss"', '"night.jsonl"', '"sim:calm"', '"osc://:0"',
                     '"foo://x"', '"out/x.mp4"', '"x.png"', '"ring"', '"#84f8ca"', '""',
                     "true", "[]", "[1, 2]", "{a = 1}", '"\\u0000"']),
    st.text(max_size=20).map(json.dumps),
)
LINES = st.one_of(st.sampled_from(TABLES),
                  st.tuples(st.sampled_from(KEYS), VALUES).map(lambda kv: f"{kv[0]} = {kv[1]}"),
                  st.text(max_size=30))


QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=150, deadline=None, suppress_health_check=QUIET)
@given(lines=st.lists(LINES, max_size=25))
def test_any_session_text_is_a_plan_or_problems(tmp_path, lines):
    (tmp_path / "night.jsonl").write_text('{"t": 0, "participant": "a", "emotion": "joy"}\n'
                                          '{"t": 2, "participant": "a", "emotion": "calm"}\n')
    path = tmp_path / "show.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    plan, problems, warnings = check_session(path)
    assert (plan is None) == bool(problems)
    assert all(str(p) for p in problems) and all(isinstance(w, str) for w in warnings)
    people, trouble = check_participants(path)
    assert isinstance(people, dict) and all(str(p) for p in trouble)


@settings(max_examples=60, deadline=None, suppress_health_check=QUIET)
@given(raw=st.binary(max_size=400))
def test_any_bytes_are_problems_not_a_crash(tmp_path, raw):
    path = tmp_path / "show.toml"
    path.write_bytes(raw)
    plan, problems, _ = check_session(path)
    assert plan is None or not problems
