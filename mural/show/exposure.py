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
from numba import njit, prange

from mural._version import __version__
from mural.engine.colourspace import srgb_encode_lut
from mural.engine.engine import Engine, EngineConfig, Personal
from mural.engine.kernels import row_of
from mural.events import Event
from mural.events.errors import MuralError
from mural.render import kernels as rk
from mural.show.palettes import Palette, load_palette

DEFAULT_POSTER = (7680, 4320)
BAND_BUDGET = 128 * 2**20  # bytes of float32 band buffers (accumulator + blur scratch)
FIELD_EVERY = 3  # simulation steps between two samples of the soft light
PATH_SPACING = 0.5  # poster pixels between two deposits along a particle's move
MOMENT_FLOOR = 0.004  # a moment darker than this counts as this dim (the empty first seconds)
MOMENT_POWER = 0.8  # 1: every moment equal; 0: plain light
KNEE = 0.5  # soft light above this is compressed before it is folded in
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


class ExposureError(MuralError, ValueError):
    """An exposure that cannot be made (empty span, no events ...)."""


@dataclass(frozen=True)
class ExposureLook:
    """The grade of the poster: how much soft light and how much path, and the curve."""

    field: float = 0.3  # soft light's share
    paths: float = 0.32  # crisp paths' share
    path_contrast: float = 2.2  # >1 thins the dense haze of paths into strands, deepens water
    field_contrast: float = 1.3
    glow: tuple[float, float] = (0.35, 0.2)  # tight and wide bloom of the soft light
    exposure: float = 0.85
    saturation: float = 0.95  # on top of the palette's: a night of green needs a little less


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
                     ) -> Callable[[float], Palette]:
    """palette_at(t) for a base palette and timed crossfades, as Wall.set_palette plays them."""
    base_palette = load_palette(base)
    steps = sorted(((float(c), load_palette(p), float(f)) for c, p, f in changes),
                   key=lambda s: s[0])

    def palette_at(t: float) -> Palette:
        state: tuple[Palette, Palette, float, float] | None = None
        current = base_palette
        for c, target, fade in steps:
            if c > t:
                break
            at_c = _state_at(state, current, c)
            state, current = (at_c, target, c, fade), at_c
        return _state_at(state, current, t)

    return palette_at


def _state_at(state, current: Palette, t: float) -> Palette:
    if state is None:
        return current
    start, target, began, fade = state
    if fade <= 0:
        return target
    return start.mix(target, min(1.0, max(0.0, (t - began) / fade)))


# -- kernels --------------------------------------------------------------------------------


@njit(cache=True, fastmath=True)
def _shade_field(live, live_scale, memory, memory_gain, vitality, vtaps, shadow, knee, out):
    """The compositor's shading of live + memory light at field resolution, then a soft knee.

    Serial on purpose: a few milliseconds even at 540 rows, and immune to the slowdown
    parallel kernels suffer when other processes hold the cores.
    """
    h, w = live.shape[0], live.shape[1]
    vx0, vx1, vwx, vy0, vy1, vwy = vtaps
    vrow = np.empty(vitality.shape[1], np.float32)
    for y in range(h):
        row_of(vitality, vy0[y], vy1[y], vwy[y], vrow)
        for x in range(w):
            v = vrow[vx0[x]] + (vrow[vx1[x]] - vrow[vx0[x]]) * vwx[x]
            c0 = live[y, x, 0] * live_scale + memory_gain * memory[y, x, 0]
            c1 = live[y, x, 1] * live_scale + memory_gain * memory[y, x, 1]
            c2 = live[y, x, 2] * live_scale + memory_gain * memory[y, x, 2]
            s0, s1, s2 = rk._shade(c0, c1, c2, v, shadow[0], shadow[1], shadow[2])
            lum = 0.2126 * s0 + 0.7152 * s1 + 0.0722 * s2
            k = 1.0 / (1.0 + lum / knee)
            out[y, x, 0] = s0 * k
            out[y, x, 1] = s1 * k
            out[y, x, 2] = s2 * k


