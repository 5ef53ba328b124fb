"""The signature look, measured: shadows are a visible, muted, cool memory of the painted forms
through a blackout and a silence alike; they recolour as expressions return; stills carry the
detail of their size; emitters are living points of light, not discs.

The measures are defined in tests/look.py; the contact sheets in docs/ show the same moments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mural.safety import analyse_frames
from mural.show.wall import Wall
from tests.look import (
    chroma_per_lightness,
    crowd_night,
    form_correlation,
    high_frequency_share,
    luminance_ratio,
    oklab,
    upscale,
)

SIZE = (640, 360)
LIT, DARK = 40.0, 45.0  # lit for 40 s, then 45 s of dark, then back with new emotions


@pytest.fixture(scope="module")
def blackout() -> dict[str, np.ndarray]:
    wall = Wall(crowd_night(lit=(0.0, LIT), dark=DARK), size=SIZE, seed=7)
    return {name: wall.frame_at(t) for name, t in
            (("lit", LIT - 0.5), ("d10", LIT + 10), ("d42", LIT + 42), ("r6", LIT + DARK + 6))}


@pytest.fixture(scope="module")
def silence() -> dict[str, np.ndarray]:
    wall = Wall(crowd_night(lit=(0.0, LIT), dark=DARK, silent=True), size=SIZE, seed=7)
    return {name: wall.frame_at(t) for name, t in
            (("lit", LIT - 0.5), ("d15", LIT + 15), ("d37", LIT + 37))}


def test_a_blackout_leaves_a_visible_memory_of_the_forms(blackout):
    lit = blackout["lit"]
    assert 0.06 <= luminance_ratio(blackout["d10"], lit) <= 0.40
    assert luminance_ratio(blackout["d42"], lit) >= 0.05  # it holds as long as the dark lasts
    assert form_correlation(lit, blackout["d10"]) >= 0.7
    assert form_correlation(lit, blackout["d42"]) >= 0.6


def test_shadows_are_muted_not_more_saturated_than_the_light(blackout):
    lit = chroma_per_lightness(blackout["lit"])
    assert chroma_per_lightness(blackout["d10"]) <= lit
    assert chroma_per_lightness(blackout["d42"]) <= lit


def test_a_silence_keeps_the_forms_as_a_blackout_does(silence):
    lit = silence["lit"]
    assert luminance_ratio(silence["d15"], lit) >= 0.06
    assert form_correlation(lit, silence["d37"]) >= 0.6
    assert chroma_per_lightness(silence["d15"]) <= chroma_per_lightness(lit)


def test_returning_light_recolours_the_shadows_without_a_flash():
    events = crowd_night(lit=(0.0, 20.0), dark=15.0, back_for=12.0)
    wall = Wall(events, size=(320, 180), seed=7)
    shadow = wall.frame_at(34.0)
    frames = [wall.frame_at(35.0 + k / 30) for k in range(8 * 30)]  # the recovery, 30 fps
    back = frames[-1]
    assert luminance_ratio(back, shadow) > 3.0  # the light is back
    # the new emotions (joy, hope: yellow-greens) take the old forms (calm, trust: blues) over
    new = oklab(back)
    old = oklab(shadow)
    turn = math.atan2(new[..., 2].mean(), new[..., 1].mean())
    was = math.atan2(old[..., 2].mean(), old[..., 1].mean())
    assert turn > was + 0.5, (was, turn)
    assert form_correlation(shadow, back) > 0.3  # over the same forms
    assert analyse_frames(frames, 30).passed


def test_a_4k_still_carries_4k_detail():
    events = crowd_night(lit=(0.0, 8.0), dark=0.0, back_for=0.0)
    four = Wall(events, size=(3840, 2160), seed=3).frame_at(6.0)
    full_hd = Wall(events, size=(1920, 1080), seed=3).frame_at(6.0)
    assert high_frequency_share(four) >= 2 * high_frequency_share(upscale(full_hd, (3840, 2160)))


def test_an_8k_still_carries_8k_detail():
    """Measured on the middle 2048x2048 pixels (the spectrum of the whole 33-megapixel frame
    costs seconds and says the same)."""
    events = crowd_night(lit=(0.0, 8.0), dark=0.0, back_for=0.0)
    eight = Wall(events, size=(7680, 4320), seed=3).frame_at(6.0)
    full_hd = upscale(Wall(events, size=(1920, 1080), seed=3).frame_at(6.0), (7680, 4320))
    middle = np.s_[1136:3184, 2816:4864]
    assert high_frequency_share(eight[middle]) >= 2 * high_frequency_share(full_hd[middle])


def test_emitters_are_a_bright_core_in_a_halo_not_a_disc():
    """An emitter's own light (the engine's splat, before any trail): a peaked core a few
    pixels wide inside a faint halo a few times wider; no wide soft disc (a disc of the old
    law's width stays at half its peak at 2% of the field height)."""
    from mural.engine.kernels import splat_emitters

    rows = 360  # a 720p wall's light field
    live = np.zeros((rows, 640, 3), np.float32)
    coarse = np.zeros((rows // 8 + 1, 640 // 8 + 1, 3), np.float32)
    colour = np.array([[0.3, 0.6, 1.0]], np.float32)
    splat_emitters(live, coarse, np.array([0]), np.array([[1.0, 0.5]]), colour,
                   np.array([1.0]), np.array([0.9]), np.array([0.5]), float(rows), 1.0)
    lum = live[..., 2]
    cy, cx = np.unravel_index(np.argmax(lum), lum.shape)
    yy, xx = np.mgrid[:rows, :640]
    radius = np.hypot(yy - cy, xx - cx) / rows  # in field heights
    peak = lum.max()
    assert lum[radius < 0.003].min() > 0.7 * peak  # a core ...
    halo = lum[(radius > 0.012) & (radius < 0.02)].mean()
    assert 0.02 * peak < halo < 0.25 * peak  # ... in a faint halo ...
    assert lum[radius > 0.05].max() < 0.02 * peak  # ... and no wide disc
