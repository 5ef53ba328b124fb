"""`mural check-flashes` on real files: MP4 from the shipped ffmpeg, PNG folders, bad input."""

from __future__ import annotations

import json

import imageio_ffmpeg
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mural.cli import main

H, W = 64, 96  # multiples of 16: no resizing by the encoder


def blink(hz: float, seconds: float, fps: int = 30) -> list[np.ndarray]:
    frames = []
    for t in range(round(seconds * fps)):
        on = int(np.floor(2 * hz * t / fps)) % 2 == 0
        frames.append(np.full((H, W, 3), 230 if on else 10, np.uint8))
    return frames


def write_mp4(path, frames, fps: int = 30):
    writer = imageio_ffmpeg.write_frames(
        str(path), (W, H), fps=fps, macro_block_size=16, ffmpeg_log_level="error"
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return path


def write_pngs(folder, frames):
    folder.mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame_{i:04d}.png")
    return folder


def run(*args: str):
    return CliRunner().invoke(main, ["check-flashes", *args])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    return {
        "calm": write_mp4(root / "calm.mp4", blink(1, 2)),
        "strobe": write_mp4(root / "strobe.mp4", blink(6, 2)),
    }


def test_calm_video_passes(videos):
    result = run(str(videos["calm"]))
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("PASS")
    assert any(line.split()[:1] == ["1"] for line in lines)  # a row per second


def test_strobing_video_fails(videos):
    result = run(str(videos["strobe"]))
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1].startswith("FAIL")
    assert "full frame" in result.output


def test_json_is_one_object_on_the_last_line(videos):
    result = run(str(videos["strobe"]), "--json")
    assert result.exit_code == 1
    data = json.loads(result.output.strip().splitlines()[-1])
    assert data["passed"] is False and data["fps"] == pytest.approx(30)
    assert data["max_general"] >= 5 and data["frames"] == 60
    assert {"second", "general", "red", "region"} <= set(data["seconds"][0])


def test_png_folders(tmp_path):
    calm = write_pngs(tmp_path / "calm", blink(1, 2))
    strobe = write_pngs(tmp_path / "strobe", blink(5, 2))
    assert run(str(calm)).exit_code == 0
    assert run(str(strobe)).exit_code == 1
    # the same frames read at a slower rate blink slowly enough
    slow = run(str(strobe), "--fps", "10", "--json")
    assert slow.exit_code == 0
    assert json.loads(slow.output.strip().splitlines()[-1])["fps"] == 10


@pytest.mark.parametrize("kind", ["missing", "junk", "empty_dir", "bad_png"])
def test_bad_input_is_a_clean_error(tmp_path, kind):
    if kind == "missing":
        target = tmp_path / "nope.mp4"
    elif kind == "junk":
        target = tmp_path / "junk.webm"
        target.write_bytes(b"\x00 definitely not a video")
    elif kind == "empty_dir":
        target = tmp_path / "empty"
        target.mkdir()
    else:
        target = tmp_path / "frames"
        target.mkdir()
        (target / "0001.png").write_bytes(b"not a png")
    result = run(str(target))
    assert result.exit_code == 2, result.output
    assert "Error" in result.output and "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
