"""The Python API does what the CLI does: round trips, identical pixels, sessions."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import mural
from mural.cli import main
from mural.events import EventError
from mural.session import SessionError
from mural.show.checkpoint import CheckpointError
from mural.show.farm import FarmError
from mural.sinks.video import probe_video


def built() -> mural.StreamBuilder:
    b = mural.StreamBuilder(note="test")
    for k in range(12):
        b.emotion(k * 0.25, f"p{k % 3}", ("joy", "awe", "calm")[k % 3], intensity=0.8,
                  x=0.2 + 0.3 * (k % 3), y=0.5, heart_rate=70 if k % 2 else None)
    b.va(1.1, "dev", valence=0.4, arousal=0.6)
    b.signal(2.0, 0.2).signal(2.5, 0.9, participant="p1").marker(2.5, "back")
    return b


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_stream_builder_save_and_open_give_the_same_events(tmp_path, suffix):
    builder = built()
    path = builder.save(tmp_path / f"s{suffix}")
    again = mural.open_stream(path)
    assert again.events == builder.build().events
    assert again.header.meta["note"] == "test"
    assert [m.name for m in again.markers] == ["back"]


def test_stream_builder_validates_like_a_file():
    with pytest.raises(EventError, match="emotion"):
        mural.StreamBuilder().emotion(0, "a", "glee")
    with pytest.raises(EventError, match="level"):
        mural.StreamBuilder().signal(0, 2.0)


def test_frame_at_via_the_api_is_the_cli_still(tmp_path):
    path = built().save(tmp_path / "s.jsonl")
    out = tmp_path / "cli.png"
    result = CliRunner().invoke(main, ["still", str(path), "--at", "2", "-o", str(out),
                                       "--size", "96x54", "--seed", "4", "--palette", "ember"])
    assert result.exit_code == 0, result.output
    m = mural.mural(path, size=(96, 54), seed=4, palette="ember")
    frame = m.frame_at(2.0)
    assert np.array_equal(frame, np.asarray(Image.open(out)))
    api_png = tmp_path / "api.png"
    still = mural.render_still(built().build(), 2.0, api_png, size=(96, 54), seed=4,
                               palette="ember")
    assert np.array_equal(still, frame)
    image = mural.to_image(frame)
    assert image.size == (96, 54) and image.mode == "RGB"


def test_render_video_from_a_built_stream_and_from_a_file(tmp_path):
    stream = built().build()
    mural.render_video(stream, tmp_path / "a.mp4", size=(96, 54), fps=8, end=2)
    assert probe_video(tmp_path / "a.mp4")["frames"] == 16
    path = built().save(tmp_path / "s.jsonl")
    result = mural.render_video(path, tmp_path / "b/", size=(96, 54), fps=4, start=1, end=2)
    assert result.frames == 4


def test_checkpoints_through_the_api_give_the_same_still_and_video(tmp_path):
    stream = built().build()
    found = mural.write_checkpoints(stream, tmp_path / "cp", 1.0, size=(96, 54), seed=4)
    assert [c.t for c in found.checkpoints] == [1.0, 2.0]
    with pytest.raises(FileExistsError):
        mural.write_checkpoints(stream, tmp_path / "cp", 1.0, size=(96, 54), seed=4)
    plain = mural.render_still(stream, 2.5, size=(96, 54), seed=4)
    again = mural.render_still(stream, 2.5, size=(96, 54), seed=4, checkpoints=tmp_path / "cp")
    assert np.array_equal(plain, again)
    mural.render_video(stream, tmp_path / "a/", size=(96, 54), seed=4, fps=4, start=2, end=3)
    mural.render_video(stream, tmp_path / "b/", size=(96, 54), seed=4, fps=4, start=2, end=3,
                       checkpoints=tmp_path / "cp")
    for frame in sorted((tmp_path / "a").glob("*.png")):
        assert frame.read_bytes() == (tmp_path / "b" / frame.name).read_bytes()
    with pytest.raises(CheckpointError, match="seed"):
        mural.render_still(stream, 2.5, size=(96, 54), seed=5, checkpoints=tmp_path / "cp")


def test_render_video_on_a_local_farm_writes_the_serial_frames(tmp_path):
    pytest.importorskip("distributed")
    stream = built().build()
    mural.render_video(stream, tmp_path / "serial/", size=(96, 54), fps=4, end=3)
    result = mural.render_video(stream, tmp_path / "farm/", size=(96, 54), fps=4, end=3,
                                workers=2)
    assert result.frames == 12
    serial = sorted((tmp_path / "serial").glob("*.png"))
    assert [p.name for p in serial] == sorted(p.name for p in (tmp_path / "farm").glob("*.png"))
    for frame in serial:
        assert frame.read_bytes() == (tmp_path / "farm" / frame.name).read_bytes()
    with pytest.raises(FarmError, match="workers"):
        mural.render_video(stream, tmp_path / "x/", size=(96, 54), end=1, resume=True)


def test_render_exposure_returns_an_image_or_writes_a_png(tmp_path):
    result = mural.render_exposure(built().build(), None, size=(160, 90), seed=1)
    assert result.image.shape == (90, 160, 3) and result.path is None
    mural.render_exposure(built().build(), tmp_path / "p.png", size=(160, 90))
    assert Image.open(tmp_path / "p.png").size == (160, 90)


def test_sessions_through_the_api(tmp_path):
    built().save(tmp_path / "s.jsonl")
    path = tmp_path / "show.toml"
    path.write_text('[mural]\nsize = "96x54"\n[[source]]\nuri = "s.jsonl"\n'
                    '[[cue]]\nmarker = "back"\nstill = "back.png"\n'
                    '[[output]]\nvideo = "v.gif"\nfps = 5\n')
    plan = mural.open_session(path, fps=4)
    assert plan.markers == {"back": 2.5} and plan.outputs[0].fps == 4
    result = mural.run_session(path, size=(64, 36))
    assert {p.name for p in result.written} == {"back.png", "v.gif"}
    assert probe_video(tmp_path / "v.gif")["width"] == 64
    path.write_text(path.read_text().replace('"back"', '"front"'))
    with pytest.raises(SessionError, match="front"):
        mural.open_session(path)


def test_participants_as_a_file_or_a_mapping(tmp_path):
    people = tmp_path / "people.toml"
    people.write_text('[p0]\ncolour = "#ff2000"\nweight = 0.8\n')
    stream = built().build()
    a = mural.mural(stream, size=(96, 54), participants=people).frame_at(2.0)
    b = mural.mural(stream, size=(96, 54)).frame_at(2.0)
    assert not np.array_equal(a, b)


def test_public_names_are_documented_and_typed():
    for name in mural.__all__:
        if name == "__version__":
            continue
        obj = getattr(mural, name)
        assert inspect.getdoc(obj), name
        if inspect.isfunction(obj):
            assert "return" in obj.__annotations__, name
    with pytest.raises(AttributeError):
        mural.no_such_thing  # noqa: B018
