"""A mural in time: an event timeline driving an engine, rendered on demand by a compositor.

This is the one place that turns "events + seed + size + time" into a frame; stills, videos,
the installation window and the Python API all go through it, so they agree bit for bit.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

import numpy as np

from mural.engine.engine import Engine, EngineConfig, Personal
from mural.events import Event
from mural.render.compositor import Compositor
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
        self.events: list[Event] = sorted(events, key=lambda e: e.t)
        self._times = [e.t for e in self.events]
        self.compositor = Compositor(self.config.size, load_palette(palette))
        self.resume_extra: dict = {}
        self._fade: tuple | None = None
        self.reset()

    @property
    def palette(self) -> Palette:
        return self.compositor.palette

    def set_palette(self, palette: Palette | str, fade: float = 0.0) -> None:
        """Change the grade from now on, crossfading over `fade` seconds of mural time.

        The simulation is unaffected; the crossfade is a function of time, so a video and a
        still at the same moment agree.
        """
        target = load_palette(palette)
        if fade <= 0.0:
            self._fade = None
            self.compositor.set_palette(target)
        else:
            self._fade = (self.compositor.palette, target, self.time, float(fade))

    def _apply_fade(self, now: float) -> None:
        if self._fade is None:
            return
        start_palette, target, began, length = self._fade
        amount = min(1.0, max(0.0, (now - began) / length))
        self.compositor.set_palette(start_palette.mix(target, amount))
        if amount >= 1.0:
            self._fade = None

    def set_render_size(self, size: tuple[int, int]) -> None:
        """Composite at another output size; the simulation (and its look) stays the same."""
        if tuple(size) != self.compositor.size:
            self.compositor = Compositor(tuple(size), self.compositor.palette)

    @property
    def size(self) -> tuple[int, int]:
        return self.config.size

    @property
    def duration(self) -> float:
        return self._times[-1] if self._times else 0.0

    def push(self, events: Iterable[Event]) -> None:
        """Add events (live input); each lands at the first step not yet simulated."""
        for event in events:
            index = bisect.bisect_right(self._times, event.t, lo=self._next)
            self._times.insert(index, event.t)
            self.events.insert(index, event)

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
        """Drop events already taken into the engine (live or looping play runs for hours).

        After this, going back in time can only rebuild from the events still held.
        """
        del self.events[: self._next]
        del self._times[: self._next]
        self._next = 0

    def _step(self) -> None:
        engine = self.engine
        end = (engine.step_index + 1) / self.config.sim_hz
        events, times = self.events, self._times
        while self._next < len(events) and times[self._next] < end:
            engine.apply(events[self._next])
            self._next += 1
        engine.step()
        self._apply_fade(engine.t)
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
        self._next = 0
        self.time = 0.0

    def render(self) -> np.ndarray:
        """The frame at the current time (HxWx3 uint8, a buffer reused by the next render)."""
        alpha = self.time * self.config.sim_hz - self.engine.step_index
        self._apply_fade(self.time)
        self.compositor.gains = self.guard.gain
        return self.compositor.render(
            self.engine, alpha=min(max(alpha, 0.0), 1.0), exposure=self.guard.exposure
        )

    def frame_at(self, t: float) -> np.ndarray:
        """Advance to t and return a copy of the frame there."""
        self.advance_to(t)
        return self.render().copy()
