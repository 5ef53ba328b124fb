"""`mural demo`: the headless path writes a video and a still; with a display it plays."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # a window without a screen, before pygame loads

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from mural.cli import main  # noqa: E402
from mural.show import demo  # noqa: E402
from mural.sinks.png import read_png_metadata  # noqa: E402
from mural.sinks.video import probe_video  # noqa: E402


@pytest.fixture
def tiny_demo(monkeypatch):
    """The real demo path at a size and span a test can afford."""
    monkeypatch.setattr(demo, "VIDEO_SIZE", (64, 36))
    monkeypatch.setattr(demo, "VIDEO_START", 4.0)
    monkeypatch.setattr(demo, "STILL_AT", 5.0)
    monkeypatch.setattr(demo, "WINDOW_SIZE", (160, 90))


def run(*args: str):
    return CliRunner().invoke(main, ["demo", *args])


def test_without_a_display_it_renders_a_video_and_a_still(tiny_demo, monkeypatch, tmp_path):
    from mural.sinks import display

    monkeypatch.setattr(display, "display_problem", lambda: "no display found (test)")
    monkeypatch.chdir(tmp_path)
    result = run("--duration", "1")
    assert result.exit_code == 0, result.output
    assert "no window: no display found" in result.output
    video, still = tmp_path / "mural-demo.mp4", tmp_path / "mural-demo.png"
    assert f"video: {video}" in result.output and f"still: {still}" in result.output
    info = probe_video(video)
    assert (info["frames"], info["width"], info["height"]) == (30, 64, 36)
    assert read_png_metadata(still)["mural:time"] == "5"
    again = run("--duration", "1", "--no-window")  # a second run keeps the first
    assert again.exit_code == 0, again.output
    assert (tmp_path / "mural-demo-2.mp4").exists() and (tmp_path / "mural-demo-2.png").exists()


def test_with_a_display_it_plays(tiny_demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("--duration", "0.5")
    assert result.exit_code == 0, result.output
    assert "playing festival.jsonl" in result.output
    assert "played " in result.output.strip().splitlines()[-1]
    assert not list(tmp_path.iterdir())


def test_duration_must_be_positive():
    result = run("--duration", "0")
    assert result.exit_code == 2
    assert "more than 0" in result.output


def test_default_headless_demo_covers_the_blackout_and_recovery():
    """The shipped settings: 12 s of 720p video at 30 fps, 88..124 s of the festival at 3x."""
    from mural.show.video import frame_count

    end = demo.VIDEO_START + demo.VIDEO_SECONDS * demo.VIDEO_SPEED
    assert frame_count(demo.VIDEO_START, end, demo.VIDEO_FPS, demo.VIDEO_SPEED) == 360
    assert demo.VIDEO_START < 93 < 113 < demo.STILL_AT < end  # blackout, recovery, still
