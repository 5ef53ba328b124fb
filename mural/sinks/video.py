"""Video sink: streams rendered frames into MP4, WebM, GIF or a folder of PNGs."""

# Design notes, so the choices survive later edits:
#
# * Encoding overlaps rendering. `VideoWriter.write` copies the frame into a small
#   bounded queue and returns; one background thread feeds the encoder. A failure in that
#   thread is re-raised on the next `write` or on `close`.
# * Ctrl-C leaves a playable file of everything written so far, under the real name.
#   ffmpeg runs in its own session, so the terminal's SIGINT reaches only Python; leaving
#   the `with` block (for any reason) closes ffmpeg's stdin, ffmpeg finishes the file, and
#   the temporary file is renamed onto the target. MP4 is additionally *fragmented*
#   (`frag_keyframe+empty_moov`, a keyframe every 2 s, each fragment flushed), so even a
#   hard stop (a second Ctrl-C while flushing, ffmpeg killed, power loss) leaves a
#   decodable file missing at most the last fragment. If Python itself is killed, ffmpeg
#   sees EOF and still completes the file, but it stays under its hidden `.partial` name.
#   The price is no `+faststart`: fragmented MP4 already carries its index up front, so
#   it still starts playing before it has fully downloaded.
# * H.264 and VP9 are written as yuv420p, the one pixel format every player decodes, with
#   BT.709 colour tags. yuv420p needs even sides for H.264: an odd width or height is
#   *cropped* by one pixel (the last column / row), see `VideoWriter.output_size`.
# * GIF is streamed to disk frame by frame (each frame quantized by Pillow to its own
#   256-colour palette with Floyd-Steinberg dithering), so memory stays at about one frame
#   however long the export; the trailer is written on close, also on interrupt.
# * A frames folder gets `frame_000000.png`... through `save_png`; every PNG appears
#   atomically, so an interrupted export is simply a shorter sequence.

from __future__ import annotations

import collections
import contextlib
import io
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import imageio_ffmpeg
import numpy as np
from PIL import Image

from mural.sinks.png import save_png

__all__ = ["COLOUR_FILTERS", "FRAME_PATTERN", "KINDS", "MP4_MOVFLAGS", "VideoWriter",
           "ffmpeg_size_problem", "gop_frames", "h264_filters", "h264_size", "output_kind",
           "probe_video"]

KINDS = ("mp4", "webm", "gif", "frames")
_SUFFIX_KIND = {".mp4": "mp4", ".webm": "webm", ".gif": "gif"}
FRAME_PATTERN = "frame_{:06d}.png"
QUEUE_FRAMES = 8  # frames buffered between renderer and encoder (8 x 6 MB at 1080p)
STALL_SECONDS = 20.0  # a flush whose encoder takes no frame for this long is stopped hard
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip
_STDERR_TAIL = 40  # lines of ffmpeg's stderr kept for error messages


MP4_MOVFLAGS = "+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets"
COLOUR_FILTERS = (
    "scale=out_color_matrix=bt709:out_range=tv",
    "format=yuv420p",
    "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv",
)


def gop_frames(fps: Fraction) -> int:
    """The keyframe (and MP4 fragment) interval: about 2 s of frames."""
    return max(1, round(float(fps) * 2))


def h264_size(size: tuple[int, int]) -> tuple[int, int]:
    """The frame size an MP4 gets: yuv420p needs even sides, so an odd one loses a pixel."""
    width, height = size
    return max(2, width - width % 2), max(2, height - height % 2)


def h264_filters(size: tuple[int, int]) -> tuple[tuple[int, int], str]:
    """(output size, ffmpeg filter chain) of an MP4 of frames of `size`: the odd pixel
    cropped, BT.709 yuv420p with its colour tags."""
    out = h264_size(size)
    crop = [f"crop={out[0]}:{out[1]}:0:0"] if out != tuple(size) else []
    return out, ",".join([*crop, *COLOUR_FILTERS])


FFMPEG_MAX_AREA = (2**31 - 1) // 8  # ffmpeg's av_image_check_size: (w+128)*(h+128) below this


def ffmpeg_size_problem(size: tuple[int, int]) -> str | None:
    """Why ffmpeg would refuse frames of this size, or None (said before anything renders)."""
    width, height = size
    if (width + 128) * (height + 128) >= FFMPEG_MAX_AREA:
        return (f"{width}x{height} is larger than ffmpeg accepts for a video frame "
                "(about 16000x16000 at most); export a frames folder instead")
    return None


