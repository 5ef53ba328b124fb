"""The installation's play loop: sources in, paced frames out to a window-like sink, hotkeys in."""

# Design notes:
#
# No pygame here: the window is a `Sink` (mural.sinks.display.Display in production, a fake in
# tests) that shows frames and reports input as neutral `InputEvent`s ("f", "space", "left" ...).
#
# Time. The session clock is wall time since the player started (injected, so tests drive it).
# The *playhead* (`position`) is the time in the recording: it advances by wall time x speed
# every frame and is never slowed by a slow frame. The mural's simulation runs on its fixed step
# behind it. If a frame took long, the next `advance_to` simply takes more steps, but at most
# `max_catchup` seconds of simulation per frame (0.25 s): beyond that the mural *skips ahead*
# (`skipped` grows) instead of falling behind. Events from the skipped span are applied at once
# in the next step, so nothing is lost, and the playhead stays on wall time x speed; only the
# simulation between them is not computed. This keeps a slow machine, a hiccup or --speed 600
# from spiralling into ever longer frames. (While nothing is skipped, frames are bit-identical
# to `mural still`/`mural video` at the same time.)
#
# Sources. Recordings and scenarios are polled with the playhead (`--speed` scales them, ←/→
# seek them, `--loop` restarts them); live sources (osc://, ws://, -) stamp events with the
# session clock and are polled with it, and their events land on the mural at once. Manual
# events (keys 1-9, the mouse) are stamped with the mural's current time.
#
# Render size. Frames are composited at the window size fitted to the mural's aspect, times a
# scale from SCALES chosen from the measured cost of render + show (see Player._adapt); the
# window scales them up. Memory: the mural's list of applied events is trimmed every
# `trim_every` seconds (Wall.forget_applied), so hours of live or looped input stay flat.

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from mural._version import __version__
from mural.events import EmotionEvent, Event, SignalEvent, event_from_dict
from mural.safety.guard import SafetyConfig
from mural.show.palettes import Palette, load_palette, palette_names
from mural.show.wall import Wall
from mural.sinks.png import save_png
from mural.sinks.window import HudLine, InputEvent, Window
from mural.sources import EventSource, SourceStats, open_source
from mural.sources.replay import MergedSource

MANUAL = "manual"  # participant id of the keyboard/mouse feedback loop
MANUAL_INTENSITY = 0.9
KEY_EMOTIONS: dict[str, str] = {
    "1": "joy", "2": "calm", "3": "love", "4": "hope", "5": "awe",
    "6": "trust", "7": "surprise", "8": "sadness", "9": "anger",
}  # fmt: skip
SEEK_STEP = 10.0  # seconds per ←/→
MIN_SPEED, MAX_SPEED = 1 / 16, 1024.0
MAX_CATCHUP = 0.25  # seconds of simulation per frame at most; beyond it the mural skips
AUTOSAVE_EVERY = 30.0  # seconds of wall time between state saves
SCALES = (1.0, 0.75, 0.5, 0.375)  # internal render size steps (of the window-fitted size)
SCALE_DOWN_AT = 0.8  # step down when the average render takes this share of a frame ...
SCALE_UP_AT = 0.55  # ... and back up when the next size up is predicted below this share
SCALE_COOLDOWN = 1.0  # session seconds between two scale changes (hysteresis)
SCALE_MEMORY = 30.0  # session seconds a measured per-size cost is trusted
RENDER_SMOOTHING = 0.1  # weight of the newest render time in its moving average
END_TAIL = 3.0  # seconds of playhead after the last event before a replay ends or loops
TRIM_EVERY = 10.0  # session seconds between trims of the mural's applied-event list
DRAG_EVERY = 0.1  # session seconds between two events of one mouse drag
MESSAGE_SECONDS = 2.5  # how long a notice ("saved ...") stays on screen

HOTKEYS: tuple[tuple[str, str], ...] = (
    ("F", "toggle fullscreen"),
    ("H", "toggle the HUD (fps, participants, signal, events/s, render scale)"),
    ("S", "save a still of the current frame (PNG in the current folder)"),
    ("Space", "pause / resume"),
    ("← / →", "seek 10 s back / forward in a recording"),
    ("+ / -", "double / halve the playback speed"),
    ("P", "next palette"),
    ("1 … 9", "an emotion from participant \"manual\" at the mouse (else the centre):"),
    ("", "1 joy, 2 calm, 3 love, 4 hope, 5 awe, 6 trust, 7 surprise, 8 sadness, 9 anger"),
    ("click / drag", "the last emotion at the pointer / move it"),
    ("Esc / Q", "quit"),
)


