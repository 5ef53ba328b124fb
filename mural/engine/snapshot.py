"""Checks for a restored engine state: every value is one the engine could have produced.

A state file comes from disk, so it is untrusted input like any stream: a NaN, a negative age or
a particle index past the participant table would reach the numba kernels, which do not check
bounds (an index out of range is a segfault, not an exception). `Engine.restore` runs every
array and value through these checks before it touches the engine, and each failure is a
ValueError naming the entry and what was wrong with it.

Nothing here knows the engine's fields; engine.py says which entries exist and their bounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

SLACK = 1e-4  # float32 rounding at the edge of a range is not an invalid state


def need_mapping(value: Any, name: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValueError(f"engine snapshot: {name} must be a mapping, got {type(value).__name__}")
    return value


def need_keys(value: Mapping, name: str, required: tuple[str, ...],
              optional: tuple[str, ...] = ()) -> None:
    """Exactly the required keys, plus any of the optional ones: nothing missing, nothing odd."""
    missing = [k for k in required if k not in value]
    if missing:
        raise ValueError(f"engine snapshot: {name} is missing {', '.join(map(repr, missing))}")
    extra = sorted(repr(k) for k in value if k not in required and k not in optional)
    if extra:
        raise ValueError(f"engine snapshot: {name} has unknown entries {', '.join(extra[:5])}")


def array(value: Any, name: str, shape: tuple[int, ...], dtype: np.dtype,
          lo: float | None = None, hi: float | None = None,
          where: np.ndarray | None = None) -> np.ndarray:
    """A copy of `value` if it is an ndarray of exactly this shape and dtype, all finite, and
    (where `where` is set, only there) inside lo..hi."""
    if not isinstance(value, np.ndarray):
        raise ValueError(f"engine snapshot: {name} must be an array, got {type(value).__name__}")
    if value.shape != shape:
        raise ValueError(f"engine snapshot: {name} is {value.shape}, expected {shape} "
                         "(a state from another size, particle budget or participant table?)")
    if value.dtype != dtype:
        raise ValueError(f"engine snapshot: {name} has dtype {value.dtype}, expected {dtype}")
    data = np.array(value, copy=True)
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        bad = np.argwhere(~np.isfinite(data))[0]
        raise ValueError(f"engine snapshot: {name} holds a non-finite value "
                         f"({data[tuple(bad)]} at {tuple(int(i) for i in bad)})")
    checked = data if where is None else data[where]
    if checked.size and lo is not None:
        floor = lo - SLACK * max(1.0, abs(lo)) if data.dtype.kind == "f" else lo
        low = checked.min()
        if low < floor:
            raise ValueError(f"engine snapshot: {name} holds {low:g}, below its minimum {lo:g}")
    if checked.size and hi is not None:
        ceiling = hi + SLACK * max(1.0, abs(hi)) if data.dtype.kind == "f" else hi
        high = checked.max()
        if high > ceiling:
            raise ValueError(f"engine snapshot: {name} holds {high:g}, above its maximum {hi:g}")
    return data


def integer(value: Any, name: str, lo: int, hi: int) -> int:
    """A whole number lo..hi (an integral float, as JSON may give, is accepted; a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"engine snapshot: {name} must be a whole number, "
                         f"got {type(value).__name__}")
    if isinstance(value, float | np.floating) and (
        not math.isfinite(value) or value != int(value)
    ):
        raise ValueError(f"engine snapshot: {name} must be a whole number, got {value!r}")
    number = int(value)
    if not lo <= number <= hi:
        raise ValueError(f"engine snapshot: {name} is {number}, expected {lo}..{hi}")
    return number


def real(value: Any, name: str, lo: float, hi: float) -> float:
    """A finite number lo..hi (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"engine snapshot: {name} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"engine snapshot: {name} is too large") from None
    if not math.isfinite(number):
        raise ValueError(f"engine snapshot: {name} must be finite, got {number!r}")
    if not lo <= number <= hi:
        raise ValueError(f"engine snapshot: {name} is {number:g}, expected {lo:g}..{hi:g}")
    return number


def text(value: Any, name: str, max_len: int) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise ValueError(f"engine snapshot: {name} must be 1..{max_len} characters of text, "
                         f"got {shown}")
    return value


def pcg64_state(value: Any, expected: str) -> dict[str, Any]:
    """A well-formed state of numpy's PCG64 bit generator (as `bit_generator.state` gives)."""
    state = need_mapping(value, "rng")
    need_keys(state, "rng", ("bit_generator", "state", "has_uint32", "uinteger"))
    if state["bit_generator"] != expected:
        raise ValueError(f"engine snapshot: rng is a {state['bit_generator']!r} generator, "
                         f"expected {expected!r}")
    inner = need_mapping(state["state"], "rng state")
    need_keys(inner, "rng state", ("state", "inc"))
    words = {}
    for key in ("state", "inc"):
        words[key] = integer(inner[key], f"rng state.{key}", 0, 2**128 - 1)
    if words["inc"] % 2 == 0:
        raise ValueError("engine snapshot: rng state.inc must be odd (a PCG64 increment)")
    return {
        "bit_generator": expected,
        "state": words,
        "has_uint32": integer(state["has_uint32"], "rng has_uint32", 0, 1),
        "uinteger": integer(state["uinteger"], "rng uinteger", 0, 2**32 - 1),
    }
