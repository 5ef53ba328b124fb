"""The runtime: time, seeking, live pushes and forgetting for long runs."""

from __future__ import annotations

import numpy as np
import pytest

from mural.show.wall import Wall
from tests.helpers import crowd, emotion


def test_going_back_in_time_rebuilds_the_same_frame():
    mural = Wall(crowd(["joy"], end=6.0), size=(96, 54))
    at3 = mural.frame_at(3.0)
    mural.frame_at(6.0)
    assert np.array_equal(mural.frame_at(3.0), at3)


def test_pushed_events_land_in_time_order():
    mural = Wall(size=(96, 54))
    mural.push([emotion(0.5, "a", "joy"), emotion(0.2, "b", "calm")])
    assert [e.t for e in mural.events] == [0.2, 0.5]
    mural.advance_to(1.0)
    assert set(mural.engine.participants.ids) == {"a", "b"}


def test_forget_applied_bounds_memory_for_long_runs():
    mural = Wall(size=(96, 54))
    for k in range(200):
        mural.push([emotion(k * 0.1, "p", "joy")])
        mural.advance_to(k * 0.1 + 0.05)
        mural.forget_applied()
    assert len(mural.events) <= 1


def test_bad_times_are_refused():
    with pytest.raises(ValueError):
        Wall(size=(96, 54)).advance_to(float("nan"))
    with pytest.raises(ValueError):
        Wall(size=(96, 54)).advance_to(-1.0)


def test_a_still_fast_forwards_without_compositing_the_frames_on_the_way(monkeypatch):
    from mural.render.compositor import Compositor

    calls = []
    original = Compositor.render

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Compositor, "render", counting)
    mural = Wall(crowd(["joy"], end=60.0), size=(96, 54))
    mural.frame_at(60.0)
    assert len(calls) == 1
    assert mural.engine.step_index == 1800
