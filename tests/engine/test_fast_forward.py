"""The fused fast-forward step: the same bits as the step it replaced, on any thread count.

The engine's step is a few compiled kernels (participants and spawn counts; births, motion,
trails, glows and shadow fields in one pass) and the safety guard's estimate is one. Here
they are held against the step as it was written before, in numpy and the single-purpose
kernels (kept in mural.engine.kernels and mural.safety.guard): every array after every step
must be the same bits, and so must a still on one thread and on two.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numba
import numpy as np
import pytest

from mural.engine import kernels
from mural.engine.engine import PATTERNS, Engine, EngineConfig, Personal
from mural.engine.timeline import Timeline
from mural.events import EmotionEvent, PersonalEvent, SignalEvent
from mural.render.compositor import head_strength
from mural.render.kernels import head_light
from mural.safety import guard as guard_module
from mural.safety.guard import SafetyGuard
from mural.show.palettes import load_palette
from mural.show.wall import Wall
from mural.sources.simulate import simulate


def floored(grid: np.ndarray, scale: np.float32) -> np.ndarray:
    """grid × scale with light that would fall below the floor set to 0 (numpy's reading of
    kernels.scale_rows)."""
    keep = grid >= np.float32(kernels.LIGHT_FLOOR) / scale
    return np.where(keep, grid, np.float32(0.0)) * scale


class ReferenceEngine(Engine):
    """The engine step as it was before the fused kernels: numpy over the participants and
    the spawn, then step_particles, splat_trails, splat_emitters, emitter_sources and
    update_shadow_fields."""

    def __init__(self, config: EngineConfig, personal=None) -> None:
        super().__init__(config, personal)
        self._sources = np.zeros_like(self.vitality)

    def _step(self) -> None:
        cfg, dt = self.config, self.dt
        t = self.t
        if self._retire:
            self._retire_particles()
        self._reference_participants(t, dt)
        self._reference_spawn()
        self.flow.advance_to(t + dt)
        kernels.step_particles(
            self.pos, self.prev, self.vel, self.age, self.life, self.speed, self.buoy,
            self.flow.a, self.flow.b, np.float32(self.flow.mix), np.float32(self.flow.cell),
            np.float32(self.aspect), np.float32(dt),
        )
        energy = cfg.trail_energy * self.field_h / 360.0
        gain = (self.participants.light[: max(1, len(self.participants))] * energy).astype(
            np.float32)
        boost = 1.0 / self.live_scale
        gain *= np.float32(boost)
        kernels.splat_trails(self.live, self._coarse_scaled, self.pos, self.prev, self.colour,
                             self.age, self.life, self.pidx, gain, np.float32(self.field_h), 1)
        p = self.participants
        kernels.splat_emitters(self.live, self._coarse_scaled, self._awake()[1], p.pos,
                               p.colour, p.light, p.intensity, p.arousal, float(self.field_h),
                               boost)
        self.live_coarse[...] = floored(self._coarse_scaled, np.float32(self.live_scale))
        kernels.emitter_sources(self._sources, self._awake()[1], p.pos, p.alive,
                                self.field_h / kernels.COARSE_CELL, 3.0)
        kernels.update_shadow_fields(
            self.vitality, self._vit_next, self._sources, np.float32(self.ceiling), self.depth,
            self.recolour, self.chroma, self.chroma_w, self._chroma_next, self._weight_next,
            self.live_coarse, np.float32(dt), np.float32(cfg.vitality_up),
            np.float32(cfg.vitality_down), np.float32(cfg.spread_falloff), np.float32(60.0),
            np.float32(cfg.recolour_rate), np.float32(0.6),
        )
        self._live_n += 1
        if self._live_n >= cfg.field_every:
            self._field_pass()
        self.step_index += 1

    def _field_pass(self) -> None:
        cfg = self.config
        kernels.update_light_and_memory(
            self.live, self.memory, self.vitality, self.recolour, self.chroma,
            *self.coarse_taps, self._fields_wide, np.float32(self.live_scale),
            np.float32(cfg.memory_rate), np.float32(cfg.sink_rate), np.float32(cfg.memory_tau),
            np.float32(self.dt * self._live_n), np.float32(self._live_n), self.memory_means,
        )
        self._coarse_scaled[...] = floored(self._coarse_scaled, np.float32(self.live_scale))
        self._live_n = 0

    def _reference_participants(self, t: float, dt: float) -> None:
        cfg = self.config
        p = self.participants
        n = len(p)
        follow = 1.0 - math.exp(-dt / cfg.network_smoothing)
        smoothed = self.network_smoothed + (self.network_level - self.network_smoothed) * follow
        if smoothed != self.network_smoothed or self.network_level_t != self._net_t_seen:
            self._wake_all()
        self.network_smoothed = smoothed
        self._net_t_seen = self.network_level_t
        if n == 0:
            self.ceiling += (0.0 - self.ceiling) * follow
            return
        s, slots = self._awake()
        if slots.size:
            health = p.health[s]
            own_newer = p.own_level_t[s] >= self.network_level_t
            level = np.where(own_newer, p.own_level[s], self.network_smoothed)
            health_next = health + (level - health) * (
                1.0 - math.exp(-dt / cfg.health_smoothing))
            heard = (t - p.last_seen[s]) < cfg.silence_timeout
            ramp = dt / cfg.presence_ramp
            presence = np.clip(p.presence[s] + np.where(heard, ramp, -ramp), 0.0, 1.0)
            colour = p.colour[s]
            colour_next = colour + (p.target_colour[s] - colour) * (1.0 - math.exp(-dt / 0.4))
            pos = p.pos[s]
            pos_next = pos + (p.target[s] - pos) * (1.0 - math.exp(-dt / 1.2))
            tokens = p.tokens[s]
            tokens_next = np.minimum(cfg.burst_bucket, tokens + cfg.burst_refill * dt)
            beat = np.where(
                p.heart_rate[s] > 0, 0.12 * np.sin(2 * math.pi * p.heart_rate[s] / 60.0 * t), 0.0
            )
            depth = np.where(p.pattern[s] == PATTERNS.index("pulse"), 0.3, 0.06)
            breath = depth * np.sin(2 * math.pi * t / 9.0 + p.phase[s])
            alive = health_next * presence
            settled = (~heard & (presence == 0.0) & (health_next == health)
                       & (tokens_next == tokens) & (p.pending_burst[s] == 0.0)
                       & (colour_next == colour).all(axis=1) & (pos_next == pos).all(axis=1))
            p.health[s] = health_next
            p.presence[s] = presence
            p.colour[s] = colour_next
            p.pos[s] = pos_next
            p.tokens[s] = tokens_next
            p.light[s] = alive * (1.0 + beat + breath)
            p.alive[s] = alive
            if settled.any():
                p.awake[slots[settled]] = False
                self._selection = None
        activity = min(1.0, float(p.alive[:n].sum()))
        self.ceiling += (self.network_smoothed * activity - self.ceiling) * follow

    def _reference_spawn(self) -> None:
        cfg, dt = self.config, self.dt
        p = self.participants
        if len(p) == 0:
            return
        s, slots = self._awake()
        if slots.size == 0:
            return
        alive = p.health[s] * p.presence[s]
        rate = cfg.emission_rate * p.intensity[s] * (0.45 + 0.8 * p.arousal[s]) * alive
        acc = p.emit_acc[s] + (rate * dt + p.pending_burst[s] * (alive > 0.05))
        p.pending_burst[s] = 0.0
        counts = np.floor(acc).astype(np.int64)
        p.emit_acc[s] = acc - counts
        total = int(counts.sum())
        if total == 0:
            return
        wanted = total
        total = min(total, cfg.max_particles)
        who = np.repeat(slots, counts)[:total]
        if total < wanted:
            counts = np.bincount(np.searchsorted(slots, who), minlength=slots.size)
        p.emitted[s] += counts
        noise = self.rng.standard_normal((total, 2))
        uni = self.rng.random((total, 4))
        arousal = p.arousal[who]
        valence = p.valence[who]
        spread = 0.012 + 0.03 * arousal
        start = p.pos[who] + noise * spread[:, None]
        ring = p.pattern[who] == PATTERNS.index("ring")
        if ring.any():
            around = uni[ring, 3] * 2 * math.pi
            radius = 0.05 + 0.03 * arousal[ring]
            start[ring, 0] = p.pos[who[ring], 0] + np.cos(around) * radius
            start[ring, 1] = p.pos[who[ring], 1] + np.sin(around) * radius
        start[:, 0] = np.clip(start[:, 0], 0.0, self.aspect)
        start[:, 1] = np.clip(start[:, 1], 0.0, 1.0)
        speed = (0.035 + 0.22 * arousal) * (0.8 + 0.4 * uni[:, 0])
        angle = uni[:, 1] * 2 * math.pi
        slots_p = (self._cursor + np.arange(total)) % cfg.max_particles
        self._cursor = int((self._cursor + total) % cfg.max_particles)
        self.pos[slots_p] = start
        self.prev[slots_p] = start
        self.vel[slots_p, 0] = np.cos(angle) * speed * 0.8
        self.vel[slots_p, 1] = np.sin(angle) * speed * 0.8
        self.speed[slots_p] = speed
        self.buoy[slots_p] = 0.025 * valence
        self.age[slots_p] = 0.0
        self.life[slots_p] = (1.8 + 5.5 * (1.0 - arousal)) * (0.75 + 0.5 * uni[:, 2])
        self.colour[slots_p] = p.colour[who] * (0.45 + 0.55 * p.intensity[who])[:, None]
        self.pidx[slots_p] = who


class ReferenceGuard(SafetyGuard):
    """The guard's estimate as it was: every step a band of the memory's block means taken
    from the memory itself, then the heads and the estimate, each its own kernel."""

    def _estimate(self, engine, palette, size) -> float:
        g = guard_module
        if self._steps == 0:
            kernels.block_means(engine.memory, self.memory_coarse, 0, self.memory_coarse.shape[0])
        else:
            lo, hi = self._bands[self._steps % g.MEMORY_EVERY]
            kernels.block_means(engine.memory, self.memory_coarse, lo, hi)
        self._steps += 1
        memory_gain, shadow, bloom, exposure, tint = self._shading_of(palette)
        cells, footprint = self._head_scale(engine, size)
        light = engine.participants.light[: max(1, len(engine.participants))]
        strength = np.float32(head_strength(palette, self.exposure))
        count = g._live_runs(engine.age, engine.life, g._SLOT_BLOCK, self._runs)
        outs = ((self.heads, self.heads_red), (self._heads2, self._heads_red2))
        for k in range(max(1, count)):
            lo, hi = (int(self._runs[k, 0]), int(self._runs[k, 1])) if count else (0, 0)
            head_light(engine.pos[lo:hi], engine.colour[lo:hi], engine.age[lo:hi],
                       engine.life[lo:hi], engine.pidx[lo:hi], light, engine.vitality, cells,
                       strength, footprint, *outs[k], 0, self.heads.shape[0])
        if count == 2:
            np.add(self.heads, self._heads2, out=self.heads)
            np.add(self.heads_red, self._heads_red2, out=self.heads_red)
        self._lum = np.empty(self.limiter.grid, np.float32)
        self._red = np.empty(self.limiter.grid, np.float32)
        g._estimate_rows(engine.live_coarse, self.memory_coarse, memory_gain, engine.vitality,
                         shadow, bloom, exposure * self.exposure, tint, self.heads,
                         self.heads_red, *self._edges, self._lum, self._red, 0,
                         self._lum.shape[0])
        mean = 0.0  # summed in order, as the guard sums it
        for value in self._lum.ravel().tolist():
            mean += value
        return mean / self._lum.size


def busy_stream(duration: float = 40.0) -> list:
    """A festival crowd, with everything the step branches on: personal colours and patterns
    (rings and pulses), a newcomer with a heartbeat and a place, a blackout and its recovery,
    one participant's own signal dropping and coming back."""
    events = list(simulate("festival", participants=24, duration=duration, seed=5).events)
    for k, who in enumerate(["p01", "p02", "p03", "p04", "p05", "p06"]):
        events.append(PersonalEvent(t=1.0 + k, participant=who, hue=400.0 + 50 * k,
                                    pattern=PATTERNS[1 + k % 2], weight=0.5))
    events.append(PersonalEvent(t=0.5, participant="zz", pattern="ring"))
    for k in range(int(duration / 0.7)):
        events.append(EmotionEvent(t=3.0 + k * 0.7, participant="zz", emotion="joy",
                                   intensity=1.0, valence=0.6, arousal=0.9, x=0.2, y=0.8,
                                   heart_rate=110.0))
    events += [SignalEvent(t=12.0, level=0.0), SignalEvent(t=16.0, level=1.0),
               SignalEvent(t=20.0, level=0.3, participant="p02"),
               SignalEvent(t=26.0, level=1.0, participant="p02")]
    return events


