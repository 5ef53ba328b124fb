"""The compositor: engine state → glowing, tone-mapped HxWx3 uint8 frame (headless, no pygame)."""

from __future__ import annotations

import numpy as np

from mural.engine.colourspace import srgb_encode_lut, srgb_to_linear
from mural.engine.engine import COARSE_CELL, Engine, coarse_shape
from mural.engine.kernels import axis_taps, thread_budget, threads_for
from mural.engine.timing import StageTimer
from mural.render import kernels
from mural.render.palette import Palette


class Compositor:
    """Composites an engine's light fields into frames of one output size.

    Light is shaded and bloomed at the engine's field resolution, tone-mapped there, then
    upscaled; the particle heads are drawn crisp at the output resolution on top.
    All buffers are allocated once.
    """

    def __init__(self, size: tuple[int, int], palette: Palette | None = None) -> None:
        self.size = size
        self.palette = palette or Palette()
        self._lut = srgb_encode_lut()
        self._to_linear = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)
        self._shape: tuple[int, int] | None = None
        self.timer: StageTimer | None = None  # stage timing, injected by `mural bench`
        self.gains: np.ndarray | None = None  # flash-limiter gain grid, set by the caller

    def set_palette(self, palette: Palette) -> None:
        new = palette
        if new == self.palette:
            return
        self.palette = new
        if self._shape is not None:
            self._background = self._make_background()

    def _allocate(self, field_hw: tuple[int, int]) -> None:
        fh, fw = field_hw
        self._shape = field_hw
        # Bloom pyramid: 1/2 (no blur), 1/4 (tight glow), 1/8 (wide haze) of the field.
        levels = [(fh, fw)]
        for _ in range(3):
            h, w = levels[-1]
            levels.append(((h + 1) // 2, (w + 1) // 2))
        (h1, w1), (h2, w2), (h3, w3) = levels[1:]
        self._half = np.zeros((h1, w1, 3), np.float32)
        self._quarter = np.zeros((h2, w2, 3), np.float32)
        self._quarter_tmp = np.zeros_like(self._quarter)
        self._glow1 = np.zeros_like(self._quarter)
        self._eighth = np.zeros((h3, w3, 3), np.float32)
        self._eighth_tmp = np.zeros_like(self._eighth)
        self._glow2 = np.zeros_like(self._eighth)
        self._glow = np.zeros((h2, fw, 3), np.float32)  # the bloom, widened to the field
        gy = coarse_shape(field_hw)[0]
        self._vitality_wide = np.zeros((gy, fw), np.float32)
        self._half_rows = axis_taps(h1, gy)  # half-resolution rows onto the vitality grid
        self._glow_rows = axis_taps(fh, h2)
        self._small = np.zeros((fh, fw, 3), np.uint8)
        width, height = self.size
        self._out = np.zeros((height, width, 3), np.uint8)
        self._wide = np.zeros((fh, width, 3), np.uint16)
        self._taps_x = kernels.byte_taps(fw, width)
        self._taps_y = kernels.byte_taps(fh, height)
        scale = fh / 540.0  # blur radii are set for a 540-row field and scale with it
        self._sigma1 = kernels.gaussian_weights(max(0.75, 1.5 * scale))
        self._sigma2 = kernels.gaussian_weights(max(1.0, 4.5 * scale))
        self._background = self._make_background()
        self._ones = np.ones((2, 2), np.float32)
        self._bloom_taps = (*axis_taps(fw, w2), *axis_taps(fw, w3), *axis_taps(h2, h3))
        self._gains_wide = np.ones((2, fw), np.float32)
        self._gain_rows: tuple = ()
        self._gain_shape: tuple[int, ...] = ()

    def _widened_gains(self) -> np.ndarray:
        """The flash limiter's gain grid widened to the field (ones when nothing limits)."""
        gains = self.gains if self.gains is not None else self._ones
        fh, fw = self._shape
        if self._gain_shape != gains.shape:
            self._gain_shape = gains.shape
            self._gains_wide = np.ones((gains.shape[0], fw), np.float32)
            self._gain_columns = axis_taps(fw, gains.shape[1])
            self._gain_rows = axis_taps(fh, gains.shape[0])
        kernels.widen_grid(gains, *self._gain_columns, self._gains_wide)
        return self._gains_wide

    def _make_background(self) -> np.ndarray:
        """Deep water: a vertical gradient with a soft vignette, in display-linear light."""
        fh, fw = self._shape or (2, 2)
        top = self.palette.colour("background_top")
        bottom = self.palette.colour("background_bottom")
        ys = np.linspace(0.0, 1.0, fh, dtype=np.float32)[:, None, None]
        xs = np.linspace(-1.0, 1.0, fw, dtype=np.float32)[None, :, None]
        grad = top + (bottom - top) * ys**1.3
        vignette = 1.0 - 0.35 * (xs**2) * (0.6 + 0.4 * ys)
        return np.ascontiguousarray((grad * vignette).astype(np.float32))

    def _tick(self, stage: str, since: float) -> float:
        timer = self.timer
        return timer.lap(stage, since) if timer is not None else 0.0

    def render(self, engine: Engine, alpha: float = 0.0, *, exposure: float = 1.0,
               out: np.ndarray | None = None) -> np.ndarray:
        """The frame for the engine's current state (`alpha` in [0, 1): time since the last step).

        `exposure` scales the palette's exposure (the safety ceiling lowers it in a surge).
        Returns an HxWx3 uint8 array owned by the compositor unless `out` is given.
        """
        width, height = self.size
        pixels = max(engine.field_h * engine.field_w, width * height // 4)
        with thread_budget(threads_for(pixels)):
            return self._render(engine, alpha, exposure=exposure, out=out)

    def _render(
        self,
        engine: Engine,
        alpha: float = 0.0,
        *,
        exposure: float = 1.0,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The frame for the engine's current state (`alpha` in [0, 1): time since the last step).

        `exposure` scales the palette's exposure (the safety ceiling lowers it in a surge).
        Returns an HxWx3 uint8 array owned by the compositor unless `out` is given.
        """
        if self._shape != (engine.field_h, engine.field_w):
            self._allocate((engine.field_h, engine.field_w))
        pal = self.palette
        start = self.timer.clock() if self.timer is not None else 0.0
        shadow = (pal.colour("shadow_tint") * pal.shadow_level).astype(np.float32)
        memory_gain = np.float32(pal.memory_gain)
        live_scale = np.float32(engine.live_scale)
        kernels.widen_grid(engine.vitality, *engine.coarse_taps[0], self._vitality_wide)
        kernels.shaded_half(engine.live, live_scale, engine.memory, memory_gain,
                            self._vitality_wide, self._half_rows, shadow, self._half)
        kernels.downsample2(self._half, self._quarter)
        kernels.blur_rows(self._quarter, self._quarter_tmp, self._sigma1)
        kernels.blur_cols(self._quarter_tmp, self._glow1, self._sigma1)
        kernels.downsample2(self._quarter, self._eighth)
        kernels.blur_rows(self._eighth, self._eighth_tmp, self._sigma2)
        kernels.blur_cols(self._eighth_tmp, self._glow2, self._sigma2)
        kernels.combine_glow(self._glow1, self._glow2, self._bloom_taps, np.float32(pal.bloom),
                             np.float32(pal.bloom_wide), self._glow)
        start = self._tick("glow", start)

        gains = self._widened_gains()
        kernels.tonemap(
            engine.live, live_scale, engine.memory, memory_gain, self._vitality_wide, self._glow,
            gains, engine.coarse_taps[1] + self._glow_rows + self._gain_rows, shadow,
            self._background, np.float32(pal.exposure * exposure), pal.grade_vector(), self._lut,
            self._small,
        )
        frame = self._out if out is None else out
        if frame.shape[:2] == self._small.shape[:2]:
            frame[...] = self._small
        else:
            x0, x1, wx = self._taps_x
            y0, y1, wy = self._taps_y
            if frame.shape[1] == 2 * self._small.shape[1]:
                kernels.widen_rows_2x(self._small, self._wide)
            else:
                kernels.widen_rows(self._small, self._wide, x0, x1, wx)
            kernels.blend_rows(self._wide, frame, y0, y1, wy)
        start = self._tick("tonemap", start)

        width, height = self.size
        p = engine.participants
        gain = p.light[: max(1, len(p))].astype(np.float32)
        kernels.draw_heads(
            frame, engine.pos, engine.prev, engine.colour, engine.age, engine.life, engine.pidx,
            gain, engine.vitality, np.float32(engine.field_h / COARSE_CELL), np.float32(height),
            np.float32(alpha), np.float32(head_strength(pal, exposure)),
            np.float32(kernels.head_radius(height)), gains, np.float32(engine.aspect),
            self._to_linear, self._lut,
        )
        self._tick("heads", start)
        return frame


def head_strength(palette: Palette, exposure: float) -> float:
    """Brightness of the crisp heads (they are drawn after the curve, so exposure scales them)."""
    return palette.head_strength * palette.exposure * exposure * 0.7


__all__ = ["Compositor", "head_strength"]
