"""The permanent mural: a long exposure of a whole session (or a span) as one poster-sized still.

How it is made, and why:

* One simulation of the span at the poster's aspect, stepped directly on the Engine (the safety
  guard shapes what a screen shows from moment to moment; a still cannot flash, so it is left
  out and the simulation costs about half as much).
* The soft light: every few steps the engine's light (live + memory) is shaded by the wall's
  vitality exactly as the compositor shades it, gently compressed, weighted by how dim that
  moment was overall, and folded into a running maximum at field resolution. Weighting by the
  moment keeps a blackout's cool shadows (dim by nature) as present as the festival's glare.
* The crisp paths: every step, each living particle's move is drawn as an anti-aliased line at
  poster resolution, its light set by its colour, its life's fade and its participant's light.
  The poster is drawn in horizontal bands so memory stays bounded (`band_budget`); bands after
  the first re-run a tiny simulation at the same aspect, because particle paths do not depend
  on the light fields' resolution (bit-identical; tested), so a band costs only the particles.
* Exposure is set from a field-resolution preview of the paths made in the first pass, so every
  band is graded alike without holding the whole poster in floating point.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mural._version import __version__
from mural.engine.engine import Engine, EngineConfig, Personal
from mural.engine.timeline import Timeline
from mural.events import Event
from mural.events.errors import MuralError
from mural.render import poster
from mural.render.palette import DEFAULT_PALETTE, PaletteSchedule
from mural.render.poster import LUMA, ExposureLook
from mural.show.palettes import Palette, load_palette
from mural.sinks.png import save_png

DEFAULT_POSTER = (7680, 4320)
BAND_BUDGET = 128 * 2**20  # bytes of float32 band buffers (accumulator + blur scratch)
FIELD_EVERY = 3  # simulation steps between two samples of the soft light
PATH_SPACING = 0.5  # poster pixels between two deposits along a particle's move
MOMENT_FLOOR = 0.004  # a moment darker than this counts as this dim (the empty first seconds)
MOMENT_POWER = 0.8  # 1: every moment equal; 0: plain light
KNEE = 0.5  # soft light above this is compressed before it is folded in
PNG_COMPRESS_LEVEL = 3  # a 33-megapixel poster writes in seconds, for a file a little larger


class ExposureError(MuralError, ValueError):
    """An exposure that cannot be made (empty span, no events ...)."""


@dataclass(frozen=True)
class ExposureResult:
    """What an exposure wrote and what it cost."""

    path: Path | None
    image: np.ndarray | None
    size: tuple[int, int]
    start: float
    end: float
    bands: int
    band_rows: int
    seconds: float

    def summary(self) -> str:
        width, height = self.size
        where = self.path if self.path is not None else "an array"
        return (
            f"wrote {where}: long exposure {width}x{height} of t={self.start:g}..{self.end:g}s "
            f"in {self.bands} band(s) of {self.band_rows} rows, {self.seconds:.1f}s"
        )


# -- planning -------------------------------------------------------------------------------


def path_sigma(height: int) -> float:
    """Width (gaussian sigma, pixels) of a drawn path: thin, slightly wider on big posters."""
    return max(0.6, 0.3 * height / 1080.0)


def band_margin(height: int) -> int:
    """Rows a band reaches past its edges so its blur matches the whole poster's exactly."""
    return int(3 * path_sigma(height)) + 2


