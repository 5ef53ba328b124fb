"""The installation window: the one module that talks to pygame."""

# Design notes:
#
# It shows frames scaled (bilinear) to fit the window, letterboxed if the aspect differs, draws
# the HUD, and turns pygame's input into neutral `InputEvent`s, so the player never sees a
# pygame constant: keys become "f", "h", "s", "p", "q", "space", "left", "right", "plus",
# "minus", "escape" and "1".."9"; the left button gives "click" and "drag" events with the
# pointer as (x, y) in 0..1 of the picture.

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402

from mural.events.errors import MuralError  # noqa: E402
from mural.sinks.window import HudLine, InputEvent  # noqa: E402

DEFAULT_SIZE = (1280, 720)
HUD_FONT_PX = 20
HUD_COLOUR = (225, 235, 245)
ALERT_COLOUR = (255, 70, 70)


class DisplayUnavailable(MuralError, RuntimeError):
    """No window can be opened here (a headless machine, no display server ...)."""


def display_problem() -> str | None:
    """Why no window can be opened on this machine, or None when one can.

    On Linux without SDL_VIDEODRIVER, a window needs DISPLAY (X11) or WAYLAND_DISPLAY;
    everywhere, pygame's display must initialise. SDL_VIDEODRIVER=dummy counts as a display.
    """
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("SDL_VIDEODRIVER")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        return "no display found (DISPLAY and WAYLAND_DISPLAY are not set)"
    try:
        pygame.display.init()
    except pygame.error as exc:
        return f"the display cannot be opened ({exc})"
    return None


def _key_names() -> dict[int, str]:
    names = {
        pygame.K_f: "f", pygame.K_h: "h", pygame.K_s: "s", pygame.K_p: "p", pygame.K_q: "q",
        pygame.K_b: "b",
        pygame.K_SPACE: "space", pygame.K_LEFT: "left", pygame.K_RIGHT: "right",
        pygame.K_ESCAPE: "escape",
        pygame.K_PLUS: "plus", pygame.K_EQUALS: "plus", pygame.K_KP_PLUS: "plus",
        pygame.K_MINUS: "minus", pygame.K_KP_MINUS: "minus", pygame.K_UNDERSCORE: "minus",
    }  # fmt: skip
    for digit in range(1, 10):
        names[getattr(pygame, f"K_{digit}")] = str(digit)
        names[getattr(pygame, f"K_KP{digit}")] = str(digit)
    return names


KEY_NAMES: dict[int, str] = _key_names()
_TEXT_KEYS = {"+": "plus", "-": "minus"}  # layouts where + and - live on other keys


def key_name(key: int, text: str = "") -> str | None:
    """The neutral name of a pygame key (None for keys the player does not use)."""
    return _TEXT_KEYS.get(text) or KEY_NAMES.get(key)


