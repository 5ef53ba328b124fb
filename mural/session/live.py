"""A live session: the show played in a window with its cues, then its outputs rendered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from mural.events import Event
from mural.session.model import (
    Cue,
    Plan,
    RunResult,
    TimedCue,
)
from mural.session.render import _still_frame, render_plan
from mural.show.palettes import load_palette


def _session_player_class():
    """The Player with a session's cues, personal colours and a log of what was played.

    Built on first use (the player module pulls in the display code). The Player has no
    public hooks for this yet, so it overrides `_new_mural` (personal colours) and `_push`
    (the log, live markers) and edits `sources` / `replay` / `live` to add and remove sources.
    """
    from mural.events import MarkerEvent
    from mural.show.player import Player
    from mural.show.wall import Wall
    from mural.sources import open_source
    from mural.sources.replay import MergedSource

    class SessionPlayer(Player):
        def __init__(self, plan: Plan, sink, **kwargs: Any) -> None:
            self.plan = plan
            self.log: list[Event] = []
            self.pending: list[TimedCue] = list(plan.cues)
            self.fired: list[TimedCue] = []
            self.waiting: dict[str, list[Cue]] = {}
            for cue in plan.session.cues:
                if cue.marker is not None and cue.marker not in plan.markers:
                    self.waiting.setdefault(cue.marker, []).append(cue)
            self.resume_at: float | None = None
            self.still_lines: list[str] = []
            self.still_paths: list[Path] = []
            settings = plan.session.mural
            super().__init__([s.uri for s in plan.session.sources], sink, size=settings.size,
                             palette=settings.palette, seed=settings.seed, **kwargs)
            self.by_uri = dict(zip([s.uri for s in plan.session.sources], self.sources,
                                   strict=True))

        def _new_mural(self, events=()):
            mural = Wall(events, size=self.size, seed=self.seed, palette=self.palette,
                          safety=self.safety, personal=self.plan.personal)
            mural.set_render_size(self.render_size)
            return mural

        def _push(self, events):
            super()._push(events)
            self.log.extend(events)
            for event in events:
                if isinstance(event, MarkerEvent) and event.name in self.waiting:
                    for cue in self.waiting.pop(event.name):
                        self.pending.append(TimedCue(event.t + cue.offset, cue))
                    self.pending.sort(key=lambda c: c.t)

        def tick(self):
            super().tick()
            if self.resume_at is not None and self.session_time() >= self.resume_at:
                self.paused, self.resume_at = False, None
            while self.pending and self.pending[0].t <= self.mural.time and not self.done:
                self.fire(self.pending.pop(0))

        def fire(self, timed: TimedCue) -> None:
            from mural._version import __version__
            from mural.sinks.png import save_png

            cue = timed.cue
            self.fired.append(TimedCue(self.mural.time, cue))
            if cue.palette:
                self.palette = load_palette(cue.palette)
                self.mural.set_palette(self.palette, cue.fade)
                self.notify(f"palette {self.palette.name}")
            if cue.speed:
                self.set_speed(cue.speed)
            if cue.pause:
                self.paused, self.resume_at = True, self.session_time() + cue.pause
            if cue.add_source:
                self.add_source(cue.add_source)
            if cue.remove_source:
                self.remove_source(cue.remove_source)
            if cue.still:
                frame = _still_frame(self.mural, cue.size or self.size)
                save_png(cue.still, frame, {
                    "Software": f"Lumina Mural {__version__}", "mural:source": self.name,
                    "mural:time": f"{self.mural.time:.3f}", "mural:seed": self.seed,
                    "mural:palette": self.palette.name,
                    "mural:size": f"{frame.shape[1]}x{frame.shape[0]}",
                })
                self.still_paths.append(Path(cue.still))
                self.still_lines.append(f"wrote {cue.still} (t={self.mural.time:.2f}s)")

        def add_source(self, uri: str) -> None:
            source = open_source(uri, clock=self.session_time)
            self.sources.append(source)
            self.by_uri[uri] = source
            if source.live:
                if self.live is None:
                    self.live = MergedSource([source])
                else:
                    self.live.sources.append(source)
            else:
                source.seek(self.position)
                if self.replay is None:
                    self.replay = MergedSource([source])
                else:
                    self.replay.sources.append(source)

        def remove_source(self, uri: str) -> None:
            match = next((s for s in self.plan.session.sources if uri in (s.written, s.uri)),
                         None)
            source = self.by_uri.pop(match.uri if match else uri, None)
            if source is None:
                return
            for merged in (self.live, self.replay):
                if merged is not None and source in merged.sources:
                    merged.sources.remove(source)
            if source in self.sources:
                self.sources.remove(source)
            source.close()
            if self.live is not None and not self.live.sources:
                self.live = None
            if self.replay is not None and not self.replay.sources:
                self.replay = None

    return SessionPlayer


def play_plan(
    plan: Plan,
    *,
    fullscreen: bool = False,
    display: int = 0,
    hud: bool = False,
    force: bool = False,
    quiet: bool = True,
    echo: Callable[[str], None] | None = None,
    sink=None,
    **player_args: Any,
) -> RunResult:
    """Play a live session in a window with its cues; then render its outputs from what was
    played (the events as they landed on the mural), frame-exactly like an offline run.

    Cue stills are taken the moment their cue fires. `sink` and `player_args` (clock, sleep,
    duration ...) are for tests and embedding.
    """
    say = echo or (lambda line: None)
    window = sink
    if window is None:
        from mural.sinks.display import Display

        window = Display(plan.session.mural.size, fullscreen=fullscreen, display=display)
    player_class = _session_player_class()
    try:
        with player_class(plan, window, hud=hud, **player_args) as player:
            stats = player.run()
    finally:
        if sink is None:
            window.close()
    say(stats.summary())
    result = RunResult(written=list(player.still_paths), lines=list(player.still_lines),
                       skipped=list(plan.skipped))
    for line in result.lines:
        say(line)
    duration = player.mural.time
    played = Plan(plan.session, sorted(player.log, key=lambda e: e.t), duration, plan.markers,
                  [c for c in player.fired if not c.cue.still], [], plan.personal)
    for out in plan.outputs:
        end = duration if out.end is None else min(out.end, duration)
        if out.kind != "still" and not end > out.start:
            result.skipped.append(f"{out.target} (the show ended at {duration:.1f}s)")
            continue
        played.outputs.append(replace(out, end=end) if out.kind != "still" else out)
    if played.outputs:
        done = render_plan(played, force=force, quiet=quiet, echo=echo)
        result.written += done.written
        result.lines += done.lines
    return result
