"""A live session: the show played in a window with its cues, then its outputs rendered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mural.events import Event, MarkerEvent
from mural.session.model import Cue, Plan, RunResult, TimedCue
from mural.session.render import render_plan

if TYPE_CHECKING:
    from mural.show.player import Player

PLAYER_KWARGS = ("clock", "sleep", "warn")  # play_plan's extra arguments that go to the Player


class LiveShow:
    """A session's cues run on a playing Player, and a log of what was played.

    It plugs into the player's public hooks: every batch of events that lands on the wall is
    logged (and a marker there releases the cues waiting for it), and after every frame the
    cues due by the mural's time fire. Cue stills are taken the moment their cue fires.
    """

    def __init__(self, plan: Plan, player: Player) -> None:
        self.plan = plan
        self.player = player
        self.log: list[Event] = []
        self.pending: list[TimedCue] = list(plan.cues)
        self.fired: list[TimedCue] = []
        self.waiting: dict[str, list[Cue]] = {}
        for cue in plan.session.cues:
            if cue.marker is not None and cue.marker not in plan.markers:
                self.waiting.setdefault(cue.marker, []).append(cue)
        self.still_lines: list[str] = []
        self.still_paths: list[Path] = []
        player.on_events.append(self.landed)
        player.after_tick.append(self.run_cues)

    def landed(self, events: list[Event]) -> None:
        """Events on the wall: into the log; a marker releases the cues waiting for it."""
        self.log.extend(events)
        for event in events:
            if isinstance(event, MarkerEvent) and event.name in self.waiting:
                for cue in self.waiting.pop(event.name):
                    self.pending.append(TimedCue(event.t + cue.offset, cue))
                self.pending.sort(key=lambda c: c.t)

    def run_cues(self) -> None:
        """Fire every cue due by the mural's time."""
        player = self.player
        while self.pending and self.pending[0].t <= player.mural.time and not player.done:
            self.fire(self.pending.pop(0))

    def fire(self, timed: TimedCue) -> None:
        player = self.player
        cue = timed.cue
        self.fired.append(TimedCue(player.mural.time, cue))
        if cue.palette:
            player.set_palette(cue.palette, cue.fade)
        if cue.speed:
            player.set_speed(cue.speed)
        if cue.pause:
            player.pause_for(cue.pause)
        if cue.add_source:
            player.add_source(cue.add_source)  # one that cannot open yet is retried
        if cue.remove_source:
            player.remove_source(self._uri_of(cue.remove_source))
        if cue.still:
            self._still(cue)

    def _uri_of(self, name: str) -> str:
        """A source as the session names it (as written, or resolved) -> its SOURCE string."""
        match = next((s for s in self.plan.session.sources if name in (s.written, s.uri)), None)
        return match.uri if match else name

    def _still(self, cue: Cue) -> None:
        player = self.player
        assert cue.still is not None
        at = player.mural.time
        try:
            player.still(cue.still, cue.size or player.size,
                         extra={"mural:session": str(self.plan.session.path)})
        except OSError as exc:  # a still that cannot be written does not end the show
            player.warn(f"cannot write {cue.still}: {exc.strerror or exc}")
            self.still_lines.append(f"could not write {cue.still} (t={at:.2f}s): "
                                    f"{exc.strerror or exc}")
            return
        self.still_paths.append(Path(cue.still))
        self.still_lines.append(f"wrote {cue.still} (t={at:.2f}s)")

    def played(self) -> Plan:
        """The plan of what was played: the logged events on the mural's timeline, the cues
        as they fired (stills were taken live), up to where the show ended."""
        plan = self.plan
        duration = self.player.mural.time
        return Plan(plan.session, sorted(self.log, key=lambda e: e.t), duration, plan.markers,
                    [c for c in self.fired if not c.cue.still], [], plan.personal)


def session_player(plan: Plan, window, *, hud: bool = False, **player_args: Any) -> Player:
    """A Player for a session: its sources, size, palette, seed and personal colours.

    `player_args` are PlayerConfig fields (duration, fps ...) and the Player's clock, sleep
    and warn.
    """
    from mural.show.player import Player, PlayerConfig

    known = {f.name for f in fields(PlayerConfig)} | set(PLAYER_KWARGS)
    unknown = sorted(set(player_args) - known)
    if unknown:
        raise TypeError(f"unknown player arguments: {', '.join(unknown)}")
    runtime = {k: player_args.pop(k) for k in PLAYER_KWARGS if k in player_args}
    settings = plan.session.mural
    config = PlayerConfig(size=settings.size, palette=settings.palette, seed=settings.seed,
                          personal=plan.personal, hud=hud, **player_args)
    return Player([s.uri for s in plan.session.sources], window, config, **runtime)


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
    try:
        with session_player(plan, window, hud=hud, **player_args) as player:
            show = LiveShow(plan, player)
            stats = player.run()
    finally:
        if sink is None:
            window.close()
    say(stats.summary())
    result = RunResult(written=list(show.still_paths), lines=list(show.still_lines),
                       skipped=list(plan.skipped))
    for line in result.lines:
        say(line)
    played = show.played()
    duration = played.duration
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


__all__ = ["LiveShow", "play_plan", "session_player"]
