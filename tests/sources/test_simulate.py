"""Seeded scenarios: determinism, validity, and the festival's story beats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mural.events import EmotionEvent, MarkerEvent, SignalEvent, event_from_dict, read_stream
from mural.sources import SourceError, open_source
from mural.sources.replay import ReplaySource
from mural.sources.simulate import SCENARIOS, open_simulation, parse_sim_uri, simulate

FESTIVAL_MARKERS = ["gathering", "festival", "malfunction", "surge", "blackout", "manual",
                    "recovery", "finale"]


@pytest.fixture(scope="module")
def festival():
    return simulate("festival", seed=7)


def sensor(e):
    return isinstance(e, EmotionEvent) and e.participant.startswith("p")


def marker_times(stream):
    return {m.name: m.t for m in stream.markers}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_is_valid_sorted_and_deterministic(name):
    stream = simulate(name, participants=5, seed=3)
    events = stream.events
    assert events == simulate(name, participants=5, seed=3).events
    assert events != simulate(name, participants=5, seed=4).events
    assert [e.t for e in events] == sorted(e.t for e in events)
    assert all(event_from_dict(e.to_dict()) == e for e in events)
    assert events[0].t >= 0.0 and events[-1].t < SCENARIOS[name].duration
    assert stream.header.meta == {
        "scenario": name, "seed": 3, "participants": 5,
        "duration": SCENARIOS[name].duration, "generator": "mural.sources.simulate",
    }
    assert stream.source == f"sim:{name}"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_rates_and_optional_fields(name):
    stream = simulate(name, participants=12, seed=1)
    emotions = [e for e in stream.events if sensor(e)]
    ids = sorted({e.participant for e in emotions})
    assert ids == [f"p{i:02d}" for i in range(1, 13)]
    rate = len(emotions) / 12 / SCENARIOS[name].duration
    assert 0.4 <= rate <= 2.5, rate
    assert any(e.x is not None and e.y is not None for e in emotions)
    assert any(e.heart_rate is not None for e in emotions)
    assert any(e.x is None for e in emotions)


def test_scenario_moods():
    def mean(name, attr):
        return np.mean([getattr(e, attr) for e in simulate(name, seed=2).events if sensor(e)])

    assert mean("calm", "arousal") < 0.35 < mean("joy", "arousal")
    assert mean("grief", "valence") < 0.0 < mean("joy", "valence")
    labels = {e.emotion for e in simulate("joy", seed=2).events if sensor(e)} - {None}
    assert labels == {"joy", "anger", "surprise", "anticipation"}


def test_festival_markers_in_order(festival):
    assert [m.name for m in festival.markers] == FESTIVAL_MARKERS
    times = [m.t for m in festival.markers]
    assert times == sorted(times) and times[0] == 0.0


def test_festival_blackout_is_silent_except_manual_expressions(festival):
    beats = marker_times(festival)
    start, end = beats["blackout"], beats["recovery"]
    assert 18.0 <= end - start <= 22.0
    inside = [e for e in festival.events if start < e.t < end]
    assert not any(sensor(e) for e in inside)
    # the network itself goes dark at the start: level 0, then nothing network-wide
    network = [e for e in festival.events if isinstance(e, SignalEvent) and e.participant is None]
    assert any(e.t == start and e.level == 0.0 for e in network)
    assert not any(start < e.t < end for e in network)
    manual = [e for e in inside if getattr(e, "participant", "").startswith("manual-")]
    people = {e.participant for e in manual}
    assert 2 <= len(people) <= 3
    for who in people:
        own = [e for e in manual if e.participant == who]
        assert isinstance(own[0], SignalEvent) and 0.6 <= own[0].level <= 0.8
        feelings = own[1:]
        assert len(feelings) >= 2 and all(isinstance(e, EmotionEvent) for e in feelings)
        assert all(e.x is not None and e.y is not None for e in feelings)
        assert {e.emotion for e in feelings} <= {"hope", "sadness", "love"}
        assert all(beats["manual"] <= e.t < end for e in own)


def test_festival_surge_and_malfunction(festival):
    beats = marker_times(festival)
    surge = [e for e in festival.events if sensor(e) and beats["surge"] <= e.t < beats["blackout"]]
    span = beats["blackout"] - beats["surge"]
    assert 2.0 <= span <= 3.5
    assert len(surge) / span > 3 * 12  # a spike: many events per second
    assert all(e.intensity == 1.0 and e.arousal >= 0.9 for e in surge)
    noisy = [e for e in festival.events if isinstance(e, SignalEvent) and e.participant is None
             and beats["malfunction"] <= e.t < beats["surge"]]
    gaps = np.diff([e.t for e in noisy])
    assert 0.3 < gaps.mean() < 0.7
    assert all(0.2 <= e.level <= 0.8 for e in noisy)
    assert len({e.level for e in noisy}) > 10
    drops = [e for e in festival.events if isinstance(e, SignalEvent) and e.participant
             and e.participant.startswith("p") and e.level < 0.2]
    assert drops and all(beats["malfunction"] <= e.t < beats["surge"] for e in drops)
    confused = {e.emotion for e in festival.events if sensor(e)
                and beats["malfunction"] <= e.t < beats["surge"]}
    assert {"fear", "surprise"} <= confused


def test_festival_recovery_ramps_and_people_return_one_by_one(festival):
    beats = marker_times(festival)
    ramp = [e for e in festival.events if isinstance(e, SignalEvent) and e.participant is None
            and beats["recovery"] <= e.t <= beats["recovery"] + 10.0]
    levels = [e.level for e in ramp]
    assert levels[0] <= 0.2 and levels[-1] == 1.0 and len(ramp) >= 15
    assert np.corrcoef([e.t for e in ramp], levels)[0, 1] > 0.95
    firsts = {}
    for e in festival.events:
        if sensor(e) and e.t >= beats["recovery"]:
            firsts.setdefault(e.participant, e.t)
    assert len(firsts) == 12
    assert max(firsts.values()) - min(firsts.values()) > 5.0  # staggered, not all at once
    labels = {e.emotion for e in festival.events
              if sensor(e) and beats["recovery"] <= e.t < beats["finale"]} - {None}
    assert labels == {"hope", "trust", "love", "calm"}


def test_festival_finale_and_gathering(festival):
    beats = marker_times(festival)
    finale = [e for e in festival.events if sensor(e) and e.t >= beats["finale"]]
    assert {e.emotion for e in finale} == {"joy", "love", "awe"}
    assert np.mean([e.intensity for e in finale]) > 0.8
    assert len({e.participant for e in finale}) == 12
    gathering = [e for e in festival.events if sensor(e) and e.t < beats["festival"]]
    assert np.mean([e.arousal for e in gathering]) < 0.35
    assert np.mean([e.intensity for e in gathering]) < 0.5


def test_festival_scales_with_duration():
    short = simulate("festival", duration=90, seed=7)
    full = marker_times(simulate("festival", seed=7))
    for name, t in marker_times(short).items():
        assert t == pytest.approx(full[name] / 2)
    assert short.events[-1].t < 90


def test_many_participants_get_wider_ids():
    ids = {e.participant for e in simulate("calm", participants=120, duration=10).events
           if sensor(e)}
    assert "p001" in ids or "p002" in ids
    assert all(len(i) == 4 for i in ids)


@pytest.mark.parametrize(
    "kwargs",
    [{"participants": 0}, {"participants": 10_000}, {"participants": 2.5},
     {"duration": 0}, {"duration": float("nan")}, {"duration": -5}, {"seed": -1},
     {"seed": True}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(SourceError):
        simulate("calm", **kwargs)


def test_unknown_scenario_lists_names():
    with pytest.raises(SourceError, match="festival, calm, joy, grief, blackout"):
        simulate("rave")


def test_uri_parsing_and_open():
    assert parse_sim_uri("sim:festival?participants=20&duration=120&seed=3") == (
        "festival", {"participants": 20, "duration": 120.0, "seed": 3})
    assert parse_sim_uri("sim:calm") == ("calm", {})
    with pytest.raises(SourceError, match="must be a number"):
        parse_sim_uri("sim:calm?seed=x")
    with pytest.raises(SourceError, match="unknown option"):
        parse_sim_uri("sim:calm?speed=2")
    source = open_source("sim:blackout?participants=3&seed=2")
    assert isinstance(source, ReplaySource)
    assert source.name == "sim:blackout?participants=3&seed=2"
    assert source.stream.events == simulate("blackout", participants=3, seed=2).events
    assert source.stats.accepted == len(source.stream.events) and source.stats.rejected == 0
    with pytest.raises(SourceError):
        open_simulation("sim:nope")


def test_blackout_scenario_silence():
    stream = simulate("blackout", seed=5)
    beats = marker_times(stream)
    assert beats["recovery"] - beats["blackout"] == pytest.approx(20.0)
    assert not [e for e in stream.events if beats["blackout"] < e.t < beats["recovery"]]
    assert any(isinstance(e, MarkerEvent) for e in stream.events)


def test_shipped_festival_recording_is_current(festival):
    """assets/sessions/festival.jsonl is `mural simulate festival --seed 7`; regenerate it
    (see the header line) whenever the simulator changes."""
    shipped = read_stream(Path(__file__).parents[2] / "assets/sessions/festival.jsonl", strict=True)
    assert shipped.header == festival.header
    assert shipped.events == festival.events
