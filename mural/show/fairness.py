"""Fair light: how much of the wall's light each participant got over a stream."""

from __future__ import annotations

from collections.abc import Iterable

from mural.engine.engine import EngineConfig
from mural.events import Event
from mural.show.wall import Wall

PROBE_SIZE = (160, 90)  # the share is a property of the simulation, not of the output size


def light_shares(events: Iterable[Event], *, seed: int = 0) -> dict[str, float]:
    """Each participant's share (0..1) of all particles emitted over the stream.

    Emission is bounded per participant (a rate set by intensity, arousal and health, and a
    small token bucket for bursts), so a sender of 100x more events cannot take over the wall.
    """
    events = list(events)
    mural = Wall(events, size=PROBE_SIZE, seed=seed, config=EngineConfig(max_particles=20_000))
    end = max((e.t for e in events), default=0.0)
    mural.advance_to(end + mural.engine.dt)
    return mural.engine.light_share()
