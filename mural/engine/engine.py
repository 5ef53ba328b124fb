"""The mural's simulation: emitters, particles, trails and shadow memory on a fixed time step.

No I/O, no wall clock, no pygame: the engine is fed validated events and stepped; its state at
step n is a pure function of (events, seed, size). Renderers read its arrays.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from mural.engine import kernels
from mural.engine import snapshot as check
from mural.engine.colour import emotion_colour, wavelength_to_linear_rgb
from mural.engine.flow import FlowField
from mural.engine.kernels import COARSE_CELL  # field pixels per cell of the shadow grids
from mural.engine.timing import StageTimer
from mural.events import EmotionEvent, Event, MarkerEvent, PersonalEvent, SignalEvent
from mural.events.model import MAX_NAME_LEN
from mural.events.model import PATTERNS as EVENT_PATTERNS


def field_shape(size: tuple[int, int], max_rows: int = 2160) -> tuple[int, int]:
    """(height, width) of the simulation's light fields for an output size.

    Half the output resolution (at least 90 rows, at most `max_rows`): a 4K still carries 4K
    detail, and the trails of a 1080p mural cost what they always did. Heads are drawn at full
    resolution.
    """
    width, height = size
    fh = min(height, max(90, height // 2), max_rows)
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
    memory_tau: float = 30.0  # seconds: how long the mural remembers (while alive)
    memory_rate: float = 0.35  # per second: how fast the memory rises toward brighter light
    trail_energy: float = 0.09  # light a particle lays down, per field-height of 360 rows
    sink_rate: float = 0.9  # per second: how fast dimming light sinks into shadow memory
    vitality_up: float = 0.3  # per second: recovery ramp
    vitality_down: float = 0.33  # per second: dimming ramp
    spread_falloff: float = 0.997  # per coarse cell the recovery front travels
    recolour_rate: float = 1.6  # per second: how fast returning light recolours shadows
    network_smoothing: float = 0.6  # seconds: time constant of the network-level follower
    health_smoothing: float = 0.5  # seconds: time constant of each participant's health
    field_every: int = 6  # steps between full passes over the light fields (memory, decay)
    max_participants: int = 256  # live participants at most; the oldest silent leave first
    max_markers: int = 1000  # markers kept (the latest); older ones are forgotten
    max_field_rows: int = 2160  # light fields are half the output size, at most this tall

    @property
    def dt(self) -> float:
        return 1.0 / self.sim_hz


@functools.lru_cache(maxsize=8192)
def _expression_colour(valence: float, arousal: float, emotion: str | None) -> np.ndarray:
    """emotion_colour, remembered (a stream repeats its expressions: most of an hour's are
    looked up, not worked out); the array is read-only."""
    colour = emotion_colour(valence, arousal, emotion)
    colour.flags.writeable = False
    return colour


def stable_unit_pair(seed: int, name: str) -> tuple[float, float]:
    """Two numbers in [0, 1) from (seed, name), stable across runs and machines."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    a = int.from_bytes(digest[:4], "little") / 2**32
    b = int.from_bytes(digest[4:], "little") / 2**32
    return a, b


PATTERNS = EVENT_PATTERNS  # bloom: a soft cloud; ring: a halo; pulse: a slow strong breath
if (PATTERNS.index("ring"), PATTERNS.index("pulse")) != (kernels.PATTERN_RING,
                                                         kernels.PATTERN_PULSE):
    raise ImportError("mural.engine.kernels numbers the emission patterns differently")


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


# Per-participant arrays: name -> (columns, or 0 for one value; the value of an empty slot).
# These are the participant state a snapshot holds; `alive` and `awake` are derived from them.
PARTICIPANT_FIELDS: dict[str, tuple[int, float]] = {
    "pos": (2, 0.0), "target": (2, 0.0), "home": (2, 0.0), "colour": (3, 0.0),
    "target_colour": (3, 0.0), "intensity": (0, 0.0), "valence": (0, 0.0),
    "arousal": (0, 0.0), "last_seen": (0, -1e9), "own_level": (0, 1.0),
    "own_level_t": (0, -1e9), "presence": (0, 0.0), "health": (0, 1.0),
    "heart_rate": (0, 0.0), "emit_acc": (0, 0.0), "tokens": (0, 0.0),
    "pending_burst": (0, 0.0), "phase": (0, 0.0), "light": (0, 0.0),
    "emitted": (0, 0.0), "pattern": (0, 0.0),
}
MAX_ID_LEN = 256  # a participant id in a snapshot (the event model allows 64)
MAX_DEPARTED = 4096  # participants who left whose share of the light is still reported


