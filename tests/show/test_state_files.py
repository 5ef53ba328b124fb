"""Crafted and broken state files: every one is the clear "not a usable mural state" error,
never a traceback and never a crash in native code."""

from __future__ import annotations

import errno
import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mural.show import state as state_module
from mural.show.state import StateError
from mural.show.wall import Wall
from tests.helpers import crowd

SIZE = (96, 54)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> bytes:
    wall = Wall(crowd(["joy", "calm"], end=6.0), size=SIZE, seed=2)
    wall.advance_to(4.0)
    path = wall.save_state(tmp_path_factory.mktemp("s") / "wall.npz")
    return path.read_bytes()


def rewrite(saved: bytes, path, *, meta=None, arrays=None) -> None:
    """The saved archive with its metadata and some arrays replaced."""
    with zipfile.ZipFile(io.BytesIO(saved)) as source, zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            name = info.filename[:-4]
            if name == "__meta__" and meta is not None:
                data = np.frombuffer(json.dumps(meta).encode(), np.uint8)
            elif arrays and name in arrays:
                data = arrays[name]
            else:
                out.writestr(info, source.read(info))
                continue
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(data), allow_pickle=False)
            out.writestr(info.filename, buffer.getvalue())


def meta_of(saved: bytes) -> dict:
    with np.load(io.BytesIO(saved)) as archive:
        return json.loads(bytes(archive["__meta__"]).decode())


def restore(path):
    return Wall.from_state(path, crowd(["joy"], end=6.0))


@pytest.mark.parametrize("change", [
    lambda m: m.update(config=[1, 2, 3]),
    lambda m: m.update(state=["not", "a", "table"]),
    lambda m: m["state"].pop("time"),
    lambda m: m["state"].update(time="NaN"),
    lambda m: m["state"].update(time=float("inf")),
    lambda m: m["state"].update(time=-3),
    lambda m: m["config"].update(sim_hz=0),
    lambda m: m["config"].update(size=[10**9, 5]),
    lambda m: m["config"].update(max_particles=-1),
    lambda m: m["config"].update(live_half_life=float("nan")),
    lambda m: m["config"].update(surprise=1),
    lambda m: m["state"].update(extra=[1]),
    lambda m: m.update(version=99),
], ids=["config-list", "state-list", "no-time", "nan-time-text", "inf-time", "negative-time",
        "zero-sim-rate", "absurd-size", "negative-particles", "nan-config", "unknown-key",
        "extra-list", "version"])
def test_malformed_metadata_is_a_clear_error(saved, tmp_path, change):
    meta = meta_of(saved)
    change(meta)
    path = tmp_path / "bad.npz"
    rewrite(saved, path, meta=meta)
    with pytest.raises(StateError, match="usable mural state|not supported|not a Lumina"):
        restore(path)


def test_an_array_header_claiming_gigabytes_is_refused_before_reading(saved, tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(io.BytesIO(saved)) as source, zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            out.writestr(info, source.read(info))
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
        out.writestr("s.engine.arrays.pos.npy.extra.npy", header.getvalue())
    with pytest.raises(StateError, match="GB|usable"):
        restore(path)


@pytest.mark.parametrize("name, value", [
    ("s.guard.gain", np.zeros((3, 3), np.float32)),
    ("s.guard.memory_coarse", np.full((2, 2), np.nan, np.float32)),
])
def test_safety_state_that_does_not_fit_is_refused(saved, tmp_path, name, value):
    path = tmp_path / "guard.npz"
    rewrite(saved, path, arrays={name: value})
    with pytest.raises(StateError):
        restore(path)


def test_a_failed_save_keeps_the_last_good_state_and_leaves_no_partial(saved, tmp_path,
                                                                       monkeypatch):
    good = tmp_path / "wall.npz"
    good.write_bytes(saved)
    wall = restore(good)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state_module.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        wall.save_state(good)
    assert good.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wall.npz"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_damage_is_always_a_clean_error(saved, tmp_path, data):
    """Flip, cut or splice bytes anywhere: a StateError or a usable wall, nothing else."""
    raw = bytearray(saved)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(raw) - 1))
        kind = data.draw(st.sampled_from(["flip", "cut", "splice"]))
        if kind == "flip":
            raw[at] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del raw[at:]
            if not raw:
                raw = bytearray(b"x")
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=64))
    path = tmp_path / "fuzzed.npz"
    path.write_bytes(bytes(raw))
    try:
        wall = restore(path)
    except StateError:
        return
    wall.frame_at(wall.time + 0.5)  # what loaded must also run