@njit(cache=True, fastmath=True)
def _fold_max(sample, weight, tint, peak):
    """peak = max(peak, weight * tint * sample), per channel."""
    h, w = sample.shape[0], sample.shape[1]
    for y in range(h):
        for x in range(w):
            for c in range(3):
                v = sample[y, x, c] * weight * tint[c]
                if v > peak[y, x, c]:
                    peak[y, x, c] = v


@njit(cache=True)
def _deposit_paths(acc, row0, pos, prev, colour, age, life, pidx, gain, scale, spacing, amount):
    """Each living particle's last move as a line of bilinear deposits (serial, fixed order).

    `row0` is the poster row of the accumulator's first row; `amount` is the light per pixel
    of path length. Deposits outside the accumulator are dropped.
    """
    h, w = acc.shape[0], acc.shape[1]
    for i in range(pos.shape[0]):
        if age[i] >= life[i] or age[i] <= 0.0:
            continue
        phase = age[i] / life[i]
        k = 4.0 * phase * (1.0 - phase) * gain[pidx[i]] * amount
        if k <= 1e-6:
            continue
        x0 = prev[i, 0] * scale
        y0 = prev[i, 1] * scale - row0
        x1 = pos[i, 0] * scale
        y1 = pos[i, 1] * scale - row0
        if (y0 < -2.0 and y1 < -2.0) or (y0 > h + 2.0 and y1 > h + 2.0):
            continue
        dx = x1 - x0
        dy = y1 - y0
        length = math.sqrt(dx * dx + dy * dy)
        n = int(length / spacing) + 1
        per = k * max(length, spacing) / n
        r = colour[i, 0] * per
        g = colour[i, 1] * per
        b = colour[i, 2] * per
        for s in range(n):
            f = (s + 0.5) / n
            x = x0 + dx * f - 0.5
            y = y0 + dy * f - 0.5
            ix = int(math.floor(x))
            iy = int(math.floor(y))
            tx = x - ix
            ty = y - iy
            for oy in range(2):
                yy = iy + oy
                if yy < 0 or yy >= h:
                    continue
                wy = ty if oy == 1 else 1.0 - ty
                for ox in range(2):
                    xx = ix + ox
                    if xx < 0 or xx >= w:
                        continue
                    wgt = wy * (tx if ox == 1 else 1.0 - tx)
                    acc[yy, xx, 0] += r * wgt
                    acc[yy, xx, 1] += g * wgt
                    acc[yy, xx, 2] += b * wgt


# -- simulation -----------------------------------------------------------------------------


