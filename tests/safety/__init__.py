"""Synthetic frame sequences shared by the safety tests (tiny frames keep them fast)."""

from __future__ import annotations

import numpy as np

from mural.safety.luminance import linear_to_srgb

H, W = 48, 96
BLACK, WHITE, RED = (0, 0, 0), (255, 255, 255), (255, 0, 0)
GREY_LIKE_RED = (127, 127, 127)  # relative luminance ~0.212, as saturated red (0.2126)


def solid(colour, shape=(H, W)) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, np.uint8), (*shape, 3)).copy()


def grey_of_luminance(lum: float) -> tuple[int, int, int]:
    v = int(linear_to_srgb(np.float32(lum)))
    return v, v, v


def strobe(
    hz: float,
    fps: float = 60,
    seconds: float = 2.0,
    *,
    on=WHITE,
    off=BLACK,
    background=BLACK,
    patch: tuple[float, float, float, float] | None = None,
    shape=(H, W),
) -> list[np.ndarray]:
    """A square-wave strobe at `hz` (one flash = one on+off period), full frame or in `patch`
    (top, left, bottom, right as fractions of the frame)."""
    h, w = shape
    frames = []
    for t in range(round(fps * seconds)):
        colour = on if int(np.floor(2 * hz * t / fps)) % 2 == 0 else off
        frame = solid(background, shape)
        if patch is None:
            frame[:] = colour
        else:
            top, left, bottom, right = patch
            frame[round(top * h):round(bottom * h), round(left * w):round(right * w)] = colour
        frames.append(frame)
    return frames


def fade(start, end, seconds: float, fps: float = 30, shape=(H, W)) -> list[np.ndarray]:
    """A linear-in-sRGB cross-fade between two colours."""
    a, b = np.asarray(start, np.float64), np.asarray(end, np.float64)
    n = round(seconds * fps)
    return [solid(np.round(a + (b - a) * t / n).astype(np.uint8), shape) for t in range(n + 1)]


def random_cells(
    cells: tuple[int, int], frames: int, seed: int, colour=WHITE, shape=(H, W)
) -> list[np.ndarray]:
    """Every frame, each of a grid of cells is independently on or off: adversarial flicker."""
    rng = np.random.default_rng(seed)
    h, w = shape
    ys = np.arange(h) * cells[0] // h
    xs = np.arange(w) * cells[1] // w
    out = []
    for _ in range(frames):
        on = rng.random(cells) < 0.5
        out.append((on[ys][:, xs][..., None] * np.asarray(colour)).astype(np.uint8))
    return out
