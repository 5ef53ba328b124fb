"""Every writer on a read-only file system: one line naming the file, exit 1, nothing left
behind; and the installation plays on when its autosave cannot be written.

Runs where a read-only tmpfs can be mounted (root on Linux, as CI runs); skipped elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mural.cli import main


@pytest.fixture(scope="module")
def read_only(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("ro")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)],
                             capture_output=True)
    if mounted.returncode != 0 or os.access(where, os.W_OK) and _writable(where):
        pytest.skip(f"cannot mount a read-only tmpfs here ({mounted.stderr.decode().strip()})")
    yield where
    subprocess.run(["umount", str(where)], capture_output=True)


def _writable(folder: Path) -> bool:
    try:
        (folder / ".probe").write_text("x")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


@pytest.mark.parametrize("args, name", [
    (["still", "sim:calm", "--at", "1", "--size", "64x36", "-o"], "x.png"),
    (["still", "sim:calm", "--exposure", "0..2", "--size", "64x36", "-o"], "p.png"),
    (["video", "sim:calm", "--size", "64x36", "--end", "1", "-q", "-o"], "v.mp4"),
    (["video", "sim:calm", "--size", "64x36", "--end", "1", "-q", "-o"], "frames/"),
    (["simulate", "calm", "-o"], "s.jsonl"),
    (["record", "osc://127.0.0.1:0", "--duration", "0.2", "-o"], "r.jsonl"),
])
def test_a_read_only_folder_is_one_line_naming_the_output(read_only, args, name):
    target = read_only / name
    result = CliRunner().invoke(main, [*args, str(target)])
    assert result.exit_code == 1, result.output
    assert str(target).rstrip("/") in result.output and "Read-only" in result.output
    assert "Traceback" not in result.output and "partial" not in result.output
    assert list(read_only.iterdir()) == []


def test_the_show_plays_on_when_its_state_cannot_be_saved(read_only):
    done = subprocess.run(
        [sys.executable, "-m", "mural", "play", "sim:calm", "--state",
         str(read_only / "state.npz"), "--duration", "2", "--autosave-every", "1"],
        capture_output=True, text=True, env={**os.environ, "SDL_VIDEODRIVER": "dummy"},
        timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("autosave to") == 1  # warned once, not every second
    assert "Traceback" not in done.stderr and "played" in done.stdout
    assert list(read_only.iterdir()) == []
