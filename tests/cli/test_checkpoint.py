"""`mural checkpoint`, and `mural still` / `mural video --checkpoints` through the CLI: the same
bytes as without checkpoints; a folder made for another render is one clean error."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mural.cli import main
from mural.show.checkpoint import INDEX_NAME


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    path = tmp_path_factory.mktemp("s") / "s.jsonl"
    lines = [json.dumps({"t": k * 0.25, "participant": f"p{k % 5}",
                         "emotion": ["joy", "calm", "awe"][k % 3]}) for k in range(48)]
    lines.insert(20, json.dumps({"t": 5.0, "type": "signal", "level": 0.0}))
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


SIZE = ["--size", "64x36", "--seed", "3", "--palette", "ember"]


@pytest.fixture(scope="module")
def folder(stream, tmp_path_factory):
    where = tmp_path_factory.mktemp("ck") / "ck"
    result = invoke("checkpoint", stream, "--every", "2", "-o", where, *SIZE, "-q")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote 5 checkpoints (every 2s, t=2..10s) to {where}")
    return where


def test_checkpoint_writes_the_files_and_the_index(folder):
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"checkpoint-{t:06d}.npz" for t in (2, 4, 6, 8, 10)] + [INDEX_NAME]
    index = json.loads((folder / INDEX_NAME).read_text())
    assert index["identity"]["seed"] == 3 and index["identity"]["size"] == [64, 36]
    assert index["complete"] is True


def test_an_existing_folder_needs_force(folder, stream):
    again = invoke("checkpoint", stream, "--every", "2", "-o", folder, *SIZE, "-q")
    assert again.exit_code == 1 and "--force" in again.output
    assert "Traceback" not in again.output


def test_a_still_from_checkpoints_is_the_same_png(folder, stream, tmp_path):
    for at in ("7.3", "1"):
        plain, fast = tmp_path / f"plain{at}.png", tmp_path / f"fast{at}.png"
        assert invoke("still", stream, "--at", at, "-o", plain, *SIZE).exit_code == 0
        result = invoke("still", stream, "--at", at, "-o", fast, *SIZE, "--checkpoints", folder)
        assert result.exit_code == 0, result.output
        assert plain.read_bytes() == fast.read_bytes()


def test_a_video_from_checkpoints_has_the_same_frames(folder, stream, tmp_path):
    args = ["--start", "6.5", "--end", "8", "--fps", "10", "-q", *SIZE]
    assert invoke("video", stream, "-o", f"{tmp_path}/plain/", *args).exit_code == 0
    result = invoke("video", stream, "-o", f"{tmp_path}/fast/", *args, "--checkpoints", folder)
    assert result.exit_code == 0, result.output
    plain = sorted((tmp_path / "plain").iterdir())
    fast = sorted((tmp_path / "fast").iterdir())
    assert len(plain) == len(fast) == 15
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(plain, fast, strict=True))


@pytest.mark.parametrize(("args", "message"), [
    (["--size", "96x54", "--seed", "3", "--palette", "ember"], "size 64x36"),
    (["--size", "64x36", "--seed", "4", "--palette", "ember"], "seed 3"),
    (["--size", "64x36", "--seed", "3", "--palette", "abyss"], "palette 'ember'"),
])
def test_checkpoints_made_for_another_render_are_one_clean_error(folder, stream, tmp_path,
                                                                 args, message):
    result = invoke("still", stream, "--at", "5", "-o", tmp_path / "x.png", *args,
                    "--checkpoints", folder)
    assert result.exit_code == 1
    assert message in result.output and "mural checkpoint" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.png").exists()


def test_another_stream_is_refused(folder, stream, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text(stream.read_text() + json.dumps(
        {"t": 12.0, "participant": "late", "emotion": "joy"}) + "\n")
    result = invoke("video", other, "-o", f"{tmp_path}/v/", "--start", "6", "--end", "7",
                    "--fps", "10", "-q", *SIZE, "--checkpoints", folder)
    assert result.exit_code == 1 and "another stream" in result.output


def test_checkpoints_do_not_go_with_an_exposure(folder, stream, tmp_path):
    result = invoke("still", stream, "--exposure", "0:5", "-o", tmp_path / "p.png",
                    "--checkpoints", folder)
    assert result.exit_code == 2 and "--checkpoints" in result.output