def plan_bands(size: tuple[int, int], band_budget: int = BAND_BUDGET,
               band_rows: int | None = None) -> list[tuple[int, int]]:
    """Row spans [(start, stop), ...] covering the poster; each band's float32 buffers
    (accumulator and blur scratch, with margins) fit in `band_budget` bytes."""
    width, height = size
    if band_rows is None:
        per_row = width * 3 * 4 * 2
        band_rows = max(16, band_budget // per_row - 2 * band_margin(height))
    band_rows = max(1, min(int(band_rows), height))
    return [(r, min(height, r + band_rows)) for r in range(0, height, band_rows)]


SOFT_LIGHT_ROWS = 540  # the soft light is blurred and graded at this resolution at most: the
# crisp paths give a poster its detail, so its first pass costs no more than a 1080p wall's


def tiny_size(size: tuple[int, int]) -> tuple[int, int]:
    """The smallest size with exactly the poster's aspect (as the engine computes it) and at
    least 16 rows: its particles move exactly as the poster-sized simulation's."""
    width, height = size
    g = math.gcd(width, height)
    w, h = width // g, height // g
    k = max(1, -(-16 // h))
    return w * k, h * k


# -- palette over time ----------------------------------------------------------------------

PaletteChange = tuple[float, "Palette | str", float]  # (time, palette, fade seconds)


def palette_schedule(base: Palette | str, changes: Sequence[PaletteChange] = ()
                     ) -> PaletteSchedule:
    """The grade over time of a base palette and timed crossfades (palettes by name or value),
    as Wall.set_palette plays them."""
    return PaletteSchedule(load_palette(base),
                           [(float(t), load_palette(p), float(fade)) for t, p, fade in changes])


# -- simulation -----------------------------------------------------------------------------


class _Stepper:
    """An Engine fed from a Timeline, stepped like Wall steps it (minus the safety guard,
    which never changes the simulation)."""

    def __init__(self, events: Iterable[Event], size: tuple[int, int], seed: int,
                 personal: Mapping[str, Personal] | None) -> None:
        self.engine = Engine(replace(EngineConfig(), size=tuple(size), seed=seed,
                                     max_field_rows=SOFT_LIGHT_ROWS),
                             personal=dict(personal or {}))
        self.timeline = Timeline(events)

    def step(self) -> None:
        self.timeline.step(self.engine)

    def draw(self, acc: np.ndarray, row0: int, scale: float, amount: float) -> None:
        poster.draw_paths(acc, row0, self.engine, scale, amount, PATH_SPACING)


def _step_range(start: float, end: float, sim_hz: int) -> tuple[int, int]:
    """Steps to take before the span, and steps inside it (whose moves are exposed)."""
    first = math.floor(start * sim_hz + 1e-9)
    last = math.floor(end * sim_hz + 1e-9)
    return first, max(0, last - first)


# -- the exposure ---------------------------------------------------------------------------


def render_exposure(
    events: Iterable[Event],
    output: str | Path | None,
    *,
    start: float = 0.0,
    end: float | None = None,
    size: tuple[int, int] = DEFAULT_POSTER,
    seed: int = 0,
    palette: Palette | str = DEFAULT_PALETTE,
    palette_changes: Sequence[PaletteChange] = (),
    personal: Mapping[str, Personal] | None = None,
    look: ExposureLook | None = None,
    band_budget: int = BAND_BUDGET,
    band_rows: int | None = None,
    metadata: Mapping[str, object] | None = None,
    force: bool = False,
    progress: Callable[[str, float], None] | None = None,
) -> ExposureResult:
    """Expose the span [start, end] of a stream onto one still of `size` and write it as PNG.

    `output=None` returns the image in the result instead of writing it. `palette_changes`
    are the session's palette cues (time, palette, fade). `progress(stage, fraction)` is told
    how far the work is. Peak memory is about `band_budget` plus the finished uint8 image.
    """
    began = time.perf_counter()
    events = Timeline(events).events  # in time order, sorted once
    stop = (events[-1].t if events else 0.0) if end is None else float(end)
    if not stop > start:
        raise ExposureError(f"nothing to expose between {start:g}s and {stop:g}s")
    path = None if output is None else Path(output)
    if path is not None and path.exists() and not force:
        raise FileExistsError(f"{path} exists (use force to overwrite)")
    look = look or ExposureLook()
    width, height = size
    grades = palette_schedule(palette, palette_changes)
    bands = plan_bands(size, band_budget, band_rows)
    tell = progress or (lambda stage, fraction: None)

    # Pass 1: the soft light, the path preview, and the first band.
    main = _Stepper(events, size, seed, personal)
    engine = main.engine
    sim_hz = engine.config.sim_hz
    skip, steps = _step_range(start, stop, sim_hz)
    fh, fw = engine.field_h, engine.field_w
    sample = np.zeros((fh, fw, 3), np.float32)
    peak = np.zeros((fh, fw, 3), np.float32)
    preview = np.zeros((fh, fw, 3), np.float32)
    amount = height / 1080.0  # light per pixel of path: the same per unit of wall at any size
    buffers = _BandBuffers(width, height)
    first = buffers.open(bands[0])
    total_work = skip + steps * len(bands)
    for n in range(skip):
        main.step()
        if n % 300 == 0:
            tell("simulating", n / max(1, total_work))
    for n in range(steps):
        main.step()
        main.draw(first.acc, first.row0, height, amount)
        main.draw(preview, 0, fh, fh / 1080.0)
        if n % FIELD_EVERY == 0:
            pal = grades.palette_at(engine.t)
            poster.shade_engine_field(engine, pal, KNEE, sample)
            moment = float(sample.reshape(-1, 3).mean(axis=0) @ LUMA)
            weight = 1.0 / max(moment, MOMENT_FLOOR) ** MOMENT_POWER
            poster.fold_max(sample, np.float32(weight), pal.colour("tint"), peak)
        if n % 300 == 0:
            tell("exposing", (skip + n) / max(1, total_work))
    del main, engine, sample

    grade = grades.palette_at(stop)
    norm_field = poster.light_norm(peak)
    poster.blur(preview, path_sigma(fh))
    norm_paths = poster.light_norm(preview)
    field = peak / norm_field
    glow = poster.glow(field, look.glow)
    image = np.empty((height, width, 3), np.uint8)
    composer = poster.Composer(field, glow, grade, look, norm_paths, size)
    _compose(composer, buffers.finish(first), image)
    for index, band in enumerate(bands[1:], 1):
        tiny = _Stepper(events, tiny_size(size), seed, personal)
        acc = buffers.open(band)
        for _ in range(skip):
            tiny.step()
        for n in range(steps):
            tiny.step()
            tiny.draw(acc.acc, acc.row0, height, amount)
            if n % 300 == 0:
                tell("exposing", (skip + steps * index + n) / max(1, total_work))
        _compose(composer, buffers.finish(acc), image)
    tell("writing", 1.0)
    if path is not None:
        save_png(path, image, {
            "Software": f"Lumina Mural {__version__}",
            "mural:exposure": f"{start:g}..{stop:g}",
            "mural:seed": seed,
            "mural:palette": grade.name,
            "mural:size": f"{width}x{height}",
            **{str(k): v for k, v in (metadata or {}).items()},
        }, compress_level=PNG_COMPRESS_LEVEL)
    rows = bands[0][1] - bands[0][0]
    return ExposureResult(path, None if path is not None else image, (width, height),
                          float(start), stop, len(bands), rows, time.perf_counter() - began)


@dataclass
class _Band:
    acc: np.ndarray
    row0: int  # poster row of acc's first row
    rows: tuple[int, int]  # the band's own rows


class _BandBuffers:
    """Float32 buffers for one band at a time (accumulator and blur scratch, with margins)."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.margin = band_margin(height)
        self.sigma = path_sigma(height)

    def open(self, rows: tuple[int, int]) -> _Band:
        r0 = max(0, rows[0] - self.margin)
        r1 = min(self.height, rows[1] + self.margin)
        return _Band(np.zeros((r1 - r0, self.width, 3), np.float32), r0, rows)

    def finish(self, band: _Band) -> _Band:
        poster.blur(band.acc, self.sigma)
        return band


def _compose(composer: poster.Composer, band: _Band, image: np.ndarray) -> None:
    composer.compose(band.acc, band.row0, band.rows, image)


__all__ = [
    "BAND_BUDGET",
    "DEFAULT_POSTER",
    "ExposureError",
    "ExposureLook",
    "ExposureResult",
    "palette_schedule",
    "plan_bands",
    "render_exposure",
    "tiny_size",
]
