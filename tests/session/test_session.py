"""Session files: parsing, every problem with its line, cues at exact frames, outputs, live play."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mural.session import (
    Overrides,
    SessionError,
    TomlLines,
    check_session,
    load_session,
    parse_range,
    parse_session,
    play_plan,
    run_session,
)
from mural.show.wall import Wall
from mural.sinks.video import probe_video
from mural.sources.offline import load_offline

SIZE = "96x54"


def write_stream(path: Path, seconds: float = 4.0, people: int = 4, prefix: str = "p") -> Path:
    """A tiny night: expressions every 0.25 s, a blackout at 2 s, recovery at 3 s."""
    lines = [{"t": 0.2, "type": "marker", "name": "start"}]
    t = 0.0
    feelings = ("joy", "awe", "calm", "love")
    while t < seconds:
        for i in range(people):
            lines.append({"t": round(t + 0.01 * i, 3), "participant": f"{prefix}{i}",
                          "emotion": feelings[i % 4], "intensity": 0.9})
        t += 0.25
    lines += [{"t": 2.0, "type": "signal", "level": 0.0},
              {"t": 2.0, "type": "marker", "name": "drop"},
              {"t": 3.0, "type": "signal", "level": 1.0},
              {"t": 3.0, "type": "marker", "name": "recovery"}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


@pytest.fixture
def night(tmp_path):
    write_stream(tmp_path / "night.jsonl")
    return tmp_path


def session(folder: Path, body: str, name: str = "show.toml") -> Path:
    path = folder / name
    path.write_text(body)
    return path


HEAD = f"""\
[mural]
size = "{SIZE}"
fps = 10
seed = 3
palette = "abyss"

[[source]]
uri = "night.jsonl"
"""


def test_a_good_session_parses_with_paths_relative_to_the_file(night):
    path = session(night, HEAD + """
[participants]
file = "people.toml"

[[cue]]
at = "0:01.5"
palette = "ember"
fade = 1

[[cue]]
marker = "recovery"
offset = 0.5
still = "out/recovery.png"
size = "160x90"

[[output]]
video = "out/night.mp4"
start = 1
end = "0:03"

[[output]]
still = "out/poster.png"
exposure = "1..3"
size = "320x180"
""")
    (night / "people.toml").write_text("[p0]\nhue = 509\n")
    parsed, problems = parse_session(path)
    assert problems == []
    assert parsed.mural.size == (96, 54) and parsed.mural.fps == 10 and parsed.mural.seed == 3
    assert parsed.sources[0].uri == str(night / "night.jsonl")
    assert parsed.participants == str(night / "people.toml")
    first, second = parsed.cues
    assert first.at == 1.5 and first.palette == "ember" and first.fade == 1
    assert second.marker == "recovery" and second.offset == 0.5 and second.size == (160, 90)
    assert second.still == str(night / "out" / "recovery.png")
    video, poster = parsed.outputs
    assert (video.kind, video.start, video.end) == ("video", 1.0, 3.0)
    assert (poster.kind, poster.start, poster.end, poster.size) == ("exposure", 1, 3, (320, 180))
    plan = load_session(path)
    assert [round(c.t, 3) for c in plan.cues] == [1.5, 3.5]
    assert plan.markers["recovery"] == 3.0 and "p0" in plan.personal


def test_spans_and_toml_lines():
    assert parse_range("session") == (0.0, None)
    assert parse_range("1:05..3:00") == (65.0, 180.0)
    assert parse_range("10-20") == (10.0, 20.0)
    assert parse_range("65:180") == (65.0, 180.0)
    assert parse_range("60..") == (60.0, None)
    assert parse_range([5, "0:10"]) == (5.0, 10.0)
    for bad in ("1:2:3", "20..10", "soon", 5):
        with pytest.raises(ValueError):
            parse_range(bad)
    lines = TomlLines.scan('a = 1\n[[cue]]\nat = 1\n[[cue]]\n  marker = "x" # hi\n[mural]\n')
    assert lines.key("", 0, "a") == 1
    assert lines.key("cue", 1, "marker") == 5 and lines.table("cue", 1) == 4
    assert lines.key("cue", 0, "nothing") == 2  # falls back to the table's line
    assert lines.table("mural") == 6


def problems_of(path: Path, **kwargs) -> dict[int | None, str]:
    plan, problems, _ = check_session(path, **kwargs)
    assert plan is None
    return {p.line: p.message for p in problems}


def test_toml_syntax_error_has_its_line(night):
    path = session(night, HEAD + '\n[[cue]]\nat = 1\npalette = "ember\n')
    found = problems_of(path)
    assert list(found) == [12] and "not valid TOML" in found[12]


@pytest.mark.parametrize(("extra", "line", "words"), [
    ('\n[[cue]]\nat = 1\npallete = "ember"\n', 12, "unknown key 'pallete'"),
    ('\n[[cue]]\nat = "1:7x"\npalette = "ember"\n', 11, "at: time must be"),
    ('\n[[cue]]\nat = 1\npalette = "coral"\n', 12, "unknown palette 'coral'"),
    ('\n[[cue]]\nmarker = "dawn"\npalette = "ember"\n', 11, "marker 'dawn' is not in the stream"),
    ('\n[[output]]\nvideo = "night.mp4"\nend = 5\nstart = 6\n', 12, "must be after start"),
    ('\n[[output]]\nstill = "a.png"\nat = 1\nexposure = "session"\n', 10, "exactly one of"),
    ('\n[[source]]\nuri = "missing.jsonl"\n', 11, "no such file"),
    ('\n[[output]]\nvideo = "clip.avi"\n', 11, "unknown suffix"),
    ('\n[colours]\nx = 1\n', 10, "unknown table"),
])
def test_each_broken_file_is_reported_at_its_line(night, extra, line, words):
    found = problems_of(session(night, HEAD + extra))
    assert line in found, found
    assert words in found[line]


def test_an_existing_output_is_a_problem_unless_forced(night):
    (night / "taken.png").write_bytes(b"x")
    path = session(night, HEAD + '\n[[output]]\nstill = "taken.png"\nat = 1\n')
    assert "exists" in problems_of(path)[11]
    plan, problems, _ = check_session(path, force=True)
    assert plan is not None and problems == []


def test_every_problem_is_reported_at_once(night):
    body = HEAD.replace('palette = "abyss"', 'palette = "nope"') + """
