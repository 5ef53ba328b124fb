"""A slowly evolving, divergence-free flow field from Perlin noise: the water light drifts in."""

from __future__ import annotations

import numpy as np
from noise import pnoise3


class FlowField:
    """Curl of a 3-D Perlin potential, sampled on a coarse grid and refreshed in time.

    Particles read a blend of two grid keyframes (`a`, `b`, `mix`) so the field moves smoothly
    while the noise is only evaluated once per keyframe.
    """

    def __init__(
        self,
        aspect: float,
        seed: int,
        *,
        rows: int = 24,
        scale: float = 1.6,
        period: float = 1.0,
        drift: float = 0.05,
    ) -> None:
        self.rows = rows
        self.cols = max(2, round(rows * aspect))
        self.cell = 1.0 / rows  # grid cell in field-height units
        self.scale = scale
        self.period = period
        self.drift = drift
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF10]))
        self._offset = rng.uniform(0, 200, size=3)
        self._base = int(rng.integers(0, 255))
        # the noise's x and y at the grid's corners (they do not change with time)
        ox, oy, _ = self._offset
        self._xs = [float(ox + x * scale) for x in (np.arange(self.cols + 1) - 0.5) * self.cell]
        self._ys = [float(oy + y * scale) for y in (np.arange(self.rows + 1) - 0.5) * self.cell]
        self._key = -1
        self.a = self._grid(0.0)
        self.b = self._grid(period)
        self._key = 0
        self.mix = 0.0

    def _grid(self, t: float) -> np.ndarray:
        """Curl (dψ/dy, -dψ/dx) of the potential ψ at one time, unit RMS speed."""
        z = self._offset[2] + t * self.drift
        base = self._base
        # pnoise3(x, y, z, octaves=2, base=base), its other arguments at their defaults given
        # in place (persistence, lacunarity, repeat x/y/z): positional arguments parse faster
        psi = np.array(
            [[pnoise3(x, y, z, 2, 0.5, 2.0, 1024, 1024, 1024, base) for x in self._xs]
             for y in self._ys],
            dtype=np.float64,
        )
        d_dy = (psi[1:, :-1] + psi[1:, 1:] - psi[:-1, :-1] - psi[:-1, 1:]) * 0.5
        d_dx = (psi[:-1, 1:] + psi[1:, 1:] - psi[:-1, :-1] - psi[1:, :-1]) * 0.5
        flow = np.stack([d_dy, -d_dx], axis=-1)
        rms = float(np.sqrt((flow**2).sum(axis=-1).mean())) or 1.0
        return (flow / rms).astype(np.float32)

    def advance_to(self, t: float) -> None:
        """Bring the keyframes to time t (only forward, one keyframe per period)."""
        key = int(t // self.period)
        if key != self._key:
            if key == self._key + 1:
                self.a = self.b
            else:
                self.a = self._grid(key * self.period)
            self.b = self._grid((key + 1) * self.period)
            self._key = key
        self.mix = float(t / self.period - key)
