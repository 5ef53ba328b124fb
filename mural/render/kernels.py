"""Fused numba kernels for compositing: shading, bloom, tone map, upscale and particle heads."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mural.engine.kernels import _coarse_at, row_of, row_of3


@njit(cache=True, fastmath=True)
def _shade(c0, c1, c2, v, t0, t1, t2):
    """Light as displayed: where the wall's vitality v is low, light sinks into cool shadow.

    Shadow keeps the light's form (its luminance) but loses its colour and most of its
    brightness, so a blackout reads as a memory of the mural rather than a dead screen.
    """
    form = 0.6 * (0.2126 * c0 + 0.7152 * c1 + 0.0722 * c2) + 0.4 * max(c0, max(c1, c2))
    return (form * t0 + (c0 - form * t0) * v, form * t1 + (c1 - form * t1) * v,
            form * t2 + (c2 - form * t2) * v)


@njit(cache=True, parallel=True, fastmath=True)
def shaded_half(live, live_scale, memory, memory_gain, vitality, taps_x, taps_y, shadow, out):
    """Half-resolution shaded light (2×2 box of live + memory, then shading): the bloom's input.

    Shading is linear in the light for a given vitality, and vitality is smooth, so shading
    after the box filter matches filtering the shaded light.
    """
    h, w = live.shape[0], live.shape[1]
    oh, ow = out.shape[0], out.shape[1]
    x0, x1, wx = taps_x
    y0, y1, wy = taps_y
    for y in prange(oh):
        vrow = np.empty(vitality.shape[1], np.float32)
        row_of(vitality, y0[y], y1[y], wy[y], vrow)
        ya = min(2 * y, h - 1)
        yb = min(2 * y + 1, h - 1)
        for x in range(ow):
            xa = min(2 * x, w - 1)
            xb = min(2 * x + 1, w - 1)
            l0 = live[ya, xa, 0] + live[ya, xb, 0] + live[yb, xa, 0] + live[yb, xb, 0]
            m0 = memory[ya, xa, 0] + memory[ya, xb, 0] + memory[yb, xa, 0] + memory[yb, xb, 0]
            c0 = 0.25 * (live_scale * l0 + memory_gain * m0)
            l1 = live[ya, xa, 1] + live[ya, xb, 1] + live[yb, xa, 1] + live[yb, xb, 1]
            m1 = memory[ya, xa, 1] + memory[ya, xb, 1] + memory[yb, xa, 1] + memory[yb, xb, 1]
            c1 = 0.25 * (live_scale * l1 + memory_gain * m1)
            l2 = live[ya, xa, 2] + live[ya, xb, 2] + live[yb, xa, 2] + live[yb, xb, 2]
            m2 = memory[ya, xa, 2] + memory[ya, xb, 2] + memory[yb, xa, 2] + memory[yb, xb, 2]
            c2 = 0.25 * (live_scale * l2 + memory_gain * m2)
            v = vrow[x0[x]] + (vrow[x1[x]] - vrow[x0[x]]) * wx[x]
            s0, s1, s2 = _shade(c0, c1, c2, v, shadow[0], shadow[1], shadow[2])
            out[y, x, 0] = s0
            out[y, x, 1] = s1
            out[y, x, 2] = s2


@njit(cache=True, parallel=True, fastmath=True)
def downsample2(src, out):
    """2×2 box downsample (odd edges clamp)."""
    h, w = src.shape[0], src.shape[1]
    oh, ow = out.shape[0], out.shape[1]
    for y in prange(oh):
        y0 = min(2 * y, h - 1)
        y1 = min(2 * y + 1, h - 1)
        for x in range(ow):
            x0 = min(2 * x, w - 1)
            x1 = min(2 * x + 1, w - 1)
            for c in range(3):
                top = src[y0, x0, c] + src[y0, x1, c]
                out[y, x, c] = 0.25 * (top + src[y1, x0, c] + src[y1, x1, c])


@njit(cache=True, parallel=True, fastmath=True)
def blur_rows(src, out, weights):
    """Horizontal separable blur with clamped edges."""
    h, w = src.shape[0], src.shape[1]
    r = weights.shape[0] // 2
    for y in prange(h):
        for x in range(w):
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            for k in range(-r, r + 1):
                xx = min(max(x + k, 0), w - 1)
                wk = weights[k + r]
                a0 += src[y, xx, 0] * wk
                a1 += src[y, xx, 1] * wk
                a2 += src[y, xx, 2] * wk
            out[y, x, 0] = a0
            out[y, x, 1] = a1
            out[y, x, 2] = a2


@njit(cache=True, parallel=True, fastmath=True)
def blur_cols(src, out, weights):
    """Vertical separable blur with clamped edges."""
    h, w = src.shape[0], src.shape[1]
    r = weights.shape[0] // 2
    for y in prange(h):
        for x in range(w):
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            for k in range(-r, r + 1):
                yy = min(max(y + k, 0), h - 1)
                wk = weights[k + r]
                a0 += src[yy, x, 0] * wk
                a1 += src[yy, x, 1] * wk
                a2 += src[yy, x, 2] * wk
            out[y, x, 0] = a0
            out[y, x, 1] = a1
            out[y, x, 2] = a2


@njit(cache=True, fastmath=True)
def _aces(x):
    """Narkowicz's ACES filmic fit: soft shoulder, highlights roll off toward white."""
    return min(1.0, max(0.0, (x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14)))


