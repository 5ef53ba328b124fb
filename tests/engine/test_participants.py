"""Participants from outside cannot stall the engine: a cap, eviction, and silent ones cost nothing.

A flood of new participant ids (a burst in a recording, a client sending unique ids) must leave
the per-step participant arrays bounded, evict deterministically (oldest silent first), never
leave a particle pointing at a participant that is gone, and leave the steady crowd lighting
the wall. Sizes and active counts are asserted, never timings.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mural.engine.engine import Engine, EngineConfig
from mural.events import EmotionEvent, MarkerEvent, SignalEvent
from tests.helpers import crowd, emotion

SMALL = EngineConfig(size=(160, 90), seed=1, max_particles=4000)


def burst(n: int, start: float = 0.0, seconds: float = 1.0, prefix: str = "b") -> list:
    """n distinct participant ids, one event each, spread over `seconds`."""
    return [EmotionEvent(t=start + seconds * k / n, participant=f"{prefix}{k}", valence=0.8,
                         arousal=0.65, intensity=0.9, emotion="joy") for k in range(n)]


class Runner:
    """Applies a time-sorted stream to an engine step by step (as the Wall does)."""

    def __init__(self, events, config: EngineConfig = SMALL) -> None:
        self.engine = Engine(config)
        self.events = sorted(events, key=lambda e: e.t)
        self.next = 0

    def until(self, t: float, check=None) -> Engine:
        engine = self.engine
        while engine.t < t - 1e-9:
            end = (engine.step_index + 1) * engine.dt
            while self.next < len(self.events) and self.events[self.next].t < end:
                engine.apply(self.events[self.next])
                self.next += 1
            engine.step()
            if check is not None:
                check(engine)
        return engine


def live_pidx_in_range(engine: Engine) -> None:
    live = engine.age < engine.life
    assert engine.pidx[live].min(initial=0) >= 0
    assert engine.pidx[live].max(initial=0) < max(1, len(engine.participants))


def test_the_default_cap_is_a_few_hundred_participants():
    assert 64 <= EngineConfig().max_participants <= 1024


def test_a_burst_of_20000_ids_then_a_steady_crowd_stays_bounded_and_lit():
    cap = SMALL.max_participants
    events = burst(20_000, start=1.0) + crowd(["joy", "calm"], start=12.0, end=30.0)
    run = Runner(events)
    run.until(3.0, check=live_pidx_in_range)
    p = run.engine.participants
    assert len(p) == cap  # the table is full, never larger
    assert p.capacity <= 2 * cap and len(p.ids) == len(p.index) == cap
    assert p.light.shape[0] == p.capacity  # every per-participant array is bounded too
    assert run.engine.evictions == 20_000 - cap
    assert run.engine.active_participants <= cap

    engine = run.until(11.0, check=live_pidx_in_range)
    # the burst has faded out and settled: silent participants cost nothing per step
    assert engine.active_participants == 0
    assert float(engine.participants.light[: len(engine.participants)].max()) == 0.0

    engine = run.until(30.0, check=live_pidx_in_range)
    p = engine.participants
    assert len(p) == cap
    crowd_ids = [f"p{i:02d}" for i in range(6)]
    assert all(pid in p.index for pid in crowd_ids)  # the crowd took the oldest silent slots
    assert engine.active_participants == len(crowd_ids)  # only the crowd costs work
    assert min(p.light[p.index[pid]] for pid in crowd_ids) > 0.5
    assert engine.ceiling > 0.5
    assert engine.live_particles > 100
    assert float(engine.live.sum()) > 0.0


def test_after_a_burst_the_wall_renders_and_the_crowd_lights_it():
    from mural.show.wall import Wall
    from tests.helpers import luminance

    steady = crowd(["joy", "calm"], end=30.0)
    config = replace(SMALL, max_participants=64)
    alone = Wall(steady, size=(160, 90), seed=1, config=config).frame_at(25.0)
    flooded = Wall(steady + burst(5_000, start=5.0), size=(160, 90), seed=1, config=config)
    frame = flooded.frame_at(25.0)
    assert frame.shape == (90, 160, 3)
    assert len(flooded.engine.participants) == 64
    assert flooded.engine.active_participants == 6
    # the crowd still lights the wall, about as brightly as without the burst
    assert luminance(frame).mean() > 0.5 * luminance(alone).mean() > 0.0


def test_a_flood_while_the_crowd_speaks_does_not_push_the_crowd_out():
    config = replace(SMALL, max_participants=32)
    steady = crowd(["joy"], people=4, end=12.0, every=0.5)
    run = Runner(steady + burst(3_000, start=4.0, seconds=3.0), config)
    engine = run.until(12.0, check=live_pidx_in_range)
    p = engine.participants
    assert len(p) == 32
    for pid in ("p00", "p01", "p02", "p03"):  # faded in and still speaking: kept
        assert pid in p.index
        assert p.presence[p.index[pid]] == 1.0


def test_the_oldest_silent_participant_leaves_first_and_returns_as_new():
    config = replace(SMALL, max_participants=4)
    events = [emotion(0.0, "a", "joy"), emotion(0.5, "b", "calm"), emotion(1.0, "c", "awe"),
              emotion(1.5, "d", "love")]
    events += [emotion(t, who, "joy") for t in (2.0, 4.0, 6.0) for who in ("b", "c", "d")]
    events += [emotion(7.0, "e", "hope")]  # the table is full: the one silent longest leaves
    run = Runner(events, config)
    engine = run.until(7.5)
    p = engine.participants
    assert sorted(p.ids) == ["b", "c", "d", "e"]
    assert engine.evictions == 1
    slot = p.index["e"]
    assert p.ids[slot] == "e" and p.last_seen[slot] == 7.0

    run.events += [emotion(8.0, "a", "anger")]  # "a" comes back: as a newcomer
    engine = run.until(8.5)
    p = engine.participants
    assert "a" in p.index and len(p) == 4
    i = p.index["a"]
    assert p.presence[i] < 0.5  # fading in from nothing, not where it left off


def test_particles_of_an_evicted_participant_are_retired_not_misattributed():
    config = replace(SMALL, max_participants=2)
    events = [emotion(k * 0.25, "a", "calm") for k in range(8)]  # a lights up, then stops
    events += [emotion(2.0 + k * 0.5, "b", "calm") for k in range(9)]
    engine = Runner(events, config).until(6.0)  # a: silent past the timeout, still glowing
    slot_a = engine.participants.index["a"]
    theirs = (engine.age < engine.life) & (engine.pidx == slot_a)
    assert theirs.sum() > 10
    engine.apply(emotion(engine.t, "c", "joy"))  # full table: a (silent longest) leaves
    assert "a" not in engine.participants.index
    assert engine.participants.index["c"] == slot_a  # its slot is reused
    engine.step()
    # every particle a left behind is retired; its light stays in the fields as memory
    assert not np.any(theirs & (engine.age < engine.life))
    assert float(engine.live.sum()) > 0.0
    live_pidx_in_range(engine)


def test_eviction_is_deterministic():
    config = replace(SMALL, max_participants=16)
    events = crowd(["joy", "calm"], end=8.0) + burst(500, start=2.0, seconds=2.0)

    def final():
        engine = Runner(events, config).until(8.0)
        return engine

    a, b = final(), final()
    assert a.participants.ids == b.participants.ids
    assert a.evictions == b.evictions > 0
    for name in ("pidx", "pos", "age", "live", "memory"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_streams_under_the_cap_do_not_depend_on_the_cap():
    events = crowd(["joy", "calm", "anger"], end=8.0) + [SignalEvent(t=3.0, level=0.2),
                                                         SignalEvent(t=5.0, level=1.0)]
    a = Runner(events, replace(SMALL, max_participants=6)).until(8.0)
    b = Runner(events, replace(SMALL, max_participants=5000)).until(8.0)
    assert a.evictions == b.evictions == 0
    for name in ("pos", "prev", "colour", "age", "life", "pidx", "live", "memory", "vitality",
                 "chroma"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    n = len(a.participants)
    assert np.array_equal(a.participants.light[:n], b.participants.light[:n])


def test_silent_settled_participants_wake_up_exactly():
    """A participant asleep (faded, settled) and woken by the network or its own event steps on
    as if it had been stepped all along: compare against an engine that keeps everyone awake."""
    events = crowd(["joy"], people=3, end=3.0) + [
        SignalEvent(t=14.0, level=0.3), emotion(20.0, "p01", "anger"),
        SignalEvent(t=26.0, level=1.0), emotion(27.0, "p02", "calm", x=0.2, y=0.8),
    ]
    sleepy = Runner(events)
    awake = Runner(events)
    awake.engine._never_sleep = True  # the reference: every participant stepped every step
    slept = False
    for t in np.arange(1.0, 34.0, 1.0):
        a, b = sleepy.until(t), awake.until(t)
        slept |= a.active_participants < len(a.participants)
        for name in ("pos", "age", "live", "memory", "vitality"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), (t, name)
        n = len(a.participants)
        for name in ("health", "presence", "light", "colour", "pos", "emitted", "tokens"):
            assert np.array_equal(getattr(a.participants, name)[:n],
                                  getattr(b.participants, name)[:n]), (t, name)
    assert slept


def test_markers_are_bounded_keeping_the_latest():
    config = replace(SMALL, max_markers=100)
    engine = Engine(config)
    for k in range(5_000):
        engine.apply(MarkerEvent(t=k * 0.01, name=f"m{k}"))
    assert len(engine.markers) == 100
    assert [m.name for m in engine.markers][-1] == "m4999"
    assert engine.markers[0].name == "m4900"
    assert EngineConfig().max_markers == 1000


def test_light_share_still_counts_participants_who_left():
    config = replace(SMALL, max_participants=4)
    events = [emotion(k * 0.5, f"v{k}", "joy") for k in range(10)]
    engine = Runner(events, config).until(8.0)
    share = engine.light_share()
    assert set(share) == {f"v{k}" for k in range(10)}
    assert sum(share.values()) == pytest.approx(1.0)
    assert min(share.values()) > 0.0