PERSONAL = {"p07": Personal(colour=(1.0, 0.2, 0.1), pattern="ring", weight=0.6),
            "p09": Personal(pattern="pulse")}


def _same_state(a: Engine, b: Engine, where: str) -> None:
    sa, sb = a.snapshot(), b.snapshot()
    for name, value in sa["arrays"].items():
        assert np.array_equal(value, sb["arrays"][name]), f"{where}: {name}"
    assert sa["scalars"] == sb["scalars"], where
    assert sa["rng"] == sb["rng"], where
    assert sa["participants"]["ids"] == sb["participants"]["ids"], where
    for name, value in sa["participants"]["arrays"].items():
        assert np.array_equal(value, sb["participants"]["arrays"][name]), f"{where}: p.{name}"
    n = len(a.participants)
    assert np.array_equal(a.participants.alive[:n], b.participants.alive[:n]), where
    assert np.array_equal(a.participants.awake[:n], b.participants.awake[:n]), where


@pytest.mark.parametrize("config", [
    EngineConfig(size=(480, 270), seed=2),
    # a full table (evictions), a small particle budget (wrap-around), births cut short
    EngineConfig(size=(320, 180), seed=4, max_participants=6, max_particles=700),
    EngineConfig(size=(200, 300), seed=8, max_participants=6, max_particles=48),
], ids=["crowd", "full-table", "tiny-budget"])
def test_the_fused_step_is_the_reference_step_bit_for_bit(config):
    events = busy_stream()
    fused, reference = Engine(config, PERSONAL), ReferenceEngine(config, PERSONAL)
    timelines = Timeline(events), Timeline(events)
    for step in range(1, 901):
        timelines[0].step(fused)
        timelines[1].step(reference)
        if step in (1, 2, 3, 31, 150, 360, 361, 480, 600, 750, 900):
            _same_state(fused, reference, f"step {step}")
    assert fused.evictions == reference.evictions
    assert fused.light_share() == reference.light_share()


