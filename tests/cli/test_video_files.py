"""`mural video` never loses a file: existing folders, absurd sizes and speeds, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from mural.cli import main
from mural.show.palettes import assets_dir
from mural.sinks.video import probe_video

FESTIVAL = str(assets_dir() / "sessions" / "festival.jsonl")


def run(*args: str):
    return CliRunner().invoke(main, ["video", FESTIVAL, *args])


def test_an_existing_folder_named_like_a_video_is_not_filled_with_frames(tmp_path):
    folder = tmp_path / "x.mp4"
    folder.mkdir()
    result = run("-o", str(folder), "--size", "64x36", "--end", "1")
    assert result.exit_code == 1 and "existing folder" in result.output
    assert list(folder.iterdir()) == []


def test_sizes_ffmpeg_refuses_are_said_before_rendering(tmp_path):
    result = run("-o", str(tmp_path / "huge.mp4"), "--size", "16384x16384", "--end", "1")
    assert result.exit_code == 1 and "ffmpeg" in result.output and "frames folder" in result.output
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == []


def test_speeds_are_bounded(tmp_path):
    result = run("-o", str(tmp_path / "a.mp4"), "--speed", "1e-300")
    assert result.exit_code == 2 and "--speed" in result.output


def test_sigterm_keeps_a_playable_file_under_the_real_name(tmp_path):
    out = tmp_path / "term.mp4"
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}  # SIGABRT below dumps where it hung
    proc = subprocess.Popen([sys.executable, "-m", "mural", "video", FESTIVAL, "-o", str(out),
                             "--size", "160x90", "--start", "10", "--end", "400", "--fps",
                             "30"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=env)
    try:
        # Wait until frames are being encoded (the hidden temporary file grows); on a cold
        # numba cache the child compiles its kernels first, which can take a minute or more.
        grown = False
        for _ in range(2400):
            partial = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
            grown = bool(partial) and partial[0].stat().st_size > 20_000
            if grown or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert grown, "no frames were encoded"
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"SIGTERM did not stop the export:\n{err}") from None
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert out.exists(), err
    assert probe_video(out)["frames"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["term.mp4"]
    assert Path(out).stat().st_size > 0


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    import mural.sinks.video as video

    def full(self, frame):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(video._FfmpegBackend, "encode", full)
    out = tmp_path / "full.mp4"
    result = run("-o", str(out), "--size", "64x36", "--end", "2", "-q")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{out}: No space left on device" in result.output
    assert list(tmp_path.iterdir()) == []
