"""Video export on real files: frame-exact counts and times, formats, determinism, Ctrl-C."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from mural.events import EmotionEvent, write_stream
from mural.show.palettes import assets_dir
from mural.show.video import (
    ExportError,
    ExportInterrupted,
    export_video,
    frame_count,
    frame_time,
    preset_for,
)
from mural.show.wall import Wall
from mural.sinks.png import read_png_metadata
from mural.sinks.video import probe_video
from mural.sources import SourceError
from mural.sources.offline import load_offline

FESTIVAL = str(assets_dir() / "sessions" / "festival.jsonl")
SIZE = (64, 36)
START = 5.0  # people are on the wall by then


def png_frames(folder) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("frame_*.png"))]


def test_frame_arithmetic_is_exact():
    assert frame_count(0.1, 0.4, 30) == 9
    assert frame_count(0, 10, 29.97) == 300
    assert frame_count(88, 112, 30, speed=2.0) == 360
    assert frame_time(0.1, 3, 30) == 0.2  # 0.1 + 3/30, rounded once
    assert frame_time(40, 45, 30) == 41.5
    assert frame_time(0, 1, Fraction(30000, 1001)) == 1001 / 30000
    assert frame_time(88, 30, 30, speed=2.0) == 90.0


def test_preset_follows_the_size():
    assert preset_for((1280, 720)) == "veryfast"
    assert preset_for((1920, 1080)) == "superfast"


def test_mp4_has_the_right_frames_size_fps_and_codec(tmp_path):
    out = tmp_path / "clip.mp4"
    result = export_video(FESTIVAL, out, fps=24, size=SIZE, start=START, end=START + 1.5,
                          quiet=True)
    info = probe_video(out)
    assert (info["frames"], info["width"], info["height"]) == (36, 64, 36)
    assert info["codec"] == "h264" and info["fps"] == pytest.approx(24)
    assert result.frames == 36 and result.size == SIZE and not result.interrupted
    assert result.video_seconds == 1.5
    line = result.summary()
    for part in (str(out), "36 frames", "64x36", "24 fps", "frames/s", "x real time"):
        assert part in line


def test_gif_has_the_right_frames_and_size(tmp_path):
    out = tmp_path / "clip.gif"
    export_video(FESTIVAL, out, fps=10, size=SIZE, start=START, end=START + 1, quiet=True)
    info = probe_video(out)
    assert (info["frames"], info["width"], info["height"], info["codec"]) == (10, 64, 36, "gif")
    assert info["fps"] == pytest.approx(10)


def test_frames_folder_is_deterministic_and_frame_exact(tmp_path):
    kwargs = dict(fps=10, size=SIZE, start=START, end=START + 0.5, seed=3, quiet=True)
    export_video(FESTIVAL, tmp_path / "a/", **kwargs)
    export_video(FESTIVAL, tmp_path / "b/", **kwargs)
    first, second = png_frames(tmp_path / "a"), png_frames(tmp_path / "b")
    assert len(first) == 5
    assert all(np.array_equal(x, y) for x, y in zip(first, second, strict=True))
    assert not np.array_equal(first[0], first[-1])  # it moves
    # frame k is the mural at start + k/fps, whatever the path that led there
    mural = Wall(load_offline(FESTIVAL).events, size=SIZE, seed=3)
    assert np.array_equal(first[3], mural.frame_at(START + 0.3))
    meta = read_png_metadata(tmp_path / "a" / "frame_000000.png")
    assert meta["mural:seed"] == "3"
    assert meta["mural:start"] == "5" and meta["mural:end"] == "5.5"
    assert meta["mural:fps"] == "10" and meta["mural:size"] == "64x36"


def test_end_defaults_to_the_stream_duration(tmp_path):
    path = tmp_path / "short.jsonl"
    write_stream(path, [EmotionEvent(t=t, participant="a", valence=0.5, arousal=0.5)
                        for t in (0.2, 0.9, 1.6)])
    result = export_video(str(path), tmp_path / "all/", fps=5, size=SIZE, quiet=True)
    assert result.frames == 8 and result.end == 1.6


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "clip.mp4"
    kwargs = dict(fps=10, size=SIZE, start=START, end=START + 0.3, quiet=True)
    export_video(FESTIVAL, out, **kwargs)
    with pytest.raises(FileExistsError):
        export_video(FESTIVAL, out, **kwargs)
    assert export_video(FESTIVAL, out, force=True, **kwargs).frames == 3


def test_ctrl_c_keeps_a_playable_file_of_what_was_rendered(tmp_path, monkeypatch):
    real_render = Wall.render
    calls = {"n": 0}

    def render_then_interrupt(self):
        if calls["n"] == 7:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real_render(self)

    monkeypatch.setattr(Wall, "render", render_then_interrupt)
    out = tmp_path / "cut.mp4"
    with pytest.raises(ExportInterrupted) as stop:
        export_video(FESTIVAL, out, fps=10, size=SIZE, start=START, end=START + 3, quiet=True)
    assert isinstance(stop.value, KeyboardInterrupt)
    assert stop.value.result.interrupted and stop.value.result.frames == 7
    assert probe_video(out)["frames"] == 7
    assert not list(tmp_path.glob(".*partial"))


def test_live_sources_cannot_be_exported(tmp_path):
    with pytest.raises(SourceError, match="live source"):
        export_video("osc://127.0.0.1:9000", tmp_path / "x.mp4", quiet=True)
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(start=10, end=10), "nothing to export"),
        (dict(start=500), "stream ends"),
        (dict(speed=0), "speed"),
    ],
)
def test_empty_or_impossible_spans_are_errors(tmp_path, kwargs, message):
    with pytest.raises(ExportError, match=message):
        export_video(FESTIVAL, tmp_path / "x.mp4", size=SIZE, quiet=True, **kwargs)
    assert not (tmp_path / "x.mp4").exists()


def test_a_trailing_slash_makes_a_frames_folder_even_with_a_dot(tmp_path):
    result = export_video(FESTIVAL, f"{tmp_path}/take.2/", fps=5, size=SIZE, start=START,
                          end=START + 0.4, quiet=True)
    assert result.kind == "frames" and probe_video(tmp_path / "take.2")["frames"] == 2


def test_unknown_suffix_is_an_error(tmp_path):
    with pytest.raises(ExportError, match="unknown suffix"):
        export_video(FESTIVAL, tmp_path / "x.avi", quiet=True)


def test_time_lapse_covers_more_of_the_recording(tmp_path):
    seen: list[float] = []
    result = export_video(FESTIVAL, tmp_path / "lapse/", fps=5, size=SIZE, start=START,
                          end=START + 2.4, speed=4.0, quiet=True,
                          frame_hook=lambda i, t, frame: seen.append(t))
    assert result.frames == 3 and seen == [5.0, 5.8, 6.6]
