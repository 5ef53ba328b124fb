"""`mural still` through click's CliRunner."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mural.cli import main
from mural.sinks.png import read_png_metadata


@pytest.fixture
def stream(tmp_path):
    path = tmp_path / "s.jsonl"
    lines = [json.dumps({"t": k * 0.5, "participant": f"p{k % 4}", "emotion": "joy"})
             for k in range(30)]
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_still_writes_a_png_with_provenance(stream, tmp_path):
    out = tmp_path / "out.png"
    result = invoke("still", stream, "--at", "10", "-o", out, "--size", "160x90", "--seed", "5",
                    "--palette", "ember")
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(out))
    assert image.shape == (90, 160, 3) and image.mean() > 2
    meta = read_png_metadata(out)
    assert meta["mural:source"] == str(stream)
    assert meta["mural:time"] == "10" and meta["mural:seed"] == "5"
    assert meta["mural:palette"] == "ember" and meta["mural:size"] == "160x90"


def test_same_arguments_give_the_same_png_pixels(stream, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for out in (a, b):
        assert invoke("still", stream, "--at", "0:07", "-o", out, "--size", "96x54").exit_code == 0
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


def test_still_renders_a_simulated_scenario(tmp_path):
    out = tmp_path / "sim.png"
    result = invoke("still", "sim:calm?duration=10", "--at", "8", "-o", out, "--size", "96x54")
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_still_at_4k(stream, tmp_path):
    out = tmp_path / "big.png"
    result = invoke("still", stream, "--at", "3", "-o", out, "--size", "3840x2160")
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (3840, 2160)


def test_bad_lines_warn_by_default_and_fail_in_strict_mode(stream, tmp_path):
    text = stream.read_text().splitlines()
    text.insert(3, json.dumps({"t": 1.6, "participant": "p9", "emotion": "glee"}))
    stream.write_text("\n".join(text) + "\n")
    out = tmp_path / "o.png"
    ok = invoke("still", stream, "--at", "2", "-o", out, "--size", "96x54")
    assert ok.exit_code == 0
    assert "line 4" in ok.output and "glee" in ok.output
    strict = invoke("still", stream, "--at", "2", "-o", tmp_path / "strict.png", "--size",
                    "96x54", "--strict")
    assert strict.exit_code != 0
    assert "line 4" in strict.output and "Traceback" not in strict.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "--at", "1"], "missing.jsonl"),
        (["sim:nope", "--at", "1"], "unknown scenario"),
        (["osc://127.0.0.1:9000", "--at", "1"], "live source"),
        (["sim:calm", "--at", "1", "--palette", "nope"], "unknown palette"),
        (["sim:calm", "--at", "soon"], "time must be"),
        (["sim:calm", "--at", "1", "--size", "big"], "WIDTHxHEIGHT"),
    ],
)
def test_still_errors_are_one_clean_line(tmp_path, args, message):
    result = invoke("still", *args, "-o", tmp_path / "x.png")
    assert result.exit_code != 0
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_switching_the_flash_limiter_off_is_loud_and_recorded(stream, tmp_path):
    out = tmp_path / "unsafe.png"
    result = invoke("still", stream, "--at", "3", "-o", out, "--size", "96x54",
                    "--unsafe-disable-flash-limiter")
    assert result.exit_code == 0
    assert "flash limiter is OFF" in result.output
    assert read_png_metadata(out)["mural:flash-limiter"] == "OFF"
    safe = tmp_path / "safe.png"
    invoke("still", stream, "--at", "3", "-o", safe, "--size", "96x54")
    assert read_png_metadata(safe)["mural:flash-limiter"] == "on"


def test_an_existing_output_is_never_overwritten_without_force(tmp_path):
    stream = tmp_path / "s.jsonl"
    stream.write_text(json.dumps({"t": 0, "participant": "a", "emotion": "joy"}) + "\n")
    before = stream.read_bytes()
    own = invoke("still", stream, "--at", "1", "-o", stream, "--size", "64x36")
    assert own.exit_code == 1 and "--force" in own.output and "Traceback" not in own.output
    assert stream.read_bytes() == before  # not even its own source recording
    out = tmp_path / "keep.png"
    out.write_bytes(b"precious")
    refused = invoke("still", stream, "--at", "1", "-o", out, "--size", "64x36")
    assert refused.exit_code == 1 and out.read_bytes() == b"precious"
    forced = invoke("still", stream, "--at", "1", "-o", out, "--size", "64x36", "--force")
    assert forced.exit_code == 0 and out.read_bytes().startswith(b"\x89PNG")
