"""Seeded crowd scenarios: reproducible emotion streams for rehearsal, tests and demos.

`simulate(name, ...)` returns a `Stream` (time-ordered events plus a `Header` recording the
scenario, seed, participant count and duration); iterate it or take `.events` for the plain
`list[Event]`. The same arguments always give identical events: all randomness comes from one
`numpy.random.Generator` seeded through `SeedSequence(seed)`.

SOURCE syntax: `sim:NAME`, optionally `sim:NAME?participants=20&duration=120&seed=3`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from mural.events import EMOTIONS, Event, Header, Stream, event_from_dict
from mural.sources.base import Clock, SourceError
from mural.sources.replay import ReplaySource

MAX_PARTICIPANTS = 1000
MAX_DURATION = 6 * 3600.0
HEARTBEAT_EVERY = 5.0  # seconds between "all is well" network signals in healthy phases


def _r(value: float) -> float:
    """Millisecond / thousandth precision keeps files small; repr round-trips it exactly."""
    return round(float(value), 3)


class _Crowd:
    """Accumulates one scenario's events as plain dicts (validated at the end)."""

    def __init__(self, rng: np.random.Generator, participants: int, duration: float) -> None:
        self.rng = rng
        self.duration = duration
        width = max(2, len(str(participants)))
        self.ids = [f"p{i:0{width}d}" for i in range(1, participants + 1)]
        n = participants
        self.home = rng.uniform(0.1, 0.9, (n, 2))  # where each participant stands on the wall
        self.pulse = rng.uniform(58.0, 82.0, n)  # resting heart rate
        self.pace = rng.uniform(0.75, 1.25, n)  # how chatty each participant is
        self.records: list[dict[str, Any]] = []

    @property
    def everyone(self) -> np.ndarray:
        return np.arange(len(self.ids))

    def marker(self, t: float, name: str) -> None:
        self.records.append({"t": _r(t), "type": "marker", "name": name})

    def signal(self, t: float, level: float, participant: str | None = None) -> None:
        record: dict[str, Any] = {"t": _r(t), "type": "signal",
                                  "level": _r(np.clip(level, 0.0, 1.0))}
        if participant is not None:
            record["participant"] = participant
        self.records.append(record)

    def network(
        self, start: float, end: float, level: Callable[[np.ndarray], np.ndarray], every: float
    ) -> None:
        """Network-wide signal events about every `every` seconds (jittered), levels from t."""
        ts = np.arange(start, end, every)
        if ts.size == 0:
            return
        ts = np.clip(ts + self.rng.uniform(0.0, 0.1 * every, ts.size), start, end)
        for t, lv in zip(ts, level(ts), strict=True):
            if t < self.duration:
                self.signal(t, lv)

    def heartbeat(self, start: float, end: float) -> None:
        self.network(start, end, lambda ts: self.rng.uniform(0.95, 1.0, ts.size), HEARTBEAT_EVERY)

    def express(
        self,
        start: float,
        end: float,
        mix: dict[str, float],
        *,
        rate: tuple[float, float] = (1.0, 1.0),
        intensity: tuple[float, float] = (0.5, 0.5),
        who: Sequence[int] | np.ndarray | None = None,
        begins: np.ndarray | None = None,
        arousal: tuple[float, float] | None = None,
        arousal_scale: float = 1.0,
        valence_shift: float = 0.0,
        nuance: float = 0.2,
        spread: float = 0.08,
        free: float = 0.05,
        jitter: float = 0.05,
        gaps: dict[int, tuple[float, float]] | None = None,
    ) -> None:
        """Emotion events from participants over [start, end).

        `rate` and `intensity` ramp linearly across the phase (per participant, scaled by their
        pace); `begins` gives each participant's own start (arrivals, returns); `arousal` forces
        arousal into a range, `arousal_scale`/`valence_shift` bend the labels' anchors (a quiet
        crowd, a grieving one); `nuance` is the share of events carrying their own
        valence/arousal, `free` the share with no label at all, `jitter` the intensity noise;
        `gaps` silences a participant for a while.
        """
        rng = self.rng
        labels = list(mix)
        weights = np.array([mix[k] for k in labels], dtype=float)
        weights /= weights.sum()
        anchors = np.array([(EMOTIONS[k].valence, EMOTIONS[k].arousal) for k in labels])
        span = end - start
        if span <= 0:
            return
        for i in self.everyone if who is None else who:
            lo = start if begins is None else max(start, float(begins[i]))
            hi = min(end, self.duration)
            if hi <= lo:
                continue
            r0, r1 = rate[0] * self.pace[i], rate[1] * self.pace[i]
            top = max(r0, r1)
            # A ramped Poisson process by thinning: draw at the top rate, keep by the ramp.
            ts = np.sort(rng.uniform(lo, hi, rng.poisson(top * (hi - lo))))
            progress = (ts - start) / span
            ts = ts[rng.random(ts.size) * top < r0 + (r1 - r0) * progress]
            if gaps and i in gaps:
                a, b = gaps[i]
                ts = ts[(ts < a) | (ts >= b)]
            n = ts.size
            if n == 0:
                continue
            progress = (ts - start) / span
            pick = rng.choice(len(labels), n, p=weights)
            va = anchors[pick].copy()
            va[:, 0] = va[:, 0] + valence_shift
            va[:, 1] = va[:, 1] * arousal_scale
            if arousal is not None:
                va[:, 1] = rng.uniform(arousal[0], arousal[1], n)
            va += rng.normal(0.0, spread, (n, 2)) * (rng.random((n, 1)) < nuance)
            va[:, 0] = np.clip(va[:, 0], -1.0, 1.0)
            va[:, 1] = np.clip(va[:, 1], 0.0, 1.0)
            power = intensity[0] + (intensity[1] - intensity[0]) * progress
            power = np.clip(power + rng.normal(0.0, jitter, n), 0.05, 1.0)
            where = np.clip(self.home[i] + rng.normal(0.0, 0.04, (n, 2)), 0.0, 1.0)
            has_where = rng.random(n) < 0.6
            heart = np.clip(self.pulse[i] + 70.0 * va[:, 1] * power + rng.normal(0, 4, n),
                            40.0, 200.0)
            has_heart = rng.random(n) < 0.35
            no_label = rng.random(n) < free
            shifted = (arousal is not None) or arousal_scale != 1.0 or valence_shift != 0.0
            custom = shifted | (rng.random(n) < nuance)
            pid = self.ids[i]
            for j in range(n):
                record: dict[str, Any] = {"t": _r(ts[j]), "participant": pid,
                                          "intensity": _r(power[j])}
                if not no_label[j]:
                    record["emotion"] = labels[pick[j]]
                if no_label[j] or custom[j]:
                    record["valence"], record["arousal"] = _r(va[j, 0]), _r(va[j, 1])
                if has_where[j]:
                    record["x"], record["y"] = _r(where[j, 0]), _r(where[j, 1])
                if has_heart[j]:
                    record["heart_rate"] = round(float(heart[j]), 1)
                self.records.append(record)

    def returns(self, start: float, within: float) -> np.ndarray:
        """Each participant's return time after an outage: one by one, in a random order."""
        n = len(self.ids)
        times = np.sort(self.rng.uniform(0.05 * within, within, n)) + start
        begins = np.empty(n)
        begins[self.rng.permutation(n)] = times
        for i in np.argsort(begins, kind="stable"):
            self.signal(begins[i], self.rng.uniform(0.85, 1.0), self.ids[i])
        return begins + 0.2  # first expression just after the sensor reports back

    def recovery_network(self, start: float, ramp: float, end: float) -> None:
        """Network level climbing 0.1 -> 1.0 over `ramp` seconds, then healthy heartbeats."""
        rng = self.rng
        self.network(
            start,
            start + ramp,
            lambda ts: np.clip(0.1 + 0.9 * (ts - start) / ramp
                               + rng.normal(0.0, 0.02, ts.size), 0.1, 1.0),
            0.5,
        )
        self.signal(start + ramp, 1.0)
        self.heartbeat(start + ramp + HEARTBEAT_EVERY, end)

    def events(self) -> list[Event]:
        return [event_from_dict(r) for r in self.records]  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Scenarios. Each builder gets the crowd and a time scale (duration / default duration).

