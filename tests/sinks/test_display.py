"""The pygame window on SDL's dummy driver: scaling, HUD, fullscreen, neutral input events."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame is imported by the display module

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from mural.show.player import HudLine, InputEvent  # noqa: E402
from mural.sinks import display as display_module  # noqa: E402
from mural.sinks.display import Display, DisplayUnavailable, display_problem, key_name  # noqa: E402


@pytest.fixture
def window():
    win = Display((320, 180))
    yield win
    win.close()


def post_key(key: int, text: str = "") -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, unicode=text, mod=0))


def test_dummy_driver_counts_as_a_display():
    assert display_problem() is None


def test_no_display_server_is_reported(monkeypatch):
    monkeypatch.setattr(display_module.sys, "platform", "linux")
    for name in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert "DISPLAY" in display_problem()
    with pytest.raises(DisplayUnavailable, match="no display"):
        Display((320, 180))


def test_a_failing_display_init_is_reported(monkeypatch):
    def broken() -> None:
        raise pygame.error("video system exploded")

    monkeypatch.setattr(display_module.pygame.display, "init", broken)
    assert "exploded" in display_problem()


def test_an_unknown_display_index_is_a_clean_error():
    with pytest.raises(DisplayUnavailable, match="no display 5"):
        Display((320, 180), display=5)


def test_frames_are_scaled_to_fill_the_window(window):
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[..., 0] = 200
    window.show(frame)
    screen = pygame.display.get_surface()
    assert screen.get_size() == (320, 180)
    assert tuple(screen.get_at((300, 170)))[:3] == (200, 0, 0)
    window.show(np.full((180, 320, 3), 50, np.uint8))  # same size: blitted as is
    assert tuple(screen.get_at((0, 0)))[:3] == (50, 50, 50)


def test_another_aspect_is_letterboxed(window):
    window.show(np.full((180, 180, 3), 255, np.uint8))  # square into 16:9
    screen = pygame.display.get_surface()
    assert tuple(screen.get_at((160, 90)))[:3] == (255, 255, 255)
    assert tuple(screen.get_at((10, 90)))[:3] == (0, 0, 0)
    assert window._picture_pos((10, 90)) is None
    assert window._picture_pos((160, 90)) == pytest.approx((0.5, 0.5), abs=0.01)


def test_hud_is_drawn_with_alerts_in_red(window):
    window.show(np.zeros((90, 160, 3), np.uint8),
                [HudLine("60.0 fps"), HudLine("SAFETY LIMITER OFF", alert=True)])
    pixels = pygame.surfarray.array3d(pygame.display.get_surface())
    reddish = (pixels[..., 0] > 200) & (pixels[..., 1] < 120)
    assert reddish.any()
    assert (pixels[..., 1] > 200).any()  # the light-grey line


def test_fullscreen_uses_the_native_resolution_and_hides_the_cursor(window):
    native = pygame.display.get_desktop_sizes()[0]
    window.toggle_fullscreen()
    assert window.fullscreen and window.size == native
    assert not pygame.mouse.get_visible()
    window.toggle_fullscreen()
    assert not window.fullscreen and window.size == (320, 180)
    assert pygame.mouse.get_visible()


def test_fullscreen_from_the_start():
    win = Display((320, 180), fullscreen=True)
    try:
        assert win.size == pygame.display.get_desktop_sizes()[0]
    finally:
        win.close()


def test_keys_become_neutral_names(window):
    pygame.event.clear()
    post_key(pygame.K_f, "f")
    post_key(pygame.K_SPACE, " ")
    post_key(pygame.K_LEFT)
    post_key(pygame.K_RIGHT)
    post_key(pygame.K_KP_PLUS, "+")
    post_key(pygame.K_MINUS, "-")
    post_key(pygame.K_ESCAPE)
    post_key(pygame.K_7, "7")
    post_key(pygame.K_KP3, "3")
    post_key(pygame.K_a, "a")  # not a hotkey: ignored
    keys = [e.key for e in window.poll()]
    assert keys == ["f", "space", "left", "right", "plus", "minus", "escape", "7", "3"]


def test_plus_typed_on_any_layout_is_plus():
    assert key_name(pygame.K_1, "+") == "plus"  # e.g. a layout with + on a digit key
    assert key_name(pygame.K_EQUALS, "=") == "plus"  # the unshifted + key on US keyboards
    assert key_name(pygame.K_a, "a") is None


def test_mouse_and_window_events(window):
    window.show(np.zeros((90, 160, 3), np.uint8))
    pygame.event.clear()
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(80, 135)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=3, pos=(80, 135)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(160, 45), rel=(1, 1),
                                         buttons=(1, 0, 0)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(100, 45), rel=(1, 1),
                                         buttons=(0, 0, 0)))
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    events = window.poll()
    assert [e.kind for e in events] == ["click", "drag", "quit"]
    assert events[0].pos == pytest.approx((0.25, 0.75), abs=0.01)
    assert events[1].pos == pytest.approx((0.5, 0.25), abs=0.01)
    assert events[2] == InputEvent("quit")


def test_mouse_outside_the_window_is_none(window, monkeypatch):
    monkeypatch.setattr(pygame.mouse, "get_focused", lambda: False)
    assert window.mouse() is None
    monkeypatch.setattr(pygame.mouse, "get_focused", lambda: True)
    monkeypatch.setattr(pygame.mouse, "get_pos", lambda: (240, 45))
    assert window.mouse() == pytest.approx((0.75, 0.25), abs=0.01)
