"""The sRGB transfer functions, in one place: every layer converts light the same way."""

from __future__ import annotations

import numpy as np


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """sRGB-encoded 0..1 → linear light 0..1 (float64)."""
    v = np.asarray(values, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """Linear light → sRGB-encoded 0..1 (float64), clipped to the displayable range."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


def srgb_encode_lut(size: int = 4096) -> np.ndarray:
    """Linear light sampled at `size` even steps over 0..1 → sRGB bytes (the tone maps' LUT)."""
    return np.round(linear_to_srgb(np.linspace(0.0, 1.0, size)) * 255).astype(np.uint8)


def to_hex(linear_rgb: np.ndarray) -> str:
    """Linear RGB → '#rrggbb'."""
    return "#" + "".join(f"{round(float(c) * 255):02x}" for c in linear_to_srgb(linear_rgb))
