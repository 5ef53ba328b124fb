"""The engine's public state: snapshot/restore round trips exactly, and restore refuses anything
that is not a state this engine could have been in (a crafted file must never reach a kernel)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from mural.engine import kernels
from mural.engine.engine import Engine, EngineConfig
from mural.events import MarkerEvent
from tests.helpers import blackout, crowd, emotion

SMALL = EngineConfig(size=(160, 90), seed=3, max_particles=3000)


def run(events, until: float, engine: Engine | None = None) -> Engine:
    engine = engine or Engine(SMALL)
    pending = sorted((e for e in events if e.t >= engine.t), key=lambda e: e.t)
    i = 0
    while engine.t < until - 1e-9:
        end = (engine.step_index + 1) * engine.dt
        while i < len(pending) and pending[i].t < end:
            engine.apply(pending[i])
            i += 1
        engine.step()
    return engine


EVENTS = crowd(["joy", "calm"], end=10.0) + [blackout(6.0), MarkerEvent(t=2.0, name="cue")]


@pytest.fixture(scope="module")
def snap() -> dict:
    return run(EVENTS, 4.0).snapshot()


def fresh() -> Engine:
    return Engine(SMALL)


def test_snapshot_has_the_state_file_layout(snap):
    assert set(snap) >= {"arrays", "scalars", "rng", "participants", "markers"}
    assert {"pos", "pidx", "live", "memory", "_coarse_scaled"} <= set(snap["arrays"])
    assert {"step_index", "_cursor", "_live_n", "ceiling"} <= set(snap["scalars"])
    assert snap["participants"]["ids"] == [f"p{i:02d}" for i in range(6)]
    assert snap["participants"]["arrays"]["pos"].shape == (6, 2)
    assert snap["markers"] == [[2.0, "cue"]]


def test_restore_continues_bit_identically(snap):
    straight = run(EVENTS, 9.0)
    resumed = fresh()
    resumed.restore(snap)
    assert resumed.t == pytest.approx(4.0)
    run(EVENTS, 9.0, resumed)
    for name in ("pos", "age", "pidx", "live", "memory", "vitality", "chroma"):
        assert np.array_equal(getattr(resumed, name), getattr(straight, name)), name
    assert resumed.participants.ids == straight.participants.ids
    assert [m.name for m in resumed.markers] == ["cue"]


def test_the_snapshot_is_a_copy(snap):
    engine = run(EVENTS, 2.0)
    taken = engine.snapshot()
    before = taken["arrays"]["live"].copy()
    engine.step()
    assert np.array_equal(taken["arrays"]["live"], before)


def test_a_state_with_more_participants_than_the_cap_is_trimmed(snap):
    engine = Engine(replace(SMALL, max_participants=4))
    engine.restore(snap)
    assert len(engine.participants) == 4
    live = engine.age < engine.life
    assert engine.pidx[live].max() < 4
    engine.step()


def broken(snap: dict, edit) -> dict:
    bad = copy.deepcopy(snap)
    edit(bad)
    return bad


def set_array(name, value):
    def edit(s):
        s["arrays"][name] = value(s["arrays"][name])
    return edit


def set_part(name, value):
    def edit(s):
        s["participants"]["arrays"][name] = value(s["participants"]["arrays"][name])
    return edit


def put(index, v):
    def change(a):
        a = a.copy()
        a[index] = v
        return a
    return change


def set_scalar(name, v):
    def edit(s):
        s["scalars"][name] = v
    return edit


def set_rng(path, v):
    def edit(s):
        target = s["rng"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = v
    return edit


CASES = {
    "nan position": (set_array("pos", put((0, 0), np.nan)), "pos"),
    "infinite memory": (set_array("memory", put((0, 0, 0), np.inf)), "memory"),
    "negative memory": (set_array("memory", put((1, 1, 1), -1.0)), "memory"),
    "pidx out of range": (set_array("pidx", put(0, 1_000_000)), "pidx"),
    "negative pidx": (set_array("pidx", put(5, -3)), "pidx"),
    "negative age": (set_array("age", put(0, -1.0)), "age"),
    "vitality above one": (set_array("vitality", put((0, 0), 7.0)), "vitality"),
    "wrong shape": (set_array("live", lambda a: a[:-1]), "live"),
    "wrong dtype": (set_array("pos", lambda a: a.astype(np.float64)), "pos"),
    "not an array": (set_array("age", lambda a: a.tolist()), "age"),
    "missing array": (lambda s: s["arrays"].pop("vel"), "vel"),
    "unknown array": (lambda s: s["arrays"].update(extra=np.zeros(3)), "extra"),
    "participant nan": (set_part("health", put(0, np.nan)), "health"),
    "participant out of range": (set_part("presence", put(0, 3.0)), "presence"),
    "huge emit accumulator": (set_part("emit_acc", put(0, 1e15)), "emit_acc"),
    "participant rows": (set_part("light", lambda a: a[:-1]), "light"),
    "unknown pattern": (set_part("pattern", put(0, 9.0)), "pattern"),
    "duplicate ids": (lambda s: s["participants"]["ids"].__setitem__(1, "p00"), "p00"),
    "id not text": (lambda s: s["participants"]["ids"].__setitem__(1, 7), "ids"),
    "negative step": (set_scalar("step_index", -1), "step_index"),
    "fractional step": (set_scalar("step_index", 2.5), "step_index"),
    "bool step": (set_scalar("step_index", True), "step_index"),
    "cursor out of range": (set_scalar("_cursor", 10**9), "_cursor"),
    "nan ceiling": (set_scalar("ceiling", float("nan")), "ceiling"),
    "level out of range": (set_scalar("network_level", -0.5), "network_level"),
    "missing scalar": (lambda s: s["scalars"].pop("_live_n"), "_live_n"),
    "rng generator": (set_rng(["bit_generator"], "MT19937"), "rng"),
    "rng state type": (set_rng(["state", "state"], "many"), "rng"),
    "rng state range": (set_rng(["state", "inc"], -5), "rng"),
    "rng missing": (lambda s: s.pop("rng"), "rng"),
    "marker nan": (lambda s: s["markers"].append([float("nan"), "x"]), "marker"),
    "marker shape": (lambda s: s["markers"].append(["x"]), "marker"),
    "not a dict": (lambda s: s.__setitem__("arrays", [1, 2]), "arrays"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_restore_refuses_invalid_content_with_a_clear_message(snap, case):
    edit, names = CASES[case]
    engine = fresh()
    before = engine.snapshot()
    with pytest.raises(ValueError, match=names):
        engine.restore(broken(snap, edit))
    # a refused restore leaves the engine as it was
    after = engine.snapshot()
    assert after["scalars"] == before["scalars"]
    assert np.array_equal(after["arrays"]["pos"], before["arrays"]["pos"])
    assert after["participants"]["ids"] == []


def test_restore_refuses_a_non_mapping():
    with pytest.raises(ValueError, match="snapshot"):
        fresh().restore([1, 2, 3])  # type: ignore[arg-type]


def test_a_crafted_pidx_never_reaches_the_kernels(snap):
    """The SIGSEGV of the head-drawing kernel: a live particle pointing far past the table."""
    bad = broken(snap, set_array("pidx", put(slice(None), 2**30)))
    with pytest.raises(ValueError, match="pidx"):
        fresh().restore(bad)


def test_seed_particles_places_live_particles_and_validates():
    engine = run([emotion(0.0, "a", "joy"), emotion(0.0, "b", "calm")], 0.5)
    n = 50
    rng = np.random.default_rng(0)
    pos = np.stack([rng.uniform(0, engine.aspect, n), rng.uniform(0, 1, n)], 1)
    engine.seed_particles(pos, speeds=np.full(n, 0.1), ages=np.full(n, 1.0),
                          lives=np.full(n, 1e9), pidx=np.arange(n) % 2,
                          colours=np.full((n, 3), 0.5))
    assert np.array_equal(engine.pos[:n], pos.astype(np.float32))
    assert np.array_equal(engine.prev[:n], engine.pos[:n])
    assert np.all(engine.vel[:n] == 0) and np.all(engine.life[:n] == 1e9)
    assert engine.live_particles >= n
    engine.step()

    good = dict(positions=pos, speeds=np.full(n, 0.1), ages=np.full(n, 1.0),
                lives=np.full(n, 1e9), pidx=np.arange(n) % 2, colours=np.full((n, 3), 0.5))
    for name, value, message in [
        ("pidx", np.full(n, 2), "pidx"),
        ("positions", np.full((n, 2), np.nan), "positions"),
        ("speeds", np.full(n + 1, 0.1), "speeds"),
        ("ages", np.full(n, -1.0), "ages"),
        ("colours", np.full((n, 2), 0.5), "colours"),
    ]:
        with pytest.raises(ValueError, match=message):
            engine.seed_particles(**{**good, name: value})
    with pytest.raises(ValueError, match="max_particles"):
        big = engine.config.max_particles + 1
        engine.seed_particles(np.zeros((big, 2)), np.zeros(big), np.zeros(big), np.ones(big),
                              np.zeros(big, int), np.zeros((big, 3)))


def test_the_memory_means_are_the_means_of_the_memory_after_steps_and_a_restore():
    engine = run(EVENTS, 4.0)
    assert engine.memory.any()  # a painted memory, not zeros
    expected = np.zeros_like(engine.memory_means)
    kernels.block_means(engine.memory, expected, 0, expected.shape[0])
    assert np.array_equal(engine.memory_means, expected)
    restored = fresh()
    restored.memory_means[...] = 7.0  # whatever it held is not what it keeps
    restored.restore(engine.snapshot())
    assert np.array_equal(restored.memory_means, expected)