[[cue]]
at = "soon"
palette = "ember"

[[cue]]
marker = "dawn"
still = "a.png"

[[output]]
video = "v.mp4"
colour = "red"
"""
    found = problems_of(session(night, body))
    assert set(found) == {5, 11, 15, 20}, found


def test_a_session_with_an_error_renders_nothing(night):
    path = session(night, HEAD + """
[[output]]
video = "out/clip.mp4"
end = 2

[[output]]
still = "out/at1.png"
at = 1

[[cue]]
marker = "dawn"
palette = "ember"
""")
    with pytest.raises(SessionError) as caught:
        run_session(path)
    assert "dawn" in str(caught.value)
    assert not (night / "out").exists()


def frames_of(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted(folder.glob("frame_*.png"))]


def test_a_palette_cue_crossfades_inside_the_video_at_its_exact_frames(night):
    video = '\n[[output]]\nvideo = "{0}/"\nstart = 1\nend = 3\n'
    plain = session(night, HEAD + video.format("plain"), "plain.toml")
    cued = session(night, HEAD + video.format("cued") + """
[[cue]]
at = 2
palette = "ember"
fade = 0.5
""", "cued.toml")
    run_session(plain)
    run_session(cued)
    a, b = frames_of(night / "plain"), frames_of(night / "cued")
    assert len(a) == len(b) == 20  # 2 s at 10 fps
    for k in range(10):  # frames at 1.0 .. 1.9 s: before the cue
        assert np.array_equal(a[k], b[k]), k
    for k in range(11, 20):  # after it: ember's grade
        assert not np.array_equal(a[k], b[k]), k
    # the crossfade is a function of time: frame 12 (t=2.2) is 40 % of the way to ember
    reference = Wall(load_offline(str(night / "night.jsonl")).events, size=(96, 54), seed=3)
    reference.advance_to(2.0)
    reference.set_palette("ember", 0.5)
    assert np.array_equal(reference.frame_at(2.2), b[12])


def test_a_still_cue_at_a_marker_is_the_frame_at_the_marker(night):
    path = session(night, HEAD + '\n[[cue]]\nmarker = "drop"\nstill = "out/drop.png"\n')
    result = run_session(path)
    assert result.written == [night / "out" / "drop.png"]
    expected = Wall(load_offline(str(night / "night.jsonl")).events, size=(96, 54),
                     seed=3).frame_at(2.0)
    assert np.array_equal(np.asarray(Image.open(night / "out" / "drop.png")), expected)


def test_outputs_have_the_right_frames_sizes_and_pauses(night):
    path = session(night, HEAD + """
[[output]]
video = "out/clip.mp4"
end = 2

[[output]]
video = "out/small.gif"
start = 1
end = 2
fps = 5
size = "64x36"

[[output]]
video = "out/held/"
start = 1
end = 2

[[output]]
still = "out/at1.png"
at = 1
size = "160x90"

