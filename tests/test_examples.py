"""Every example runs: the festival session, a stream built in code, an OSC sensor, a palette."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from mural.cli import main
from mural.events import EmotionEvent
from mural.show.palettes import load_palette
from mural.sinks.video import probe_video
from mural.sources import open_source

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_examples(tmp_path: Path) -> Path:
    """The examples beside a copy of the festival recording, as in the repository."""
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("out", "__pycache__"))
    (tmp_path / "assets" / "sessions").mkdir(parents=True)
    shutil.copy(ROOT / "assets" / "sessions" / "festival.jsonl", tmp_path / "assets" / "sessions")
    return folder


def test_the_festival_session_validates():
    result = CliRunner().invoke(main, ["validate", str(EXAMPLES / "festival_night.toml"),
                                       "--force"])
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output and "2 cue(s)" in result.output


def test_the_festival_session_runs_small_and_short(tmp_path):
    folder = copy_examples(tmp_path)
    result = CliRunner().invoke(main, [
        "run", str(folder / "festival_night.toml"), "--size", "96x54", "--fps", "4",
        "--poster-size", "160x90", "--until", "1:06", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    out = folder / "out"
    video = probe_video(out / "night.mp4")
    assert video["frames"] == 44 and video["width"] == 96  # 0:55..1:06 at 4 fps
    assert Image.open(out / "poster.png").size == (160, 90)
    assert not (out / "recovery.png").exists()  # its cue (1:53) is after --until
    assert "skipped" in result.output


def test_build_stream_example(tmp_path):
    example = load_example("build_stream")
    out = example.main([str(tmp_path / "built.mp4"), "--size", "96x54", "--fps", "6",
                        "--seconds", "3", "--stream", str(tmp_path / "built.jsonl")])
    assert probe_video(out)["frames"] == 18
    assert (tmp_path / "built.jsonl").stat().st_size > 0


def test_osc_sensor_example_reaches_a_listening_mural():
    example = load_example("osc_sensor")
    source = open_source("osc://127.0.0.1:0")
    try:
        sent = example.send(f"osc://127.0.0.1:{source.port}", duration=0.4, rate=20)
        events = []
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and len(events) < 4:
            events += source.poll(1e9)
            time.sleep(0.05)
    finally:
        source.close()
    assert sent >= 6
    emotions = [e for e in events if isinstance(e, EmotionEvent)]
    assert emotions and all(e.participant.startswith("sensor") for e in emotions)
    assert any(e.heart_rate is not None for e in emotions)


def test_the_moonlit_palette_renders_a_still(tmp_path):
    palette = EXAMPLES / "palettes" / "moonlit.toml"
    assert load_palette(palette).name == "moonlit"
    out = tmp_path / "moon.png"
    result = CliRunner().invoke(main, ["still", "sim:calm?duration=6", "--at", "5", "-o",
                                       str(out), "--size", "96x54", "--palette", str(palette)])
    assert result.exit_code == 0, result.output
    frame = np.asarray(Image.open(out))
    assert frame.mean() > 2
