"""A mural in time: an event timeline driving an engine, rendered on demand by a compositor.

This is the one place that turns "events + seed + size + time" into a frame; stills, videos,
the installation window and the Python API all go through it, so they agree bit for bit.
Events reach the engine through mural.engine.timeline.Timeline and the grade follows a
mural.render.palette.PaletteSchedule, as in the long exposure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace

import numpy as np

from mural.engine.engine import PATTERNS, Engine, EngineConfig, Personal
from mural.engine.timeline import EventsView, Timeline
from mural.events import Event
from mural.render.compositor import Compositor
from mural.render.palette import PaletteSchedule
from mural.safety.guard import SafetyConfig, SafetyGuard
from mural.show.palettes import Palette, load_palette


class Wall:
    """Events in, frames out, on a fixed simulation step.

    Events are applied at the start of the step during which they happen; `advance_to` only
    simulates (no compositing), so seeking far into a recording costs simulation steps only.
    """

    def __init__(
        self,
        events: Iterable[Event] = (),
        *,
        size: tuple[int, int] = (1280, 720),
        seed: int = 0,
        palette: Palette | str | None = None,
        config: EngineConfig | None = None,
        safety: SafetyConfig | None = None,
        personal: Mapping[str, Personal] | None = None,
    ) -> None:
        self.personal = dict(personal or {})
        base = config or EngineConfig()
        self.config = replace(base, size=tuple(size), seed=seed)
        self.safety = safety or SafetyConfig()
        self.timeline = Timeline(events)
        self.compositor = Compositor(self.config.size, load_palette(palette))
        self.grades = PaletteSchedule(self.compositor.palette)
        self._graded = self.compositor.palette  # the schedule's palette last shown
        self.resume_extra: dict = {}
        self.reset()

    @property
    def palette(self) -> Palette:
        return self.compositor.palette

    def set_palette(self, palette: Palette | str, fade: float = 0.0) -> None:
        """Change the grade from now on, crossfading over `fade` seconds of mural time from
        the palette shown now (changes set for later than now are dropped).

        The simulation is unaffected; the crossfade is a function of time, so a video and a
        still at the same moment agree.
        """
        self.grades.change(self.time, load_palette(palette), fade)
        self._grade(self.time)

    def _grade(self, now: float) -> None:
        """Show the scheduled palette of time `now`, when it is not the one last shown (so a
        palette set on the compositor directly stays until the schedule changes)."""
        palette = self.grades.palette_at(now)
        if palette is not self._graded:
            self._graded = palette
            self.compositor.set_palette(palette)

    def set_render_size(self, size: tuple[int, int]) -> None:
        """Composite at another output size; the simulation (and its look) stays the same."""
        if tuple(size) != self.compositor.size:
            self.compositor = Compositor(tuple(size), self.compositor.palette)

    @property
    def size(self) -> tuple[int, int]:
        return self.config.size

    @property
    def events(self) -> EventsView:
        """The events held, in time order (read-only; change them with `push`)."""
        return self.timeline.events

    @property
    def duration(self) -> float:
        return self.timeline.duration

    def push(self, events: Iterable[Event]) -> None:
        """Add events (live input); each lands at the first step not yet simulated."""
        self.timeline.push(events)

    # The timeline's cursor under its old private names (older callers and tests); new code
    # uses self.timeline.seek_to(t), as from_state does.
    @property
    def _times(self) -> Sequence[float]:
        return self.timeline.times

    @property
    def _next(self) -> int:
        return self.timeline.position

    @_next.setter
    def _next(self, index: int) -> None:
        times = self.timeline.times
        self.timeline.seek_to(times[index] if index < len(times) else math.inf)

    def save_state(self, path, extra: dict | None = None, *,
                   fingerprint: tuple[str, int] | None = None):
        """Write the whole mural atomically to `path` (.npz, state format version 2):
        everything a frame depends on (engine, safety limiter history, the palette schedule
        with its crossfades, personal colours, the time and the stream cursor) and what it was
        made from (the stream's fingerprint, seed, size, engine config).

        `extra` holds what the caller needs to resume around it (sources' positions, speed).
        `fingerprint` is `state.stream_fingerprint(self.events)` when the caller has it.
        """
        from mural.show.state import engine_state, stream_fingerprint, write_state

        stream, count = fingerprint or stream_fingerprint(self.timeline.events)
        state = {
            "engine": engine_state(self.engine),
            "guard": self.guard.state_dict(),
            "time": self.time,
            "palette": self.palette.name,
            "grades": {
                "base": asdict(self.grades.base),
                "changes": [[t, asdict(p), fade] for t, p, fade in self.grades.changes],
            },
            "personal": {pid: _personal_dict(mine) for pid, mine in self.personal.items()},
            "cursor": self.timeline.position,
            "identity": {"stream": stream, "events": count, "seed": self.config.seed,
                         "size": list(self.config.size)},
            "extra": extra or {},
        }
        return write_state(path, self.config, state)

    @classmethod
    def from_state(
        cls,
        path,
        events: Iterable[Event] = (),
        *,
        palette: Palette | str | None = None,
        safety: SafetyConfig | None = None,
        personal: Mapping[str, Personal] | None = None,
    ) -> Wall:
        """Resume a saved mural; events before its time count as already applied.

        From a version 2 state the palette schedule (crossfades included) and personal colours
        come back as they were, so frames rendered on are bit-identical to those of the wall
        that was saved; `palette` or `personal`, when given, replace them. A version 1 state
        (no schedule) takes `palette` or the palette it names.
        Raises mural.show.state.StateError for a missing, partial or corrupt file.
        """
        from mural.show.state import StateError, load_engine_state, read_state

        config_dict, state = read_state(path)
        version = state["format_version"]
        try:
            config_dict = {**config_dict, "size": tuple(config_dict["size"])}
            config = EngineConfig(**config_dict)
            grades = mine = None
            if version >= 2:
                grades = _schedule_from(state["grades"], path)
                mine = {pid: _personal_from(value, f"{path}: personal colour of {pid!r}")
                        for pid, value in state["personal"].items()}
            if personal is not None:
                mine = personal
            start = palette or (grades.base if grades is not None else state.get("palette"))
            mural = cls(events, size=config.size, seed=config.seed, palette=start,
                        config=config, safety=safety, personal=mine)
            load_engine_state(mural.engine, state["engine"])
            mural.guard.load_state_dict(state["guard"])
        except StateError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"{path} does not hold a usable mural state ({exc})") from None
        mural.time = float(state["time"])
        if mural.time + 1e-9 < mural.engine.t or mural.engine.steps_until(mural.time) > 0:
            raise StateError(f"{path} does not hold a usable mural state (its time "
                             f"{mural.time:g}s is not the engine's, {mural.engine.t:g}s)")
        # The boundary apply_due uses: engine.t (step_index * dt) can be one bit off it.
        mural.timeline.seek_to(mural.engine.step_index / mural.config.sim_hz)
        if version >= 2:
            if palette is None:
                mural.grades = grades
            shown = mural.grades.palette_at(mural.time)
            mural.compositor.set_palette(shown)
            mural._graded = shown
            held = state["identity"]["events"]
            if held == len(mural.timeline) and state["cursor"] != mural.timeline.position:
                raise StateError(
                    f"{path}: the state had applied {state['cursor']} events of its stream, "
                    f"but {mural.timeline.position} of these events come before its time "
                    f"({mural.time:g}s): it was made from another stream")
        mural.resume_extra = dict(state.get("extra") or {})
        mural.resume_identity = dict(state.get("identity") or {})  # what it was made from
        return mural

    def forget_applied(self) -> None:
        """Drop events already taken into the engine (live or looping play runs for hours),
        and palette changes that no longer shape the present.

        After this, going back in time can only rebuild from the events still held.
        """
        self.timeline.forget_applied()
        self.grades.forget_before(self.engine.t)

    def _step(self) -> None:
        engine = self.engine
        self.timeline.apply_due(engine)
        engine.step()
        self._grade(engine.t)
        timer = engine.timer
        began = timer.clock() if timer is not None else 0.0
        self.guard.update(engine, self.compositor.palette, engine.dt, self.config.size)
        if timer is not None:
            timer.lap("safety", began)

    def advance_to(self, t: float) -> None:
        """Simulate forward to time t (seconds). Going back rebuilds from the start."""
        if t < 0 or not math.isfinite(t):
            raise ValueError(f"time must be a finite number of seconds >= 0, got {t!r}")
        if t + 1e-9 < self.engine.t:
            self.reset()
        for _ in range(self.engine.steps_until(t)):
            self._step()
        self.time = t

    def reset(self) -> None:
        """Back to time 0 with a fresh engine (events are kept)."""
        self.engine = Engine(self.config, personal=self.personal)
        self.guard = SafetyGuard(self.engine, self.safety)
        self.timeline.reset()
        self.time = 0.0

    def render(self) -> np.ndarray:
        """The frame at the current time (HxWx3 uint8, a buffer reused by the next render)."""
        alpha = self.time * self.config.sim_hz - self.engine.step_index
        self._grade(self.time)
        self.compositor.gains = self.guard.gain
        return self.compositor.render(
            self.engine, alpha=min(max(alpha, 0.0), 1.0), exposure=self.guard.exposure
        )

    def frame_at(self, t: float) -> np.ndarray:
        """Advance to t and return a copy of the frame there."""
        self.advance_to(t)
        return self.render().copy()


def _personal_dict(mine: Personal) -> dict:
    return {"colour": None if mine.colour is None else [float(c) for c in mine.colour],
            "pattern": mine.pattern, "name": mine.name, "weight": float(mine.weight)}


def _personal_from(value: object, where: str) -> Personal:
    """A Personal from its saved table; ValueError names what is wrong."""
    if not isinstance(value, dict) or set(value) != {"colour", "pattern", "name", "weight"}:
        raise ValueError(f"{where} must be a table of colour, pattern, name and weight")
    colour, pattern, name, weight = (value[k] for k in ("colour", "pattern", "name", "weight"))
    if colour is not None and not (
            isinstance(colour, list) and len(colour) == 3 and all(
                isinstance(c, int | float) and not isinstance(c, bool) and 0.0 <= c <= 1.0
                for c in colour)):
        raise ValueError(f"{where}: colour must be three numbers 0..1, got {colour!r}")
    if pattern not in PATTERNS:
        raise ValueError(f"{where}: unknown pattern {pattern!r}")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"{where}: name must be text")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise ValueError(f"{where}: weight must be a number 0..1, got {weight!r}")
    return Personal(colour=None if colour is None else tuple(float(c) for c in colour),
                    pattern=pattern, name=name, weight=float(weight))


def _schedule_from(raw: dict, path: object) -> PaletteSchedule:
    """The saved palette schedule (base + timed crossfades), every palette checked."""
    from mural.render.palette import PaletteError, palette_from_dict

    try:
        base = palette_from_dict(dict(raw["base"]), f"{path}: palette schedule")
        changes = [(float(t), palette_from_dict(dict(p), f"{path}: palette change"),
                    float(fade)) for t, p, fade in raw["changes"]]
    except PaletteError as exc:
        raise ValueError(str(exc)) from None
    return PaletteSchedule(base, changes)
