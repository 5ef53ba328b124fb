"""The runtime: time, seeking, live pushes and forgetting for long runs."""

from __future__ import annotations

import bisect

import numpy as np
import pytest

from mural.show.palettes import load_palette
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


def test_the_events_are_a_read_only_view_in_time_order():
    mural = Wall([emotion(0.5, "a", "joy"), emotion(0.2, "b", "calm")], size=(96, 54))
    view = mural.events
    assert [e.t for e in view] == [0.2, 0.5] and mural.duration == 0.5
    with pytest.raises((TypeError, AttributeError)):
        view.append(emotion(1.0, "c", "awe"))  # type: ignore[attr-defined]
    mural.push([emotion(1.0, "c", "awe")])
    assert len(view) == 3 and mural.duration == 1.0


def test_a_pushed_event_in_the_past_lands_at_the_next_step_like_a_late_one():
    late = Wall(size=(96, 54))
    late.advance_to(1.0)
    late.push([emotion(0.3, "a", "joy")])  # stamped before now: not rewritten into the past
    late.advance_to(1.0 + 1 / 30)
    on_time = Wall(size=(96, 54))
    on_time.advance_to(1.0)
    on_time.push([emotion(1.0, "a", "joy")])
    on_time.advance_to(1.0 + 1 / 30)
    assert late.engine.events_applied == on_time.engine.events_applied == 1
    assert np.array_equal(late.engine.pos, on_time.engine.pos)


def test_the_resume_cursor_counts_the_events_before_the_saved_time():
    mural = Wall(crowd(["joy"], end=3.0), size=(96, 54))
    for t in (0.0, 1.0, 2.5, 99.0):
        at = bisect.bisect_left(mural._times, t)  # what from_state sets
        mural._next = at
        assert mural.timeline.position == at == sum(e.t < t for e in mural.events)


def test_a_crossfade_is_a_function_of_time_and_starts_at_the_wall_time():
    events = crowd(["joy"], end=6.0)
    abyss, ember = load_palette("abyss"), load_palette("ember")
    played = Wall(events, size=(96, 54), palette="abyss")
    played.advance_to(2.0)
    played.set_palette("ember", fade=2.0)
    frames = {t: played.frame_at(t) for t in (2.0, 3.0, 4.5)}
    assert played.palette == ember
    played.frame_at(3.0)
    assert played.palette == abyss.mix(ember, 0.5)
    # a still at 3 s after the wall went on to 4.5 s and back equals the frame played at 3 s
    assert np.array_equal(played.frame_at(3.0), frames[3.0])
    # the path to a moment does not matter: rendering before a cue or not, the same frame
    quiet = Wall(events, size=(96, 54), palette="abyss")
    quiet.advance_to(2.0)
    quiet.set_palette("ember", fade=2.0)
    quiet.advance_to(3.01)
    quiet.set_palette("abyss", fade=1.0)
    shown = Wall(events, size=(96, 54), palette="abyss")
    shown.advance_to(2.0)
    shown.set_palette("ember", fade=2.0)
    shown.frame_at(3.01)
    shown.set_palette("abyss", fade=1.0)
    assert np.array_equal(quiet.frame_at(3.5), shown.frame_at(3.5))


def test_a_palette_change_without_fade_shows_at_once():
    mural = Wall(crowd(["joy"], end=2.0), size=(96, 54), palette="abyss")
    mural.advance_to(1.0)
    mural.set_palette("ember")
    assert mural.palette.name == "ember"
    mural.advance_to(1.5)
    assert mural.palette.name == "ember" and mural.frame_at(1.5).shape == (54, 96, 3)


def test_forget_applied_also_forgets_finished_palette_changes():
    mural = Wall(size=(96, 54), palette="abyss")
    for k in range(20):
        mural.advance_to(k * 1.0)
        mural.set_palette("ember" if k % 2 else "abyss", fade=0.5)
        mural.forget_applied()
    assert len(mural.grades.changes) <= 2
    mural.frame_at(20.0)
    assert mural.palette.name == "ember"  # the last change (at 19 s) has faded in


def test_a_palette_set_on_the_compositor_stays_until_the_schedule_changes():
    from dataclasses import replace

    mural = Wall(crowd(["joy"], end=2.0), size=(96, 54), palette="abyss")
    mural.advance_to(1.0)
    dimmer = replace(mural.palette, exposure=0.5)
    mural.compositor.set_palette(dimmer)
    mural.render()
    mural.advance_to(1.5)
    assert mural.palette is dimmer
    mural.set_palette("ember")
    assert mural.palette.name == "ember"
