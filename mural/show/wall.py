"""A mural in time: an event timeline driving an engine, rendered on demand by a compositor.

This is the one place that turns "events + seed + size + time" into a frame; stills, videos,
the installation window and the Python API all go through it, so they agree bit for bit.
Events reach the engine through mural.engine.timeline.Timeline and the grade follows a
mural.render.palette.PaletteSchedule, as in the long exposure.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from mural.engine.engine import Engine, EngineConfig, Personal
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

    # The timeline's cursor under its old private names, for from_state (which sets `_next`
    # to bisect_left(_times, t)); new code uses self.timeline.seek_to(t).
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

    def save_state(self, path, extra: dict | None = None):
        """Write the whole mural (engine, safety, time) atomically to `path` (.npz).

        `extra` holds what the caller needs to resume around it (sources' positions, speed).
        """
        from mural.show.state import engine_state, write_state

        state = {
            "engine": engine_state(self.engine),
            "guard": self.guard.state_dict(),
            "time": self.time,
            "palette": self.palette.name,
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
    ) -> Wall:
        """Resume a saved mural; events before its time count as already applied.

        Raises mural.show.state.StateError for a missing, partial or corrupt file.
        """
        from mural.show.state import StateError, load_engine_state, read_state

        config_dict, state = read_state(path)
        try:
            config_dict = {**config_dict, "size": tuple(config_dict["size"])}
            config = EngineConfig(**config_dict)
            mural = cls(events, size=config.size, seed=config.seed,
                        palette=palette or state.get("palette"), config=config, safety=safety)
            load_engine_state(mural.engine, state["engine"])
            mural.guard.load_state_dict(state["guard"])
        except StateError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"{path} does not hold a usable mural state ({exc})") from None
        mural.time = float(state["time"])
        mural._next = bisect.bisect_left(mural._times, mural.engine.t)
        mural.resume_extra = dict(state.get("extra") or {})
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