def output_kind(path: str | os.PathLike[str]) -> str:
    """Which sink a path asks for: "mp4", "webm", "gif" or "frames" (a PNG folder).

    A folder is a path ending in a separator, an existing directory, or a name without
    a suffix; anything else must end in .mp4, .webm or .gif.
    """
    text = os.fspath(path)
    candidate = Path(text)
    kind = _SUFFIX_KIND.get(candidate.suffix.lower())
    if kind is not None and candidate.is_dir() and not text.endswith(("/", os.sep)):
        raise ValueError(f"{text} is an existing folder, not a {kind} file: choose another "
                         f"name, or end it with '/' for PNG frames in that folder")
    if text.endswith(("/", os.sep)) or candidate.is_dir() or not candidate.suffix:
        return "frames"
    if kind is None:
        raise ValueError(
            f"cannot export to {text!r}: unknown suffix {candidate.suffix!r}; use .mp4, "
            ".webm, .gif, or a folder for PNG frames (end the path with '/')"
        )
    return kind


class EncoderStalled(OSError):
    """The encoder took no frame for STALL_SECONDS while the writer was finishing (an OSError:
    like a full disk, the machine's refusal, reported as one line naming the file)."""


class VideoWriter:
    """Turns a sequence of HxWx3 uint8 frames into one export; use it as a context manager.

    `crf` is on the H.264 scale (0 lossless .. 51 worst; 18-23 looks clean); WebM maps
    it onto VP9's scale as `crf + 12`. `preset` is the x264 speed preset. Closing a
    writer that received no frames leaves no output.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        size: tuple[int, int],
        fps: float | Fraction,
        *,
        crf: int = 20,
        force: bool = False,
        preset: str = "veryfast",
        metadata: Mapping[str, object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = output_kind(path)
        self.path = Path(path)
        width, height = (int(side) for side in size)
        if width < 1 or height < 1:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {crf}")
        if preset not in X264_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; use one of {', '.join(X264_PRESETS)}")
        self.size = (width, height)
        self.fps = Fraction(fps).limit_denominator(1001 * 1000)
        self.frames_written = 0
        self._encoded = 0  # frames the worker has handed to the backend
        self._clock = clock
        self._shape = (height, width, 3)
        self._closed = False
        self._error: BaseException | None = None
        self._error_reported = False
        self._abandon = threading.Event()  # set on a hard stop: drop what is still queued
        meta = {str(k): str(v) for k, v in (metadata or {}).items()}

        self._tmp: Path | None = None
        if self.kind == "frames":
            _prepare_frames_dir(self.path, force)
            self._backend: _Backend = _FramesBackend(self.path, self.size, meta)
        else:
            if self.path.exists() and not force:
                raise FileExistsError(f"{self.path} exists (use force to overwrite)")
            if self.path.is_dir():
                raise IsADirectoryError(f"{self.path} is a directory, not a {self.kind} file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = _claim_temp_name(self.path)
            try:
                if self.kind == "gif":
                    self._backend = _GifBackend(self._tmp, self.size, self.fps, meta)
                else:
                    self._backend = _FfmpegBackend(
                        self._tmp, self.kind, self.size, self.fps, crf, preset, meta
                    )
            except BaseException:
                self._tmp.unlink(missing_ok=True)
                raise
        self.output_size: tuple[int, int] = self._backend.output_size
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._thread = threading.Thread(
            target=self._run, name=f"mural-{self.kind}-encoder", daemon=True
        )
        self._thread.start()

    # -- public -----------------------------------------------------------------------

    def write(self, frame: np.ndarray) -> None:
        """Queue one frame; blocks only while the encoder is QUEUE_FRAMES frames behind.

        The frame is copied, so the caller may reuse its buffer for the next frame.
        """
        if self._closed:
            raise ValueError(f"write to a closed VideoWriter ({self.path})")
        self._raise_worker_error()
        array = np.asarray(frame)
        if array.dtype != np.uint8 or array.shape != self._shape:
            raise ValueError(
                f"expected a {self._shape[0]}x{self._shape[1]}x3 uint8 frame for "
                f"{self.size[0]}x{self.size[1]} video, got {array.dtype} {array.shape}"
            )
        item = np.array(array, dtype=np.uint8, order="C", copy=True)
        while True:
            try:
                self._queue.put(item, timeout=0.1)
                break
            except queue.Full:
                self._raise_worker_error()  # a dead encoder must not block us forever
        self.frames_written += 1

    def close(self) -> None:
        """Flush queued frames, finish the file and move it onto the target name.

        A second Ctrl-C while flushing stops the encoder hard; what reached the disk
        (all complete MP4 fragments / GIF frames / PNGs) is still published.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._stop_worker()
            if self._error is not None:
                self._hard_stop()
                self._discard()
                if not self._error_reported:
                    self._error_reported = True
                    raise self._error
                return
            self._backend.finish()
            self._publish()
        except (KeyboardInterrupt, EncoderStalled):
            self._hard_stop()
            self._publish()
            raise
        except BaseException:
            self._hard_stop()
            self._discard()
            raise

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # Also on an exception (Ctrl-C included): keep what was rendered, playable.
        self.close()

    # -- internals ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                frame = self._queue.get()
                if frame is None or self._abandon.is_set():
                    return
                self._backend.encode(frame)
                self._encoded += 1
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc

    def _raise_worker_error(self) -> None:
        if self._error is not None and not self._error_reported:
            self._error_reported = True
            error = self._error
            if isinstance(error, OSError) and error.filename is None and error.strerror:
                raise OSError(error.errno, error.strerror, str(self.path)) from error
            raise error
        if self._error is not None:
            raise RuntimeError(f"the {self.kind} encoder for {self.path} already failed")

    def _stop_worker(self) -> None:
        """Let the worker encode what is queued and end. EncoderStalled if it takes no frame
        for STALL_SECONDS: a wedged encoder must not hold an export (or a SIGTERM) forever."""
        stop_queued = False
        seen, since = self._encoded, self._clock()
        while self._thread.is_alive():
            if stop_queued:
                self._thread.join(timeout=0.1)
            else:
                try:
                    self._queue.put(None, timeout=0.1)
                    stop_queued = True
                except queue.Full:
                    pass
            if self._encoded != seen:
                seen, since = self._encoded, self._clock()
            elif self._thread.is_alive() and self._clock() - since > STALL_SECONDS:
                raise EncoderStalled(
                    f"the {self.kind} encoder for {self.path} took no frame for "
                    f"{STALL_SECONDS:g} s; it was stopped, and what it had written is kept")

    def _hard_stop(self) -> None:
        """Stop now, without flushing; leaves whatever complete data is on disk."""
        self._abandon.set()
        self._backend.interrupt()  # ffmpeg is killed, so a blocked pipe write returns
        self._thread.join(timeout=10)
        if not self._thread.is_alive():  # never race the worker for the file
            self._backend.abort()

    def _publish(self) -> None:
        if self._tmp is None:  # frames folder: every PNG is already in place
            return
        if self.frames_written == 0 or not self._tmp.exists() or self._tmp.stat().st_size == 0:
            self._discard()
            return
        os.replace(self._tmp, self.path)
        self._tmp = None

    def _discard(self) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