[[cue]]
at = 1.5
pause = 0.3
""")
    run_session(path, quiet=True)
    out = night / "out"
    clip = probe_video(out / "clip.mp4")
    assert clip["frames"] == 20 + 3 and (clip["width"], clip["height"]) == (96, 54)
    gif = probe_video(out / "small.gif")
    assert gif["frames"] == 5 + 2 and gif["width"] == 64  # a pause holds 0.3 s = 1.5 -> 2 frames
    held = frames_of(out / "held")
    assert len(held) == 13
    for k in range(5, 9):  # the frame at 1.5 s, then the pause holds it for 3 more
        assert np.array_equal(held[k], held[5])
    assert not np.array_equal(held[9], held[5])
    assert Image.open(out / "at1.png").size == (160, 90)


def test_add_and_remove_sources_at_cues(night):
    write_stream(night / "late.jsonl", prefix="late")
    plan = load_session(session(night, HEAD + """
[[cue]]
at = 1
add_source = "late.jsonl"

[[cue]]
at = 2.5
remove_source = "night.jsonl"
"""))
    late = [e for e in plan.events if getattr(e, "participant", "") and
            e.participant.startswith("late")]
    own = [e for e in plan.events if getattr(e, "participant", "") and
           e.participant.startswith("p")]
    assert min(e.t for e in late) >= 1.0
    assert max(e.t for e in own) < 2.5


def test_overrides_win_over_the_file(night):
    path = session(night, HEAD + """
[[output]]
video = "v.mp4"
size = "320x180"

[[output]]
still = "poster.png"
exposure = "session"
""")
    plan = load_session(path, overrides=Overrides(size=(64, 36), seed=9, fps=5, palette="lagoon",
                                                  poster_size=(128, 72), until=2))
    settings = plan.session.mural
    assert (settings.size, settings.seed, settings.fps, settings.palette) == (
        (64, 36), 9, 5, "lagoon")
    video, poster = plan.outputs
    assert video.size == (64, 36) and video.fps == 5 and video.end == 2
    assert poster.size == (128, 72) and poster.end == 2


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += max(0.0, seconds)


class _Sink:
    def __init__(self, size=(96, 54)):
        self.size = size
        self.fullscreen = False
        self.shown = 0

    def show(self, frame, hud=None):
        self.shown += 1

    def poll(self):
        return []

    def mouse(self):
        return None

    def toggle_fullscreen(self):
        self.fullscreen = not self.fullscreen

    def close(self):
        pass


def test_a_live_session_plays_its_cues_and_writes_outputs_from_what_was_played(night):
    path = session(night, HEAD + """
[[source]]
uri = "osc://127.0.0.1:0"

[[cue]]
at = 0.5
palette = "ember"
fade = 0.5

[[cue]]
marker = "drop"
still = "out/drop.png"

[[output]]
video = "out/live/"
""")
    plan, problems, _ = check_session(path)
    assert problems == [] and plan.live
    clock = _Clock()
    result = play_plan(plan, sink=_Sink(), clock=clock, sleep=clock.advance, duration=2.6,
                       fps=10)
    assert (night / "out" / "drop.png").exists()
    frames = frames_of(night / "out" / "live")
    assert 20 <= len(frames) <= 27  # ~2.5 s of mural time at 10 fps
    assert night / "out" / "drop.png" in result.written


def test_an_added_source_whose_port_is_taken_at_its_cue_comes_up_when_it_is_free(night):
    import socket
    import time

    from pythonosc.udp_client import SimpleUDPClient

    from mural.session.live import LiveShow, session_player

    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 0))  # someone else holds the port when the cue fires
    port = blocker.getsockname()[1]
    uri = f"osc://127.0.0.1:{port}"
    path = session(night, HEAD + f"""
[[cue]]
at = 0.5
add_source = "{uri}"
""")
    plan, problems, _ = check_session(path)
    assert problems == [] and plan.live
    clock = _Clock()

    def play(player, seconds):
        for _ in range(round(seconds * 10)):
            clock.advance(0.1)
            player.tick()

    try:
        with session_player(plan, _Sink(), clock=clock, sleep=clock.advance, fps=10) as player:
            show = LiveShow(plan, player)
            play(player, 1.0)
            assert [c.cue.add_source for c in show.fired] == [uri]
            added = player.feed.by_uri[uri]
            assert not added.healthy and not player.done  # the show goes on without it
            blocker.close()  # the port is free again
            play(player, 1.5)  # past the first backoff: it opens on its port
            assert added.healthy and not player.done
            client = SimpleUDPClient("127.0.0.1", port)
            deadline = time.monotonic() + 5.0  # the receiver thread needs a moment
            while time.monotonic() < deadline and not any(
                    getattr(e, "participant", None) == "late" for e in show.log):
                client.send_message("/mural/emotion", ["late", "joy", 0.8])
                play(player, 0.1)
                time.sleep(0.01)
            assert any(getattr(e, "participant", None) == "late" for e in show.log)
            play(player, 0.2)
            assert "late" in player.mural.engine.participants.index
    finally:
        blocker.close()
