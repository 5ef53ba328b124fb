"""Shared photometry helpers: sRGB linearisation, relative luminance, saturated red, block means."""

from __future__ import annotations

import numpy as np

from mural.engine.colourspace import linear_to_srgb as _linear_to_srgb_f64
from mural.engine.colourspace import srgb_to_linear as _srgb_to_linear_f64

LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
"""Rec. 709 / WCAG relative-luminance weights for linear R, G, B."""

RED_RATIO_SATURATED = 0.8
"""WCAG / Harding: a state is saturated red when R/(R+G+B) >= 0.8 (linear RGB)."""

RED_RATIO_FLOOR = 0.65
"""Below this ratio the red measure is 0; between it and 0.8 it ramps up (see red_measure)."""


SRGB_TO_LINEAR = _srgb_to_linear_f64(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
"""256-entry table: sRGB byte -> linear light 0..1 (float32)."""

_INV_STEPS = 65535
_LINEAR_TO_SRGB = np.round(
    _linear_to_srgb_f64(np.arange(_INV_STEPS + 1, dtype=np.float64) / _INV_STEPS) * 255.0
).astype(np.uint8)
_RED_EXCESS = np.array([1.0, -1.0, -1.0], dtype=np.float32)
SRGB_TO_LINEAR_SCALED = SRGB_TO_LINEAR * np.float32(_INV_STEPS)
"""SRGB_TO_LINEAR pre-multiplied by the inverse table's scale, for linear_to_srgb_scaled."""


def _check_frame(frame: np.ndarray) -> None:
    if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3
            and frame.shape[2] == 3):
        got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame)
        raise ValueError(f"expected an HxWx3 uint8 sRGB frame, got {got}")


def linear_rgb(frame: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 sRGB -> HxWx3 float32 linear light (a table look-up, no pow per pixel)."""
    _check_frame(frame)
    return SRGB_TO_LINEAR[frame]


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light (any shape, clipped to 0..1) -> sRGB bytes via a 16-bit table.

    Round-trips every byte exactly: linear_to_srgb(SRGB_TO_LINEAR[v]) == v.
    """
    idx = np.clip(linear, 0.0, 1.0) * np.float32(_INV_STEPS) + np.float32(0.5)
    return _LINEAR_TO_SRGB[idx.astype(np.int32)]


def linear_to_srgb_scaled(scaled: np.ndarray) -> np.ndarray:
    """Like linear_to_srgb for values already in 0..65535 (SRGB_TO_LINEAR_SCALED times a gain
    in [0, 1]): skips the clip and scale passes on the whole-frame path."""
    scaled += np.float32(0.5)
    return _LINEAR_TO_SRGB[scaled.astype(np.int32)]


def relative_luminance(frame: np.ndarray) -> np.ndarray:
    """Per-pixel WCAG relative luminance (0..1, float32) of an sRGB uint8 frame."""
    return linear_rgb(frame) @ LUMA_WEIGHTS


def red_measure_linear(linear: np.ndarray) -> np.ndarray:
    """Saturated-red measure of linear RGB (..., 3) -> (...) float32, 0..1.

    Harding's red-flash quantity is max(R - G - B, 0) for states with R/(R+G+B) >= 0.8 (a change
    of more than 20/320 = 0.0625 counts). A hard gate at 0.8 would make a slow hue drift jump, so
    the weight ramps from 0 at ratio 0.65 to 1 at 0.8: exact for saturated reds, conservative
    (counts some red) for orange-reds, continuous everywhere, and proportional to a gain applied
    in linear light (the ratio is scale-invariant), which the limiter relies on.
    """
    excess = linear @ _RED_EXCESS  # R - G - B; only positive where red dominates (ratio > 0.5)
    out = np.zeros(excess.shape, np.float32)
    red = excess > 0
    if red.any():  # usually a small part of the frame: work on those pixels only
        d, rr = excess[red], linear[..., 0][red]
        ratio = rr / (2 * rr - d)  # R + G + B == 2R - (R - G - B)
        span = RED_RATIO_SATURATED - RED_RATIO_FLOOR
        out[red] = np.clip((ratio - RED_RATIO_FLOOR) / span, 0, 1) * d
    return out


def red_measure(frame: np.ndarray) -> np.ndarray:
    """Per-pixel saturated-red measure (see red_measure_linear) of an sRGB uint8 frame."""
    return red_measure_linear(linear_rgb(frame))


def luminance_and_red(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both per-pixel measures from a single linearisation (the analyser's hot path)."""
    lin = linear_rgb(frame)
    return lin @ LUMA_WEIGHTS, red_measure_linear(lin)


def block_edges(n: int, cells: int) -> np.ndarray:
    """Start index of each of `cells` bins over n pixels: floor(k*n/cells), strictly increasing.

    Flooring keeps every grid that divides into thirds/sixths on the same pixel boundaries,
    so the analyser's regions and the limiter's cells line up for any frame size.
    """
    if not 1 <= cells <= n:
        raise ValueError(f"cannot split {n} pixels into {cells} cells")
    return (np.arange(cells, dtype=np.int64) * n) // cells


def block_sum(values: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Sum HxW[xC] values into a (gy, gx[, C]) grid of floor-edged blocks (float64).

    Reduces along the contiguous axis first, in float32 (short sums, ample precision): this
    order is several times faster than the other on large frames.
    """
    cols = np.add.reduceat(values.astype(np.float32, copy=False),
                           block_edges(values.shape[1], grid[1]), axis=1)
    return np.add.reduceat(cols, block_edges(values.shape[0], grid[0]), axis=0).astype(np.float64)


def block_counts(shape: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """Pixels per block for block_sum on a frame of `shape` (gy, gx)."""
    h, w = shape
    ny = np.diff(np.append(block_edges(h, grid[0]), h))
    nx = np.diff(np.append(block_edges(w, grid[1]), w))
    return np.outer(ny, nx).astype(np.float64)


def block_mean(values: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Mean of HxW[xC] values over a (gy, gx) grid of blocks, float32."""
    sums = block_sum(values, grid)
    counts = block_counts(values.shape[:2], grid)
    if sums.ndim == 3:
        counts = counts[..., None]
    return (sums / counts).astype(np.float32)


def clamp_grid(shape: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int]:
    """The grid, shrunk so that no block is empty on a tiny frame."""
    return min(grid[0], shape[0]), min(grid[1], shape[1])


def frame_measures(
    frame: np.ndarray, grid: tuple[int, int], *, step: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(luminance, red) block means of an sRGB frame on `grid`: what FlashLimiter.update takes.

    step > 1 samples every step-th pixel each way (step**2 times cheaper; fine for live use on
    large frames, where a cell still holds hundreds of samples).
    """
    if step > 1:
        frame = frame[::step, ::step]
    lum, red = luminance_and_red(frame)
    return block_mean(lum, grid), block_mean(red, grid)