@dataclass
class Participants:
    """Per-participant emitter state, struct-of-arrays, grown by doubling up to the cap.

    A slot is taken for good: when the table is full, a newcomer takes over the slot of the one
    who leaves (`reuse`), so slots 0..len-1 are always in use and particles' `pidx` index them.
    `awake[i]` is False for a participant that has faded out and settled: the step skips it
    (see Engine._update_participants); `alive` is health × presence as of the last step.
    """

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
        specs = {**PARTICIPANT_FIELDS, "alive": (0, 0.0)}
        for name, (width, fill) in specs.items():
            shape = (cap, width) if width else (cap,)
            new = np.full(shape, fill, dtype=np.float64)
            if self.capacity:
                new[: self.capacity] = getattr(self, name)
            setattr(self, name, new)
        awake = np.ones(cap, dtype=bool)
        if self.capacity:
            awake[: self.capacity] = self.awake
        self.awake = awake
        self.capacity = cap

    def __len__(self) -> int:
        return len(self.ids)

    def _place(self, i: int, home: tuple[float, float], phase: float, tokens: float) -> None:
        self.home[i] = home
        self.pos[i] = home
        self.target[i] = home
        self.phase[i] = phase
        self.tokens[i] = tokens
        self.awake[i] = True

    def add(self, pid: str, home: tuple[float, float], phase: float, tokens: float) -> int:
        i = len(self.ids)
        self._grow(i + 1)
        self.ids.append(pid)
        self.index[pid] = i
        self._place(i, home, phase, tokens)
        return i

    def reuse(self, i: int, pid: str, home: tuple[float, float], phase: float,
              tokens: float) -> str:
        """Give slot i to a newcomer, as fresh as a slot never used; returns who had it."""
        gone = self.ids[i]
        del self.index[gone]
        for name, (_, fill) in PARTICIPANT_FIELDS.items():
            getattr(self, name)[i] = fill
        self.alive[i] = 0.0
        self.ids[i] = pid
        self.index[pid] = i
        self._place(i, home, phase, tokens)
        return gone


# What a snapshot holds, under the key names of the state files (format version 1).
ENGINE_ARRAYS = (
    "pos", "prev", "vel", "colour", "age", "life", "speed", "buoy", "pidx", "live", "memory",
    "vitality", "depth", "recolour", "chroma", "chroma_w", "live_coarse", "_coarse_scaled",
)
ENGINE_SCALARS = (
    "step_index", "_cursor", "network_level", "network_level_t", "network_smoothed", "ceiling",
    "events_applied", "_live_n",
)
OPTIONAL_SCALARS = ("evictions",)


