"""Palettes as values: the grade, water and shadow colours of a mural (files load in show/)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from mural.engine.colourspace import srgb_to_linear, to_hex
from mural.events.errors import MuralError

DEFAULT_PALETTE = "abyss"


class PaletteError(MuralError, ValueError):
    """A palette that cannot be found or read; the message says which and why."""


def _hex(text: str, key: str, source: str) -> tuple[float, float, float]:
    s = str(text).strip().lstrip("#")
    if len(s) != 6 or any(c not in "0123456789abcdefABCDEF" for c in s):
        raise PaletteError(f"{source}: '{key}' must be a colour like \"#12ab34\", got {text!r}")
    return tuple(int(s[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


@dataclass(frozen=True)
class Palette:
    """How light is graded and what the water and shadows look like. Colours are sRGB hex."""

    name: str = DEFAULT_PALETTE
    description: str = ""
    background_top: str = "#01040b"
    background_bottom: str = "#031226"
    shadow_tint: str = "#5d7fb8"
    shadow_level: float = 0.2  # brightness of shadows relative to the light they remember
    exposure: float = 1.0
    bloom: float = 0.6  # tight glow around light
    bloom_wide: float = 0.35  # wide haze through the water
    saturation: float = 1.08
    tint: str = "#ffffff"  # multiplies the light (a colour grade)
    lift: float = 0.0  # raises the blacks
    memory_gain: float = 0.5  # how strongly the mural's memory shows under the live light
    head_strength: float = 0.55  # brightness of the crisp particle heads

    def colour(self, key: str) -> np.ndarray:
        """A colour field as linear RGB float32[3]."""
        return srgb_to_linear(np.array(_hex(getattr(self, key), key, self.name))).astype(
            np.float32
        )

    def mix(self, other: Palette, amount: float) -> Palette:
        """A palette `amount` of the way to `other` (a crossfade step): colours blend in linear
        light, numbers linearly."""
        if amount <= 0.0:
            return self
        if amount >= 1.0:
            return other
        values = {}
        for f in fields(Palette):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name in ("name", "description"):
                values[f.name] = b if amount >= 0.5 else a
            elif f.type == "float":
                values[f.name] = a + (b - a) * amount
            else:
                lin = self.colour(f.name) + (other.colour(f.name) - self.colour(f.name)) * amount
                values[f.name] = to_hex(lin)
        return Palette(**values)

    def grade_vector(self) -> np.ndarray:
        """tint (3, linear), saturation, lift (3): the row the tone-map kernel reads."""
        tint = self.colour("tint")
        return np.array([*tint, self.saturation, self.lift, self.lift, self.lift], np.float32)


def palette_from_dict(data: dict, source: str) -> Palette:
    """A Palette from parsed TOML (PaletteError names the file and the key)."""
    known = {f.name: f for f in fields(Palette)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise PaletteError(f"{source}: unknown key(s) {', '.join(unknown)}")
    values = {}
    for key, value in data.items():
        kind = known[key].type
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PaletteError(f"{source}: '{key}' must be a number, got {value!r}")
            if not 0.0 <= float(value) <= 8.0:
                raise PaletteError(f"{source}: '{key}' = {value} is outside 0..8")
            values[key] = float(value)
        else:
            if not isinstance(value, str):
                raise PaletteError(f"{source}: '{key}' must be text, got {value!r}")
            values[key] = value
    palette = Palette(**values)
    for key in ("background_top", "background_bottom", "shadow_tint", "tint"):
        _hex(getattr(palette, key), key, source)
    return palette
