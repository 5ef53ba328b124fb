"""The live flash limiter: strobes come out safe, slow changes come out untouched."""

from __future__ import annotations

import numpy as np
import pytest

from mural.safety import FlashLimiter, Region, analyse_frames, apply_gain, limit_frames
from mural.safety.limiter import upsample_gain
from mural.safety.luminance import frame_measures
from tests.safety import (
    BLACK,
    GREY_LIKE_RED,
    RED,
    WHITE,
    fade,
    grey_of_luminance,
    random_cells,
    solid,
    strobe,
)

THIRD = (1 / 3, 1 / 3, 2 / 3, 2 / 3)
OFFSET_THIRD = (0.2, 0.15, 0.2 + 1 / 3, 0.15 + 1 / 3)  # not on the limiter's cell grid


def linear_fade(start: float, end: float, seconds: float, fps: float = 30):
    n = round(seconds * fps)
    return [solid(grey_of_luminance(start + (end - start) * t / n)) for t in range(n + 1)]


def limited_report(frames, fps):
    return analyse_frames(list(limit_frames(frames, fps)), fps)


@pytest.mark.parametrize(
    ("name", "hz", "fps", "kwargs"),
    [
        ("full 3 Hz", 3, 30, {}),
        ("full 4 Hz", 4, 30, {}),
        ("full 10 Hz", 10, 30, {}),
        ("full 15 Hz", 15, 30, {}),
        ("full 30 Hz", 30, 60, {}),
        ("third 5 Hz", 5, 30, {"patch": THIRD, "background": (30, 30, 30)}),
        ("offset third 8 Hz", 8, 30, {"patch": OFFSET_THIRD}),
        ("half frame 12 Hz", 12, 60, {"patch": (0, 0, 1, 0.5)}),
        ("grey 0.3 to white 6 Hz", 6, 30, {"off": grey_of_luminance(0.3)}),
        ("red on black 6 Hz", 6, 30, {"on": RED}),
        ("red on grey 10 Hz", 10, 30, {"on": RED, "off": GREY_LIKE_RED}),
        ("red third 5 Hz", 5, 30, {"on": RED, "off": GREY_LIKE_RED, "patch": THIRD}),
    ],
)
def test_strobes_come_out_within_target(name, hz, fps, kwargs):
    frames = strobe(hz, fps=fps, seconds=3, **kwargs)
    before = analyse_frames(frames, fps)
    assert max(before.max_general, before.max_red) >= 3  # the input really strobes
    after = limited_report(frames, fps)
    assert after.passed and after.within_target, (name, after.max_general, after.max_red)


@pytest.mark.parametrize(("cells", "seed", "colour"), [
    ((12, 12), 1, WHITE), ((5, 7), 2, WHITE), ((24, 24), 3, WHITE), ((3, 3), 4, RED),
])
def test_adversarial_random_cell_flicker_is_tamed(cells, seed, colour):
    frames = random_cells(cells, 90, seed, colour)
    assert not analyse_frames(frames, 30).passed
    assert limited_report(frames, 30).within_target


