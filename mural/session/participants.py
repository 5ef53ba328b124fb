"""Participants files: who is who, and each person's own colour and pattern of light.

```toml
[ana]                  # the participant id used in the stream
name = "Ana"
hue = 509              # nm: a wavelength of living light, 380..700 ...
pattern = "ring"       # bloom | ring | pulse
weight = 0.5           # 0..0.8: how far the hue leans toward the personal colour

[p02]
colour = "#84f8ca"     # ... or an sRGB colour
```
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mural.engine.colour import wavelength_to_linear_rgb
from mural.engine.colourspace import srgb_to_linear
from mural.engine.engine import PATTERNS, Personal
from mural.events.errors import MuralError
from mural.events.model import MAX_PARTICIPANT_LEN
from mural.session.toml import FileProblem, TomlLines, read_toml

HUE_RANGE = (380.0, 700.0)
MAX_WEIGHT = 0.8
MAX_NAME = 64
KEYS = ("name", "hue", "colour", "color", "pattern", "weight")


class ParticipantsError(MuralError, ValueError):
    """A participants file with problems; `problems` lists every one."""

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def hex_to_linear(text: str) -> tuple[float, float, float]:
    """'#84f8ca' → linear RGB with the brightest channel 1 (ValueError if unreadable/black)."""
    s = str(text).strip().lstrip("#")
    if len(s) != 6 or any(c not in "0123456789abcdefABCDEF" for c in s):
        raise ValueError(f"a colour must look like \"#84f8ca\", got {text!r}")
    srgb = np.array([int(s[i : i + 2], 16) / 255 for i in (0, 2, 4)])
    lin = srgb_to_linear(srgb)
    top = float(lin.max())
    if top < 1e-3:
        raise ValueError(f"colour {text!r} is black: a personal light needs some colour")
    return tuple(float(c) for c in lin / top)  # type: ignore[return-value]


def hue_to_linear(nm: float) -> tuple[float, float, float]:
    """A wavelength (nm) → linear RGB, brightest channel 1."""
    return tuple(float(c) for c in wavelength_to_linear_rgb(float(nm)))  # type: ignore[return-value]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def parse_participants(
    data: dict, path: str = "participants.toml", lines=None
) -> tuple[dict[str, Personal], list[FileProblem]]:
    """Validate parsed TOML into {participant id: Personal}, collecting every problem.

    `lines` (a TomlLines) places each problem on its line.
    """
    lines = lines or TomlLines()
    out: dict[str, Personal] = {}
    problems: list[FileProblem] = []

    def where(pid: str, key: str | None = None) -> int | None:
        if key is not None:
            line = lines.key(pid, 0, key)
            if line is not None:
                return line
        return lines.table(pid) or lines.key("", 0, pid)

    for pid, spec in data.items():
        def bad(message: str, key: str | None = None, pid: str = pid) -> None:
            problems.append(FileProblem(path, where(pid, key), message))

        text = pid.strip()
        if not text or len(text) > MAX_PARTICIPANT_LEN or not text.isprintable():
            bad(f"participant id {pid!r} must be 1..{MAX_PARTICIPANT_LEN} printable characters")
            continue
        if not isinstance(spec, dict):
            bad(f"participant {pid!r} must be a table like [{pid}] with hue/colour/pattern")
            continue
        for key in spec:
            if key not in KEYS:
                bad(f"unknown key {key!r} for participant {pid!r} (known: name, hue, colour, "
                    "pattern, weight)", key)
        colour = None
        has_colour = [k for k in ("colour", "color") if k in spec]
        if "hue" in spec and has_colour:
            bad(f"participant {pid!r}: give either hue or colour, not both", "hue")
        elif "hue" in spec:
            nm = _number(spec["hue"])
            if nm is None or not HUE_RANGE[0] <= nm <= HUE_RANGE[1]:
                bad(f"hue must be a wavelength in {HUE_RANGE[0]:g}..{HUE_RANGE[1]:g} nm, got "
                    f"{spec['hue']!r}", "hue")
            else:
                colour = hue_to_linear(nm)
        elif has_colour:
            key = has_colour[0]
            try:
                colour = hex_to_linear(spec[key]) if isinstance(spec[key], str) else None
                if colour is None:
                    raise ValueError(f"a colour must be text like \"#84f8ca\", got {spec[key]!r}")
            except ValueError as exc:
                bad(str(exc), key)
        pattern = spec.get("pattern", "bloom")
        if pattern not in PATTERNS:
            bad(f"pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}", "pattern")
            pattern = "bloom"
        weight = 0.4
        if "weight" in spec:
            w = _number(spec["weight"])
            if w is None or not 0.0 <= w <= MAX_WEIGHT:
                bad(f"weight must be a number in 0..{MAX_WEIGHT:g}, got {spec['weight']!r}",
                    "weight")
            else:
                weight = w
        name = spec.get("name")
        if name is not None and (not isinstance(name, str) or not 0 < len(name) <= MAX_NAME
                                 or not name.isprintable()):
            bad(f"name must be 1..{MAX_NAME} printable characters, got {name!r}", "name")
            name = None
        out[text] = Personal(colour=colour, pattern=pattern, name=name, weight=weight)
    return out, problems


def check_participants(path: str | Path) -> tuple[dict[str, Personal], list[FileProblem]]:
    """Read and validate a participants file; never raises for bad content."""
    data, lines, problems = read_toml(path)
    if data is None:
        return {}, problems
    return parse_participants(data, str(path), lines)


def load_participants(path: str | Path) -> dict[str, Personal]:
    """{participant id: Personal} from a participants file; ParticipantsError lists every
    problem with its line."""
    people, problems = check_participants(path)
    if problems:
        raise ParticipantsError(problems)
    return people


__all__ = [
    "FileProblem",
    "ParticipantsError",
    "check_participants",
    "hex_to_linear",
    "hue_to_linear",
    "load_participants",
    "parse_participants",
]