class Display:
    """A pygame window (or fullscreen on display N at its native resolution, cursor hidden)."""

    def __init__(
        self,
        size: tuple[int, int] = DEFAULT_SIZE,
        *,
        fullscreen: bool = False,
        display: int = 0,
        title: str = "Lumina Mural",
    ) -> None:
        problem = display_problem()
        if problem is not None:
            raise DisplayUnavailable(problem)
        count = pygame.display.get_num_displays()
        if not 0 <= display < count:
            pygame.display.quit()
            raise DisplayUnavailable(
                f"there is no display {display}: this machine has {count} "
                f"(use --display 0{f'..{count - 1}' if count > 1 else ''})"
            )
        self.display = display
        self.windowed_size = (int(size[0]), int(size[1]))
        self.fullscreen = False
        self.size = self.windowed_size
        self._rect = pygame.Rect(0, 0, *self.size)
        self._scaled: pygame.Surface | None = None
        pygame.display.set_caption(title)
        pygame.font.init()
        self._font = pygame.font.Font(None, HUD_FONT_PX)
        self._set_mode(fullscreen)

    # -- window ---------------------------------------------------------------------------

    def _set_mode(self, fullscreen: bool) -> None:
        if fullscreen:
            native = pygame.display.get_desktop_sizes()[self.display]
            self._screen = pygame.display.set_mode(native, pygame.FULLSCREEN, display=self.display)
        else:
            self._screen = pygame.display.set_mode(self.windowed_size, 0, display=self.display)
            if self._screen.get_size() != self.windowed_size:
                # SDL2 can keep the fullscreen size on the first set_mode out of fullscreen
                self._screen = pygame.display.set_mode(self.windowed_size, 0,
                                                       display=self.display)
        pygame.mouse.set_visible(not fullscreen)
        self.fullscreen = fullscreen
        self.size = self._screen.get_size()
        self._screen.fill((0, 0, 0))
        self._scaled = None

    def toggle_fullscreen(self) -> None:
        self._set_mode(not self.fullscreen)

    def close(self) -> None:
        pygame.display.quit()

    # -- output ---------------------------------------------------------------------------

    def _fit(self, frame_size: tuple[int, int]) -> pygame.Rect:
        width, height = self.size
        k = min(width / frame_size[0], height / frame_size[1])
        w, h = max(1, round(frame_size[0] * k)), max(1, round(frame_size[1] * k))
        return pygame.Rect((width - w) // 2, (height - h) // 2, w, h)

    def show(self, frame: np.ndarray, hud: Sequence[HudLine] | None = None) -> None:
        """Draw an HxWx3 uint8 frame scaled to the window, the HUD over it, and flip."""
        height, width = frame.shape[:2]
        image = pygame.image.frombuffer(np.ascontiguousarray(frame), (width, height), "RGB")
        rect = self._fit((width, height))
        if rect != self._rect:
            self._screen.fill((0, 0, 0))  # clear the letterbox bars once per layout
            self._rect = rect
        if rect.size == (width, height):
            self._screen.blit(image, rect.topleft)
        else:
            scaled = self._scaled
            if scaled is None or scaled.get_size() != rect.size:
                scaled = self._scaled = pygame.Surface(rect.size, 0, image)
            pygame.transform.smoothscale(image, rect.size, scaled)
            self._screen.blit(scaled, rect.topleft)
        if hud:
            self._draw_hud(hud)
        pygame.display.flip()

    def _draw_hud(self, lines: Sequence[HudLine]) -> None:
        rendered = [
            self._font.render(line.text, True, ALERT_COLOUR if line.alert else HUD_COLOUR)
            for line in lines
        ]
        pad, gap = 8, 2
        box_w = max(s.get_width() for s in rendered) + 2 * pad
        box_h = sum(s.get_height() + gap for s in rendered) + 2 * pad - gap
        box = pygame.Surface((box_w, box_h), pygame.SRCALPHA)
        box.fill((0, 0, 0, 150))
        self._screen.blit(box, (10, 10))
        y = 10 + pad
        for surface in rendered:
            self._screen.blit(surface, (10 + pad, y))
            y += surface.get_height() + gap

    # -- input ----------------------------------------------------------------------------

    def _picture_pos(self, pos: tuple[int, int]) -> tuple[float, float] | None:
        rect = self._rect
        if not rect.collidepoint(pos):
            return None
        return (pos[0] - rect.x + 0.5) / rect.w, (pos[1] - rect.y + 0.5) / rect.h

    def poll(self) -> list[InputEvent]:
        """Input since the last poll, as neutral events (never blocks)."""
        out: list[InputEvent] = []
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                out.append(InputEvent("quit"))
            elif event.type == pygame.KEYDOWN:
                name = key_name(event.key, getattr(event, "unicode", ""))
                if name is not None:
                    out.append(InputEvent("key", key=name))
            elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
                pos = self._picture_pos(event.pos)
                if pos is not None:
                    out.append(InputEvent("click", pos=pos))
            elif event.type == pygame.MOUSEMOTION and event.buttons and event.buttons[0]:
                pos = self._picture_pos(event.pos)
                if pos is not None:
                    out.append(InputEvent("drag", pos=pos))
        return out

    def mouse(self) -> tuple[float, float] | None:
        """The pointer in 0..1 of the picture, or None when it is not over the window."""
        if not pygame.mouse.get_focused():
            return None
        return self._picture_pos(pygame.mouse.get_pos())


__all__ = ["Display", "DisplayUnavailable", "KEY_NAMES", "display_problem", "key_name"]
