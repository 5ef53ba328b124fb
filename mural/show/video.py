"""Offline video export: a finite SOURCE rendered frame-exactly to MP4, WebM, GIF or PNGs."""

# Design notes:
#
# Frame k of an export is the mural at `start + k/fps` (exact rational arithmetic), whatever the
# machine's speed, so two exports with the same arguments hold identical frames. The mural is
# composited at the output size only, fast-forwarded to `start` without compositing, and frames
# are encoded on the writer's background thread while the next one renders.

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from mural._version import __version__
from mural.events import Problem
from mural.events.errors import MuralError
from mural.safety.guard import SafetyConfig
from mural.show.palettes import load_palette
from mural.show.wall import Wall
from mural.sinks.progress import Progress, format_duration
from mural.sinks.video import VideoWriter, output_kind
from mural.sources.offline import load_offline

DEFAULT_FPS = 30
DEFAULT_SIZE = (1280, 720)
FAST_PRESET_MAX_PIXELS = 1280 * 720  # up to 720p "veryfast"; above, "superfast" keeps pace

FrameHook = Callable[[int, float, np.ndarray], None]


class ExportError(MuralError, ValueError):
    """Export arguments that cannot work (empty span, unknown output suffix ...)."""


class ExportInterrupted(KeyboardInterrupt):
    """Ctrl-C during an export; `result` says what was kept (a playable, shorter file)."""

    def __init__(self, result: ExportResult) -> None:
        super().__init__(result.summary())
        self.result = result


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote and how fast it went."""

    path: Path
    kind: str
    frames: int
    size: tuple[int, int]
    fps: Fraction
    start: float
    end: float
    seek_seconds: float  # wall time of the fast-forward to `start`
    render_seconds: float  # wall time of the frame loop, encoder flush included
    interrupted: bool = False

    @property
    def video_seconds(self) -> float:
        return float(self.frames / self.fps)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.render_seconds if self.render_seconds > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of video made per second of wall time (> 1: faster than real time)."""
        return self.video_seconds / self.render_seconds if self.render_seconds > 0 else 0.0

    def summary(self) -> str:
        """One line: path, frames, size, fps and render speed."""
        width, height = self.size
        verb = "kept" if self.interrupted else "wrote"
        line = (
            f"{verb} {self.path}: {self.frames} frames, {width}x{height} @ {float(self.fps):g} fps "
            f"({format_duration(self.video_seconds)} of video, t={self.start:g}..{self.end:g}s) "
            f"in {self.render_seconds:.1f}s: {self.frames_per_second:.1f} frames/s, "
            f"{self.realtime_factor:.2f}x real time"
        )
        if self.seek_seconds >= 0.05:
            line += f" (+{self.seek_seconds:.1f}s fast-forward to {self.start:g}s)"
        return line


