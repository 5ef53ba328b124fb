"""Saving and resuming: the wall comes back as it was; bad files give clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from mural.show.state import StateError
from mural.show.wall import Wall
from tests.helpers import blackout, crowd


@pytest.fixture
def events():
    return crowd(["joy", "calm"], end=20.0) + [blackout(12.0)]


def test_resume_continues_bit_identically(tmp_path, events):
    straight = Wall(events, size=(128, 72), seed=4)
    straight.advance_to(10.0)
    path = straight.save_state(tmp_path / "wall.npz", extra={"speed": 2.0})
    expected = straight.frame_at(16.0)

    resumed = Wall.from_state(path, events)
    assert resumed.engine.t == pytest.approx(10.0)
    assert resumed.resume_extra == {"speed": 2.0}
    assert np.array_equal(resumed.frame_at(16.0), expected)


def test_saving_is_atomic_and_leaves_no_partial_files(tmp_path, events):
    mural = Wall(events, size=(96, 54))
    mural.advance_to(3.0)
    path = mural.save_state(tmp_path / "s.npz")
    mural.advance_to(4.0)
    mural.save_state(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"", "corrupt"),
        (b"PK\x03\x04 not really a zip", "corrupt"),
    ],
)
def test_bad_state_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(StateError, match=message):
        Wall.from_state(path)


def test_a_truncated_state_file_is_an_error_not_a_crash(tmp_path, events):
    mural = Wall(events, size=(96, 54))
    mural.advance_to(2.0)
    path = mural.save_state(tmp_path / "s.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateError):
        Wall.from_state(path)


def test_a_foreign_npz_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.arange(3))
    with pytest.raises(StateError):
        Wall.from_state(path)
