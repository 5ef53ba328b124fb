"""A stateful photosensitivity limiter: caps how fast any third-of-frame region may brighten."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
from numba import njit

from mural.safety.luminance import SRGB_TO_LINEAR_SCALED, frame_measures, linear_to_srgb_scaled

GENERAL_SWING = 0.1
"""WCAG general flash: each transition changes relative luminance by >= 0.1."""

RED_SWING = 20.0 / 320.0
"""Harding red flash: each transition changes max(R-G-B, 0) by more than 20/320."""

MIN_GAIN = 1e-3
"""The returned gain stays in (0, 1]; the floor is charged to the budget like any other rise."""

_F32 = np.float32
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
_K_SIDE = np.float32(0.125)  # bilinear cell-average weights: 1/8, 3/4, 1/8 (powers of two)
_K_MID = np.float32(0.75)
_MIN_GAIN32 = np.float32(MIN_GAIN)

# The update runs every simulation step (108,000 times to fast-forward an hour) on a grid of
# about 12x12 cells, so it is a few serial numba kernels: numpy's per-call overhead, not the
# arithmetic, would dominate. Each kernel mirrors the float32 arithmetic of the plain
# formulation it documents; window sums are exact float64 sums.


@njit(cache=True)
def _clean(v):
    """nan -> 0, then clipped to [0, 1] (so +inf -> 1, -inf -> 0)."""
    if v != v:
        return _ZERO
    return min(max(v, _ZERO), _ONE)


@njit(cache=True)
def _load_target(lum, red, has_red, target):
    """target[0] = clean(lum), target[1] = clean(red) or 0."""
    gy, gx = lum.shape
    for y in range(gy):
        for x in range(gx):
            target[0, y, x] = _clean(_F32(lum[y, x]))
            target[1, y, x] = _clean(_F32(red[y, x])) if has_red else _ZERO


@njit(cache=True)
def _window_mean(x, wy, wx, out):
    """Mean of x (2, gy, gx) over every wy x wx window -> out (2, ny, nx); returns the
    per-measure mean over the whole grid (2,). Sums in float64, rounded once to float32."""
    m, gy, gx = x.shape
    ny, nx = out.shape[1], out.shape[2]
    rows = np.empty((gy, nx), np.float64)
    total = np.empty(m, _F32)
    for k in range(m):
        s_all = 0.0
        for y in range(gy):
            for x0 in range(gx):
                s_all += x[k, y, x0]
            for i in range(nx):
                s = 0.0
                for dx in range(wx):
                    s += x[k, y, i + dx]
                rows[y, i] = s
        total[k] = _F32(s_all / (gy * gx))
        for j in range(ny):
            for i in range(nx):
                s = 0.0
                for dy in range(wy):
                    s += rows[j + dy, i]
                out[k, j, i] = _F32(s / (wy * wx))
    return total


@njit(cache=True)
def _cell_average_of_bilinear_k(g, out):
    """Mean over each cell of the bilinear (cell-centred, edge-clamped) upsampling of g (gy, gx).

    Along one axis a cell averages 1/8 of each neighbour and 3/4 of itself; the weights are
    powers of two so an all-ones grid stays exactly 1.
    """
    gy, gx = g.shape
    rows = np.empty((gy, gx), _F32)
    for y in range(gy):
        ya, yb = max(y - 1, 0), min(y + 1, gy - 1)
        for x in range(gx):
            rows[y, x] = _K_SIDE * g[ya, x] + _K_MID * g[y, x] + _K_SIDE * g[yb, x]
    for y in range(gy):
        for x in range(gx):
            xa, xb = max(x - 1, 0), min(x + 1, gx - 1)
            out[y, x] = _K_SIDE * rows[y, xa] + _K_MID * rows[y, x] + _K_SIDE * rows[y, xb]


@njit(cache=True)
def _commit_k(displayed, dead, wy, wx, before, shown, tokens, tokens_all, charged, charged_all):
    """shown <- the reference after showing `displayed` (drops followed at once, rises only
    past the play) starting from `before`; charge its rise to every window's bucket."""
    m, gy, gx = shown.shape
    rise = np.empty_like(shown)
    for k in range(m):
        d = dead[k, 0, 0]
        for y in range(gy):
            for x in range(gx):
                v = displayed[k, y, x]
                s = min(max(before[k, y, x], v - d), v)
                shown[k, y, x] = s
                rise[k, y, x] = max(s - before[k, y, x], _ZERO)
    charged_all[:] = _window_mean(rise, wy, wx, charged)
    for k in range(m):
        tokens_all[k] = tokens_all[k] - charged_all[k]
        for j in range(charged.shape[1]):
            for i in range(charged.shape[2]):
                tokens[k, j, i] = tokens[k, j, i] - charged[k, j, i]


