"""Emotion → colour: anchored on bioluminescence, valence ↔ lightness, arousal ↔ saturation."""

from __future__ import annotations

import numpy as np
import pytest

from mural.engine.colour import (
    describe_mapping,
    emotion_colour,
    hue_wavelength,
    lightness,
    saturation,
    wavelength_to_linear_rgb,
)
from mural.events import EMOTIONS


def hue_degrees(rgb: np.ndarray) -> float:
    r, g, b = (float(c) for c in rgb)
    mx, mn = max(r, g, b), min(r, g, b)
    if mx == mn:
        return 0.0
    if mx == r:
        h = (g - b) / (mx - mn) % 6
    elif mx == g:
        h = (b - r) / (mx - mn) + 2
    else:
        h = (r - g) / (mx - mn) + 4
    h *= 60.0
    return h - 360.0 if h > 300.0 else h  # reds near 360° read as slightly negative


@pytest.mark.parametrize(
    ("nm", "low", "high"),
    [(474, 190, 240), (509, 140, 180), (525, 120, 160), (560, 60, 110), (620, -15, 25)],
)
def test_bioluminescent_wavelengths_land_on_their_hues(nm, low, high):
    """Dinoflagellate blue, GFP green, fungal green, firefly yellow-green, railroad-worm red."""
    rgb = wavelength_to_linear_rgb(nm)
    assert rgb.max() == pytest.approx(1.0)
    assert low <= hue_degrees(rgb) <= high


def test_valence_drives_lightness_and_arousal_drives_saturation():
    assert lightness(0.9) > lightness(0.0) > lightness(-0.9)
    assert saturation(0.9) > saturation(0.5) > saturation(0.1)
    bright = emotion_colour(0.9, 0.5)
    dim = emotion_colour(-0.9, 0.5)
    assert bright.max() > dim.max() * 1.6


def test_sad_and_joyful_crowds_differ_in_hue_and_lightness():
    sad = np.mean([emotion_colour(EMOTIONS[e].valence, EMOTIONS[e].arousal, e)
                   for e in ("sadness", "calm")], axis=0)
    joyful = np.mean([emotion_colour(EMOTIONS[e].valence, EMOTIONS[e].arousal, e)
                      for e in ("joy", "anger")], axis=0)
    assert sad[2] > sad[0] and sad[2] > sad[1]  # blue dominates grief and calm
    assert joyful[0] > joyful[2] and joyful[1] > joyful[2]  # warm light for joy and anger
    luma = np.array([0.2126, 0.7152, 0.0722])
    assert joyful @ luma > 1.5 * (sad @ luma)


def test_anger_and_fear_keep_the_rare_reds():
    for name in ("anger", "fear"):
        a = EMOTIONS[name]
        rgb = emotion_colour(a.valence, a.arousal, name)
        assert rgb[0] == rgb.max() and rgb[0] > 1.5 * rgb[1]
    for name in ("joy", "calm", "love", "hope", "trust", "awe", "sadness"):
        a = EMOTIONS[name]
        rgb = emotion_colour(a.valence, a.arousal, name)
        assert not (rgb[0] > 1.5 * rgb[1] and rgb[0] > 1.5 * rgb[2]), name


def test_valence_arousal_events_blend_between_neighbouring_labels():
    joy, love = EMOTIONS["joy"], EMOTIONS["love"]
    mid = hue_wavelength((joy.valence + love.valence) / 2, (joy.arousal + love.arousal) / 2)
    assert min(joy.wavelength_nm, love.wavelength_nm) < mid < max(joy.wavelength_nm,
                                                                  love.wavelength_nm)
    assert hue_wavelength(joy.valence, joy.arousal) == joy.wavelength_nm


def test_every_label_is_documented():
    rows = describe_mapping()
    assert [r["emotion"] for r in rows] == list(EMOTIONS)
    assert all(str(r["srgb_hex"]).startswith("#") and len(str(r["srgb_hex"])) == 7 for r in rows)
