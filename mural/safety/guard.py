"""The safety guard every frame path shares: flash limiting and a brightness ceiling, per step.

It runs on the simulation's fixed step, from the engine's own light fields, so a still, a
video frame and the installation window at the same time see the same limited light (and a
fast-forward to minute 60 limits exactly as playing there would have).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mural.engine.engine import COARSE_CELL, Engine
from mural.engine.kernels import block_mean as coarse_block_mean
from mural.render.compositor import head_strength
from mural.render.kernels import head_light, head_radius
from mural.render.palette import Palette
from mural.safety.limiter import FlashLimiter
from mural.safety.luminance import block_mean, red_measure_linear

MEMORY_EVERY = 4  # steps between fresh block means of the (slow) memory layer
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def aces(x: np.ndarray) -> np.ndarray:
    """The compositor's filmic curve (same fit, numpy)."""
    return np.clip((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0)


@dataclass(frozen=True)
class SafetyConfig:
    """Photosensitive-safety settings; `enabled=False` only through an explicitly unsafe flag."""

    enabled: bool = True
    grid: tuple[int, int] = (12, 12)
    ceiling: float = 0.2  # max mean relative luminance of the whole frame (surges stay dim)
    exposure_rise_per_s: float = 0.08  # how fast exposure may come back after a surge
    exposure_fall_per_s: float = 0.8


class SafetyGuard:
    """Per step: estimate the displayed light per region, then limit flashes and the ceiling.

    The estimate is taken on the engine's coarse grid with the compositor's own shading,
    exposure and filmic curve, and bloom counted as extra light, so it errs on the bright side
    (which only makes the limiter more careful).
    """

    def __init__(self, engine: Engine, config: SafetyConfig | None = None) -> None:
        self.config = config or SafetyConfig()
        gy, gx = engine.vitality.shape
        grid = (min(self.config.grid[0], gy), min(self.config.grid[1], gx))
        self.limiter = FlashLimiter(grid, enabled=self.config.enabled)
        self.memory_coarse = np.zeros((gy, gx, 3), np.float32)
        self.heads = np.zeros((gy, gx), np.float32)
        self.heads_red = np.zeros((gy, gx), np.float32)
        self.exposure = 1.0
        self.gain = np.ones(grid, np.float32)
        self.mean_luminance = 0.0
        self._steps = 0

    def estimate(
        self, engine: Engine, palette: Palette, size: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(luminance, red) per limiter cell of the frame the compositor would show at `size`.

        The crisp heads are drawn after the curve at output resolution, so their share of a
        region depends on the output size (they matter on small frames, hardly at all at 4K).
        """
        if self._steps % MEMORY_EVERY == 0:  # the memory changes slowly; its mean is costly
            coarse_block_mean(engine.memory, self.memory_coarse, COARSE_CELL)
        self._steps += 1
        light = engine.live_coarse + palette.memory_gain * self.memory_coarse
        lum = light @ LUMA
        form = (0.6 * lum + 0.4 * light.max(axis=-1))[..., None]
        shadow = form * palette.colour("shadow_tint") * palette.shadow_level
        vit = engine.vitality[..., None]
        shown = shadow + (light - shadow) * vit
        shown *= 1.0 + 0.6 * (palette.bloom + palette.bloom_wide)
        display = aces(shown * (palette.exposure * self.exposure) * palette.colour("tint"))
        cells = engine.field_h / COARSE_CELL  # coarse cells per unit of height
        cell_px = size[1] / cells
        radius = head_radius(size[1])
        footprint = 2.0 * np.pi * radius * radius / (cell_px * cell_px)
        head_light(engine.pos, engine.colour, engine.age, engine.life, engine.pidx,
                   engine.participants.light[: max(1, len(engine.participants))],
                   engine.vitality, np.float32(cells),
                   np.float32(head_strength(palette, self.exposure)), np.float32(footprint),
                   self.heads, self.heads_red)
        grid = self.limiter.grid
        lum = display @ LUMA + self.heads
        red = red_measure_linear(display) + self.heads_red
        return block_mean(lum, grid), block_mean(red, grid)

    def update(self, engine: Engine, palette: Palette, dt: float, size: tuple[int, int]) -> None:
        """Advance the guard by one simulation step (for frames of `size`)."""
        cfg = self.config
        lum, red = self.estimate(engine, palette, size)
        self.mean_luminance = float(lum.mean())
        if cfg.enabled:
            # Ceiling: bring exposure down when the frame would be too bright, back up slowly.
            if self.mean_luminance > cfg.ceiling:
                target = self.exposure * cfg.ceiling / self.mean_luminance
            else:
                target = 1.0
            step = target - self.exposure
            step = max(-cfg.exposure_fall_per_s * dt, min(cfg.exposure_rise_per_s * dt, step))
            self.exposure = min(1.0, self.exposure + step)
        self.gain = self.limiter.update(lum, red, dt)

    def state_dict(self) -> dict:
        return {"exposure": self.exposure, "gain": self.gain.copy(), "steps": self._steps,
                "memory_coarse": self.memory_coarse.copy(), "limiter": self.limiter.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.exposure = float(state["exposure"])
        self.gain = np.asarray(state["gain"], np.float32)
        self._steps = int(state["steps"])
        self.memory_coarse[...] = state["memory_coarse"]
        self.limiter.load_state_dict(state["limiter"])
