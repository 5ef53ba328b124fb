"""The adaptive render scale, fed measured costs and session times (no clock, no render)."""

from __future__ import annotations

import pytest

from mural.show.scaler import SCALE_COOLDOWN, SCALES, RenderScaler, scaled_size

FPS = 60
BUDGET = 1 / FPS


def feed(scaler: RenderScaler, cost_at, frames: float, start: float = 0.0) -> float:
    """`frames` frames, each costing cost_at(scale) on top of the frame period (as a slow
    render delays a frame); returns the session time at the end."""
    now = start
    for _ in range(round(frames)):
        cost = cost_at(scaler.scale)
        now += BUDGET + cost
        scaler.measure(cost, now)
    return now


def area_cost(full: float):
    return lambda scale: full * scale**2


def test_sizes_are_scaled_and_at_least_eight_pixels():
    assert scaled_size((160, 90), 0.5) == (80, 45)
    assert scaled_size((10, 10), 0.375) == (8, 8)
    scaler = RenderScaler(FPS)
    assert scaler.size((160, 90)) == (160, 90)


def test_steps_down_when_slow_until_frames_fit_and_back_up_when_fast():
    scaler = RenderScaler(FPS)
    now = feed(scaler, area_cost(3 * BUDGET), 6 * FPS)
    assert scaler.scale == 0.5  # the first size whose frames fit the budget
    now = feed(scaler, area_cost(12 * BUDGET), 3 * FPS, now)
    assert scaler.level == len(SCALES) - 1
    feed(scaler, area_cost(0.06 * BUDGET), 6 * FPS, now)
    assert scaler.level == 0


def test_a_change_reports_itself_and_waits_out_the_cooldown():
    scaler = RenderScaler(FPS)
    changes = [scaler.measure(BUDGET, now=t / FPS) for t in range(1, 3 * FPS)]
    moments = [i for i, changed in enumerate(changes) if changed]
    assert moments  # it stepped down ...
    gaps = [b - a for a, b in zip(moments, moments[1:], strict=False)]
    assert all(gap >= SCALE_COOLDOWN * FPS - 1 for gap in gaps)  # ... no faster than this


def test_it_holds_within_the_hysteresis_band():
    scaler = RenderScaler(FPS)
    scaler.set_level(1, now=-10.0)
    # at 75% a frame takes 45% of the budget: not too slow, and ~80% one size up
    feed(scaler, area_cost(0.8 * BUDGET), 3 * FPS)
    assert scaler.level == 1


def test_a_smaller_size_that_does_not_help_is_not_kept():
    """The same cost at every size, plus a rescale below full size: stay at full size."""
    scaler = RenderScaler(FPS)
    levels = []
    now = 0.0
    for _ in range(10 * FPS):
        now += BUDGET
        scaler.measure(1.2 * BUDGET + (0.6 * BUDGET if scaler.level else 0.0), now)
        levels.append(scaler.level)
    assert levels.count(0) > 0.85 * len(levels)  # one-second probes at most, then back
    assert scaler.level == 0


def test_forget_drops_what_was_measured():
    scaler = RenderScaler(FPS)
    feed(scaler, area_cost(3 * BUDGET), 2 * FPS)
    assert scaler.costs and scaler.level > 0
    scaler.forget()
    assert scaler.ema is None and not scaler.costs


def test_bad_levels_and_rates_are_refused():
    with pytest.raises(ValueError):
        RenderScaler(0)
    with pytest.raises(ValueError):
        RenderScaler(FPS).set_level(len(SCALES), now=0.0)
