"""Stills: the mural at one moment as a PNG carrying its provenance (`mural still`, the API)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from mural.engine.engine import Personal
from mural.events import Event, Problem
from mural.events.errors import MuralError
from mural.render.palette import Palette
from mural.safety.guard import SafetyConfig
from mural.show.checkpoint import wall_at
from mural.show.palettes import load_palette
from mural.show.provenance import merged, provenance
from mural.sinks.png import save_png
from mural.sources.offline import load_offline


class StillError(MuralError, ValueError):
    """A still that cannot be made (a moment that is not a time)."""


def render_still(
    source: str | Sequence[Event],
    at: float,
    output: str | Path | None = None,
    *,
    size: tuple[int, int] = (1920, 1080),
    seed: int = 0,
    palette: Palette | str = "abyss",
    personal: Mapping[str, Personal] | None = None,
    safety: SafetyConfig | None = None,
    strict: bool = False,
    force: bool = False,
    source_name: str | None = None,
    metadata: Mapping[str, object] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    checkpoints: str | Path | None = None,
) -> np.ndarray:
    """The frame at `at` seconds of SOURCE (a SOURCE string or events), HxWx3 uint8; written
    as a PNG with its provenance when `output` is given.

    The wall fast-forwards to the moment without compositing on the way; with `checkpoints`
    (a folder from `mural checkpoint`) it starts from the latest checkpoint at or before the
    moment, so a still at minute 200 costs seconds, and the pixels are the same bit for bit
    (CheckpointError for a folder made for another stream, seed, size, palette ...).
    An existing output is refused unless `force` (FileExistsError), checked before any work.
    """
    if not (math.isfinite(at) and at >= 0):
        raise StillError(f"a still needs a moment >= 0 s, got {at!r}")
    if output is not None and Path(output).exists() and not force:
        raise FileExistsError(f"{output} exists (use --force to overwrite)")
    pal = load_palette(palette)
    if isinstance(source, str):
        events = load_offline(source, strict=strict, on_problem=on_problem).events
        name = source_name or source
    else:
        events, name = list(source), source_name or "api"
    wall, _ = wall_at(checkpoints, at, events, size=size, seed=seed, palette=pal,
                      personal=personal, safety=safety)
    frame = wall.frame_at(at)
    if output is not None:
        save_png(output, frame, merged(provenance(
            source=name, seed=seed, palette=wall.palette.name, size=size,
            limiter=wall.guard.config.enabled, time=at), metadata))
    return frame


__all__ = ["StillError", "render_still"]
