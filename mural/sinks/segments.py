"""Segments of a farm export: H.264 in MPEG-TS per worker, joined by stream copy.

Every segment is encoded with the serial MP4 writer's filters (sinks.video.h264_filters),
preset, crf and GOP length, with closed GOPs and headers at each IDR, so the head can join the
segments with ffmpeg's concat demuxer and `-c copy` into a fragmented MP4 like the serial one.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from mural.sinks.video import MP4_MOVFLAGS, gop_frames, h264_filters

__all__ = ["TsSegmentWriter", "concat_mp4", "packet_times", "presentation_times",
           "x264_segment_args"]


def x264_segment_args(preset: str, crf: int, gop: int, threads: int | None = None) -> list[str]:
    """The encoder settings of every segment: the serial export's preset, crf and GOP, closed
    GOPs and headers at each IDR, so segments join by stream copy. `threads`: x264's threads
    (None: its own choice, 1.5 per core)."""
    params = f"keyint={gop}:open-gop=0:repeat-headers=1"
    if threads is not None:
        params += f":threads={threads}"
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-g", str(gop),
            "-x264-params", params]


class TsSegmentWriter:
    """One segment as H.264 in MPEG-TS: raw frames piped into ffmpeg.

    `background`: a thread feeds ffmpeg from a small queue of frame copies, so the next frame
    renders while ffmpeg takes this one (a worker with cores to spare). Without it each frame
    goes straight into the pipe, one copy less per frame (measured 5% less CPU per segment
    where N workers share the cores, and no slower: ffmpeg reads its input on a thread of its
    own).
    """

    QUEUE = 4

    def __init__(self, path: Path, size: tuple[int, int], fps: Fraction, crf: int,
                 preset: str, threads: int | None = None, background: bool = True) -> None:
        self.path = path
        self.background = background
        self.fps = fps
        self.frames_written = 0
        self.output_size, chain = h264_filters(size)
        self._shape = (size[1], size[0], 3)
        self.cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}",
            "-framerate", str(fps), "-i", "pipe:0", "-an", "-vf", chain,
            *x264_segment_args(preset, crf, gop_frames(fps), threads),
            "-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0", "-y", str(path),
        ]  # fmt: skip
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=self._err,
                                     start_new_session=True)
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(self.QUEUE)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._feed, name="mural-segment-encoder",
                                        daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        try:
            while (frame := self._queue.get()) is not None:
                self.proc.stdin.write(memoryview(frame).cast("B"))
        except BaseException as exc:  # handed to the rendering thread
            self._error = exc
            with contextlib.suppress(queue.Empty):
                while True:  # unblock a writer waiting on a full queue
                    self._queue.get_nowait()

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != self._shape or frame.dtype != np.uint8:
            raise ValueError(f"expected a {self._shape} uint8 frame, got {frame.shape}")
        if self._error is not None:
            raise self._failure() from self._error
        if not self.background:
            try:
                self.proc.stdin.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
            except (BrokenPipeError, OSError) as exc:
                raise self._failure() from exc
        else:
            self._queue.put(np.array(frame, order="C", copy=True))
        self.frames_written += 1

    def _failure(self) -> RuntimeError:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._err.seek(0)
        said = self._err.read().decode("utf-8", "replace")[-2000:] or "(nothing)"
        return RuntimeError(f"ffmpeg failed on segment {self.path.name} (exit code "
                            f"{self.proc.returncode}); it said:\n{said}")

    def __enter__(self) -> TsSegmentWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is not None:
                self.proc.kill()
                self._queue.put(None)
                self._thread.join(timeout=10)
                self.proc.wait()
                return
            self._queue.put(None)
            self._thread.join()
            with contextlib.suppress(BrokenPipeError, OSError):
                self.proc.stdin.close()
            if self.proc.wait() != 0 or self._error is not None:
                raise self._failure()
        finally:
            self._err.close()


def concat_mp4(listing: Path, output: Path, metadata: Mapping[str, str]) -> None:
    """Join the segments named in `listing` (ffmpeg's concat format) into a fragmented MP4 at
    `output` without re-encoding; RuntimeError with ffmpeg's last words when it fails."""
    movflags = MP4_MOVFLAGS + ("+use_metadata_tags" if metadata else "")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error",
           "-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v", "-c", "copy",
           "-movflags", movflags]
    for key, value in metadata.items():
        cmd += ["-metadata", f"{key}={value}"]
    cmd += ["-f", "mp4", "-y", str(output)]
    done = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode("utf-8", "replace")[-1500:])


def packet_times(path: str | Path) -> list[int]:
    """Decode timestamps (DTS, in the stream's time base) of every video packet of a file, in
    file order, read without decoding (ffmpeg's framecrc muxer with stream copy)."""
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i",
         str(path), "-map", "0:v", "-c", "copy", "-f", "framecrc", "-"],
        capture_output=True, stdin=subprocess.DEVNULL, check=False)
    times = []
    for line in done.stdout.decode("ascii", "replace").splitlines():
        if line and not line.startswith("#"):
            parts = [p.strip() for p in line.split(",")]
            times.append(int(parts[1]))
    return times


def presentation_times(path: str | Path) -> list[int]:
    """Presentation timestamps of every video packet (the same listing as packet_times)."""
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i",
         str(path), "-map", "0:v", "-c", "copy", "-f", "framecrc", "-"],
        capture_output=True, stdin=subprocess.DEVNULL, check=False)
    return [int(line.split(",")[2]) for line in done.stdout.decode("ascii", "replace")
            .splitlines() if line and not line.startswith("#")]
