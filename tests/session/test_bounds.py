"""Session files from a hostile or clumsy author: every number bounded, every plan lazy, every
problem one line with its place, never a traceback."""

from __future__ import annotations

import pytest

from mural.session import check_session, run_session
from tests.session.test_session import HEAD, session, write_stream


@pytest.fixture
def night(tmp_path):
    write_stream(tmp_path / "night.jsonl")
    return tmp_path


def problems_of(folder, body: str) -> list[str]:
    plan, problems, _ = check_session(session(folder, body))
    assert plan is None, "expected problems"
    return [str(p) for p in problems]


@pytest.mark.parametrize("body, words", [
    ('[[output]]\nvideo = "a.mp4"\nend = 9999999\n', "more than one output holds"),
    ('[[output]]\nvideo = "a.mp4"\nspeed = 1e-300\n', "speed: must be"),
    ('[[output]]\nvideo = "a.mp4"\nfps = 0.0001\n', "fps: must be"),
    ('[[output]]\nvideo = "a.mp4"\nfps = inf\n', "finite"),
    ('[[cue]]\nmarker = "drop"\noffset = inf\npalette = "ember"\n'
     '[[output]]\nstill = "a.png"\nat = 1\n', "offset: must be a finite number"),
    ('[[cue]]\nmarker = "drop"\noffset = 1e12\npalette = "ember"\n'
     '[[output]]\nstill = "a.png"\nat = 1\n', "offset: must be"),
    ('[[cue]]\nat = 1\nadd_source = "night.jsonl"\n[[output]]\nstill = "a.png"\nat = 1\n',
     "already a [[source]]"),
    ('[[output]]\nstill = "' + "x" * 300 + '.png"\nat = 1\n', "cannot write"),
])
def test_absurd_values_are_problems_at_their_line(night, body, words):
    found = problems_of(night, HEAD + body)
    assert any(words in p for p in found), found
    assert all(":" in p.split(" ")[0] or "show.toml" in p for p in found)


def test_a_huge_span_is_refused_before_any_memory_is_spent(night):
    import tracemalloc

    tracemalloc.start()
    try:
        problems_of(night, HEAD + '[[output]]\nvideo = "a.mp4"\nend = 9999999\nfps = 240\n')
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000


def test_deeply_nested_toml_is_one_problem(night):
    path = session(night, "a = " + "[" * 5000 + "]" * 5000 + "\n")
    plan, problems, _ = check_session(path)
    assert plan is None and len(problems) == 1 and "nested" in str(problems[0]) or (
        "TOML" in str(problems[0]))


def test_a_session_that_is_not_utf8_is_one_problem(night):
    path = night / "bad.toml"
    path.write_bytes(b"[mural]\nsize = \"\xff\xfe\"\n")
    plan, problems, _ = check_session(path)
    assert plan is None and "UTF-8" in str(problems[0])


def test_video_frames_are_planned_lazily(night, monkeypatch):
    """A long output renders frame by frame: nothing is planned per frame up front."""
    import mural.show.video as video

    seen: list[int] = []
    real = video.VideoWriter.write

    def write(self, frame):
        seen.append(self.frames_written)
        if len(seen) == 3:
            raise KeyboardInterrupt
        real(self, frame)

    monkeypatch.setattr(video.VideoWriter, "write", write)
    path = session(night, HEAD + '[[output]]\nvideo = "long/"\nend = 20000\nfps = 1\n')
    with pytest.raises(KeyboardInterrupt):
        run_session(path)
    assert seen == [0, 1, 2]