def test_limiter_also_tames_anti_phase_stripes_region_means_cannot_see():
    # Stripes a sixth of the frame wide swapping at 7.5 Hz: every third-of-frame window keeps
    # the same mean, so the standard analysis passes it, yet each stripe flashes; the limiter
    # charges each cell's rise without letting dimming cells offset it.
    frames = []
    for t in range(90):
        stripes = ((np.arange(96) * 6 // 96 + t // 2) % 2 * 255).astype(np.uint8)
        frames.append(np.broadcast_to(stripes[None, :, None], (48, 96, 3)).copy())
    stripe_regions = [Region(f"stripe {i}", 0, i / 6, 1, (i + 1) / 6) for i in range(6)]
    assert analyse_frames(frames, 30).passed
    assert not analyse_frames(frames, 30, regions=stripe_regions).passed
    out = list(limit_frames(frames, 30))
    assert analyse_frames(out, 30, regions=stripe_regions).within_target


@pytest.mark.parametrize(
    "frames",
    [
        strobe(10, fps=30, seconds=3),
        strobe(8, fps=30, seconds=3, patch=OFFSET_THIRD, background=(60, 60, 60)),
        strobe(6, fps=30, seconds=3, on=RED, off=GREY_LIKE_RED, patch=(0.1, 0.5, 0.6, 0.9)),
        random_cells((7, 9), 90, 11),
    ],
    ids=["full", "offset patch", "red patch", "random cells"],
)
def test_renderer_path_without_feedback_stays_within_target(frames):
    # What the renderer does: measure the coarse grid, update, upsample and apply the gain;
    # it never reports back what was shown, so the limiter runs on its own estimate.
    lim = FlashLimiter()
    out = []
    for frame in frames:
        gain = lim.update(*frame_measures(frame, lim.grid), 1 / 30)
        out.append(apply_gain(frame, gain))
    assert analyse_frames(out, 30).within_target


def test_odd_frame_size_and_grid():
    frames = strobe(10, fps=30, seconds=2, shape=(90, 160), patch=OFFSET_THIRD)
    out = list(limit_frames(frames, 30, grid=(9, 16)))
    assert analyse_frames(out, 30).within_target


@pytest.mark.parametrize(
    "frames",
    [
        linear_fade(0.0, 0.5, 6.0),  # +0.083/s in linear light
        fade(BLACK, WHITE, 20.0),  # even in sRGB: up to +0.12/s in linear light near white
        fade(BLACK, (128, 0, 0), 5.0),  # slow saturated red
        fade((200, 0, 200), (0, 200, 255), 10.0),  # magenta to cyan
        fade(WHITE, BLACK, 0.3),  # a fast drop
        [solid(WHITE)] * 5 + [solid(BLACK)] * 5,  # an instant drop
    ],
    ids=["lum fade", "srgb fade", "red fade", "colour change", "fast fade out", "drop"],
)
def test_slow_changes_and_drops_are_bit_identical(frames):
    out = list(limit_frames(frames, 30))
    assert all(np.array_equal(a, b) for a, b in zip(frames, out, strict=True))


def test_gain_is_exactly_one_for_slow_changes_and_small_twinkles():
    lim = FlashLimiter()
    rng = np.random.default_rng(0)
    base = np.full((12, 12), 0.2, np.float32)
    for step in range(300):
        lum = base + 0.004 * rng.random((12, 12), dtype=np.float32) + step * 0.0003
        gain = lim.update(lum, None, 1 / 30)
        assert gain.dtype == np.float32 and np.all(gain == 1.0)


def test_big_rise_is_smoothed_not_frozen():
    lim = FlashLimiter()
    lim.update(np.zeros((12, 12), np.float32), None, 1 / 30)
    shown = []
    for _ in range(30 * 12):
        gain = lim.update(np.ones((12, 12), np.float32), None, 1 / 30)
        shown.append(float(gain.mean()))
    shown = np.array(shown)
    assert np.all(np.diff(shown) >= -1e-6)  # a steady ramp up, never a pulse
    assert shown[0] <= 0.08  # the burst allowance only
    assert 0.1 < shown[30] <= 0.2  # about max_rise_per_s a second later
    assert shown[-1] == 1.0  # fully restored after ~8 s


def test_dims_locally():
    frames = strobe(5, fps=30, seconds=1, patch=(0, 0, 1 / 3, 1 / 3), background=(90, 90, 90))
    lim = FlashLimiter()
    for frame in frames[:-3]:  # ends on an "on" frame
        gain = lim.update(*frame_measures(frame, lim.grid), 1 / 30)
    assert gain[:4, :4].max() < 0.2  # the strobing corner is held down
    assert np.all(gain[6:, :] == 1.0) and np.all(gain[:, 6:] == 1.0)  # the rest untouched


def test_deterministic_and_state_round_trip(tmp_path):
    frames = random_cells((12, 12), 40, 7)
    measures = [frame_measures(f, (12, 12)) for f in frames]

    def run(lim, items):
        return [lim.update(lum, red, 1 / 30) for lum, red in items]

    a, b = FlashLimiter(), FlashLimiter()
    first_a, first_b = run(a, measures), run(b, measures)
    assert all(np.array_equal(x, y) for x, y in zip(first_a, first_b, strict=True))

    resumed = FlashLimiter()
    path = tmp_path / "limiter.npz"
    a_first = FlashLimiter()
    run(a_first, measures[:20])
    np.savez(path, **a_first.state_dict())
    with np.load(path) as data:
        resumed.load_state_dict(dict(data))
    rest_a, rest_r = run(a_first, measures[20:]), run(resumed, measures[20:])
    assert all(np.array_equal(x, y) for x, y in zip(rest_a, rest_r, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(rest_a, first_a[20:], strict=True))
    with pytest.raises(ValueError):
        FlashLimiter((6, 6)).load_state_dict(a_first.state_dict())


def test_any_dt_and_disabled():
    lim = FlashLimiter(enabled=False)
    for lum in (0.0, 1.0, 0.0, 1.0):
        assert np.all(lim.update(np.full((12, 12), lum, np.float32), None, 1 / 30) == 1)
    slow = FlashLimiter()
    for k in range(10):  # one frame per second: a blink per step is still dimmed
        gain = slow.update(np.full((12, 12), k % 2, np.float32), None, 1.0)
    assert gain.max() < 0.2
    with pytest.raises(ValueError):
        slow.update(np.zeros((12, 12), np.float32), None, 0.0)
    with pytest.raises(ValueError):
        slow.update(np.zeros((4, 4), np.float32), None, 0.1)


def test_unsafe_parameters_are_refused():
    with pytest.raises(ValueError):
        FlashLimiter(max_rise_per_s=0.3)
    with pytest.raises(ValueError):
        FlashLimiter(max_red_rise_per_s=0.2)
    FlashLimiter(max_rise_per_s=0.2, burst=0.05)  # allowed: still under 3 flashes/s


def test_apply_gain_dims_in_linear_light_and_keeps_unit_gain_pixels():
    frame = solid((200, 120, 40), (48, 96))
    assert apply_gain(frame, np.ones((12, 12), np.float32)) is frame
    gain = np.ones((12, 12), np.float32)
    gain[:3, :3] = 0.5
    out = apply_gain(frame, gain)
    assert out.dtype == np.uint8 and out.shape == frame.shape
    assert np.array_equal(out[24:, :], frame[24:, :])  # far from the dimmed cells
    from mural.safety.luminance import relative_luminance

    ratio = relative_luminance(out[:8, :16]).mean() / relative_luminance(frame[:8, :16]).mean()
    assert ratio == pytest.approx(0.5, abs=0.02)
    field = upsample_gain(gain, (48, 96))
    assert field.min() == pytest.approx(0.5) and field.max() == 1.0
    assert np.all(np.diff(field[:, 0]) >= 0)  # smooth ramp back to 1


def test_non_finite_and_out_of_range_measures_are_cleaned_like_before():
    # nan counts as dark, +inf as 1, anything outside [0, 1] is clipped (in the kernels now).
    def tidy(a):
        return np.clip(np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0), 0, 1)

    rng = np.random.default_rng(3)
    raw, clean = FlashLimiter(), FlashLimiter()
    for step in range(40):
        lum = rng.uniform(-0.5, 1.5, (12, 12)).astype(np.float32)
        lum[step % 12, :3] = (np.nan, np.inf, -np.inf)
        red = rng.uniform(-0.2, 0.6, (12, 12)).astype(np.float32)
        red[:2, step % 12] = (np.nan, np.inf)
        a, b = raw.update(lum, red, 1 / 30), clean.update(tidy(lum), tidy(red), 1 / 30)
        assert np.array_equal(a, b) and np.all((a > 0) & (a <= 1))
        if step % 5 == 4:
            raw.observe(lum * 0.5)
            clean.observe(tidy(lum * 0.5))
    for key, value in raw.state_dict().items():
        assert np.array_equal(value, clean.state_dict()[key]), key


def test_returned_gains_are_the_callers_to_keep():
    a, b = FlashLimiter(), FlashLimiter()
    kept = []
    for lum in (0.0, 1.0, 1.0, 0.0, 1.0):
        frame = np.full((12, 12), lum, np.float32)
        gain = a.update(frame, None, 1 / 30)
        kept.append(gain)
        assert np.array_equal(gain, b.update(frame, None, 1 / 30))
        gain *= 0.5  # a caller scribbling on its gain changes nothing in the limiter
    assert kept[0].max() == 0.5 and kept[1].max() < 0.5  # and no call reused another's array


@pytest.mark.parametrize("seed", range(8))
def test_guard_draws_heads_from_slot_ranges_holding_every_live_particle(seed):
    from mural.safety.guard import _SLOT_BLOCK, _live_runs

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6000))
    life = rng.uniform(1, 9, n).astype(np.float32)
    age = life.copy()  # all dead (age == life)
    if seed == 1:
        age[:] = 0.0  # never spawned: also skipped
    elif seed == 2:
        age[:] = life / 2  # all live
    elif seed > 2:  # one circular span of the ring, sparsely live, maybe wrapping the end
        start, length = int(rng.integers(0, n)), int(rng.integers(1, n + 1))
        span = (start + np.arange(length)) % n
        age[span] = np.where(rng.random(length) < 0.4, life[span] * 0.5, life[span])
        age[span[0]] = age[span[-1]] = 0.1  # its ends are live
    runs = np.zeros((2, 2), np.int64)
    count = _live_runs(age, life, _SLOT_BLOCK, runs)
    covered = np.zeros(n, bool)
    for lo, hi in runs[:count]:
        assert 0 <= lo < hi <= n
        covered[lo:hi] = True
    live = (age > 0) & (age < life)
    assert np.all(covered[live])
    assert (count == 0) == (not live.any())
