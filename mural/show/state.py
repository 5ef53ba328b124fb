"""Saving and resuming a mural: the whole simulation state in one atomically written file.

An installation that loses power must come back with the wall as it was. The state is a `.npz`
archive (numpy arrays only, no pickles) plus one JSON entry for scalars and names; it is written
to a temporary file, fsynced and renamed, so a crash mid-save leaves the previous state intact.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from mural.engine.engine import Engine, EngineConfig
from mural.events import MarkerEvent
from mural.events.errors import MuralError

FORMAT = "lumina-mural-state"
VERSION = 1

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
    p = engine.participants
    return {
        "arrays": {name: getattr(engine, name) for name in ENGINE_ARRAYS},
        "scalars": {name: getattr(engine, name) for name in ENGINE_SCALARS},
        "rng": engine.rng.bit_generator.state,
        "participants": {
            "ids": list(p.ids),
            "arrays": {name: getattr(p, name)[: len(p)] for name in PARTICIPANT_ARRAYS},
        },
        "markers": [[m.t, m.name] for m in engine.markers],
    }


def load_engine_state(engine: Engine, state: dict[str, Any]) -> None:
    for name, value in state["arrays"].items():
        target = getattr(engine, name)
        if target.shape != value.shape:
            raise StateError(f"state does not fit this mural: {name} is {value.shape}, "
                             f"expected {target.shape} (another size or particle budget?)")
        target[...] = value
    for name, value in state["scalars"].items():
        setattr(engine, name, type(getattr(engine, name))(value))
    engine.rng.bit_generator.state = state["rng"]
    p = engine.participants
    ids = list(state["participants"]["ids"])
    p._grow(max(16, len(ids)))
    p.ids[:] = ids
    p.index.clear()
    p.index.update({pid: i for i, pid in enumerate(ids)})
    for name, value in state["participants"]["arrays"].items():
        getattr(p, name)[: len(ids)] = value
    engine.markers[:] = [MarkerEvent(t=float(t), name=str(n)) for t, n in state["markers"]]
    engine.flow.advance_to(engine.t)


def write_state(path: str | Path, config: EngineConfig, state: dict[str, Any]) -> Path:
    """Write state atomically: temp file, fsync, rename."""
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
    with open(tmp, "wb") as handle:
        np.savez(handle, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def read_state(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config dict, state) from a state file; StateError with the reason if it is unusable."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(bytes(archive["__meta__"]).decode())
            if meta.get("format") != FORMAT:
                raise StateError(f"{path} is not a Lumina Mural state file")
            if meta.get("version") != VERSION:
                raise StateError(f"{path}: state version {meta.get('version')} is not supported")
            state = _restore(meta["state"], archive)
            return meta["config"], state
    except StateError:
        raise
    except FileNotFoundError:
        raise StateError(f"state file not found: {path}") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError,
            UnicodeDecodeError, EOFError) as exc:
        raise StateError(f"{path} is corrupt or incomplete ({type(exc).__name__}: {exc}); "
                         "the previous autosave may still be intact") from None