@njit(cache=True, parallel=True, fastmath=True)
def combine_glow(tight, wide, wide_taps, k_tight, k_wide, out):
    """out = k_tight·tight + k_wide·upsample(wide): one bloom layer for the tone map to read."""
    h, w = tight.shape[0], tight.shape[1]
    x0, x1, wx, y0, y1, wy = wide_taps
    for y in prange(h):
        row = np.empty((wide.shape[1], 3), np.float32)
        row_of3(wide, y0[y], y1[y], wy[y], row)
        for x in range(w):
            a = x0[x]
            b = x1[x]
            f = wx[x]
            for c in range(3):
                wide_c = row[a, c] + (row[b, c] - row[a, c]) * f
                out[y, x, c] = k_tight * tight[y, x, c] + k_wide * wide_c


@njit(cache=True, parallel=True, fastmath=True)
def tonemap(live, live_scale, memory, memory_gain, vitality, vtaps, shadow, glow, background,
            gains, taps, exposure, grade, lut, out):
    """Shaded light + bloom + water → exposure → filmic curve → grade → sRGB bytes, per pixel.

    `gains` is the flash limiter's coarse gain grid (ones when nothing needs limiting),
    applied in linear display light after the curve, as the limiter assumes;
    `taps` maps pixels onto the glow and the gains (x then y taps for each);
    `grade` rows: tint (3), saturation, lift (3).
    """
    h, w = live.shape[0], live.shape[1]
    ax0, ax1, awx, ay0, ay1, awy, gx0, gx1, gwx, gy0, gy1, gwy = taps
    vx0, vx1, vwx, vy0, vy1, vwy = vtaps
    t0 = shadow[0]
    t1 = shadow[1]
    t2 = shadow[2]
    n = lut.shape[0] - 1
    sat = grade[3]
    k0 = grade[0] * exposure
    k1 = grade[1] * exposure
    k2 = grade[2] * exposure
    l0 = grade[4]
    l1 = grade[5]
    l2 = grade[6]
    for y in prange(h):
        arow = np.empty((glow.shape[1], 3), np.float32)
        grow = np.empty(gains.shape[1], np.float32)
        vrow = np.empty(vitality.shape[1], np.float32)
        row_of3(glow, ay0[y], ay1[y], awy[y], arow)
        row_of(gains, gy0[y], gy1[y], gwy[y], grow)
        row_of(vitality, vy0[y], vy1[y], vwy[y], vrow)
        for x in range(w):
            a0 = ax0[x]
            a1 = ax1[x]
            fa = awx[x]
            g = grow[gx0[x]] + (grow[gx1[x]] - grow[gx0[x]]) * gwx[x]  # flash-limiter gain
            vit = vrow[vx0[x]] + (vrow[vx1[x]] - vrow[vx0[x]]) * vwx[x]
            d0, d1, d2 = _shade(
                live[y, x, 0] * live_scale + memory_gain * memory[y, x, 0],
                live[y, x, 1] * live_scale + memory_gain * memory[y, x, 1],
                live[y, x, 2] * live_scale + memory_gain * memory[y, x, 2],
                vit, t0, t1, t2,
            )
            v0 = d0 + arow[a0, 0] + (arow[a1, 0] - arow[a0, 0]) * fa
            v1 = d1 + arow[a0, 1] + (arow[a1, 1] - arow[a0, 1]) * fa
            v2 = d2 + arow[a0, 2] + (arow[a1, 2] - arow[a0, 2]) * fa
            c0 = _aces(v0 * k0) * g + background[y, x, 0]
            c1 = _aces(v1 * k1) * g + background[y, x, 1]
            c2 = _aces(v2 * k2) * g + background[y, x, 2]
            lum = 0.2126 * c0 + 0.7152 * c1 + 0.0722 * c2
            # saturation, lift, then linear → sRGB byte through the LUT (written out: a call
            # per channel here cost more than the whole rest of the pixel)
            i0 = int((l0 + (lum + (c0 - lum) * sat) * (1.0 - l0)) * n)
            i1 = int((l1 + (lum + (c1 - lum) * sat) * (1.0 - l1)) * n)
            i2 = int((l2 + (lum + (c2 - lum) * sat) * (1.0 - l2)) * n)
            out[y, x, 0] = lut[min(max(i0, 0), n)]
            out[y, x, 1] = lut[min(max(i1, 0), n)]
            out[y, x, 2] = lut[min(max(i2, 0), n)]


