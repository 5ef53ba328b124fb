"""Checking rendered files: PNG folders, GIFs and videos read back and analysed for flashes."""

from __future__ import annotations

import pytest
from PIL import Image

from mural.show.flashes import FlashInputError, analyse_video
from tests.safety import BLACK, WHITE, solid, strobe


def test_png_folder_in_natural_order(tmp_path):
    frames = strobe(1, fps=10, seconds=1)  # one blink, if read in order
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"frame_{i}.png")
    assert analyse_video(tmp_path, fps=10).max_general <= 1
    assert analyse_video(tmp_path, fps=10).frames == 10
    # lexicographic order (0, 1, 10, 11, ..., 2) would scramble a longer blink
    frames = strobe(0.5, fps=12, seconds=2)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"f{i}.png")
    for p in tmp_path.glob("frame_*.png"):
        p.unlink()
    assert analyse_video(tmp_path, fps=12).max_general <= 1


def test_gif_uses_frame_delays_and_loops(tmp_path):
    on, off = Image.fromarray(solid(WHITE)), Image.fromarray(solid(BLACK))
    path = tmp_path / "blink.gif"
    on.save(path, save_all=True, append_images=[off], duration=[100, 100], loop=0)
    report = analyse_video(path)
    assert report.fps == pytest.approx(10)
    assert report.loops > 1 and not report.passed  # 5 Hz once looped
    slow = tmp_path / "slow.gif"
    on.save(slow, save_all=True, append_images=[off], duration=[500, 500], loop=0)
    assert analyse_video(slow).passed


def test_unreadable_inputs_raise_input_errors(tmp_path):
    with pytest.raises(FlashInputError):
        analyse_video(tmp_path / "missing.mp4")
    with pytest.raises(FlashInputError):
        analyse_video(tmp_path)  # no PNGs
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    with pytest.raises(FlashInputError):
        analyse_video(junk)
    bad_gif = tmp_path / "bad.gif"
    bad_gif.write_bytes(b"GIF89a garbage")
    with pytest.raises(FlashInputError):
        analyse_video(bad_gif)
