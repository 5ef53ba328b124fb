"""Reading frames back: a video (the ffmpeg that imageio-ffmpeg ships), a GIF, or a PNG folder."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mural.events.errors import MuralError

_EPS = 1e-6


class FrameReadError(MuralError, ValueError):
    """The input could not be read as frames (missing, empty, corrupt, unsupported)."""


@dataclass
class Footage:
    """Frames (HxWx3 uint8, an iterator read lazily), their rate, and whether the clip loops."""

    frames: Iterator[np.ndarray]
    rate: float
    loops: bool = False

    def close(self) -> None:
        close = getattr(self.frames, "close", None)
        if close is not None:
            close()


# -- inputs ------------------------------------------------------------------------------------

GIF_MIN_DELAY_MS = 20
"""Browsers play GIF frame delays below 20 ms (often written as 0) as 100 ms."""

GIF_MAX_FPS = 100.0
"""GIF delays are in 10 ms units; uneven delays are resampled at their common step, at most this."""


def _natural_key(path: Path) -> list:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", path.name)]


def _png_frames(files: Sequence[Path]) -> Iterator[np.ndarray]:
    from PIL import Image

    for f in files:
        try:
            with Image.open(f) as im:
                yield np.asarray(im.convert("RGB"))
        except (OSError, ValueError) as exc:
            raise FrameReadError(f"cannot read {f}: {exc}") from exc


def _gif_frames(path: Path) -> tuple[list[np.ndarray], list[int], bool]:
    from PIL import Image, ImageSequence

    frames, delays = [], []
    try:
        with Image.open(path) as im:
            loops = "loop" in im.info
            for frame in ImageSequence.Iterator(im):
                rgba = np.asarray(frame.convert("RGBA"), dtype=np.uint16)
                # Transparent pixels are shown over black: the page colour is unknown.
                rgb = (rgba[..., :3] * rgba[..., 3:] + 127) // 255
                frames.append(rgb.astype(np.uint8))
                delay = int(frame.info.get("duration", 100) or 0)
                delays.append(100 if delay < GIF_MIN_DELAY_MS else delay)
    except (OSError, ValueError) as exc:
        raise FrameReadError(f"cannot read GIF {path}: {exc}") from exc
    if not frames:
        raise FrameReadError(f"{path} has no frames")
    return frames, delays, loops


def _video_frames(path: Path, fps: float | None) -> tuple[Iterator[np.ndarray], float]:
    import imageio_ffmpeg

    output_params = ["-r", f"{fps:g}"] if fps else None
    gen = imageio_ffmpeg.read_frames(str(path), output_params=output_params)
    try:
        meta = next(gen)
    except (OSError, RuntimeError, StopIteration) as exc:
        gen.close()
        raise FrameReadError(f"cannot read video {path}: {_ffmpeg_reason(exc)}") from exc
    width, height = meta["size"]
    rate = float(fps or meta.get("fps") or 0)
    if rate <= 0:
        gen.close()
        raise FrameReadError(f"{path}: frame rate unknown, pass --fps")

    def frames() -> Iterator[np.ndarray]:
        try:
            for buf in gen:
                yield np.frombuffer(buf, np.uint8).reshape(height, width, 3)
        except (OSError, RuntimeError) as exc:
            raise FrameReadError(f"cannot decode {path}: {_ffmpeg_reason(exc)}") from exc
        finally:
            gen.close()

    return frames(), rate


def _ffmpeg_reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("===")]
    return lines[-1] if lines else text



def read_frames(path: str | Path, fps: float | None = None) -> Footage:
    """Frames of an MP4/WebM/..., a GIF or a folder of PNG frames, at their own rate.

    fps: the rate of a PNG folder (default 30); for videos the stream is resampled to it; for
    GIFs it replaces the per-frame delays (otherwise uneven delays are resampled at their
    common step, as browsers play them).
    """
    path = Path(path)
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise FrameReadError(f"fps must be a positive number, got {fps}")
    if not path.exists():
        raise FrameReadError(f"{path} does not exist")
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() == ".png"), key=_natural_key)
        if not files:
            raise FrameReadError(f"{path} contains no .png frames")
        return Footage(_png_frames(files), fps or 30.0)
    if path.suffix.lower() == ".gif":
        frames, delays, declared_loop = _gif_frames(path)
        if fps:
            return Footage(iter(frames), fps, declared_loop)
        rate = min(1000.0 / math.gcd(*delays), GIF_MAX_FPS)
        ends = np.cumsum(delays) / 1000.0  # when each frame is replaced
        samples = np.arange(math.ceil(ends[-1] * rate - _EPS)) / rate
        seq = [frames[i] for i in np.searchsorted(ends, samples + _EPS, side="right")]
        return Footage(iter(seq), rate, declared_loop)
    stream, rate = _video_frames(path, fps)
    return Footage(stream, rate)


__all__ = ["Footage", "FrameReadError", "read_frames"]