@njit(cache=True, parallel=True, fastmath=True)
def widen_rows(src, out, x0, x1, wx):
    """Horizontal bilinear resize of uint8 RGB rows into uint16 (values × 256)."""
    h = src.shape[0]
    ow = out.shape[1]
    for y in prange(h):
        for x in range(ow):
            xa = x0[x]
            xb = x1[x]
            f = wx[x]
            for c in range(3):
                out[y, x, c] = src[y, xa, c] * (256 - f) + src[y, xb, c] * f


@njit(cache=True, parallel=True, fastmath=True)
def blend_rows(wide, out, y0, y1, wy):
    """Vertical bilinear blend of widened rows into the uint8 frame (contiguous, vectorises)."""
    oh = out.shape[0]
    n = out.shape[1] * 3
    for y in prange(oh):
        a = wide[y0[y]].reshape(n)
        b = wide[y1[y]].reshape(n)
        o = out[y].reshape(n)
        f = np.uint32(wy[y])
        g = np.uint32(256) - f
        for i in range(n):
            o[i] = (np.uint32(a[i]) * g + np.uint32(b[i]) * f + np.uint32(32768)) >> np.uint32(16)


@njit(cache=True)
def draw_heads(out, pos, prev, colour, age, life, pidx, gain, vitality, inv_cell, scale, alpha,
               strength, radius, limiter_gain, aspect, to_linear, to_srgb):
    """Crisp particle heads added straight onto the finished frame (serial, fixed order).

    Positions are interpolated between the last two simulation steps (`alpha`) so a render
    rate above the simulation rate still moves smoothly. Light is added in linear light (via
    the byte↔linear tables) so overlapping heads add up as light does, and as the safety
    estimate assumes.
    """
    h, w = out.shape[0], out.shape[1]
    reach = int(radius * 2.0) + 1
    inv = 1.0 / (2.0 * radius * radius)
    for i in range(pos.shape[0]):
        if age[i] >= life[i] or age[i] <= 0.0:
            continue
        phase = age[i] / life[i]
        fade = 4.0 * phase * (1.0 - phase)
        k = fade * gain[pidx[i]] * strength
        if k <= 0.01:
            continue
        px = prev[i, 0] + (pos[i, 0] - prev[i, 0]) * alpha
        py = prev[i, 1] + (pos[i, 1] - prev[i, 1]) * alpha
        v = _coarse_at(vitality, px * inv_cell - 0.5, py * inv_cell - 0.5, 1.0)
        gy = min(max(int(py * limiter_gain.shape[0]), 0), limiter_gain.shape[0] - 1)
        gx = min(max(int(px / aspect * limiter_gain.shape[1]), 0), limiter_gain.shape[1] - 1)
        k *= v * limiter_gain[gy, gx]
        if k <= 0.01:
            continue
        cx = px * scale
        cy = py * scale
        r = colour[i, 0] * k
        g = colour[i, 1] * k
        b = colour[i, 2] * k
        for yy in range(max(0, int(cy) - reach), min(h, int(cy) + reach + 1)):
            dy = yy + 0.5 - cy
            for xx in range(max(0, int(cx) - reach), min(w, int(cx) + reach + 1)):
                dx = xx + 0.5 - cx
                f = np.exp(-(dx * dx + dy * dy) * inv)
                if f < 0.02:
                    continue
                _add_light(out, yy, xx, 0, r * f, to_linear, to_srgb)
                _add_light(out, yy, xx, 1, g * f, to_linear, to_srgb)
                _add_light(out, yy, xx, 2, b * f, to_linear, to_srgb)


