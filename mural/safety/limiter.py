"""A stateful photosensitivity limiter: caps how fast any third-of-frame region may brighten."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from mural.safety.luminance import SRGB_TO_LINEAR_SCALED, frame_measures, linear_to_srgb_scaled

GENERAL_SWING = 0.1
"""WCAG general flash: each transition changes relative luminance by >= 0.1."""

RED_SWING = 20.0 / 320.0
"""Harding red flash: each transition changes max(R-G-B, 0) by more than 20/320."""

MIN_GAIN = 1e-3
"""The returned gain stays in (0, 1]; the floor is charged to the budget like any other rise."""

_F32 = np.float32


def _erode3(a: np.ndarray) -> np.ndarray:
    """3x3 minimum filter on the last two axes, edges replicated."""
    p = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    rows = np.minimum(np.minimum(p[..., :-2, :], p[..., 1:-1, :]), p[..., 2:, :])
    return np.minimum(np.minimum(rows[..., :, :-2], rows[..., :, 1:-1]), rows[..., :, 2:])


def _cell_average_of_bilinear(g: np.ndarray) -> np.ndarray:
    """Mean over each cell of the bilinear (cell-centred, edge-clamped) upsampling of g.

    Along one axis a cell averages 1/8 of each neighbour and 3/4 of itself; the weights are
    powers of two so an all-ones grid stays exactly 1.
    """
    p = np.pad(g, [(0, 0)] * (g.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    k = (_F32(0.125), _F32(0.75), _F32(0.125))
    rows = k[0] * p[..., :-2, :] + k[1] * p[..., 1:-1, :] + k[2] * p[..., 2:, :]
    return k[0] * rows[..., :, :-2] + k[1] * rows[..., :, 1:-1] + k[2] * rows[..., :, 2:]


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
        self.rate = np.asarray(state["rate"], _F32).copy()
        self.capacity = np.asarray(state["capacity"], _F32).copy()
        self.deadband = np.asarray(state["deadband"], _F32).copy()
        self.release = _F32(np.asarray(state["release"]))
        self.gain = np.asarray(state["gain"], _F32).copy()
        self.enabled = bool(np.asarray(state["enabled"]))
        self.primed = bool(np.asarray(state["primed"]))
        self.shown = np.asarray(state["shown"], _F32).copy()
        self.tokens = np.asarray(state["tokens"], _F32).copy()
        self.tokens_all = np.asarray(state["tokens_all"], _F32).copy()
        self._before = np.asarray(state["before"], _F32).copy()
        self._charged = np.asarray(state["charged"], _F32).copy()
        self._charged_all = np.asarray(state["charged_all"], _F32).copy()

    # -- core ----------------------------------------------------------------------------------

    def _window_mean(self, x: np.ndarray) -> np.ndarray:
        """Mean of (2, gy, gx) over every window position -> (2, ny, nx), via a summed table."""
        wy, wx = self.window
        c = np.zeros((x.shape[0], x.shape[1] + 1, x.shape[2] + 1), np.float64)
        c[:, 1:, 1:] = x.cumsum(1).cumsum(2)
        s = c[:, wy:, wx:] - c[:, :-wy, wx:] - c[:, wy:, :-wx] + c[:, :-wy, :-wx]
        return (s / (wy * wx)).astype(_F32)

    def _charge(self, rise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._window_mean(rise), rise.mean(axis=(1, 2), dtype=np.float64).astype(_F32)

    def _cells_min(self, per_window: np.ndarray) -> np.ndarray:
        """For each cell, the minimum over the windows that contain it -> (2, gy, gx)."""
        wy, wx = self.window
        p = np.pad(per_window, ((0, 0), (wy - 1, wy - 1), (wx - 1, wx - 1)),
                   constant_values=np.inf)
        v = np.lib.stride_tricks.sliding_window_view(p, (wy, wx), axis=(1, 2))
        return v.min(axis=(-2, -1))

    def _validate(self, a: np.ndarray | None, name: str) -> np.ndarray:
        arr = np.asarray(a, dtype=_F32)
        if arr.shape != self.grid:
            raise ValueError(f"{name} must have shape {self.grid} (the grid), not {arr.shape}")
        return np.clip(np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)

    def update(self, luminance: np.ndarray, red: np.ndarray | None, dt: float) -> np.ndarray:
        """luminance: (gy, gx) relative luminance 0..1 of the frame about to be shown,
        block-averaged; red: same-shape saturated-red measure (or None). Returns gain (gy, gx)
        float32 in (0, 1] to multiply the frame by (in linear light, upsampled bilinearly)."""
        lum = self._validate(luminance, "luminance")
        red_arr = np.zeros_like(lum) if red is None else self._validate(red, "red")
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {dt}")
        target = np.stack([lum, red_arr])
        ones = np.ones(self.grid, _F32)
        if not self.enabled or not self.primed:
            # First frame (or limiter off): nothing to compare with; it becomes the reference.
            self._before = self.shown = target
            self._charged[:] = 0
            self._charged_all[:] = 0
            self.gain = ones.copy()
            self.primed = True
            return ones

        dt32 = _F32(dt)
        self.tokens = np.minimum(self.capacity, self.tokens + self.rate * dt32)
        cap_all, rate_all = self.capacity[:, 0, 0], self.rate[:, 0, 0]
        self.tokens_all = np.minimum(cap_all, self.tokens_all + rate_all * dt32)

        rise = np.maximum(target - self.deadband - self.shown, 0)
        demand, demand_all = self._charge(rise)
        tokens = np.maximum(self.tokens, 0)
        tokens_all = np.maximum(self.tokens_all, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(demand > tokens, tokens / demand, 1).astype(_F32)
            frac_all = np.where(demand_all > tokens_all, tokens_all / demand_all, 1).astype(_F32)
        frac = np.minimum(self._cells_min(frac), frac_all[:, None, None])  # (2, gy, gx)

        # Per measure: the mean gain that lets a cell rise by only frac of its wanted rise.
        limited = (frac < 1) & (rise > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            allowed = self.shown + self.deadband + frac * rise
            ratios = np.where(limited, allowed / target, 1).astype(_F32)
        allowed_gain = np.minimum(ratios[0], ratios[1])
        gain = np.minimum(allowed_gain, self.gain + self.release * dt32)  # hold, then release
        # Impose the limit on each cell's mean upsampled gain: scaling every cell by the least
        # factor wanted in its 3x3 neighbourhood brings each blurred mean within its limit.
        blurred = _cell_average_of_bilinear(gain)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(blurred > allowed_gain, allowed_gain / blurred, 1).astype(_F32)
        gain = np.clip(gain * _erode3(scale), MIN_GAIN, 1.0).astype(_F32)
        self.gain = gain
        self._commit(_cell_average_of_bilinear(gain)[None] * target)
        return gain.copy()

    def _follow(self, displayed: np.ndarray) -> np.ndarray:
        """The reference after showing `displayed`: drops followed, rises only past the play."""
        return np.minimum(np.maximum(self._before, displayed - self.deadband), displayed)

    def _commit(self, displayed: np.ndarray) -> None:
        self._before = self.shown
        self.shown = self._follow(displayed).astype(_F32)
        self._charged, self._charged_all = self._charge(np.maximum(self.shown - self._before, 0))
        self.tokens = self.tokens - self._charged
        self.tokens_all = self.tokens_all - self._charged_all

    def observe(self, luminance: np.ndarray, red: np.ndarray | None = None) -> None:
        """Replace the estimate of what the last update displayed with a measurement of it.

        Optional; re-charges the step with the measured rise (a refund or a debt), which makes
        the bound exact for callers that can measure their output (limit_frames does).
        """
        if not self.primed:
            return
        lum = self._validate(luminance, "luminance")
        actual = np.stack([lum, self.shown[1] if red is None else self._validate(red, "red")])
        self.tokens = self.tokens + self._charged
        self.tokens_all = self.tokens_all + self._charged_all
        self.shown = self._before
        self._commit(actual)


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