def _claim_temp_name(target: Path) -> Path:
    """A fresh hidden file next to target (same filesystem, so the final rename is atomic).

    Created with the usual 0o666-minus-umask mode, unlike mkstemp's private 0o600.
    """
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
        except OSError as exc:  # a read-only folder, a full disk: say so of the target
            raise OSError(exc.errno, exc.strerror, str(target)) from exc


def _prepare_frames_dir(folder: Path, force: bool) -> None:
    """A non-empty folder counts as existing; force clears only our own frame files."""
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not force:
            raise FileExistsError(f"{folder} is not empty (use force to overwrite)")
        for old in folder.glob("frame_*.png"):
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)


class _Backend:
    """One encoder; encode() runs on the worker thread, finish()/abort() on the caller's."""

    output_size: tuple[int, int]

    def encode(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the file after the last frame (may raise)."""
        raise NotImplementedError

    def interrupt(self) -> None:
        """Unblock the worker at once; called from the caller's thread on a hard stop."""

    def abort(self) -> None:
        """Release everything, keeping what is already on disk; must not raise."""
        raise NotImplementedError


class _FramesBackend(_Backend):
    def __init__(self, folder: Path, size: tuple[int, int], metadata: dict[str, str]) -> None:
        self.folder = folder
        self.metadata = metadata
        self.index = 0
        self.output_size = size

    def encode(self, frame: np.ndarray) -> None:
        meta = {**self.metadata, "frame": str(self.index)}
        save_png(self.folder / FRAME_PATTERN.format(self.index), frame, meta)
        self.index += 1

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _FfmpegBackend(_Backend):
    """Raw RGB frames piped into the ffmpeg binary shipped with imageio-ffmpeg."""

    def __init__(
        self,
        target: Path,
        kind: str,
        size: tuple[int, int],
        fps: Fraction,
        crf: int,
        preset: str,
        metadata: dict[str, str],
    ) -> None:
        width, height = size
        if kind == "mp4":  # H.264 yuv420p needs even sides: crop the odd pixel off
            if width < 2 or height < 2:
                raise ValueError(f"{kind} needs frames at least 2x2, got {width}x{height}")
            self.output_size, chain = h264_filters(size)
        else:
            self.output_size, chain = size, ",".join(COLOUR_FILTERS)
        gop = gop_frames(fps)
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner", "-nostats", "-loglevel", "warning",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
            "-framerate", str(fps), "-i", "pipe:0",
            "-an", "-vf", chain, "-g", str(gop),
            "-flush_packets", "1",  # hand each fragment to the OS: a kill keeps it
        ]  # fmt: skip
        if kind == "mp4":
            movflags = MP4_MOVFLAGS
            if metadata:
                movflags += "+use_metadata_tags"  # keep our own keys, not just title etc.
            cmd += [
                "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
                "-movflags", movflags, "-f", "mp4",
            ]  # fmt: skip
        else:  # VP9 in realtime mode: faster than VP8 here, and better quality
            cmd += [
                "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
                "-row-mt", "1", "-threads", str(min(os.cpu_count() or 2, 8)),
                "-b:v", "0", "-crf", str(min(63, crf + 12)),
                "-f", "webm",
            ]  # fmt: skip
        for key, value in metadata.items():
            cmd += ["-metadata", f"{key}={value}"]
        cmd += ["-y", str(target)]
        self.cmd = cmd
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL)
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            **_detached_from_sigint(),
        )
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self._stdin: BinaryIO = self.proc.stdin
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, name="mural-ffmpeg-stderr", daemon=True
        )
        self._stderr_thread.start()

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._stderr_tail.append(line)

    def _failure(self, what: str) -> RuntimeError:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._stderr_thread.join(timeout=2)
        tail = "\n".join(self._stderr_tail) or "(ffmpeg printed nothing)"
        return RuntimeError(
            f"ffmpeg {what} (exit code {self.proc.returncode}).\n"
            f"command: {' '.join(self.cmd)}\nffmpeg said:\n{tail}"
        )

    def encode(self, frame: np.ndarray) -> None:
        try:
            self._stdin.write(memoryview(frame).cast("B"))
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise self._failure("stopped accepting frames") from exc

    def finish(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._stdin.close()  # EOF: ffmpeg flushes the encoder and writes its trailer
        self.proc.wait()
        self._stderr_thread.join(timeout=5)
        if self.proc.returncode != 0:
            raise self._failure("failed")

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def abort(self) -> None:
        self.interrupt()
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            self._stdin.close()
        self.proc.wait()


def _detached_from_sigint() -> dict[str, object]:
    """Keep the terminal's Ctrl-C away from ffmpeg: we close its stdin ourselves."""
    if sys.platform.startswith("win"):
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


class _GifBackend(_Backend):
    """Writes GIF blocks as frames arrive, so memory does not grow with the length.

    Pillow cannot append to a GIF, so each frame is quantized and LZW-coded by Pillow as
    a one-frame GIF in memory, and its image block is copied out with its palette made
    local. Delays are whole centiseconds; rounding error is carried to the next frame so
    the total length stays right (30 fps -> 3, 3, 4 cs ...). Above 50 fps the delay is
    clamped to 2 cs, since browsers slow smaller delays down to 10 cs.
    """

    def __init__(
        self, target: Path, size: tuple[int, int], fps: Fraction, metadata: dict[str, str]
    ) -> None:
        width, height = size
        if width > 0xFFFF or height > 0xFFFF:
            raise ValueError(f"GIF sides are limited to 65535 pixels, got {width}x{height}")
        self.output_size = size
        self.fps = fps
        self.index = 0
        self.file: BinaryIO = open(target, "wb")  # noqa: SIM115 - closed in finish/abort
        header = b"GIF89a" + _u16(width) + _u16(height) + b"\x00\x00\x00"
        header += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + _u16(0) + b"\x00"  # loop forever
        if metadata:
            text = "\n".join(f"{k}={v}" for k, v in metadata.items()).encode("utf-8")
            header += b"\x21\xfe" + _sub_blocks(text)
        self.file.write(header)

    def _delay_cs(self, index: int) -> int:
        step = Fraction(100) / self.fps
        return max(2, round((index + 1) * step) - round(index * step))

    def encode(self, frame: np.ndarray) -> None:
        image = Image.fromarray(frame, "RGB")
        palette = image.quantize(256, method=Image.Quantize.FASTOCTREE)
        indexed = image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
        buffer = io.BytesIO()
        indexed.save(buffer, format="GIF", optimize=False)
        block = _image_block_with_local_palette(buffer.getvalue())
        delay = self._delay_cs(self.index)
        control = b"\x21\xf9\x04\x04" + _u16(delay) + b"\x00\x00"  # disposal: keep
        self.file.write(control + block)
        self.index += 1

    def finish(self) -> None:
        if not self.file.closed:
            self.file.write(b"\x3b")
            self.file.close()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.finish()  # a trailer after the last whole frame is all a valid GIF needs


def _u16(value: int) -> bytes:
    return int(value).to_bytes(2, "little")


def _sub_blocks(data: bytes) -> bytes:
    chunks = [bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)]
    return b"".join(chunks) + b"\x00"


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while data[pos] != 0:
        pos += data[pos] + 1
    return pos + 1


