"""Fused numba kernels for the simulation's hot loops (particles, trails, shadow memory).

Determinism: kernels that run in parallel only ever write their own element or row; every
accumulation into shared pixels (splats) runs serially in a fixed order, so a frame is bit-exact
whatever the thread count.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from mural.engine.prefetch import prefetch_pixel

LUMA_R, LUMA_G, LUMA_B = 0.2126, 0.7152, 0.0722
COARSE_CELL = 8  # field pixels per cell of the coarse grids (a constant: `// 8` is a shift)
TRAIL_LOOKAHEAD = 4  # paths ahead whose pixels the trail painter asks for (see prefetch)
GLOW_LOOKAHEAD = 2  # rows ahead whose pixels a glow asks for
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


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def _move_particle(i, pos, prev, vel, age, life, speed, buoy, flow_a, flow_b, mix, cell, aspect,
                   dt, steer):
    """One step of live particle i along the flow (step_particles and the fused step)."""
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


@njit(cache=True, parallel=True)
def step_particles(pos, prev, vel, age, life, speed, buoy, flow_a, flow_b, mix, cell, aspect, dt):
    """Advance live particles one fixed step along the flow field (each particle independent)."""
    n = pos.shape[0]
    steer = min(1.0, 1.8 * dt)
    for i in prange(n):
        if age[i] >= life[i]:
            continue
        _move_particle(i, pos, prev, vel, age, life, speed, buoy, flow_a, flow_b, mix, cell,
                       aspect, dt, steer)


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


@njit(cache=True, inline="always")
def _glow_columns(ex, x_lo, c0, sx):
    """sx[ci] = the sum of a glow's column weights `ex` (from column x_lo) over coarse column
    c0 + ci, in ascending columns (the glow is separable, so a cell's share is sy × sx)."""
    for q in range(sx.shape[0]):
        sx[q] = 0.0
    for j in range(ex.shape[0]):
        sx[(x_lo + j) // COARSE_CELL - c0] += ex[j]


@njit(cache=True, inline="always")
def _glow_cells(coarse, cj, c0, sx, sy, r, g, b):
    """A glow's light in coarse row cj at once: each cell gains rgb × (its row weights' sum sy ×
    its column weights' sum) / area, the mean its pixels gained (one rounding per cell)."""
    area = 1.0 / (COARSE_CELL * COARSE_CELL)
    for ci in range(sx.shape[0]):
        k = sy * sx[ci] * area
        _add3(coarse, cj, c0 + ci, r * k, g * k, b * k)


@njit(cache=True)
def splat_glow(buf, coarse, cx, cy, radius, r, g, b):
    """Add a soft gaussian blob (an emitter's core) centred at pixel (cx, cy).

    The gaussian is separable: one exp per row and per column, not per pixel, and each coarse
    cell gains its share at once (see _glow_cells).
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
    c0 = x_lo // cell
    sx = np.empty((x_hi - 1) // cell - c0 + 1)
    _glow_columns(ex, x_lo, c0, sx)
    sy = 0.0
    for y in range(y_lo, y_hi):
        dy = y + 0.5 - cy
        ey = np.exp(-dy * dy * inv)
        for x in range(x_lo, x_hi):
            k = ey * ex[x - x_lo]
            buf[y, x, 0] += r * k
            buf[y, x, 1] += g * k
            buf[y, x, 2] += b * k
        sy += ey
        if y == y_hi - 1 or (y + 1) % cell == 0:
            _glow_cells(coarse, y // cell, c0, sx, sy, r, g, b)
            sy = 0.0


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


@njit(cache=True, inline="always")
def _cell_means_of_row(acc, out, j, cell, rows, w):
    """Cell row j of block_means from `acc`, the sum of its `rows` pixel rows (w pixels of 3)."""
    for i in range(out.shape[1]):
        x0 = i * cell
        x1 = min(w, x0 + cell)
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        for x in range(x0, x1):
            s0 += acc[3 * x]
            s1 += acc[3 * x + 1]
            s2 += acc[3 * x + 2]
        n = max(1, rows * (x1 - x0))
        out[j, i, 0] = s0 / n
        out[j, i, 1] = s1 / n
        out[j, i, 2] = s2 / n


@njit(cache=True)
def block_means(src, out, j0, j1):
    """Rows j0..j1-1 of the (gy, gx, 3) means of an (H, W, 3) field over COARSE_CELL²-pixel
    cells (edge cells partial): whole pixel rows summed first (contiguous, vectorised), then
    each cell's columns of that sum. The field pass gives the memory's means the same way."""
    h, w = src.shape[0], src.shape[1]
    flat = src.reshape(h, w * 3)
    acc = np.empty(w * 3, np.float32)
    for j in range(j0, j1):
        y0 = j * COARSE_CELL
        y1 = min(h, y0 + COARSE_CELL)
        acc[:] = 0.0
        for y in range(y0, y1):
            row = flat[y]
            for k in range(w * 3):
                acc[k] += row[k]
        _cell_means_of_row(acc, out, j, COARSE_CELL, y1 - y0, w)


# Fast-math only where it cannot change a result's bits (no NaN or infinity here, and the sign
# of a zero does not matter): reassociation, contraction into FMAs or reciprocals would let
# the same source round differently depending on how it was compiled (a kernel loaded from
# numba's cache gave other memory bits than a fresh compile), and the state must not.
SAFE_FASTMATH = {"nnan", "ninf", "nsz"}


@njit(cache=True, parallel=True, fastmath=SAFE_FASTMATH, error_model="numpy")
def update_light_and_memory(
    live, memory, vitality, recolour, chroma, taps_x, taps_y, fields_wide, live_scale, mem_rate,
    sink_rate, mem_tau, dt, recolour_boost, means,
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
    The new memory's cell means go to `means` on the way (block_means, bit for bit), while its
    rows are still in cache: the safety guard reads them instead of the whole memory.
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
    lim = f32(LIGHT_FLOOR) / ls  # light that would fall below the floor is 0 (see scale_rows)
    boost = f32(recolour_boost)
    cell = COARSE_CELL
    if means.shape[0] != -(-h // cell):  # its rows are the pass's: a short one would skip some
        raise ValueError("the means must have a row for every COARSE_CELL rows of the field")
    for j in prange(means.shape[0]):  # whole cell rows, for the means
        here = np.empty(5 * w, np.float32)
        acc = np.zeros(3 * w, np.float32)
        for y in range(j * cell, min(h, j * cell + cell)):
            top = fields_wide[y0[y]].reshape(5 * w)
            bottom = fields_wide[y1[y]].reshape(5 * w)
            fy = wy[y]
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
                r0 = lrow[i]
                r1 = lrow[i + 1]
                r2 = lrow[i + 2]
                l0 = (r0 if r0 >= lim else f32(0.0)) * ls
                l1 = (r1 if r1 >= lim else f32(0.0)) * ls
                l2 = (r2 if r2 >= lim else f32(0.0)) * ls
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
            for e in range(3 * w):
                acc[e] += mrow[e]
        _cell_means_of_row(acc, means, j, cell, min(h, j * cell + cell) - j * cell, w)


@njit(cache=True, inline="always")
def _depth_and_recolour(v, wq, d, dt, clear_rate, recolour_rate):
    """A cell's shadow depth and recolour amount after a step, from its new vitality `v` and
    chroma weight `wq` (update_shadow_fields' commit; the fused step takes it per cell)."""
    if 1.0 - v > d:
        d = 1.0 - v
    else:
        d -= dt * clear_rate * v * wq * d
        if d < 0.0:
            d = 0.0
    return d, min(1.0, dt * recolour_rate * d * v * wq)


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
            depth[j, i], recolour[j, i] = _depth_and_recolour(v, wq, depth[j, i], dt,
                                                              clear_rate, recolour_rate)


# -- the fused step ---------------------------------------------------------------------------
# Engine.step in three calls: `step_participants` (the emitters and their spawn counts), the
# particles' random draws (numpy, in the engine: the rng stream is the one it always was), and
# `advance_and_paint` (births, motion, trails, emitters, shadow fields). Each mirrors the
# arithmetic of the step it replaces operation for operation (the same float64 / float32
# expressions in the same order, numpy's pairwise sum where numpy summed), so the state after
# every step is the same bits; the tests compare it with the kernels above.

PATTERN_RING, PATTERN_PULSE = 1, 2  # indices in mural.engine.engine.PATTERNS
TWO_PI = 2 * np.pi  # the value of `2 * math.pi`


@njit(cache=True)
def _pairwise_block(a, lo, n):
    """numpy's pairwise sum of a[lo:lo + n] for n <= 128: eight running sums, then the rest."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def pairwise_sum(a, lo, n):
    """numpy's sum of the float64 a[lo:lo + n] (its pairwise summation), bit for bit.

    Above 128 values numpy halves the range (at a multiple of 8) and adds the halves' sums;
    the halving is walked here with a stack of its own (a cached recursive kernel is unsafe).
    """
    if n <= 128:
        return _pairwise_block(a, lo, n)
    los = np.empty(64, np.int64)
    ns = np.empty(64, np.int64)
    stage = np.empty(64, np.int64)
    left = np.empty(64)
    top = 0
    los[0], ns[0], stage[0] = lo, n, 0
    ret = 0.0
    while True:
        start, count = los[top], ns[top]
        if count <= 128:
            ret = _pairwise_block(a, start, count)
            top -= 1
            if top < 0:
                return ret
            continue
        half = count // 2
        half -= half % 8
        if stage[top] == 0:  # the first half next
            stage[top] = 1
            top += 1
            los[top], ns[top], stage[top] = start, half, 0
        elif stage[top] == 1:  # the first half's sum is in: the second half next
            left[top] = ret
            stage[top] = 2
            top += 1
            los[top], ns[top], stage[top] = start + half, count - half, 0
        else:
            ret = left[top] + ret
            top -= 1
            if top < 0:
                return ret


@njit(cache=True)
def step_participants(n, awake, health, presence, colour, target_colour, pos, target, tokens,
                      heart_rate, pattern, phase, own_level, own_level_t, last_seen, light,
                      alive, intensity, arousal, emit_acc, pending_burst, emitted, counts,
                      t, net_t, net_level, health_k, silence, ramp, colour_k, pos_k, bucket,
                      refill, breath_at, never_sleep, emission_rate, dt, max_particles):
    """One step of every awake participant, then how many particles each emits (`counts`).

    The arithmetic of Engine's numpy step, element by element. Participants that settle
    (a step would leave them exactly as they are) fall asleep (`awake` False) and emit
    nothing. Returns (particles born, whether anyone fell asleep, the sum of `alive`).
    """
    fell_asleep = False
    for i in range(n):
        if not awake[i]:
            counts[i] = 0
            continue
        h = health[i]
        level = own_level[i] if own_level_t[i] >= net_t else net_level
        h_next = h + (level - h) * health_k
        heard = (t - last_seen[i]) < silence
        pr = presence[i] + (ramp if heard else -ramp)
        pr = min(max(pr, 0.0), 1.0)
        tk = tokens[i]
        tk_next = min(bucket, tk + refill)
        beat = 0.12 * np.sin(TWO_PI * heart_rate[i] / 60.0 * t) if heart_rate[i] > 0 else 0.0
        depth = 0.3 if pattern[i] == PATTERN_PULSE else 0.06
        breath = depth * np.sin(breath_at + phase[i])
        a = h_next * pr
        settled = not never_sleep and not heard and pr == 0.0 and h_next == h
        settled = settled and tk_next == tk and pending_burst[i] == 0.0
        for c in range(3):
            was = colour[i, c]
            now = was + (target_colour[i, c] - was) * colour_k
            settled = settled and now == was
            colour[i, c] = now
        for c in range(2):
            was = pos[i, c]
            now = was + (target[i, c] - was) * pos_k
            settled = settled and now == was
            pos[i, c] = now
        health[i] = h_next
        presence[i] = pr
        tokens[i] = tk_next
        light[i] = a * (1.0 + beat + breath)
        alive[i] = a
        if settled:  # from now on: it emits nothing (its accumulator holds less than one)
            awake[i] = False
            fell_asleep = True
            counts[i] = 0
            continue
        # spawning (Engine's rate, accumulator and pending burst)
        rate = emission_rate * intensity[i] * (0.45 + 0.8 * arousal[i]) * a
        acc = emit_acc[i] + (rate * dt + pending_burst[i] * (1.0 if a > 0.05 else 0.0))
        pending_burst[i] = 0.0
        k = int(np.floor(acc))
        emit_acc[i] = acc - k
        counts[i] = k
    total = 0
    for i in range(n):
        total += counts[i]
    left = max_particles  # more than the whole budget at once: only the first are born
    for i in range(n):
        k = min(counts[i], left)
        counts[i] = k
        left -= k
        emitted[i] += k
    return min(total, max_particles), fell_asleep, pairwise_sum(alive, 0, n)


LIGHT_FLOOR = 2.0**-90  # live light below this (~8e-28) is none: it is set to 0


@njit(cache=True)
def scale_rows(src, dst, j0, j1, s):
    """dst[j0:j1] = src[j0:j1] × s for (gy, gx, 3) float32 grids of light (>= 0) and a decay
    0 < s <= 1, with light that would fall below LIGHT_FLOOR set to 0 instead.

    Why the floor: decayed light would otherwise sink into float32 subnormals and stay there
    (0.88 × the smallest subnormal rounds back to itself), and every multiply touching one
    costs a microcode assist (~15x a multiply): a wall that was once dark anywhere would pay it
    for the rest of the night. The input is tested before the multiply, so no subnormal is
    ever formed."""
    lim = np.float32(LIGHT_FLOOR) / s
    for j in range(j0, j1):
        for i in range(src.shape[1]):
            for c in range(src.shape[2]):
                v = src[j, i, c]
                v = v if v >= lim else np.float32(0.0)
                dst[j, i, c] = v * s


@njit(cache=True)
def _live_slots(age, life, out):
    """The slots of the particles alive now (age < life), ascending, into `out`; how many.
    Blocks of slots without a live particle are passed over with one vectorised count (a
    loop from 0 over slices vectorises; keep it that way)."""
    n = age.shape[0]
    m = 0
    for lo in range(0, n, 512):
        a = age[lo:lo + 512]
        b = life[lo:lo + 512]
        count = 0
        for i in range(a.shape[0]):
            count += a[i] < b[i]
        if count == 0:
            continue
        for i in range(a.shape[0]):
            out[m] = lo + i
            m += a[i] < b[i]
    return m


@njit(cache=True)
def _place_births(total, counts, people, noise, uni, p_pos, p_arousal, p_valence, p_pattern,
                  p_colour, p_intensity, cursor, cap, aspect, pos, prev, vel, colour, age,
                  life, speed, buoy, pidx):
    """Engine's spawn: the k-th newborn of this step (participants in slot order, each its
    count) takes particle slot (cursor + k) % cap and draws noise[k] and uni[k]."""
    k = 0
    for who in range(people):
        for _ in range(counts[who]):
            a = p_arousal[who]
            spread = 0.012 + 0.03 * a
            sx = p_pos[who, 0] + noise[k, 0] * spread
            sy = p_pos[who, 1] + noise[k, 1] * spread
            if p_pattern[who] == PATTERN_RING:  # a halo around the emitter, drifting out
                around = uni[k, 3] * 2 * np.pi
                radius = 0.05 + 0.03 * a
                sx = p_pos[who, 0] + np.cos(around) * radius
                sy = p_pos[who, 1] + np.sin(around) * radius
            sx = min(max(sx, 0.0), aspect)
            sy = min(max(sy, 0.0), 1.0)
            sp = (0.035 + 0.22 * a) * (0.8 + 0.4 * uni[k, 0])
            angle = uni[k, 1] * 2 * np.pi
            s = (cursor + k) % cap
            pos[s, 0] = sx
            pos[s, 1] = sy
            prev[s, 0] = sx
            prev[s, 1] = sy
            vel[s, 0] = np.cos(angle) * sp * 0.8
            vel[s, 1] = np.sin(angle) * sp * 0.8
            speed[s] = sp
            buoy[s] = 0.025 * p_valence[who]
            age[s] = 0.0
            life[s] = (1.8 + 5.5 * (1.0 - a)) * (0.75 + 0.5 * uni[k, 2])
            shade = 0.45 + 0.55 * p_intensity[who]
            for c in range(3):
                colour[s, c] = p_colour[who, c] * shade
            pidx[s] = who
            k += 1
            if k == total:
                return


@njit(cache=True, inline="always")
def _trail_segment(j, i, pos, prev, colour, age, life, pidx, gain, scale, seg, steps_of,
                   rows_of):
    """splat_trails' set-up of particle i's path (after its step), kept as entry j: start,
    travel, light per sample, samples, and the rows its samples can touch (steps 0: none)."""
    steps_of[j] = 0
    if age[i] >= life[i] or age[i] <= 0.0:
        return
    x0 = prev[i, 0] * scale
    y0 = prev[i, 1] * scale
    x1 = pos[i, 0] * scale
    y1 = pos[i, 1] * scale
    phase = age[i] / life[i]
    fade = 4.0 * phase * (1.0 - phase)
    k = fade * gain[pidx[i]]
    if k <= 1e-4:
        return
    length = np.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2)
    steps = 1 + int(length)
    if steps > 64:
        steps = 64
    kk = k / steps
    seg[j, 0] = x0
    seg[j, 1] = y0
    seg[j, 2] = x1 - x0
    seg[j, 3] = y1 - y0
    seg[j, 4] = np.float32(colour[i, 0] * kk)
    seg[j, 5] = np.float32(colour[i, 1] * kk)
    seg[j, 6] = np.float32(colour[i, 2] * kk)
    steps_of[j] = steps
    # a sample at y touches rows floor(y - 0.5) and the next
    rows_of[j, 0] = int(np.floor(min(y0, y1) - np.float32(2.0)))
    rows_of[j, 1] = int(np.floor(max(y0, y1) + np.float32(2.0)))


@njit(cache=True, inline="always")
def _paints_in_band(steps_of, rows_of, j, lo, hi):
    """Whether prepared path j has samples and rows that reach the band [lo, hi)."""
    return steps_of[j] != 0 and rows_of[j, 1] >= lo and rows_of[j, 0] < hi


@njit(cache=True, inline="always")
def _prefetch_path(buf, seg, j, lo, hi):
    """Ask for the 2×2 footprints at both ends of path j (in rows [lo, hi)) ahead of
    painting: first and last byte of each footprint row, which may lie on two cache lines."""
    h, w = buf.shape[0], buf.shape[1]
    last = buf.shape[2] - 1
    for end in range(2):
        x = seg[j, 0] + seg[j, 2] * end - np.float32(0.5)
        y = seg[j, 1] + seg[j, 3] * end - np.float32(0.5)
        ix = min(max(int(x), 0), w - 2)
        iy = min(max(int(y), lo), min(hi, h) - 2)
        for row in range(iy, iy + 2):
            prefetch_pixel(buf, row, ix, 0)
            prefetch_pixel(buf, row, ix + 1, last)


@njit(cache=True)
def _paint_trails(buf, coarse, seg, steps_of, rows_of, m, lo, hi):
    """The deposits of splat_trails' band [lo, hi) from the prepared paths, in their order;
    the common deposit (all four corners in the band and on the wall) written out inline."""
    w = buf.shape[1]
    one = np.float32(1.0)
    half = np.float32(0.5)
    area = np.float32(1.0 / (COARSE_CELL * COARSE_CELL))
    for j in range(m):
        ahead = j + TRAIL_LOOKAHEAD
        if ahead < m and _paints_in_band(steps_of, rows_of, ahead, lo, hi):
            _prefetch_path(buf, seg, ahead, lo, hi)
        if not _paints_in_band(steps_of, rows_of, j, lo, hi):
            continue
        steps = steps_of[j]
        x0 = seg[j, 0]
        y0 = seg[j, 1]
        dx = seg[j, 2]
        dy = seg[j, 3]
        r = seg[j, 4]
        g = seg[j, 5]
        b = seg[j, 6]
        for s in range(steps):
            t = np.float32(s + 1) / np.float32(steps)
            x = x0 + dx * t
            y = y0 + dy * t
            fx = x - half
            fy = y - half
            ix = int(np.floor(fx))
            iy = int(np.floor(fy))
            if iy + 1 < lo or iy >= hi:
                continue  # no corner in the band
            if not (ix >= 0 and ix + 1 < w and iy >= lo and iy + 1 < hi):
                _deposit(buf, coarse, x, y, r, g, b, lo, hi)
                continue
            tx = fx - np.float32(ix)
            ty = fy - np.float32(iy)
            w00 = (one - ty) * (one - tx)
            w01 = (one - ty) * tx
            w10 = ty * (one - tx)
            w11 = ty * tx
            _add3(buf, iy, ix, r * w00, g * w00, b * w00)
            _add3(buf, iy, ix + 1, r * w01, g * w01, b * w01)
            _add3(buf, iy + 1, ix, r * w10, g * w10, b * w10)
            _add3(buf, iy + 1, ix + 1, r * w11, g * w11, b * w11)
            cy = iy // COARSE_CELL
            cx = ix // COARSE_CELL
            if (iy + 1) // COARSE_CELL == cy and (ix + 1) // COARSE_CELL == cx:
                _add3(coarse, cy, cx, r * area, g * area, b * area)
                continue
            _corner_coarse(coarse, iy, ix, w00, r, g, b, area)
            _corner_coarse(coarse, iy, ix + 1, w01, r, g, b, area)
            _corner_coarse(coarse, iy + 1, ix, w10, r, g, b, area)
            _corner_coarse(coarse, iy + 1, ix + 1, w11, r, g, b, area)


@njit(cache=True)
def _emitter_glows(active, pos, colour, light, intensity, arousal, scale, boost, glows):
    """splat_emitters' glows in its order (each emitter's core, then its halo) as rows of
    (cx, cy, radius, r, g, b); returns how many."""
    n = 0
    for j in range(active.shape[0]):
        i = active[j]
        k = light[i] * (0.4 + 0.6 * intensity[i])
        if k <= 0.01:
            continue
        core = scale * (0.0045 + 0.003 * arousal[i])
        x, y = pos[i, 0] * scale, pos[i, 1] * scale
        kc = k * 0.03 * boost
        kh = k * 0.005 * boost
        for radius, kk in ((core, kc), (core * 3.5, kh)):
            glows[n, 0] = x
            glows[n, 1] = y
            glows[n, 2] = radius
            glows[n, 3] = colour[i, 0] * kk
            glows[n, 4] = colour[i, 1] * kk
            glows[n, 5] = colour[i, 2] * kk
            n += 1
    return n


@njit(cache=True)
def _glow_rows(buf, coarse, cx, cy, radius, r, g, b, lo, hi, ex, rgb3, kk3, sx):
    """splat_glow's light in rows [lo, hi) (whole coarse rows): the same terms in the same
    order, each pixel row one contiguous loop on SIMD lanes."""
    h, w = buf.shape[0], buf.shape[1]
    reach = int(radius * 2.5) + 1
    inv = 1.0 / (2.0 * radius * radius)
    y_lo = max(0, int(cy) - reach)
    y_hi = min(h, int(cy) + reach + 1)
    x_lo = max(0, int(cx) - reach)
    x_hi = min(w, int(cx) + reach + 1)
    if y_hi <= y_lo or x_hi <= x_lo:
        return
    y_lo = max(y_lo, lo)
    y_hi = min(y_hi, hi)
    if y_hi <= y_lo:
        return
    nx = x_hi - x_lo
    for x in range(x_lo, x_hi):
        dx = x + 0.5 - cx
        ex[x - x_lo] = np.exp(-dx * dx * inv)
    cell = COARSE_CELL
    c0 = x_lo // cell
    cells = sx[:(x_hi - 1) // cell - c0 + 1]
    _glow_columns(ex[:nx], x_lo, c0, cells)
    for j in range(nx):
        rgb3[3 * j] = r
        rgb3[3 * j + 1] = g
        rgb3[3 * j + 2] = b
    base = 3 * x_lo
    sy = 0.0
    for y in range(y_lo, y_hi):
        if y + GLOW_LOOKAHEAD < y_hi:  # rows a glow's width apart: no hardware prefetch
            for x in range(x_lo, x_hi, 5):  # 5 pixels (60 bytes) per step: every line
                prefetch_pixel(buf, y + GLOW_LOOKAHEAD, x, 0)
            prefetch_pixel(buf, y + GLOW_LOOKAHEAD, x_hi - 1, 2)
        dy = y + 0.5 - cy
        ey = np.exp(-dy * dy * inv)
        for j in range(nx):
            k = ey * ex[j]
            kk3[3 * j] = k
            kk3[3 * j + 1] = k
            kk3[3 * j + 2] = k
        flat = buf[y].reshape(3 * w)
        for q in range(3 * nx):
            flat[base + q] += rgb3[q] * kk3[q]
        sy += ey
        if y == y_hi - 1 or (y + 1) % cell == 0:
            _glow_cells(coarse, y // cell, c0, cells, sy, r, g, b)
            sy = 0.0


@njit(cache=True, error_model="numpy")
def _shadow_row(j, vitality, vit_next, ceiling, depth, recolour, chroma, chroma_w, chroma_next,
                weight_next, live_coarse, dt, up_rate, down_rate, falloff, inject_gain,
                recolour_rate, clear_rate, active, pos, strength, cells, sigma, target0,
                best_ws, best_at, vmax, col_v, col_w, col_r):
    """update_shadow_fields over coarse row j, into the next vitality, chroma and weight,
    with emitter_sources' value of each cell found only where it can matter. The depth and
    recolour of a cell read only the cell's own new values, so they are updated in place here;
    the caller makes the next fields current (the engine swaps the buffers).

    The wall's target at a cell is the larger of its spread target and the strongest emitter
    there; an emitter whose strength s cannot lift a cell above its spread target (s·exp(-q)
    <= s / (1 + q), held below the target with a margin far beyond rounding) is passed over
    without its exp, which leaves the larger of the two as it was.

    The neighbourhood loops take a fixed three rows and three columns (an edge repeats its own
    row or column, which changes no maximum and no first place) and keep their maxima with
    selects rather than branches; measured, this and the commit folded in below cut the shadow
    rows from ~300 to ~230 µs of CPU a step at 1080p.
    """
    gy, gx = vitality.shape
    # The 3×3 neighbourhood, separably: the largest vitality (from 0.0), and the spread chroma
    # weight: the largest neighbour weight × falloff, if it beats the cell's own weight, found
    # at its first place in update_shadow_fields' row-major scan. Each column keeps its
    # largest weight and the first row holding it; a cell then takes, among its columns
    # holding the largest, the one with the first row (then the first column).
    j_lo = max(0, j - 1)
    j_hi = min(gy, j + 2)
    r_mid = j if j_hi - j_lo == 3 else j_lo
    r_top, r_bottom = j_lo, j_hi - 1
    v_top, v_mid, v_bottom = vitality[r_top], vitality[r_mid], vitality[r_bottom]
    w_top, w_mid, w_bottom = chroma_w[r_top], chroma_w[r_mid], chroma_w[r_bottom]
    for i in range(gx):
        best = np.float32(0.0)
        x = v_top[i]
        best = x if x > best else best
        x = v_mid[i]
        best = x if x > best else best
        x = v_bottom[i]
        best = x if x > best else best
        col_v[i] = best
        w0 = w_top[i] * falloff
        w1 = w_mid[i] * falloff
        w2 = w_bottom[i] * falloff
        later = w1 > w0
        w_best = w1 if later else w0
        r_best = r_mid if later else r_top
        later = w2 > w_best
        col_w[i] = w2 if later else w_best
        col_r[i] = r_bottom if later else r_best
    own = chroma_w[j]
    for i in range(gx):
        left = max(0, i - 1)
        right = min(gx - 1, i + 1)
        best = col_v[left]
        x = col_v[i]
        best = x if x > best else best
        x = col_v[right]
        best = x if x > best else best
        top = col_w[left]
        x = col_w[i]
        top = x if x > top else top
        x = col_w[right]
        top = x if x > top else top
        best_w = own[i]
        bj = j
        bi = i
        if top > best_w:
            best_w = top
            bj = gy  # among the columns holding `top`, the first row (then column) wins
            if col_w[left] == top:
                bj = col_r[left]
                bi = left
            if col_w[i] == top and col_r[i] < bj:
                bj = col_r[i]
                bi = i
            if col_w[right] == top and col_r[right] < bj:
                bj = col_r[right]
                bi = right
        target0[i] = min(ceiling, best * falloff)
        best_ws[i] = best_w
        best_at[i, 0] = bj
        best_at[i, 1] = bi
        vmax[i] = 0.0
    # emitter_sources, for this row
    reach = int(3.5 * sigma) + 1
    inv = 1.0 / (2.0 * sigma * sigma)
    for e in range(active.shape[0]):
        p = active[e]
        s = strength[p]
        if s <= 0.02:
            continue
        cx = pos[p, 0] * cells
        cy = pos[p, 1] * cells
        if j < max(0, int(cy) - reach) or j >= min(gy, int(cy) + reach + 1):
            continue
        dy = j + 0.5 - cy
        for k in range(max(0, int(cx) - reach), min(gx, int(cx) + reach + 1)):
            dx = k + 0.5 - cx
            q = (dx * dx + dy * dy) * inv
            if s <= target0[k] * (1.0 + q) * (1.0 - 1e-6):
                continue  # this emitter's light here is below the spread target
            v = s * np.exp(-(dx * dx + dy * dy) * inv)
            if v > vmax[k]:
                vmax[k] = v
    v_row, chroma_row, live_row = vitality[j], chroma_next[j], live_coarse[j]
    up = up_rate * dt
    down = -down_rate * dt
    mix_k = min(1.0, 8.0 * dt)
    for i in range(gx):
        target = target0[i]
        source = np.float32(vmax[i])
        if source > target:
            target = source
        v = v_row[i]
        dv = target - v
        if dv > up:
            dv = up
        elif dv < down:
            dv = down
        vn = np.float32(v + dv)
        vit_next[j, i] = vn
        bj = best_at[i, 0]
        bi = best_at[i, 1]
        c0 = chroma[bj, bi, 0]
        c1 = chroma[bj, bi, 1]
        c2 = chroma[bj, bi, 2]
        wq = best_ws[i]
        l0 = live_row[i, 0]
        l1 = live_row[i, 1]
        l2 = live_row[i, 2]
        peak = max(l0, max(l1, l2))
        strength_here = min(1.0, peak * inject_gain)
        if strength_here > 1e-3 and v > 0.05:
            # the light's own colour mixes in (each channel rounds to float32 once, as
            # update_shadow_fields' `+=` into its float32 array does)
            mix = strength_here * mix_k
            c0 = np.float32(c0 + (l0 / peak - c0) * mix)
            c1 = np.float32(c1 + (l1 / peak - c1) * mix)
            c2 = np.float32(c2 + (l2 / peak - c2) * mix)
            if strength_here > wq:
                wq = np.float32(strength_here)
        tau = 6.0 + 24.0 * v
        wq = np.float32(wq * (1.0 - dt / tau))
        chroma_row[i, 0] = c0
        chroma_row[i, 1] = c1
        chroma_row[i, 2] = c2
        weight_next[j, i] = wq
        depth[j, i], recolour[j, i] = _depth_and_recolour(vn, wq, depth[j, i], dt, clear_rate,
                                                          recolour_rate)


@njit(cache=True)
def _band_edges(bands, gy, steps_of, rows_of, m, glows, n_glows, h, edges):
    """Coarse rows edges[b]..edges[b + 1]-1 for each of `bands` bands, cut so the bands have
    about the same work (trail samples, glow pixels, shadow cells; every 4th path counted).
    Where the cuts fall changes nothing in the result, only how evenly threads share it."""
    work = np.zeros(gy + 1)
    for j in range(0, m, 4):
        if steps_of[j]:
            row = min(max(rows_of[j, 0] + 2, 0), h - 1)
            work[row // COARSE_CELL] += 4.0 * 18.0 * steps_of[j]
    for k in range(n_glows):
        reach = int(glows[k, 2] * 2.5) + 1
        y_lo = max(0, int(glows[k, 1]) - reach)
        y_hi = min(h, int(glows[k, 1]) + reach + 1)
        span = 4.0 * (2 * reach + 1)
        for y in range(y_lo, y_hi, COARSE_CELL):
            work[y // COARSE_CELL] += span * min(COARSE_CELL, y_hi - y)
    total = 0.0
    for j in range(gy):
        work[j] += 180.0  # a row of shadow cells, about
        total += work[j]
    edges[0] = 0
    done = 0.0
    b = 1
    for j in range(gy):
        done += work[j]
        while b < bands and done >= total * b / bands:
            edges[b] = j + 1
            b += 1
    while b <= bands:
        edges[b] = gy
        b += 1


@njit(cache=True, parallel=True)
def advance_and_paint(
    # births: counts per participant, their draws, the participants
    total, counts, people, noise, uni, p_pos, p_arousal, p_valence, p_pattern, p_colour,
    p_intensity, p_light, p_alive, active, cursor, aspect,
    # particles
    pos, prev, vel, colour, age, life, speed, buoy, pidx,
    # flow
    flow_a, flow_b, mix, cell, aspect32, dt32,
    # light fields
    buf, coarse, live_coarse, live_scale, energy, boost, field_h, bands,
    # shadow fields
    vitality, vit_next, ceiling, depth, recolour, chroma, chroma_w, chroma_next, weight_next,
    up_rate, down_rate, falloff, inject_gain, recolour_rate, clear_rate, cells, sigma,
    # scratch
    slots, seg, steps_of, rows_of, gain,
):
    """Engine.step after the participants: births, step_particles, splat_trails,
    splat_emitters, the coarse light, emitter_sources and update_shadow_fields, fused.

    Particles step in parallel (each writes its own slot). The light is painted in `bands` of
    whole coarse rows, one per thread: each band takes every trail deposit and every glow
    landing in it in their order, then its coarse rows' shadow update, so every pixel and cell
    gains its light in the same order whatever the number of bands. The next vitality, chroma
    and weight go to their own buffers (rows read their neighbours' current values); the caller
    swaps them in.
    """
    if total:
        _place_births(total, counts, people, noise, uni, p_pos, p_arousal, p_valence,
                      p_pattern, p_colour, p_intensity, cursor, pos.shape[0], aspect, pos,
                      prev, vel, colour, age, life, speed, buoy, pidx)
    for i in range(max(1, people)):  # the trails' gain: light × energy, in decayed units
        gain[i] = np.float32(p_light[i] * energy)
        gain[i] = gain[i] * np.float32(boost)
    m = _live_slots(age, life, slots)
    steer = min(1.0, 1.8 * dt32)
    scale = np.float32(field_h)
    for j in prange(m):
        i = slots[j]
        _move_particle(i, pos, prev, vel, age, life, speed, buoy, flow_a, flow_b, mix, cell,
                       aspect32, dt32, steer)
        _trail_segment(j, i, pos, prev, colour, age, life, pidx, gain, scale, seg, steps_of,
                       rows_of)

    h = buf.shape[0]
    gy, gx = vitality.shape
    glows = np.empty((2 * active.shape[0], 6))
    n_glows = _emitter_glows(active, p_pos, p_colour, p_light, p_intensity, p_arousal,
                             float(field_h), boost, glows)
    width = 1
    for k in range(n_glows):
        width = max(width, 2 * (int(glows[k, 2] * 2.5) + 1) + 1)
    width = min(width, buf.shape[1]) + COARSE_CELL
    edges = np.empty(bands + 1, np.int64)
    _band_edges(bands, gy, steps_of, rows_of, m, glows, n_glows, h, edges)
    for band in prange(bands):
        lo = edges[band] * COARSE_CELL  # whole coarse rows per band
        hi = min(h, edges[band + 1] * COARSE_CELL)
        if lo >= hi:
            continue
        _paint_trails(buf, coarse, seg, steps_of, rows_of, m, lo, hi)
        ex = np.empty(width, np.float32)
        rgb3 = np.empty(3 * width)
        kk3 = np.empty(3 * width)
        sx = np.empty(width // COARSE_CELL + 2)
        for k in range(n_glows):
            _glow_rows(buf, coarse, glows[k, 0], glows[k, 1], glows[k, 2], glows[k, 3],
                       glows[k, 4], glows[k, 5], lo, hi, ex, rgb3, kk3, sx)
        target0 = np.empty(gx)
        best_ws = np.empty(gx, np.float32)
        best_at = np.empty((gx, 2), np.int64)
        vmax = np.empty(gx)
        col_v = np.empty(gx)
        col_w = np.empty(gx, np.float32)
        col_r = np.empty(gx, np.int64)
        for cj in range(lo // COARSE_CELL, -(-hi // COARSE_CELL)):
            scale_rows(coarse, live_coarse, cj, cj + 1, live_scale)
            _shadow_row(cj, vitality, vit_next, ceiling, depth, recolour, chroma, chroma_w,
                        chroma_next, weight_next, live_coarse, dt32, up_rate, down_rate,
                        falloff, inject_gain, recolour_rate, clear_rate, active, p_pos,
                        p_alive, cells, sigma, target0, best_ws, best_at, vmax, col_v, col_w,
                        col_r)
    return m