def test_the_spreading_colour_is_taken_from_the_same_neighbour_when_weights_tie():
    """Many neighbours with exactly the same weight: the fused step takes its colour from the
    first of them in the row-major scan, as the reference step does."""
    config = EngineConfig(size=(320, 180), seed=6)
    events = busy_stream(6.0)
    fused, reference = Engine(config, PERSONAL), ReferenceEngine(config, PERSONAL)
    timelines = Timeline(events), Timeline(events)
    rng = np.random.default_rng(11)
    for step in range(1, 121):
        if step % 20 == 1:  # weights from three values: ties everywhere; every chroma distinct
            ties = rng.choice(np.float32([0.0, 0.25, 0.5]), size=fused.chroma_w.shape)
            chroma = rng.random(fused.chroma.shape, dtype=np.float32)
            for engine in (fused, reference):
                engine.chroma_w[...] = ties
                engine.chroma[...] = chroma
        timelines[0].step(fused)
        timelines[1].step(reference)
        _same_state(fused, reference, f"step {step}")


def test_a_wall_dark_for_minutes_lets_its_light_go_to_zero():
    """In a long blackout the live light decays below the floor and becomes exactly 0 (plain
    float32 decay would leave it in the subnormals for good, each one a microcode assist);
    the fused step agrees with the reference step throughout, and light comes back."""
    config = EngineConfig(size=(160, 90), seed=3)
    events = list(simulate("festival", participants=8, duration=20.0, seed=2).events)
    events += [SignalEvent(t=20.0, level=0.0), SignalEvent(t=165.0, level=1.0)]
    events += [EmotionEvent(t=166.0 + k, participant="late", valence=0.5, arousal=0.6,
                            intensity=0.8, emotion="awe") for k in range(5)]
    fused, reference = Engine(config), ReferenceEngine(config)
    timelines = Timeline(events), Timeline(events)
    tiny = np.finfo(np.float32).tiny
    dark_at = None
    for step in range(1, 5401):  # the light is gone well before 165 s; it returns at 166 s
        timelines[0].step(fused)
        timelines[1].step(reference)
        for grid in (fused.live, fused._coarse_scaled, fused.live_coarse):
            assert not ((grid > 0) & (grid < tiny)).any(), f"a subnormal at step {step}"
        if step % 450 == 0:
            _same_state(fused, reference, f"step {step}")
        if dark_at is None and step % fused.config.field_every == 0 and not fused.live.any():
            dark_at = step * fused.dt
    assert dark_at is not None and dark_at < 165.0
    assert fused.live.max() > 1e-3  # the late participant's light
    assert fused.memory.max() > 0  # the memory of the painted forms is kept through it all


