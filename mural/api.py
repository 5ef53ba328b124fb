"""The Python API: streams, murals, stills, videos, exposures and sessions, as the CLI makes them.

```python
import mural

stream = (mural.StreamBuilder()
          .emotion(0.0, "ana", emotion="joy", intensity=0.8, x=0.3, y=0.5)
          .signal(4.0, 0.0)            # the network goes dark ...
          .marker(6.0, "recovery")
          .signal(6.0, 1.0)            # ... and comes back
          .build())
m = mural.mural(stream, size=(640, 360), seed=7, palette="lagoon")
frame = m.frame_at(5.0)               # HxWx3 uint8, the same pixels `mural still` writes
mural.to_image(frame).save("at5s.png")
mural.render_video(stream, "clip.mp4", size=(640, 360), end=8)
mural.render_exposure(stream, "poster.png", size=(3840, 2160))
mural.run_session("examples/festival_night.toml", size=(320, 180), force=True)
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mural.engine.engine import Personal
from mural.events import Event, Header, Stream, event_from_dict, write_stream
from mural.session import Overrides, Plan, RunResult, load_session
from mural.session import run_session as _run_session
from mural.show.exposure import ExposureResult
from mural.show.palettes import DEFAULT_PALETTE, Palette
from mural.show.video import ExportResult
from mural.show.wall import Wall

StreamLike = Stream | Iterable[Event] | str | Path
People = Mapping[str, Personal] | str | Path | None


def open_stream(uri_or_path: str | Path, strict: bool = False) -> Stream:
    """A recording (.jsonl/.csv) or `sim:NAME[?...]` as a whole Stream (bad lines skipped and
    listed in `.problems`, or StreamError at the first one with `strict`)."""
    from mural.sources.offline import load_offline

    return load_offline(str(uri_or_path), strict=strict)


class StreamBuilder:
    """Build a stream in code; every event is validated as a recorded line would be.

    Methods return the builder, so calls chain; `build()` gives a time-sorted Stream and
    `save(path)` writes it as JSON lines or CSV (by suffix).
    """

    def __init__(self, **header: Any) -> None:
        self.events: list[Event] = []
        self.header = Header(meta=dict(header)) if header else None

    def _add(self, record: dict[str, Any]) -> StreamBuilder:
        event = event_from_dict({k: v for k, v in record.items() if v is not None})
        assert not isinstance(event, Header)
        self.events.append(event)
        return self

    def emotion(self, t: float, participant: str, emotion: str | None = None, *,
                intensity: float = 1.0, valence: float | None = None,
                arousal: float | None = None, x: float | None = None, y: float | None = None,
                heart_rate: float | None = None) -> StreamBuilder:
        """An expression: a label (joy, calm, awe ...) and/or a circumplex point."""
        return self._add({"t": t, "participant": participant, "emotion": emotion,
                          "intensity": intensity, "valence": valence, "arousal": arousal,
                          "x": x, "y": y, "heart_rate": heart_rate})

    def va(self, t: float, participant: str, valence: float, arousal: float, *,
           intensity: float = 1.0, x: float | None = None, y: float | None = None,
           heart_rate: float | None = None) -> StreamBuilder:
        """An expression given only as valence (-1..1) and arousal (0..1)."""
        return self.emotion(t, participant, intensity=intensity, valence=valence,
                            arousal=arousal, x=x, y=y, heart_rate=heart_rate)

    def signal(self, t: float, level: float, participant: str | None = None) -> StreamBuilder:
        """Sensor health 0..1, network-wide or for one participant (0 = blackout)."""
        return self._add({"t": t, "type": "signal", "level": level, "participant": participant})

    def marker(self, t: float, name: str) -> StreamBuilder:
        """A named moment (session cues can wait for it)."""
        return self._add({"t": t, "type": "marker", "name": name})

    def build(self) -> Stream:
        return Stream(list(self.events), self.header, source="StreamBuilder")

    def save(self, path: str | Path) -> Path:
        """Write the stream (.jsonl or .csv); open_stream(path) gives the same events back."""
        write_stream(path, self.build().events, self.header)
        return Path(path)


def _source(source: StreamLike) -> str | list[Event]:
    """A SOURCE string as is (the pipeline reads it), anything else as its events."""
    return str(source) if isinstance(source, str | Path) else _events(source)


def _name(source: StreamLike) -> str:
    return str(source) if isinstance(source, str | Path) else "api"


def _events(source: StreamLike) -> list[Event]:
    if isinstance(source, str | Path):
        return open_stream(source).events
    if isinstance(source, Stream):
        return source.events
    return list(source)


def _people(participants: People) -> dict[str, Personal]:
    if participants is None:
        return {}
    if isinstance(participants, str | Path):
        from mural.session.participants import load_participants

        return load_participants(participants)
    return dict(participants)


def wall(stream_or_events: StreamLike = (), *, size: tuple[int, int] = (1280, 720),
          seed: int = 0, palette: Palette | str = DEFAULT_PALETTE,
          participants: People = None) -> Wall:
    """A Wall over a stream (a Stream, events, or a path/SOURCE string).

    Seek with `advance_to(t)` (simulation only), take frames with `frame_at(t)` (numpy
    HxWx3 uint8), `push(events)` to add more, `set_palette(name, fade=s)` to regrade.
    `participants` is {id: Personal} or a participants .toml file.
    """
    return Wall(_events(stream_or_events), size=size, seed=seed, palette=palette,
                personal=_people(participants))


mural = wall  # the first name of `wall`, kept for scripts written against it


def to_image(frame: np.ndarray) -> Image.Image:
    """A frame as a PIL image (copy it first if the mural will render again)."""
    return Image.fromarray(np.ascontiguousarray(frame), "RGB")


def render_still(source: StreamLike, at: float, output: str | Path | None = None, *,
                 size: tuple[int, int] = (1920, 1080), seed: int = 0,
                 palette: Palette | str = DEFAULT_PALETTE, participants: People = None,
                 force: bool = False, checkpoints: str | Path | None = None) -> np.ndarray:
    """The frame at `at` seconds (what `mural still` writes); saved as PNG when `output` is
    given, with the same provenance chunks (an existing file needs `force`). `checkpoints`:
    a folder from `write_checkpoints` to start from (the same pixels, in seconds)."""
    from mural.show.still import render_still as still

    return still(_source(source), at, output, size=size, seed=seed, palette=palette,
                 personal=_people(participants), force=force, source_name=_name(source),
                 checkpoints=checkpoints)


def write_checkpoints(source: StreamLike, folder: str | Path, every: float = 60.0, *,
                      size: tuple[int, int] = (1920, 1080), seed: int = 0,
                      palette: Palette | str = DEFAULT_PALETTE, participants: People = None,
                      end: float | None = None, force: bool = False) -> Any:
    """Save the whole mural every `every` seconds into `folder` (`mural checkpoint`), for
    render_still, render_video and farms to start from; returns the CheckpointSet."""
    from mural.show.checkpoint import write_checkpoints as write

    return write(_events(source), folder, every, size=size, seed=seed, palette=palette,
                 personal=_people(participants), source_name=_name(source), end=end,
                 force=force)


def render_video(source: StreamLike, output: str | Path, *, fps: float = 30,
                 size: tuple[int, int] = (1280, 720), start: float = 0.0,
                 end: float | None = None, seed: int = 0, palette: str = DEFAULT_PALETTE,
                 speed: float = 1.0, crf: int = 20, force: bool = False, quiet: bool = True,
                 participants: People = None, checkpoints: str | Path | None = None,
                 workers: int | None = None, scheduler: str | None = None,
                 resume: bool = False) -> ExportResult:
    """Render a span frame-exactly into .mp4/.webm/.gif or a frames folder (`mural video`),
    through the same pipeline as the command; returns what was written.

    `checkpoints`: a folder from `write_checkpoints` to start from. `workers` (a local Dask
    cluster of that many processes) or `scheduler` ("tcp://HOST:PORT"): render on a farm
    (MP4 or a frames folder; `pip install 'lumina-mural[farm]'`), `resume` an interrupted
    farm export: the same frames (bit for bit in a frames folder, within encoder noise in an
    MP4)."""
    options = dict(fps=fps, size=size, start=start, end=end, seed=seed, palette=palette,
                   speed=speed, crf=crf, force=force, quiet=quiet,
                   personal=_people(participants), source_name=_name(source),
                   checkpoints=checkpoints)
    if workers is not None or scheduler is not None or resume:
        from mural.show.farm import FarmOptions, farm_export

        farm = FarmOptions(workers=workers, scheduler=scheduler, resume=resume)
        return farm_export(_source(source), output, farm, **options).export
    from mural.show.video import export_video

    return export_video(_source(source), output, **options)


def render_exposure(source: StreamLike, output: str | Path | None, *, start: float = 0.0,
                    end: float | None = None, size: tuple[int, int] = (7680, 4320),
                    seed: int = 0, palette: Palette | str = DEFAULT_PALETTE,
                    participants: People = None, force: bool = False,
                    **options: Any) -> ExposureResult:
    """The permanent mural: a long exposure of [start, end] as one PNG (or, with
    output=None, an array in the result). See mural.show.exposure.render_exposure for options."""
    from mural.show.exposure import render_exposure as expose

    return expose(_events(source), output, start=start, end=end, size=size, seed=seed,
                  palette=palette, personal=_people(participants), force=force,
                  metadata={"mural:source": _name(source)}, **options)


def open_session(path: str | Path, **overrides: Any) -> Plan:
    """A session file parsed and checked (SessionError lists every problem with its line).

    Keyword overrides as on the command line: size, seed, fps, palette, poster_size, until.
    Outputs that already exist are accepted here; `run_session` refuses them unless forced.
    """
    return load_session(path, overrides=Overrides(**overrides))


def run_session(path: str | Path, *, force: bool = False, quiet: bool = True,
                strict: bool = False, **overrides: Any) -> RunResult:
    """Run a session file as `mural run` does (same checks first; nothing is rendered if any
    fails). Overrides: size, seed, fps, palette, poster_size, until."""
    return _run_session(path, overrides=Overrides(**overrides), force=force, quiet=quiet,
                        strict=strict)


__all__ = [
    "StreamBuilder",
    "mural",
    "open_session",
    "open_stream",
    "render_exposure",
    "render_still",
    "render_video",
    "run_session",
    "to_image",
    "wall",
    "write_checkpoints",
]
