"""PNG stills with their provenance written into text chunks."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

DEFAULT_COMPRESS_LEVEL = 6  # zlib level: 6 for frames and stills; a poster may trade size for time


def save_png(
    path: str | Path,
    frame: np.ndarray,
    metadata: Mapping[str, object] | None = None,
    *,
    compress_level: int = DEFAULT_COMPRESS_LEVEL,
) -> Path:
    """Write an HxWx3 uint8 frame; metadata values become PNG tEXt chunks (as strings).

    Atomic: the PNG is written under a hidden temporary name beside `path`, then renamed, so a
    killed export never leaves half a PNG under the real name. If writing fails, the temporary
    file is removed and the error raised again. `compress_level` is zlib's 0..9 (lower writes
    faster and larger: a 33-megapixel poster writes in seconds at 3).
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 frame, got {frame.dtype} {frame.shape}")
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level must be 0..9, got {compress_level!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(str(key), str(value))
    tmp = path.with_name(f".{path.name}.partial")
    try:
        Image.fromarray(frame, "RGB").save(tmp, format="PNG", pnginfo=info,
                                           compress_level=compress_level)
        tmp.replace(path)
    except OSError as exc:  # named after the file asked for, not its temporary twin
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    except BaseException:
        with contextlib.suppress(OSError):  # the first error is the one to report
            tmp.unlink(missing_ok=True)
        raise
    return path


def read_png_metadata(path: str | Path) -> dict[str, str]:
    """The text chunks of a PNG written by save_png."""
    with Image.open(path) as image:
        return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}
