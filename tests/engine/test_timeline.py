"""The timeline: the one sorted-events cursor that feeds an engine, step by step."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mural.engine.timeline import Timeline, step_end
from mural.events import MarkerEvent


@dataclass
class FakeEngine:
    """What a timeline needs of an engine: its step index, its rate, and `apply`."""

    sim_hz: int = 10
    step_index: int = 0
    applied: list = field(default_factory=list)

    @property
    def config(self):
        return self

    def apply(self, event) -> None:
        self.applied.append((self.step_index, event.name))

    def step(self) -> None:
        self.step_index += 1


def marker(t: float, name: str) -> MarkerEvent:
    return MarkerEvent(t=t, name=name)


def test_events_are_sorted_by_time_and_stable_for_equal_times():
    timeline = Timeline([marker(0.3, "c"), marker(0.1, "a"), marker(0.3, "d"), marker(0.2, "b")])
    assert [e.name for e in timeline.events] == ["a", "b", "c", "d"]
    assert timeline.duration == 0.3 and len(timeline) == 4
    assert Timeline().duration == 0.0


def test_an_event_lands_on_the_step_during_which_it_happens():
    engine = FakeEngine(sim_hz=10)
    timeline = Timeline([marker(0.0, "start"), marker(0.1, "edge"), marker(0.15, "mid"),
                         marker(0.35, "late")])
    for _ in range(5):
        timeline.step(engine)
    # step k runs from k/10 to (k+1)/10 and takes the events with t < (k+1)/10
    assert engine.applied == [(0, "start"), (1, "edge"), (1, "mid"), (3, "late")]
    assert timeline.position == 4


def test_apply_due_takes_only_what_is_due_and_counts_it():
    engine = FakeEngine(sim_hz=10)
    timeline = Timeline([marker(0.05, "a"), marker(0.05, "b"), marker(0.5, "c")])
    assert step_end(engine) == 0.1
    assert timeline.apply_due(engine) == 2
    assert timeline.apply_due(engine) == 0  # nothing is applied twice
    assert [name for _, name in engine.applied] == ["a", "b"]


def test_events_applied_before_a_refused_one_are_not_applied_again():
    class Picky(FakeEngine):
        def apply(self, event) -> None:
            if event.name == "bad":
                raise ValueError("refused")
            super().apply(event)

    engine = Picky(sim_hz=10)
    timeline = Timeline([marker(0.0, "a"), marker(0.01, "bad"), marker(0.02, "c")])
    with pytest.raises(ValueError):
        timeline.apply_due(engine)
    assert timeline.position == 1 and engine.applied == [(0, "a")]


def test_pushed_events_land_at_the_first_step_not_yet_simulated():
    engine = FakeEngine(sim_hz=10)
    timeline = Timeline([marker(0.0, "a"), marker(0.5, "z")])
    for _ in range(3):
        timeline.step(engine)
    # late input (stamped in the past) and input at the same time as a held event
    timeline.push([marker(0.05, "late"), marker(0.5, "z2"), marker(0.31, "now")])
    assert [e.name for e in timeline.events] == ["a", "late", "now", "z", "z2"]
    for _ in range(3):
        timeline.step(engine)
    assert engine.applied == [(0, "a"), (3, "late"), (3, "now"), (5, "z"), (5, "z2")]


def test_pushing_before_the_cursor_never_rewrites_the_past():
    engine = FakeEngine(sim_hz=10)
    timeline = Timeline([marker(0.0, "a"), marker(0.0, "b")])
    timeline.step(engine)
    timeline.push([marker(0.0, "c")])
    assert [e.name for e in timeline.events] == ["a", "b", "c"] and timeline.position == 2


def test_reset_replays_every_event_held():
    timeline = Timeline([marker(0.0, "a"), marker(0.25, "b")])
    first = FakeEngine(sim_hz=10)
    for _ in range(4):
        timeline.step(first)
    timeline.reset()
    again = FakeEngine(sim_hz=10)
    for _ in range(4):
        timeline.step(again)
    assert again.applied == first.applied == [(0, "a"), (2, "b")]


def test_forget_applied_keeps_only_what_is_still_to_come():
    engine = FakeEngine(sim_hz=10)
    timeline = Timeline([marker(k * 0.1, str(k)) for k in range(10)])
    for _ in range(4):
        timeline.step(engine)
    timeline.forget_applied()
    assert [e.name for e in timeline.events] == ["4", "5", "6", "7", "8", "9"]
    assert timeline.position == 0
    timeline.step(engine)
    assert engine.applied[-1] == (4, "4")


def test_seek_to_counts_the_events_before_a_resume_as_applied():
    events = [marker(0.0, "a"), marker(0.2, "b"), marker(0.2, "c"), marker(0.3, "d")]
    timeline = Timeline(events)
    timeline.seek_to(0.2)
    assert timeline.position == 1  # events at t < 0.2 were applied before the resume
    engine = FakeEngine(sim_hz=10, step_index=2)
    timeline.step(engine)
    assert engine.applied == [(2, "b"), (2, "c")]
    timeline.seek_to(10.0)
    assert timeline.position == 4
    timeline.seek_to(0.0)
    assert timeline.position == 0


def test_a_resumed_engine_gets_the_same_events_as_one_that_ran_through():
    events = [marker(k * 0.07, str(k)) for k in range(30)]
    through = FakeEngine(sim_hz=30)
    timeline = Timeline(events)
    for _ in range(60):
        timeline.step(through)
    resumed = FakeEngine(sim_hz=30, step_index=25)
    again = Timeline(events)
    again.seek_to(resumed.step_index / resumed.sim_hz)
    for _ in range(35):
        again.step(resumed)
    assert resumed.applied == [a for a in through.applied if a[0] >= 25]


def test_the_events_view_is_read_only_and_follows_the_timeline():
    timeline = Timeline([marker(0.0, "a")])
    view = timeline.events
    with pytest.raises(TypeError):
        view[0] = marker(1.0, "x")  # type: ignore[index]
    assert not hasattr(view, "append") and not hasattr(view, "insert")
    timeline.push([marker(0.5, "b")])
    assert [e.name for e in view] == ["a", "b"] and len(view) == 2 and view[-1].name == "b"
    assert view == [marker(0.0, "a"), marker(0.5, "b")] and bool(view)
    assert view[:1] == [marker(0.0, "a")]