class Engine:
    """Steps the mural. Feed events with `apply`, advance with `step`; renderers read the arrays.
    Read them as attributes after each step rather than keeping them: `vitality`, `chroma` and
    `chroma_w` alternate between two buffers (a step writes the next fields beside the current
    ones, then swaps them in).

    Coordinates: particles and emitters live in field-height units, x in [0, aspect], y in
    [0, 1] (y down, like the image).

    Participants: at most `config.max_participants` are live at once; a newcomer to a full
    table takes the place of the one silent longest (see `_evict`). A participant who has faded
    out and settled costs nothing per step until it is heard again.

    Public state: `snapshot()` gives everything that determines the future as arrays and plain
    values, `restore(snapshot)` takes it back (checking every value); `seed_particles` places
    particles directly (the benchmark's standard scene). `memory_means` are the memory's
    means over the coarse cells, kept with it wherever it changes (the field pass makes them
    while the rows are in cache; restore with kernels.block_means, the same bits): the
    safety guard reads them.

    The step is three compiled calls (see mural.engine.kernels: the participants and their
    spawn counts, the newborns' draws from the rng, then births, motion, trails, glows and
    shadow fields in one pass) plus the field pass every `field_every` steps.
    """

    def __init__(self, config: EngineConfig, personal: dict[str, Personal] | None = None) -> None:
        if config.max_participants < 1:
            raise ValueError(f"max_participants must be at least 1, got {config.max_participants}")
        if config.max_markers < 0:
            raise ValueError(f"max_markers must not be negative, got {config.max_markers}")
        self.config = config
        self.personal = dict(personal or {})
        self.dt = config.dt
        width, height = config.size
        self.aspect = width / height
        self.field_h, self.field_w = field_shape(config.size, config.max_field_rows)
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
        self.live_coarse = np.zeros((gy, gx, 3), np.float32)  # true scale, this step
        self._coarse_scaled = np.zeros((gy, gx, 3), np.float32)  # cell means of self.live
        self._decay = 0.5 ** (self.dt / config.live_half_life)
        self._live_n = 0  # steps of decay owed to self.live
        self.coarse_taps = (kernels.axis_taps(fw, gx), kernels.axis_taps(fh, gy))
        self._fields_wide = np.zeros((gy, fw, 5), np.float32)  # scratch of the field pass
        self._threads = kernels.threads_for(fh * fw)
        # the step's constants and scratch (the step allocates next to nothing)
        dt = self.dt
        self._rates = (1.0 - math.exp(-dt / config.network_smoothing),
                       1.0 - math.exp(-dt / config.health_smoothing),
                       1.0 - math.exp(-dt / 0.4), 1.0 - math.exp(-dt / 1.2),
                       dt / config.presence_ramp, config.burst_refill * dt)
        self._shadow_rates = tuple(np.float32(v) for v in (
            config.vitality_up, config.vitality_down, config.spread_falloff, 60.0,
            config.recolour_rate, 0.6))
        self._energy = config.trail_energy * self.field_h / 360.0
        self._noise = np.zeros((n, 2))
        self._uni = np.zeros((n, 4))
        self._slots = np.zeros(n, np.int64)
        self._seg = np.zeros((n, 7), np.float32)
        self._steps_of = np.zeros(n, np.int32)
        self._rows_of = np.zeros((n, 2), np.int32)
        self._counts = np.zeros(16, np.int64)
        self._gain = np.zeros(16, np.float32)
        self.memory_means = np.zeros((gy, gx, 3), np.float32)  # its cell means (see below)

        self.participants = Participants()
        self.network_level = 1.0  # last network-wide signal
        self.network_level_t = -1e9
        self.network_smoothed = 1.0
        self.ceiling = 0.0  # how alive the wall may be (network health × anyone present)
        self.markers: deque[MarkerEvent] = deque(maxlen=config.max_markers)
        self.events_applied = 0
        self.evictions = 0  # participants who had to leave a full table
        self.timer: StageTimer | None = None  # stage timing, injected by `mural bench`
        self._selection: tuple[slice | np.ndarray, np.ndarray] | None = None  # awake slots
        self._retire: set[int] = set()  # slots given away: their particles retire next step
        self._net_t_seen = self.network_level_t  # the network signal the sleepers settled on
        self._departed: dict[str, float] = {}  # particles emitted by those who left
        self._departed_rest = 0.0  # ... and by those forgotten past MAX_DEPARTED
        self._never_sleep = False  # step every participant every step (a reference for tests)
        self._paint_bands: int | None = None  # bands of rows the light is painted in (None:
        # one per thread); the result is the same for any number (a knob for tests)

    # -- time -------------------------------------------------------------------------------
    @property
    def t(self) -> float:
        """Simulation time in seconds (exact multiple of dt)."""
        return self.step_index * self.dt

    def steps_until(self, t: float) -> int:
        """How many steps to take to stand at time t (never negative)."""
        return max(0, math.floor(t * self.config.sim_hz + 1e-9) - self.step_index)

    # -- participants -----------------------------------------------------------------------
    @property
    def active_participants(self) -> int:
        """Participants the step works on (the others have faded out and settled)."""
        return int(self._awake()[1].size)

    def _awake(self) -> tuple[slice | np.ndarray, np.ndarray]:
        """(selector, slots) of the awake participants, ascending: a slice when all are."""
        if self._selection is None:
            n = len(self.participants)
            slots = np.flatnonzero(self.participants.awake[:n])
            self._selection = (slice(0, n) if slots.size == n else slots, slots)
        return self._selection

    def _wake(self, i: int) -> None:
        if not self.participants.awake[i]:
            self.participants.awake[i] = True
            self._selection = None

    def _wake_all(self) -> None:
        p = self.participants
        if self._awake()[1].size < len(p):
            p.awake[: len(p)] = True
            self._selection = None

    def _participant(self, pid: str) -> int:
        p = self.participants
        i = p.index.get(pid)
        if i is None:
            u, v = stable_unit_pair(self.config.seed, pid)
            home = (self.aspect * (0.1 + 0.8 * u), 0.15 + 0.7 * v)
            phase = stable_unit_pair(self.config.seed + 1, pid)[0] * 2 * math.pi
            if len(p) < self.config.max_participants:
                i = p.add(pid, home, phase, self.config.burst_bucket)
            else:
                i = self._evict()
                emitted = float(p.emitted[i])
                self._depart(p.reuse(i, pid, home, phase, self.config.burst_bucket), emitted)
            mine = self.personal.get(pid)
            p.pattern[i] = PATTERNS.index(mine.pattern) if mine else 0
            self._selection = None
        return i

    def _evict(self) -> int:
        """The slot of the participant who leaves a full table for a newcomer.

        The one silent longest goes first (heard last the earliest: an emotion or their own
        signal), if anyone has been silent past the timeout. Otherwise everyone is being heard:
        then the faintest goes (the one least faded in; the newest among equals), so a flood
        of new ids churns among itself and cannot push out a crowd that has faded in. Ties go
        to the lowest slot: the same stream always evicts the same participants.
        """
        p, cfg = self.participants, self.config
        n = len(p)
        heard = np.maximum(p.last_seen[:n], p.own_level_t[:n])
        silent = np.flatnonzero(self.t - heard >= cfg.silence_timeout)
        if silent.size:
            i = int(silent[np.argmin(heard[silent])])
        else:
            presence = p.presence[:n]
            faint = np.flatnonzero(presence == presence.min())
            i = int(faint[np.argmax(heard[faint])])
        self.evictions += 1
        self._retire.add(i)
        return i

    def _depart(self, pid: str, emitted: float) -> None:
        """Remember the light of one who left (for `light_share`), boundedly."""
        if emitted <= 0.0:
            return
        self._departed[pid] = self._departed.pop(pid, 0.0) + emitted
        while len(self._departed) > MAX_DEPARTED:
            oldest = next(iter(self._departed))
            self._departed_rest += self._departed.pop(oldest)

    def _retire_particles(self) -> None:
        """Particles of participants who left stop where they are; the light they laid down
        stays in the fields and sinks into memory as any silent participant's light does."""
        slots = np.fromiter(sorted(self._retire), np.int32)
        self._retire.clear()
        ours = self.pidx == slots[0] if slots.size == 1 else np.isin(self.pidx, slots)
        hit = ours & (self.age < self.life)
        self.age[hit] = self.life[hit]

    # -- events -----------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Take one validated event into the state (applied at the start of the next step)."""
        self.events_applied += 1
        if isinstance(event, EmotionEvent):
            p = self.participants
            i = self._participant(event.participant)
            self._wake(i)
            colour = _expression_colour(event.valence, event.arousal, event.emotion)
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
                self._wake(i)
                self.participants.own_level[i] = event.level
                self.participants.own_level_t[i] = event.t
        elif isinstance(event, MarkerEvent):
            self.markers.append(event)
        elif isinstance(event, PersonalEvent):
            self._personalise(event)

    def _personalise(self, event: PersonalEvent) -> None:
        """A participant's own light from now on (as a participants file would give it): the
        pattern at once, and the colour their current emotion shows, leaning toward the hue."""
        before = self.personal.get(event.participant) or Personal()
        colour = before.colour
        if event.hue is not None:
            colour = tuple(float(c) for c in wavelength_to_linear_rgb(event.hue))
        mine = Personal(colour=colour, pattern=event.pattern or before.pattern,
                        name=before.name,
                        weight=before.weight if event.weight is None else event.weight)
        self.personal[event.participant] = mine
        i = self.participants.index.get(event.participant)
        if i is None:
            return  # applied when they first express something
        p = self.participants
        self._wake(i)
        p.pattern[i] = PATTERNS.index(mine.pattern)
        if p.last_seen[i] > -1e8 and mine.colour is not None:
            colour_now = emotion_colour(float(p.valence[i]), float(p.arousal[i]), None)
            own = np.asarray(mine.colour, np.float32) * float(colour_now.max())
            p.target_colour[i] = colour_now + (own - colour_now) * mine.weight

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
        if self._retire:
            self._retire_particles()
        born = self._update_participants(t, dt)
        noise, uni = self._draws(born)
        self.flow.advance_to(t + dt)
        if timer is not None:
            start = timer.lap("simulation", start)
        p, flow = self.participants, self.flow
        people = len(p)
        if self._gain.shape[0] < max(1, people):
            self._gain = np.zeros(p.capacity, np.float32)
        live_scale = self.live_scale
        kernels.advance_and_paint(
            born, self._counts, people, noise, uni, p.pos, p.arousal, p.valence, p.pattern,
            p.colour, p.intensity, p.light, p.alive, self._awake()[1], self._cursor,
            self.aspect,
            self.pos, self.prev, self.vel, self.colour, self.age, self.life, self.speed,
            self.buoy, self.pidx,
            flow.a, flow.b, np.float32(flow.mix), np.float32(flow.cell), np.float32(self.aspect),
            np.float32(dt),
            # deposits in the lazily decayed units of self.live
            self.live, self._coarse_scaled, self.live_coarse, np.float32(live_scale),
            self._energy, 1.0 / live_scale, self.field_h,
            self._paint_bands or numba.get_num_threads(),  # bands of rows: any count, same bits
            self.vitality, self._vit_next, np.float32(self.ceiling), self.depth, self.recolour,
            self.chroma, self.chroma_w, self._chroma_next, self._weight_next,
            *self._shadow_rates, self.field_h / COARSE_CELL, 3.0,
            self._slots, self._seg, self._steps_of, self._rows_of, self._gain,
        )
        if born:
            self._cursor = int((self._cursor + born) % cfg.max_particles)
        # the shadow fields' next values become current (the kernel wrote every cell of them)
        self.vitality, self._vit_next = self._vit_next, self.vitality
        self.chroma, self._chroma_next = self._chroma_next, self.chroma
        self.chroma_w, self._weight_next = self._weight_next, self.chroma_w
        if timer is not None:
            start = timer.lap("splat", start)
        self._live_n += 1  # this step's decay of the live light, applied lazily
        if self._live_n >= cfg.field_every:
            self._field_pass()
        self.step_index += 1
        if timer is not None:
            timer.lap("simulation", start)

    @property
    def threads(self) -> int:
        """Threads the step's kernels use (one on small fields: waking a second costs more)."""
        return self._threads

    @property
    def live_scale(self) -> float:
        """True live light = self.live × live_scale (decay not yet applied to the array)."""
        return self._decay**self._live_n

    def _field_pass(self) -> None:
        """Every few steps: bring the live light to true scale and update the memory from it
        (light below kernels.LIGHT_FLOOR goes to 0 on the way: see kernels.scale_rows)."""
        cfg = self.config
        kernels.update_light_and_memory(
            self.live, self.memory, self.vitality, self.recolour, self.chroma,
            *self.coarse_taps, self._fields_wide, np.float32(self.live_scale),
            np.float32(cfg.memory_rate), np.float32(cfg.sink_rate), np.float32(cfg.memory_tau),
            np.float32(self.dt * self._live_n), np.float32(self._live_n), self.memory_means,
        )
        gy = self._coarse_scaled.shape[0]
        kernels.scale_rows(self._coarse_scaled, self._coarse_scaled, 0, gy,
                           np.float32(self.live_scale))
        self._live_n = 0

    def _update_participants(self, t: float, dt: float) -> int:
        """One step of every awake participant, and how many particles they emit (the counts
        per participant in self._counts); returns how many are born.

        A participant sleeps once a step leaves it exactly as it was: silent past the timeout,
        faded out (presence and light 0), drifted onto its target, its colour and health
        settled. Stepping it again would change nothing, so it is skipped (at no cost) until
        something it depends on changes: its own event wakes it, and a change of the network
        signal (which its health follows) wakes every sleeper. The frames are therefore the
        bits they would be if everyone were stepped every step.
        """
        cfg = self.config
        p = self.participants
        n = len(p)
        follow, health_k, colour_k, pos_k, ramp, refill = self._rates
        smoothed = self.network_smoothed + (self.network_level - self.network_smoothed) * follow
        if smoothed != self.network_smoothed or self.network_level_t != self._net_t_seen:
            self._wake_all()
        self.network_smoothed = smoothed
        self._net_t_seen = self.network_level_t
        if n == 0:
            self.ceiling += (0.0 - self.ceiling) * follow
            return 0
        if self._counts.shape[0] < n:
            self._counts = np.zeros(p.capacity, np.int64)
        born, fell_asleep, alive_sum = kernels.step_participants(
            n, p.awake, p.health, p.presence, p.colour, p.target_colour, p.pos, p.target,
            p.tokens, p.heart_rate, p.pattern, p.phase, p.own_level, p.own_level_t,
            p.last_seen, p.light, p.alive, p.intensity, p.arousal, p.emit_acc, p.pending_burst,
            p.emitted, self._counts, t, self.network_level_t, self.network_smoothed, health_k,
            cfg.silence_timeout, ramp, colour_k, pos_k, cfg.burst_bucket, refill,
            2 * math.pi * t / 9.0, self._never_sleep, cfg.emission_rate, dt,
            cfg.max_particles,
        )
        if fell_asleep:
            self._selection = None
        # the sleepers' alive is 0: the sum over all is the sum the full step would take
        activity = min(1.0, alive_sum)
        self.ceiling += (self.network_smoothed * activity - self.ceiling) * follow
        return born

    def _draws(self, born: int) -> tuple[np.ndarray, np.ndarray]:
        """The newborns' random numbers: a normal pair and four uniforms each, drawn as
        `standard_normal((born, 2))` then `random((born, 4))` (the engine's rng stream)."""
        if not born:
            return self._noise[:0], self._uni[:0]
        noise, uni = self._noise[:born], self._uni[:born]
        self.rng.standard_normal(out=noise)
        self.rng.random(out=uni)
        return noise, uni

    # -- particles placed from outside --------------------------------------------------------
    def seed_particles(
        self,
        positions: np.ndarray,
        speeds: np.ndarray,
        ages: np.ndarray,
        lives: np.ndarray,
        pidx: np.ndarray,
        colours: np.ndarray,
        *,
        slots: np.ndarray | None = None,
    ) -> None:
        """Place particles directly: at rest (`prev` = position, no velocity, no buoyancy),
        in the first N particle slots (or in `slots`), each lit by participant `pidx`.

        For scenes built outside the event stream (the benchmark's standard scene). Every
        value is checked (ValueError), so nothing out of range reaches the kernels.
        """
        positions = np.asarray(positions, np.float64)
        if positions.ndim != 2 or positions.shape[1] != 2:
            raise ValueError(f"positions must be (N, 2), got {positions.shape}")
        n = positions.shape[0]
        cap = self.config.max_particles
        if slots is None:
            if n > cap:
                raise ValueError(f"{n} particles do not fit max_particles = {cap}")
            where: slice | np.ndarray = slice(0, n)
        else:
            where = np.asarray(slots)
            if where.shape != (n,) or where.dtype.kind not in "iu":
                raise ValueError(f"slots must be {n} particle indices, got {where.shape}")
            if n and (where.min() < 0 or where.max() >= cap):
                raise ValueError(f"slots must be within 0..{cap - 1} (max_particles)")
            if np.unique(where).size != n:
                raise ValueError("slots must not repeat")
        people = max(1, len(self.participants))
        checks = {
            "positions": (positions, (n, 2), None, None),
            "speeds": (speeds, (n,), 0.0, 100.0),
            "ages": (ages, (n,), 0.0, None),
            "lives": (lives, (n,), 0.0, None),
            "colours": (colours, (n, 3), 0.0, 10.0),
        }
        values = {}
        for name, (value, shape, lo, hi) in checks.items():
            data = np.asarray(value, np.float64)
            if data.shape != shape:
                raise ValueError(f"{name} must be {shape}, got {data.shape}")
            if not np.isfinite(data).all():
                raise ValueError(f"{name} must be finite")
            if n and lo is not None and data.min() < lo:
                raise ValueError(f"{name} must be at least {lo:g}, got {data.min():g}")
            if n and hi is not None and data.max() > hi:
                raise ValueError(f"{name} must be at most {hi:g}, got {data.max():g}")
            values[name] = data
        xs, ys = positions[:, 0], positions[:, 1]
        if n and (xs.min() < 0 or xs.max() > self.aspect or ys.min() < 0 or ys.max() > 1):
            raise ValueError(f"positions must be on the wall: x in 0..{self.aspect:g}, y in 0..1")
        who = np.asarray(pidx)
        if who.shape != (n,) or (n and who.dtype.kind not in "iu"):
            raise ValueError(f"pidx must be {n} participant indices, got {who.shape} {who.dtype}")
        if n and (who.min() < 0 or who.max() >= people):
            raise ValueError(f"pidx must be within 0..{people - 1} (the participants present)")
        if self._retire:  # a slot given away must not take the new particles with it
            self._retire_particles()
        self.pos[where] = positions
        self.prev[where] = self.pos[where]
        self.vel[where] = 0.0
        self.speed[where] = values["speeds"]
        self.buoy[where] = 0.0
        self.age[where] = values["ages"]
        self.life[where] = values["lives"]
        self.pidx[where] = who
        self.colour[where] = values["colours"]

    # -- the public state ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything that determines the engine's future, as arrays (copies) and plain values.

        The layout is that of the state files (`mural.show.state`): arrays, scalars, rng,
        participants (ids and their arrays), markers; and who left (for `light_share`).
        """
        if self._retire:
            self._retire_particles()
        p = self.participants
        n = len(p)
        return {
            "arrays": {name: getattr(self, name).copy() for name in ENGINE_ARRAYS},
            "scalars": {**{name: getattr(self, name) for name in ENGINE_SCALARS},
                        "evictions": self.evictions},
            "rng": self.rng.bit_generator.state,
            "participants": {
                "ids": list(p.ids),
                "arrays": {name: getattr(p, name)[:n].copy() for name in PARTICIPANT_FIELDS},
            },
            "markers": [[m.t, m.name] for m in self.markers],
            "personal": {pid: {"colour": None if me.colour is None else list(me.colour),
                               "pattern": me.pattern, "weight": me.weight, "name": me.name}
                         for pid, me in self.personal.items()},
            "departed": {
                "ids": list(self._departed),
                "emitted": np.array(list(self._departed.values()), np.float64),
                "rest": self._departed_rest,
            },
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Take back a `snapshot()` (of an engine of this config): the engine then steps on
        exactly as the one it was taken from.

        Every entry is checked first (shapes, dtypes, finite values in their ranges, particle
        indices within the participants restored, counts, the step index, the rng state) and
        anything invalid raises ValueError naming it; the engine is changed only once all is
        well. A state with more participants than `max_participants` (saved before the cap)
        keeps the ones heard last; the others leave as evicted participants do.
        """
        snap = check.need_mapping(snapshot, "the snapshot")
        check.need_keys(snap, "the snapshot", ("arrays", "scalars", "rng", "participants",
                                               "markers"), ("departed", "personal"))
        people = self._check_participants(snap["participants"])
        n = len(people["ids"])
        arrays = self._check_arrays(snap["arrays"], n)
        scalars = self._check_scalars(snap["scalars"])
        rng_state = check.pcg64_state(snap["rng"], type(self.rng.bit_generator).__name__)
        trial = np.random.Generator(type(self.rng.bit_generator)())
        try:
            trial.bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise ValueError(f"engine snapshot: rng state refused ({exc})") from None
        markers = self._check_markers(snap["markers"])
        departed = self._check_departed(snap.get("departed"))
        personal = _check_personal(snap.get("personal"), self.personal)

        # all is well: install it
        for name, value in arrays.items():
            getattr(self, name)[...] = value
        for name, value in scalars.items():
            setattr(self, name, value)
        self.rng.bit_generator.state = rng_state
        table = Participants()
        table._grow(max(16, n))
        table.ids[:] = people["ids"]
        table.index.update({pid: i for i, pid in enumerate(people["ids"])})
        for name, value in people["arrays"].items():
            getattr(table, name)[:n] = value
        table.alive[:n] = table.health[:n] * table.presence[:n]
        self.participants = table
        self.markers = deque(markers, maxlen=self.config.max_markers)
        self._departed, self._departed_rest = departed
        self.personal = personal
        self._retire.clear()
        self._selection = None
        self._net_t_seen = self.network_level_t
        if n > self.config.max_participants:
            self._trim(self.config.max_participants)
        self.flow.advance_to(self.t)
        kernels.block_means(self.memory, self.memory_means, 0, self.memory_means.shape[0])

    def _trim(self, keep: int) -> None:
        """Down to `keep` participants, the ones heard last (ties: the lower slot); the others
        leave, their particles retired; the kept ones keep their order."""
        p = self.participants
        n = len(p)
        heard = np.maximum(p.last_seen[:n], p.own_level_t[:n])
        order = np.lexsort((np.arange(n), -heard))  # heard last first, then by slot
        kept = np.sort(order[:keep])
        remap = np.full(n, -1, np.int64)
        remap[kept] = np.arange(kept.size)
        for i in np.sort(order[keep:]):
            self._depart(p.ids[i], float(p.emitted[i]))
        self.evictions += n - kept.size
        gone = remap[self.pidx] < 0
        self.age[gone] = np.maximum(self.age[gone], self.life[gone])  # retired
        self.pidx[:] = np.where(gone, 0, remap[self.pidx]).astype(np.int32)
        table = Participants()
        table._grow(kept.size)
        table.ids[:] = [p.ids[i] for i in kept]
        table.index.update({pid: i for i, pid in enumerate(table.ids)})
        for name in (*PARTICIPANT_FIELDS, "alive"):
            getattr(table, name)[: kept.size] = getattr(p, name)[kept]
        self.participants = table
        self._selection = None

    def _check_participants(self, value: Any) -> dict[str, Any]:
        people = check.need_mapping(value, "participants")
        check.need_keys(people, "participants", ("ids", "arrays"))
        ids = people["ids"]
        if not isinstance(ids, list | tuple) and not (
            isinstance(ids, np.ndarray) and ids.ndim == 1
        ):
            raise ValueError("engine snapshot: participants ids must be a list of text")
        ids = [check.text(pid, f"participant ids[{k}]", MAX_ID_LEN) for k, pid in enumerate(ids)]
        seen: set[str] = set()
        for pid in ids:
            if pid in seen:
                raise ValueError(f"engine snapshot: participant {pid[:40]!r} is listed twice")
            seen.add(pid)
        n = len(ids)
        arrays = check.need_mapping(people["arrays"], "participants arrays")
        check.need_keys(arrays, "participants arrays", tuple(PARTICIPANT_FIELDS))
        cfg, a = self.config, self.aspect
        m = 0.01  # positions: the wall, and a hair of rounding around it
        bounds = {
            "pos": (-m, a + m), "target": (-m, a + m), "home": (-m, a + m),
            "colour": (0.0, 10.0), "target_colour": (0.0, 10.0), "intensity": (0.0, 1.0),
            "valence": (-1.0, 1.0), "arousal": (0.0, 1.0), "last_seen": (-1e9, 1e9),
            "own_level": (0.0, 1.0), "own_level_t": (-1e9, 1e9), "presence": (0.0, 1.0),
            "health": (0.0, 1.0), "heart_rate": (0.0, 250.0), "emit_acc": (0.0, 1.0),
            "tokens": (0.0, cfg.burst_bucket), "pending_burst": (0.0, cfg.burst_bucket),
            "phase": (0.0, 2 * math.pi), "light": (0.0, 2.0), "emitted": (0.0, 1e18),
            "pattern": (0.0, len(PATTERNS) - 1.0),
        }
        out = {}
        for name, (width, _) in PARTICIPANT_FIELDS.items():
            shape = (n, width) if width else (n,)
            lo, hi = bounds[name]
            data = check.array(arrays[name], f"participants {name}", shape,
                               np.dtype(np.float64), lo, hi)
            out[name] = data
        for name in ("pos", "target", "home"):  # y is on the wall's height
            ys = out[name][:, 1]
            if n and (ys.min() < -m or ys.max() > 1 + m):
                raise ValueError(f"engine snapshot: participants {name} has y outside 0..1")
        if n and not np.array_equal(out["pattern"], np.round(out["pattern"])):
            raise ValueError("engine snapshot: participants pattern must be whole numbers")
        return {"ids": ids, "arrays": out}

    def _check_arrays(self, value: Any, people: int) -> dict[str, np.ndarray]:
        arrays = check.need_mapping(value, "arrays")
        check.need_keys(arrays, "arrays", ENGINE_ARRAYS)
        a, m = self.aspect, 0.01
        out = {name: check.array(arrays[name], name, getattr(self, name).shape,
                                 getattr(self, name).dtype)
               for name in ENGINE_ARRAYS}
        for name in ("age", "life"):
            out[name] = check.array(out[name], name, out[name].shape, out[name].dtype, 0.0)
        live = out["age"] < out["life"]
        # a live particle is on the wall (the step retires those that leave it)
        for name in ("pos", "prev"):
            xy = out[name]
            check.array(xy[:, 0], f"{name} (x of a live particle)", xy[:, 0].shape,
                        xy.dtype, -m, a + m, where=live)
            check.array(xy[:, 1], f"{name} (y of a live particle)", xy[:, 1].shape,
                        xy.dtype, -m, 1 + m, where=live)
        ranges = {
            "vel": (-100.0, 100.0), "colour": (0.0, 10.0), "speed": (0.0, 100.0),
            "buoy": (-100.0, 100.0), "pidx": (0, max(1, people) - 1), "live": (0.0, None),
            "memory": (0.0, None), "vitality": (0.0, 1.0), "depth": (0.0, 1.0),
            "recolour": (0.0, 1.0), "chroma": (0.0, 1.0), "chroma_w": (0.0, 1.0),
            "live_coarse": (0.0, None), "_coarse_scaled": (0.0, None),
        }
        for name, (lo, hi) in ranges.items():
            out[name] = check.array(out[name], name, out[name].shape, out[name].dtype, lo, hi)
        return out

    def _check_scalars(self, value: Any) -> dict[str, Any]:
        scalars = check.need_mapping(value, "scalars")
        check.need_keys(scalars, "scalars", ENGINE_SCALARS, OPTIONAL_SCALARS)
        cfg = self.config
        return {
            "step_index": check.integer(scalars["step_index"], "step_index", 0, 10**12),
            "_cursor": check.integer(scalars["_cursor"], "_cursor", 0, cfg.max_particles - 1),
            "network_level": check.real(scalars["network_level"], "network_level", 0.0, 1.0),
            "network_level_t": check.real(scalars["network_level_t"], "network_level_t",
                                          -1e9, 1e9),
            "network_smoothed": check.real(scalars["network_smoothed"], "network_smoothed",
                                           0.0, 1.0),
            "ceiling": check.real(scalars["ceiling"], "ceiling", 0.0, 1.0),
            "events_applied": check.integer(scalars["events_applied"], "events_applied", 0,
                                            2**63 - 1),
            "_live_n": check.integer(scalars["_live_n"], "_live_n", 0,
                                     max(0, cfg.field_every - 1)),
            "evictions": check.integer(scalars.get("evictions", 0), "evictions", 0, 2**63 - 1),
        }

    def _check_markers(self, value: Any) -> list[MarkerEvent]:
        if not isinstance(value, list | tuple):
            raise ValueError("engine snapshot: markers must be a list of [t, name] pairs")
        keep = self.config.max_markers
        start = max(0, len(value) - keep)  # more than are kept: the latest
        markers = []
        for k in range(start, len(value)):
            pair = value[k]
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValueError(f"engine snapshot: marker {k} must be a [t, name] pair")
            t = check.real(pair[0], f"marker {k} time", 0.0, 1e9)
            name = check.text(pair[1], f"marker {k} name", MAX_NAME_LEN)
            markers.append(MarkerEvent(t=t, name=name))
        return markers

    def _check_departed(self, value: Any) -> tuple[dict[str, float], float]:
        if value is None:
            return {}, 0.0
        gone = check.need_mapping(value, "departed")
        check.need_keys(gone, "departed", ("ids", "emitted", "rest"))
        ids = gone["ids"]
        if not isinstance(ids, list | tuple):
            raise ValueError("engine snapshot: departed ids must be a list of text")
        ids = [check.text(pid, f"departed ids[{k}]", MAX_ID_LEN) for k, pid in enumerate(ids)]
        emitted = check.array(gone["emitted"], "departed emitted", (len(ids),),
                              np.dtype(np.float64), 0.0, 1e18)
        rest = check.real(gone["rest"], "departed rest", 0.0, 1e18)
        out: dict[str, float] = {}
        for pid, count in zip(ids, emitted.tolist(), strict=True):
            out[pid] = out.pop(pid, 0.0) + count
        while len(out) > MAX_DEPARTED:
            rest += out.pop(next(iter(out)))
        return out, rest

    # -- summaries --------------------------------------------------------------------------
    @property
    def live_particles(self) -> int:
        return int(np.count_nonzero(self.age < self.life))

    def light_share(self) -> dict[str, float]:
        """Share of emitted particles per participant since the start (fairness check),
        counting those who have left the table too."""
        p = self.participants
        n = len(p)
        total = float(p.emitted[:n].sum()) if n else 0.0
        total += math.fsum(self._departed.values()) + self._departed_rest
        counts = dict(self._departed)
        for i, pid in enumerate(p.ids):
            counts[pid] = counts.pop(pid, 0.0) + float(p.emitted[i])
        if total <= 0:
            return {pid: 0.0 for pid in counts}
        return {pid: count / total for pid, count in counts.items()}


