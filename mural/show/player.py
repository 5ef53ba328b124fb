"""The installation's play loop: sources in, paced frames out to a window, hotkeys in.

`Player` is a composition of small parts, each pure or nearly so and tested on its own:

* `playhead.Playhead` / `playhead.Pacer`: recording time, speed, skipping, seeking; frame pacing.
* `scaler.RenderScaler`: the adaptive render scale.
* `feed.SourceSet`: the sources, replays on the playhead and live inputs on the session clock.
* `autosave.Autosaver`: periodic state saves that never stop the show.
* `hotkeys.Keymap`: the hotkey table, dispatched by lookup.

The player owns the mural (`Wall`), the window and the clocks, and wires those parts together.
"""

# Design notes:
#
# No pygame here: the window is a `Window` (mural.sinks.display.Display in production, a fake in
# tests) that shows frames and reports input as neutral `InputEvent`s ("f", "space", "left" ...).
#
# Time. The session clock is wall time since the player started (injected, so tests drive it).
# The playhead advances by wall time x speed every frame and is never slowed by a slow frame; the
# mural's simulation follows it on its fixed step, skipping ahead past `max_catchup` seconds per
# frame (see mural.show.playhead). While nothing is skipped, frames are bit-identical to
# `mural still`/`mural video` at the same time. Manual events (keys 1-9, the mouse) are stamped
# with the mural's current time.
#
# Render size. Frames are composited at the window size fitted to the mural's aspect, times a
# scale chosen from the measured cost of render + show (mural.show.scaler); the window scales
# them up. Memory: the mural's list of applied events is trimmed every `trim_every` seconds
# (Wall.forget_applied), so hours of live or looped input stay flat.
#
# Hooks (for a session's live show and other embedders; see mural.session.live):
#   on_events     fn(events)      every batch that lands on the wall, after it was recorded
#   after_tick    fn()            after every frame (cue runners)
#   overlays      fn(frame)       draw into the shown frame in place (a join code); not stills
#   hud.providers fn() -> lines   more HUD lines while the HUD is on (mural.show.hud)
#   bind(Hotkey, handler)         another hotkey (the window must report its key name)
# and the actions pause_for, set_palette, set_speed, add_source, remove_source, still, notify,
# stop.

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from mural._version import __version__
from mural.engine.engine import Personal
from mural.events import EmotionEvent, Event, SignalEvent, event_from_dict
from mural.render.palette import DEFAULT_PALETTE
from mural.safety.guard import SafetyConfig
from mural.show.autosave import AUTOSAVE_EVERY, Autosaver
from mural.show.feed import SourceSet
from mural.show.hotkeys import (
    HOTKEYS,
    KEY_EMOTIONS,
    Hotkey,
    Keymap,
    hotkeys_markdown,
    hotkeys_text,
)
from mural.show.hud import Hud
from mural.show.palettes import Palette, load_palette, palette_names
from mural.show.phones import Phones
from mural.show.playhead import (
    MAX_CATCHUP,
    MAX_SPEED,
    MIN_SPEED,
    SEEK_STEP,
    Pacer,
    Playhead,
    clock_text,
)
from mural.show.scaler import SCALES, RenderScaler
from mural.show.wall import Wall
from mural.sinks.png import save_png
from mural.sinks.window import HudLine, InputEvent, Window
from mural.sources import EventSource, SourceStats
from mural.sources.resilient import ResilientSource

log = logging.getLogger("mural.show")

MANUAL = "manual"  # participant id of the keyboard/mouse feedback loop
MANUAL_INTENSITY = 0.9
END_TAIL = 3.0  # seconds of playhead after the last event before a replay ends or loops
TRIM_EVERY = 10.0  # session seconds between trims of the mural's applied-event list
DRAG_EVERY = 0.1  # session seconds between two events of one mouse drag
STOP_SIGNALS = ("SIGHUP", "SIGTERM")  # end the show like Esc (state saved) on these


