"""Rendering, headless: numeric checks on luminance, colour and structure of real frames."""

from __future__ import annotations

import numpy as np
import pytest

from mural.render.compositor import Compositor
from mural.show.wall import Wall
from tests.helpers import (
    blackout,
    blocks,
    chroma,
    correlation,
    crowd,
    linear,
    luminance,
    signal,
)

SIZE = (192, 108)


def frames(events, times, size=SIZE, seed=3, palette=None):
    mural = Wall(events, size=size, seed=seed, palette=palette)
    return [mural.frame_at(t) for t in times]


@pytest.mark.parametrize("size", [(160, 90), (200, 200), (90, 160), (333, 101)])
def test_frames_are_hxwx3_uint8_at_any_size(size):
    (frame,) = frames(crowd(["joy"], end=3.0), [3.0], size=size)
    assert frame.shape == (size[1], size[0], 3) and frame.dtype == np.uint8


def test_an_empty_wall_is_deep_dark_water():
    (frame,) = frames([], [5.0])
    lum = luminance(frame)
    assert lum.mean() < 0.01
    lin = linear(frame).reshape(-1, 3).mean(axis=0)
    assert lin[2] > lin[0]  # the water is blue-black, not grey


def test_a_grieving_crowd_and_a_joyful_crowd_look_different_at_a_glance():
    (grief,) = frames(crowd(["sadness", "calm"], end=12.0), [12.0])
    (joy,) = frames(crowd(["joy", "anger"], end=12.0), [12.0])
    g = linear(grief).reshape(-1, 3).mean(axis=0)
    j = linear(joy).reshape(-1, 3).mean(axis=0)
    assert g[2] > g[0] and g[2] > 0.8 * g[1]  # blue
    assert j[0] > j[2] and j[1] > j[2]  # warm: yellow-green and red
    assert luminance(joy).mean() > 1.5 * luminance(grief).mean()  # and brighter


def test_blackout_sinks_into_shadows_that_keep_the_forms():
    events = crowd(["joy", "love", "hope"], end=60.0) + [blackout(12.0), signal(40.0, 1.0)]
    lit, dark = frames(events, [12.0, 24.0])
    lum_lit, lum_dark = luminance(lit), luminance(dark)
    assert lum_dark.mean() < 0.4 * lum_lit.mean()  # well under half
    assert lum_dark.mean() > 0.02 * lum_lit.mean()  # but not a black screen
    assert correlation(blocks(lum_lit), blocks(lum_dark)) > 0.6  # the shapes stay
    assert chroma(dark) < 0.5 * chroma(lit)  # desaturated
    cool = linear(dark).reshape(-1, 3).mean(axis=0)
    assert cool[2] > cool[0]  # and cool


def test_shadows_persist_through_a_long_blackout():
    events = crowd(["joy"], end=10.0) + [blackout(10.0)]
    early, late = frames(events, [18.0, 40.0])
    assert luminance(late).mean() > 0.6 * luminance(early).mean()
    assert correlation(blocks(luminance(early)), blocks(luminance(late))) > 0.8


def test_returning_expressions_recolour_the_shadows_gradually():
    before = crowd(["calm", "sadness"], end=12.0)  # a blue mural
    after = crowd(["joy"], start=30.0, end=60.0)  # yellow-green light returns
    events = before + after + [blackout(12.0), signal(30.0, 1.0)]
    mural = Wall(events, size=SIZE, seed=3)
    shadow = mural.frame_at(29.5)
    series = [mural.frame_at(30.0 + k / 10) for k in range(0, 81)]  # 8 s at 10 fps
    recoloured = series[-1]

    def warmth(frame):
        lin = linear(frame)
        return float((lin[..., 0] + lin[..., 1]).mean() / (2 * lin[..., 2].mean() + 1e-9))

    assert warmth(recoloured) > 1.5 * warmth(shadow)  # the blue shadows took the new hue
    # the recolouring keeps the shadowed forms where no new light is
    assert correlation(blocks(luminance(shadow)), blocks(luminance(recoloured))) > 0.2
    # ramped, never a snap: mean luminance changes by small steps, warmth rises over seconds
    means = np.array([luminance(f).mean() for f in series])
    assert np.abs(np.diff(means)).max() < 0.15 * means.max()
    warm = np.array([warmth(f) for f in series])
    assert warm[10] < warm[-1] - 0.3 * (warm[-1] - warm[0])  # not done after one second


def test_same_stream_seed_size_and_time_give_the_same_frame_bit_for_bit():
    events = crowd(["joy", "calm"], end=8.0) + [blackout(5.0)]
    a = frames(events, [6.5])[0]
    b = frames(events, [6.5])[0]
    assert np.array_equal(a, b)
    # rendering on the way (a video) and fast-forwarding (a still) agree
    mural = Wall(events, size=SIZE, seed=3)
    for k in range(1, 196):
        mural.advance_to(k / 30)
        mural.render()
    mural.advance_to(6.5)
    assert np.array_equal(mural.render(), a)
    (other_seed,) = frames(events, [6.5], seed=4)
    assert not np.array_equal(a, other_seed)


def test_palettes_change_the_grade_not_the_forms():
    events = crowd(["joy", "love"], end=8.0)
    (abyss,) = frames(events, [8.0], palette="abyss")
    (ember,) = frames(events, [8.0], palette="ember")
    assert not np.array_equal(abyss, ember)
    assert correlation(blocks(luminance(abyss)), blocks(luminance(ember))) > 0.9
    a, e = (linear(f).reshape(-1, 3).mean(axis=0) for f in (abyss, ember))
    assert e[0] / e[2] > a[0] / a[2]  # ember grades warmer


def test_heads_are_drawn_crisp_at_full_resolution():
    events = crowd(["joy"], end=4.0)
    mural = Wall(events, size=(640, 360), seed=3)
    mural.advance_to(4.0)
    frame = mural.render().copy()
    saved = mural.compositor.palette
    from dataclasses import replace

    mural.compositor.set_palette(replace(saved, head_strength=0.0))
    without = mural.render()
    diff = frame.astype(int) - without.astype(int)
    assert (diff >= 0).all() and diff.max() > 20
    assert (diff.max(axis=-1) > 0).mean() < 0.2  # small points, not a wash


def test_the_compositor_reuses_its_buffers():
    mural = Wall(crowd(["joy"], end=2.0), size=SIZE)
    mural.advance_to(2.0)
    first = mural.render()
    second = mural.render()
    assert first is second
    out = np.zeros_like(first)
    Compositor(SIZE).render(mural.engine, out=out)
    assert out.any()


def test_a_palette_crossfade_is_gradual_and_the_same_in_stills_and_videos():
    events = crowd(["joy", "love"], end=12.0)
    mural = Wall(events, size=SIZE, seed=3, palette="abyss")
    mural.advance_to(6.0)
    mural.set_palette("ember", fade=4.0)
    series = [mural.frame_at(6.0 + k * 0.5).copy() for k in range(10)]
    warm = [linear(f)[..., 0].mean() / linear(f)[..., 2].mean() for f in series]
    assert warm[2] > warm[0] and warm[6] > warm[2] and warm[8] == pytest.approx(warm[9], rel=0.1)
    # the crossfade is a function of time: a second run lands on the same frame
    again = Wall(events, size=SIZE, seed=3, palette="abyss")
    again.advance_to(6.0)
    again.set_palette("ember", fade=4.0)
    assert np.array_equal(again.frame_at(8.0), series[4])
