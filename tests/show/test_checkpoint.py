"""Checkpoints: a complete, versioned state; frames from a checkpoint are the frames from the
start, bit for bit; a stale or foreign checkpoint folder is refused, naming what differs."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from mural.engine.engine import Personal
from mural.safety.guard import SafetyConfig
from mural.show.checkpoint import (
    INDEX_NAME,
    CheckpointError,
    checkpoint_name,
    checkpoint_pass,
    later_cues,
    nearest_checkpoint,
    read_checkpoints,
    wall_at,
    write_checkpoints,
)
from mural.show.state import StateError, stream_fingerprint
from mural.show.still import render_still
from mural.show.video import PaletteCue, export_video
from mural.show.wall import Wall
from mural.sinks.video import probe_video
from tests.helpers import blackout, crowd, emotion, signal

SIZE = (64, 36)
PERSONAL = {"p01": Personal(colour=(1.0, 0.25, 0.1), pattern="ring", weight=0.6),
            "p03": Personal(pattern="pulse")}
CUES = [PaletteCue(2.0, "ember", 3.0), PaletteCue(7.3, "lagoon", 0.0)]


@pytest.fixture(scope="module")
def events():
    stream = crowd(["joy", "calm", "anger"], end=12.0) + [blackout(6.0), signal(8.0, 1.0)]
    return sorted(stream, key=lambda e: e.t)


def straight(events, moments, *, cues=CUES, personal=PERSONAL, palette="abyss"):
    """Frames at `moments` of one uninterrupted wall, cues applied as render_span does."""
    wall = Wall(events, size=SIZE, seed=3, palette=palette, personal=personal)
    plan = sorted([(c.t, 0, c) for c in cues] + [(t, 1, None) for t in moments],
                  key=lambda m: m[:2])
    frames = {}
    for t, kind, cue in plan:
        wall.advance_to(t)
        if kind == 0:
            wall.set_palette(cue.palette, cue.fade)
        else:
            frames[t] = wall.render().copy()
    return frames


def resumed_frames(wall, moments, cues):
    plan = sorted([(c.t, 0, c) for c in cues] + [(t, 1, None) for t in moments],
                  key=lambda m: m[:2])
    frames = {}
    for t, kind, cue in plan:
        wall.advance_to(t)
        if kind == 0:
            wall.set_palette(cue.palette, cue.fade)
        else:
            frames[t] = wall.render().copy()
    return frames


def test_a_saved_wall_resumes_bit_identically_mid_crossfade(tmp_path, events):
    """Palette schedule (mid-crossfade), personal colours, limiter and cursor all come back."""
    wall = Wall(events, size=SIZE, seed=3, palette="abyss", personal=PERSONAL)
    wall.advance_to(2.0)
    wall.set_palette("ember", fade=3.0)
    wall.advance_to(3.4)  # halfway through the crossfade
    path = wall.save_state(tmp_path / "mid.npz")
    later = [3.4, 3.5, 4.9, 5.0, 6.2, 9.0, 11.5]
    expected = resumed_frames(wall, later, [CUES[1]])

    back = Wall.from_state(path, events)
    assert back.personal == PERSONAL
    assert back.grades.changes[0][0] == 2.0 and back.grades.changes[0][2] == 3.0
    assert back.timeline.position == sum(e.t < 3.4 for e in events)
    got = resumed_frames(back, later, [CUES[1]])
    for t in later:
        assert np.array_equal(got[t], expected[t]), t


def test_the_cursor_is_exact_where_the_engine_time_is_one_bit_off(tmp_path):
    """Events exactly on step boundaries: the resumed cursor is the straight run's at every step
    (engine.t, step_index * dt, is one bit off step_index / sim_hz for some steps)."""
    stream = [emotion(k / 30, f"p{k % 4}", "joy") for k in range(1, 61)]
    wall = Wall(stream, size=SIZE, seed=1)
    path = tmp_path / "s.npz"
    for k in range(1, 61):
        wall.advance_to(k / 30)
        wall.save_state(path)
        back = Wall.from_state(path, stream)
        assert back.timeline.position == wall.timeline.position, k


def test_a_state_carries_its_identity_and_version(tmp_path, events):
    wall = Wall(events, size=SIZE, seed=9, palette="lagoon")
    wall.advance_to(1.0)
    path = wall.save_state(tmp_path / "s.npz")
    with np.load(path) as archive:
        meta = json.loads(bytes(archive["__meta__"]).decode())
    assert meta["version"] == 2
    identity = meta["state"]["identity"]
    assert (identity["stream"], identity["events"]) == stream_fingerprint(events)
    assert identity["seed"] == 9 and identity["size"] == list(SIZE)
    assert meta["state"]["grades"]["base"]["name"] == "lagoon"
    assert meta["config"]["seed"] == 9


def _rewrite_meta(path, change) -> None:
    raw = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as source, zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            if info.filename == "__meta__.npy":
                with np.load(io.BytesIO(raw)) as archive:
                    meta = json.loads(bytes(archive["__meta__"]).decode())
                change(meta)
                buffer = io.BytesIO()
                np.lib.format.write_array(
                    buffer, np.frombuffer(json.dumps(meta).encode(), np.uint8))
                out.writestr(info.filename, buffer.getvalue())
            else:
                out.writestr(info, source.read(info))


def test_an_old_version_1_resume_file_still_loads(tmp_path, events):
    wall = Wall(events, size=SIZE, seed=4, palette="ember")
    wall.advance_to(5.0)
    path = wall.save_state(tmp_path / "old.npz")
    expected = wall.frame_at(8.0)

    def to_version_1(meta):
        meta["version"] = 1
        for key in ("grades", "personal", "cursor", "identity"):
            meta["state"].pop(key)

    _rewrite_meta(path, to_version_1)
    back = Wall.from_state(path, events)
    assert back.palette.name == "ember"
    assert np.array_equal(back.frame_at(8.0), expected)


@pytest.mark.parametrize("version", [0, 3, 99, "2"])
def test_an_unknown_version_is_refused_clearly(tmp_path, events, version):
    wall = Wall(events, size=SIZE)
    wall.advance_to(1.0)
    path = wall.save_state(tmp_path / "v.npz")
    _rewrite_meta(path, lambda meta: meta.update(version=version))
    with pytest.raises(StateError, match="not supported.*reads versions 1, 2"):
        Wall.from_state(path, events)


def test_a_version_2_file_without_its_schedule_is_refused(tmp_path, events):
    wall = Wall(events, size=SIZE)
    wall.advance_to(1.0)
    path = wall.save_state(tmp_path / "v.npz")
    _rewrite_meta(path, lambda meta: meta["state"].pop("grades"))
    with pytest.raises(StateError, match="palette schedule"):
        Wall.from_state(path, events)


# -- checkpoint folders -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory, events):
    where = tmp_path_factory.mktemp("ck") / "checkpoints"
    write_checkpoints(events, where, every=1.5, size=SIZE, seed=3, palette="abyss",
                      personal=PERSONAL, cues=CUES, source_name="crowd")
    return where


def test_write_checkpoints_writes_every_interval_and_an_index(folder, events):
    found = read_checkpoints(folder)
    assert [c.t for c in found.checkpoints] == [1.5 * k for k in range(1, 8)]
    assert [c.path.name for c in found.checkpoints][:2] == ["checkpoint-000001.5.npz",
                                                           "checkpoint-000003.npz"]
    assert all(c.path.exists() for c in found.checkpoints)
    assert found.complete and found.source == "crowd" and found.every == 1.5
    assert found.identity["stream"] == stream_fingerprint(events)[0]
    assert checkpoint_name(60.0) == "checkpoint-000060.npz"


def test_frames_from_checkpoints_equal_frames_from_the_start(folder, events):
    moments = [0.4, 1.5, 2.0, 3.1, 4.5, 4.51, 7.3, 8.0, 10.6, 11.9]
    expected = straight(events, moments)
    for t in moments:
        wall, checkpoint = wall_at(folder, t, events, size=SIZE, seed=3, palette="abyss",
                                   personal=PERSONAL, cues=CUES)
        assert (checkpoint is None) == (t < 1.5)
        got = resumed_frames(wall, [t], [c for c in later_cues(CUES, checkpoint) if c.t <= t])
        assert np.array_equal(got[t], expected[t]), t


def test_a_still_and_a_video_from_checkpoints_are_the_ones_from_the_start(tmp_path, events):
    where = tmp_path / "ck"
    write_checkpoints(events, where, every=2.0, size=SIZE, seed=5, palette="lagoon")
    kwargs = dict(size=SIZE, seed=5, palette="lagoon")
    for at in (1.0, 4.0, 9.7):
        assert np.array_equal(render_still(events, at, checkpoints=where, **kwargs),
                              render_still(events, at, **kwargs))
    plain = export_video(events, tmp_path / "plain/", start=5.0, end=7.0, fps=10, quiet=True,
                         **kwargs)
    fast = export_video(events, tmp_path / "fast/", start=5.0, end=7.0, fps=10, quiet=True,
                        checkpoints=where, **kwargs)
    assert plain.frames == fast.frames == 20
    names = probe_video(tmp_path / "plain")["names"]
    assert names == probe_video(tmp_path / "fast")["names"]
    for name in names:
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "fast" / name).read_bytes()


@pytest.mark.parametrize(("change", "message"), [
    ("stream", "another stream"),
    ("seed", "seed 3 .this render: seed 4"),
    ("size", "size 64x36 .this render: 96x54"),
    ("palette", "palette 'abyss \\+ 2 cue.s.' .this render: 'ember"),
    ("cues", "palette"),
    ("personal", "other personal colours"),
    ("safety", "flash-limiter"),
    ("version", "state format version 1"),
])
def test_a_stale_or_foreign_folder_is_refused_saying_what_differs(folder, events, change,
                                                                   message, tmp_path):
    kwargs = dict(size=SIZE, seed=3, palette="abyss", personal=PERSONAL, cues=CUES)
    where = folder
    stream = events
    if change == "stream":
        stream = [*events, emotion(11.99, "late", "awe")]
    elif change == "seed":
        kwargs["seed"] = 4
    elif change == "size":
        kwargs["size"] = (96, 54)
    elif change == "palette":
        kwargs["palette"] = "ember"
    elif change == "cues":
        kwargs["cues"] = CUES[:1]
    elif change == "personal":
        kwargs["personal"] = {}
    elif change == "safety":
        kwargs["safety"] = SafetyConfig(ceiling=0.3)
    else:
        where = tmp_path / "old"
        where.mkdir()
        index = json.loads((folder / INDEX_NAME).read_text())
        index["identity"]["version"] = 1
        (where / INDEX_NAME).write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=message) as refused:
        nearest_checkpoint(where, 5.0, stream, **kwargs)
    assert "mural checkpoint" in str(refused.value)


def test_a_folder_that_is_not_a_checkpoint_folder_is_a_clear_error(tmp_path, events):
    with pytest.raises(CheckpointError, match="not found"):
        nearest_checkpoint(tmp_path / "nowhere", 1.0, events, SIZE)
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        nearest_checkpoint(tmp_path, 1.0, events, SIZE)
    (tmp_path / INDEX_NAME).write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        nearest_checkpoint(tmp_path, 1.0, events, SIZE)


def test_a_swapped_checkpoint_file_is_refused(tmp_path, events):
    where = tmp_path / "ck"
    write_checkpoints(events, where, every=3.0, size=SIZE, seed=3)
    other = Wall(events, size=SIZE, seed=8)
    other.advance_to(3.0)
    other.save_state(where / checkpoint_name(3.0))
    with pytest.raises(CheckpointError, match="not the checkpoint its index names"):
        wall_at(where, 4.0, events, size=SIZE, seed=3)


def test_an_existing_folder_needs_force_and_an_interrupted_pass_leaves_a_usable_one(
        tmp_path, events):
    where = tmp_path / "ck"
    run = checkpoint_pass(events, where, 2.0, size=SIZE, seed=3)
    assert run.planned == 5  # 2, 4 ... 10: the last event is at 11.95 s
    next(run)
    next(run)  # ... and the pass stops here (Ctrl-C)
    found = read_checkpoints(where)
    assert [c.t for c in found.checkpoints] == [2.0, 4.0] and not found.complete
    wall, checkpoint = wall_at(where, 5.0, events, size=SIZE, seed=3)
    assert checkpoint.t == 4.0 and np.array_equal(
        wall.frame_at(5.0), Wall(events, size=SIZE, seed=3).frame_at(5.0))
    with pytest.raises(FileExistsError, match="--force"):
        write_checkpoints(events, where, 2.0, size=SIZE, seed=3)
    again = write_checkpoints(events, where, 3.0, size=SIZE, seed=3, force=True)
    assert [c.t for c in again.checkpoints] == [3.0, 6.0, 9.0]
    assert sorted(p.name for p in where.iterdir()) == [
        "checkpoint-000003.npz", "checkpoint-000006.npz", "checkpoint-000009.npz", INDEX_NAME]
