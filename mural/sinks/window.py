"""The window contract: neutral input events and HUD lines, and what a window must do.

The player speaks only these terms, so it never sees a pygame constant and tests drive it with
a fake window; `mural.sinks.display` is the pygame implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class InputEvent:
    """One user input in neutral terms: kind "key" (with `key`), "click"/"drag" (with `pos`,
    x and y in 0..1 of the picture), or "quit" (the window was closed)."""

    kind: str
    key: str | None = None
    pos: tuple[float, float] | None = None


@dataclass(frozen=True)
class HudLine:
    """One line of on-screen text; `alert` lines are drawn in red."""

    text: str
    alert: bool = False


class Window(Protocol):
    """What the player needs from a window (the pygame display, or a fake in tests)."""

    size: tuple[int, int]  # drawable size in pixels
    fullscreen: bool

    def show(self, frame: np.ndarray, hud: Sequence[HudLine] | None = None) -> None: ...

    def poll(self) -> list[InputEvent]: ...

    def mouse(self) -> tuple[float, float] | None: ...

    def toggle_fullscreen(self) -> None: ...

    def close(self) -> None: ...


__all__ = ["HudLine", "InputEvent", "Window"]
