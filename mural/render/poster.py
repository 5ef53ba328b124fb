"""The poster's pixels: the kernels of the long exposure (the permanent mural).

Pure pixel work from engine state, like the compositor: the crisp paths particles draw, the
soft light shaded as the screen shades it (`kernels.shade`) and folded into a running maximum,
and the final grade through the same filmic curve (`kernels.aces`). The orchestration (bands,
simulation passes, progress, the file) is mural.show.exposure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from mural.engine.colourspace import srgb_encode_lut
from mural.engine.engine import Engine
from mural.engine.kernels import axis_taps, row_of
from mural.render import kernels as rk
from mural.render.palette import Palette

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


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


# -- the soft light ---------------------------------------------------------------------------


@njit(cache=True, fastmath=True)
def shade_field(live, live_scale, memory, memory_gain, vitality, vtaps, shadow, knee, out):
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
            s0, s1, s2 = rk.shade(c0, c1, c2, v, shadow[0], shadow[1], shadow[2])
            lum = 0.2126 * s0 + 0.7152 * s1 + 0.0722 * s2
            k = 1.0 / (1.0 + lum / knee)
            out[y, x, 0] = s0 * k
            out[y, x, 1] = s1 * k
            out[y, x, 2] = s2 * k


@njit(cache=True, fastmath=True)
def fold_max(sample, weight, tint, peak):
    """peak = max(peak, weight * tint * sample), per channel."""
    h, w = sample.shape[0], sample.shape[1]
    for y in range(h):
        for x in range(w):
            for c in range(3):
                v = sample[y, x, c] * weight * tint[c]
                if v > peak[y, x, c]:
                    peak[y, x, c] = v


def shade_engine_field(engine: Engine, palette: Palette, knee: float, out: np.ndarray) -> None:
    """`shade_field` of the engine's live + memory light under `palette`, into `out`."""
    shadow = (palette.colour("shadow_tint") * palette.shadow_level).astype(np.float32)
    vtaps = engine.coarse_taps[0] + engine.coarse_taps[1]
    shade_field(engine.live, np.float32(engine.live_scale), engine.memory,
                np.float32(palette.memory_gain), engine.vitality, vtaps, shadow,
                np.float32(knee), out)


# -- the crisp paths --------------------------------------------------------------------------


@njit(cache=True)
def deposit_paths(acc, row0, pos, prev, colour, age, life, pidx, gain, scale, spacing, amount):
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


def draw_paths(acc: np.ndarray, row0: int, engine: Engine, scale: float, amount: float,
               spacing: float) -> None:
    """`deposit_paths` of the engine's particles' last moves, at `scale` pixels per unit of
    field height, every `spacing` pixels along a move."""
    p = engine.participants
    gain = p.light[: max(1, len(p))].astype(np.float32)
    deposit_paths(acc, np.float32(row0), engine.pos, engine.prev, engine.colour, engine.age,
                  engine.life, engine.pidx, gain, np.float32(scale), np.float32(spacing),
                  np.float32(amount))


# -- blur, bloom, anchor ----------------------------------------------------------------------


def blur(buf: np.ndarray, sigma: float) -> None:
    """Gaussian blur of an (H, W, 3) float32 buffer in place (clamped edges)."""
    weights = rk.gaussian_weights(sigma)
    tmp = np.empty_like(buf)
    rk.blur_rows(buf, tmp, weights)
    rk.blur_cols(tmp, buf, weights)


def glow(field: np.ndarray, strengths: tuple[float, float]) -> np.ndarray:
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


def light_norm(light: np.ndarray) -> float:
    """The brightness the grade is anchored on: the 99th percentile of lit pixels' luminance."""
    lum = light.reshape(-1, 3) @ LUMA
    lit = lum[lum > 1e-6]
    return float(np.percentile(lit, 99)) if lit.size else 1.0


# -- the grade --------------------------------------------------------------------------------


@njit(cache=True, parallel=True, fastmath=True)
def compose_rows(paths, prow0, r0, r1, field, taps, top, bottom, height, inv_norm, k_paths,
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
                v = rk.aces((k_paths * p * tint[k] + k_field * f) * exposure)
                c[k] = v + (top[k] + (bottom[k] - top[k]) * grad) * vignette
            lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
            for k in range(3):
                v = lift + (lum + (c[k] - lum) * saturation) * (1.0 - lift)
                out[y, x, k] = lut[min(max(int(v * n + 0.5), 0), n)]


class Composer:
    """Soft light (upsampled) + glow + paths, graded into the poster's bytes, band by band."""

    def __init__(self, field: np.ndarray, glow: np.ndarray, palette: Palette,
                 look: ExposureLook, norm_paths: float, size: tuple[int, int]) -> None:
        self.field = np.ascontiguousarray(field ** look.field_contrast + glow, np.float32)
        self.look = look
        self.norm_paths = norm_paths
        width, height = size
        self.height = height
        fh, fw = field.shape[:2]
        self.taps = (*axis_taps(width, fw), *axis_taps(height, fh))
        self.top = palette.colour("background_top")
        self.bottom = palette.colour("background_bottom")
        self.tint = palette.colour("tint")  # the soft light was tinted moment by moment
        self.exposure = palette.exposure * look.exposure
        self.saturation = palette.saturation * look.saturation
        self.lift = palette.lift
        self.lut = srgb_encode_lut()

    def compose(self, paths: np.ndarray, row0: int, rows: tuple[int, int],
                image: np.ndarray) -> None:
        """Write the poster rows `rows` of `image` from a blurred band of paths whose first
        row is poster row `row0`."""
        r0, r1 = rows
        look = self.look
        compose_rows(paths, row0, r0, r1, self.field, self.taps, self.top, self.bottom,
                     self.height, np.float32(1.0 / self.norm_paths), np.float32(look.paths),
                     np.float32(look.path_contrast), np.float32(look.field), self.tint,
                     np.float32(self.exposure), np.float32(self.saturation),
                     np.float32(self.lift), self.lut, image)


__all__ = [
    "LUMA",
    "Composer",
    "ExposureLook",
    "blur",
    "compose_rows",
    "deposit_paths",
    "draw_paths",
    "fold_max",
    "glow",
    "light_norm",
    "shade_engine_field",
    "shade_field",
]
