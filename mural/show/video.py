"""Offline video: the ONE pipeline that renders frames, stills and cues of a span in time order.

`mural video`, `mural run` and the Python API all render through `render_span`.

Design notes:

* Frame k of a video is the mural at `start + k*speed/fps` (exact rational arithmetic), whatever
  the machine's speed, so two exports with the same arguments hold identical frames.
* The plan is lazy: every video's frame times, every still and every cue are generated in time
  order and merged as they are rendered, so a long span costs no memory before its first frame.
  At one moment, cues apply first (in file order), then stills, then the frame.
* The wall is composited at the output size only, fast-forwarded without compositing between
  moments, and frames are encoded on the writer's background thread while the next one renders.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mural.engine.engine import Personal
from mural.events import Event, Problem
from mural.events.errors import MuralError
from mural.render.palette import Palette
from mural.safety.guard import SafetyConfig
from mural.show.checkpoint import wall_at
from mural.show.palettes import load_palette
from mural.show.provenance import merged, provenance
from mural.show.wall import Wall
from mural.sinks.png import save_png
from mural.sinks.progress import Progress, format_duration
from mural.sinks.video import EncoderStalled, VideoWriter, ffmpeg_size_problem, output_kind
from mural.sources.offline import load_offline

DEFAULT_FPS = 30
DEFAULT_SIZE = (1280, 720)
FAST_PRESET_MAX_PIXELS = 1280 * 720  # up to 720p "veryfast"; above, "superfast" keeps pace
MIN_FPS, MAX_FPS = 1.0, 240.0
MIN_SPEED, MAX_SPEED = 1 / 16, 1024.0
MAX_VIDEO_SECONDS = 24 * 3600.0  # one output holds at most a day of footage

FrameHook = Callable[[int, float, np.ndarray], None]
# (job, size, fps, metadata) -> a writer: write(frame), frames_written, output_size, fps, `with`
OpenWriter = Callable[..., Any]


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
        if self.interrupted and self.frames == 0:  # the writer leaves no empty file behind
            return (f"nothing written to {self.path}: stopped before the first frame "
                    f"(after {self.seek_seconds + self.render_seconds:.1f}s)")
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


def check_rate(fps: float | Fraction, speed: float = 1.0) -> Fraction:
    """A frame rate and speed within what they mean (ExportError names the bad one)."""
    rate = as_fraction(fps) if math.isfinite(float(fps)) else Fraction(0)
    if not MIN_FPS <= rate <= MAX_FPS:
        raise ExportError(f"fps must be {MIN_FPS:g}..{MAX_FPS:g}, got {fps:g}")
    if not (math.isfinite(speed) and MIN_SPEED <= speed <= MAX_SPEED):
        raise ExportError(f"speed must be {MIN_SPEED:g}..{MAX_SPEED:g}, got {speed:g}")
    return rate


@dataclass(frozen=True)
class VideoJob:
    """One video of a span: frames at start + k*speed/fps; `holds` repeat the frame at a
    moment for that many seconds of video (a session's pause cues)."""

    target: str
    start: float
    end: float
    fps: float | Fraction = DEFAULT_FPS
    speed: float = 1.0
    crf: int = 20
    holds: tuple[tuple[float, float], ...] = ()
    metadata: Mapping[str, object] | None = None
    segment: tuple[int, int] | None = None  # render only frames [k0, k1) (a farm segment)

    @property
    def frames(self) -> int:
        """Frames of the whole video (a segment's job included)."""
        return frame_count(self.start, self.end, self.fps, self.speed)

    def held_frames(self, t: float) -> int:
        """Frames a hold of `t` seconds lasts at this rate (at least one)."""
        return max(1, math.floor(Fraction(str(t)) * as_fraction(self.fps) + Fraction(1, 2)))

    def frame_range(self) -> tuple[int, int]:
        """The frames [k0, k1) this job renders: all of them, or its segment's."""
        return self.segment if self.segment is not None else (0, self.frames)

    def owned_holds(self) -> list[tuple[float, float]]:
        """The holds (time, seconds) this job writes, in time order: a hold at `at` is written
        just before the first frame at or after `at` (after the last frame when none is), so
        it belongs to the segment holding that frame."""
        k0, k1 = self.frame_range()
        holds = sorted((float(t), s) for t, s in self.holds if self.start <= t < self.end)
        after = frame_time(self.start, k0 - 1, self.fps, self.speed) if k0 > 0 else -math.inf
        upto = (frame_time(self.start, k1 - 1, self.fps, self.speed) if k1 < self.frames
                else math.inf)
        return [(t, s) for t, s in holds if after < t <= upto]

    def written_frames(self) -> int:
        """Frames this job writes: its frames and the repeats of its holds."""
        k0, k1 = self.frame_range()
        return k1 - k0 + sum(self.held_frames(s) for _, s in self.owned_holds())

    def check(self, size: tuple[int, int]) -> None:
        """ExportError for a video that cannot be made (bad rate, empty or endless span)."""
        check_rate(self.fps, self.speed)
        kind = _kind(self.target)
        problem = ffmpeg_size_problem(size) if kind in ("mp4", "webm") else None
        if problem:
            raise ExportError(f"{self.target}: {problem}")
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ExportError(f"{self.target}: the span must be finite")
        if self.frames < 1:
            raise ExportError(f"nothing to export between {self.start:g}s and {self.end:g}s "
                              f"at {float(as_fraction(self.fps)):g} fps")
        seconds = float(Fraction(self.frames) / as_fraction(self.fps))
        if seconds > MAX_VIDEO_SECONDS:
            raise ExportError(f"{self.target}: {format_duration(seconds)} of video is more "
                              f"than one output holds ({format_duration(MAX_VIDEO_SECONDS)}); "
                              "split the span")


@dataclass(frozen=True)
class StillJob:
    """A PNG of the moment `t` at `size` (None: the span's size)."""

    target: str
    t: float
    size: tuple[int, int] | None = None
    metadata: Mapping[str, object] | None = None


@dataclass(frozen=True)
class PaletteCue:
    """At `t`, regrade toward `palette` over `fade` seconds of mural time."""

    t: float
    palette: Palette | str
    fade: float = 0.0


@dataclass
class SpanResult:
    """What a span wrote: per video its writer's frames and size, per still its path."""

    videos: list[tuple[VideoJob, int, tuple[int, int], Fraction]] = field(default_factory=list)
    stills: list[tuple[StillJob, tuple[int, int]]] = field(default_factory=list)
    seek_seconds: float = 0.0
    render_seconds: float = 0.0
    interrupted: bool = False

    def lines(self) -> list[str]:
        out = [f"wrote {job.target} ({w}x{h}, t={job.t:g}s)" for job, (w, h) in self.stills]
        out += [f"wrote {job.target}: {frames} frames, {w}x{h} @ {float(fps):g} fps"
                for job, frames, (w, h), fps in self.videos]
        return out


_CUE, _STILL, _FRAME = 0, 1, 2  # at one moment: cues first, then stills, then the frame


def _moments(videos: Sequence[VideoJob], stills: Sequence[StillJob],
             cues: Sequence[PaletteCue]) -> Iterator[tuple[float, int, int, object]]:
    """Every moment of the span in time order, generated lazily: (t, kind, order, what)."""

    def frames(index: int, job: VideoJob) -> Iterator[tuple[float, int, int, object]]:
        holds = job.owned_holds()
        first, stop = job.frame_range()
        for k in range(first, stop):
            t = frame_time(job.start, k, job.fps, job.speed)
            while holds and holds[0][0] <= t:
                at, seconds = holds.pop(0)
                yield at, _FRAME, index, (index, job.held_frames(seconds))
            yield t, _FRAME, index, (index, 1)
        for at, seconds in holds:  # after the last frame, still inside the span
            yield at, _FRAME, index, (index, job.held_frames(seconds))

    streams: list[Iterable[tuple[float, int, int, object]]] = [
        frames(i, job) for i, job in enumerate(videos)]
    streams.append(sorted(((float(c.t), _CUE, i, c) for i, c in enumerate(cues)),
                          key=lambda m: m[:3]))
    streams.append(sorted(((float(s.t), _STILL, i, s) for i, s in enumerate(stills)),
                          key=lambda m: m[:3]))
    return heapq.merge(*streams, key=lambda m: m[:3])


def still_frame(wall: Wall, size: tuple[int, int]) -> np.ndarray:
    """The wall's current moment composited at `size` (the simulation keeps its own size)."""
    if tuple(size) == wall.compositor.size:
        return wall.render().copy()
    own = wall.compositor.size
    wall.set_render_size(size)
    try:
        return wall.render().copy()
    finally:
        wall.set_render_size(own)


def render_span(
    wall: Wall,
    *,
    videos: Sequence[VideoJob] = (),
    stills: Sequence[StillJob] = (),
    cues: Sequence[PaletteCue] = (),
    source: str,
    force: bool = False,
    quiet: bool = True,
    label: str = "",
    say: Callable[[str], None] = lambda line: None,
    frame_hook: FrameHook | None = None,
    open_writer: OpenWriter | None = None,
) -> SpanResult:
    """Render every video frame, still and palette cue of a span in time order on one wall.

    Every output carries the same provenance (source, seed, palette, size, limiter state).
    Raises ExportInterrupted (a KeyboardInterrupt) on Ctrl-C after keeping what was rendered
    (a playable, shorter file); ExportError before anything is written for a job that cannot
    work; FileExistsError for existing outputs unless `force`.
    `open_writer(job, size, fps, metadata)` replaces the VideoWriter of each video (the render
    farm's segment encoders); a job with a `segment` renders only those frames.
    """
    size = wall.compositor.size
    for job in videos:
        job.check(size)
    for still in stills:
        if Path(still.target).exists() and not force:
            raise FileExistsError(f"{still.target} exists (use --force to overwrite)")
    result = SpanResult()
    total = sum(job.written_frames() for job in videos) + len(stills)
    limiter = wall.guard.config.enabled
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        writers: list[VideoWriter] = []
        for job in videos:
            meta = merged(provenance(source=source, seed=wall.config.seed,
                                     palette=wall.palette.name, size=size, limiter=limiter,
                                     fps=f"{float(as_fraction(job.fps)):g}", start=job.start,
                                     end=job.end, speed=job.speed if job.speed != 1 else None),
                          job.metadata)
            if open_writer is not None:
                writer = open_writer(job, size, as_fraction(job.fps), meta)
            else:
                writer = VideoWriter(job.target, size, as_fraction(job.fps), crf=job.crf,
                                     force=force, preset=preset_for(size), metadata=meta)
            writers.append(stack.enter_context(writer))

        def keep(interrupted: bool) -> SpanResult:
            result.videos = [(job, w.frames_written, w.output_size, w.fps)
                             for job, w in zip(videos, writers, strict=False)]
            result.render_seconds = time.perf_counter() - began - result.seek_seconds
            result.interrupted = interrupted
            return result

        try:
            if writers:
                stack.enter_context(cores_shared_with_the_encoder())
            bar = stack.enter_context(Progress(total, quiet=quiet, label=label))
            frame: np.ndarray | None = None
            frame_t: float | None = None
            rendered = 0  # distinct frames so far: the frame hook's index
            first = True
            for t, kind, _, what in _moments(videos, stills, cues):
                wall.advance_to(t)  # simulation only between moments
                if first:
                    result.seek_seconds = time.perf_counter() - began
                    first = False
                if kind == _CUE:
                    cue = what
                    wall.set_palette(load_palette(cue.palette), cue.fade)
                    frame_t = None
                elif kind == _STILL:
                    job = what
                    image = still_frame(wall, job.size or size)
                    shape = (image.shape[1], image.shape[0])
                    save_png(job.target, image, merged(provenance(
                        source=source, seed=wall.config.seed, palette=wall.palette.name,
                        size=shape, limiter=limiter, time=t), job.metadata))
                    result.stills.append((job, shape))
                    say(f"wrote {job.target} ({shape[0]}x{shape[1]}, t={t:g}s)")
                    bar.update()
                else:
                    index, repeats = what
                    if frame_t != t:  # videos at the same moment share one render
                        frame, frame_t = wall.render(), t
                        if frame_hook is not None:
                            frame_hook(rendered, t, frame)
                        rendered += 1
                    for _ in range(repeats):
                        writers[index].write(frame)
                        bar.update()
        except KeyboardInterrupt:
            try:
                stack.close()
            except EncoderStalled as stalled:  # stopped hard: what it wrote is still kept
                say(str(stalled))
            raise ExportInterrupted(_span_export(keep(True), videos)) from None
        stack.close()
        return keep(False)


def _span_export(span: SpanResult, videos: Sequence[VideoJob]) -> ExportResult:
    """The first video of a span as an ExportResult (what `mural video` reports)."""
    if not span.videos:
        job = videos[0]
        return ExportResult(Path(job.target), _kind(job.target), 0, (0, 0),
                            as_fraction(job.fps), job.start, job.end, span.seek_seconds,
                            span.render_seconds, span.interrupted)
    job, frames, size, fps = span.videos[0]
    return ExportResult(Path(job.target), _kind(job.target), frames, size, fps, job.start,
                        job.end, span.seek_seconds, span.render_seconds, span.interrupted)


def _kind(target: str) -> str:
    try:
        return output_kind(target)  # the text: a trailing "/" asks for a frames folder
    except ValueError as exc:
        raise ExportError(str(exc)) from None


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGHUP) stop an export the way Ctrl-C does: the file written so far is
    finished and kept under its real name (main thread only; restored afterwards)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(number: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {n: signal.signal(n, interrupt) for n in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def planned_export(
    source: str | Sequence[Event],
    output: str | Path,
    *,
    fps: float | Fraction,
    size: tuple[int, int],
    start: float,
    end: float | None,
    speed: float,
    crf: int,
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
    source_name: str | None = None,
) -> tuple[Sequence[Event], str, VideoJob]:
    """An export's events (time-sorted), its source's name and its checked VideoJob, read
    the same way for the serial export and the farm (ExportError for an empty span)."""
    if isinstance(source, str):
        stream = load_offline(source, strict=strict, on_problem=on_problem)
        events, name = stream.events, source_name or source
    else:
        events, name = sorted(source, key=lambda e: e.t), source_name or "api"
    last = max((e.t for e in events), default=0.0)
    stop = last if end is None else end
    job = VideoJob(str(output), start, stop, fps, speed, crf)
    try:
        job.check(size)
    except ExportError as exc:
        hint = " (the stream ends there; give --end)" if end is None and job.frames < 1 else ""
        raise ExportError(f"{exc}{hint}") from None
    return events, name, job


def export_video(
    source: str | Sequence[Event],
    output: str | Path,
    *,
    fps: float | Fraction = DEFAULT_FPS,
    size: tuple[int, int] = DEFAULT_SIZE,
    start: float = 0.0,
    end: float | None = None,
    seed: int = 0,
    palette: Palette | str = "abyss",
    speed: float = 1.0,
    crf: int = 20,
    force: bool = False,
    quiet: bool = False,
    strict: bool = False,
    safety: SafetyConfig | None = None,
    personal: Mapping[str, Personal] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    frame_hook: FrameHook | None = None,
    source_name: str | None = None,
    checkpoints: str | Path | None = None,
) -> ExportResult:
    """Render SOURCE (a SOURCE string, or events) from `start` to `end` (default: its last
    event) into `output`: one video through `render_span`.

    `speed` > 1 makes a time-lapse: each second of video covers `speed` seconds of SOURCE.
    `checkpoints` (a folder from `mural checkpoint`) starts from the latest checkpoint at or
    before `start` instead of simulating from 0: the same frames, bit for bit (CheckpointError
    for a folder made for another stream, seed, size, palette ...).
    Raises ExportInterrupted (a KeyboardInterrupt) on Ctrl-C after keeping what was rendered;
    SourceError for live or unreadable sources; FileExistsError unless `force`.
    `frame_hook(index, t, frame)` sees every frame before it is queued (the buffer is reused).
    The render farm (`--workers`, `--scheduler`) is mural.show.farm.farm_export.
    """
    _kind(str(output))
    check_rate(fps, speed)
    pal = load_palette(palette)
    events, name, job = planned_export(source, output, fps=fps, size=size, start=start,
                                       end=end, speed=speed, crf=crf, strict=strict,
                                       on_problem=on_problem, source_name=source_name)
    began = time.perf_counter()
    wall, _ = wall_at(checkpoints, start, events, size=size, seed=seed, palette=pal,
                      personal=personal, safety=safety)
    restored = time.perf_counter() - began
    span = render_span(wall, videos=[job], source=name, force=force, quiet=quiet,
                       label=Path(output).name, frame_hook=frame_hook)
    span.seek_seconds += restored
    return _span_export(span, [job])


__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_SIZE",
    "ExportError",
    "ExportInterrupted",
    "ExportResult",
    "PaletteCue",
    "SpanResult",
    "StillJob",
    "VideoJob",
    "as_fraction",
    "check_rate",
    "cores_shared_with_the_encoder",
    "export_video",
    "frame_count",
    "frame_time",
    "preset_for",
    "render_span",
    "still_frame",
    "terminate_as_interrupt",
    "usable_cores",
]