@njit(cache=True)
def _add_light(out, y, x, c, value, to_linear, to_srgb):
    n = to_srgb.shape[0] - 1
    i = int((to_linear[out[y, x, c]] + value) * n + 0.5)
    out[y, x, c] = to_srgb[min(i, n)]


@njit(cache=True)
def head_light(pos, colour, age, life, pidx, gain, vitality, cells, strength, footprint, out,
               red_out):
    """Linear light the crisp heads will add, per coarse cell (for the safety estimate).

    A head adds `colour·k` of linear light over a gaussian footprint: `footprint` is its
    integral as a share of a cell's area. `red_out` gets the saturated-red excess (R - G - B).
    """
    gy, gx = out.shape[0], out.shape[1]
    for j in range(gy):
        for i in range(gx):
            out[j, i] = 0.0
            red_out[j, i] = 0.0
    for i in range(pos.shape[0]):
        if age[i] >= life[i] or age[i] <= 0.0:
            continue
        phase = age[i] / life[i]
        k = 4.0 * phase * (1.0 - phase) * gain[pidx[i]] * strength
        if k <= 0.01:
            continue
        cy = min(max(int(pos[i, 1] * cells), 0), gy - 1)
        cx = min(max(int(pos[i, 0] * cells), 0), gx - 1)
        k *= vitality[cy, cx]
        lum = (0.2126 * colour[i, 0] + 0.7152 * colour[i, 1] + 0.0722 * colour[i, 2]) * k
        out[cy, cx] += lum * footprint
        excess = colour[i, 0] - colour[i, 1] - colour[i, 2]
        if excess > 0.0:
            red_out[cy, cx] += excess * k * footprint


def head_radius(height: int) -> float:
    """Head radius in output pixels: about a pixel at 720p, never below 0.7 px."""
    return max(0.7, 0.75 * height / 720.0)


def resize_taps(src_len: int, dst_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index and weight tables for a bilinear resize along one axis."""
    centres = (np.arange(dst_len) + 0.5) * (src_len / dst_len) - 0.5
    centres = np.clip(centres, 0, src_len - 1)
    lo = np.floor(centres).astype(np.int32)
    hi = np.minimum(lo + 1, src_len - 1).astype(np.int32)
    frac = np.round((centres - lo) * 256).astype(np.int32)
    return lo, hi, frac


def gaussian_weights(sigma: float) -> np.ndarray:
    radius = max(1, int(3 * sigma))
    xs = np.arange(-radius, radius + 1, dtype=np.float32)
    w = np.exp(-(xs**2) / (2 * sigma * sigma))
    return (w / w.sum()).astype(np.float32)