def _image_block_with_local_palette(gif: bytes) -> bytes:
    """The first image of a GIF as descriptor + local colour table + LZW data."""
    if gif[:3] != b"GIF":
        raise ValueError("Pillow did not produce a GIF")
    packed = gif[10]
    pos = 13
    table, table_bits = b"", 0
    if packed & 0x80:
        table_bits = packed & 0x07
        table = gif[pos : pos + 3 * (2 << table_bits)]
        pos += len(table)
    while gif[pos] == 0x21:  # extensions (graphic control, comments): ours replace them
        pos = _skip_sub_blocks(gif, pos + 2)
    if gif[pos] != 0x2C:
        raise ValueError(f"unexpected GIF block 0x{gif[pos]:02x}")
    descriptor = bytearray(gif[pos : pos + 10])
    pos += 10
    if descriptor[9] & 0x80:  # already local
        table_bits = descriptor[9] & 0x07
        table = gif[pos : pos + 3 * (2 << table_bits)]
        pos += len(table)
    if not table:
        raise ValueError("GIF frame has no colour table")
    descriptor[9] = 0x80 | (descriptor[9] & 0x40) | table_bits
    end = _skip_sub_blocks(gif, pos + 1)  # LZW minimum code size, then data sub-blocks
    return bytes(descriptor) + table + gif[pos:end]