def as_fraction(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction (29.97 -> 2997/100), the way VideoWriter keeps it."""
    return Fraction(fps).limit_denominator(1001 * 1000)


def frame_count(start: float, end: float, fps: float | Fraction, speed: float = 1.0) -> int:
    """round((end - start) * fps / speed), computed exactly."""
    return round((Fraction(end) - Fraction(start)) * as_fraction(fps) / Fraction(speed))


def frame_time(start: float, index: int, fps: float | Fraction, speed: float = 1.0) -> float:
    """The moment frame `index` shows: start + index*speed/fps, rounded once to a float."""
    return float(Fraction(start) + Fraction(index) * Fraction(speed) / as_fraction(fps))


def usable_cores() -> int:
    """CPU cores this process may run on (a container's limit, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def cores_shared_with_the_encoder() -> Iterator[int]:
    """Render on half the cores while the encoder uses the rest.

    Numba's OpenMP workers spin while they wait, so when ffmpeg competes for the same cores,
    parallel kernels slow down several times over (measured 4-5x on 2 cores); one render
    thread per two cores avoids that. Restores the previous thread count afterwards.
    """
    import numba

    before = numba.get_num_threads()
    threads = max(1, min(before, usable_cores() // 2))
    numba.set_num_threads(threads)
    try:
        yield threads
    finally:
        numba.set_num_threads(before)


def preset_for(size: tuple[int, int]) -> str:
    """The x264 preset that keeps encoding behind rendering at this size on a small machine."""
    return "veryfast" if size[0] * size[1] <= FAST_PRESET_MAX_PIXELS else "superfast"


def export_video(
    source: str,
    output: str | Path,
    *,
    fps: float | Fraction = DEFAULT_FPS,
    size: tuple[int, int] = DEFAULT_SIZE,
    start: float = 0.0,
    end: float | None = None,
    seed: int = 0,
    palette: str = "abyss",
    speed: float = 1.0,
    crf: int = 20,
    force: bool = False,
    quiet: bool = False,
    strict: bool = False,
    safety: SafetyConfig | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    frame_hook: FrameHook | None = None,
) -> ExportResult:
    """Render SOURCE from `start` to `end` (default: its last event) into `output`.

    `speed` > 1 makes a time-lapse: each second of video covers `speed` seconds of SOURCE.

    Raises ExportInterrupted (a KeyboardInterrupt) on Ctrl-C after keeping what was rendered;
    SourceError for live or unreadable sources; FileExistsError unless `force`.
    `frame_hook(index, t, frame)` sees every frame before it is queued (the buffer is reused).
    """
    path = Path(output)
    try:
        kind = output_kind(output)  # the text: a trailing "/" asks for a frames folder
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    rate = as_fraction(fps)
    if rate <= 0:
        raise ExportError(f"fps must be positive, got {fps}")
    if not speed > 0:
        raise ExportError(f"speed must be positive, got {speed}")
    pal = load_palette(palette)
    stream = load_offline(source, strict=strict, on_problem=on_problem)
    stop = stream.duration if end is None else end
    frames = frame_count(start, stop, rate, speed)
    if frames < 1:
        raise ExportError(
            f"nothing to export between {start:g}s and {stop:g}s at {float(rate):g} fps"
            + (" (the stream ends there; give --end)" if end is None else "")
        )
    width, height = size
    metadata = {
        "Software": f"Lumina Mural {__version__}",
        "mural:source": source,
        "mural:seed": seed,
        "mural:palette": pal.name,
        "mural:size": f"{width}x{height}",
        "mural:fps": f"{float(rate):g}",
        "mural:start": f"{start:g}",
        "mural:end": f"{stop:g}",
    }
    if speed != 1:
        metadata["mural:speed"] = f"{speed:g}"
    mural = Wall(stream.events, size=(width, height), seed=seed, palette=pal, safety=safety)
    metadata["mural:flash-limiter"] = "on" if mural.guard.config.enabled else "OFF"
    writer = VideoWriter(
        output, (width, height), rate, crf=crf, force=force, preset=preset_for(size),
        metadata=metadata,
    )
    began = time.perf_counter()
    seek_seconds = 0.0
    loop_began = began

    def result(interrupted: bool) -> ExportResult:
        return ExportResult(
            path=path,
            kind=kind,
            frames=writer.frames_written,
            size=writer.output_size,
            fps=rate,
            start=start,
            end=stop,
            seek_seconds=seek_seconds,
            render_seconds=time.perf_counter() - loop_began,
            interrupted=interrupted,
        )

    try:
        with writer, cores_shared_with_the_encoder(), Progress(
            frames, quiet=quiet, label=path.name
        ) as bar:
            mural.advance_to(start)  # simulation only: no frame is composited on the way
            loop_began = time.perf_counter()
            seek_seconds = loop_began - began
            for index in range(frames):
                t = frame_time(start, index, rate, speed)
                mural.advance_to(t)
                frame = mural.render()
                if frame_hook is not None:
                    frame_hook(index, t, frame)
                writer.write(frame)
                bar.update()
    except KeyboardInterrupt:
        raise ExportInterrupted(result(True)) from None
    return result(False)


__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_SIZE",
    "ExportError",
    "ExportInterrupted",
    "ExportResult",
    "as_fraction",
    "cores_shared_with_the_encoder",
    "export_video",
    "frame_count",
    "frame_time",
    "preset_for",
    "usable_cores",
]
