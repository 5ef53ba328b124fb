"""`mural run` through click's CliRunner: outputs, overrides, and refusing broken sessions."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from mural.cli import main
from mural.sinks.png import read_png_metadata
from mural.sinks.video import probe_video


@pytest.fixture
def show(tmp_path):
    lines = [{"t": 1.0, "type": "marker", "name": "middle"}]
    lines += [{"t": k * 0.25, "participant": f"p{k % 3}", "emotion": "joy"} for k in range(12)]
    (tmp_path / "s.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    path = tmp_path / "show.toml"
    path.write_text("""\
[mural]
size = "96x54"
fps = 8
seed = 2

[[source]]
uri = "s.jsonl"

[[cue]]
marker = "middle"
palette = "lagoon"
still = "out/middle.png"

[[output]]
video = "out/clip.mp4"
end = 2

[[output]]
still = "out/poster.png"
exposure = "0..2"
size = "160x90"
""")
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_run_writes_every_output(show):
    result = invoke("run", show, "--quiet")
    assert result.exit_code == 0, result.output
    out = show.parent / "out"
    assert probe_video(out / "clip.mp4")["frames"] == 16
    assert Image.open(out / "middle.png").size == (96, 54)
    assert read_png_metadata(out / "middle.png")["mural:time"] == "1"
    assert read_png_metadata(out / "poster.png")["mural:exposure"] == "0..2"
    assert "session done: 3 output(s) written" in result.output


def test_flags_override_the_file(show):
    result = invoke("run", show, "--size", "64x36", "--fps", "4", "--seed", "5", "--palette",
                    "ember", "--poster-size", "128x72", "--until", "1.5", "-q")
    assert result.exit_code == 0, result.output
    out = show.parent / "out"
    clip = probe_video(out / "clip.mp4")
    assert (clip["frames"], clip["width"]) == (6, 64)
    assert Image.open(out / "poster.png").size == (128, 72)
    meta = read_png_metadata(out / "middle.png")
    assert meta["mural:seed"] == "5" and meta["mural:size"] == "64x36"


def test_existing_outputs_need_force(show):
    assert invoke("run", show, "-q").exit_code == 0
    again = invoke("run", show, "-q")
    assert again.exit_code == 1
    assert "exists" in again.output and "nothing was rendered" in again.output
    assert invoke("run", show, "-q", "--force").exit_code == 0


def test_a_broken_session_exits_1_listing_every_line_and_writes_nothing(show):
    show.write_text(show.read_text().replace('"middle"', '"end"').replace('"lagoon"', '"sea"'))
    result = invoke("run", show)
    assert result.exit_code == 1
    assert f"{show}:10:" in result.output and f"{show}:11:" in result.output
    assert "2 problems" in result.output
    assert not (show.parent / "out").exists()


def test_a_missing_session_file(tmp_path):
    result = invoke("run", tmp_path / "nope.toml")
    assert result.exit_code == 1 and "no such file" in result.output
