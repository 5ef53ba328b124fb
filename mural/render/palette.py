"""Palettes as values: the grade, water and shadow colours of a mural (files load in show/)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
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


class PaletteSchedule:
    """A grade over time: a base palette and timed crossfades, as values (`palette_at(t)`).

    A change (t, palette, fade) starts from the palette shown at t (mid-crossfade if another
    one is under way) and reaches `palette` after `fade` seconds (at once if fade <= 0).
    Changes at equal times apply in the order given; the later one starts from the earlier.
    Each crossfade's starting palette is worked out once, when the change is added.
    """

    def __init__(self, base: Palette,
                 changes: Iterable[tuple[float, Palette, float]] = ()) -> None:
        self.base = base
        self._times: list[float] = []
        self._fades: list[tuple[Palette, Palette, float, float]] = []  # start, target, t, fade
        for t, palette, fade in sorted(changes, key=lambda change: float(change[0])):
            self.change(t, palette, fade)

    @property
    def changes(self) -> list[tuple[float, Palette, float]]:
        """The changes held, in time order: (time, palette, fade seconds)."""
        return [(t, target, fade) for _, target, t, fade in self._fades]

    def change(self, t: float, palette: Palette, fade: float = 0.0) -> None:
        """From time t, crossfade to `palette` over `fade` seconds.

        Changes held for later than t are dropped: a change made at t decides what follows
        it (a wall sent back in time and regraded starts a new future).
        """
        t = float(t)
        del self._times[bisect.bisect_right(self._times, t):]
        del self._fades[len(self._times):]
        start = self.palette_at(t)
        self._times.append(t)
        self._fades.append((start, palette, t, float(fade)))

    def palette_at(self, t: float) -> Palette:
        """The palette shown at time t."""
        index = bisect.bisect_right(self._times, t) - 1
        if index < 0:
            return self.base
        start, target, began, fade = self._fades[index]
        if fade <= 0.0:
            return target
        return start.mix(target, min(1.0, max(0.0, (t - began) / fade)))

    def forget_before(self, t: float) -> None:
        """Drop the changes that no longer shape time t or later; earlier times then show the
        palette the last of them started from (a long run forgets its past)."""
        index = bisect.bisect_right(self._times, t) - 1
        if index > 0:
            self.base = self._fades[index][0]
            del self._times[:index]
            del self._fades[:index]


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
