"""Fair light: how much of the wall's light each participant got over a stream."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from mural.engine.engine import Engine, EngineConfig
from mural.engine.timeline import Timeline
from mural.events import Event

PROBE_SIZE = (160, 90)  # the share is a property of the simulation, not of the output size


def light_shares(events: Iterable[Event], *, seed: int = 0) -> dict[str, float]:
    """Each participant's share (0..1) of all particles emitted over the stream.

    Emission is bounded per participant (a rate set by intensity, arousal and health, and a
    small token bucket for bursts), so a sender of 100x more events cannot take over the wall.
    The share is the simulation's alone, so the engine is stepped as a wall steps it, without
    compositing or the safety guard (neither changes the simulation).
    """
    timeline = Timeline(events)
    config = replace(EngineConfig(max_particles=20_000), size=PROBE_SIZE, seed=seed)
    engine = Engine(config)
    for _ in range(engine.steps_until(timeline.duration + engine.dt)):
        timeline.step(engine)
    return engine.light_share()