class _Stepper:
    """An Engine fed a sorted event list, stepped like Wall steps it (minus the safety guard,
    which never changes the simulation)."""

    def __init__(self, events: Sequence[Event], size: tuple[int, int], seed: int,
                 personal: Mapping[str, Personal] | None) -> None:
        self.engine = Engine(replace(EngineConfig(), size=tuple(size), seed=seed),
                             personal=dict(personal or {}))
        self.events = events
        self.times = [e.t for e in events]
        self.next = 0

    def step(self) -> None:
        engine = self.engine
        end = (engine.step_index + 1) / engine.config.sim_hz
        events, times = self.events, self.times
        while self.next < len(events) and times[self.next] < end:
            engine.apply(events[self.next])
            self.next += 1
        engine.step()

    def draw(self, acc: np.ndarray, row0: int, scale: float, amount: float) -> None:
        engine = self.engine
        p = engine.participants
        gain = p.light[: max(1, len(p))].astype(np.float32)
        _deposit_paths(acc, np.float32(row0), engine.pos, engine.prev, engine.colour, engine.age,
                       engine.life, engine.pidx, gain, np.float32(scale),
                       np.float32(PATH_SPACING), np.float32(amount))


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
    palette: Palette | str = "abyss",
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
    events = sorted(events, key=lambda e: e.t)
    stop = (events[-1].t if events else 0.0) if end is None else float(end)
    if not stop > start:
        raise ExposureError(f"nothing to expose between {start:g}s and {stop:g}s")
    path = None if output is None else Path(output)
    if path is not None and path.exists() and not force:
        raise FileExistsError(f"{path} exists (use force to overwrite)")
    look = look or ExposureLook()
    width, height = size
    palette_at = palette_schedule(palette, palette_changes)
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
    vtaps = engine.coarse_taps[0] + engine.coarse_taps[1]
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
            pal = palette_at(engine.t)
            shadow = (pal.colour("shadow_tint") * pal.shadow_level).astype(np.float32)
            _shade_field(engine.live, np.float32(engine.live_scale), engine.memory,
                         np.float32(pal.memory_gain),
                         engine.vitality, vtaps, shadow, np.float32(KNEE), sample)
            moment = float(sample.reshape(-1, 3).mean(axis=0) @ LUMA)
            weight = 1.0 / max(moment, MOMENT_FLOOR) ** MOMENT_POWER
            _fold_max(sample, np.float32(weight), pal.colour("tint"), peak)
        if n % 300 == 0:
            tell("exposing", (skip + n) / max(1, total_work))
    del main, engine, sample

    grade = palette_at(stop)
    norm_field = _norm(peak)
    _blur_inplace(preview, path_sigma(fh))
    norm_paths = _norm(preview) * 1.0
    field = peak / norm_field
    glow = _glow(field, look.glow)
    image = np.empty((height, width, 3), np.uint8)
    composer = _Composer(field, glow, grade, look, norm_paths, size)
    composer.compose(buffers.finish(first), image)
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
        composer.compose(buffers.finish(acc), image)
    tell("writing", 1.0)
    if path is not None:
        _write_png(path, image, {
            "Software": f"Lumina Mural {__version__}",
            "mural:exposure": f"{start:g}..{stop:g}",
            "mural:seed": seed,
            "mural:palette": grade.name,
            "mural:size": f"{width}x{height}",
            **{str(k): v for k, v in (metadata or {}).items()},
        })
    rows = bands[0][1] - bands[0][0]
    return ExposureResult(path, None if path is not None else image, (width, height),
                          float(start), stop, len(bands), rows, time.perf_counter() - began)


def _norm(light: np.ndarray) -> float:
    """The brightness the grade is anchored on: the 99th percentile of lit pixels' luminance."""
    lum = light.reshape(-1, 3) @ LUMA
    lit = lum[lum > 1e-6]
    return float(np.percentile(lit, 99)) if lit.size else 1.0


def _blur_inplace(buf: np.ndarray, sigma: float) -> None:
    weights = rk.gaussian_weights(sigma)
    tmp = np.empty_like(buf)
    rk.blur_rows(buf, tmp, weights)
    rk.blur_cols(tmp, buf, weights)


def _glow(field: np.ndarray, strengths: tuple[float, float]) -> np.ndarray:
    """Bloom of the soft light at field resolution: a tight and a wide gaussian."""
    fh = field.shape[0]
    out = np.zeros_like(field)
    tmp = np.empty_like(field)
    blurred = np.empty_like(field)
    for k, sigma in zip(strengths, (fh / 80.0, fh / 20.0), strict=True):
        weights = rk.gaussian_weights(max(0.75, sigma))
        rk.blur_rows(field, tmp, weights)
        rk.blur_cols(tmp, blurred, weights)
        out += k * blurred
    return out


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
        _blur_inplace(band.acc, self.sigma)
        return band