@dataclass(frozen=True)
class PlayerConfig:
    """How a show plays: everything but the sources, the window and the clocks.

    `size` is the simulation size (default: the window's). `personal` are personal colours by
    participant. `autosave` is where the state is saved every `autosave_every` seconds and on
    exit; `resume` a state to continue from; `record` a stream file every event played goes to.
    """

    size: tuple[int, int] | None = None
    fps: float = 60.0
    palette: str | Palette = DEFAULT_PALETTE
    seed: int = 0
    speed: float = 1.0
    loop: bool = False
    duration: float | None = None
    hud: bool = False
    strict: bool = False
    safety: SafetyConfig | None = None
    personal: Mapping[str, Personal] | None = None
    max_catchup: float = MAX_CATCHUP
    trim_every: float = TRIM_EVERY
    stills_dir: str | Path = "."
    autosave: str | Path | None = None
    autosave_every: float = AUTOSAVE_EVERY
    resume: str | Path | None = None
    record: str | Path | None = None
    record_force: bool = False
    show_join: bool = False  # draw a web:// source's join code in a corner of the wall

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if not self.autosave_every > 0:
            raise ValueError(f"autosave_every must be positive, got {self.autosave_every}")
        if self.size is not None:
            object.__setattr__(self, "size", tuple(self.size))


@dataclass
class PlayStats:
    """What a session did, for the one-line summary on exit."""

    frames: int
    seconds: float
    sources: SourceStats
    manual: int
    saved: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()  # lines for the operator (e.g. where a previous state went)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        s = self.sources
        line = (
            f"played {self.frames} frames in {self.seconds:.1f}s ({self.fps:.1f} fps); events: "
            f"{s.accepted + self.manual} accepted ({self.manual} manual), "
            f"{s.rejected} rejected (invalid), {s.malformed} malformed (unparseable)"
        )
        if s.dropped:
            line += f", {s.dropped} dropped by flood control"
        if s.refused:
            line += f", {s.refused} refused (key, allow-list, origin or connection cap)"
        if self.saved:
            line += f"; saved {', '.join(str(p) for p in self.saved)}"
        return line


def fit_size(inner: tuple[int, int], outer: tuple[int, int]) -> tuple[int, int]:
    """The largest size with `inner`'s aspect ratio that fits in `outer`."""
    k = min(outer[0] / inner[0], outer[1] / inner[1])
    return max(8, round(inner[0] * k)), max(8, round(inner[1] * k))