@njit(cache=True)
def _prime_k(lum, red, has_red, shown, before, charged, charged_all, gain, out):
    """First frame (or limiter off): the frame passes and becomes the reference."""
    _load_target(lum, red, has_red, shown)
    before[:] = shown
    charged[:] = 0
    charged_all[:] = 0
    gain[:] = 1
    out[:] = 1


@njit(cache=True)
def _update_k(lum, red, has_red, dt, rate, capacity, dead, release, wy, wx,
              shown, before, tokens, tokens_all, charged, charged_all, gain, out):
    """One limiter step (see FlashLimiter.update); writes the new gain to `gain` and `out`."""
    m, gy, gx = shown.shape
    ny, nx = tokens.shape[1], tokens.shape[2]
    dt32 = _F32(dt)
    target = np.empty_like(shown)
    _load_target(lum, red, has_red, target)

    # Refill the buckets.
    for k in range(m):
        add, cap = rate[k, 0, 0] * dt32, capacity[k, 0, 0]
        tokens_all[k] = min(cap, tokens_all[k] + add)
        for j in range(ny):
            for i in range(nx):
                tokens[k, j, i] = min(cap, tokens[k, j, i] + add)

    # Wanted rise of each cell's reference, and the share of it every window can afford.
    rise = np.empty_like(shown)
    for k in range(m):
        d = dead[k, 0, 0]
        for y in range(gy):
            for x in range(gx):
                rise[k, y, x] = max(target[k, y, x] - d - shown[k, y, x], _ZERO)
    frac = np.empty_like(tokens)
    frac_all = _window_mean(rise, wy, wx, frac)  # the demands, turned into fractions below
    limited = False
    for k in range(m):
        t = max(tokens_all[k], _ZERO)
        frac_all[k] = t / frac_all[k] if frac_all[k] > t else _ONE
        limited |= frac_all[k] < _ONE
        for j in range(ny):
            for i in range(nx):
                t = max(tokens[k, j, i], _ZERO)
                f = t / frac[k, j, i] if frac[k, j, i] > t else _ONE
                frac[k, j, i] = f
                limited |= f < _ONE

    up = release * dt32
    if not limited:
        # Nothing may be held down this step: every cell may show its whole target, so the
        # gain only recovers (its blur cannot exceed 1: the neighbourhood limit scales nothing).
        for y in range(gy):
            for x in range(gx):
                v = min(max(min(_ONE, gain[y, x] + up), _MIN_GAIN32), _ONE)
                gain[y, x] = v
                out[y, x] = v
    else:
        # Per cell: the least fraction over the windows holding it (and the whole grid; a
        # separable sliding minimum), turned into the mean gain that lets the cell rise by
        # only that fraction of its wanted rise.
        cols = np.empty((ny, gx), _F32)
        allowed = np.ones((gy, gx), _F32)
        for k in range(m):
            for j in range(ny):
                for x in range(gx):
                    f = frac_all[k]
                    for i in range(max(0, x - wx + 1), min(nx - 1, x) + 1):
                        f = min(f, frac[k, j, i])
                    cols[j, x] = f
            for y in range(gy):
                for x in range(gx):
                    f = _ONE
                    for j in range(max(0, y - wy + 1), min(ny - 1, y) + 1):
                        f = min(f, cols[j, x])
                    r = rise[k, y, x]
                    if f < _ONE and r > _ZERO:
                        ratio = (shown[k, y, x] + dead[k, 0, 0] + f * r) / target[k, y, x]
                        allowed[y, x] = min(allowed[y, x], ratio)

        # Hold, then release; impose the limit on each cell's blurred (upsampled) mean gain by
        # scaling every cell by the least factor wanted in its 3x3 neighbourhood.
        g = np.empty((gy, gx), _F32)
        for y in range(gy):
            for x in range(gx):
                g[y, x] = min(allowed[y, x], gain[y, x] + up)
        scale = np.empty((gy, gx), _F32)
        _cell_average_of_bilinear_k(g, scale)
        for y in range(gy):
            for x in range(gx):
                b, a = scale[y, x], allowed[y, x]
                scale[y, x] = a / b if b > a else _ONE
        for y in range(gy):
            ya, yb = max(y - 1, 0), min(y + 1, gy - 1)
            for x in range(gx):
                xa, xb = max(x - 1, 0), min(x + 1, gx - 1)
                s = _ONE
                for yy in range(ya, yb + 1):
                    for xx in range(xa, xb + 1):
                        s = min(s, scale[yy, xx])
                v = min(max(g[y, x] * s, _MIN_GAIN32), _ONE)
                gain[y, x] = v
                out[y, x] = v

    # What is shown: the blurred gain times the target; it becomes the new reference.
    blurred = np.empty((gy, gx), _F32)
    _cell_average_of_bilinear_k(gain, blurred)
    for k in range(m):
        for y in range(gy):
            for x in range(gx):
                target[k, y, x] = blurred[y, x] * target[k, y, x]
    before[:] = shown
    _commit_k(target, dead, wy, wx, before, shown, tokens, tokens_all, charged, charged_all)


