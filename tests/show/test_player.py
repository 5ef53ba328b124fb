"""The play loop driven by a fake clock and a fake window: pacing, hotkeys, feedback, long runs."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from mural.events import EmotionEvent, Event, SignalEvent, write_stream
from mural.show.palettes import assets_dir, palette_names
from mural.show.player import (
    END_TAIL,
    KEY_EMOTIONS,
    MANUAL,
    MAX_SPEED,
    SCALES,
    InputEvent,
    Player,
    PlayerConfig,
    hotkeys_markdown,
)
from mural.show.wall import Wall
from mural.sinks.png import read_png_metadata
from mural.sources import SourceStats
from mural.sources.offline import load_offline

FESTIVAL = str(assets_dir() / "sessions" / "festival.jsonl")
SIZE = (160, 90)


@pytest.fixture(autouse=True)
def one_numba_thread():
    """Numba's parallel kernels pay a fixed cost per call that dominates at 160x90 when the
    other core is busy; one thread keeps these tests quick on a shared 2-core machine (the
    loop's logic, not the kernels' speed, is under test here)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


class FakeClock:
    """Wall time that only moves when told to (also the player's `sleep`)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class FakeSink:
    """A window that records what it was shown and replays scripted input."""

    def __init__(self, size=SIZE, clock: FakeClock | None = None) -> None:
        self.size = size
        self.fullscreen = False
        self.inputs: list[InputEvent] = []
        self.pointer: tuple[float, float] | None = None
        self.shown = 0
        self.last_frame: np.ndarray | None = None
        self.last_hud = None
        self.show_cost = 0.0  # fake seconds each show takes
        self.clock = clock
        self.closed = False

    def show(self, frame, hud=None) -> None:
        self.shown += 1
        self.last_frame = frame.copy()
        self.last_hud = hud
        if self.clock is not None:
            self.clock.advance(self.show_cost)

    def poll(self) -> list[InputEvent]:
        out, self.inputs = self.inputs, []
        return out

    def mouse(self):
        return self.pointer

    def toggle_fullscreen(self) -> None:
        self.fullscreen = not self.fullscreen
        self.size = (320, 180) if self.fullscreen else SIZE

    def close(self) -> None:
        self.closed = True


def make_player(sources=(FESTIVAL,), **kwargs) -> tuple[Player, FakeSink, FakeClock]:
    """A Player on a fake clock and window; `kwargs` are PlayerConfig fields (and `sink`,
    `warn`)."""
    clock = FakeClock()
    sink = kwargs.pop("sink", None) or FakeSink(clock=clock)
    warn = kwargs.pop("warn", None)
    kwargs.setdefault("fps", 30)
    player = Player(list(sources), sink, PlayerConfig(**kwargs), clock=clock,
                    sleep=clock.advance, warn=warn)
    return player, sink, clock


def play_for(player: Player, clock: FakeClock, seconds: float, dt: float = 1 / 30) -> None:
    for _ in range(round(seconds / dt)):
        clock.advance(dt)
        player.tick()


def press(player: Player, key: str) -> None:
    player.window.inputs.append(InputEvent("key", key=key))
    player.tick()


# -- time ----------------------------------------------------------------------------------


def test_playhead_follows_wall_time_times_speed():
    player, _, clock = make_player(speed=2.0)
    play_for(player, clock, 1.0)
    assert player.position == pytest.approx(2.0)
    assert player.mural.time == pytest.approx(2.0)
    assert player.skipped == 0


def test_a_slow_frame_does_not_slow_the_playhead():
    player, sink, clock = make_player()
    play_for(player, clock, 1.0)
    sink.show_cost = 2.0  # one frame hangs for two seconds
    clock.advance(1 / 30)
    player.tick()
    sink.show_cost = 0.0
    player.tick()  # the next frame sees the lost time ...
    assert player.position == pytest.approx(clock.now)  # ... and the playhead keeps wall time
    # it simulates at most MAX_CATCHUP of it and skips the rest rather than lagging behind
    assert player.skipped == pytest.approx(clock.now - player.mural.time)
    assert player.mural.time - (1.0 + 1 / 30) == pytest.approx(player.config.max_catchup,
                                                           abs=1e-9)
    play_for(player, clock, 0.5)
    assert player.position == pytest.approx(clock.now)


def test_events_from_a_skipped_span_still_arrive():
    player, _, clock = make_player(speed=100.0)
    play_for(player, clock, 0.3)  # 30 s of recording, mostly skipped
    assert player.skipped > 20
    assert len(player.mural.engine.participants) > 0
    times = [e.t for e in player.mural.events]
    assert times == sorted(times)  # shifted events keep the mural's list in order


def test_frames_match_offline_rendering_while_nothing_is_skipped():
    player, sink, clock = make_player()
    play_for(player, clock, 2.0)
    reference = Wall(load_offline(FESTIVAL).events, size=SIZE).frame_at(player.mural.time)
    assert np.array_equal(sink.last_frame, reference)


def test_pace_sleeps_until_the_next_frame():
    player, _, clock = make_player(fps=20, duration=1.0)
    stats = player.run()
    assert 19 <= stats.frames <= 21
    assert clock.now == pytest.approx(1.0, abs=0.06)


# -- hotkeys -------------------------------------------------------------------------------


def test_space_pauses_the_simulation():
    player, _, clock = make_player()
    play_for(player, clock, 0.5)
    press(player, "space")
    assert player.paused
    held = player.mural.time
    play_for(player, clock, 1.0)
    assert player.mural.time == held
    press(player, "space")
    play_for(player, clock, 0.5)
    assert player.mural.time == pytest.approx(held + 0.5, abs=0.05)


def test_plus_and_minus_change_speed_within_bounds():
    player, _, _ = make_player()
    press(player, "plus")
    assert player.speed == 2.0
    press(player, "minus")
    press(player, "minus")
    assert player.speed == 0.5
    for _ in range(20):
        player.press("plus")
    assert player.speed == MAX_SPEED


def test_p_cycles_the_palettes():
    player, _, _ = make_player()
    names = palette_names()
    seen = [player.palette.name]
    for _ in range(len(names)):
        press(player, "p")
        seen.append(player.mural.palette.name)
    assert sorted(set(seen)) == names
    assert seen[-1] == seen[0]


def test_s_saves_a_png_of_the_current_frame(tmp_path):
    player, _, clock = make_player(stills_dir=tmp_path)
    play_for(player, clock, 0.5)
    press(player, "s")
    (path,) = list(tmp_path.glob("mural-*.png"))
    assert player.saved == [path]
    meta = read_png_metadata(path)
    assert meta["mural:size"] == "160x90"
    assert float(meta["mural:time"]) == pytest.approx(player.position, abs=0.1)
    press(player, "s")  # a second still in the same second gets its own name
    assert len(list(tmp_path.glob("mural-*.png"))) == 2


def test_right_and_left_seek_ten_seconds():
    player, sink, clock = make_player()
    play_for(player, clock, 0.5)
    press(player, "right")
    assert player.position == pytest.approx(10.5)
    assert player.mural.time == pytest.approx(10.5)
    play_for(player, clock, 0.5)
    press(player, "left")
    assert player.position == pytest.approx(1.0)
    # going back rebuilt the mural from the recording: it is the offline mural at that time
    reference = Wall(load_offline(FESTIVAL).events, size=SIZE).frame_at(player.mural.time)
    assert np.array_equal(sink.last_frame, reference)
    press(player, "left")
    assert player.position == 0.0  # clamped at the start


def test_f_toggles_fullscreen_and_the_render_size_follows():
    player, sink, _ = make_player()
    press(player, "f")
    assert sink.fullscreen
    assert player.mural.compositor.size == player.render_size
    assert player.base_render_size == (320, 180)
    press(player, "f")
    assert not sink.fullscreen
    assert player.base_render_size == SIZE


def test_h_toggles_the_hud():
    player, sink, _ = make_player()
    player.tick()
    assert sink.last_hud is None
    press(player, "h")
    text = " ".join(line.text for line in sink.last_hud)
    for word in ("fps", "participants", "signal", "events", "render"):
        assert word in text
    assert not any(line.alert for line in sink.last_hud)
    press(player, "h")
    assert sink.last_hud is None or all("fps" not in line.text for line in sink.last_hud)


def test_hud_warns_when_the_safety_limiter_is_off():
    from mural.safety.guard import SafetyConfig

    player, sink, _ = make_player(hud=True, safety=SafetyConfig(enabled=False))
    player.tick()
    alerts = [line.text for line in sink.last_hud if line.alert]
    assert alerts == ["SAFETY LIMITER OFF"]


@pytest.mark.parametrize("key", ["q", "escape"])
def test_q_and_escape_quit(key):
    player, sink, _ = make_player()
    sink.inputs.append(InputEvent("key", key=key))
    stats = player.run()
    assert player.done and stats.frames == 0


def test_closing_the_window_quits():
    player, sink, clock = make_player()
    play_for(player, clock, 0.2)
    sink.inputs.append(InputEvent("quit"))
    assert player.run().frames == 6


# -- manual feedback -----------------------------------------------------------------------


def emotion_events(mural: Wall) -> list[EmotionEvent]:
    return [e for e in mural.events if isinstance(e, EmotionEvent) and e.participant == MANUAL]


def test_key_1_injects_joy_at_the_mouse_with_a_signal():
    player, sink, clock = make_player()
    play_for(player, clock, 0.5)
    sink.pointer = (0.25, 0.75)
    press(player, "1")
    (joy,) = emotion_events(player.mural)
    assert (joy.emotion, joy.x, joy.y, joy.intensity) == ("joy", 0.25, 0.75, 0.9)
    signals = [e for e in player.mural.events
               if isinstance(e, SignalEvent) and e.participant == MANUAL]
    assert [s.level for s in signals] == [1.0]
    assert joy.t == signals[0].t == pytest.approx(0.5, abs=0.05)  # stamped with the sim time
    play_for(player, clock, 0.1)
    assert MANUAL in player.mural.engine.participants.index
    assert player.stats().manual == 2


def test_number_keys_follow_the_mapping_and_default_to_the_centre():
    player, _, _ = make_player()
    for key in KEY_EMOTIONS:
        press(player, key)
    found = emotion_events(player.mural)
    assert [e.emotion for e in found] == list(KEY_EMOTIONS.values())
    assert {(e.x, e.y) for e in found} == {(0.5, 0.5)}


def test_click_uses_the_last_emotion_and_drag_is_throttled():
    player, sink, clock = make_player()
    press(player, "3")  # love
    sink.inputs.append(InputEvent("click", pos=(0.1, 0.2)))
    player.tick()
    assert [(e.emotion, e.x, e.y) for e in emotion_events(player.mural)][-1] == ("love", 0.1, 0.2)
    sink.inputs += [InputEvent("drag", pos=(0.2 + i / 100, 0.2)) for i in range(10)]
    player.tick()  # ten motion events in one frame: one event
    assert len(emotion_events(player.mural)) == 3
    clock.advance(0.2)
    sink.inputs.append(InputEvent("drag", pos=(0.6, 0.4)))
    player.tick()
    assert (emotion_events(player.mural)[-1].x, emotion_events(player.mural)[-1].y) == (0.6, 0.4)


def test_manual_events_show_during_a_network_blackout():
    blackout = [SignalEvent(t=0.0, level=0.0)]
    player, _, clock = make_player(sources=[FakeSource(blackout)])
    play_for(player, clock, 1.0)
    press(player, "5")
    play_for(player, clock, 2.0)
    engine = player.mural.engine
    i = engine.participants.index[MANUAL]
    assert engine.network_level == 0.0
    assert engine.participants.light[i] > 0.3


# -- adaptive render size ------------------------------------------------------------------


def slow_renderer(player: Player, clock: FakeClock, cost: dict[str, float]) -> None:
    """Rendering that takes cost["full"] fake seconds at full size, less with the area."""
    real_render = player.mural.render

    def render():
        clock.advance(cost["full"] * player.render_scale**2)
        return real_render()

    player.mural.render = render


def test_render_size_steps_down_when_slow_and_back_up_when_fast():
    player, _, clock = make_player(fps=60)
    cost = {"full": 0.05}  # three 60 fps frames at full size
    slow_renderer(player, clock, cost)
    play_for(player, clock, 6.0, dt=1 / 60)
    assert SCALES[player.scale_level] == 0.5  # the first size whose frames fit the budget
    assert player.mural.compositor.size == player.render_size == (80, 45)
    cost["full"] = 0.2
    play_for(player, clock, 3.0, dt=1 / 60)
    assert player.scale_level == len(SCALES) - 1
    assert player.render_size == (60, 34)
    cost["full"] = 0.001
    play_for(player, clock, 6.0, dt=1 / 60)
    assert player.scale_level == 0
    assert player.render_size == SIZE


def test_render_size_holds_within_the_hysteresis_band():
    player, _, clock = make_player(fps=60)
    player.scaler.set_level(1, now=-10.0)
    player.mural.set_render_size(player.render_size)
    # at 75% the frame takes 45% of the budget: not too slow, and 80% one size up
    slow_renderer(player, clock, {"full": 0.8 / 60})
    play_for(player, clock, 3.0, dt=1 / 60)
    assert player.scale_level == 1


def test_a_smaller_size_that_does_not_help_is_not_kept():
    """Compositing that costs the same at every size, plus rescaling: stay at full size."""
    player, sink, clock = make_player(fps=60)
    real_render = player.mural.render

    def render():
        clock.advance(0.02 + (0.01 if player.scale_level else 0.0))  # rescale costs extra
        return real_render()

    player.mural.render = render
    levels = []
    for _ in range(10 * 60):
        clock.advance(1 / 60)
        player.tick()
        levels.append(player.scale_level)
    assert levels.count(0) > 0.85 * len(levels)  # one-second probes at most, then back
    assert player.scale_level == 0


# -- sources -------------------------------------------------------------------------------


class FakeSource:
    """An in-memory source; `live=True` makes it behave like a listener."""

    def __init__(self, events: list[Event], live: bool = False, name: str = "fake") -> None:
        self.events = list(events)
        self.live = live
        self.name = name
        self.stats = SourceStats(accepted=len(events))
        self._next = 0
        self.closed = False

    def poll(self, now: float) -> list[Event]:
        start = self._next
        while self._next < len(self.events) and self.events[self._next].t <= now:
            self._next += 1
        return self.events[start : self._next]

    def seek(self, t: float) -> None:
        self._next = sum(1 for e in self.events if e.t < t)

    @property
    def finished(self) -> bool:
        return not self.live and self._next >= len(self.events)

    def close(self) -> None:
        self.closed = True


def test_live_events_land_on_the_mural_clock():
    live = FakeSource([EmotionEvent(t=0.5, participant="visitor", valence=0.5, arousal=0.5)],
                      live=True)
    player, _, clock = make_player(sources=[live], speed=4.0)
    play_for(player, clock, 0.4)
    assert not player.mural.events
    play_for(player, clock, 0.2)  # the session clock passes 0.5 s with the mural at ~2 s
    (event,) = player.mural.events
    assert event.t == pytest.approx(2.0, abs=0.15)
    play_for(player, clock, 0.1)
    assert "visitor" in player.mural.engine.participants.index
    player.close()
    assert live.closed


def test_a_replay_ends_after_its_tail_or_loops(tmp_path):
    path = tmp_path / "short.jsonl"
    write_stream(path, [EmotionEvent(t=t, participant="a", valence=0.5, arousal=0.5)
                        for t in (0.1, 0.5, 1.0)])
    player, _, clock = make_player(sources=[str(path)])
    stats = player.run()
    assert player.done
    assert clock.now == pytest.approx(1.0 + END_TAIL, abs=0.1)
    assert stats.sources.accepted == 3

    looper, _, clock = make_player(sources=[str(path)], loop=True, duration=10.0)
    restarts = []
    previous = looper.mural
    while not looper.done:
        looper.tick()
        if looper.mural is not previous:
            restarts.append(clock.now)
            previous = looper.mural
        looper.pace()
    assert len(restarts) == 2  # at ~4 s and ~8 s
    assert restarts[0] == pytest.approx(1.0 + END_TAIL, abs=0.1)


def test_several_sources_merge_and_their_stats_add_up():
    a = FakeSource([EmotionEvent(t=0.1, participant="a", valence=0.5, arousal=0.5)])
    b = FakeSource([EmotionEvent(t=0.2, participant="b", valence=0.5, arousal=0.5)])
    player, _, clock = make_player(sources=[a, b, FESTIVAL])
    play_for(player, clock, 0.5)
    assert {"a", "b"} <= set(player.mural.engine.participants.index)
    assert player.stats().sources.accepted == 2 + len(load_offline(FESTIVAL).events)


def test_a_bad_source_closes_the_ones_already_open():
    good = FakeSource([])
    with pytest.raises(Exception, match="nope"):
        Player([good, "nope/missing.jsonl"], FakeSink(), clock=FakeClock())
    assert good.closed


# -- hours of play -------------------------------------------------------------------------


class EndlessCrowd:
    """A long recording made on the fly: two events a second from twelve people."""

    live = False
    name = "crowd"
    rate = 2

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.stats = SourceStats()
        self._k = 0

    def poll(self, now: float) -> list[Event]:
        out: list[Event] = []
        while self._k / self.rate <= min(now, self.duration):
            k, t = self._k, self._k / self.rate
            out.append(EmotionEvent(t=t, participant=f"p{k % 12}", valence=0.5, arousal=0.5,
                                    intensity=0.6, x=(k % 7) / 7, y=(k % 5) / 5))
            if k % 20 == 0:
                out.append(SignalEvent(t=t, level=1.0))
            self._k += 1
        self.stats.accepted += len(out)
        return out

    def seek(self, t: float) -> None:
        self._k = math.ceil(t * self.rate)

    @property
    def finished(self) -> bool:
        return self._k / self.rate > self.duration

    def close(self) -> None:
        pass


def test_two_hours_at_speed_600_keep_memory_events_and_work_per_frame_flat():
    crowd = EndlessCrowd(duration=2 * 3600.0)
    fps = 15
    player, _, clock = make_player(sources=[crowd], fps=fps, speed=600, max_catchup=0.1,
                                   trim_every=1.0)
    longest_list = 0
    costs: list[float] = []
    try:
        for frame in range(12 * fps):  # 12 s of wall time = 2 hours of recording
            if frame == 30:  # from here on, what is still allocated at the end is growth
                tracemalloc.start()
            clock.advance(1 / fps)
            steps = player.mural.engine.step_index
            player.tick()
            costs.append(player.mural.engine.step_index - steps)
            longest_list = max(longest_list, len(player.mural.events))
        grown = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert player.position == pytest.approx(7200.0, abs=1.0)
    assert crowd.stats.accepted > 7200 * crowd.rate
    assert longest_list < 2 * 600 * crowd.rate * 1.05  # two trims' worth, not the session
    assert grown < 1_000_000, f"memory grew by {grown} bytes"
    # the simulation never falls behind into a spiral: each frame takes at most max_catchup
    assert max(costs) <= math.ceil(0.1 * player.mural.config.sim_hz) + 1


def test_hotkey_table_is_markdown():
    table = hotkeys_markdown().splitlines()
    assert table[0] == "| Key | Action |"
    assert any(row.startswith("| Space |") for row in table)


# -- never lose the mural --------------------------------------------------------------------


def test_autosave_every_few_seconds_and_resume_with_the_wall_as_it_was(tmp_path):
    state = tmp_path / "wall.npz"
    player, _, clock = make_player(autosave=state, autosave_every=2.0)
    play_for(player, clock, 30.0)
    assert state.exists()
    saved_at = player.mural.engine.t
    # power cut: the player is never closed; a new one resumes from the last autosave
    resumed, sink, clock2 = make_player(resume=state)
    assert resumed.mural.engine.t == pytest.approx(saved_at, abs=2.1)
    assert resumed.position == pytest.approx(resumed.mural.time, abs=1e-6)
    frame_after_resume = resumed.mural.render().copy()
    assert frame_after_resume.mean() > 3  # not a blank wall: the light is still there
    start = resumed.mural.time
    play_for(resumed, clock2, 2.0)
    assert resumed.mural.time == pytest.approx(start + 2.0, abs=0.05)
    assert len(resumed.mural.engine.participants) >= 10


def test_resume_continues_exactly_as_an_uninterrupted_show(tmp_path):
    state = tmp_path / "s.npz"
    straight, _, clock = make_player(autosave=state, autosave_every=1e9)
    play_for(straight, clock, 8.0)
    straight.save_state()
    play_for(straight, clock, 2.0)
    resumed, _, clock2 = make_player(resume=state)
    play_for(resumed, clock2, 2.0)
    assert resumed.mural.time == pytest.approx(straight.mural.time)
    assert np.array_equal(resumed.mural.render(), straight.mural.render())


def test_closing_saves_and_a_corrupt_state_is_a_clear_error(tmp_path):
    from mural.show.state import StateError

    state = tmp_path / "s.npz"
    player, _, clock = make_player(autosave=state, autosave_every=1e9)
    play_for(player, clock, 1.0)
    player.close()
    assert state.exists()
    state.write_bytes(state.read_bytes()[:100])
    with pytest.raises(StateError, match="corrupt"):
        make_player(resume=state)


def test_play_with_record_writes_a_file_that_replays_the_show(tmp_path):
    from mural.events import read_stream

    out = tmp_path / "show.jsonl"
    player, _, clock = make_player(record=out)
    play_for(player, clock, 6.0)
    player.inject("joy", (0.2, 0.8))
    play_for(player, clock, 1.0)
    player.close()
    stream = read_stream(out, strict=True)
    assert stream.header is not None
    assert any(getattr(e, "participant", None) == MANUAL for e in stream.events)
    original = load_offline(FESTIVAL).events
    played = [e for e in stream.events if getattr(e, "participant", None) != MANUAL]
    assert played == [e for e in original if e.t <= 7.0][: len(played)]
    assert len(played) > 20


def test_the_readme_hotkey_table_is_the_generated_one():
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert hotkeys_markdown() in readme.read_text(encoding="utf-8")


# -- the public hooks ----------------------------------------------------------------------


def test_observers_see_every_batch_after_it_is_recorded(tmp_path):
    from mural.events import read_stream

    out = tmp_path / "show.jsonl"
    player, _, clock = make_player(record=out)
    seen: list[Event] = []
    recorded_before: list[int] = []

    def observe(events):
        recorded_before.append(player.recorder.count)
        seen.extend(events)

    player.on_events.append(observe)
    ticks: list[float] = []
    player.after_tick.append(lambda: ticks.append(player.mural.time))
    play_for(player, clock, 2.0)
    player.inject("awe", None)
    player.close()
    assert len(ticks) == 60
    assert seen == read_stream(out, strict=True).events  # everything that landed, in order
    assert recorded_before[-1] == len(seen)  # observers run after the batch was recorded


def test_a_hud_provider_adds_lines_while_the_hud_is_on():
    from mural.sinks.window import HudLine

    player, sink, _ = make_player()
    player.hud.providers.append(lambda: [HudLine("phones 3")])
    player.tick()
    assert sink.last_hud is None
    press(player, "h")
    assert "phones 3" in [line.text for line in sink.last_hud]


def test_bind_adds_a_hotkey_to_the_table_and_dispatch():
    from mural.show.hotkeys import Hotkey

    player, _, _ = make_player()
    pressed: list[str] = []
    player.bind(Hotkey("G", "glow harder", (("g", "glow"),)), pressed.append)
    press(player, "g")
    assert pressed == ["g"]
    assert "| G | glow harder |" in player.keymap.markdown()
    with pytest.raises(ValueError, match="taken"):
        player.bind(Hotkey("Q", "again", (("q", "other"),)), pressed.append)
    press(player, "a")  # not a hotkey: nothing happens
    assert pressed == ["g"]


def test_pause_for_holds_the_mural_then_plays_on():
    player, _, clock = make_player()
    play_for(player, clock, 0.5)
    player.pause_for(1.0)
    held = player.mural.time
    play_for(player, clock, 0.9)
    assert player.mural.time == held
    play_for(player, clock, 0.5)
    assert not player.paused and player.mural.time > held


def test_set_palette_crossfades_and_still_writes_provenance(tmp_path):
    player, _, clock = make_player()
    play_for(player, clock, 0.5)
    player.set_palette("ember", fade=0.5)
    play_for(player, clock, 1.0)
    assert player.mural.palette.name == "ember"
    path = player.still(tmp_path / "at.png", (96, 54), extra={"mural:note": "cue"})
    meta = read_png_metadata(path)
    assert meta["mural:size"] == "96x54" and meta["mural:palette"] == "ember"
    assert meta["mural:note"] == "cue" and meta["mural:flash-limiter"] == "on"
    assert float(meta["mural:time"]) == pytest.approx(player.mural.time, abs=1e-3)
    assert player.mural.compositor.size == player.render_size  # the render size is restored


def test_a_still_that_cannot_be_written_does_not_end_the_show(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    warnings: list[str] = []
    player, _, clock = make_player(stills_dir=blocker / "sub", warn=warnings.append)
    press(player, "s")
    assert warnings and player.saved == [] and not player.done
    play_for(player, clock, 0.2)


# -- sources added and removed mid-show ----------------------------------------------------


BUSY: dict[str, bool] = {}  # "fakenet://NAME" -> its port is taken


def open_fakenet(uri, *, strict=False, clock=None):
    """The factory of a fake network scheme: fails while BUSY[uri], then a live source that
    yields one event stamped with the session clock."""
    from mural.sources import SourceError

    if BUSY.get(uri):
        raise SourceError(f"cannot listen on {uri}: port in use")
    source = FakeSource([EmotionEvent(t=0.0, participant="phone", valence=0.5, arousal=0.5)],
                        live=True, name=uri)
    return source


@pytest.fixture
def fakenet(monkeypatch):
    from mural.sources import SCHEMES, Scheme

    monkeypatch.setitem(SCHEMES, "fakenet",
                        Scheme("tests.show.test_player:open_fakenet", live=True, network=True))
    BUSY.clear()
    yield BUSY
    BUSY.clear()


def test_a_source_that_cannot_open_yet_is_retried_until_it_can(fakenet):
    from mural.sources.resilient import ResilientSource

    warnings: list[str] = []
    player, _, clock = make_player(warn=warnings.append)
    fakenet["fakenet://phones"] = True
    play_for(player, clock, 0.5)
    added = player.add_source("fakenet://phones")
    assert isinstance(added, ResilientSource) and not added.healthy
    play_for(player, clock, 0.5)
    assert not player.done and "phone" not in player.mural.engine.participants.index
    fakenet["fakenet://phones"] = False  # the port is free again
    play_for(player, clock, 1.5)  # past the first backoff
    assert added.healthy
    play_for(player, clock, 0.2)
    assert "phone" in player.mural.engine.participants.index
    assert player.remove_source("fakenet://phones")
    assert player.sources == player.feed.sources and added not in player.sources


def test_a_source_that_cannot_be_added_at_all_is_a_warning(tmp_path):
    warnings: list[str] = []
    player, _, clock = make_player(warn=warnings.append)
    assert player.add_source(str(tmp_path / "missing.jsonl")) is None
    assert warnings and "missing.jsonl" in warnings[0]
    play_for(player, clock, 0.2)
    assert not player.done
    assert not player.remove_source("never-added")


def test_a_recording_added_mid_show_plays_from_the_playhead(tmp_path):
    path = tmp_path / "late.jsonl"
    write_stream(path, [EmotionEvent(t=t, participant=f"late{t:g}", valence=0.5, arousal=0.5)
                        for t in (0.5, 2.0, 2.5)])
    player, _, clock = make_player(sources=[FakeSource([])])
    play_for(player, clock, 1.0)
    player.add_source(str(path))
    play_for(player, clock, 2.0)
    present = set(player.mural.engine.participants.index)
    assert {"late2", "late2.5"} <= present and "late0.5" not in present


# -- ending the show from outside ----------------------------------------------------------


def test_sighup_and_sigterm_end_the_show_like_escape_and_save(tmp_path):
    import os
    import signal

    from mural.show.player import stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    for number in (signal.SIGHUP, signal.SIGTERM):
        state = tmp_path / f"{number}.npz"
        player, _, _ = make_player(autosave=state, autosave_every=1e9)
        player.after_tick.append(
            lambda n=number, p=player: p.frames == 10 and os.kill(os.getpid(), n))
        with player, stop_on_signals(player.stop):
            stats = player.run()
        assert player.done and stats.frames == 10
        assert state.exists()  # closed like Esc: the state was saved
    assert signal.getsignal(signal.SIGTERM) is before  # and the handlers are put back


def test_overlays_draw_into_the_shown_frame_but_not_into_stills(tmp_path):
    from PIL import Image

    player, sink, clock = make_player()

    def corner(frame):
        frame[:4, :4] = 255

    player.overlays.append(corner)
    play_for(player, clock, 1.0)
    assert (sink.last_frame[:4, :4] == 255).all()
    path = player.still(tmp_path / "clean.png")
    assert not (np.asarray(Image.open(path))[:4, :4] == 255).all()