class Player:
    """Owns the mural, the sources, the clocks and the hotkeys; `run()` plays until done.

    `sources` are SOURCE strings (opened here, live ones on the session clock) or already open
    EventSources. `clock` returns wall seconds and `sleep` waits (both injectable for tests);
    `warn` gets the operator's warnings (default: logging), which also show on screen.
    """

    def __init__(
        self,
        sources: Sequence[str | EventSource],
        window: Window,
        config: PlayerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        config = config or PlayerConfig()
        self.config = config
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._warn = warn or log.warning
        self.seed = config.seed
        self.safety = config.safety
        self.personal = dict(config.personal or {})
        self.hud = Hud(config.hud)
        self.stills_dir = Path(config.stills_dir)
        self.palette = load_palette(config.palette)
        self._t0 = clock()

        # the public hooks (see the design notes)
        self.on_events: list[Callable[[list[Event]], None]] = []
        self.after_tick: list[Callable[[], None]] = []
        self.overlays: list[Callable[[np.ndarray], None]] = []
        self.keymap = Keymap(HOTKEYS)
        self.actions: dict[str, Callable[[str], None]] = {
            "quit": lambda key: self.stop(),
            "fullscreen": lambda key: self.toggle_fullscreen(),
            "hud": lambda key: self.toggle_hud(),
            "still": lambda key: self.save_still(),
            "pause": lambda key: self.toggle_pause(),
            "seek_back": lambda key: self.seek(-SEEK_STEP),
            "seek_forward": lambda key: self.seek(SEEK_STEP),
            "faster": lambda key: self.set_speed(self.speed * 2),
            "slower": lambda key: self.set_speed(self.speed / 2),
            "palette": lambda key: self.next_palette(),
            "emotion": lambda key: self.inject(KEY_EMOTIONS[key], self.window.mouse()),
            "block_phone": lambda key: self.phones.block_last(),
        }

        self.playhead = Playhead(speed=config.speed, max_catchup=config.max_catchup)
        self.pacer = Pacer(config.fps)
        self.scaler = RenderScaler(config.fps)
        self.frames = 0
        self.manual_events = 0
        self.last_emotion = KEY_EMOTIONS["1"]
        self.saved: list[Path] = []
        self.notes: list[str] = []
        self.quit_requested = False
        self.done = False
        self._closed = False
        self._last_now = 0.0
        self._last_push_t = 0.0
        self._finished_at: float | None = None
        self._resume_at: float | None = None
        self._last_trim = 0.0
        self._last_drag = -float("inf")
        self._frame_ema: float | None = None

        self.recorder = None
        if config.record is not None:  # opened first: a bad path fails before any port is bound
            from mural.sinks.recorder import StreamRecorder

            self.recorder = StreamRecorder(config.record, force=config.record_force,
                                           header={"recorded_by": "mural play"}, clock=clock)
        try:
            # a live input that fails mid-show is retried with backoff, never fatal
            self.feed = SourceSet(sources, clock=self.session_time, strict=config.strict)
        except BaseException:
            if self.recorder is not None:
                self.recorder.close()
            raise
        self.playhead.end = self.feed.replay_end
        self.size = tuple(config.size or window.size)
        self.autosaver = None
        if config.autosave is not None:
            self.autosaver = Autosaver(config.autosave, self._write_state,
                                       every=config.autosave_every, warn=self.warn)
        try:
            if config.resume is not None:
                self._resume(Path(config.resume))
            else:
                self.mural = self._new_mural()
        except BaseException:
            self.close()
            raise
        if self.autosaver is not None:  # never write over the state a previous show left
            note = self.autosaver.protect_previous(config.resume)
            if note is not None:
                self.notes.append(note)
        self.phones = Phones.attach(self, show_join=config.show_join)

    # -- the parts, as the rest of the package sees them ------------------------------------

    @property
    def position(self) -> float:
        """The playhead, in recording time."""
        return self.playhead.position

    @property
    def skipped(self) -> float:
        """Simulation skipped so far: mural time = position - skipped."""
        return self.playhead.skipped

    @property
    def speed(self) -> float:
        return self.playhead.speed

    @property
    def paused(self) -> bool:
        return self.playhead.paused

    @property
    def sources(self) -> list[EventSource]:
        return self.feed.sources

    @property
    def name(self) -> str:
        """What is playing, for provenance: the sources' names ("manual" with none)."""
        return self.feed.name

    def session_time(self) -> float:
        """Wall seconds since the player started."""
        return self.clock() - self._t0

    @property
    def base_render_size(self) -> tuple[int, int]:
        """The window's size fitted to the mural's aspect: the full-quality render size."""
        return fit_size(self.size, tuple(self.window.size))

    @property
    def scale_level(self) -> int:
        return self.scaler.level

    @property
    def render_scale(self) -> float:
        return self.scaler.scale

    @property
    def render_size(self) -> tuple[int, int]:
        return self.scaler.size(self.base_render_size)

    def set_render_scale(self, level: int) -> None:
        """Render at SCALES[level] from now on (the scaler may move it again later)."""
        self.scaler.set_level(level, self.session_time())
        self.mural.set_render_size(self.render_size)

    # -- set-up ---------------------------------------------------------------------------

    def _new_mural(self, events: Sequence[Event] = ()) -> Wall:
        mural = Wall(events, size=self.size, seed=self.seed, palette=self.palette,
                     safety=self.safety, personal=self.personal)
        mural.set_render_size(self.render_size)
        return mural

    def _resume(self, path: Path) -> None:
        """Continue a saved show: the wall as it was, the recordings from where they were."""
        self.mural = Wall.from_state(path, palette=self.palette, safety=self.safety)
        self.size = self.mural.size
        self.mural.set_render_size(self.render_size)
        self.playhead.restore(self.mural.resume_extra, self.mural.time)
        # hand out again what the new mural has not applied yet
        self.feed.seek(self.playhead.in_recording(self.mural.engine.t))

    def _write_state(self, path: Path) -> Path:
        extra = {**self.playhead.state(), "sources": self.feed.names}
        return self.mural.save_state(path, extra=extra)

    def save_state(self) -> Path | None:
        """Save the show's state now (atomically); None when not autosaving or when it failed
        (warned about; the last good state is kept)."""
        if self.autosaver is None:
            return None
        return self.autosaver.save()

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> PlayStats:
        """Play until Esc/Q, the window closes, --duration passes, the sources end, `stop()`
        (a signal), or Ctrl-C."""
        try:
            if not self.frames:
                self.mural.render()  # load the compiled kernels before playback time counts
                self._last_now = self.session_time()
            while not self.done:
                self.tick()
                if not self.done:
                    self.pace()
        except KeyboardInterrupt:
            self.done = True
        return self.stats()

    def tick(self) -> None:
        """One frame: input, clocks, events, simulation, render, show, housekeeping, hooks."""
        for event in self.window.poll():
            self.handle(event)
            if self.quit_requested:
                break
        if self.quit_requested:
            self.done = True
            return
        now = self.session_time()
        dt = max(0.0, now - self._last_now)
        self._last_now = now
        if self.config.duration is not None and now >= self.config.duration:
            self.done = True
            return
        self.playhead.advance(dt)
        self._frame_ema = dt if self._frame_ema is None else self._frame_ema + (
            dt - self._frame_ema) * 0.1

        target = self.playhead.step_target(self.mural.time)
        self._feed(now)
        if target > self.mural.time:
            self.mural.advance_to(target)

        began = self.clock()
        self._show(self.mural.render())  # scaling to the window is part of the cost
        if self.scaler.measure(self.clock() - began, now):
            self.mural.set_render_size(self.render_size)
        self.frames += 1
        self._housekeeping(now)
        if self._resume_at is not None and self.session_time() >= self._resume_at:
            self.playhead.paused, self._resume_at = False, None
        for hook in list(self.after_tick):
            hook()

    def _show(self, frame: np.ndarray) -> None:
        """To the window, with the overlays drawn in (the frame is the render buffer, which
        the next render overwrites whole; stills render afresh without them)."""
        for overlay in self.overlays:
            overlay(frame)
        self.window.show(frame, self.hud_lines())

    def pace(self) -> None:
        """Sleep until the next frame is due (never to catch up: a late frame starts at once)."""
        wait = self.pacer.wait(self.clock())
        if wait > 0:
            self.sleep(wait)

    def _stamp_floor(self) -> float:
        """The earliest time a new event may carry: keeps the mural's event list in order."""
        return max(self.mural.time, self._last_push_t)

    def _push(self, events: list[Event]) -> None:
        if not events:
            return
        self.mural.push(events)
        if self.recorder is not None:  # on the mural's timeline: the file replays the show
            self.recorder.write_many(events)
            self.recorder.sync_if_due()
        self._last_push_t = max(self._last_push_t, events[-1].t)
        for observer in list(self.on_events):
            observer(events)

    def _feed(self, now: float) -> None:
        """Poll the sources and hand their events to the mural on its timeline."""
        events = self.feed.poll(now, self.position, floor=self._stamp_floor(),
                                skipped=self.skipped)
        if events:
            self._push(events)
            self.hud.count(len(events), now)

    def _housekeeping(self, now: float) -> None:
        if self.autosaver is not None:
            self.autosaver.tick(now)
        if now - self._last_trim >= self.config.trim_every:
            self._last_trim = now
            self.mural.forget_applied()  # hours of live or looped input must not pile up
        self.hud.forget_before(now)
        replay_done = self.feed.replay_finished
        if not ((replay_done and self.config.loop) or self.feed.finished):
            self._finished_at = None
            return
        if self._finished_at is None:
            self._finished_at = self.position
        if self.position >= self._finished_at + END_TAIL:  # let the last light fade a little
            if self.config.loop and replay_done:
                self._rebuild(0.0)
            else:
                self.done = True

    # -- input ----------------------------------------------------------------------------

    def handle(self, event: InputEvent) -> None:
        """Act on one input: hotkeys, manual emotions, quitting."""
        if event.kind == "quit":
            self.stop()
        elif event.kind == "click":
            self.inject(self.last_emotion, event.pos)
        elif event.kind == "drag":
            now = self.session_time()
            if now - self._last_drag >= DRAG_EVERY:
                self._last_drag = now
                self.inject(self.last_emotion, event.pos)
        elif event.kind == "key" and event.key is not None:
            self.press(event.key)

    def press(self, key: str) -> None:
        """A hotkey by its neutral name, dispatched through the keymap."""
        action = self.keymap.action(key)
        handler = self.actions.get(action) if action is not None else None
        if handler is not None:
            handler(key)

    def bind(self, row: Hotkey, handler: Callable[[str], None]) -> None:
        """Another hotkey: `row` (shown with the others) and the handler of its actions, which
        gets the key name. The window must report that key (mural.sinks.display.KEY_NAMES)."""
        taken = {action for _, action in row.keys} & set(self.actions)
        if taken:
            raise ValueError(f"actions already bound: {', '.join(sorted(taken))}")
        self.keymap.add(row)
        for _, action in row.keys:
            self.actions[action] = handler

    # -- actions --------------------------------------------------------------------------

    def stop(self) -> None:
        """End the show at the next frame, like Esc (the state is saved on close)."""
        self.quit_requested = True

    def toggle_fullscreen(self) -> None:
        self.window.toggle_fullscreen()
        self.scaler.forget()  # another window size: costs must be measured anew
        self.mural.set_render_size(self.render_size)

    def toggle_hud(self) -> None:
        self.hud.toggle()

    def toggle_pause(self) -> None:
        self.playhead.paused = not self.playhead.paused
        self._resume_at = None  # the operator's word wins over a timed pause
        self.notify("paused" if self.paused else "playing")

    def pause_for(self, seconds: float) -> None:
        """Hold the mural still for `seconds` of session time (a cue's pause)."""
        self.playhead.paused = True
        self._resume_at = self.session_time() + max(0.0, seconds)

    def set_speed(self, speed: float) -> None:
        self.playhead.set_speed(speed)
        self.notify(f"speed x{self.speed:g}")

    def set_palette(self, palette: str | Palette, fade: float = 0.0) -> None:
        """Change the palette, crossfading over `fade` seconds of mural time."""
        self.palette = load_palette(palette)
        self.mural.set_palette(self.palette, fade)
        self.notify(f"palette {self.palette.name}")

    def next_palette(self) -> None:
        names = palette_names()
        current = names.index(self.palette.name) if self.palette.name in names else -1
        self.set_palette(names[(current + 1) % len(names)])

    def add_source(self, uri: str) -> EventSource | None:
        """Play another SOURCE from now on (a recording from the playhead on). A network
        listener that cannot open yet (port in use) is retried with backoff; anything else
        that cannot be opened is warned about and the show goes on (None)."""
        try:
            source = self.feed.add(uri, at=self.position, retry=True)
        except Exception as exc:  # never end a show over a source added to it
            self.warn(f"cannot add source {uri}: {exc}")
            return None
        self.playhead.end = self.feed.replay_end
        if isinstance(source, ResilientSource) and not source.healthy:  # waiting for its port
            self.notify(f"{uri}: {source.last_error}; retrying")
        return source

    def remove_source(self, uri: str) -> bool:
        """Stop playing the source added as (or named) `uri` and close it."""
        removed = self.feed.remove(uri) is not None
        self.playhead.end = self.feed.replay_end
        return removed

    def inject(self, emotion: str, pos: tuple[float, float] | None) -> list[Event]:
        """Manual feedback: an emotion for participant "manual" at `pos` (centre if None), and
        a full signal for it, so it shows even while the network is down."""
        x, y = pos if pos is not None else (0.5, 0.5)
        t = self._stamp_floor()
        mood = event_from_dict({
            "t": t, "participant": MANUAL, "emotion": emotion, "intensity": MANUAL_INTENSITY,
            "x": min(1.0, max(0.0, x)), "y": min(1.0, max(0.0, y)),
        })
        assert isinstance(mood, EmotionEvent)
        events: list[Event] = [mood, SignalEvent(t=t, level=1.0, participant=MANUAL)]
        self._push(events)
        self.manual_events += len(events)
        self.last_emotion = emotion
        self.hud.count(len(events), self.session_time())
        return events

    def seek(self, delta: float) -> None:
        """Move the playhead of the recording(s) by `delta` seconds and rebuild the mural there.

        Forward simulates the span (exact); backward rebuilds from the start of the recording,
        so live and manual events from before the new position are not replayed.
        """
        if not self.feed.has_replay:
            self.notify("nothing to seek: no recording")
            return
        target = self.playhead.seek_target(delta)
        self.notify(f"seeking to {clock_text(target)}")
        self._show(self.mural.render())  # say so before the wait
        if target >= self.position:
            self.playhead.jump(target)
            self._feed(self.session_time())
            self.mural.advance_to(max(self.mural.time, self.playhead.mural_target))
        else:
            self._rebuild(target)
        self._finished_at = None
        self._last_now = self.session_time()  # time spent seeking is not playback

    def _rebuild(self, target: float) -> None:
        """A fresh mural at `target` of the recording(s) (a seek back, or a loop restart)."""
        events = self.feed.rewind(target)
        self.mural = self._new_mural(events)
        self.mural.advance_to(target)
        self.playhead.restart(target)
        self._last_push_t = events[-1].t if events else 0.0
        self._finished_at = None
        self._last_now = self.session_time()

    def still(self, path: str | Path, size: tuple[int, int] | None = None,
              extra: Mapping[str, object] | None = None) -> Path:
        """The current frame at `size` (default: the full render size) as a PNG with its
        provenance (source, time, seed, palette, size, limiter; `extra` adds to it)."""
        size = tuple(size or self.base_render_size)
        if size != self.mural.compositor.size:
            self.mural.set_render_size(size)
        try:
            frame = self.mural.render()
        finally:
            self.mural.set_render_size(self.render_size)
        meta: dict[str, object] = {
            "Software": f"Lumina Mural {__version__}",
            "mural:source": self.name,
            "mural:time": f"{self.mural.time:.3f}",
            "mural:seed": self.seed,
            "mural:palette": self.palette.name,
            "mural:size": f"{frame.shape[1]}x{frame.shape[0]}",
            "mural:flash-limiter": "on" if self.mural.guard.config.enabled else "OFF",
        }
        if self.skipped:
            meta["mural:position"] = f"{self.position:.3f}"  # the recording's time
        meta.update(extra or {})
        return save_png(path, frame, meta)

    def save_still(self) -> Path | None:
        """The current frame at full render size as a PNG in `stills_dir` (the S key); None
        when it could not be written (warned about, the show goes on)."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.stills_dir / f"mural-{stamp}-t{self.position:.1f}s.png"
        n = 1
        while path.exists():
            n += 1
            path = self.stills_dir / f"mural-{stamp}-t{self.position:.1f}s-{n}.png"
        try:
            self.still(path)
        except OSError as exc:
            self.warn(f"cannot save a still to {path}: {exc.strerror or exc}")
            return None
        finally:
            self._last_now = self.session_time()  # time spent saving is not playback
        self.saved.append(path)
        self.notify(f"saved {path.name}")
        return path

    def notify(self, text: str) -> None:
        """A short notice on screen, HUD or not."""
        self.hud.notify(text, self.session_time())

    def warn(self, text: str) -> None:
        """A warning for the operator: to `warn` (the log) and on screen."""
        self._warn(text)
        self.notify(text)

    # -- reporting ------------------------------------------------------------------------

    @property
    def events_per_second(self) -> float:
        return self.hud.events_per_second(self._last_now)

    def hud_lines(self) -> list[HudLine] | None:
        """The HUD (when on) and any live notice; None when there is nothing to draw."""
        alerts = []
        if not self.mural.guard.config.enabled:
            alerts.append(HudLine("SAFETY LIMITER OFF", alert=True))
        if self.autosaver is not None and self.autosaver.last_error is not None:
            alerts.append(HudLine(f"AUTOSAVE FAILING: {self.autosaver.last_error}", alert=True))
        return self.hud.lines(self._last_now, self._status_lines, alerts)

    def _status_lines(self) -> list[HudLine]:
        engine = self.mural.engine
        p = engine.participants
        present = int(np.count_nonzero(p.presence[: len(p)] > 0.05))
        fps = 1.0 / self._frame_ema if self._frame_ema else 0.0
        width, height = self.render_size
        state = "  PAUSED" if self.paused else ""
        skip = f"  skipped {self.skipped:.0f}s" if self.skipped >= 1 else ""
        return [
            HudLine(f"{fps:5.1f} fps   t {clock_text(self.position)}   "
                    f"speed x{self.speed:g}{state}{skip}"),
            HudLine(f"participants {present}/{len(p)}   signal {engine.network_smoothed:.2f}"
                    f"   events {self.events_per_second:.1f}/s"),
            HudLine(f"render {width}x{height} ({self.render_scale:.0%})   "
                    f"palette {self.palette.name}"),
        ]

    def stats(self) -> PlayStats:
        return PlayStats(self.frames, self._last_now, self.feed.stats, self.manual_events,
                         tuple(self.saved), tuple(self.notes))

    def close(self) -> None:
        """Save the state (when autosaving), close every source (listeners release ports) and
        the recording. Closing twice does it once."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.autosaver is not None and hasattr(self, "mural"):
                self.autosaver.save()
        finally:
            try:
                self.feed.close()
            finally:
                if self.recorder is not None:
                    self.recorder.close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def stop_on_signals(stop: Callable[[], None],
                    names: Sequence[str] = STOP_SIGNALS) -> Iterator[None]:
    """While inside, SIGHUP / SIGTERM call `stop` (a clean exit, like Esc) instead of killing
    the process; the previous handlers come back after. Only on the main thread (Python
    delivers signals there); elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        log.warning("%s: ending the show", signal.Signals(signum).name)
        stop()

    previous: dict[int, Any] = {}
    for name in names:
        number = getattr(signal, name, None)
        if number is None:  # no SIGHUP on Windows
            continue
        try:
            previous[number] = signal.signal(number, handler)
        except (OSError, ValueError):
            continue
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old if old is not None else signal.SIG_DFL)


def play_session(
    sources: Sequence[str],
    *,
    fullscreen: bool = False,
    display: int = 0,
    config: PlayerConfig | None = None,
    echo: Callable[[str], None] | None = None,
    **settings: Any,
) -> PlayStats:
    """Open a window (DisplayUnavailable if there is none), play, close; the `mural play` core.

    `settings` are PlayerConfig fields (over `config` when both are given). `echo` gets the
    lines for the operator before the show starts (where a previous show's state went). On
    SIGHUP / SIGTERM the show ends like Esc: the state is saved.
    """
    from mural.sinks.display import Display

    known = {f.name for f in fields(PlayerConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f"play_session got unknown settings: {', '.join(unknown)}")
    config = replace(config or PlayerConfig(), **settings)
    window = Display(config.size or (1280, 720), fullscreen=fullscreen, display=display)
    try:
        with Player(sources, window, config) as player:
            for line in player.notes:
                (echo or log.warning)(line)
            with stop_on_signals(player.stop):
                return player.run()
    finally:
        window.close()


__all__ = [
    "END_TAIL",
    "HOTKEYS",
    "KEY_EMOTIONS",
    "MANUAL",
    "MAX_CATCHUP",
    "MAX_SPEED",
    "MIN_SPEED",
    "SCALES",
    "HudLine",
    "InputEvent",
    "PlayStats",
    "Player",
    "PlayerConfig",
    "fit_size",
    "hotkeys_markdown",
    "hotkeys_text",
    "play_session",
    "stop_on_signals",
]