def _check_personal(value: Any, current: dict[str, Personal]) -> dict[str, Personal]:
    """Personal colours of a snapshot (absent: the ones the engine was made with)."""
    if value is None:
        return dict(current)
    if not isinstance(value, Mapping):
        raise ValueError("engine snapshot: personal must be a table")
    out: dict[str, Personal] = {}
    for pid, spec in value.items():
        if not isinstance(pid, str) or not 0 < len(pid) <= 64 or not isinstance(spec, Mapping):
            raise ValueError("engine snapshot: personal entries must be id -> table")
        colour = spec.get("colour")
        if colour is not None:
            if not (isinstance(colour, list | tuple) and len(colour) == 3 and all(
                    isinstance(c, int | float) and not isinstance(c, bool)
                    and math.isfinite(c) and 0.0 <= c <= 1.0 for c in colour)):
                raise ValueError(f"engine snapshot: personal colour of {pid!r} is not RGB")
            colour = tuple(float(c) for c in colour)
        pattern, weight, name = spec.get("pattern"), spec.get("weight"), spec.get("name")
        if pattern not in PATTERNS:
            raise ValueError(f"engine snapshot: personal pattern of {pid!r} is unknown")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not (
                0.0 <= weight <= 0.8):
            raise ValueError(f"engine snapshot: personal weight of {pid!r} is not 0..0.8")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"engine snapshot: personal name of {pid!r} is not text")
        out[pid] = Personal(colour=colour, pattern=pattern, name=name, weight=float(weight))
    return out