@njit(cache=True)
def _observe_k(lum, red, has_red, dead, wy, wx, before, shown, tokens, tokens_all, charged,
               charged_all):
    """Re-charge the last step with a measurement of what it displayed."""
    m, gy, gx = shown.shape
    actual = np.empty_like(shown)
    for y in range(gy):
        for x in range(gx):
            actual[0, y, x] = _clean(_F32(lum[y, x]))
            actual[1, y, x] = _clean(_F32(red[y, x])) if has_red else shown[1, y, x]
    for k in range(m):
        tokens_all[k] = tokens_all[k] + charged_all[k]
        for j in range(charged.shape[1]):
            for i in range(charged.shape[2]):
                tokens[k, j, i] = tokens[k, j, i] + charged[k, j, i]
    _commit_k(actual, dead, wy, wx, before, shown, tokens, tokens_all, charged, charged_all)


class FlashLimiter:
    """Keep every region a third of the frame (and the whole frame) below 2 flashes a second.

    Why it works: every counted flash contains a rise of the region's mean luminance of >= 0.1
    (0.0625 of the red measure). Each cell keeps a reference that follows its displayed value
    with a play of `deadband` (it follows drops at once and rises only once they exceed the
    play, so sub-threshold twinkle is free). Each window of cells the size of a WCAG region
    (grid/3 cells on a side, at every cell offset, plus the whole grid) has a token bucket that
    refills at `max_rise_per_s` and holds at most `burst`; every step the rise of each cell's
    reference is charged (summed, never offset by other cells dimming) to every window holding
    the cell, and rising cells are dimmed so no window overdraws. A region-mean rise of 0.1
    moves the mean reference by >= 0.1 - deadband, so within a second a window fits at most one
    such rise while max_rise_per_s + burst < 2 * (0.1 - deadband) (0.17 < 0.18 by default).
    Transitions alternate and every rise but the first ending in a one-second window starts
    inside it, so a window holds at most 4 transitions = 2 flashes (the WCAG limit of 3 is
    reached only at 3 * (0.1 - deadband)). A region offset by part of a cell is a weighted mix
    of the windows around it, so the bound carries over. Drops are never limited (the gain
    only dims) and changes slower than the refill rate leave the gain exactly 1.

    Spatial smoothness: the caller upsamples the gain bilinearly, so a cell's mean gain is a
    blur of its own and its neighbours' (1/8-3/4-1/8 each way). The limit is imposed on that
    blurred mean: where it is too high, the cell and its neighbours are scaled down together,
    so a held-down area fades out over about a cell instead of leaking at its edges, while a
    cell that merely may not brighten does not drag its neighbours down. The gain is held
    (it recovers at most `release_per_s` per second), so a strobe's dark frames do not let its
    surroundings pump. The state is the displayed cell mean implied by that blur (exact for
    content uniform within a cell); callers that can measure their output pass it to `observe`.
    """

    def __init__(
        self,
        grid: tuple[int, int] = (12, 12),
        *,
        max_rise_per_s: float = 0.11,
        burst: float = 0.06,
        deadband: float = 0.01,
        max_red_rise_per_s: float = 0.065,
        red_burst: float = 0.04,
        red_deadband: float = 0.005,
        release_per_s: float = 0.5,
        window: tuple[int, int] | None = None,
        enabled: bool = True,
    ) -> None:
        gy, gx = (int(grid[0]), int(grid[1]))
        if gy < 1 or gx < 1:
            raise ValueError(f"grid must be positive, got {grid}")
        for name, rate, cap, play, swing in (
            ("general", max_rise_per_s, burst, deadband, GENERAL_SWING),
            ("red", max_red_rise_per_s, red_burst, red_deadband, RED_SWING),
        ):
            if rate <= 0 or cap < 0 or not 0 <= play < swing / 2:
                raise ValueError(f"{name}: need rate > 0, burst >= 0, 0 <= deadband < {swing / 2}")
            hard, aim = 3 * (swing - play), 2 * (swing - play)
            if rate + cap >= hard:
                raise ValueError(
                    f"{name}: rate + burst = {rate + cap:g} allows more than 3 flashes/s; keep "
                    f"it below {hard:g} (below {aim:g} for the target of 2)"
                )
        self.grid = (gy, gx)
        wy, wx = window if window is not None else (max(1, gy // 3), max(1, gx // 3))
        if not (1 <= wy <= gy and 1 <= wx <= gx):
            raise ValueError(f"window {window} does not fit the grid {grid}")
        self.window = (int(wy), int(wx))
        self.enabled = bool(enabled)
        self.rate = np.array([max_rise_per_s, max_red_rise_per_s], _F32)[:, None, None]
        self.capacity = np.array([burst, red_burst], _F32)[:, None, None]
        self.deadband = np.array([deadband, red_deadband], _F32)[:, None, None]
        if not release_per_s > 0:
            raise ValueError("release_per_s must be positive")
        self.release = _F32(release_per_s)
        self.reset()

    # -- state ---------------------------------------------------------------------------------

    @property
    def _n_windows(self) -> tuple[int, int]:
        return self.grid[0] - self.window[0] + 1, self.grid[1] - self.window[1] + 1

    def reset(self) -> None:
        """Forget history: the next update passes through and becomes the reference."""
        gy, gx = self.grid
        ny, nx = self._n_windows
        self.shown = np.zeros((2, gy, gx), _F32)  # reference (play-follower) of what is shown
        self.tokens = np.broadcast_to(self.capacity, (2, ny, nx)).copy()
        self.tokens_all = self.capacity[:, 0, 0].copy()
        self.gain = np.ones((gy, gx), _F32)
        self.primed = False
        self._before = self.shown.copy()
        self._charged = np.zeros((2, ny, nx), _F32)
        self._charged_all = np.zeros(2, _F32)

    def state_dict(self) -> dict:
        """Everything needed to resume bit-identically (numpy arrays and plain scalars)."""
        return {
            "version": 1,
            "grid": np.array(self.grid),
            "window": np.array(self.window),
            "rate": self.rate.copy(),
            "capacity": self.capacity.copy(),
            "deadband": self.deadband.copy(),
            "release": np.array(self.release),
            "gain": self.gain.copy(),
            "enabled": np.array(self.enabled),
            "primed": np.array(self.primed),
            "shown": self.shown.copy(),
            "tokens": self.tokens.copy(),
            "tokens_all": self.tokens_all.copy(),
            "before": self._before.copy(),
            "charged": self._charged.copy(),
            "charged_all": self._charged_all.copy(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a state_dict (also after np.savez/np.load, which turns scalars into arrays)."""
        if int(np.asarray(state.get("version", -1))) != 1:
            raise ValueError("unsupported FlashLimiter state version")
        if tuple(np.asarray(state["grid"]).tolist()) != self.grid or tuple(
            np.asarray(state["window"]).tolist()
        ) != self.window:
            raise ValueError(
                f"state is for grid {tuple(np.asarray(state['grid']).tolist())}, "
                f"limiter has {self.grid}"
            )
        def same(name: str) -> np.ndarray:
            """A saved array with the shape the live one has, every value finite."""
            value = np.asarray(state[name], _F32)
            live = getattr(self, name if not name.startswith(("before", "charged")) else
                           f"_{name}")
            if value.shape != np.shape(live) or not np.isfinite(value).all():
                raise ValueError(f"limiter {name} must be finite with shape {np.shape(live)}")
            return value.copy()

        self.rate = same("rate")
        self.capacity = same("capacity")
        self.deadband = same("deadband")
        release = np.asarray(state["release"], _F32)
        if release.shape != () or not np.isfinite(release):
            raise ValueError("limiter release must be one finite number")
        self.release = _F32(release)
        self.gain = same("gain")
        self.enabled = bool(np.asarray(state["enabled"]))
        self.primed = bool(np.asarray(state["primed"]))
        self.shown = same("shown")
        self.tokens = same("tokens")
        self.tokens_all = same("tokens_all")
        self._before = same("before")
        self._charged = same("charged")
        self._charged_all = same("charged_all")

    # -- core ----------------------------------------------------------------------------------

    def _grid_array(self, a: np.ndarray, name: str) -> np.ndarray:
        arr = np.asarray(a, dtype=_F32)
        if arr.shape != self.grid:
            raise ValueError(f"{name} must have shape {self.grid} (the grid), not {arr.shape}")
        return arr  # nan -> 0 and clipping to [0, 1] happen in the kernels

    def update(self, luminance: np.ndarray, red: np.ndarray | None, dt: float) -> np.ndarray:
        """luminance: (gy, gx) relative luminance 0..1 of the frame about to be shown,
        block-averaged; red: same-shape saturated-red measure (or None). Returns gain (gy, gx)
        float32 in (0, 1] to multiply the frame by (in linear light, upsampled bilinearly)."""
        lum = self._grid_array(luminance, "luminance")
        red_arr = lum if red is None else self._grid_array(red, "red")
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {dt}")
        out = np.empty(self.grid, _F32)
        if not self.enabled or not self.primed:
            # First frame (or limiter off): nothing to compare with; it becomes the reference.
            _prime_k(lum, red_arr, red is not None, self.shown, self._before, self._charged,
                     self._charged_all, self.gain, out)
            self.primed = True
            return out
        _update_k(lum, red_arr, red is not None, float(dt), self.rate, self.capacity,
                  self.deadband, self.release, self.window[0], self.window[1], self.shown,
                  self._before, self.tokens, self.tokens_all, self._charged, self._charged_all,
                  self.gain, out)
        return out

    def observe(self, luminance: np.ndarray, red: np.ndarray | None = None) -> None:
        """Replace the estimate of what the last update displayed with a measurement of it.

        Optional; re-charges the step with the measured rise (a refund or a debt), which makes
        the bound exact for callers that can measure their output (limit_frames does).
        """
        if not self.primed:
            return
        lum = self._grid_array(luminance, "luminance")
        red_arr = lum if red is None else self._grid_array(red, "red")
        _observe_k(lum, red_arr, red is not None, self.deadband, self.window[0], self.window[1],
                   self._before, self.shown, self.tokens, self.tokens_all, self._charged,
                   self._charged_all)


# -- applying the gain -------------------------------------------------------------------------


def _bilinear_weights(n: int, cells: int) -> np.ndarray:
    """(n, cells) matrix upsampling cell-centred samples to n pixels, edges clamped."""
    s = np.clip((np.arange(n) + 0.5) * cells / n - 0.5, 0, cells - 1)
    i0 = np.floor(s).astype(np.int64)
    i1 = np.minimum(i0 + 1, cells - 1)
    f = (s - i0).astype(np.float32)
    w = np.zeros((n, cells), np.float32)
    rows = np.arange(n)
    np.add.at(w, (rows, i0), 1 - f)
    np.add.at(w, (rows, i1), f)
    return w


def upsample_gain(gain: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear (cell-centred) upsampling of a (gy, gx) gain grid to an (H, W) field."""
    g = np.asarray(gain, np.float32)
    if g.ndim != 2:
        raise ValueError(f"gain must be a 2-D grid, got shape {g.shape}")
    wy = _bilinear_weights(shape[0], g.shape[0])
    wx = _bilinear_weights(shape[1], g.shape[1])
    out = wy @ g @ wx.T
    # Where every contributing cell is exactly 1 the weights sum to 1; make that exact too.
    ones = (wy @ (g < 1).astype(np.float32) @ wx.T) == 0
    out[ones] = 1.0
    return np.minimum(out, 1.0)


def apply_gain(frame: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Dim an sRGB uint8 frame by a gain grid, in linear light.

    Pixels whose upsampled gain is exactly 1 keep their bytes (so may the whole frame: it is
    then returned as is, not copied); only the bounding box of dimmed pixels is converted.
    The gain is clipped to [0, 1]: this only ever dims.
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 frame, got {frame.dtype} {frame.shape}")
    g = np.clip(np.nan_to_num(np.asarray(gain, np.float32), nan=0.0), 0.0, 1.0)
    if np.all(g >= 1):
        return frame
    field = upsample_gain(g, frame.shape[:2])
    dim = field < 1
    rows, cols = np.flatnonzero(dim.any(axis=1)), np.flatnonzero(dim.any(axis=0))
    if rows.size == 0:
        return frame
    ys, xs = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    scaled = SRGB_TO_LINEAR_SCALED[frame[ys, xs]]
    scaled *= field[ys, xs, None]
    out = frame.copy()
    out[ys, xs] = linear_to_srgb_scaled(scaled)  # gain exactly 1 round-trips to the same byte
    return out


def limit_frames(
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    limiter: FlashLimiter | None = None,
    grid: tuple[int, int] = (12, 12),
) -> Iterator[np.ndarray]:
    """Run a limiter over whole sRGB frames (for paths that only have frames), yielding them dimmed.

    The displayed result is measured and fed back (FlashLimiter.observe), so the budget is
    charged with what was really shown.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    lim = limiter if limiter is not None else FlashLimiter(grid)
    dt = 1.0 / float(fps)
    for frame in frames:
        lum, red = frame_measures(frame, lim.grid)
        gain = lim.update(lum, red, dt)
        out = apply_gain(frame, gain)
        if out is not frame:
            lim.observe(*frame_measures(out, lim.grid))
        yield out
