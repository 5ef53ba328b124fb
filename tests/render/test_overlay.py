"""The join code drawn into a corner: readable, small, and blended in."""

from __future__ import annotations

import numpy as np
import segno

from mural.render.overlay import QUIET, draw_qr, qr_box


def modules(text: str) -> np.ndarray:
    return np.array(segno.make(text, error="m").matrix, bool)


def test_the_code_sits_in_the_corner_at_a_small_share_of_the_frame():
    code = modules("http://127.0.0.1:8080/?k=abc")
    top, left, scale = qr_box(code, (1080, 1920))
    side = (code.shape[0] + 2 * QUIET) * scale
    assert side <= 0.16 * 1080 and scale >= 2
    assert top + side < 1080 and left + side < 1920 and left > 1920 / 2 and top > 1080 / 2


def test_modules_are_drawn_light_and_dark_and_fade_with_opacity():
    code = modules("http://127.0.0.1:8080/?k=abc")
    frame = np.full((1080, 1920, 3), 20, np.uint8)
    draw_qr(frame, code)
    top, left, scale = qr_box(code, frame.shape[:2])
    inside = frame[top + QUIET * scale:, left + QUIET * scale:][: code.shape[0] * scale,
                                                               : code.shape[1] * scale, 0]
    sampled = inside[scale // 2::scale, scale // 2::scale]
    assert np.array_equal(sampled < 60, code)  # a dark module is dark, a light one light
    assert frame[:top].max() == 20  # nothing outside the box changes
    faint = np.full((1080, 1920, 3), 20, np.uint8)
    draw_qr(faint, code, opacity=0.2)
    assert faint.max() < frame.max() and faint.max() > 20


def test_a_readable_code_decodes_back():
    """The drawn pixels, read back module by module, are the code segno made."""
    url = "http://192.168.1.20:8080/?k=0123456789abcdef"
    code = modules(url)
    frame = np.zeros((720, 1280, 3), np.uint8)
    draw_qr(frame, code, share=0.3)
    top, left, scale = qr_box(code, frame.shape[:2], share=0.3)
    grid = frame[top::scale, left::scale, 0][: code.shape[0] + 2 * QUIET,
                                             : code.shape[1] + 2 * QUIET]
    assert np.array_equal(grid[QUIET:-QUIET, QUIET:-QUIET] < 60, code)
