"""The benchmark: a standard scene with N live particles, timed per pipeline stage."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field, replace

import numba
import numpy as np

from mural.engine.colour import emotion_colour
from mural.engine.engine import EngineConfig
from mural.engine.timing import StageTimer
from mural.show.wall import Wall
from mural.sources.simulate import simulate

SCENE_START = 40.0  # seconds into the festival scenario: the crowd is lit and moving


@dataclass
class BenchResult:
    """Frames per second overall and milliseconds per frame for each stage."""

    size: tuple[int, int]
    particles: int
    frames: int
    seconds: float
    render_fps: float
    sim_hz: int
    stages_ms: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "fps": round(self.fps, 2),
            "size": f"{self.size[0]}x{self.size[1]}",
            "particles": self.particles,
            "frames": self.frames,
            "ms_per_frame": round(1000.0 / self.fps, 3) if self.fps else None,
            "stages_ms": {k: round(v, 3) for k, v in self.stages_ms.items()},
            "timeline_fps": self.render_fps,
            "sim_hz": self.sim_hz,
            "threads": numba.get_num_threads(),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        }


def standard_scene(size: tuple[int, int], particles: int, seed: int = 0) -> Wall:
    """The festival crowd at full joy, with exactly `particles` live particles.

    Emission is switched off and the particles are seeded with long lives, so the count holds
    steady for the whole run and each frame does the same amount of work.
    """
    stream = simulate("festival", seed=seed)
    config = replace(EngineConfig(), max_particles=max(1, particles), emission_rate=0.0,
                     burst_particles=0.0)
    mural = Wall(stream.events, size=size, seed=seed, config=config)
    mural.advance_to(SCENE_START)
    engine = mural.engine
    rng = np.random.default_rng(seed)
    n = particles
    people = max(1, len(engine.participants))
    xs = rng.uniform(0, engine.aspect, n)
    ys = rng.uniform(0, 1, n)
    speeds = rng.uniform(0.05, 0.25, n)
    ages = rng.uniform(1.0, 2.0, n)
    pidx = rng.integers(0, people, n)
    palette = np.stack([emotion_colour(0.8, 0.65, e) for e in ("joy", "love", "awe", "hope")])
    colours = palette[rng.integers(0, len(palette), n)] * 0.6
    # at rest where placed; they never die (life 1e9): the count stays at N
    engine.seed_particles(np.stack([xs, ys], axis=1), speeds, ages, np.full(n, 1e9), pidx,
                          colours)
    return mural


def revive(mural: Wall, rng: np.random.Generator) -> None:
    """Put particles that drifted off the wall back on it, so the count stays at N."""
    engine = mural.engine
    dead = np.flatnonzero(engine.age >= engine.life)
    if dead.size:
        where = np.column_stack([rng.uniform(0, engine.aspect, dead.size),
                                 rng.uniform(0, 1, dead.size)])
        engine.seed_particles(where, engine.speed[dead], np.ones(dead.size),
                              np.full(dead.size, 1e9), engine.pidx[dead], engine.colour[dead],
                              slots=dead)


def run_bench(
    size: tuple[int, int] = (1920, 1080),
    particles: int = 20_000,
    frames: int = 240,
    *,
    timeline_fps: float = 60.0,
    warmup: int = 10,
) -> BenchResult:
    """Render `frames` frames of the standard scene as the installation would.

    Frames advance the timeline by 1/timeline_fps; the simulation steps at its own fixed rate,
    so at 60 fps a 30 Hz simulation steps on every other frame, exactly as in `mural play`.
    """
    mural = standard_scene(size, particles)
    start_t = mural.time
    for k in range(warmup):  # compile and warm caches outside the timing
        mural.advance_to(start_t + k / timeline_fps)
        mural.render()
    times = StageTimer(time.perf_counter)
    mural.engine.timer = times
    mural.compositor.timer = times
    t0 = mural.time
    began = time.perf_counter()
    rng = np.random.default_rng(1)
    for k in range(1, frames + 1):
        mural.advance_to(t0 + k / timeline_fps)
        revive(mural, rng)  # counted under "other"
        mural.render()
    elapsed = time.perf_counter() - began
    stages = {k: v / frames for k, v in times.ms.items()}
    accounted = sum(stages.values())
    stages["other"] = max(0.0, elapsed * 1000.0 / frames - accounted)
    return BenchResult(size, particles, frames, elapsed, timeline_fps,
                       mural.config.sim_hz, stages)


@dataclass
class SoakPoint:
    """One checkpoint of a soak: where in simulated time, memory, and the cost of a frame."""

    sim_hours: float
    rss_mb: float
    frame_ms: float
    step_ms: float
    events_held: int
    live_particles: int


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def run_soak(
    size: tuple[int, int] = (640, 360),
    hours: float = 2.0,
    checkpoints: int = 12,
    *,
    seed: int = 0,
) -> list[SoakPoint]:
    """Hours of simulated time as the installation lives them: the festival night on a loop,
    events pushed cycle by cycle as a live source would, applied events forgotten.

    Each checkpoint times a few frames and one simulated second and reads resident memory;
    a healthy run is flat in all three.
    """
    cycle = simulate("festival", seed=seed)
    length = cycle.duration + 5.0
    mural = Wall(size=size, seed=seed)
    total = hours * 3600.0
    every = total / checkpoints
    points: list[SoakPoint] = []
    offset = 0.0
    next_check = every
    while mural.time < total:
        mural.push(replace(e, t=e.t + offset) for e in cycle.events)
        offset += length
        while mural.time < min(offset, total):
            target = min(offset, next_check, total)
            mural.advance_to(target)
            mural.forget_applied()
            if mural.time >= next_check - 1e-9:
                began = time.perf_counter()
                mural.advance_to(mural.time + 1.0)
                step_ms = (time.perf_counter() - began) * 1000.0 / mural.config.sim_hz
                began = time.perf_counter()
                for _ in range(5):
                    mural.render()
                frame_ms = (time.perf_counter() - began) * 1000.0 / 5
                points.append(SoakPoint(mural.time / 3600.0, rss_mb(), frame_ms, step_ms,
                                        len(mural.events), mural.engine.live_particles))
                next_check += every
    return points
