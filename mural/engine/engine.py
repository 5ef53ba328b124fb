"""The mural's simulation: emitters, particles, trails and shadow memory on a fixed time step.

No I/O, no wall clock, no pygame: the engine is fed validated events and stepped; its state at
step n is a pure function of (events, seed, size). Renderers read its arrays.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numba
import numpy as np

from mural.engine import kernels
from mural.engine.colour import emotion_colour
from mural.engine.flow import FlowField
from mural.engine.kernels import COARSE_CELL  # field pixels per cell of the shadow grids
from mural.engine.timing import StageTimer
from mural.events import EmotionEvent, Event, MarkerEvent, SignalEvent


def field_shape(size: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of the simulation's light fields for an output size.

    Half the output resolution, between 90 and 540 rows: enough for soft light, cheap enough that
    an hour fast-forwards in a small fraction of an hour. Heads are drawn at full resolution.
    """
    width, height = size
    fh = min(height, max(90, height // 2), 540)
    fw = max(8, round(fh * width / height))
    return fh, fw


def coarse_shape(field_hw: tuple[int, int]) -> tuple[int, int]:
    """(rows, columns) of the coarse shadow grids (vitality, chroma) over a light field."""
    fh, fw = field_hw
    return -(-fh // COARSE_CELL), -(-fw // COARSE_CELL)


@dataclass(frozen=True)
class EngineConfig:
    """Everything that shapes the simulation; with the event stream it determines every frame."""

    size: tuple[int, int] = (1280, 720)
    seed: int = 0
    sim_hz: int = 30
    max_particles: int = 60_000
    silence_timeout: float = 4.0  # seconds without an event before a participant fades out
    presence_ramp: float = 2.0  # seconds to fade a participant fully in or out
    emission_rate: float = 110.0  # particles/s of a fully intense, healthy participant
    burst_particles: float = 14.0  # particles an event adds, bounded by a per-person bucket
    burst_bucket: float = 40.0
    burst_refill: float = 20.0  # tokens/s: a chatty sender cannot out-shine the others
    live_half_life: float = 1.1  # seconds: trail persistence
    memory_tau: float = 120.0  # seconds: how long the mural remembers (while alive)
    memory_rate: float = 0.003  # per second: how fast live light paints the memory
    trail_energy: float = 0.09  # light a particle lays down, per field-height of 360 rows
    sink_rate: float = 0.9  # per second: how fast dimming light sinks into shadow memory
    vitality_up: float = 0.3  # per second: recovery ramp
    vitality_down: float = 0.33  # per second: dimming ramp
    spread_falloff: float = 0.997  # per coarse cell the recovery front travels
    recolour_rate: float = 1.6  # per second: how fast returning light recolours shadows
    network_smoothing: float = 0.6  # seconds: time constant of the network-level follower
    health_smoothing: float = 0.5  # seconds: time constant of each participant's health
    field_every: int = 6  # steps between full passes over the light fields (memory, decay)

    @property
    def dt(self) -> float:
        return 1.0 / self.sim_hz


def stable_unit_pair(seed: int, name: str) -> tuple[float, float]:
    """Two numbers in [0, 1) from (seed, name), stable across runs and machines."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    a = int.from_bytes(digest[:4], "little") / 2**32
    b = int.from_bytes(digest[4:], "little") / 2**32
    return a, b


PATTERNS = ("bloom", "ring", "pulse")


@dataclass(frozen=True)
class Personal:
    """A participant's own light: a colour their emotions lean toward, and an emission pattern.

    The emotion still shows through: lightness (valence) and saturation (arousal) are kept and
    only `weight` of the hue moves toward the personal colour.
    """

    colour: tuple[float, float, float] | None = None  # linear RGB, brightest channel 1
    pattern: str = "bloom"  # bloom: a soft cloud; ring: a halo; pulse: a slow strong breath
    name: str | None = None
    weight: float = 0.4


@dataclass
class Participants:
    """Per-participant emitter state, struct-of-arrays, grown by doubling."""

    ids: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    capacity: int = 0

    def __post_init__(self) -> None:
        self._grow(16)

    def _grow(self, need: int) -> None:
        cap = max(16, self.capacity)
        while cap < need:
            cap *= 2
        if cap == self.capacity:
            return
        specs = {
            "pos": (2, 0.0), "target": (2, 0.0), "home": (2, 0.0), "colour": (3, 0.0),
            "target_colour": (3, 0.0), "intensity": (0, 0.0), "valence": (0, 0.0),
            "arousal": (0, 0.0), "last_seen": (0, -1e9), "own_level": (0, 1.0),
            "own_level_t": (0, -1e9), "presence": (0, 0.0), "health": (0, 1.0),
            "heart_rate": (0, 0.0), "emit_acc": (0, 0.0), "tokens": (0, 0.0),
            "pending_burst": (0, 0.0), "phase": (0, 0.0), "light": (0, 0.0),
            "emitted": (0, 0.0), "pattern": (0, 0.0),
        }
        for name, (width, fill) in specs.items():
            shape = (cap, width) if width else (cap,)
            new = np.full(shape, fill, dtype=np.float64)
            if self.capacity:
                new[: self.capacity] = getattr(self, name)
            setattr(self, name, new)
        self.capacity = cap

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, pid: str, home: tuple[float, float], phase: float, tokens: float) -> int:
        i = len(self.ids)
        self._grow(i + 1)
        self.ids.append(pid)
        self.index[pid] = i
        self.home[i] = home
        self.pos[i] = home
        self.target[i] = home
        self.phase[i] = phase
        self.tokens[i] = tokens
        return i


class Engine:
    """Steps the mural. Feed events with `apply`, advance with `step`; renderers read the arrays.

    Coordinates: particles and emitters live in field-height units, x in [0, aspect], y in
    [0, 1] (y down, like the image).
    """

    def __init__(self, config: EngineConfig, personal: dict[str, Personal] | None = None) -> None:
        self.config = config
        self.personal = dict(personal or {})
        self.dt = config.dt
        width, height = config.size
        self.aspect = width / height
        self.field_h, self.field_w = field_shape(config.size)
        self.step_index = 0
        self.rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
        self.flow = FlowField(self.aspect, config.seed)

        n = config.max_particles
        self.pos = np.zeros((n, 2), np.float32)
        self.prev = np.zeros((n, 2), np.float32)
        self.vel = np.zeros((n, 2), np.float32)
        self.colour = np.zeros((n, 3), np.float32)
        self.age = np.zeros(n, np.float32)
        self.life = np.zeros(n, np.float32)
        self.speed = np.zeros(n, np.float32)
        self.buoy = np.zeros(n, np.float32)
        self.pidx = np.zeros(n, np.int32)
        self._cursor = 0

        fh, fw = self.field_h, self.field_w
        self.live = np.zeros((fh, fw, 3), np.float32)
        self.memory = np.zeros((fh, fw, 3), np.float32)
        gy, gx = coarse_shape((fh, fw))
        self.vitality = np.ones((gy, gx), np.float32)
        self._vit_next = np.zeros_like(self.vitality)
        self.depth = np.zeros((gy, gx), np.float32)
        self.recolour = np.zeros((gy, gx), np.float32)
        self.chroma = np.ones((gy, gx, 3), np.float32)
        self.chroma_w = np.zeros((gy, gx), np.float32)
        self._chroma_next = np.zeros_like(self.chroma)
        self._weight_next = np.zeros_like(self.chroma_w)
        self._sources = np.zeros((gy, gx), np.float32)
        self.live_coarse = np.zeros((gy, gx, 3), np.float32)  # true scale, this step
        self._coarse_scaled = np.zeros((gy, gx, 3), np.float32)  # cell means of self.live
        self._decay = 0.5 ** (self.dt / config.live_half_life)
        self._live_n = 0  # steps of decay owed to self.live
        self.coarse_taps = (kernels.axis_taps(fw, gx), kernels.axis_taps(fh, gy))
        self._fields_wide = np.zeros((gy, fw, 5), np.float32)  # scratch of the field pass
        self._threads = kernels.threads_for(fh * fw)

        self.participants = Participants()
        self.network_level = 1.0  # last network-wide signal
        self.network_level_t = -1e9
        self.network_smoothed = 1.0
        self.ceiling = 0.0  # how alive the wall may be (network health × anyone present)
        self.markers: list[MarkerEvent] = []
        self.events_applied = 0
        self.timer: StageTimer | None = None  # stage timing, injected by `mural bench`

    # -- time -------------------------------------------------------------------------------
    @property
    def t(self) -> float:
        """Simulation time in seconds (exact multiple of dt)."""
        return self.step_index * self.dt

    def steps_until(self, t: float) -> int:
        """How many steps to take to stand at time t (never negative)."""
        return max(0, math.floor(t * self.config.sim_hz + 1e-9) - self.step_index)

    # -- events -----------------------------------------------------------------------------
    def _participant(self, pid: str) -> int:
        i = self.participants.index.get(pid)
        if i is None:
            u, v = stable_unit_pair(self.config.seed, pid)
            home = (self.aspect * (0.1 + 0.8 * u), 0.15 + 0.7 * v)
            phase = stable_unit_pair(self.config.seed + 1, pid)[0] * 2 * math.pi
            i = self.participants.add(pid, home, phase, self.config.burst_bucket)
            mine = self.personal.get(pid)
            self.participants.pattern[i] = PATTERNS.index(mine.pattern) if mine else 0
        return i

    def apply(self, event: Event) -> None:
        """Take one validated event into the state (applied at the start of the next step)."""
        self.events_applied += 1
        if isinstance(event, EmotionEvent):
            p = self.participants
            i = self._participant(event.participant)
            colour = emotion_colour(event.valence, event.arousal, event.emotion)
            mine = self.personal.get(event.participant)
            if mine is not None and mine.colour is not None:
                own = np.asarray(mine.colour, np.float32) * float(colour.max())
                colour = colour + (own - colour) * mine.weight
            p.target_colour[i] = colour
            if p.last_seen[i] < -1e8:
                p.colour[i] = p.target_colour[i]
            p.intensity[i] = event.intensity
            p.valence[i] = event.valence
            p.arousal[i] = event.arousal
            p.last_seen[i] = event.t
            if event.x is not None and event.y is not None:
                p.target[i] = (event.x * self.aspect, event.y)
            if event.heart_rate is not None:
                p.heart_rate[i] = event.heart_rate
            burst = self.config.burst_particles * event.intensity
            take = min(burst, p.tokens[i])
            p.tokens[i] -= take
            p.pending_burst[i] += take
        elif isinstance(event, SignalEvent):
            if event.participant is None:
                self.network_level = event.level
                self.network_level_t = event.t
            else:
                i = self._participant(event.participant)
                self.participants.own_level[i] = event.level
                self.participants.own_level_t[i] = event.t
        elif isinstance(event, MarkerEvent):
            self.markers.append(event)

    # -- the step ---------------------------------------------------------------------------
    def step(self) -> None:
        """Advance one fixed time step."""
        with kernels.thread_budget(self._threads):
            self._step()

    def _step(self) -> None:
        cfg, dt = self.config, self.dt
        t = self.t
        timer = self.timer
        start = timer.clock() if timer is not None else 0.0
        self._update_participants(t, dt)
        self._spawn()
        self.flow.advance_to(t + dt)
        kernels.step_particles(
            self.pos, self.prev, self.vel, self.age, self.life, self.speed, self.buoy,
            self.flow.a, self.flow.b, np.float32(self.flow.mix), np.float32(self.flow.cell),
            np.float32(self.aspect), np.float32(dt),
        )
        if timer is not None:
            start = timer.lap("simulation", start)
        energy = cfg.trail_energy * self.field_h / 360.0
        gain = (self.participants.light[: max(1, len(self.participants))] * energy).astype(
            np.float32
        )
        boost = 1.0 / self.live_scale  # deposits in the lazily decayed units of self.live
        gain *= np.float32(boost)
        kernels.splat_trails(
            self.live, self._coarse_scaled, self.pos, self.prev, self.colour,
            self.age, self.life, self.pidx, gain, np.float32(self.field_h),
            numba.get_num_threads(),  # bands of rows: the result is the same for any count
        )
        self._splat_emitters(boost)
        if timer is not None:
            start = timer.lap("splat", start)
        np.multiply(self._coarse_scaled, np.float32(self.live_scale), out=self.live_coarse)
        self._update_sources()
        kernels.update_shadow_fields(
            self.vitality, self._vit_next, self._sources, np.float32(self.ceiling), self.depth,
            self.recolour, self.chroma, self.chroma_w, self._chroma_next, self._weight_next,
            self.live_coarse, np.float32(dt), np.float32(cfg.vitality_up),
            np.float32(cfg.vitality_down), np.float32(cfg.spread_falloff), np.float32(60.0),
            np.float32(cfg.recolour_rate), np.float32(0.6),
        )
        self._live_n += 1  # this step's decay of the live light, applied lazily
        if self._live_n >= cfg.field_every:
            self._field_pass()
        self.step_index += 1
        if timer is not None:
            timer.lap("simulation", start)

    @property
    def live_scale(self) -> float:
        """True live light = self.live × live_scale (decay not yet applied to the array)."""
        return self._decay**self._live_n

    def _field_pass(self) -> None:
        """Every few steps: bring the live light to true scale and update the memory from it."""
        cfg = self.config
        kernels.update_light_and_memory(
            self.live, self.memory, self.vitality, self.recolour, self.chroma,
            *self.coarse_taps, self._fields_wide, np.float32(self.live_scale),
            np.float32(cfg.memory_rate), np.float32(cfg.sink_rate), np.float32(cfg.memory_tau),
            np.float32(self.dt * self._live_n), np.float32(self._live_n),
        )
        np.multiply(self._coarse_scaled, np.float32(self.live_scale), out=self._coarse_scaled)
        self._live_n = 0

    def _update_participants(self, t: float, dt: float) -> None:
        cfg = self.config
        p = self.participants
        n = len(p)
        follow = 1.0 - math.exp(-dt / cfg.network_smoothing)
        self.network_smoothed += (self.network_level - self.network_smoothed) * follow
        if n == 0:
            self.ceiling += (0.0 - self.ceiling) * follow
            return
        s = slice(0, n)
        own_newer = p.own_level_t[s] >= self.network_level_t
        level = np.where(own_newer, p.own_level[s], self.network_smoothed)
        p.health[s] += (level - p.health[s]) * (1.0 - math.exp(-dt / cfg.health_smoothing))
        heard = (t - p.last_seen[s]) < cfg.silence_timeout
        ramp = dt / cfg.presence_ramp
        p.presence[s] = np.clip(p.presence[s] + np.where(heard, ramp, -ramp), 0.0, 1.0)
        p.colour[s] += (p.target_colour[s] - p.colour[s]) * (1.0 - math.exp(-dt / 0.4))
        p.pos[s] += (p.target[s] - p.pos[s]) * (1.0 - math.exp(-dt / 1.2))
        p.tokens[s] = np.minimum(cfg.burst_bucket, p.tokens[s] + cfg.burst_refill * dt)
        beat = np.where(
            p.heart_rate[s] > 0, 0.12 * np.sin(2 * math.pi * p.heart_rate[s] / 60.0 * t), 0.0
        )
        depth = np.where(p.pattern[s] == PATTERNS.index("pulse"), 0.3, 0.06)
        breath = depth * np.sin(2 * math.pi * t / 9.0 + p.phase[s])
        alive = p.health[s] * p.presence[s]
        p.light[s] = alive * (1.0 + beat + breath)
        activity = min(1.0, float(alive.sum()))
        self.ceiling += (self.network_smoothed * activity - self.ceiling) * follow

    def _spawn(self) -> None:
        cfg, dt = self.config, self.dt
        p = self.participants
        n = len(p)
        if n == 0:
            return
        s = slice(0, n)
        alive = p.health[s] * p.presence[s]
        rate = cfg.emission_rate * p.intensity[s] * (0.45 + 0.8 * p.arousal[s]) * alive
        p.emit_acc[s] += rate * dt + p.pending_burst[s] * (alive > 0.05)
        p.pending_burst[s] = 0.0
        counts = np.floor(p.emit_acc[s]).astype(np.int64)
        p.emit_acc[s] -= counts
        total = int(counts.sum())
        if total == 0:
            return
        total = min(total, cfg.max_particles)
        who = np.repeat(np.arange(n), counts)[:total]
        p.emitted[s] += np.bincount(who, minlength=n)
        rng = self.rng
        noise = rng.standard_normal((total, 2))
        uni = rng.random((total, 4))
        arousal = p.arousal[who]
        valence = p.valence[who]
        spread = 0.012 + 0.03 * arousal
        start = p.pos[who] + noise * spread[:, None]
        ring = p.pattern[who] == PATTERNS.index("ring")
        if ring.any():  # a halo: spawn on a circle around the emitter, drifting outward
            around = uni[ring, 3] * 2 * math.pi
            radius = 0.05 + 0.03 * arousal[ring]
            start[ring, 0] = p.pos[who[ring], 0] + np.cos(around) * radius
            start[ring, 1] = p.pos[who[ring], 1] + np.sin(around) * radius
        start[:, 0] = np.clip(start[:, 0], 0.0, self.aspect)
        start[:, 1] = np.clip(start[:, 1], 0.0, 1.0)
        speed = (0.035 + 0.22 * arousal) * (0.8 + 0.4 * uni[:, 0])
        angle = uni[:, 1] * 2 * math.pi
        slots = (self._cursor + np.arange(total)) % cfg.max_particles
        self._cursor = int((self._cursor + total) % cfg.max_particles)
        self.pos[slots] = start
        self.prev[slots] = start
        self.vel[slots, 0] = np.cos(angle) * speed * 0.8
        self.vel[slots, 1] = np.sin(angle) * speed * 0.8
        self.speed[slots] = speed
        self.buoy[slots] = 0.025 * valence
        self.age[slots] = 0.0
        self.life[slots] = (1.8 + 5.5 * (1.0 - arousal)) * (0.75 + 0.5 * uni[:, 2])
        self.colour[slots] = p.colour[who] * (0.45 + 0.55 * p.intensity[who])[:, None]
        self.pidx[slots] = who

    def _splat_emitters(self, boost: float) -> None:
        """Each emitter's soft core of light, pulsing with its heart and breath."""
        p = self.participants
        n = len(p)
        kernels.splat_emitters(
            self.live, self._coarse_scaled, p.pos[:n], p.colour[:n], p.light[:n],
            p.intensity[:n], p.arousal[:n], float(self.field_h), boost,
        )

    def _update_sources(self) -> None:
        """Where the wall is being kept alive: a soft disc around every healthy emitter."""
        p = self.participants
        n = len(p)
        kernels.emitter_sources(
            self._sources, p.pos[:n], p.health[:n] * p.presence[:n],
            self.field_h / COARSE_CELL, 3.0,
        )

    # -- summaries --------------------------------------------------------------------------
    @property
    def live_particles(self) -> int:
        return int(np.count_nonzero(self.age < self.life))

    def light_share(self) -> dict[str, float]:
        """Share of emitted particles per participant since the start (fairness check)."""
        p = self.participants
        total = float(p.emitted[: len(p)].sum()) if len(p) else 0.0
        if total <= 0:
            return {pid: 0.0 for pid in p.ids}
        return {pid: float(p.emitted[i]) / total for i, pid in enumerate(p.ids)}
