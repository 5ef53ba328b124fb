"""The adaptive render scale: pure bookkeeping fed with measured costs and session times.

Frames are composited at the window size fitted to the mural's aspect times a scale from
SCALES; the window scales them up. The scale steps down when render + show eats the frame and
back up when there is room. A smaller render is cheaper to composite but costs a rescale on the
way to the screen, so the cost measured at each size is remembered when leaving it (for
SCALE_MEMORY seconds) and a step is only taken when it is expected to help; SCALE_COOLDOWN
seconds between two steps keep it from flickering.
"""

from __future__ import annotations

import math

SCALES = (1.0, 0.75, 0.5, 0.375)  # internal render size steps (of the window-fitted size)
SCALE_DOWN_AT = 0.8  # step down when the average render takes this share of a frame ...
SCALE_UP_AT = 0.55  # ... and back up when the next size up is predicted below this share
SCALE_COOLDOWN = 1.0  # session seconds between two scale changes (hysteresis)
SCALE_MEMORY = 30.0  # session seconds a measured per-size cost is trusted
RENDER_SMOOTHING = 0.1  # weight of the newest render time in its moving average


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """`size` times `scale`, at least 8 pixels a side."""
    width, height = size
    return max(8, round(width * scale)), max(8, round(height * scale))


class RenderScaler:
    """Chooses the render scale level from the measured cost of frames at `fps`."""

    def __init__(self, fps: float, scales: tuple[float, ...] = SCALES) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.budget = 1.0 / float(fps)
        self.scales = tuple(scales)
        self.level = 0
        self.ema: float | None = None  # moving average of the cost at the current level
        self.costs: dict[int, tuple[float, float]] = {}  # level -> (cost, when measured)
        self.last_change = -math.inf

    @property
    def scale(self) -> float:
        return self.scales[self.level]

    def size(self, base: tuple[int, int]) -> tuple[int, int]:
        """The render size for the full-quality size `base`."""
        return scaled_size(base, self.scale)

    def measure(self, cost: float, now: float) -> bool:
        """One frame cost `cost` seconds (render + show) at session time `now`; True when the
        level changed (the caller resizes its render)."""
        ema = self.ema
        ema = self.ema = cost if ema is None else ema + (cost - ema) * RENDER_SMOOTHING
        if now - self.last_change < SCALE_COOLDOWN:
            return False
        level, costs, scales = self.level, self.costs, self.scales
        if level in costs and ema < 0.5 * costs[level][0]:
            costs.clear()  # much cheaper than last time here: old measurements no longer hold

        def known(other: int) -> float | None:
            seen = costs.get(other)
            return seen[0] if seen is not None and now - seen[1] <= SCALE_MEMORY else None

        if level > 0:
            bigger = known(level - 1)
            growth = (scales[level - 1] / scales[level]) ** 2  # compositing grows with area
            if bigger is not None and bigger <= ema * 1.05:  # the bigger size is no dearer
                self.set_level(level - 1, now)
                return True
            if (bigger if bigger is not None else ema * growth) < SCALE_UP_AT * self.budget:
                self.set_level(level - 1, now)
                return True
        if ema > SCALE_DOWN_AT * self.budget and level < len(scales) - 1:
            smaller = known(level + 1)
            if smaller is None or smaller < 0.9 * ema:
                self.set_level(level + 1, now)
                return True
        return False

    def set_level(self, level: int, now: float) -> None:
        """Go to `level`, remembering what the current one cost."""
        if not 0 <= level < len(self.scales):
            raise ValueError(f"no render scale level {level} (0..{len(self.scales) - 1})")
        if self.ema is not None:
            self.costs[self.level] = (self.ema, now)
        self.level = level
        self.last_change = now
        self.ema = None

    def forget(self) -> None:
        """Another output size (the window changed): costs must be measured anew."""
        self.ema = None
        self.costs.clear()


__all__ = [
    "RENDER_SMOOTHING",
    "SCALES",
    "SCALE_COOLDOWN",
    "SCALE_DOWN_AT",
    "SCALE_MEMORY",
    "SCALE_UP_AT",
    "RenderScaler",
    "scaled_size",
]
