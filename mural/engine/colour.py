"""Emotion → colour: circumplex position to light anchored on real bioluminescence.

Why this mapping:
- Hue is anchored on emission peaks of living light, so every colour on the wall is one the sea
  or the forest makes: dinoflagellate blue (~474 nm, Lingulodinium luciferase), Aequorea GFP green
  (~509 nm), fungal green (~520–530 nm, Mycena / Neonothopanus), firefly yellow-green (~560 nm,
  Photinus pyralis), and the firefly orange / railroad-worm red (~600–620 nm) kept for the rare
  high-arousal negative states (fear, anger). Each label's anchor is in
  `mural.events.vocabulary`; valence/arousal-only events blend the anchors of the nearest labels.
- Valence drives lightness and arousal drives saturation: pleasant states are seen as lighter and
  activated states as more saturated (Valdez & Mehrabian 1994, "Effects of color on emotions";
  Wilms & Oberfeld 2018, "Color and emotion: effects of hue, saturation, and brightness").
  So a grieving crowd reads as dim, greyed blue and a joyful one as bright yellow-green.

Wavelengths become colours through the CIE 1931 2° observer (the analytic fit of Wyman, Sloan &
Shirley 2013) into linear sRGB, desaturated into gamut by adding white.
"""

from __future__ import annotations

import math

import numpy as np

from mural.engine.colourspace import to_hex
from mural.events.vocabulary import EMOTIONS


def _g(x: float, mu: float, s1: float, s2: float) -> float:
    s = s1 if x < mu else s2
    return math.exp(-0.5 * ((x - mu) / s) ** 2)


def wavelength_to_linear_rgb(nm: float) -> np.ndarray:
    """Linear-sRGB colour of monochromatic light, brightest channel = 1 (float32[3])."""
    x = 1.056 * _g(nm, 599.8, 37.9, 31.0) + 0.362 * _g(nm, 442.0, 16.0, 26.7) - 0.065 * _g(
        nm, 501.1, 20.4, 26.2
    )
    y = 0.821 * _g(nm, 568.8, 46.9, 40.5) + 0.286 * _g(nm, 530.9, 16.3, 31.1)
    z = 1.217 * _g(nm, 437.0, 11.8, 36.0) + 0.681 * _g(nm, 459.0, 26.0, 13.8)
    rgb = np.array(
        [
            3.2406 * x - 1.5372 * y - 0.4986 * z,
            -0.9689 * x + 1.8758 * y + 0.0415 * z,
            0.0557 * x - 0.2040 * y + 1.0570 * z,
        ]
    )
    rgb -= min(0.0, float(rgb.min()))  # out of gamut: add white until no channel is negative
    return (rgb / rgb.max()).astype(np.float32)


def hue_wavelength(valence: float, arousal: float) -> float:
    """Anchor wavelength for a circumplex point: inverse-distance blend of the nearest labels."""
    weights = []
    for anchor in EMOTIONS.values():
        d2 = (anchor.valence - valence) ** 2 + (anchor.arousal - arousal) ** 2
        if d2 < 1e-9:
            return anchor.wavelength_nm
        weights.append((1.0 / d2**2, anchor.wavelength_nm))
    weights.sort(reverse=True)
    top = weights[:3]
    return sum(w * nm for w, nm in top) / sum(w for w, _ in top)


def lightness(valence: float) -> float:
    """Brightness factor 0.32..1: pleasant reads lighter (valence ↔ lightness)."""
    return 0.32 + 0.68 * ((valence + 1.0) / 2.0) ** 1.2


def saturation(arousal: float) -> float:
    """Saturation 0.4..1: activated reads more saturated (arousal ↔ saturation)."""
    return 0.4 + 0.6 * arousal


def emotion_colour(valence: float, arousal: float, emotion: str | None = None) -> np.ndarray:
    """Linear-RGB colour (float32[3], max channel <= 1) of an expression."""
    nm = EMOTIONS[emotion].wavelength_nm if emotion else hue_wavelength(valence, arousal)
    hue = wavelength_to_linear_rgb(nm)
    luma = float(hue @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32))
    grey = np.full(3, max(luma, 0.25), dtype=np.float32)
    s = saturation(arousal)
    rgb = grey + (hue - grey) * s
    rgb /= max(float(rgb.max()), 1e-6)
    return (rgb * lightness(valence)).astype(np.float32)


def describe_mapping() -> list[dict[str, object]]:
    """The documented table: label, circumplex point, wavelength, source and resulting sRGB."""
    rows = []
    for anchor in EMOTIONS.values():
        rgb = emotion_colour(anchor.valence, anchor.arousal, anchor.name)
        rows.append(
            {
                "emotion": anchor.name,
                "valence": anchor.valence,
                "arousal": anchor.arousal,
                "wavelength_nm": anchor.wavelength_nm,
                "light": anchor.light_source,
                "srgb_hex": to_hex(rgb),
            }
        )
    return rows