def test_scale_rows_is_the_multiply_with_light_below_the_floor_set_to_zero():
    rng = np.random.default_rng(11)
    for _ in range(50):
        x = (rng.uniform(1, 2, (9, 13, 3)) * 2.0 ** rng.uniform(-100, 4, (9, 13, 3)))
        x = x.astype(np.float32)
        x[rng.random(x.shape) < 0.1] = 0.0
        s = np.float32(rng.choice([rng.uniform(0.01, 1), 1.0, 0.8799, 0.5]))
        out = x.copy()
        kernels.scale_rows(out, out, 0, x.shape[0], s)
        expected = floored(x, s)
        assert np.array_equal(expected.view(np.int32), out.view(np.int32))
        assert (out[(x * s) < kernels.LIGHT_FLOOR * 0.99] == 0).all()
        assert not ((out > 0) & (out < np.finfo(np.float32).tiny)).any()


def test_the_paint_is_the_same_bits_in_any_number_of_bands():
    config = EngineConfig(size=(640, 360), seed=3)
    events = busy_stream(20.0)
    engines = []
    for bands in (1, 2, 3, 7, 40):
        engine = Engine(config, PERSONAL)
        engine._paint_bands = bands
        engines.append((engine, Timeline(events)))
    for step in range(1, 451):
        for engine, timeline in engines:
            timeline.step(engine)
        if step % 150 == 0:
            for engine, _ in engines[1:]:
                _same_state(engine, engines[0][0], f"step {step}, {engine._paint_bands} bands")


