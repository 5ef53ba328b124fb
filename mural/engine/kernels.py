"""Fused numba kernels for the simulation's hot loops (particles, trails, shadow memory).

Determinism: kernels that run in parallel only ever write their own element or row; every
accumulation into shared pixels (splats) runs serially in a fixed order, so a frame is bit-exact
whatever the thread count.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

LUMA_R, LUMA_G, LUMA_B = 0.2126, 0.7152, 0.0722
COARSE_CELL = 8  # field pixels per cell of the coarse grids (a constant: `// 8` is a shift)
SERIAL_BELOW = 120_000  # pixels: below this, waking a second thread costs more than it saves


def threads_for(pixels: int) -> int:
    """How many threads the parallel kernels should use for an image of `pixels`."""
    return 1 if pixels < SERIAL_BELOW else numba.config.NUMBA_NUM_THREADS


class thread_budget:  # noqa: N801 - used as a context manager, reads like a statement
    """Run the enclosed kernels on `n` threads (numba's setting is per calling thread)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        self.saved = numba.get_num_threads()
        self.n = min(self.n, self.saved)  # never more than the caller allowed
        if self.n != self.saved:
            numba.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if self.n != self.saved:
            numba.set_num_threads(self.saved)


@njit(cache=True)
def _flow_at(flow_a, flow_b, mix, x, y, cell):
    """Bilinear sample of a time-blended (gy, gx, 2) flow grid at field-height units x, y."""
    gy, gx = flow_a.shape[0], flow_a.shape[1]
    fx = x / cell - 0.5
    fy = y / cell - 0.5
    if fx < 0.0:
        fx = 0.0
    if fy < 0.0:
        fy = 0.0
    if fx > gx - 1.001:
        fx = gx - 1.001
    if fy > gy - 1.001:
        fy = gy - 1.001
    ix = int(fx)
    iy = int(fy)
    tx = fx - ix
    ty = fy - iy
    u = 0.0
    v = 0.0
    for k in range(2):
        a = (1.0 - ty) * ((1.0 - tx) * flow_a[iy, ix, k] + tx * flow_a[iy, ix + 1, k]) + ty * (
            (1.0 - tx) * flow_a[iy + 1, ix, k] + tx * flow_a[iy + 1, ix + 1, k]
        )
        b = (1.0 - ty) * ((1.0 - tx) * flow_b[iy, ix, k] + tx * flow_b[iy, ix + 1, k]) + ty * (
            (1.0 - tx) * flow_b[iy + 1, ix, k] + tx * flow_b[iy + 1, ix + 1, k]
        )
        val = a + (b - a) * mix
        if k == 0:
            u = val
        else:
            v = val
    return u, v


@njit(cache=True, parallel=True)
def step_particles(pos, prev, vel, age, life, speed, buoy, flow_a, flow_b, mix, cell, aspect, dt):
    """Advance live particles one fixed step along the flow field (each particle independent)."""
    n = pos.shape[0]
    steer = min(1.0, 1.8 * dt)
    for i in prange(n):
        if age[i] >= life[i]:
            continue
        x = pos[i, 0]
        y = pos[i, 1]
        prev[i, 0] = x
        prev[i, 1] = y
        u, v = _flow_at(flow_a, flow_b, mix, x, y, cell)
        tu = u * speed[i]
        tv = v * speed[i] - buoy[i]
        vel[i, 0] += (tu - vel[i, 0]) * steer
        vel[i, 1] += (tv - vel[i, 1]) * steer
        x += vel[i, 0] * dt
        y += vel[i, 1] * dt
        # Light that drifts off the wall is gone (reflecting it would pile light on the edges).
        if x < 0.0 or x > aspect or y < 0.0 or y > 1.0:
            age[i] = life[i]
        pos[i, 0] = x
        pos[i, 1] = y
        age[i] += dt


@njit(cache=True)
def _deposit(buf, coarse, x, y, r, g, b, row_lo, row_hi):
    """Bilinear additive deposit at fractional pixel (x, y) into rows row_lo..row_hi-1, also
    summed into its coarse cell (divided by the cell's area: the grid holds cells' mean light).

    Each corner's share is the same expression on either path, and corners go in the same
    order, so a deposit split between two bands of rows adds exactly what one band would.
    """
    w = buf.shape[1]
    one = np.float32(1.0)
    fx = x - np.float32(0.5)
    fy = y - np.float32(0.5)
    ix = int(np.floor(fx))
    iy = int(np.floor(fy))
    tx = fx - np.float32(ix)
    ty = fy - np.float32(iy)
    w00 = (one - ty) * (one - tx)
    w01 = (one - ty) * tx
    w10 = ty * (one - tx)
    w11 = ty * tx
    cell = COARSE_CELL
    area = np.float32(1.0 / (cell * cell))
    if ix >= 0 and ix + 1 < w and iy >= row_lo and iy + 1 < row_hi:
        # the common case, written out: the 2×2 footprint is in the band, and mostly inside one
        # coarse cell, whose mean then gains the whole deposit at once (the weights sum to 1)
        _add3(buf, iy, ix, r * w00, g * w00, b * w00)
        _add3(buf, iy, ix + 1, r * w01, g * w01, b * w01)
        _add3(buf, iy + 1, ix, r * w10, g * w10, b * w10)
        _add3(buf, iy + 1, ix + 1, r * w11, g * w11, b * w11)
        if (iy + 1) // cell == iy // cell and (ix + 1) // cell == ix // cell:
            _add3(coarse, iy // cell, ix // cell, r * area, g * area, b * area)
            return
        _corner_coarse(coarse, iy, ix, w00, r, g, b, area)
        _corner_coarse(coarse, iy, ix + 1, w01, r, g, b, area)
        _corner_coarse(coarse, iy + 1, ix, w10, r, g, b, area)
        _corner_coarse(coarse, iy + 1, ix + 1, w11, r, g, b, area)
        return
    # partly off the wall or across the band's edge: corner by corner, in the same order
    for dy in range(2):
        yy = iy + dy
        if yy < row_lo or yy >= row_hi:
            continue
        for dx in range(2):
            xx = ix + dx
            if xx < 0 or xx >= w:
                continue
            if dy == 0:
                wgt = w00 if dx == 0 else w01
            else:
                wgt = w10 if dx == 0 else w11
            _add3(buf, yy, xx, r * wgt, g * wgt, b * wgt)
            _corner_coarse(coarse, yy, xx, wgt, r, g, b, area)


@njit(cache=True)
def _corner_coarse(coarse, y, x, wgt, r, g, b, area):
    k = wgt * area
    _add3(coarse, y // COARSE_CELL, x // COARSE_CELL, r * k, g * k, b * k)


@njit(cache=True)
def _add3(grid, y, x, r, g, b):
    grid[y, x, 0] += r
    grid[y, x, 1] += g
    grid[y, x, 2] += b


@njit(cache=True, parallel=True)
def splat_trails(buf, coarse, pos, prev, colour, age, life, pidx, gain, scale, bands):
    """Deposit each live particle's path over the last step as a continuous segment.

    `gain[p]` is the participant's current light (health × heartbeat); brightness fades in and
    out over a particle's life so trails breathe rather than pop.
    The field is cut into `bands` of whole coarse rows, one per thread; each band walks every
    particle in order and keeps the deposits that land in it, so every pixel and cell gains
    its light in the same order whatever the band count: the same bits on any thread count.
    """
    h = buf.shape[0]
    n = pos.shape[0]
    per_band = -(-h // bands)
    # whole coarse rows per band, so no cell is shared by two bands
    rows = -(-per_band // COARSE_CELL) * COARSE_CELL
    for band in prange(bands):
        lo = band * rows
        hi = min(h, lo + rows)
        if lo >= hi:  # more bands than rows of cells: this one has none
            continue
        for i in range(n):
            if age[i] >= life[i] or age[i] <= 0.0:
                continue
            x0 = prev[i, 0] * scale
            y0 = prev[i, 1] * scale
            x1 = pos[i, 0] * scale
            y1 = pos[i, 1] * scale
            # a sample at y touches rows floor(y - 0.5) and the next: skip segments elsewhere
            if max(y0, y1) + 2.0 < lo or min(y0, y1) - 2.0 > hi:
                continue
            phase = age[i] / life[i]
            fade = 4.0 * phase * (1.0 - phase)
            k = fade * gain[pidx[i]]
            if k <= 1e-4:
                continue
            length = np.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2)
            steps = 1 + int(length)
            if steps > 64:
                steps = 64
            kk = k / steps
            r = np.float32(colour[i, 0] * kk)  # float32 throughout: the field's own precision
            g = np.float32(colour[i, 1] * kk)
            b = np.float32(colour[i, 2] * kk)
            dx = x1 - x0
            dy = y1 - y0
            for s in range(steps):
                t = np.float32(s + 1) / np.float32(steps)
                _deposit(buf, coarse, x0 + dx * t, y0 + dy * t, r, g, b,
                         lo, hi)


@njit(cache=True)
def splat_glow(buf, coarse, cx, cy, radius, r, g, b):
    """Add a soft gaussian blob (an emitter's core) centred at pixel (cx, cy).

    The gaussian is separable: one exp per row and per column, not per pixel.
    """
    h, w = buf.shape[0], buf.shape[1]
    reach = int(radius * 2.5) + 1
    inv = 1.0 / (2.0 * radius * radius)
    y_lo = max(0, int(cy) - reach)
    y_hi = min(h, int(cy) + reach + 1)
    x_lo = max(0, int(cx) - reach)
    x_hi = min(w, int(cx) + reach + 1)
    if y_hi <= y_lo or x_hi <= x_lo:
        return
    ex = np.empty(x_hi - x_lo, np.float32)
    for x in range(x_lo, x_hi):
        dx = x + 0.5 - cx
        ex[x - x_lo] = np.exp(-dx * dx * inv)
    cell = COARSE_CELL
    area = 1.0 / (cell * cell)
    for y in range(y_lo, y_hi):
        dy = y + 0.5 - cy
        ey = np.exp(-dy * dy * inv)
        cj = y // cell
        for x in range(x_lo, x_hi):
            k = ey * ex[x - x_lo]
            buf[y, x, 0] += r * k
            buf[y, x, 1] += g * k
            buf[y, x, 2] += b * k
            ci = x // cell
            coarse[cj, ci, 0] += r * k * area
            coarse[cj, ci, 1] += g * k * area
            coarse[cj, ci, 2] += b * k * area


@njit(cache=True)
def splat_emitters(buf, coarse, active, pos, colour, light, intensity, arousal, scale, boost):
    """The core glow of the emitters listed in `active` (serial, in the order given: ascending
    participant slots, so the result is that of walking every participant)."""
    for j in range(active.shape[0]):
        i = active[j]
        k = light[i] * (0.4 + 0.6 * intensity[i])
        if k <= 0.01:
            continue
        # living light: a small bright core inside a faint halo (not a wide soft disc)
        core = scale * (0.0045 + 0.003 * arousal[i])
        x, y = pos[i, 0] * scale, pos[i, 1] * scale
        kc = k * 0.03 * boost
        splat_glow(buf, coarse, x, y, core, colour[i, 0] * kc, colour[i, 1] * kc,
                   colour[i, 2] * kc)
        kh = k * 0.005 * boost
        splat_glow(buf, coarse, x, y, core * 3.5, colour[i, 0] * kh, colour[i, 1] * kh,
                   colour[i, 2] * kh)


@njit(cache=True)
def emitter_sources(out, active, pos, strength, cells, sigma):
    """out[cell] = max over the emitters listed in `active` of strength·gaussian(distance in
    cells / sigma); emitters not listed have no strength."""
    gy, gx = out.shape
    out[:, :] = 0.0
    reach = int(3.5 * sigma) + 1
    inv = 1.0 / (2.0 * sigma * sigma)
    for j in range(active.shape[0]):
        i = active[j]
        s = strength[i]
        if s <= 0.02:
            continue
        cx = pos[i, 0] * cells
        cy = pos[i, 1] * cells
        for j in range(max(0, int(cy) - reach), min(gy, int(cy) + reach + 1)):
            dy = j + 0.5 - cy
            for k in range(max(0, int(cx) - reach), min(gx, int(cx) + reach + 1)):
                dx = k + 0.5 - cx
                v = s * np.exp(-(dx * dx + dy * dy) * inv)
                if v > out[j, k]:
                    out[j, k] = v


@njit(cache=True)
def _coarse_at(grid, x, y, inv_cell):
    """Bilinear sample of a coarse scalar grid at field pixel centre (x, y)."""
    gy, gx = grid.shape[0], grid.shape[1]
    fx = (x + 0.5) * inv_cell - 0.5
    fy = (y + 0.5) * inv_cell - 0.5
    if fx < 0.0:
        fx = 0.0
    if fy < 0.0:
        fy = 0.0
    if fx > gx - 1.0:
        fx = gx - 1.0
    if fy > gy - 1.0:
        fy = gy - 1.0
    ix = min(int(fx), gx - 2) if gx > 1 else 0
    iy = min(int(fy), gy - 2) if gy > 1 else 0
    tx = fx - ix
    ty = fy - iy
    ix1 = ix + 1 if gx > 1 else 0
    iy1 = iy + 1 if gy > 1 else 0
    return (1.0 - ty) * ((1.0 - tx) * grid[iy, ix] + tx * grid[iy, ix1]) + ty * (
        (1.0 - tx) * grid[iy1, ix] + tx * grid[iy1, ix1]
    )


def axis_taps(n_fine: int, n_coarse: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps mapping n_fine pixel centres onto a grid of n_coarse cell centres."""
    pos = (np.arange(n_fine) + 0.5) * (n_coarse / n_fine) - 0.5
    pos = np.clip(pos, 0.0, n_coarse - 1.0)
    lo = np.floor(pos).astype(np.int32)
    hi = np.minimum(lo + 1, n_coarse - 1).astype(np.int32)
    return lo, hi, (pos - lo).astype(np.float32)


@njit(cache=True)
def row_of(grid, y0, y1, wy, out):
    """Vertical lerp of a coarse (gy, gx) grid between rows y0 and y1 into `out`."""
    for i in range(out.shape[0]):
        a = grid[y0, i]
        out[i] = a + (grid[y1, i] - a) * wy


@njit(cache=True)
def row_of3(grid, y0, y1, wy, out):
    """Vertical lerp of a coarse (gy, gx, 3) grid between rows y0 and y1 into `out`."""
    for i in range(out.shape[0]):
        for c in range(3):
            a = grid[y0, i, c]
            out[i, c] = a + (grid[y1, i, c] - a) * wy


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def update_light_and_memory(
    live, memory, vitality, recolour, chroma, taps_x, taps_y, fields_wide, live_scale, mem_rate,
    sink_rate, mem_tau, dt, recolour_boost,
):
    """One step of the light fields, fused over pixels (rows in parallel).

    - live light decays (trails);
    - the memory (the mural itself) is painted by live light, and while the signal is dim the
      fading light sinks into it instead of vanishing; it only fades where the wall is alive,
      so shadows persist through a blackout;
    - where light returns to shadowed memory, its colour is taken over by the local chroma of
      the returning light while its brightness (the form) is kept: the recolouring.

    It runs every few steps (`dt` is their total): between passes live light decays lazily,
    stored as live / `live_scale`; the pass brings it back to true scale.
    The coarse fields are first widened to the field's width into `fields_wide` (gy, w, 5:
    vitality, recolour, chroma), so the pixel loop blends contiguous rows and runs on SIMD lanes.
    """
    h, w = live.shape[0], live.shape[1]
    gy = vitality.shape[0]
    x0, x1, wx = taps_x
    y0, y1, wy = taps_y
    f32 = np.float32
    for j in prange(gy):
        for x in range(w):
            a = x0[x]
            b = x1[x]
            f = wx[x]
            fields_wide[j, x, 0] = vitality[j, a] + (vitality[j, b] - vitality[j, a]) * f
            fields_wide[j, x, 1] = recolour[j, a] + (recolour[j, b] - recolour[j, a]) * f
            for c in range(3):
                fields_wide[j, x, 2 + c] = chroma[j, a, c] + (chroma[j, b, c] - chroma[j, a, c]) * f
    keep_k = f32(dt / mem_tau)
    attack = f32(1.0) - f32(np.exp(-mem_rate * dt))
    ls = f32(live_scale)
    boost = f32(recolour_boost)
    for y in prange(h):
        top = fields_wide[y0[y]].reshape(5 * w)
        bottom = fields_wide[y1[y]].reshape(5 * w)
        fy = wy[y]
        here = np.empty(5 * w, np.float32)
        for i in range(5 * w):
            here[i] = top[i] + (bottom[i] - top[i]) * fy
        lrow = live[y].reshape(3 * w)
        mrow = memory[y].reshape(3 * w)
        for x in range(w):
            i = 3 * x
            k = 5 * x
            v = here[k]
            a = min(f32(1.0), here[k + 1] * boost)
            c0 = here[k + 2]
            c1 = here[k + 3]
            c2 = here[k + 4]
            keep = f32(1.0) - keep_k * v
            sink = sink_rate * (f32(1.0) - v) * dt
            l0 = lrow[i] * ls
            l1 = lrow[i + 1] * ls
            l2 = lrow[i + 2] * ls
            # the memory follows the light's envelope: it rises toward brighter light (attack)
            # and lets go only slowly, and only where the wall is alive (keep)
            m0 = mrow[i] * keep + max(l0 - mrow[i], f32(0.0)) * attack + l0 * sink
            m1 = mrow[i + 1] * keep + max(l1 - mrow[i + 1], f32(0.0)) * attack + l1 * sink
            m2 = mrow[i + 2] * keep + max(l2 - mrow[i + 2], f32(0.0)) * attack + l2 * sink
            # recolour where light returns (a) and the returning light has a colour (cmax);
            # written as selects rather than branches so the loop stays on SIMD lanes
            peak = max(m0, max(m1, m2))
            cmax = max(c0, max(c1, c2))
            take = a if (a > f32(1e-5)) & (cmax > f32(1e-4)) else f32(0.0)
            s = peak / max(cmax, f32(1e-4))
            mrow[i] = m0 + (c0 * s - m0) * take
            mrow[i + 1] = m1 + (c1 * s - m1) * take
            mrow[i + 2] = m2 + (c2 * s - m2) * take
            lrow[i] = l0
            lrow[i + 1] = l1
            lrow[i + 2] = l2


@njit(cache=True)
def update_shadow_fields(
    vitality,
    vit_next,
    sources,
    ceiling,
    depth,
    recolour,
    chroma,
    chroma_w,
    chroma_next,
    weight_next,
    live_coarse,
    dt,
    up_rate,
    down_rate,
    falloff,
    inject_gain,
    recolour_rate,
    clear_rate,
):
    """Coarse-grid signal health of the wall: vitality, shadow depth and spreading chroma.

    Vitality spreads outward from healthy emitters one cell per step (a front, not a jump) up to
    the wall's ceiling, and every cell moves toward its target at a bounded rate, so dimming and
    recovery are ramps. The chroma of returning light travels with the same front; cells that
    were in shadow get a recolour strength until the new colour has taken them over.
    """
    gy, gx = vitality.shape
    for j in range(gy):
        for i in range(gx):
            best = 0.0
            best_w = chroma_w[j, i]
            bj = j
            bi = i
            for dj in range(-1, 2):
                jj = j + dj
                if jj < 0 or jj >= gy:
                    continue
                for di in range(-1, 2):
                    ii = i + di
                    if ii < 0 or ii >= gx:
                        continue
                    if vitality[jj, ii] > best:
                        best = vitality[jj, ii]
                    if chroma_w[jj, ii] * falloff > best_w:
                        best_w = chroma_w[jj, ii] * falloff
                        bj = jj
                        bi = ii
            target = min(ceiling, best * falloff)
            if sources[j, i] > target:
                target = sources[j, i]
            v = vitality[j, i]
            dv = target - v
            if dv > up_rate * dt:
                dv = up_rate * dt
            elif dv < -down_rate * dt:
                dv = -down_rate * dt
            vit_next[j, i] = v + dv
            # spreading chroma front
            chroma_next[j, i, 0] = chroma[bj, bi, 0]
            chroma_next[j, i, 1] = chroma[bj, bi, 1]
            chroma_next[j, i, 2] = chroma[bj, bi, 2]
            weight_next[j, i] = best_w
            # fresh light injects its own chroma
            l0 = live_coarse[j, i, 0]
            l1 = live_coarse[j, i, 1]
            l2 = live_coarse[j, i, 2]
            peak = max(l0, max(l1, l2))
            strength = min(1.0, peak * inject_gain)
            if strength > 1e-3 and vitality[j, i] > 0.05:
                mix = strength * min(1.0, 8.0 * dt)
                chroma_next[j, i, 0] += (l0 / peak - chroma_next[j, i, 0]) * mix
                chroma_next[j, i, 1] += (l1 / peak - chroma_next[j, i, 1]) * mix
                chroma_next[j, i, 2] += (l2 / peak - chroma_next[j, i, 2]) * mix
                if strength > weight_next[j, i]:
                    weight_next[j, i] = strength
            # chroma memory fades faster in shadow so returning light wins
            tau = 6.0 + 24.0 * v
            weight_next[j, i] *= 1.0 - dt / tau
    for j in range(gy):
        for i in range(gx):
            v = vit_next[j, i]
            vitality[j, i] = v
            chroma[j, i, 0] = chroma_next[j, i, 0]
            chroma[j, i, 1] = chroma_next[j, i, 1]
            chroma[j, i, 2] = chroma_next[j, i, 2]
            wq = weight_next[j, i]
            chroma_w[j, i] = wq
            d = depth[j, i]
            if 1.0 - v > d:
                d = 1.0 - v
            else:
                d -= dt * clear_rate * v * wq * d
                if d < 0.0:
                    d = 0.0
            depth[j, i] = d
            recolour[j, i] = min(1.0, dt * recolour_rate * d * v * wq)
