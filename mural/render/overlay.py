"""Overlays on a finished frame: the join code in a corner of the wall.

The code must be readable by a phone across a room yet never spoil the mural: light modules
at a low level on a dark quiet zone, blended in (never a hard flash), at a fraction of the
frame's height.
"""

from __future__ import annotations

import numpy as np

QUIET = 4  # modules of quiet zone around a QR code (ISO/IEC 18004)


def qr_box(modules: np.ndarray, frame_hw: tuple[int, int], *, share: float = 0.16,
           margin: float = 0.02, corner: str = "bottom-right") -> tuple[int, int, int]:
    """(top, left, pixels per module) of the code with its quiet zone in a frame corner."""
    height, width = frame_hw
    side = modules.shape[0] + 2 * QUIET
    scale = max(1, int(share * height) // side)
    size = side * scale
    pad = int(margin * height)
    top = pad if corner.startswith("top") else height - size - pad
    left = pad if corner.endswith("left") else width - size - pad
    return max(0, top), max(0, left), scale


def draw_qr(frame: np.ndarray, modules: np.ndarray, *, level: float = 0.55,
            opacity: float = 1.0, share: float = 0.16, corner: str = "bottom-right") -> None:
    """Blend a QR code (modules: bool rows, True = dark) into `frame` (HxWx3 uint8) in place.

    Dark modules and the quiet zone are near black, light modules at `level` grey; `opacity`
    (0..1) fades the whole code in or out.
    """
    grid = np.pad(np.asarray(modules, bool), QUIET, constant_values=False)
    top, left, scale = qr_box(np.asarray(modules), frame.shape[:2], share=share, corner=corner)
    tile = np.where(grid, 6.0, 255.0 * level).astype(np.float32)
    tile = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
    h = min(tile.shape[0], frame.shape[0] - top)
    w = min(tile.shape[1], frame.shape[1] - left)
    if h <= 0 or w <= 0:
        return
    region = frame[top:top + h, left:left + w].astype(np.float32)
    alpha = float(np.clip(opacity, 0.0, 1.0))
    blended = region + (tile[:h, :w, None] - region) * alpha
    frame[top:top + h, left:left + w] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)


__all__ = ["QUIET", "draw_qr", "qr_box"]
