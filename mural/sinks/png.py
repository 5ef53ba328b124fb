"""PNG stills with their provenance written into text chunks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin


def save_png(
    path: str | Path, frame: np.ndarray, metadata: Mapping[str, object] | None = None
) -> Path:
    """Write an HxWx3 uint8 frame; metadata values become PNG tEXt chunks (as strings)."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 frame, got {frame.dtype} {frame.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(str(key), str(value))
    tmp = path.with_name(f".{path.name}.partial")
    Image.fromarray(frame, "RGB").save(tmp, format="PNG", pnginfo=info, compress_level=6)
    tmp.replace(path)  # a killed export never leaves half a PNG under the real name
    return path


def read_png_metadata(path: str | Path) -> dict[str, str]:
    """The text chunks of a PNG written by save_png."""
    with Image.open(path) as image:
        return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}
