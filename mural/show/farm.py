"""The render farm: one export cut into segments, rendered by Dask workers, joined by ffmpeg.

`mural video SOURCE -o OUT --workers N` starts a local Dask cluster of N worker processes;
`--scheduler tcp://HOST:PORT` uses an existing one (`dask scheduler`, `dask worker`). Dask is
the optional extra `lumina-mural[farm]`, imported only here and only when a farm is asked for.

Design notes, so the choices survive later edits:

* Segments are frames [k0, k1) of the export, so their boundaries fall on frame times, and a
  worker renders exactly the frames the serial export would: the same `render_span`, frame k at
  `frame_time(start, k, fps, speed)`, from a wall restored from a checkpoint at or before the
  segment's first moment (a complete version 2 state: bit-identical frames). A session's pause
  holds belong to the segment of the first frame at or after them, its palette cues to whoever
  needs them (those after the checkpoint).
* Checkpoints: with `--checkpoints DIR` each segment starts from the nearest one and
  fast-forwards; otherwise the head makes one at every segment start in a single simulation
  pass (about 30x real time) that runs just ahead of the workers: a segment is handed out as
  soon as its checkpoint exists, at most two per worker thread in flight, so memory stays
  bounded and the first workers start at once.
* What travels: the stream's events go to the workers as canonical JSON lines, compressed, in
  one task whose result every segment depends on (copied worker to worker, decoded once per
  worker process and checked against the stream's fingerprint), never a path only the head
  can read. Each segment task carries its checkpoint's bytes in the task itself. So when a
  worker dies the scheduler still holds everything needed to re-run its work elsewhere (Dask's
  `allowed-failures` for killed workers, `retries` for errors); scattered data would be lost
  with the last worker holding it.
* What comes back: on a local cluster the workers write their segment straight into the
  head's staging folder (the same disk; nothing is copied through the scheduler); on a remote
  cluster they return the segment's bytes (an MPEG-TS file, or the PNGs) and the head writes
  them, since a remote worker's disk is not the head's. Either way a finished segment lands in
  `.OUT.farm/` atomically and the manifest there lists it, so Ctrl-C keeps every finished
  segment and `--resume` renders only the others.
* MP4: every segment is encoded by x264 with the serial export's preset, crf, filters and GOP
  length (`-g` = 2 s), closed GOPs (`open-gop=0`), headers repeated at each IDR, into MPEG-TS
  (a self-contained stream: the first frame of every segment is an IDR frame). The head joins
  the segments with ffmpeg's concat demuxer and `-c copy` (no re-encoding) into a fragmented
  MP4 like the serial writer's, then checks the packets: exactly fps x duration frames with
  strictly increasing timestamps. Frames folders are joined by moving the PNGs into place, so
  they are byte-identical to a serial export's.
* Threads: on a local cluster each worker renders on one numba thread and encodes on
  cores / N x264 threads (N renderers and N encoders share the cores; one x264 thread per core
  costs about 9% less CPU per frame than x264's default 1.5 per core); on a remote worker,
  half its cores per task for rendering and x264's own choice, as serially.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mural._version import __version__
from mural.engine.engine import Personal
from mural.engine.kernels import thread_budget
from mural.events import Event, Problem, event_from_dict
from mural.events.errors import MuralError
from mural.render.palette import Palette
from mural.safety.guard import SafetyConfig
from mural.show.checkpoint import (
    Checkpoint,
    checkpoint_pass,
    later_cues,
    open_checkpoints,
    plan_identity,
    restore_checkpoint,
)
from mural.show.palettes import load_palette
from mural.show.provenance import merged, provenance
from mural.show.state import canonical_line, stream_fingerprint
from mural.show.video import (
    ExportError,
    ExportInterrupted,
    ExportResult,
    PaletteCue,
    VideoJob,
    as_fraction,
    check_rate,
    frame_time,
    planned_export,
    preset_for,
    render_span,
    usable_cores,
)
from mural.show.wall import Wall
from mural.sinks.png import save_png
from mural.sinks.progress import Progress, format_duration
from mural.sinks.segments import TsSegmentWriter, concat_mp4, packet_times
from mural.sinks.video import FRAME_PATTERN, gop_frames, h264_size, output_kind

FARM_EXTRA = "lumina-mural[farm]"
FARM_KINDS = ("mp4", "frames")
MANIFEST_NAME = "farm.json"
MANIFEST_FORMAT = "lumina-mural-farm"
MANIFEST_VERSION = 1
# Segments per task slot when the farm chooses. A remote cluster gets several (machines differ:
# balance, and a small re-run on a failure); a local one gets one (its workers are alike, and
# each further segment costs the head a longer simulation pass and the workers an encoder
# start: on 2 cores, 2 segments instead of 8 took a 60 s 1080p farm export from ~41 to ~38 s).
SEGMENTS_PER_SLOT = {"remote": 4, "local": 1}
MAX_SEGMENT_SECONDS = 60.0  # of video, when the farm chooses
REMOTE_SEGMENT_BYTES = 256 * 2**20  # raw frames per returned PNG segment, at most
PROGRESS_EVERY_S = 1.0  # how often a worker reports its frames
TOPIC = "mural-farm"

Observer = Callable[[dict[str, Any]], None]
# A local cluster does one thing, on cores its renderers and encoders need: no statistical
# profiler sampling the workers every 10 ms, no GIL monitor, event-loop health checks and
# resource monitors at a slow pace, no active memory manager (one segment per
# worker; work stealing stays: it moves a segment queued behind a busy worker to one that
# came up later). Idle, the head and two workers spent ~45, 30 and 40 ms of CPU a second
# without this.
LOCAL_FARM_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.system-monitor.disk": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.active-memory-manager.start": False,
    "distributed.deploy.cluster-repr-interval": "10s",
    "distributed.client.scheduler-info-interval": "10s",
}


def config_env(config: Mapping[str, Any]) -> dict[str, str]:
    """Dask settings as the environment variables a `dask worker` process reads."""
    return {"DASK_" + key.replace(".", "__").replace("-", "_").upper(): str(value)
            for key, value in config.items()}


class FarmError(MuralError, ValueError):
    """A farm export that cannot run: Dask missing, an output the farm cannot join, a
    scheduler that cannot be reached, a staging folder from another export ..."""


class FarmInterrupted(ExportInterrupted):
    """Ctrl-C during a farm export: the finished segments stay in the staging folder and
    `hint` says how to continue (`--resume`)."""

    def __init__(self, result: ExportResult, hint: str) -> None:
        super().__init__(result)
        self.hint = hint


@dataclass(frozen=True)
class FarmOptions:
    """Where and how a farm export runs.

    `workers`: a local Dask cluster of that many worker processes; `scheduler`: the address of
    an existing cluster (tcp://HOST:PORT). `segment_seconds`: seconds of video per segment
    (default: one per local worker, four per remote task slot, whole GOPs, at most a minute
    each). `threads`: numba threads per segment (default 1 on a local cluster, half a remote
    worker's cores per task).
    `observe(event)` sees the farm's events (submitted, progress, done) on the head.
    """

    workers: int | None = None
    scheduler: str | None = None
    resume: bool = False
    segment_seconds: float | None = None
    threads: int | None = None
    retries: int = 2
    shared: bool | None = None  # workers write into the staging folder (default: local only)
    observe: Observer | None = None

    def check(self) -> None:
        if (self.workers is None) == (self.scheduler is None):
            raise FarmError("a farm needs either a number of local workers (--workers N) or "
                            "a scheduler address (--scheduler tcp://HOST:PORT), not both")
        if self.workers is not None and not 1 <= self.workers <= 1024:
            raise FarmError(f"--workers must be 1..1024, got {self.workers}")
        if self.scheduler is not None and "://" not in self.scheduler:
            raise FarmError(f"--scheduler must be an address like tcp://HOST:PORT, got "
                            f"{self.scheduler!r}")
        if self.segment_seconds is not None and not (
                math.isfinite(self.segment_seconds) and self.segment_seconds > 0):
            raise FarmError(f"segment length must be a positive number of seconds, got "
                            f"{self.segment_seconds!r}")
        if self.threads is not None and self.threads < 1:
            raise FarmError(f"threads per worker must be at least 1, got {self.threads}")


def import_distributed() -> Any:
    """dask.distributed, or a FarmError that names the extra to install."""
    try:
        import distributed
    except ImportError as exc:
        raise FarmError(
            f"the render farm (--workers, --scheduler) needs Dask, which is not installed "
            f"({exc.msg}): pip install '{FARM_EXTRA}'") from None
    return distributed


# -- segments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Frames [k0, k1) of an export; its first written frame is `first` of the whole export
    (holds before it counted) and it writes `written` frames; it starts rendering at `begin`
    (its first frame, or an earlier hold it owns)."""

    index: int
    k0: int
    k1: int
    first: int
    written: int
    begin: float


def plan_segments(job: VideoJob, *, slots: int, kind: str, size: tuple[int, int],
                  segment_seconds: float | None = None, remote: bool = False,
                  cuts: Sequence[int] = ()) -> list[Segment]:
    """Cut a video into segments on frame boundaries (whole GOPs for MP4).

    With `segment_seconds`, segments of that many seconds of video (the last one shorter).
    Otherwise SEGMENTS_PER_SLOT per task slot, at most a minute each, as even as whole
    GOPs allow with the longer ones first, so the last segments to finish are the short ones.
    `cuts` (the first frames at or after given checkpoints) are boundaries as well, and the
    pieces between them are cut as above: a segment then restores its checkpoint exactly.
    """
    if cuts:
        inner = sorted({k for k in cuts if 0 < k < job.frames})
        bounds = [0, *inner, job.frames]
        whole = plan_segments(job, slots=slots, kind=kind, size=size,
                              segment_seconds=segment_seconds, remote=remote)
        longest = max(s.k1 - s.k0 for s in whole)
        pieces = []
        for k0, k1 in zip(bounds, bounds[1:], strict=False):
            parts = max(1, math.ceil((k1 - k0) / longest))
            step = math.ceil((k1 - k0) / parts)
            pieces += [(a, min(k1, a + step)) for a in range(k0, k1, step)]
        return _segments(job, [pieces[0][0]] + [b for _, b in pieces])
    fps = as_fraction(job.fps)
    total = job.frames
    unit = gop_frames(fps) if kind == "mp4" else 1
    cap = None
    if kind == "frames" and remote:  # a returned segment holds its PNGs in memory
        cap = max(1, REMOTE_SEGMENT_BYTES // (size[0] * size[1] * 3))
    if segment_seconds is not None:
        per = max(1, round(Fraction(segment_seconds) * fps))
        if cap is not None:
            per = min(per, cap)
        bounds = list(range(0, total, per)) + [total]
    else:
        units = math.ceil(total / unit)
        longest = max(1, math.floor(MAX_SEGMENT_SECONDS * fps / unit))
        if cap is not None:
            longest = max(1, min(longest, cap // unit))
        per_slot = SEGMENTS_PER_SLOT["remote" if remote else "local"]
        count = max(math.ceil(units / longest), min(units, per_slot * max(1, slots)))
        base, extra = divmod(units, count)
        bounds = [0]
        for index in range(count):
            bounds.append(min(total, bounds[-1] + (base + (index < extra)) * unit))
    return _segments(job, bounds)


def _segments(job: VideoJob, bounds: Sequence[int]) -> list[Segment]:
    """Segments between consecutive frame boundaries, with their holds and first frames."""
    segments = []
    first = 0
    for index, (k0, k1) in enumerate(zip(bounds, bounds[1:], strict=False)):
        part = replace(job, segment=(k0, k1))
        holds = part.owned_holds()
        begin = frame_time(job.start, k0, job.fps, job.speed)
        if holds:
            begin = min(begin, holds[0][0])
        written = part.written_frames()
        segments.append(Segment(index, k0, k1, first, written, begin))
        first += written
    return segments


def first_frame_at(job: VideoJob, t: float) -> int:
    """The first frame of a video shown at or after time t."""
    fps = as_fraction(job.fps)
    k = max(0, math.ceil((Fraction(t) - Fraction(job.start)) * fps / Fraction(job.speed)))
    while frame_time(job.start, k, job.fps, job.speed) < t:
        k += 1
    while k > 0 and frame_time(job.start, k - 1, job.fps, job.speed) >= t:
        k -= 1
    return k


def staging_folder(output: Path) -> Path:
    """Where a farm export keeps its segments until they are joined: `.NAME.farm` beside it."""
    name = output.name or "frames"
    return output.parent / f".{name}.farm"


# -- what a worker is given -------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentTask:
    """Everything a worker needs to render one segment (picklable plain values)."""

    run: str
    segment: Segment
    job: VideoJob
    kind: str
    size: tuple[int, int]
    seed: int
    palette: Palette
    personal: dict[str, Personal]
    safety: SafetyConfig
    cues: tuple[PaletteCue, ...]
    fingerprint: tuple[str, int]
    identity: dict[str, Any]
    source_name: str
    preset: str
    checkpoint: tuple[float, int] | None  # (t, step) of the checkpoint sent with the task
    shared_dir: str | None  # write the segment here (shared with the head), else return it
    threads: int | None  # numba threads (None: half the worker's cores per task slot)
    encoder_threads: int | None = None  # x264 threads (None: x264's own choice)
    version: str = __version__


@dataclass
class SegmentResult:
    """What a worker hands back: its frames, and the segment's bytes when not shared."""

    index: int
    frames: int
    name: str  # seg-000003.ts or seg-000003 (a folder of PNGs) in the staging folder
    data: bytes | None = None
    pngs: list[tuple[str, bytes]] | None = None
    seconds: float = 0.0
    pid: int = 0
    host: str = ""


def encode_events(events: Sequence[Event]) -> bytes:
    """The stream for the workers: canonical JSON lines, zlib-compressed."""
    text = "\n".join(canonical_line(e) for e in events)
    return zlib.compress(text.encode("utf-8"), 6)


def decode_events(payload: bytes, fingerprint: tuple[str, int]) -> list[Event]:
    """The stream back from `encode_events`, checked against its fingerprint."""
    text = zlib.decompress(payload).decode("utf-8")
    events = [event_from_dict(json.loads(line)) for line in text.split("\n") if line]
    if stream_fingerprint(events) != tuple(fingerprint):
        raise FarmError("the stream reached this worker changed (its fingerprint differs): "
                        "is the worker running the same Lumina Mural as the head?")
    return events


def _hold(payload: bytes) -> bytes:
    """The stream's payload as a task's result (see farm_render)."""
    return payload


_EVENTS_CACHE: dict[tuple[str, int], list[Event]] = {}  # per worker process: decoded once
_CACHE_LOCK = threading.Lock()


def _events_for(payload: bytes, fingerprint: tuple[str, int]) -> list[Event]:
    key = tuple(fingerprint)
    with _CACHE_LOCK:
        events = _EVENTS_CACHE.get(key)
        if events is None:
            events = decode_events(payload, fingerprint)
            _EVENTS_CACHE.clear()  # one stream at a time per worker
            _EVENTS_CACHE[key] = events
    return events


# -- segment writers (on the worker) ----------------------------------------------------------


class PngSegmentWriter:
    """One segment of a frames folder: frame_NNNNNN.png numbered as in the whole export, with
    the serial writer's metadata, so every file is byte-identical to the serial one."""

    def __init__(self, folder: Path, first: int, size: tuple[int, int], fps: Fraction,
                 metadata: Mapping[str, object]) -> None:
        self.folder = folder
        self.first = first
        self.fps = fps
        self.output_size = size
        self.frames_written = 0
        self.metadata = {str(k): str(v) for k, v in metadata.items()}
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, frame: np.ndarray) -> None:
        index = self.first + self.frames_written
        save_png(self.folder / FRAME_PATTERN.format(index), frame,
                 {**self.metadata, "frame": str(index)})
        self.frames_written += 1

    def __enter__(self) -> PngSegmentWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def segment_name(index: int, kind: str) -> str:
    return f"seg-{index:06d}.ts" if kind == "mp4" else f"seg-{index:06d}"


def render_segment(task: SegmentTask, payload: bytes, checkpoint: bytes | None) -> SegmentResult:
    """On a worker: restore the segment's checkpoint, render its frames through render_span
    and encode them; write them into the shared staging folder or return their bytes."""
    began = time.perf_counter()
    if task.version != __version__:
        raise FarmError(f"this worker runs Lumina Mural {__version__}, the head "
                        f"{task.version}: frames would differ; install the same version")
    import numba

    threads = task.threads or _remote_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    events = _events_for(payload, task.fingerprint)
    seg, job, kind = task.segment, task.job, task.kind
    work = Path(task.shared_dir) if task.shared_dir else Path(tempfile.mkdtemp(prefix="mural-"))
    name = segment_name(seg.index, kind)
    partial = work / f".{name}.{os.getpid()}.{secrets.token_hex(3)}.partial"
    try:
        restored: Checkpoint | None = None
        if checkpoint is not None and task.checkpoint is not None:
            ck_path = work / f"{partial.name}.npz"
            ck_path.write_bytes(checkpoint)
            try:
                restored = Checkpoint(task.checkpoint[0], ck_path, task.checkpoint[1])
                wall = restore_checkpoint(restored, events, task.identity, safety=task.safety,
                                          personal=task.personal)
            finally:
                ck_path.unlink(missing_ok=True)
        else:
            wall = Wall(events, size=task.size, seed=task.seed, palette=task.palette,
                        safety=task.safety, personal=task.personal)
        last = frame_time(job.start, seg.k1 - 1, job.fps, job.speed)
        holds = job.owned_holds()
        if holds:
            last = max(last, holds[-1][0])
        cues = [c for c in later_cues(task.cues, restored) if float(c.t) <= last]
        reporter = _Reporter(task, began)

        def open_writer(job: VideoJob, size: tuple[int, int], fps: Fraction,
                        meta: Mapping[str, object]) -> Any:
            if kind == "mp4":
                return TsSegmentWriter(partial, size, fps, job.crf, task.preset,
                                       task.encoder_threads,
                                       background=task.encoder_threads is None)
            return PngSegmentWriter(partial, seg.first, size, fps, meta)

        span = render_span(wall, videos=[job], cues=cues, source=task.source_name, force=True,
                           quiet=True, frame_hook=reporter.frame, open_writer=open_writer)
        frames = span.videos[0][1] if span.videos else 0
        if frames != seg.written:
            raise FarmError(f"segment {seg.index} wrote {frames} frames, expected "
                            f"{seg.written}")
        result = SegmentResult(seg.index, frames, name, pid=os.getpid(), host=_host())
        if task.shared_dir:
            target = work / name
            if target.exists():  # a re-run of a segment whose first run also finished
                _remove(target)
            os.replace(partial, target)
        elif kind == "mp4":
            result.data = partial.read_bytes()
        else:
            result.pngs = [(p.name, p.read_bytes()) for p in sorted(partial.iterdir())]
        result.seconds = time.perf_counter() - began
        return result
    finally:
        if partial.exists():
            _remove(partial)
        if not task.shared_dir:
            shutil.rmtree(work, ignore_errors=True)


def _remote_threads() -> int:
    """Numba threads per task on a worker that did not say: half its cores per task slot."""
    slots = 1
    with contextlib.suppress(Exception):
        from distributed import get_worker

        slots = max(1, get_worker().state.nthreads)
    return max(1, usable_cores() // 2 // slots)


def _host() -> str:
    with contextlib.suppress(Exception):
        from distributed import get_worker

        return str(get_worker().address)
    return ""


class _Reporter:
    """Sends the head a worker's frame count now and then (a Dask event)."""

    def __init__(self, task: SegmentTask, began: float) -> None:
        self.task = task
        self.began = began
        self.last = 0.0
        self.done = 0
        self.worker: Any = None
        with contextlib.suppress(Exception):
            from distributed import get_worker

            self.worker = get_worker()

    def frame(self, index: int, t: float, frame: np.ndarray) -> None:
        self.done = index + 1
        now = time.perf_counter()
        if self.worker is not None and (self.done == 1 or now - self.last >= PROGRESS_EVERY_S):
            self.last = now
            with contextlib.suppress(Exception):
                self.worker.log_event(TOPIC, {"run": self.task.run, "kind": "progress",
                                              "segment": self.task.segment.index,
                                              "frames": self.done, "pid": os.getpid()})


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# -- the head ---------------------------------------------------------------------------------


@dataclass
class FarmResult:
    """How a farm export went, beside its ExportResult."""

    export: ExportResult
    segments: int
    reused: int  # segments kept from an interrupted run (--resume)
    rendered: list[SegmentResult] = field(default_factory=list)
    checkpoint_seconds: float = 0.0  # the head's simulation pass
    join_seconds: float = 0.0
    workers: int = 0
    moved: int = 0  # segments whose progress came from more than one worker process

    def summary(self) -> str:
        line = self.export.summary()
        reused = f", {self.reused} kept from before" if self.reused else ""
        rerun = f", {self.moved} re-run elsewhere" if self.moved else ""
        return (f"{line} on {self.workers} worker{'s' if self.workers != 1 else ''} "
                f"({self.segments} segments{reused}{rerun}; head simulation "
                f"{self.checkpoint_seconds:.1f}s)")


class Cluster:
    """A Dask client: on a new local cluster of N worker processes, or on an existing
    scheduler.

    The local cluster is a scheduler in this process and N `dask worker` processes, started
    first (they find the scheduler through an address file) and in their own sessions: the
    terminal's Ctrl-C reaches only the head, which stops them itself, and they never re-run
    the head's main script (as multiprocessing's spawn would).
    They run without nannies (a nanny is one more interpreter per worker, about 1.3 s of CPU
    to start on this machine): a worker that dies is not restarted, its segment is re-run by
    the others.
    """

    def __init__(self, options: FarmOptions) -> None:
        options.check()
        self.options = options
        self.local = options.workers is not None
        self._cluster: Any = None
        self._procs: list[subprocess.Popen] = []
        self._logs: list[Any] = []  # each local worker's output, for its last words
        self._rendezvous: str | None = None  # the local scheduler's address file
        self.client: Any = None
        self.events: collections.deque[dict[str, Any]] = collections.deque()
        try:
            if self.local:
                if importlib.util.find_spec("distributed") is None:
                    import_distributed()  # the FarmError naming the extra
                # The workers start first: their interpreters load Dask and Lumina Mural
                # while this one loads Dask and starts the scheduler, and they connect once
                # its address file appears.
                self._rendezvous = tempfile.mkdtemp(prefix="mural-farm-")
                address_file = os.path.join(self._rendezvous, "scheduler.json")
                self._spawn_workers(options, address_file)
                distributed = import_distributed()
                import logging

                import dask

                with warnings.catch_warnings(), dask.config.set(LOCAL_FARM_CONFIG):
                    warnings.simplefilter("ignore")  # "port 8787 in use" for its health routes
                    self._cluster = distributed.SpecCluster(
                        scheduler={"cls": _local_scheduler(distributed), "options": {
                            "host": "127.0.0.1", "port": 0, "protocol": "tcp://",
                            "dashboard": False, "dashboard_address": None,
                            "scheduler_file": address_file}},
                        workers={}, silence_logs=logging.ERROR, scheduler_sync_interval=30)
                    self.client = distributed.Client(self._cluster)
                # not waiting for the workers: the head's simulation pass starts meanwhile
            else:
                distributed = import_distributed()
                self.client = distributed.Client(options.scheduler, timeout="10s")
                self.client.wait_for_workers(1, timeout=60)
        except OSError as exc:
            self.close()
            raise FarmError(f"cannot reach the Dask scheduler at {options.scheduler}: "
                            f"{exc}") from None
        except TimeoutError:
            self.close()
            where = (f"the {options.workers} local workers" if self.local
                     else f"a worker of {options.scheduler}")
            raise FarmError(f"{where} did not come up in time") from None
        except BaseException:
            self.close()
            raise
        self.client.subscribe_topic(TOPIC, lambda event: self.events.append(event[1]))

    def _spawn_workers(self, options: FarmOptions, address_file: str) -> None:
        """N `dask worker` processes in their own sessions, waiting for `address_file`."""
        threads = options.threads or 1
        env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), **config_env(LOCAL_FARM_CONFIG)}
        for i in range(options.workers or 0):
            log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            self._logs.append(log)
            self._procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker",
                 "--scheduler-file", address_file, "--preload", __name__,
                 "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"mural-{i}",
                 "--host", "127.0.0.1", "--death-timeout", "60"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True))

    @property
    def shared(self) -> bool:
        return self.options.shared if self.options.shared is not None else self.local

    @property
    def worker_pids(self) -> list[int]:
        """The local workers' process ids, for tests and logs."""
        return [p.pid for p in self._procs]

    def slots(self) -> tuple[int, int]:
        """(worker processes, task slots) of the cluster (the local one: as it will be)."""
        if self.local:
            return self.options.workers, self.options.workers
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        slots = sum(int(w.get("nthreads", 1)) for w in workers.values())
        return len(workers), max(1, slots)

    def last_words(self, limit: int = 1500) -> str:
        """The end of the last local worker's output."""
        for log in reversed(self._logs):
            with contextlib.suppress(OSError, ValueError):
                log.seek(0)
                text = log.read().decode("utf-8", "replace").strip()
                if text:
                    return text[-limit:]
        return "(nothing)"

    def check_alive(self, since: float) -> None:
        """FarmError when the local workers are gone or never came (2 minutes)."""
        if not self.local:
            return
        if self._procs and all(p.poll() is not None for p in self._procs):
            raise FarmError(f"every local Dask worker exited; the last one said:\n"
                            f"{self.last_words()}")
        if time.monotonic() - since > 120 and not self.client.scheduler_info(
                n_workers=-1).get("workers"):
            raise FarmError("the local Dask workers did not come up within 2 minutes")

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close(timeout=10)
            self.client = None
        for proc in self._procs:  # each in its own session: its group is it and its worker
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs = []
        for log in self._logs:
            with contextlib.suppress(OSError):
                log.close()
        self._logs = []
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close(timeout=10)
            self._cluster = None
        if self._rendezvous is not None:
            shutil.rmtree(self._rendezvous, ignore_errors=True)
            self._rendezvous = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


LOCAL_HEARTBEAT_S = 2.0  # Dask's own choice for up to 10 workers is 0.5 s


def _local_scheduler(distributed: Any) -> type:
    """A Dask scheduler that asks its workers for a heartbeat every LOCAL_HEARTBEAT_S.

    Each heartbeat cost a worker ~6 ms of CPU (gathering and sending its metrics) and the
    head ~1.5 ms: at Dask's 0.5 s, most of an idle local worker's CPU. A local worker that
    dies closes its connection at once, so nothing waits on a heartbeat to notice it.
    """

    class LocalFarmScheduler(distributed.Scheduler):
        def heartbeat_worker(self, **kwargs: Any) -> dict[str, Any]:
            reply = super().heartbeat_worker(**kwargs)
            if "heartbeat-interval" in reply:
                reply["heartbeat-interval"] = max(reply["heartbeat-interval"],
                                                  LOCAL_HEARTBEAT_S)
            return reply

    return LocalFarmScheduler


def _job_record(job: VideoJob) -> dict[str, Any]:
    fps = as_fraction(job.fps)
    return {"target": str(job.target), "start": job.start, "end": job.end,
            "fps": [fps.numerator, fps.denominator], "speed": job.speed, "crf": job.crf,
            "holds": [list(h) for h in job.holds],
            "metadata": {str(k): str(v) for k, v in (job.metadata or {}).items()}}


class _Staging:
    """The staging folder of one export: finished segments and the manifest naming them."""

    def __init__(self, folder: Path, record: dict[str, Any], resume: bool, force: bool,
                 output: Path) -> None:
        self.folder = folder
        self.record = record
        self.done: dict[int, dict[str, Any]] = {}
        manifest = folder / MANIFEST_NAME
        if folder.exists():
            old = None
            with contextlib.suppress(OSError, ValueError):
                old = json.loads(manifest.read_text(encoding="utf-8"))
            if resume and old is not None:
                if {k: old.get(k) for k in ("format", "version", "identity", "job", "kind")} != {
                        k: record[k] for k in ("format", "version", "identity", "job", "kind")}:
                    raise FarmError(
                        f"{folder} holds segments of another export (other stream, settings "
                        f"or output); run without --resume and with --force to start again")
                self.record["segments"] = old["segments"]
                for key, entry in dict(old.get("done", {})).items():
                    if (folder / entry["name"]).exists():
                        self.done[int(key)] = entry
                for seg in self.segments:  # finished by a worker after the head stopped:
                    name = segment_name(seg.index, record["kind"])  # (renamed in whole)
                    if seg.index not in self.done and (folder / name).exists():
                        self.done[seg.index] = {"name": name, "frames": seg.written}
            elif resume:
                raise FarmError(f"nothing to resume for {output}: {folder} holds no farm "
                                "manifest")
            elif not force:
                raise FileExistsError(
                    f"{folder} holds an interrupted farm export of {output}: --resume "
                    "continues it, --force starts again")
            else:
                shutil.rmtree(folder)
        elif resume:
            raise FarmError(f"nothing to resume for {output}: no {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        self.write()

    @property
    def segments(self) -> list[Segment]:
        return [Segment(*s) for s in self.record["segments"]]

    def write(self) -> None:
        data = {**self.record, "done": {str(k): v for k, v in sorted(self.done.items())}}
        tmp = self.folder / f".{MANIFEST_NAME}.partial"
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.folder / MANIFEST_NAME)

    def finish(self, result: SegmentResult) -> None:
        """A segment is done: its file is in place (written here if it came as bytes)."""
        target = self.folder / result.name
        if result.data is not None or result.pngs is not None:
            partial = self.folder / f".{result.name}.head.partial"
            _remove(partial)
            if result.data is not None:
                partial.write_bytes(result.data)
            else:
                partial.mkdir()
                for name, data in result.pngs or ():
                    (partial / name).write_bytes(data)
            _remove(target)
            os.replace(partial, target)
        self.done[result.index] = {"name": result.name, "frames": result.frames}
        self.write()


def farm_render(
    cluster: Cluster,
    events: Sequence[Event],
    job: VideoJob,
    *,
    size: tuple[int, int],
    seed: int,
    palette: Palette | str,
    personal: Mapping[str, Personal] | None = None,
    safety: SafetyConfig | None = None,
    cues: Sequence[PaletteCue] = (),
    source_name: str,
    checkpoints: str | Path | None = None,
    force: bool = False,
    quiet: bool = True,
    label: str = "",
) -> FarmResult:
    """Render one video (its palette cues and holds included) on a cluster, frame-exactly:
    the same frames as `render_span` on one wall. See the module notes."""
    options = cluster.options
    began = time.perf_counter()
    output = Path(job.target)
    kind = _farm_kind(job.target)
    job.check(size)
    safety = safety or SafetyConfig()
    pal = load_palette(palette)
    personal = dict(personal or {})
    cues = tuple(sorted(cues, key=lambda c: float(c.t)))
    events = sorted(events, key=lambda e: e.t)
    fingerprint = stream_fingerprint(events)
    identity = plan_identity(size=size, seed=seed, palette=pal, personal=personal,
                             safety=safety, cues=cues, fingerprint=fingerprint)
    if kind == "mp4" and output.exists() and not force:
        raise FileExistsError(f"{output} exists (use --force to overwrite)")
    if kind == "mp4" and output.is_dir():
        raise IsADirectoryError(f"{output} is a directory, not an mp4 file")
    if kind == "frames":
        _check_frames_folder(output, force)
    given = open_checkpoints(checkpoints, identity) if checkpoints is not None else None

    workers, slots = cluster.slots()
    remote = not cluster.shared
    folder = staging_folder(output.absolute())  # absolute: workers have their own cwd
    record = {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "identity": identity,
        "job": _job_record(job), "kind": kind,
        "segments": [list(asdict(s).values()) for s in plan_segments(
            job, slots=slots, kind=kind, size=size, segment_seconds=options.segment_seconds,
            remote=remote, cuts=[first_frame_at(job, c.t) for c in given.checkpoints]
            if given is not None else ())],
    }
    staging = _Staging(folder, record, options.resume, force, output)
    segments = staging.segments
    reused = len(staging.done)
    todo = [s for s in segments if s.index not in staging.done]
    total = sum(s.written for s in segments)

    # The serial export's provenance: its palette is the one a fresh wall shows at the start.
    limiter = safety.enabled
    fps = as_fraction(job.fps)
    meta = merged(provenance(source=source_name, seed=seed, palette=pal.name, size=size,
                             limiter=limiter, fps=f"{float(fps):g}", start=job.start,
                             end=job.end, speed=job.speed if job.speed != 1 else None),
                  job.metadata)
    segment_job = replace(job, metadata={**(job.metadata or {}), "mural:palette": pal.name})
    base = dict(run=secrets.token_hex(6), job=segment_job, kind=kind, size=tuple(size),
                seed=seed, palette=pal, personal=personal, safety=safety, cues=cues,
                fingerprint=fingerprint, identity=identity, source_name=source_name,
                preset=preset_for(size), threads=options.threads or (1 if cluster.local
                                                                     else None),
                encoder_threads=(max(1, usable_cores() // workers) if cluster.local
                                 else None),
                shared_dir=str(folder) if cluster.shared else None)
    client = cluster.client
    result = FarmResult(ExportResult(output, kind, 0, (0, 0), fps, job.start, job.end, 0.0, 0.0),
                        len(segments), reused, workers=workers)
    sim_seconds = 0.0

    def handed_out() -> Iterator[tuple[Segment, tuple[float, int] | None, bytes | None]]:
        """Each segment to do with its checkpoint, made just in time by one simulation pass
        when none were given."""
        nonlocal sim_seconds
        if given is not None:
            for seg in todo:
                ck = given.nearest(seg.begin)
                yield seg, (ck.t, ck.step) if ck else None, (
                    ck.path.read_bytes() if ck else None)
            return
        need = [s for s in todo if s.begin > 0]
        busy = False  # does a worker have a segment yet?
        for seg in todo:
            if seg.begin <= 0:
                busy = True
                yield seg, None, None
        if not need:
            return
        mark = time.perf_counter()
        run = checkpoint_pass(events, folder / "checkpoints", times=[s.begin for s in need],
                              size=size, seed=seed, palette=pal, personal=personal,
                              safety=safety, cues=cues, source_name=source_name, force=True,
                              fingerprint=fingerprint)
        # While no worker has a segment, the head simulates on every core (the local workers,
        # started first, are up and idle by then). On a local cluster, once one has, the head
        # shares the cores with workers that render and encode: one thread, so no OpenMP
        # thread of its spins while another process holds the core (from t=0 on 2 cores that
        # halved the head's pass).
        with contextlib.ExitStack() as shared:
            if cluster.local and busy:
                shared.enter_context(thread_budget(1))
            for ck in run:
                sim_seconds += time.perf_counter() - mark
                for seg in [s for s in need if s.begin == ck.t]:
                    yield seg, (ck.t, ck.step), ck.path.read_bytes()
                if cluster.local and not busy:
                    busy = True
                    shared.enter_context(thread_budget(1))
                mark = time.perf_counter()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the stream is a large argument
        # A task, not scattered data: if every worker holding it dies, the scheduler makes it
        # again from the task itself (scattered data would be lost, and every segment with it).
        payload = client.submit(_hold, encode_events(events), key=f"mural-{base['run']}-events",
                                pure=False)
    pending: dict[Any, Segment] = {}
    seen: dict[int, set[int]] = collections.defaultdict(set)
    progress: dict[int, int] = {}
    window = 2 * slots
    source = handed_out()
    exhausted = False
    started = time.monotonic()
    with Progress(total, quiet=quiet, label=label or output.name) as bar:
        bar.update(sum(s.written for s in segments if s.index in staging.done))
        try:
            while pending or not exhausted:
                while not exhausted and len(pending) < window:
                    nxt = next(source, None)
                    if nxt is None:
                        exhausted = True
                        break
                    seg, ck, data = nxt
                    task = SegmentTask(**{**base, "job": replace(
                        base["job"], segment=(seg.k0, seg.k1))}, segment=seg, checkpoint=ck)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # a checkpoint is a large argument
                        future = client.submit(render_segment, task, payload, data,
                                               key=f"mural-{base['run']}-seg-{seg.index:06d}",
                                               retries=options.retries, pure=False)
                    pending[future] = seg
                    _observe(options, {"kind": "submitted", "segment": seg.index})
                if not pending:
                    continue
                done, _ = _wait(cluster, list(pending))
                if not done:
                    cluster.check_alive(started)
                for future in done:
                    seg = pending.pop(future)
                    try:
                        got = future.result()
                    except MuralError:
                        raise
                    except Exception as exc:  # a segment that failed past its retries
                        raise FarmError(f"segment {seg.index} (frames {seg.k0}..{seg.k1 - 1})"
                                        f" failed: {type(exc).__name__}: {exc}") from None
                    staging.finish(got)
                    result.rendered.append(got)
                    seen[seg.index].add(got.pid)
                    bar.update(seg.written - progress.get(seg.index, 0))
                    progress[seg.index] = seg.written
                    _observe(options, {"kind": "done", "segment": seg.index,
                                       "seconds": got.seconds, "pid": got.pid})
                _drain(cluster, options, base["run"], bar, progress, seen, staging)
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):
                client.cancel(list(pending), force=True)
            kept = sum(s.written for s in segments if s.index in staging.done)
            result.export = replace(result.export, path=folder, frames=kept, size=size,
                                    render_seconds=time.perf_counter() - began,
                                    interrupted=True)
            hint = (f"{len(staging.done)} of {len(segments)} segments ({kept} of {total} "
                    f"frames) are kept in {folder}; run the same command with --resume to "
                    "render only the rest")
            raise FarmInterrupted(result.export, hint) from None
    result.checkpoint_seconds = sim_seconds
    result.moved = sum(1 for pids in seen.values() if len(pids) > 1)
    joined = time.perf_counter()
    out_size = _join(staging, segments, kind, output, meta, force, total)
    result.join_seconds = time.perf_counter() - joined
    shutil.rmtree(folder, ignore_errors=True)
    result.export = ExportResult(output, kind, total, out_size, fps, job.start, job.end,
                                 0.0, time.perf_counter() - began)
    return result


def staging_size(staging: _Staging) -> tuple[int, int]:
    size = staging.record["identity"]["size"]
    return int(size[0]), int(size[1])


def _farm_kind(target: str) -> str:
    try:
        kind = output_kind(target)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    if kind not in FARM_KINDS:
        raise FarmError(f"{target}: the render farm makes .mp4 files and PNG frame folders "
                        f"(it joins segments without re-encoding); render a .{kind} without "
                        "--workers/--scheduler, or make an .mp4 and convert it")
    return kind


def _check_frames_folder(folder: Path, force: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise FileExistsError(f"{folder} is not empty (use --force to overwrite)")


def _wait(cluster: Cluster, futures: list[Any]) -> tuple[set[Any], set[Any]]:
    distributed = import_distributed()
    try:
        done, rest = distributed.wait(futures, timeout=0.25, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return set(), set(futures)
    return set(done), set(rest)


def _observe(options: FarmOptions, event: dict[str, Any]) -> None:
    if options.observe is not None:
        options.observe(event)


def _drain(cluster: Cluster, options: FarmOptions, run: str, bar: Progress,
           progress: dict[int, int], seen: dict[int, set[int]], staging: _Staging) -> None:
    """Workers' frame counts into the progress bar (a segment's count never goes back)."""
    while cluster.events:
        event = cluster.events.popleft()
        if not isinstance(event, dict) or event.get("run") != run:
            continue
        index = int(event.get("segment", -1))
        if index in staging.done:
            continue
        seen[index].add(int(event.get("pid", 0)))
        frames = int(event.get("frames", 0))
        if frames > progress.get(index, 0):
            bar.update(frames - progress.get(index, 0))
            progress[index] = frames
        _observe(options, {**event, "kind": "progress"})


def _join(staging: _Staging, segments: list[Segment], kind: str, output: Path,
          meta: Mapping[str, str], force: bool, total: int) -> tuple[int, int]:
    """The finished segments as the one output; returns its frame size."""
    folder = staging.folder
    if kind == "frames":
        output.mkdir(parents=True, exist_ok=True)
        if force:
            for old in output.glob("frame_*.png"):
                old.unlink()
        size = (0, 0)
        for seg in segments:
            for png in sorted((folder / segment_name(seg.index, kind)).iterdir()):
                os.replace(png, output / png.name)
        first = output / FRAME_PATTERN.format(0)
        if first.exists():
            from PIL import Image

            with Image.open(first) as image:
                size = image.size
        return size
    listing = folder / "segments.txt"
    listing.write_text("".join(f"file '{segment_name(s.index, kind)}'\n" for s in segments),
                       encoding="utf-8")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{secrets.token_hex(4)}.partial")
    try:
        try:
            concat_mp4(listing, tmp, meta)
        except RuntimeError as exc:
            raise FarmError(f"ffmpeg could not join the segments in {folder}: {exc}") from exc
        times = packet_times(tmp)
        if len(times) != total or any(b <= a for a, b in zip(times, times[1:], strict=False)):
            raise FarmError(f"the joined video has {len(times)} frames, expected {total}, or "
                            f"timestamps out of order; the segments are kept in {folder}")
        if output.exists() and force:
            _remove(output)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return h264_size(staging_size(staging))


def farm_export(
    source: str | Sequence[Event],
    output: str | Path,
    farm: FarmOptions,
    *,
    fps: float | Fraction = 30,
    size: tuple[int, int] = (1280, 720),
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
    source_name: str | None = None,
    checkpoints: str | Path | None = None,
) -> FarmResult:
    """`export_video` on a render farm: the same arguments and the same frames (bit for bit in
    a frames folder; within encoder noise in an MP4), rendered by Dask workers in segments.

    Raises FarmError when Dask is missing (naming the extra to install) or the farm cannot
    run; FarmInterrupted (an ExportInterrupted) on Ctrl-C, keeping the finished segments for
    `farm.resume`.
    """
    farm.check()
    _farm_kind(str(output))
    check_rate(fps, speed)
    pal = load_palette(palette)
    found, name, job = planned_export(source, output, fps=fps, size=size, start=start,
                                      end=end, speed=speed, crf=crf, strict=strict,
                                      on_problem=on_problem, source_name=source_name)
    events = list(found)
    with Cluster(farm) as cluster:
        return farm_render(cluster, events, job, size=size, seed=seed, palette=pal,
                           personal=personal, safety=safety, source_name=name,
                           checkpoints=checkpoints, force=force, quiet=quiet,
                           label=Path(output).name)


def describe_speed(result: FarmResult) -> str:
    """One line on where the time went (for logs and the README's figures)."""
    export = result.export
    per = [r.seconds for r in result.rendered]
    mean = sum(per) / len(per) if per else 0.0
    return (f"{format_duration(export.render_seconds)} in all: head simulation "
            f"{result.checkpoint_seconds:.1f}s, join {result.join_seconds:.1f}s, "
            f"{len(per)} segments at {mean:.1f}s each on average")


__all__ = [
    "FARM_EXTRA",
    "Cluster",
    "FarmError",
    "FarmInterrupted",
    "FarmOptions",
    "FarmResult",
    "Segment",
    "SegmentTask",
    "describe_speed",
    "farm_export",
    "farm_render",
    "import_distributed",
    "plan_segments",
    "render_segment",
    "staging_folder",
]
