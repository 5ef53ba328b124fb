"""Fused numba kernels for compositing: shading, bloom, tone map, upscale and particle heads.

Also the pieces every picture shares, so the screen, the poster and the safety estimate see
light alike: `shade` (light sinking into shadow where the wall is dim) and `aces` (the filmic
curve).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from mural.engine.kernels import _coarse_at, row_of3

# How much of its own hue a shadow keeps, relative to the level of the palette's cool tint: a
# muted trace (the shadows of a joyful crowd stay faintly green), never more colourful than the
# light it remembers.
HUE_RESIDUE = 0.15


@njit(cache=True, fastmath=True)
def shade(c0, c1, c2, v, t0, t1, t2):
    """Light as displayed: where the wall's vitality v is low, light sinks into cool shadow.

    Shadow keeps the light's form (its luminance) in the palette's muted tint with a trace of
    its own hue, so a blackout reads as a memory of the mural rather than a dead screen.
    Float32 constants keep float32 inputs in float32 (8 SIMD lanes in the tone map).
    """
    f32 = np.float32
    form = f32(0.6) * (f32(0.2126) * c0 + f32(0.7152) * c1 + f32(0.0722) * c2) + f32(0.4) * max(
        c0, max(c1, c2))
    q = f32(HUE_RESIDUE) * (f32(0.2126) * t0 + f32(0.7152) * t1 + f32(0.0722) * t2)
    s0 = form * t0 + (c0 - form) * q
    s1 = form * t1 + (c1 - form) * q
    s2 = form * t2 + (c2 - form) * q
    return s0 + (c0 - s0) * v, s1 + (c1 - s1) * v, s2 + (c2 - s2) * v


ACES_FIT = (2.51, 0.03, 2.43, 0.59, 0.14)  # a, b, c, d, e of x(ax + b) / (x(cx + d) + e)


def aces(x):
    """Narkowicz's ACES filmic fit, clamped to [0, 1]: soft shoulder, highlights roll off toward
    white. The one tone curve of the screen, the poster and the safety estimate.

    In numba code it keeps the precision of `x` (float32 in: float32 constants and arithmetic;
    float64 in: float64) and is inlined into its caller, so it is compiled with the caller's
    own fastmath and error model; it is branch-free, so the row loops that call it vectorise.
    From Python it takes numpy arrays or scalars (a float32 array stays float32).
    """
    a, b, c, d, e = ACES_FIT
    curve = (x * (a * x + b)) / (x * (c * x + d) + e)
    below = np.where(curve < 1.0, curve, 1.0)  # as min(1, curve) and max(0, ...) in numba
    return np.where(below > 0.0, below, 0.0)[()]


@overload(aces, inline="always")
def _aces_jit(x):
    if not isinstance(x, types.Float):
        return None
    real = np.float32 if x.bitwidth == 32 else np.float64
    a, b, c, d, e = (real(k) for k in ACES_FIT)
    zero, one = real(0.0), real(1.0)

    def impl(x):  # min/max lower to selects: no branch, so the callers' loops vectorise
        return max(zero, min(one, (x * (a * x + b)) / (x * (c * x + d) + e)))

    return impl


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def shaded_half(live, live_scale, memory, memory_gain, vitality, vitality_rows, shadow, out):
    """Half-resolution shaded light (2×2 box of live + memory, then shading): the bloom's input.

    Shading is linear in the light for a given vitality, and vitality is smooth, so shading
    after the box filter matches filtering the shaded light. `vitality` comes widened to the
    field's width; `vitality_rows` are the (y0, y1, wy) taps of the output rows onto it.
    """
    h, w = live.shape[0], live.shape[1]
    oh, ow = out.shape[0], out.shape[1]
    y0, y1, wy = vitality_rows
    f32 = np.float32
    ls = f32(live_scale * 0.25)
    mg = f32(memory_gain * 0.25)
    t0 = f32(shadow[0])
    t1 = f32(shadow[1])
    t2 = f32(shadow[2])
    pairs = min(ow, w // 2)
    for y in prange(oh):
        va = vitality[y0[y]]
        vb = vitality[y1[y]]
        fv = wy[y]
        la = live[min(2 * y, h - 1)].reshape(3 * w)
        lb = live[min(2 * y + 1, h - 1)].reshape(3 * w)
        ma = memory[min(2 * y, h - 1)].reshape(3 * w)
        mb = memory[min(2 * y + 1, h - 1)].reshape(3 * w)
        pair = np.empty(3 * w, np.float32)  # the two rows summed: contiguous, on SIMD lanes
        for i in range(3 * w):
            pair[i] = ls * (la[i] + lb[i]) + mg * (ma[i] + mb[i])
        o = out[y].reshape(3 * ow)
        for x in range(pairs):
            i = 6 * x
            a = va[2 * x] + va[2 * x + 1]
            v = f32(0.5) * (a + (vb[2 * x] + vb[2 * x + 1] - a) * fv)
            s0, s1, s2 = shade(pair[i] + pair[i + 3], pair[i + 1] + pair[i + 4],
                                pair[i + 2] + pair[i + 5], v, t0, t1, t2)
            o[3 * x] = s0
            o[3 * x + 1] = s1
            o[3 * x + 2] = s2
        if pairs < ow:  # an odd width's last column: its pair is the edge pixel twice
            i = 3 * (w - 1)
            v = va[w - 1] + (vb[w - 1] - va[w - 1]) * fv
            s0, s1, s2 = shade(2 * pair[i], 2 * pair[i + 1], 2 * pair[i + 2], v, t0, t1, t2)
            o[3 * pairs] = s0
            o[3 * pairs + 1] = s1
            o[3 * pairs + 2] = s2


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


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def blur_rows(src, out, weights):
    """Horizontal separable blur with clamped edges.

    Each tap adds a shifted copy of the whole row (three floats per pixel, so a shift of 3·k),
    which runs on SIMD lanes; only the few clamped edge values are added one by one.
    """
    h, w = src.shape[0], src.shape[1]
    n = 3 * w
    r = weights.shape[0] // 2
    for y in prange(h):
        s = src[y].reshape(n)
        o = out[y].reshape(n)
        for i in range(n):
            o[i] = 0.0
        for k in range(-r, r + 1):
            wk = weights[k + r]
            d = 3 * k
            lo = min(max(0, -d), n)  # outputs before lo read left of the row: the first pixel
            hi = max(min(n, n - d), lo)  # outputs from hi on read past its end: the last pixel
            for i in range(lo):
                o[i] += s[i % 3] * wk
            shifted = s[lo + d:hi + d]
            middle = o[lo:hi]
            for i in range(hi - lo):
                middle[i] += shifted[i] * wk
            for i in range(hi, n):
                o[i] += s[n - 3 + i % 3] * wk


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def blur_cols(src, out, weights):
    """Vertical separable blur with clamped edges: whole rows weighted and summed (SIMD)."""
    h, w = src.shape[0], src.shape[1]
    n = 3 * w
    r = weights.shape[0] // 2
    for y in prange(h):
        o = out[y].reshape(n)
        for i in range(n):
            o[i] = 0.0
        for k in range(-r, r + 1):
            s = src[min(max(y + k, 0), h - 1)].reshape(n)
            wk = weights[k + r]
            for i in range(n):
                o[i] += s[i] * wk


@njit(cache=True, parallel=True, fastmath=True)
def combine_glow(tight, wide, taps, k_tight, k_wide, out):
    """out = k_tight·tight + k_wide·upsample(wide), widened to the field's width.

    Both bloom layers are resampled across here, once per glow row, so the tone map only blends
    two of these rows per pixel row: contiguous reads it can vectorise.
    `taps`: x taps onto `tight`, x taps onto `wide`, y taps from `tight`'s rows onto `wide`.
    """
    h, w = out.shape[0], out.shape[1]
    tx0, tx1, twx, x0, x1, wx, y0, y1, wy = taps
    for y in prange(h):
        row = np.empty((wide.shape[1], 3), np.float32)
        row_of3(wide, y0[y], y1[y], wy[y], row)
        for x in range(w):
            a = x0[x]
            b = x1[x]
            f = wx[x]
            ta = tx0[x]
            tb = tx1[x]
            tf = twx[x]
            for c in range(3):
                wide_c = row[a, c] + (row[b, c] - row[a, c]) * f
                tight_c = tight[y, ta, c] + (tight[y, tb, c] - tight[y, ta, c]) * tf
                out[y, x, c] = k_tight * tight_c + k_wide * wide_c


@njit(cache=True, parallel=True, fastmath=True)
def widen_grid(grid, x0, x1, wx, out):
    """Horizontal bilinear resample of a coarse (gy, gx) grid to (gy, width)."""
    for y in prange(out.shape[0]):
        for x in range(out.shape[1]):
            a = grid[y, x0[x]]
            out[y, x] = a + (grid[y, x1[x]] - a) * wx[x]


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def tonemap(live, live_scale, memory, memory_gain, vitality, glow, gains, row_taps, shadow,
            background, exposure, grade, lut, out):
    """Shaded light + bloom + water → exposure → filmic curve → grade → sRGB bytes, per pixel.

    `vitality`, `glow` and `gains` (the flash limiter's gain grid, applied in linear display
    light after the curve, as the limiter assumes) come widened to the field's width, so each
    pixel row blends two of their rows: `row_taps` holds the (y0, y1, wy) taps of each in turn.
    The pixel loop reads only contiguous rows and has no branches, so it runs on SIMD lanes;
    the sRGB table lookup is a separate loop. `grade` rows: tint (3), saturation, lift (3).
    """
    h, w = live.shape[0], live.shape[1]
    vy0, vy1, vwy, ay0, ay1, awy, gy0, gy1, gwy = row_taps
    f32 = np.float32
    t0 = f32(shadow[0])
    t1 = f32(shadow[1])
    t2 = f32(shadow[2])
    n = lut.shape[0] - 1
    top = f32(n)
    sat = f32(grade[3])
    k0 = f32(grade[0] * exposure)
    k1 = f32(grade[1] * exposure)
    k2 = f32(grade[2] * exposure)
    # lift then scale to table indices: index = lift·n + graded·(1 - lift)·n
    b0 = f32(grade[4] * n)
    b1 = f32(grade[5] * n)
    b2 = f32(grade[6] * n)
    m0 = f32((1.0 - grade[4]) * n)
    m1 = f32((1.0 - grade[5]) * n)
    m2 = f32((1.0 - grade[6]) * n)
    ls = f32(live_scale)
    mg = f32(memory_gain)
    for y in prange(h):
        lrow = live[y].reshape(3 * w)
        mrow = memory[y].reshape(3 * w)
        brow = background[y].reshape(3 * w)
        ga = glow[ay0[y]].reshape(3 * w)
        gb = glow[ay1[y]].reshape(3 * w)
        fa = awy[y]
        va = vitality[vy0[y]]
        vb = vitality[vy1[y]]
        fv = vwy[y]
        ka = gains[gy0[y]]
        kb = gains[gy1[y]]
        fk = gwy[y]
        # vitality and gain share one buffer: LLVM vectorises a loop only while its runtime
        # aliasing checks stay few (seven arrays here; one more and the loop runs scalar)
        vg = np.empty(2 * w, np.float32)
        for x in range(w):
            vg[2 * x] = va[x] + (vb[x] - va[x]) * fv
            vg[2 * x + 1] = ka[x] + (kb[x] - ka[x]) * fk
        index = np.empty(3 * w, np.int32)
        for x in range(w):
            i = 3 * x
            g = vg[2 * x + 1]
            c0 = lrow[i] * ls + mg * mrow[i]
            c1 = lrow[i + 1] * ls + mg * mrow[i + 1]
            c2 = lrow[i + 2] * ls + mg * mrow[i + 2]
            d0, d1, d2 = shade(c0, c1, c2, vg[2 * x], t0, t1, t2)
            v0 = (d0 + ga[i] + (gb[i] - ga[i]) * fa) * k0
            v1 = (d1 + ga[i + 1] + (gb[i + 1] - ga[i + 1]) * fa) * k1
            v2 = (d2 + ga[i + 2] + (gb[i + 2] - ga[i + 2]) * fa) * k2
            e0 = aces(v0) * g + brow[i]
            e1 = aces(v1) * g + brow[i + 1]
            e2 = aces(v2) * g + brow[i + 2]
            lum = f32(0.2126) * e0 + f32(0.7152) * e1 + f32(0.0722) * e2
            index[i] = np.int32(min(max(b0 + (lum + (e0 - lum) * sat) * m0, f32(0.0)), top))
            index[i + 1] = np.int32(min(max(b1 + (lum + (e1 - lum) * sat) * m1, f32(0.0)), top))
            index[i + 2] = np.int32(min(max(b2 + (lum + (e2 - lum) * sat) * m2, f32(0.0)), top))
        orow = out[y].reshape(3 * w)
        for i in range(3 * w):
            orow[i] = lut[index[i]]


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
def widen_rows_2x(src, out):
    """`widen_rows` for an output exactly twice as wide: fixed ¼/¾ weights, no index tables.

    Output pixels 2i-1 and 2i both lie between source pixels i-1 and i, so one pass over the
    source pairs writes them all with contiguous reads (this is the 720p and 1080p case).
    """
    h, w = src.shape[0], src.shape[1]
    for y in prange(h):
        s = src[y].reshape(3 * w)
        o = out[y].reshape(6 * w)
        for c in range(3):
            o[c] = np.uint16(s[c]) << np.uint16(8)
            o[6 * w - 3 + c] = np.uint16(s[3 * (w - 1) + c]) << np.uint16(8)
        for i in range(1, w):
            for c in range(3):
                a = np.uint16(s[3 * (i - 1) + c])
                b = np.uint16(s[3 * i + c])
                o[6 * i + c] = a * np.uint16(64) + b * np.uint16(192)
                o[6 * i - 3 + c] = a * np.uint16(192) + b * np.uint16(64)


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
               red_out, row_lo, row_hi):
    """Linear light the crisp heads will add, per coarse cell (for the safety estimate), in
    the cell rows row_lo..row_hi-1 (the others are left alone: bands of rows can be drawn side
    by side, each cell summing its heads in slot order).

    A head adds `colour·k` of linear light over a gaussian footprint: `footprint` is its
    integral as a share of a cell's area. `red_out` gets the saturated-red excess (R - G - B).
    """
    gy, gx = out.shape[0], out.shape[1]
    for j in range(row_lo, row_hi):
        for i in range(gx):
            out[j, i] = 0.0
            red_out[j, i] = 0.0
    for i in range(pos.shape[0]):
        if age[i] >= life[i] or age[i] <= 0.0:
            continue
        cy = min(max(int(pos[i, 1] * cells), 0), gy - 1)
        if cy < row_lo or cy >= row_hi:
            continue
        phase = age[i] / life[i]
        k = 4.0 * phase * (1.0 - phase) * gain[pidx[i]] * strength
        if k <= 0.01:
            continue
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


def byte_taps(src_len: int, dst_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps for resizing uint8 rows (widen_rows, blend_rows): the indices of
    engine.kernels.axis_taps(dst_len, src_len), with weights in 256ths (int32).

    The weights are rounded from the float64 centres; rounding axis_taps' float32 weights
    instead would move some by one 256th (kept apart on purpose: frames are bit-exact).
    Float weights for any other resampling come from engine.kernels.axis_taps.
    """
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