def test_the_guard_estimates_as_the_reference_guard_did():
    config = EngineConfig(size=(480, 270), seed=1)
    palette = load_palette("abyss")
    engine = Engine(config, PERSONAL)
    fused, reference = SafetyGuard(engine), ReferenceGuard(engine)
    timeline = Timeline(busy_stream(30.0))
    for step in range(1, 901):
        timeline.step(engine)
        fused.update(engine, palette, engine.dt, config.size)
        reference.update(engine, palette, engine.dt, config.size)
        if step % 30 == 0 or step < 8:
            assert fused.mean_luminance == reference.mean_luminance, step
            assert fused.exposure == reference.exposure, step
            for name in ("gain", "_lum", "_red", "memory_coarse", "heads", "heads_red"):
                assert np.array_equal(getattr(fused, name), getattr(reference, name)), (
                    step, name)


def test_the_guard_estimates_the_same_bits_in_any_number_of_bands(monkeypatch):
    # bands of limiter rows drawn side by side (more bands than rows: some are empty)
    config = EngineConfig(size=(480, 270), seed=2)
    palette = load_palette("abyss")
    engine = Engine(config, PERSONAL)
    guards = {bands: SafetyGuard(engine) for bands in (1, 2, 3, 5, 16)}
    timeline = Timeline(busy_stream(20.0))
    for step in range(1, 301):
        timeline.step(engine)
        for bands, guard in guards.items():
            monkeypatch.setattr(guard_module, "get_num_threads", lambda bands=bands: bands)
            guard.update(engine, palette, engine.dt, config.size)
        if step % 50 == 0:
            one = guards[1]
            assert one.heads.any() and one._lum.any()
            for bands, guard in guards.items():
                assert guard.mean_luminance == one.mean_luminance, (step, bands)
                for name in ("gain", "_lum", "_red", "heads", "heads_red"):
                    assert np.array_equal(getattr(guard, name), getattr(one, name)), (
                        step, bands, name)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
def test_a_still_after_a_busy_minute_is_the_same_bits_on_one_and_two_threads():
    # 960x540: a field of 270x480 pixels, large enough for the step to use every thread
    assert kernels.threads_for(270 * 480) > 1
    events = busy_stream(60.0)
    frames, gains = [], []
    saved = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            wall = Wall(events, size=(960, 540), seed=7, palette="abyss", personal=PERSONAL)
            frames.append(wall.frame_at(60.0))
            gains.append((wall.guard.gain.copy(), wall.guard.exposure))
            engine = wall.engine
            assert engine.live_particles > 1000  # a busy wall
    finally:
        numba.set_num_threads(saved)
    assert np.array_equal(frames[0], frames[1])
    assert np.array_equal(gains[0][0], gains[1][0]) and gains[0][1] == gains[1][1]


def test_resuming_a_snapshot_steps_on_as_the_engine_it_was_taken_from():
    config = replace(EngineConfig(size=(480, 270), seed=6), max_participants=8)
    events = busy_stream(20.0)
    a, timeline_a = Engine(config, PERSONAL), Timeline(events)
    for _ in range(300):
        timeline_a.step(a)
    b = Engine(config, PERSONAL)
    b.restore(a.snapshot())
    timeline_b = Timeline(events)
    timeline_b.seek_to(b.step_index / config.sim_hz)
    for _ in range(300):
        timeline_a.step(a)
        timeline_b.step(b)
    _same_state(a, b, "after resuming")


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 130, 256, 300, 1000, 4099])
def test_pairwise_sum_is_numpys_sum(n):
    rng = np.random.default_rng(n)
    values = rng.random(n + 5) * rng.choice([1e-3, 1.0, 1e5], n + 5)
    for offset in (0, 3):
        assert kernels.pairwise_sum(values, offset, n) == values[offset:offset + n].sum()