CALM_MIX = {"calm": 0.35, "trust": 0.25, "sadness": 0.2, "love": 0.2}
JOY_MIX = {"joy": 0.4, "anger": 0.15, "surprise": 0.2, "anticipation": 0.25}
GRIEF_MIX = {"sadness": 0.5, "fear": 0.2, "calm": 0.3}


def _festival(c: _Crowd, k: float) -> None:
    """Gathering, festival, malfunction, surge, blackout with manual expressions, recovery,
    finale. Times are for the default 180 s and scale with the duration."""
    rng, d = c.rng, c.duration
    n = len(c.ids)
    phase = {name: t * k for name, t in (
        ("gathering", 0.0), ("festival", 25.0), ("malfunction", 65.0), ("surge", 90.0),
        ("blackout", 93.0), ("manual", 99.0), ("recovery", 113.0), ("finale", 140.0),
    )}
    for name, t in phase.items():
        c.marker(t, name)

    # A calm gathering: people arrive over the first ten seconds, quiet and trusting.
    t0, t1 = phase["gathering"], phase["festival"]
    arrivals = t0 + rng.uniform(0.0, 0.4 * (t1 - t0), n)
    c.heartbeat(t0, t1)
    c.express(t0, t1, {"calm": 0.45, "trust": 0.3, "hope": 0.25}, rate=(0.6, 0.7),
              intensity=(0.25, 0.45), begins=arrivals, arousal_scale=0.7)

    # Festival joy rising.
    t0, t1 = phase["festival"], phase["malfunction"]
    c.heartbeat(t0, t1)
    c.express(t0, t1, {"joy": 0.35, "anticipation": 0.2, "love": 0.15, "awe": 0.15,
                       "surprise": 0.15}, rate=(0.8, 1.6), intensity=(0.4, 0.9))

    # Biosensor malfunction: a noisy network, some participants dropping out, confusion.
    t0, t1 = phase["malfunction"], phase["surge"]
    c.network(t0, t1, lambda ts: np.clip(0.5 + 0.18 * np.sin(ts * 0.9)
                                         + rng.normal(0.0, 0.12, ts.size), 0.2, 0.8), 0.5)
    gaps: dict[int, tuple[float, float]] = {}
    for i in rng.choice(n, max(1, n // 3), replace=False):
        a = rng.uniform(t0, t0 + 0.7 * (t1 - t0))
        b = min(a + rng.uniform(2.0, 6.0) * k, t1)
        gaps[int(i)] = (a, b)
        c.signal(a, rng.uniform(0.0, 0.15), c.ids[i])
        c.signal(b, rng.uniform(0.75, 0.95), c.ids[i])
    c.express(t0, t1, {"joy": 0.25, "anticipation": 0.1, "surprise": 0.25, "fear": 0.3,
                       "awe": 0.1}, rate=(0.9, 0.8), intensity=(0.5, 0.7), nuance=0.5,
              spread=0.2, gaps=gaps)

    # The energy surge: everything at once, then the network goes dark.
    t0, t1 = phase["surge"], phase["blackout"]
    c.signal(t0, 1.0)
    c.express(t0, t1, {"joy": 0.3, "surprise": 0.3, "awe": 0.2, "anticipation": 0.2},
              rate=(5.0, 5.0), intensity=(1.0, 1.0), arousal=(0.9, 1.0), free=0.0, nuance=0.0,
              jitter=0.0)
    c.signal(t1, 0.0)

    # Blackout: sensors send nothing. A few people express themselves by hand, in the dark.
    t0, t1 = phase["manual"], phase["recovery"]
    last = phase["manual"] + 10.0 * k
    for m in range(1, int(rng.integers(2, 4)) + 1):
        who = f"manual-{m}"
        begin = rng.uniform(t0, t0 + 0.3 * (last - t0))
        c.signal(begin, rng.uniform(0.65, 0.75), who)
        count = int(rng.integers(3, 6))
        for t in np.sort(rng.uniform(begin + 0.3 * k, last, count)):
            label = str(rng.choice(["hope", "sadness", "love"], p=[0.4, 0.3, 0.3]))
            c.records.append({
                "t": _r(t), "participant": who, "emotion": label,
                "intensity": _r(rng.uniform(0.5, 0.8)),
                "x": _r(rng.uniform(0.05, 0.95)), "y": _r(rng.uniform(0.05, 0.95)),
            })

    # Recovery: the network ramps back over ~10 s; participants return one by one.
    t0, t1 = phase["recovery"], phase["finale"]
    c.recovery_network(t0, 10.0 * k, t1)
    begins = c.returns(t0, 15.0 * k)
    c.express(t0, t1, {"hope": 0.3, "trust": 0.3, "love": 0.2, "calm": 0.2},
              rate=(0.8, 0.9), intensity=(0.3, 0.6), begins=begins)

    # A radiant finale, everyone.
    t0 = phase["finale"]
    c.heartbeat(t0 + HEARTBEAT_EVERY * 0.5, d)
    c.express(t0, d, {"joy": 0.4, "love": 0.35, "awe": 0.25}, rate=(1.5, 2.0),
              intensity=(0.8, 1.0), free=0.0)


def _calm(c: _Crowd, k: float) -> None:
    """A quiet, grieving-tender crowd: low arousal, slow."""
    c.marker(0.0, "calm")
    c.heartbeat(0.0, c.duration)
    c.express(0.0, c.duration, CALM_MIX, rate=(0.6, 0.6), intensity=(0.3, 0.5),
              arousal_scale=0.8)


def _joy(c: _Crowd, k: float) -> None:
    """An excited crowd: high arousal, fast, intensity climbing."""
    c.marker(0.0, "joy")
    c.heartbeat(0.0, c.duration)
    c.express(0.0, c.duration, JOY_MIX, rate=(1.3, 1.8), intensity=(0.6, 0.95),
              arousal=(0.7, 1.0))


def _grief(c: _Crowd, k: float) -> None:
    """A grieving crowd: low valence, low-to-mid arousal."""
    c.marker(0.0, "grief")
    c.heartbeat(0.0, c.duration)
    c.express(0.0, c.duration, GRIEF_MIX, rate=(0.5, 0.6), intensity=(0.4, 0.6),
              valence_shift=-0.15)


def _blackout(c: _Crowd, k: float) -> None:
    """Active for 20 s, the network dead and silent for 20 s, then recovery."""
    off, on = 20.0 * k, 40.0 * k
    c.marker(0.0, "active")
    c.heartbeat(0.0, off)
    c.express(0.0, off, {"joy": 0.35, "anticipation": 0.25, "surprise": 0.2, "awe": 0.2},
              rate=(1.2, 1.4), intensity=(0.6, 0.8))
    c.marker(off, "blackout")
    c.signal(off, 0.0)
    c.marker(on, "recovery")
    c.recovery_network(on, 10.0 * k, c.duration)
    begins = c.returns(on, 8.0 * k)
    c.express(on, c.duration, {"hope": 0.35, "trust": 0.3, "love": 0.2, "calm": 0.15},
              rate=(0.8, 1.0), intensity=(0.3, 0.6), begins=begins)


@dataclass(frozen=True)
class Scenario:
    """A named scenario: its default length, what it depicts, and how to build it."""

    name: str
    duration: float
    summary: str
    build: Callable[[_Crowd, float], None]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("festival", 180.0, "gathering, festival joy, sensor malfunction, surge, "
                 "blackout with manual expressions, recovery, finale", _festival),
        Scenario("calm", 60.0, "a quiet crowd: calm, trust, sadness, love", _calm),
        Scenario("joy", 60.0, "an excited crowd: joy, anger, surprise, anticipation", _joy),
        Scenario("grief", 60.0, "a grieving crowd: sadness, fear, calm", _grief),
        Scenario("blackout", 60.0, "20 s active, 20 s network blackout, recovery", _blackout),
    )
}


