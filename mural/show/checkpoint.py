"""Checkpoints: the whole mural saved every N seconds of a stream, in one simulation pass.

A still at minute 200, a video that starts late in a night, or one segment of a render-farm
export starts from the nearest checkpoint at or before its moment instead of simulating from
the start, and renders bit-identical frames (a checkpoint is a complete version 2 state file:
engine, safety limiter, palette schedule, personal colours, cursor; see mural.show.state).

A checkpoint folder holds `checkpoint-000060.npz`, `checkpoint-000120.npz` ... and `index.json`,
which says what they were made from: the stream's fingerprint, seed, size, engine config,
palette (and palette cues), personal colours, safety settings and the state format version. A
folder made from anything else is refused with a CheckpointError that names what differs, so a
stale or foreign folder can never give a subtly different frame.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from mural.engine.engine import EngineConfig, Personal
from mural.events import Event, Problem
from mural.events.errors import MuralError
from mural.render.palette import Palette
from mural.safety.guard import SafetyConfig
from mural.show.palettes import load_palette
from mural.show.state import VERSION, StateError, stream_fingerprint, value_fingerprint
from mural.show.wall import Wall
from mural.sinks.progress import Progress as ProgressBar
from mural.sources.offline import load_offline

INDEX_NAME = "index.json"
INDEX_FORMAT = "lumina-mural-checkpoints"
INDEX_VERSION = 1
DEFAULT_EVERY = 60.0
CHECKPOINT_GLOB = "checkpoint-*.npz"

Progress = Callable[[int, int], None]  # (checkpoints written, checkpoints in all)


class CheckpointError(MuralError, ValueError):
    """A checkpoint folder that cannot serve this render: missing, corrupt, stale or foreign
    (the message says which of stream, seed, size, version ... differs)."""


@dataclass(frozen=True)
class Checkpoint:
    """One saved moment: the mural as it stands at `t` (cues at t applied, frame not yet)."""

    t: float
    path: Path
    step: int


@dataclass(frozen=True)
class CheckpointSet:
    """A checkpoint folder as its index describes it."""

    folder: Path
    identity: dict[str, Any]
    checkpoints: tuple[Checkpoint, ...]
    source: str = ""
    every: float | None = None
    complete: bool = True
    seconds: float = 0.0  # wall time of the pass that wrote them (0 when read back)

    def nearest(self, t: float) -> Checkpoint | None:
        """The latest checkpoint at or before t, or None (start from the beginning)."""
        best = None
        for checkpoint in self.checkpoints:
            if checkpoint.t <= t:
                best = checkpoint
        return best

    def summary(self) -> str:
        if not self.checkpoints:
            return f"wrote no checkpoint to {self.folder} (the stream is shorter than one step)"
        times = [c.t for c in self.checkpoints]
        every = f"every {self.every:g}s, " if self.every else ""
        took = f" in {self.seconds:.1f}s" if self.seconds else ""
        return (f"wrote {len(times)} checkpoint{'s' if len(times) != 1 else ''} ({every}"
                f"t={times[0]:g}..{times[-1]:g}s) to {self.folder}{took}")


# -- identity ---------------------------------------------------------------------------------


def _palette_dict(palette: Palette | str) -> dict[str, Any]:
    return asdict(load_palette(palette))


def plan_identity(
    events: Iterable[Event] | None = None,
    *,
    size: tuple[int, int],
    seed: int,
    palette: Palette | str = "abyss",
    personal: Mapping[str, Personal] | None = None,
    safety: SafetyConfig | None = None,
    cues: Sequence[Any] = (),
    config: EngineConfig | None = None,
    fingerprint: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """What every frame of a render depends on, as plain values: checkpoints made for one
    identity serve only renders of the same identity.

    `cues` are palette cues (objects with t, palette, fade), applied in order.
    """
    stream, count = fingerprint or stream_fingerprint(events or ())
    engine = asdict(replace(config or EngineConfig(), size=tuple(size), seed=seed))
    engine["size"] = list(engine["size"])
    base = load_palette(palette)
    grades = {"base": asdict(base),
              "cues": [[float(c.t), _palette_dict(c.palette), float(c.fade)] for c in cues]}
    people = {pid: asdict(p) for pid, p in sorted((personal or {}).items())}
    return {
        "version": VERSION,
        "stream": stream,
        "events": count,
        "seed": int(seed),
        "size": [int(size[0]), int(size[1])],
        "config": value_fingerprint(engine),
        "palette": value_fingerprint(grades),
        "palette_name": base.name + (f" + {len(cues)} cue(s)" if cues else ""),
        "personal": value_fingerprint(people),
        "personal_count": len(people),
        "safety": value_fingerprint(asdict(safety or SafetyConfig())),
    }


def differences(made: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """What differs between the identity checkpoints were made with and the one wanted."""
    out = []
    if made.get("version") != wanted["version"]:
        out.append(f"state format version {made.get('version')!r} (this Lumina Mural writes "
                   f"version {wanted['version']})")
    if (made.get("stream"), made.get("events")) != (wanted["stream"], wanted["events"]):
        out.append(f"another stream ({made.get('events')} events, fingerprint "
                   f"{str(made.get('stream'))[:12]}; this one: {wanted['events']} events, "
                   f"{wanted['stream'][:12]})")
    if made.get("seed") != wanted["seed"]:
        out.append(f"seed {made.get('seed')} (this render: seed {wanted['seed']})")
    if made.get("size") != wanted["size"]:
        got = made.get("size")
        shown = f"{got[0]}x{got[1]}" if isinstance(got, list) and len(got) == 2 else repr(got)
        out.append(f"size {shown} (this render: {wanted['size'][0]}x{wanted['size'][1]})")
    if made.get("config") != wanted["config"]:
        out.append("another engine configuration")
    if made.get("palette") != wanted["palette"]:
        out.append(f"palette {made.get('palette_name')!r} (this render: "
                   f"{wanted['palette_name']!r})")
    if made.get("personal") != wanted["personal"]:
        out.append(f"other personal colours ({made.get('personal_count')} participants; this "
                   f"render: {wanted['personal_count']})")
    if made.get("safety") != wanted["safety"]:
        out.append("other flash-limiter settings")
    return out


# -- writing ----------------------------------------------------------------------------------


def checkpoint_name(t: float) -> str:
    """checkpoint-000060.npz for 60 s; fractional times keep their digits
    (checkpoint-000002.5.npz), so every moment has its own name."""
    whole = math.floor(t)
    rest = repr(float(t) - whole)[1:] if t != whole else ""
    return f"checkpoint-{whole:06d}{rest}.npz"


def checkpoint_times(every: float, end: float) -> list[float]:
    """every, 2*every, ... up to end (exact multiples)."""
    if not (math.isfinite(every) and every > 0):
        raise CheckpointError(f"checkpoints need a positive interval, got {every!r}")
    step = Fraction(every)
    times = []
    k = 1
    while step * k <= Fraction(end):
        times.append(float(step * k))
        k += 1
    return times


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _prepare_folder(folder: Path, force: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder")
    ours = [folder / INDEX_NAME, *folder.glob(CHECKPOINT_GLOB)] if folder.is_dir() else []
    ours = [p for p in ours if p.exists()]
    if ours and not force:
        raise FileExistsError(f"{folder} already holds checkpoints (use --force to replace them)")
    for path in ours:
        path.unlink()
    folder.mkdir(parents=True, exist_ok=True)


def write_checkpoints(
    events: Sequence[Event],
    folder: str | Path,
    every: float = DEFAULT_EVERY,
    *,
    size: tuple[int, int] = (1920, 1080),
    seed: int = 0,
    palette: Palette | str = "abyss",
    personal: Mapping[str, Personal] | None = None,
    safety: SafetyConfig | None = None,
    cues: Sequence[Any] = (),
    config: EngineConfig | None = None,
    source_name: str = "api",
    progress: Progress | None = None,
    end: float | None = None,
    times: Sequence[float] | None = None,
    force: bool = False,
    fingerprint: tuple[str, int] | None = None,
) -> CheckpointSet:
    """Simulate the stream once (no compositing) and save the whole mural every `every`
    seconds (or at `times`) up to `end` (default: the last event) into `folder`.

    Palette `cues` (objects with t, palette, fade) apply at their moments as a render's do; a
    checkpoint at t holds the cues at t. The index is rewritten after each checkpoint, so an
    interrupted pass leaves a usable (shorter) folder. FileExistsError for a folder that
    already holds checkpoints unless `force`.
    """
    run = checkpoint_pass(events, folder, every, size=size, seed=seed, palette=palette,
                          personal=personal, safety=safety, cues=cues, config=config,
                          source_name=source_name, end=end, times=times, force=force,
                          fingerprint=fingerprint)
    for done, _ in enumerate(run, 1):
        if progress is not None:
            progress(done, run.planned)
    return run.result


def checkpoint_recording(
    source: str,
    folder: str | Path,
    every: float = DEFAULT_EVERY,
    *,
    size: tuple[int, int] = (1920, 1080),
    seed: int = 0,
    palette: Palette | str = "abyss",
    safety: SafetyConfig | None = None,
    end: float | None = None,
    force: bool = False,
    quiet: bool = False,
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
) -> CheckpointSet:
    """`mural checkpoint`: `write_checkpoints` along a recording (or sim:SCENARIO), with a
    progress bar on stderr unless `quiet`."""
    stream = load_offline(source, strict=strict, on_problem=on_problem)
    folder = Path(folder)
    with ProgressBar(None, quiet=quiet, label=folder.name or str(folder)) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.done)

        return write_checkpoints(stream.events, folder, every, size=size, seed=seed,
                                 palette=palette, safety=safety, source_name=source, end=end,
                                 force=force, progress=progress)


class checkpoint_pass:  # noqa: N801 - used like a generator function
    """`write_checkpoints` one checkpoint at a time: iterate to simulate on to the next one
    (the render farm hands each to a worker as soon as it is written). `planned` is how many
    there will be; `result` the folder's CheckpointSet so far."""

    def __init__(self, events: Sequence[Event], folder: str | Path,
                 every: float = DEFAULT_EVERY, *, size: tuple[int, int] = (1920, 1080),
                 seed: int = 0, palette: Palette | str = "abyss",
                 personal: Mapping[str, Personal] | None = None,
                 safety: SafetyConfig | None = None, cues: Sequence[Any] = (),
                 config: EngineConfig | None = None, source_name: str = "api",
                 end: float | None = None, times: Sequence[float] | None = None,
                 force: bool = False, fingerprint: tuple[str, int] | None = None) -> None:
        self.folder = Path(folder)
        events = sorted(events, key=lambda e: e.t)
        self.fingerprint = fingerprint or stream_fingerprint(events)
        self.end = max((e.t for e in events), default=0.0) if end is None else float(end)
        self.times = (sorted(set(map(float, times))) if times is not None
                      else checkpoint_times(every, self.end))
        if any(not (math.isfinite(t) and t >= 0) for t in self.times):
            raise CheckpointError("checkpoint times must be finite seconds >= 0")
        self.every = every if times is None else None
        self.source_name = source_name
        self.identity = plan_identity(size=size, seed=seed, palette=palette, personal=personal,
                                      safety=safety, cues=cues, config=config,
                                      fingerprint=self.fingerprint)
        _prepare_folder(self.folder, force)
        self.began = time.perf_counter()
        self.wall = Wall(events, size=size, seed=seed, palette=load_palette(palette),
                         config=config, safety=safety, personal=personal)
        self.written: list[Checkpoint] = []
        ordered = sorted(cues, key=lambda c: float(c.t))
        self._order = heapq.merge(
            ((float(c.t), 0, i, c) for i, c in enumerate(ordered)),
            ((t, 1, i, None) for i, t in enumerate(self.times)), key=lambda m: m[:3])
        self.result = self._index()

    @property
    def planned(self) -> int:
        return len(self.times)

    def _index(self) -> CheckpointSet:
        complete = len(self.written) == len(self.times)
        found = CheckpointSet(self.folder, self.identity, tuple(self.written),
                              self.source_name, self.every, complete,
                              time.perf_counter() - self.began)
        _write_json(self.folder / INDEX_NAME, {
            "format": INDEX_FORMAT, "version": INDEX_VERSION, "identity": self.identity,
            "source": self.source_name, "every": self.every, "end": self.end,
            "complete": complete,
            "checkpoints": [{"t": c.t, "file": c.path.name, "step": c.step}
                            for c in self.written],
        })
        return found

    def __iter__(self) -> checkpoint_pass:
        return self

    def __next__(self) -> Checkpoint:
        last = self.times[-1] if self.times else -1.0
        for t, kind, _, cue in self._order:
            if t > last:  # cues after the last checkpoint shape none of them
                break
            self.wall.advance_to(t)
            if kind == 0:
                self.wall.set_palette(load_palette(cue.palette), cue.fade)
                continue
            path = self.folder / checkpoint_name(t)
            self.wall.save_state(path, extra={"checkpoint": {"t": t}},
                                 fingerprint=self.fingerprint)
            checkpoint = Checkpoint(t, path, self.wall.engine.step_index)
            self.written.append(checkpoint)
            self.result = self._index()
            return checkpoint
        raise StopIteration


