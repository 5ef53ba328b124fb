"""The playhead and the frame pacer: pure arithmetic on times passed in."""

from __future__ import annotations

import pytest

from mural.show.playhead import (
    MAX_CATCHUP,
    MAX_SPEED,
    MIN_SPEED,
    Pacer,
    Playhead,
    clamp_speed,
    clock_text,
)


def test_the_playhead_moves_by_wall_time_times_speed_and_not_while_paused():
    head = Playhead(speed=2.0)
    head.advance(0.5)
    assert head.position == 1.0
    head.paused = True
    head.advance(10.0)
    assert head.position == 1.0
    head.paused = False
    head.advance(-1.0)  # a clock that went back moves nothing
    assert head.position == 1.0


def test_speed_is_clamped():
    assert Playhead(speed=0.0).speed == MIN_SPEED
    head = Playhead()
    assert head.set_speed(1e9) == MAX_SPEED
    assert head.set_speed(1e-9) == MIN_SPEED
    assert clamp_speed(3) == 3.0


def test_within_the_catch_up_the_simulation_follows_the_playhead_exactly():
    head = Playhead()
    head.advance(0.2)
    assert head.step_target(mural_time=0.0) == pytest.approx(0.2)
    assert head.skipped == 0.0


def test_beyond_the_catch_up_the_mural_skips_ahead():
    head = Playhead()
    head.advance(2.0)  # a two-second hang
    target = head.step_target(mural_time=0.0)
    assert target == pytest.approx(MAX_CATCHUP)
    assert head.skipped == pytest.approx(2.0 - MAX_CATCHUP)
    assert head.mural_target == pytest.approx(target)  # mural time = position - skipped
    assert head.on_mural(1.9) == pytest.approx(1.9 - head.skipped)
    assert head.in_recording(target) == pytest.approx(2.0)
    head.advance(1 / 30)  # the next frame is back to normal: no more skipping
    assert head.step_target(target) == pytest.approx(target + 1 / 30)
    assert head.skipped == pytest.approx(2.0 - MAX_CATCHUP)


def test_seeking_stays_within_the_recording():
    head = Playhead(position=5.0, end=12.0)
    assert head.seek_target(-10.0) == 0.0
    assert head.seek_target(10.0) == 12.0
    assert Playhead(position=5.0).seek_target(100.0) == 105.0  # live or simulated: no end
    head.jump(12.0)
    assert head.position == 12.0
    head.skipped = 3.0
    head.restart(1.0)  # a rebuilt mural is exactly on the recording again
    assert (head.position, head.skipped) == (1.0, 0.0)


def test_state_round_trips():
    head = Playhead(position=7.5, speed=4.0, skipped=1.25)
    other = Playhead()
    other.restore(head.state(), mural_time=6.25)
    assert other.state() == head.state()
    fresh = Playhead(speed=2.0)
    fresh.restore({}, mural_time=3.0)  # an old state without a playhead: the mural's time
    assert (fresh.position, fresh.skipped, fresh.speed) == (3.0, 0.0, 2.0)


def test_the_pacer_waits_for_the_next_frame_and_never_to_catch_up():
    pacer = Pacer(20)
    assert pacer.wait(0.0) == pytest.approx(0.05)
    assert pacer.wait(0.06) == pytest.approx(0.04)  # a frame that took 10 ms longer
    assert pacer.wait(1.0) == pytest.approx(0.05)  # a long stall: start afresh from now
    with pytest.raises(ValueError):
        Pacer(0)


def test_clock_text():
    assert clock_text(83.44) == "1:23.4"
    assert clock_text(-1) == "0:00.0"