@njit(cache=True, parallel=True, fastmath=True)
def _compose_rows(paths, prow0, r0, r1, field, taps, top, bottom, height, inv_norm, k_paths,
                  contrast, k_field, tint, exposure, saturation, lift, lut, out):
    """Rows r0..r1 of the poster: paths (from the band buffer whose first row is `prow0`) and
    the upsampled soft light → exposure → filmic curve → deep water → grade → sRGB bytes."""
    w = out.shape[1]
    fx0, fx1, fwx, fy0, fy1, fwy = taps
    n = lut.shape[0] - 1
    for y in prange(r0, r1):
        ys = y / max(1, height - 1)
        grad = ys ** 1.3
        vy = 0.6 + 0.4 * ys
        a, b, fy = fy0[y], fy1[y], fwy[y]
        for x in range(w):
            xs = -1.0 + 2.0 * x / max(1, w - 1)
            vignette = 1.0 - 0.35 * xs * xs * vy
            xa, xb, fx = fx0[x], fx1[x], fwx[x]
            c = np.empty(3, np.float32)
            for k in range(3):
                p = paths[y - prow0, x, k] * inv_norm
                p = p ** contrast if p > 0.0 else 0.0
                top_row = field[a, xa, k] + (field[a, xb, k] - field[a, xa, k]) * fx
                low_row = field[b, xa, k] + (field[b, xb, k] - field[b, xa, k]) * fx
                f = top_row + (low_row - top_row) * fy
                v = (k_paths * p * tint[k] + k_field * f) * exposure
                v = (v * (2.51 * v + 0.03)) / (v * (2.43 * v + 0.59) + 0.14)
                v = min(1.0, max(0.0, v))
                c[k] = v + (top[k] + (bottom[k] - top[k]) * grad) * vignette
            lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
            for k in range(3):
                v = lift + (lum + (c[k] - lum) * saturation) * (1.0 - lift)
                out[y, x, k] = lut[min(max(int(v * n + 0.5), 0), n)]


class _Composer:
    """Soft light (upsampled) + glow + paths, graded into the poster's bytes, band by band."""

    def __init__(self, field, glow, palette, look, norm_paths, size) -> None:
        self.field = np.ascontiguousarray(field ** look.field_contrast + glow, np.float32)
        self.look = look
        self.norm_paths = norm_paths
        width, height = size
        self.height = height
        fh, fw = field.shape[:2]
        self.taps = (*_linear_taps(fw, width), *_linear_taps(fh, height))
        self.top = palette.colour("background_top")
        self.bottom = palette.colour("background_bottom")
        self.tint = palette.colour("tint")  # the soft light was tinted moment by moment
        self.exposure = palette.exposure * look.exposure
        self.saturation = palette.saturation * look.saturation
        self.lift = palette.lift
        self.lut = srgb_encode_lut()

    def compose(self, band: _Band, image: np.ndarray) -> None:
        r0, r1 = band.rows
        look = self.look
        _compose_rows(band.acc, band.row0, r0, r1, self.field, self.taps, self.top, self.bottom,
                      self.height, np.float32(1.0 / self.norm_paths), np.float32(look.paths),
                      np.float32(look.path_contrast), np.float32(look.field), self.tint,
                      np.float32(self.exposure), np.float32(self.saturation),
                      np.float32(self.lift), self.lut, image)


def _linear_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    centres = np.clip((np.arange(dst) + 0.5) * (src / dst) - 0.5, 0, src - 1)
    lo = np.floor(centres).astype(np.int64)
    hi = np.minimum(lo + 1, src - 1)
    return lo, hi, (centres - lo).astype(np.float32)


def _write_png(path: Path, image: np.ndarray, metadata: Mapping[str, object]) -> None:
    """Like sinks.png.save_png, at a lighter compression: a 33-megapixel poster writes in
    seconds instead of tens of seconds, for a file a little larger."""
    from PIL import Image, PngImagePlugin

    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    for key, value in metadata.items():
        info.add_text(str(key), str(value))
    tmp = path.with_name(f".{path.name}.partial")
    Image.fromarray(image, "RGB").save(tmp, format="PNG", pnginfo=info, compress_level=3)
    tmp.replace(path)


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