# -- reading ----------------------------------------------------------------------------------


def read_checkpoints(folder: str | Path) -> CheckpointSet:
    """The index of a checkpoint folder; CheckpointError when there is none or it is unusable."""
    folder = Path(folder)
    path = folder / INDEX_NAME
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder not found: {folder}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{folder} is not a checkpoint folder (no {INDEX_NAME}; make one "
                              "with `mural checkpoint SOURCE -o FOLDER`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupt ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        raise CheckpointError(f"{path} is not a Lumina Mural checkpoint index")
    if data.get("version") != INDEX_VERSION:
        raise CheckpointError(f"{path}: index version {data.get('version')!r} is not supported")
    identity, entries = data.get("identity"), data.get("checkpoints")
    if not isinstance(identity, dict) or not isinstance(entries, list):
        raise CheckpointError(f"{path} is corrupt (no identity or checkpoint list)")
    found = []
    for entry in entries:
        try:
            t, name, step = float(entry["t"]), str(entry["file"]), int(entry["step"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path} is corrupt (a bad entry {entry!r})") from None
        if Path(name).name != name or not (math.isfinite(t) and t >= 0):
            raise CheckpointError(f"{path} is corrupt (a bad entry {entry!r})")
        found.append(Checkpoint(t, folder / name, step))
    found.sort(key=lambda c: c.t)
    every = data.get("every")
    return CheckpointSet(folder, identity, tuple(found), str(data.get("source", "")),
                         float(every) if isinstance(every, int | float) else None,
                         bool(data.get("complete", False)))


def open_checkpoints(folder: str | Path, identity: Mapping[str, Any]) -> CheckpointSet:
    """The checkpoints of `folder` if they were made for this identity; otherwise a
    CheckpointError saying what differs (stale or foreign checkpoints are never used)."""
    found = read_checkpoints(folder)
    diffs = differences(found.identity, identity)
    if diffs:
        raise CheckpointError(
            f"the checkpoints in {found.folder} were made for another render: "
            + "; ".join(diffs)
            + f". Make them again for this one (mural checkpoint SOURCE -o {found.folder} "
              "--force, with the same --size, --seed and --palette)")
    return found


def nearest_checkpoint(
    folder: str | Path,
    t: float,
    events: Iterable[Event] | None = None,
    size: tuple[int, int] = (1920, 1080),
    seed: int = 0,
    *,
    palette: Palette | str = "abyss",
    personal: Mapping[str, Personal] | None = None,
    safety: SafetyConfig | None = None,
    cues: Sequence[Any] = (),
    config: EngineConfig | None = None,
    fingerprint: tuple[str, int] | None = None,
) -> Checkpoint | None:
    """The latest checkpoint at or before `t` in `folder`, made for exactly this render (the
    same stream, seed, size, palette and cues, personal colours, safety and version), or None
    when every checkpoint is later than t. CheckpointError for a stale or foreign folder."""
    identity = plan_identity(events, size=size, seed=seed, palette=palette, personal=personal,
                             safety=safety, cues=cues, config=config, fingerprint=fingerprint)
    return open_checkpoints(folder, identity).nearest(t)


def restore_checkpoint(
    checkpoint: Checkpoint,
    events: Sequence[Event],
    identity: Mapping[str, Any],
    *,
    safety: SafetyConfig | None = None,
    personal: Mapping[str, Personal] | None = None,
) -> Wall:
    """The wall saved in `checkpoint`, checked against the identity it should have."""
    try:
        wall = Wall.from_state(checkpoint.path, events, safety=safety, personal=personal)
    except StateError as exc:
        raise CheckpointError(f"checkpoint {checkpoint.path} cannot be used: {exc}") from None
    saved = getattr(wall, "resume_identity", {})
    if (saved.get("stream"), saved.get("events"), saved.get("seed"), saved.get("size")) != (
            identity["stream"], identity["events"], identity["seed"], identity["size"]) or (
            wall.engine.step_index != checkpoint.step):
        raise CheckpointError(f"{checkpoint.path} is not the checkpoint its index names "
                              "(another stream, seed, size or moment): make the folder again")
    return wall


def wall_at(
    folder: str | Path | None,
    t: float,
    events: Sequence[Event],
    *,
    size: tuple[int, int],
    seed: int,
    palette: Palette | str = "abyss",
    personal: Mapping[str, Personal] | None = None,
    safety: SafetyConfig | None = None,
    cues: Sequence[Any] = (),
    config: EngineConfig | None = None,
    fingerprint: tuple[str, int] | None = None,
) -> tuple[Wall, Checkpoint | None]:
    """A wall ready to advance to `t`: restored from the nearest checkpoint in `folder` at or
    before t, or a fresh one (no folder, or no checkpoint that early). Cues up to the
    checkpoint's time are in the restored wall; pass only the later ones on."""
    fresh = Wall(events, size=size, seed=seed, palette=load_palette(palette), config=config,
                 safety=safety, personal=personal)
    if folder is None:
        return fresh, None
    identity = plan_identity(events, size=size, seed=seed, palette=palette, personal=personal,
                             safety=safety, cues=cues, config=config, fingerprint=fingerprint)
    checkpoint = open_checkpoints(folder, identity).nearest(t)
    if checkpoint is None:
        return fresh, None
    return restore_checkpoint(checkpoint, events, identity, safety=safety,
                              personal=personal), checkpoint


def later_cues(cues: Sequence[Any], checkpoint: Checkpoint | None) -> list[Any]:
    """The cues a wall restored from `checkpoint` has not applied yet (all without one)."""
    if checkpoint is None:
        return list(cues)
    return [c for c in cues if float(c.t) > checkpoint.t]


__all__ = [
    "CHECKPOINT_GLOB",
    "DEFAULT_EVERY",
    "INDEX_NAME",
    "Checkpoint",
    "CheckpointError",
    "CheckpointSet",
    "checkpoint_name",
    "checkpoint_pass",
    "checkpoint_recording",
    "checkpoint_times",
    "differences",
    "later_cues",
    "nearest_checkpoint",
    "open_checkpoints",
    "plan_identity",
    "read_checkpoints",
    "restore_checkpoint",
    "wall_at",
    "write_checkpoints",
]