# -- probing ----------------------------------------------------------------------------

_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO_RE = re.compile(  # codec, pix_fmt(...), WxH
    r"Stream #\S+.*?: Video: (\w+)[^,]*?, (\w+)(?:\([^)]*\))?,.*?(\d+)x(\d+)"
)
_FPS_RE = re.compile(r"([\d.]+)(k?) (fps|tbr)")


def probe_video(path: str | os.PathLike[str]) -> dict[str, object]:
    """What an export really contains: frames, fps, width, height, codec, duration, ...

    MP4/WebM are read with the shipped ffmpeg (the frame count by decoding every frame),
    GIFs with Pillow, frames folders by listing `frame_*.png`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    kind = output_kind(path)
    if kind == "frames":
        return _probe_frames(path)
    if kind == "gif":
        return _probe_gif(path)
    return _probe_ffmpeg(path)


def _probe_ffmpeg(path: Path) -> dict[str, object]:
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )  # exits 1 ("no output file") by design: the header is all we want
    text = result.stderr.decode("utf-8", "replace")
    video = _VIDEO_RE.search(text)
    if video is None:
        raise ValueError(f"{path}: no video stream found; ffmpeg said:\n{text[-2000:]}")
    codec, pix_fmt, width, height = video[1], video[2], int(video[3]), int(video[4])
    line = text[video.start() :].splitlines()[0]
    fps = None
    for number, kilo, _unit in _FPS_RE.findall(line):
        fps = float(number) * (1000 if kilo else 1)
        break
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    duration = seconds
    match = _DURATION_RE.search(text)
    if match:
        hours, minutes, secs = match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(secs)
    return {
        "frames": frames,
        "fps": fps,
        "width": width,
        "height": height,
        "codec": codec,
        "pix_fmt": pix_fmt,
        "duration": duration,
    }


def _probe_gif(path: Path) -> dict[str, object]:
    with Image.open(path) as image:
        width, height = image.size
        durations = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            durations.append(int(image.info.get("duration", 0)))
        loop = image.info.get("loop")
    total = sum(durations) / 1000
    return {
        "frames": len(durations),
        "fps": len(durations) / total if total else None,
        "width": width,
        "height": height,
        "codec": "gif",
        "duration": total,
        "durations_ms": durations,
        "loop": loop,
    }


def _probe_frames(folder: Path) -> dict[str, object]:
    names = sorted(p.name for p in folder.glob("frame_*.png"))
    width = height = None
    if names:
        with Image.open(folder / names[0]) as first:
            width, height = first.size
    return {
        "frames": len(names),
        "fps": None,
        "width": width,
        "height": height,
        "codec": "png",
        "duration": None,
        "names": names,
    }
