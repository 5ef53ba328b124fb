"""Saving and resuming a mural: the whole simulation state in one atomically written file.

An installation that loses power must come back with the wall as it was. The state is a `.npz`
archive (numpy arrays only, no pickles) plus one JSON entry for scalars and names; it is written
to a temporary file, fsynced and renamed, so a crash mid-save leaves the previous state intact.

Version 2 holds everything a frame depends on (engine, safety limiter, the palette schedule with
its crossfades, personal colours, the stream cursor) and an identity (the stream's fingerprint,
seed, size, engine config), so a checkpoint can be checked against the export it should serve.
Version 1 files (resume files written before) still load; any other version is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tokenize
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from mural.engine.engine import Engine, EngineConfig
from mural.events.errors import MuralError

FORMAT = "lumina-mural-state"
VERSION = 2  # 2: + the palette schedule, personal colours, the stream cursor and an identity
SUPPORTED_VERSIONS = (1, 2)  # version 1 files (resume files of before) still load

ENGINE_ARRAYS = (
    "pos", "prev", "vel", "colour", "age", "life", "speed", "buoy", "pidx", "live", "memory",
    "vitality", "depth", "recolour", "chroma", "chroma_w", "live_coarse", "_coarse_scaled",
)
PARTICIPANT_ARRAYS = (
    "pos", "target", "home", "colour", "target_colour", "intensity", "valence", "arousal",
    "last_seen", "own_level", "own_level_t", "presence", "health", "heart_rate", "emit_acc",
    "tokens", "pending_burst", "phase", "light", "emitted", "pattern",
)
ENGINE_SCALARS = (
    "step_index", "_cursor", "network_level", "network_level_t", "network_smoothed", "ceiling",
    "events_applied", "_live_n",
)


class StateError(MuralError):
    """A state file that cannot be used: missing, partial, corrupt or from another mural."""


def _flatten(prefix: str, value: Any, arrays: dict[str, np.ndarray], meta: dict) -> Any:
    """Split nested state into arrays (stored in the archive) and JSON-able scalars."""
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, dict):
        return {k: _flatten(f"{prefix}.{k}", v, arrays, meta) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restore(value: Any, arrays: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return np.array(arrays[value["__array__"]])
        return {k: _restore(v, arrays) for k, v in value.items()}
    return value


def engine_state(engine: Engine) -> dict[str, Any]:
    """Everything that determines the engine's future, as arrays and plain values."""
    return engine.snapshot()


def load_engine_state(engine: Engine, state: dict[str, Any]) -> None:
    """Take a saved engine state back; StateError (with the engine's reason) if it is not a
    state this engine could have been in: every value is checked before any is used."""
    try:
        engine.restore(state)
    except ValueError as exc:
        raise StateError(f"the engine state does not fit this mural: {exc}") from None


MAX_STATE_BYTES = 4 * 2**30  # what a state file's arrays may claim, before any is read


def write_state(path: str | Path, config: EngineConfig, state: dict[str, Any]) -> Path:
    """Write state atomically: temp file, fsync, rename. On any failure (a full disk, a
    read-only folder, too many open files) the temp file is removed, the previous state is
    left as it was, and the OSError goes on."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": asdict(config),
        "state": _flatten("s", state, arrays, {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                     **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def read_state(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config dict, state) from a state file; StateError with the reason if it is unusable.

    Nothing in the file is trusted: the archive's array headers are read before any array
    (a crafted shape cannot claim gigabytes), the metadata must be tables of the right kinds,
    and the config must make an engine that can run.
    """
    path = Path(path)
    try:
        _check_array_sizes(path)
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(bytes(archive["__meta__"]).decode())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise StateError(f"{path} is not a Lumina Mural state file")
            version = meta.get("version")
            if type(version) is not int or version not in SUPPORTED_VERSIONS:
                raise StateError(f"{path}: state version {_excerpt(version)} is not supported "
                                 f"(this Lumina Mural reads versions "
                                 f"{', '.join(map(str, SUPPORTED_VERSIONS))}; make the state "
                                 "or checkpoint again with this version)")
            config = check_config(meta.get("config"), path)
            raw = meta.get("state")
            if not isinstance(raw, dict):
                raise StateError(f"{path} does not hold a usable mural state (no state table)")
            state = _restore(raw, archive)
    except StateError:
        raise
    except FileNotFoundError:
        raise StateError(f"state file not found: {path}") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError,
            UnicodeDecodeError, EOFError, MemoryError, RecursionError, SyntaxError,
            tokenize.TokenError) as exc:  # the last two: numpy parsing a damaged array header
        raise StateError(f"{path} is corrupt or incomplete ({type(exc).__name__}: "
                         f"{_excerpt(str(exc))}); the previous autosave may still be "
                         "intact") from None
    state["format_version"] = version
    check_state(state, path)
    return config, state