def scenario_names() -> str:
    return ", ".join(SCENARIOS)


def simulate(
    name: str, *, participants: int = 12, duration: float | None = None, seed: int = 0
) -> Stream:
    """Generate a scenario as a Stream (events + a Header naming scenario, seed, size).

    Raises SourceError for an unknown scenario or out-of-range arguments.
    """
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise SourceError(f"unknown scenario {name!r} (choose from: {scenario_names()})")
    if isinstance(participants, bool) or not isinstance(participants, int | np.integer) or not (
        1 <= participants <= MAX_PARTICIPANTS
    ):
        raise SourceError(f"participants must be a whole number in 1..{MAX_PARTICIPANTS}, "
                          f"got {participants!r}")
    length = scenario.duration if duration is None else float(duration)
    if not 1.0 <= length <= MAX_DURATION:  # also rejects NaN
        raise SourceError(f"duration must be 1..{MAX_DURATION:g} seconds, got {duration!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SourceError(f"seed must be a whole number >= 0, got {seed!r}")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    crowd = _Crowd(rng, int(participants), length)
    scenario.build(crowd, length / scenario.duration)
    header = Header(meta={
        "scenario": name, "seed": int(seed), "participants": int(participants),
        "duration": length, "generator": "mural.sources.simulate",
    })
    return Stream(crowd.events(), header=header, source=f"sim:{name}")


def parse_sim_uri(uri: str) -> tuple[str, dict[str, Any]]:
    """'sim:festival?participants=20&seed=3' -> ('festival', {'participants': 20, 'seed': 3})."""
    body = uri[len("sim:") :] if uri.startswith("sim:") else uri
    name, _, query = body.partition("?")
    kwargs: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        try:
            if key in ("participants", "seed"):
                kwargs[key] = int(value)
            elif key == "duration":
                kwargs[key] = float(value)
            else:
                raise SourceError(f"{uri}: unknown option {key!r} "
                                  "(expected participants, duration, seed)")
        except ValueError:
            raise SourceError(f"{uri}: {key} must be a number, got {value!r}") from None
    return name, kwargs


def open_simulation(
    uri: str, *, strict: bool = False, clock: Clock | None = None
) -> ReplaySource:
    """Open `sim:NAME[?participants=N&duration=S&seed=N]` as a replayable source."""
    del strict, clock  # generated events are valid and carry their own times
    name, kwargs = parse_sim_uri(uri)
    return ReplaySource(simulate(name, **kwargs), name=uri)


__all__ = [
    "SCENARIOS",
    "Scenario",
    "open_simulation",
    "parse_sim_uri",
    "scenario_names",
    "simulate",
]