def hotkeys_markdown() -> str:
    """The hotkey table as Markdown (for the README)."""
    rows = ["| Key | Action |", "| --- | --- |"]
    for key, action in HOTKEYS:
        if key:
            rows.append(f"| {key} | {action} |")
        else:  # a continuation line
            rows[-1] = rows[-1][: -len(" |")] + f" {action} |"
    return "\n".join(rows)


def hotkeys_text() -> str:
    """The hotkey table as plain text (for --help)."""
    width = max(len(key) for key, _ in HOTKEYS)
    return "\n".join(f"{key.ljust(width)}  {action}" for key, action in HOTKEYS)


@dataclass
class PlayStats:
    """What a session did, for the one-line summary on exit."""

    frames: int
    seconds: float
    sources: SourceStats
    manual: int
    saved: tuple[Path, ...] = ()

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
        if self.saved:
            line += f"; saved {', '.join(str(p) for p in self.saved)}"
        return line


def fit_size(inner: tuple[int, int], outer: tuple[int, int]) -> tuple[int, int]:
    """The largest size with `inner`'s aspect ratio that fits in `outer`."""
    k = min(outer[0] / inner[0], outer[1] / inner[1])
    return max(8, round(inner[0] * k)), max(8, round(inner[1] * k))


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes)}:{secs:04.1f}"


