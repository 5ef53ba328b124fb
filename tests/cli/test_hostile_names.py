"""Clumsy names and files on the command line: one clean line each, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mural.cli import main
from mural.sinks.png import read_png_metadata


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_palette_that_is_a_folder_or_not_utf8_is_one_line(tmp_path):
    folder = tmp_path / "pal.toml"
    folder.mkdir()
    result = run("still", "sim:calm", "--at", "1", "-o", str(tmp_path / "a.png"), "--size",
                 "64x36", "--palette", str(folder))
    assert result.exit_code == 1 and "folder" in result.output
    assert "Traceback" not in result.output
    latin = tmp_path / "bad.toml"
    latin.write_bytes(b'name = "x"\nexposure = 1.0\n\xff\n')
    result = run("still", "sim:calm", "--at", "1", "-o", str(tmp_path / "b.png"), "--size",
                 "64x36", "--palette", str(latin))
    assert result.exit_code == 1 and "UTF-8" in result.output


def test_a_name_too_long_for_the_file_system_is_one_line(tmp_path):
    long = tmp_path / ("x" * 300 + ".png")
    result = run("still", "sim:calm", "--at", "1", "-o", str(long), "--size", "64x36")
    assert result.exit_code == 1 and "too long" in result.output
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == []


def test_a_source_name_that_is_not_utf8_still_renders(tmp_path):
    name = os.fsencode(tmp_path) + b"/\xff\xfe.jsonl"
    with open(name, "wb") as handle:
        handle.write(b'{"t": 0, "participant": "a", "emotion": "joy"}\n')
    out = tmp_path / "c.png"
    done = subprocess.run([sys.executable, "-m", "mural", "still", name, "--at", "1", "-o",
                           str(out), "--size", "64x36"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    assert read_png_metadata(out)["mural:source"].endswith(".jsonl")
    missing = subprocess.run([sys.executable, "-m", "mural", "still", b"\xff-missing.jsonl",
                              "--at", "1", "-o", str(tmp_path / "d.png")], capture_output=True)
    assert missing.returncode == 1 and b"no such file" in missing.stderr
    assert b"Traceback" not in missing.stderr
    assert Path(tmp_path / "d.png").exists() is False
