"""The engine: fixed steps, emitters, signal health, shadows, fairness, determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mural.engine.engine import Engine, EngineConfig, field_shape
from mural.events import MarkerEvent
from tests.helpers import blackout, crowd, emotion, signal

SMALL = EngineConfig(size=(160, 90), seed=1, max_particles=4000)


def run(events, until: float, config: EngineConfig = SMALL) -> Engine:
    engine = Engine(config)
    pending = sorted(events, key=lambda e: e.t)
    i = 0
    while engine.t < until - 1e-9:
        end = (engine.step_index + 1) * engine.dt
        while i < len(pending) and pending[i].t < end:
            engine.apply(pending[i])
            i += 1
        engine.step()
    return engine


def test_field_shape_is_half_resolution_within_bounds():
    assert field_shape((1920, 1080)) == (540, 960)
    assert field_shape((3840, 2160)) == (1080, 1920)  # a 4K still carries 4K detail
    assert field_shape((7680, 4320)) == (2160, 3840)
    assert field_shape((15360, 8640)) == (2160, 3840)  # the cap
    assert field_shape((3840, 2160), max_rows=540) == (540, 960)
    assert field_shape((160, 90)) == (90, 160)
    assert field_shape((640, 360)) == (180, 320)


def test_time_is_a_whole_number_of_fixed_steps():
    engine = Engine(SMALL)
    assert engine.steps_until(1.0) == 30
    for _ in range(45):
        engine.step()
    assert engine.t == pytest.approx(1.5)
    assert engine.steps_until(1.0) == 0


def test_same_events_and_seed_give_identical_state():
    events = crowd(["joy", "calm"], end=4.0)
    a, b = run(events, 4.0), run(events, 4.0)
    for name in ("live", "memory", "vitality", "pos", "colour"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    c = run(events, 4.0, replace(SMALL, seed=2))
    assert not np.array_equal(a.live, c.live)


def test_participants_get_stable_homes_and_follow_given_positions():
    events = [emotion(0.0, "p1", "joy"), emotion(0.0, "p2", "joy", x=0.9, y=0.1)]
    engine = run(events, 5.0)
    p = engine.participants
    i, j = p.index["p1"], p.index["p2"]
    assert np.allclose(p.pos[i], p.home[i])
    assert p.pos[j] == pytest.approx([0.9 * engine.aspect, 0.1], abs=0.02)
    again = run(events, 5.0)
    assert np.array_equal(again.participants.home[:2], p.home[:2])


def test_events_spawn_particles_that_follow_emotion():
    calm = run(crowd(["calm"], end=3.0), 3.0)
    anger = run(crowd(["anger"], end=3.0), 3.0)
    live_calm = calm.age < calm.life
    live_anger = anger.age < anger.life
    assert live_calm.sum() > 50 and live_anger.sum() > 50
    # arousal: calm light is slow and long-lived, anger is fast and brief
    assert np.median(anger.speed[live_anger]) > 2 * np.median(calm.speed[live_calm])
    assert np.median(calm.life[live_calm]) > 1.5 * np.median(anger.life[live_anger])
    # colour: anger red, calm blue
    assert anger.colour[live_anger, 0].mean() > anger.colour[live_anger, 2].mean()
    assert calm.colour[live_calm, 2].mean() > calm.colour[live_calm, 0].mean()


def test_a_silent_participant_fades_out_on_its_own():
    events = crowd(["joy"], people=2, end=3.0) + [emotion(t / 2, "p00", "joy")
                                                   for t in range(6, 30)]
    engine = run(events, 12.0)
    p = engine.participants
    assert p.presence[p.index["p01"]] == 0.0  # silent since t=3
    assert p.presence[p.index["p00"]] == 1.0
    assert engine.ceiling > 0.5  # one participant keeps the wall alive


def test_everyone_silent_is_a_blackout():
    engine = run(crowd(["joy"], end=3.0), 14.0)
    assert engine.ceiling < 0.05
    assert engine.vitality.max() < 0.1


def test_network_signal_dims_health_and_wall_then_recovery_spreads():
    events = crowd(["joy"], end=30.0) + [blackout(6.0), signal(14.0, 1.0)]
    engine = run(events, 12.0)
    assert engine.ceiling < 0.05
    assert engine.vitality.mean() < 0.1
    assert engine.participants.health[:6].max() < 0.05
    memory_energy = float(engine.memory.sum())
    assert memory_energy > 0  # the light sank into memory: shadows persist

    early = run(events, 14.6)
    later = run(events, 18.0)
    # recovery is a ramp that spreads: half a second in, part of the wall has returned
    assert 0.05 < early.vitality.mean() < later.vitality.mean()
    assert later.vitality.mean() > 0.8


def test_participant_signal_overrides_network_for_manual_expressions():
    events = [blackout(0.0), signal(0.5, 0.8, "manual-1")] + [
        emotion(0.5 + k * 0.5, "manual-1", "hope", x=0.5, y=0.5) for k in range(10)
    ] + [emotion(0.5 + k * 0.5, "sensor", "joy") for k in range(10)]
    engine = run(events, 5.0)
    p = engine.participants
    assert p.health[p.index["manual-1"]] > 0.7
    assert p.health[p.index["sensor"]] < 0.05
    # a local pool of life around the manual expression, the rest in shadow
    gy, gx = engine.vitality.shape
    assert engine.vitality[gy // 2, gx // 2] > 0.6
    assert engine.vitality[0, 0] < 0.2


def test_heart_rate_pulses_that_participants_light():
    events = [emotion(k * 0.25, "p1", "calm", heart_rate=120) for k in range(40)]
    engine = Engine(SMALL)
    lights = []
    for step in range(240):
        while events and events[0].t < (step + 1) * engine.dt:
            engine.apply(events.pop(0))
        engine.step()
        if step > 120:
            lights.append(engine.participants.light[0])
    spectrum = np.abs(np.fft.rfft(np.array(lights) - np.mean(lights)))
    freqs = np.fft.rfftfreq(len(lights), d=engine.dt)
    assert freqs[spectrum.argmax()] == pytest.approx(2.0, abs=0.3)  # 120 bpm


def test_a_chatty_participant_cannot_take_over_the_wall():
    quiet = [emotion(k * 1.0, "quiet", "calm", intensity=0.8) for k in range(20)]
    chatty = [emotion(k * 0.01, "chatty", "joy", intensity=0.8) for k in range(2000)]
    engine = run(quiet + chatty, 20.0)
    share = engine.light_share()
    assert share["quiet"] > 0.2  # 100x the events, yet the quiet one keeps a fair share
    assert share["chatty"] < 0.8


def test_markers_are_kept():
    engine = run([MarkerEvent(t=1.0, name="blackout")], 2.0)
    assert [m.name for m in engine.markers] == ["blackout"]


def test_personal_colour_leans_the_hue_but_the_emotion_shows_through():
    from mural.engine.colour import wavelength_to_linear_rgb
    from mural.engine.engine import Personal

    red = tuple(float(c) for c in wavelength_to_linear_rgb(620))
    events = [emotion(0.0, "elara", "calm"), emotion(0.0, "other", "calm")]
    engine = Engine(SMALL, personal={"elara": Personal(colour=red, pattern="ring")})
    for e in events:
        engine.apply(e)
    p = engine.participants
    mine, plain = p.target_colour[p.index["elara"]], p.target_colour[p.index["other"]]
    assert mine[0] > plain[0] + 0.2  # leaning toward her red
    assert mine[2] > 0.3 * plain[2]  # but calm's blue still shows
    assert p.pattern[p.index["elara"]] == 1