class Player:
    """Owns the mural, the sources, the clocks and the hotkeys; `run()` plays until done.

    `sources` are SOURCE strings (opened here, live ones on the session clock) or already open
    EventSources. `clock` returns wall seconds and `sleep` waits (both injectable for tests).
    `size` is the simulation size (default: the sink's); frames are composited at the sink's
    size fitted to that aspect, times the adaptive render scale.
    """

    def __init__(
        self,
        sources: Sequence[str | EventSource],
        sink: Window,
        *,
        size: tuple[int, int] | None = None,
        fps: float = 60.0,
        palette: str | Palette = "abyss",
        seed: int = 0,
        speed: float = 1.0,
        loop: bool = False,
        duration: float | None = None,
        hud: bool = False,
        strict: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        safety: SafetyConfig | None = None,
        max_catchup: float = MAX_CATCHUP,
        trim_every: float = TRIM_EVERY,
        stills_dir: str | Path = ".",
        autosave: str | Path | None = None,
        autosave_every: float = AUTOSAVE_EVERY,
        resume: str | Path | None = None,
        record: str | Path | None = None,
        record_force: bool = False,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.sink = sink
        self.clock = clock
        self.sleep = sleep
        self.fps = float(fps)
        self.seed = seed
        self.speed = min(MAX_SPEED, max(MIN_SPEED, float(speed)))
        self.loop = loop
        self.duration = duration
        self.hud = hud
        self.safety = safety
        self.max_catchup = max_catchup
        self.trim_every = trim_every
        self.stills_dir = Path(stills_dir)
        self.palette = load_palette(palette)
        self._t0 = clock()
        self.recorder = None
        if record is not None:  # opened first: a bad path fails before any port is bound
            from mural.sinks.recorder import StreamRecorder

            self.recorder = StreamRecorder(record, force=record_force,
                                           header={"recorded_by": "mural play"})
        self.sources = self._open(sources, strict)
        replays = [s for s in self.sources if not s.live]
        lives = [s for s in self.sources if s.live]
        self.replay = MergedSource(replays) if replays else None
        self.live = MergedSource(lives) if lives else None
        self.name = " + ".join(getattr(s, "name", "?") for s in self.sources) or "manual"
        self.replay_end = max((_stream_end(s) for s in replays), default=math.inf)

        self.size = tuple(size or sink.size)
        self.scale_level = 0
        self.autosave = Path(autosave) if autosave else None
        self.autosave_every = autosave_every
        self._last_save = 0.0
        self.position = 0.0  # the playhead, in recording time
        self.skipped = 0.0  # simulation skipped so far: mural time = position - skipped
        if resume is not None:
            self._resume(Path(resume))
        else:
            self.mural = self._new_mural()
        self.paused = False
        self.frames = 0
        self.manual_events = 0
        self.last_emotion = KEY_EMOTIONS["1"]
        self.saved: list[Path] = []
        self.quit_requested = False
        self.done = False
        self._last_now = 0.0
        self._last_push_t = 0.0
        self._finished_at: float | None = None
        self._render_ema: float | None = None
        self._level_costs: dict[int, tuple[float, float]] = {}  # level -> (cost, when)
        self._last_scale_change = -math.inf
        self._last_trim = 0.0
        self._last_drag = -math.inf
        self._frame_ema: float | None = None
        self._event_times: deque[tuple[float, int]] = deque()
        self._message: tuple[str, float] | None = None
        self._next_frame: float | None = None

    # -- set-up ---------------------------------------------------------------------------

    def _open(self, sources: Sequence[str | EventSource], strict: bool) -> list[EventSource]:
        opened: list[EventSource] = []
        try:
            for item in sources:
                if isinstance(item, str):
                    # a live input that fails mid-show is retried with backoff, never fatal
                    opened.append(open_source(item, strict=strict, clock=self.session_time,
                                              resilient=True))
                else:
                    opened.append(item)
        except BaseException:
            for source in opened:
                source.close()
            raise
        return opened

    def _resume(self, path: Path) -> None:
        """Continue a saved show: the wall as it was, the recordings from where they were."""
        try:
            self.mural = Wall.from_state(path, palette=self.palette, safety=self.safety)
        except BaseException:
            self.close()
            raise
        self.size = self.mural.size
        self.mural.set_render_size(self.render_size)
        extra = self.mural.resume_extra
        self.position = float(extra.get("position", self.mural.time))
        self.skipped = float(extra.get("skipped", 0.0))
        self.speed = min(MAX_SPEED, max(MIN_SPEED, float(extra.get("speed", self.speed))))
        if self.replay is not None:  # hand out again what the new mural has not applied yet
            self.replay.seek(self.mural.engine.t + self.skipped)

    def save_state(self) -> Path | None:
        """Write the show's state atomically (autosave and exit); None when not autosaving."""
        if self.autosave is None:
            return None
        extra = {"position": self.position, "skipped": self.skipped, "speed": self.speed,
                 "sources": [getattr(s, "name", "?") for s in self.sources]}
        return self.mural.save_state(self.autosave, extra=extra)

    def _new_mural(self, events: Sequence[Event] = ()) -> Wall:
        mural = Wall(events, size=self.size, seed=self.seed, palette=self.palette,
                      safety=self.safety)
        mural.set_render_size(self.render_size)
        return mural

    def session_time(self) -> float:
        """Wall seconds since the player started."""
        return self.clock() - self._t0

    @property
    def base_render_size(self) -> tuple[int, int]:
        """The sink's size fitted to the mural's aspect: the full-quality render size."""
        return fit_size(self.size, tuple(self.sink.size))

    @property
    def render_scale(self) -> float:
        return SCALES[self.scale_level]

    @property
    def render_size(self) -> tuple[int, int]:
        width, height = self.base_render_size
        k = self.render_scale
        return max(8, round(width * k)), max(8, round(height * k))

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> PlayStats:
        """Play until Esc/Q, the window closes, --duration passes, the sources end, or Ctrl-C."""
        try:
            if not self.frames:
                self.mural.render()  # load the compiled kernels before playback time counts
                self._last_now = self.session_time()
            while not self.done:
                self.tick()
                if not self.done:
                    self._pace()
        except KeyboardInterrupt:
            self.done = True
        return self.stats()

    def tick(self) -> None:
        """One frame: input, clocks, events, simulation, render, show, housekeeping."""
        for event in self.sink.poll():
            self.handle(event)
            if self.quit_requested:
                self.done = True
                return
        now = self.session_time()
        dt = max(0.0, now - self._last_now)
        self._last_now = now
        if self.duration is not None and now >= self.duration:
            self.done = True
            return
        if not self.paused:
            self.position += dt * self.speed
        self._frame_ema = dt if self._frame_ema is None else self._frame_ema + (
            dt - self._frame_ema) * 0.1

        target = self.position - self.skipped
        lag = target - self.mural.time
        if lag > self.max_catchup:  # skip ahead rather than fall behind
            self.skipped += lag - self.max_catchup
            target = self.mural.time + self.max_catchup
        self._feed(now)
        if target > self.mural.time:
            self.mural.advance_to(target)

        began = self.clock()
        frame = self.mural.render()
        self.sink.show(frame, self.hud_lines())  # scaling to the window is part of the cost
        self._adapt(self.clock() - began, now)
        self.frames += 1
        self._housekeeping(now)

    def _pace(self) -> None:
        """Sleep until the next frame is due (never to catch up: a late frame starts at once)."""
        period = 1.0 / self.fps
        now = self.clock()
        if self._next_frame is None or now - self._next_frame > period:
            self._next_frame = now
        self._next_frame += period
        wait = self._next_frame - now
        if wait > 0:
            self.sleep(wait)

    def _stamp_floor(self) -> float:
        """The earliest time a new event may carry: keeps the mural's event list in order."""
        return max(self.mural.time, self._last_push_t)

    def _push(self, events: list[Event]) -> None:
        if events:
            self.mural.push(events)
            if self.recorder is not None:  # on the mural's timeline: the file replays the show
                self.recorder.write_many(events)
                self.recorder.sync_if_due()
            self._last_push_t = max(self._last_push_t, events[-1].t)

    def _feed(self, now: float) -> None:
        """Poll the sources and hand their events to the mural on its timeline."""
        count = 0
        if self.live is not None:
            batch = self.live.poll(now)
            if batch:
                t = self._stamp_floor()
                self._push([replace(e, t=t) for e in batch])
                count += len(batch)
        if self.replay is not None:
            batch = self.replay.poll(self.position)
            if batch:
                if self.skipped:
                    floor = self._stamp_floor()
                    batch = [_shifted(e, self.skipped, floor) for e in batch]
                self._push(batch)
                count += len(batch)
        if count:
            self._event_times.append((now, count))

    def _adapt(self, cost: float, now: float) -> None:
        """Step the render size down when rendering eats the frame, up when there's room.

        `cost` is render + show: a smaller render is cheaper to composite but costs a rescale
        on the way to the screen, so the cost measured at each size is remembered when leaving
        it (for SCALE_MEMORY seconds) and a step is only taken when it is expected to help.
        """
        ema = self._render_ema
        ema = self._render_ema = cost if ema is None else ema + (cost - ema) * RENDER_SMOOTHING
        if now - self._last_scale_change < SCALE_COOLDOWN:
            return
        level, costs = self.scale_level, self._level_costs
        if level in costs and ema < 0.5 * costs[level][0]:
            costs.clear()  # much cheaper than last time here: old measurements no longer hold
        budget = 1.0 / self.fps

        def known(other: int) -> float | None:
            seen = costs.get(other)
            return seen[0] if seen is not None and now - seen[1] <= SCALE_MEMORY else None

        if level > 0:
            bigger = known(level - 1)
            growth = (SCALES[level - 1] / SCALES[level]) ** 2  # compositing grows with area
            if bigger is not None and bigger <= ema * 1.05:  # the bigger size is no dearer
                self._set_scale(level - 1, now)
                return
            if (bigger if bigger is not None else ema * growth) < SCALE_UP_AT * budget:
                self._set_scale(level - 1, now)
                return
        if ema > SCALE_DOWN_AT * budget and level < len(SCALES) - 1:
            smaller = known(level + 1)
            if smaller is None or smaller < 0.9 * ema:
                self._set_scale(level + 1, now)

    def _set_scale(self, level: int, now: float) -> None:
        if self._render_ema is not None:
            self._level_costs[self.scale_level] = (self._render_ema, now)
        self.scale_level = level
        self.mural.set_render_size(self.render_size)
        self._last_scale_change = now
        self._render_ema = None

    def _housekeeping(self, now: float) -> None:
        if self.autosave is not None and now - self._last_save >= self.autosave_every:
            self._last_save = now
            self.save_state()
        if now - self._last_trim >= self.trim_every:
            self._last_trim = now
            self.mural.forget_applied()  # hours of live or looped input must not pile up
        while self._event_times and now - self._event_times[0][0] > 2.0:
            self._event_times.popleft()
        replay_done = self.replay is not None and self.replay.finished
        all_done = bool(self.sources) and all(source.finished for source in self.sources)
        if not ((replay_done and self.loop) or all_done):
            self._finished_at = None
            return
        if self._finished_at is None:
            self._finished_at = self.position
        if self.position >= self._finished_at + END_TAIL:  # let the last light fade a little
            if self.loop and replay_done:
                self._rebuild(0.0)
            else:
                self.done = True

    # -- input ----------------------------------------------------------------------------

    def handle(self, event: InputEvent) -> None:
        """Act on one input: hotkeys, manual emotions, quitting."""
        if event.kind == "quit":
            self.quit_requested = True
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
        """A hotkey by its neutral name (see HOTKEYS)."""
        if key in ("escape", "q"):
            self.quit_requested = True
        elif key == "f":
            self.sink.toggle_fullscreen()
            self.mural.set_render_size(self.render_size)
            self._render_ema = None
            self._level_costs.clear()  # another window size: costs must be measured anew
        elif key == "h":
            self.hud = not self.hud
        elif key == "s":
            self.save_still()
        elif key == "space":
            self.paused = not self.paused
            self.notify("paused" if self.paused else "playing")
        elif key == "left":
            self.seek(-SEEK_STEP)
        elif key == "right":
            self.seek(SEEK_STEP)
        elif key == "plus":
            self.set_speed(self.speed * 2)
        elif key == "minus":
            self.set_speed(self.speed / 2)
        elif key == "p":
            self.next_palette()
        elif key in KEY_EMOTIONS:
            self.inject(KEY_EMOTIONS[key], self.sink.mouse())

    def set_speed(self, speed: float) -> None:
        self.speed = min(MAX_SPEED, max(MIN_SPEED, speed))
        self.notify(f"speed x{self.speed:g}")

    def next_palette(self) -> None:
        names = palette_names()
        current = names.index(self.palette.name) if self.palette.name in names else -1
        self.palette = load_palette(names[(current + 1) % len(names)])
        self.mural.set_palette(self.palette)
        self.notify(f"palette {self.palette.name}")

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
        self._event_times.append((self.session_time(), len(events)))
        return events

    def seek(self, delta: float) -> None:
        """Move the playhead of the recording(s) by `delta` seconds and rebuild the mural there.

        Forward simulates the span (exact); backward rebuilds from the start of the recording,
        so live and manual events from before the new position are not replayed.
        """
        if self.replay is None:
            self.notify("nothing to seek: no recording")
            return
        target = max(0.0, self.position + delta)
        if math.isfinite(self.replay_end):
            target = min(target, self.replay_end)
        self.notify(f"seeking to {_clock_text(target)}")
        self.sink.show(self.mural.render(), self.hud_lines())  # say so before the wait
        if target >= self.position:
            self.position = target
            self._feed(self.session_time())
            self.mural.advance_to(max(self.mural.time, target - self.skipped))
        else:
            self._rebuild(target)
        self._finished_at = None
        self._last_now = self.session_time()  # time spent seeking is not playback

    def _rebuild(self, target: float) -> None:
        """A fresh mural at `target` of the recording(s) (a seek back, or a loop restart)."""
        assert self.replay is not None
        self.replay.seek(0.0)
        events = self.replay.poll(target)
        self.mural = self._new_mural(events)
        self.mural.advance_to(target)
        self.position = target
        self.skipped = 0.0
        self._last_push_t = events[-1].t if events else 0.0
        self._finished_at = None
        self._last_now = self.session_time()

    def save_still(self) -> Path:
        """The current frame at full render size as a PNG in `stills_dir`."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.stills_dir / f"mural-{stamp}-t{self.position:.1f}s.png"
        n = 1
        while path.exists():
            n += 1
            path = self.stills_dir / f"mural-{stamp}-t{self.position:.1f}s-{n}.png"
        full = self.base_render_size
        if self.render_size != full:
            self.mural.set_render_size(full)
        frame = self.mural.render()
        width, height = full
        save_png(path, frame, {
            "Software": f"Lumina Mural {__version__}",
            "mural:source": self.name,
            "mural:time": f"{self.position:.3f}",
            "mural:seed": self.seed,
            "mural:palette": self.palette.name,
            "mural:size": f"{width}x{height}",
            "mural:flash-limiter": "on" if self.mural.guard.config.enabled else "OFF",
        })
        self.mural.set_render_size(self.render_size)
        self.saved.append(path)
        self.notify(f"saved {path.name}")
        self._last_now = self.session_time()
        return path

    def notify(self, text: str) -> None:
        """A short notice on screen, HUD or not."""
        self._message = (text, self.session_time() + MESSAGE_SECONDS)

    # -- reporting ------------------------------------------------------------------------

    @property
    def events_per_second(self) -> float:
        if not self._event_times:
            return 0.0
        span = max(1.0, self._last_now - self._event_times[0][0])
        return sum(n for _, n in self._event_times) / span

    def hud_lines(self) -> list[HudLine] | None:
        """The HUD (when on) and any live notice; None when there is nothing to draw."""
        lines: list[HudLine] = []
        if self.hud:
            engine = self.mural.engine
            p = engine.participants
            present = int(np.count_nonzero(p.presence[: len(p)] > 0.05))
            fps = 1.0 / self._frame_ema if self._frame_ema else 0.0
            width, height = self.render_size
            state = "  PAUSED" if self.paused else ""
            skip = f"  skipped {self.skipped:.0f}s" if self.skipped >= 1 else ""
            lines += [
                HudLine(f"{fps:5.1f} fps   t {_clock_text(self.position)}   "
                        f"speed x{self.speed:g}{state}{skip}"),
                HudLine(f"participants {present}/{len(p)}   signal {engine.network_smoothed:.2f}"
                        f"   events {self.events_per_second:.1f}/s"),
                HudLine(f"render {width}x{height} ({self.render_scale:.0%})   "
                        f"palette {self.palette.name}"),
            ]
            if not self.mural.guard.config.enabled:
                lines.append(HudLine("SAFETY LIMITER OFF", alert=True))
        if self._message is not None:
            text, until = self._message
            if self._last_now <= until:
                lines.append(HudLine(text))
            else:
                self._message = None
        return lines or None

    def stats(self) -> PlayStats:
        total = SourceStats()
        for source in self.sources:
            total = total.merge(source.stats)
        return PlayStats(self.frames, self._last_now, total, self.manual_events, tuple(self.saved))

    def close(self) -> None:
        """Save the state (when autosaving), close every source (listeners release ports)."""
        if self.autosave is not None and hasattr(self, "mural"):
            self.save_state()
            self.autosave = None  # closing twice saves once
        for source in self.sources:
            source.close()
        if self.recorder is not None:
            self.recorder.close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stream_end(source: EventSource) -> float:
    stream = getattr(source, "stream", None)
    return stream.duration if stream is not None else math.inf


def _shifted(event: Event, skipped: float, floor: float) -> Event:
    """A recorded event moved onto the mural's timeline (behind the playhead by `skipped`)."""
    return replace(event, t=max(floor, event.t - skipped))


def play_session(
    sources: Sequence[str],
    *,
    fullscreen: bool = False,
    display: int = 0,
    size: tuple[int, int] | None = None,
    fps: float = 60.0,
    palette: str = "abyss",
    seed: int = 0,
    speed: float = 1.0,
    loop: bool = False,
    duration: float | None = None,
    hud: bool = False,
    strict: bool = False,
    safety: SafetyConfig | None = None,
    autosave: str | Path | None = None,
    autosave_every: float = 30.0,
    resume: str | Path | None = None,
    record: str | Path | None = None,
    record_force: bool = False,
) -> PlayStats:
    """Open a window (DisplayUnavailable if there is none), play, close; the `mural play` core."""
    from mural.sinks.display import Display

    window = Display(size or (1280, 720), fullscreen=fullscreen, display=display)
    try:
        with Player(
            sources, window, size=size, fps=fps, palette=palette, seed=seed, speed=speed,
            loop=loop, duration=duration, hud=hud, strict=strict, safety=safety,
            autosave=autosave, autosave_every=autosave_every, resume=resume,
            record=record, record_force=record_force,
        ) as player:
            return player.run()
    finally:
        window.close()


__all__ = [
    "HOTKEYS",
    "KEY_EMOTIONS",
    "MANUAL",
    "HudLine",
    "InputEvent",
    "PlayStats",
    "Player",
    "fit_size",
    "hotkeys_markdown",
    "hotkeys_text",
    "play_session",
]