def _check_array_sizes(path: Path) -> None:
    """Refuse an archive whose array headers claim more than a state can hold."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise StateError(f"{path} holds {info.filename!r}, which no state file has")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(member)
            if dtype.hasobject:
                raise StateError(f"{path} holds Python objects, which no state file has")
            total += int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            if total > MAX_STATE_BYTES:
                raise StateError(f"{path} claims arrays of more than "
                                 f"{MAX_STATE_BYTES // 2**30} GB: not a usable mural state")


_CONFIG_FIELDS = {f.name: f for f in fields(EngineConfig)}
# Config fields newer than the first state files: a file without them gets the default.
_CONFIG_ADDED_LATER = {"max_participants", "max_markers", "max_field_rows"}


def check_config(raw: Any, path: str | Path) -> dict[str, Any]:
    """The engine config of a state file, every field of the right kind and range."""
    def bad(message: str) -> StateError:
        return StateError(f"{path} does not hold a usable mural state ({message})")

    if not isinstance(raw, dict):
        raise bad("its config is not a table")
    unknown = sorted(set(raw) - set(_CONFIG_FIELDS))
    if unknown:
        raise bad(f"unknown config keys {', '.join(map(repr, unknown[:5]))}")
    config: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "size":
            if not (isinstance(value, list | tuple) and len(value) == 2 and all(
                    type(v) is int and 8 <= v <= 16384 for v in value)):
                raise bad(f"size must be [width, height] in 8..16384, got {_excerpt(value)}")
            config[name] = (value[0], value[1])
        elif _CONFIG_FIELDS[name].type == "int":
            limits = {"seed": (0, 2**32 - 1), "sim_hz": (1, 1000),
                      "max_particles": (1, 10_000_000), "field_every": (1, 1000)}
            lo, hi = limits.get(name, (0, 10**9))
            if type(value) is not int or not lo <= value <= hi:
                raise bad(f"{name} must be a whole number in {lo}..{hi}, got {_excerpt(value)}")
            config[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    math.isfinite(value) and value > 0):
                raise bad(f"{name} must be a positive number, got {_excerpt(value)}")
            config[name] = float(value)
    missing = sorted(set(_CONFIG_FIELDS) - set(config) - _CONFIG_ADDED_LATER)
    if missing:
        raise bad(f"its config lacks {', '.join(missing[:5])}")
    return config


def check_state(state: dict[str, Any], path: str | Path) -> None:
    """The state's own scalars: a time, a palette name, a table of extras."""
    def bad(message: str) -> StateError:
        return StateError(f"{path} does not hold a usable mural state ({message})")

    t = state.get("time")
    if isinstance(t, bool) or not isinstance(t, int | float) or not (
            math.isfinite(t) and 0 <= t < 1e9):
        raise bad(f"time must be a finite number of seconds >= 0, got {_excerpt(t)}")
    if not isinstance(state.get("engine"), dict) or not isinstance(state.get("guard"), dict):
        raise bad("engine or safety state missing")
    if not isinstance(state.get("palette", ""), str):
        raise bad("palette must be a name")
    if not isinstance(state.get("extra", {}), dict):
        raise bad("extra must be a table")
    if state.get("format_version", 1) < 2:
        return
    # version 2: the palette schedule, personal colours, the cursor and the identity
    grades = state.get("grades")
    if not (isinstance(grades, dict) and isinstance(grades.get("base"), dict)
            and isinstance(grades.get("changes"), list)):
        raise bad("the palette schedule must be a table with a base palette and changes")
    for change in grades["changes"]:
        if not (isinstance(change, list) and len(change) == 3 and _finite(change[0])
                and isinstance(change[1], dict) and _finite(change[2])):
            raise bad(f"a palette change must be [time, palette, fade], got {_excerpt(change)}")
    personal = state.get("personal")
    if not isinstance(personal, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in personal.items()):
        raise bad("personal colours must be a table of tables")
    cursor = state.get("cursor")
    if type(cursor) is not int or cursor < 0:
        raise bad(f"the stream cursor must be a whole number >= 0, got {_excerpt(cursor)}")
    identity = state.get("identity")
    if not isinstance(identity, dict):
        raise bad("identity must be a table")
    stream = identity.get("stream")
    if not (isinstance(stream, str) and type(identity.get("events")) is int):
        raise bad("identity must name the stream's fingerprint and its number of events")


def _finite(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value))


# -- identity: which stream a state was made from -----------------------------------------------

def canonical_line(event: Any) -> str:
    """One event as canonical JSON: its type and fields, keys sorted, floats by repr (exact)."""
    return json.dumps({"type": event.type, **event.to_dict()}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def stream_fingerprint(events: Iterable[Any]) -> tuple[str, int]:
    """(blake2b-128 hex of the events' canonical JSON lines, how many events): the same
    events in the same order, whatever file or source they came from, give the same print."""
    digest = hashlib.blake2b(digest_size=16)
    count = 0
    for event in events:
        digest.update(canonical_line(event).encode("utf-8"))
        digest.update(b"\n")
        count += 1
    return digest.hexdigest(), count


def value_fingerprint(value: Any) -> str:
    """blake2b-128 hex of a JSON-able value (keys sorted): for palettes, cues, settings."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _excerpt(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
