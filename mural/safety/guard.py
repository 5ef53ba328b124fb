"""The safety guard every frame path shares: flash limiting and a brightness ceiling, per step.

It runs on the simulation's fixed step, from the engine's own light fields, so a still, a
video frame and the installation window at the same time see the same limited light (and a
fast-forward to minute 60 limits exactly as playing there would have).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import get_num_threads, njit, prange

from mural.engine.engine import COARSE_CELL, Engine
from mural.engine.kernels import thread_budget
from mural.render.compositor import head_strength
from mural.render.kernels import aces, head_light, head_radius
from mural.render.palette import Palette
from mural.safety.limiter import FlashLimiter
from mural.safety.luminance import RED_RATIO_FLOOR, RED_RATIO_SATURATED, block_edges

MEMORY_EVERY = 4  # steps over which the memory layer's block means are all taken up (the
# limiter's history, and so every frame, depends on this schedule)
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
_SLOT_BLOCK = 512  # particle slots checked together when looking for live heads
_F32 = np.float32
_ZERO, _ONE = _F32(0.0), _F32(1.0)
_LR, _LG, _LB = _F32(0.2126), _F32(0.7152), _F32(0.0722)  # relative luminance weights
_RED_FLOOR = _F32(RED_RATIO_FLOOR)
_RED_RAMP = _F32(1.0 / (RED_RATIO_SATURATED - RED_RATIO_FLOOR))


# -- kernels (small arrays, every step: serial, but for the estimate's bands of rows) ---------


@njit(cache=True)
def _count_drawn(age, life):
    """How many slots head_light would not skip (it skips age >= life and age <= 0)."""
    n = 0
    for i in range(age.shape[0]):  # a loop from 0 over slices vectorises; keep it that way
        a = age[i]
        n += ~((a >= life[i]) | (a <= _ZERO))
    return n


@njit(cache=True)
def _live_runs(age, life, block, runs):
    """Up to two slot ranges [lo, hi) (rows of `runs`) holding every particle head_light draws.

    The particles are a ring buffer, so the live ones sit in one circular span; blocks of
    `block` slots without a live particle (age in (0, life)) are skipped. Returns how many
    ranges there are (0, 1 or 2).
    """
    n = age.shape[0]
    nb = (n + block - 1) // block
    live = np.empty(nb, np.bool_)
    any_live = False
    for b in range(nb):
        lo = b * block
        hi = min(n, lo + block)
        live[b] = _count_drawn(age[lo:hi], life[lo:hi]) > 0
        any_live |= live[b]
    if not any_live:
        return 0
    # The longest circular run of empty blocks; the rest (one circular span) is drawn.
    best_start, best_len, start, length = 0, 0, 0, 0
    for k in range(2 * nb):
        if live[k % nb]:
            length = 0
        else:
            if length == 0:
                start = k % nb
            length = min(length + 1, nb)
            if length > best_len:
                best_start, best_len = start, length
    if best_len == 0:
        runs[0, 0], runs[0, 1] = 0, n
        return 1
    first = (best_start + best_len) % nb  # first live block after the gap
    if best_start > first:
        runs[0, 0], runs[0, 1] = first * block, best_start * block
        return 1
    runs[0, 0], runs[0, 1] = first * block, n
    if best_start == 0:
        return 1
    runs[1, 0], runs[1, 1] = 0, best_start * block
    return 2


@njit(cache=True, error_model="numpy")
def _mean_of(lum_out):
    """The mean of the limiter grid's luminance, summed row by row (the same bits whichever
    rows were estimated together)."""
    mean = 0.0
    for j in range(lum_out.shape[0]):
        for i in range(lum_out.shape[1]):
            mean += lum_out[j, i]
    return mean / (lum_out.shape[0] * lum_out.shape[1])


@njit(cache=True, error_model="numpy")
def _estimate_rows(live, memory, memory_gain, vitality, shadow, bloom, exposure, tint, heads,
                   heads_red, edges_y, edges_x, lum_out, red_out, j_lo, j_hi):
    """Rows j_lo..j_hi-1 of the limiter grid's displayed luminance and red measure.

    Per coarse cell, as the compositor shades it: light = live + memory_gain * memory; the
    shadow is its form (0.6 luma + 0.4 max channel) times `shadow` (tint * level); the wall
    shows shadow + (light - shadow) * vitality, times `bloom`; the display is the filmic curve
    of that times `exposure` times `tint`. The crisp heads' light (`heads`) adds to the
    luminance and their red excess (`heads_red`) to the red measure. Float32 like the
    compositor; each row is split into channel planes first so the shading loop vectorises.
    """
    gx = vitality.shape[1]
    gx_out = lum_out.shape[1]
    mg = _F32(memory_gain)
    s0, s1, s2 = _F32(shadow[0]), _F32(shadow[1]), _F32(shadow[2])
    k = _F32(bloom * exposure)
    k0, k1, k2 = k * _F32(tint[0]), k * _F32(tint[1]), k * _F32(tint[2])
    light = np.empty(3 * gx, _F32)
    rr = np.empty(gx, _F32)
    gg = np.empty(gx, _F32)
    bb = np.empty(gx, _F32)
    live_rows = live.reshape(vitality.shape[0], 3 * gx)
    memory_rows = memory.reshape(vitality.shape[0], 3 * gx)
    col_lum = np.zeros(gx, _F32)  # per coarse column, summed over the rows of a block row so far
    col_red = np.zeros(gx, _F32)
    j = j_lo
    for y in range(edges_y[j_lo], edges_y[j_hi]):
        live_row, memory_row = live_rows[y], memory_rows[y]
        for e in range(3 * gx):
            light[e] = live_row[e] + mg * memory_row[e]
        for x in range(gx):  # into channel planes
            rr[x], gg[x], bb[x] = light[3 * x], light[3 * x + 1], light[3 * x + 2]
        vit_row, heads_row, heads_red_row = vitality[y], heads[y], heads_red[y]
        for x in range(gx):
            r, g, b, v = rr[x], gg[x], bb[x], vit_row[x]
            top = r if r > g else g
            top = top if top > b else b
            form = _F32(0.6) * (_LR * r + _LG * g + _LB * b) + _F32(0.4) * top
            sr, sg, sb = form * s0, form * s1, form * s2
            dr = aces((sr + (r - sr) * v) * k0)
            dg = aces((sg + (g - sg) * v) * k1)
            db = aces((sb + (b - sb) * v) * k2)
            col_lum[x] += _LR * dr + _LG * dg + _LB * db + heads_row[x]
            # Saturated red (see luminance.red_measure_linear): the excess R - G - B, weighted
            # by a ramp of the red ratio R / (R + G + B) from 0.65 to 0.8.
            excess = dr - dg - db
            total = dr + dg + db
            ratio = dr / (total if total > _ZERO else _ONE)
            w = (ratio - _RED_FLOOR) * _RED_RAMP
            w = w if w < _ONE else _ONE
            w = w if w > _ZERO else _ZERO
            col_red[x] += (w * excess if excess > _ZERO else _ZERO) + heads_red_row[x]
        if y + 1 == edges_y[j + 1]:  # the last row of block row j: reduce its columns
            rows = edges_y[j + 1] - edges_y[j]
            for i in range(gx_out):
                acc_lum = 0.0
                acc_red = 0.0
                for x in range(edges_x[i], edges_x[i + 1]):
                    acc_lum += col_lum[x]
                    acc_red += col_red[x]
                n = rows * (edges_x[i + 1] - edges_x[i])
                lum_out[j, i] = acc_lum / n
                red_out[j, i] = acc_red / n
            col_lum[:] = 0.0
            col_red[:] = 0.0
            j += 1


@njit(cache=True, error_model="numpy", parallel=True)
def _estimate_step(memory_means, memory_coarse, j0, j1, age, life, pos, colour, pidx, gain,
                   vitality, cells, strength, footprint, runs, heads, heads_red, heads2,
                   heads_red2, live_coarse, memory_gain, shadow, bloom, exposure, tint, edges_y,
                   edges_x, lum_out, red_out, bands):
    """One step of the estimate, fused: rows j0..j1-1 of the memory's block means taken from
    the engine's, then in `bands` of limiter rows side by side, the crisp heads' light of
    their cells (head_light over the one or two slot ranges holding live heads, summed in
    that order) and their estimate (_estimate_rows); returns the mean luminance."""
    for j in range(j0, j1):
        memory_coarse[j] = memory_means[j]
    count = _live_runs(age, life, _SLOT_BLOCK, runs)
    gy_out = lum_out.shape[0]
    for band in prange(bands):
        j_lo = gy_out * band // bands
        j_hi = gy_out * (band + 1) // bands
        if j_lo == j_hi:
            continue
        _heads_light_rows(age, life, pos, colour, pidx, gain, vitality, cells, strength,
                          footprint, runs, count, heads, heads_red, heads2, heads_red2,
                          edges_y[j_lo], edges_y[j_hi])
        _estimate_rows(live_coarse, memory_coarse, memory_gain, vitality, shadow, bloom,
                       exposure, tint, heads, heads_red, edges_y, edges_x, lum_out, red_out,
                       j_lo, j_hi)
    return _mean_of(lum_out)


@njit(cache=True, error_model="numpy")
def _heads_light_rows(age, life, pos, colour, pidx, gain, vitality, cells, strength, footprint,
                      runs, count, heads, heads_red, heads2, heads_red2, row_lo, row_hi):
    """Cell rows row_lo..row_hi-1 of head_light over the `count` slot ranges in `runs`, summed
    in that order into `heads` and `heads_red`."""
    for k in range(max(1, count)):
        lo, hi = (runs[k, 0], runs[k, 1]) if count else (0, 0)
        if k == 0:
            head_light(pos[lo:hi], colour[lo:hi], age[lo:hi], life[lo:hi], pidx[lo:hi], gain,
                       vitality, cells, strength, footprint, heads, heads_red, row_lo, row_hi)
        else:
            head_light(pos[lo:hi], colour[lo:hi], age[lo:hi], life[lo:hi], pidx[lo:hi], gain,
                       vitality, cells, strength, footprint, heads2, heads_red2, row_lo, row_hi)
    if count == 2:
        for j in range(row_lo, row_hi):
            for i in range(heads.shape[1]):
                heads[j, i] = heads[j, i] + heads2[j, i]
                heads_red[j, i] = heads_red[j, i] + heads_red2[j, i]


# -- the guard ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SafetyConfig:
    """Photosensitive-safety settings; `enabled=False` only through an explicitly unsafe flag."""

    enabled: bool = True
    grid: tuple[int, int] = (12, 12)
    ceiling: float = 0.2  # max mean relative luminance of the whole frame (surges stay dim)
    exposure_rise_per_s: float = 0.08  # how fast exposure may come back after a surge
    exposure_fall_per_s: float = 0.8


class SafetyGuard:
    """Per step: estimate the displayed light per region, then limit flashes and the ceiling.

    The estimate is taken on the engine's coarse grid with the compositor's own shading,
    exposure and filmic curve, and bloom counted as extra light, so it errs on the bright side
    (which only makes the limiter more careful).
    """

    def __init__(self, engine: Engine, config: SafetyConfig | None = None) -> None:
        self.config = config or SafetyConfig()
        gy, gx = engine.vitality.shape
        grid = (min(self.config.grid[0], gy), min(self.config.grid[1], gx))
        self.limiter = FlashLimiter(grid, enabled=self.config.enabled)
        self.memory_coarse = np.zeros((gy, gx, 3), np.float32)
        self.heads = np.zeros((gy, gx), np.float32)
        self.heads_red = np.zeros((gy, gx), np.float32)
        self.exposure = 1.0
        self.gain = np.ones(grid, np.float32)
        self.mean_luminance = 0.0
        self._steps = 0
        # Scratch and per-configuration constants, so a step allocates next to nothing.
        self._heads2 = np.zeros((gy, gx), np.float32)
        self._heads_red2 = np.zeros((gy, gx), np.float32)
        self._runs = np.zeros((2, 2), np.int64)
        self._edges = (np.append(block_edges(gy, grid[0]), gy),
                       np.append(block_edges(gx, grid[1]), gx))
        self._bands = [(gy * k // MEMORY_EVERY, gy * (k + 1) // MEMORY_EVERY)
                       for k in range(MEMORY_EVERY)]
        self._palette: Palette | None = None
        self._shading: tuple = ()
        self._size: tuple | None = None  # (output size, field height) of the two below
        self._cells = self._footprint = np.float32(0.0)
        self._lum = np.zeros(grid, np.float32)
        self._red = np.zeros(grid, np.float32)

    def _shading_of(self, palette: Palette) -> tuple:
        """(memory_gain, shadow colour * level, bloom factor, palette exposure, tint) of a
        palette, recomputed only when the palette object changes (as during a crossfade)."""
        if palette is not self._palette:
            self._shading = (
                float(palette.memory_gain),
                (palette.colour("shadow_tint") * palette.shadow_level).astype(np.float64),
                1.0 + 0.6 * (palette.bloom + palette.bloom_wide),
                float(palette.exposure),
                palette.colour("tint").astype(np.float64),
            )
            self._palette = palette
        return self._shading

    def _head_scale(self, engine: Engine, size: tuple[int, int]) -> tuple:
        """(coarse cells per unit of height, a head's footprint in cells) for frames of `size`
        (see head_light), recomputed only when the size or the field changes."""
        if (size, engine.field_h) != self._size:
            cells = engine.field_h / COARSE_CELL  # coarse cells per unit of height
            cell_px = size[1] / cells
            radius = head_radius(size[1])
            footprint = 2.0 * np.pi * radius * radius / (cell_px * cell_px)
            self._cells, self._footprint = np.float32(cells), np.float32(footprint)
            self._size = (size, engine.field_h)
        return self._cells, self._footprint

    def _memory_rows(self) -> tuple[int, int]:
        """The rows of the memory's block means this step takes up from the engine's: all of
        them on the first step, then one band per step (the limiter's history follows this
        schedule). A band taken again from an unchanged memory is the same values."""
        if self._steps == 0:
            return 0, self.memory_coarse.shape[0]
        return self._bands[self._steps % MEMORY_EVERY]

    def _estimate(self, engine: Engine, palette: Palette, size: tuple[int, int]) -> float:
        """Fill the limiter-grid luminance and red of the next frame; returns the mean
        luminance."""
        j0, j1 = self._memory_rows()
        self._steps += 1
        memory_gain, shadow, bloom, exposure, tint = self._shading_of(palette)
        cells, footprint = self._head_scale(engine, size)
        gain = engine.participants.light[: max(1, len(engine.participants))]
        strength = np.float32(head_strength(palette, self.exposure))
        grid = self.limiter.grid
        self._lum = np.empty(grid, np.float32)
        self._red = np.empty(grid, np.float32)
        with thread_budget(engine.threads):  # the engine's own budget
            return _estimate_step(
                engine.memory_means, self.memory_coarse, j0, j1, engine.age, engine.life,
                engine.pos, engine.colour, engine.pidx, gain, engine.vitality, cells, strength,
                footprint, self._runs, self.heads, self.heads_red, self._heads2,
                self._heads_red2, engine.live_coarse, memory_gain, shadow, bloom,
                exposure * self.exposure, tint, *self._edges, self._lum, self._red,
                get_num_threads())  # a band of heads a thread: any count, the same bits

    def estimate(
        self, engine: Engine, palette: Palette, size: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(luminance, red) per limiter cell of the frame the compositor would show at `size`.

        The crisp heads are drawn after the curve at output resolution, so their share of a
        region depends on the output size (they matter on small frames, hardly at all at 4K).
        Each call advances the memory layer's refresh schedule (one band of it per step).
        """
        self._estimate(engine, palette, size)
        return self._lum, self._red

    def update(self, engine: Engine, palette: Palette, dt: float, size: tuple[int, int]) -> None:
        """Advance the guard by one simulation step (for frames of `size`)."""
        cfg = self.config
        self.mean_luminance = mean = self._estimate(engine, palette, size)
        if cfg.enabled:
            # Ceiling: bring exposure down when the frame would be too bright, back up slowly.
            if mean > cfg.ceiling:
                target = self.exposure * cfg.ceiling / mean
            else:
                target = 1.0
            step = target - self.exposure
            step = max(-cfg.exposure_fall_per_s * dt, min(cfg.exposure_rise_per_s * dt, step))
            self.exposure = min(1.0, self.exposure + step)
        self.gain = self.limiter.update(self._lum, self._red, dt)

    def state_dict(self) -> dict:
        return {"exposure": self.exposure, "gain": self.gain.copy(), "steps": self._steps,
                "memory_coarse": self.memory_coarse.copy(), "limiter": self.limiter.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state_dict; ValueError for anything that does not fit this guard."""
        exposure = float(state["exposure"])
        gain = np.asarray(state["gain"], np.float32)
        steps = int(state["steps"])
        memory = np.asarray(state["memory_coarse"], np.float32)
        if not (np.isfinite(exposure) and 0.0 <= exposure <= 8.0):
            raise ValueError(f"guard exposure must be in 0..8, got {exposure}")
        if gain.shape != self.gain.shape or not np.isfinite(gain).all():
            raise ValueError(f"guard gain must be finite with shape {self.gain.shape}")
        if memory.shape != self.memory_coarse.shape or not np.isfinite(memory).all():
            raise ValueError("guard memory must be finite with the shape of the coarse grid")
        if steps < 0:
            raise ValueError(f"guard steps must be >= 0, got {steps}")
        self.limiter.load_state_dict(state["limiter"])
        self.exposure, self.gain, self._steps = exposure, gain.copy(), steps
        self.memory_coarse[...] = memory
