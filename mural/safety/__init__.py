"""Photosensitive safety (WCAG 2.3.1): measure flashes offline and limit them live."""

from mural.safety.analyzer import (
    FlashInputError,
    FlashReport,
    Region,
    analyse_frames,
    standard_regions,
)
from mural.safety.limiter import FlashLimiter, apply_gain, limit_frames, upsample_gain
from mural.safety.luminance import (
    block_mean,
    frame_measures,
    linear_rgb,
    linear_to_srgb,
    red_measure,
    relative_luminance,
)

__all__ = [
    "FlashInputError",
    "FlashLimiter",
    "FlashReport",
    "Region",
    "analyse_frames",
    "apply_gain",
    "block_mean",
    "frame_measures",
    "limit_frames",
    "linear_rgb",
    "linear_to_srgb",
    "red_measure",
    "relative_luminance",
    "standard_regions",
    "upsample_gain",
]
