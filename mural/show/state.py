"""Saving and resuming a mural: the whole simulation state in one atomically written file.

An installation that loses power must come back with the wall as it was. The state is a `.npz`
archive (numpy arrays only, no pickles) plus one JSON entry for scalars and names; it is written
to a temporary file, fsynced and renamed, so a crash mid-save leaves the previous state intact.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import zipfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from mural.engine.engine import Engine, EngineConfig
from mural.events.errors import MuralError

FORMAT = "lumina-mural-state"
VERSION = 1

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
            if meta.get("version") != VERSION:
                raise StateError(f"{path}: state version {meta.get('version')!r} is not "
                                 "supported")
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
            UnicodeDecodeError, EOFError, MemoryError, RecursionError) as exc:
        raise StateError(f"{path} is corrupt or incomplete ({type(exc).__name__}: "
                         f"{_excerpt(str(exc))}); the previous autosave may still be "
                         "intact") from None
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
    missing = sorted(set(_CONFIG_FIELDS) - set(config)
                     - {"max_participants", "max_markers", "max_field_rows"})
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


def _excerpt(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
