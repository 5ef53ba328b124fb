"""Checking a rendered file against WCAG 2.3.1: frames read back by sinks, analysed by safety."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mural.safety.analyzer import FlashInputError, FlashReport, Region, analyse_frames
from mural.sinks.frames import FrameReadError, read_frames


def analyse_video(
    path: str | Path,
    *,
    fps: float | None = None,
    regions: Sequence[Region] | None = None,
    loop: bool | None = None,
) -> FlashReport:
    """Analyse an MP4/WebM/... (shipped ffmpeg), a GIF (Pillow) or a folder of PNG frames.

    fps: frame rate for PNG folders (default 30); for videos it resamples to that rate; for
    GIFs it replaces the per-frame delays. loop: analyse the clip repeated (default: GIFs that
    declare looping), so flashes across the loop seam are counted.
    """
    try:
        footage = read_frames(path, fps)
        do_loop = footage.loops if loop is None else loop
        try:
            return analyse_frames(footage.frames, footage.rate, regions=regions,
                                  loop=bool(do_loop), source=str(path))
        finally:
            footage.close()
    except FrameReadError as exc:  # one error for "this input cannot be checked"
        raise FlashInputError(str(exc)) from None


__all__ = ["FlashInputError", "analyse_video"]
