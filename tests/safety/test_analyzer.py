"""The offline flash analyser: WCAG 2.3.1 counting on synthetic sequences and files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mural.safety import FlashInputError, Region, analyse_frames
from mural.safety.analyzer import find_transitions, flash_counts, standard_regions
from mural.safety.luminance import (
    block_mean,
    frame_measures,
    linear_to_srgb,
    red_measure,
    relative_luminance,
)
from tests.safety import (
    BLACK,
    GREY_LIKE_RED,
    RED,
    WHITE,
    fade,
    grey_of_luminance,
    solid,
    strobe,
)

# -- helpers ------------------------------------------------------------------------------------


def test_luminance_of_primaries():
    frame = np.array([[WHITE, BLACK, RED, (0, 255, 0), (0, 0, 255)]], np.uint8)
    np.testing.assert_allclose(
        relative_luminance(frame)[0], [1.0, 0.0, 0.2126, 0.7152, 0.0722], atol=1e-6
    )


def test_srgb_round_trip_is_exact():
    v = np.arange(256, dtype=np.uint8)
    from mural.safety.luminance import SRGB_TO_LINEAR

    assert np.array_equal(linear_to_srgb(SRGB_TO_LINEAR[v]), v)


def test_red_measure_gates_on_saturation():
    frame = np.array(
        [[RED, (128, 0, 0), (255, 128, 0), WHITE, (255, 200, 0), (255, 0, 255), BLACK]], np.uint8
    )
    red = red_measure(frame)[0]
    assert red[0] == pytest.approx(1.0)
    assert 0.2 < red[1] < 0.25  # dark red still counts, in linear light
    assert red[2] > 0.5  # sRGB (255,128,0) is R/(R+G+B) = 0.82 in linear light: saturated red
    assert red[3] == red[4] == red[5] == red[6] == 0  # white, orange-yellow, magenta, black


def test_block_mean_handles_uneven_blocks():
    values = np.arange(7 * 5, dtype=np.float32).reshape(7, 5)
    grid = block_mean(values, (3, 2))
    assert grid.shape == (3, 2)
    assert grid[0, 0] == pytest.approx(values[0:2, 0:2].mean())
    assert grid[2, 1] == pytest.approx(values[4:7, 2:5].mean())
    lum, red = frame_measures(solid(WHITE), (12, 12))
    assert lum.shape == red.shape == (12, 12) and np.allclose(lum, 1.0)


# -- counting -----------------------------------------------------------------------------------


def test_slow_ramp_is_one_transition_and_wiggles_are_ignored():
    ramp = np.linspace(0, 1, 300) + 0.03 * np.sin(np.arange(300))
    col, end, low, high = find_transitions(ramp[:, None], 0.1)
    assert len(col) == 1 and high[0] - low[0] > 0.9


def test_flash_needs_two_opposing_transitions():
    series = np.array([0.0] * 5 + [1.0] * 5 + [0.0] * 5)[:, None]
    assert flash_counts(series, 30, threshold=0.1, dark_limit=0.8).max() == 1.0


@pytest.mark.parametrize("hz", [4, 5, 6, 10, 15, 20, 30])
def test_full_frame_strobes_fail_with_their_rate(hz):
    report = analyse_frames(strobe(hz, fps=60), 60)
    assert not report.passed
    assert abs(report.max_general - hz) <= 0.5
    assert report.worst_region == "full frame"


def test_three_hz_is_at_the_limit_and_passes_without_margin():
    report = analyse_frames(strobe(3, fps=60), 60)
    assert report.max_general == 3.0
    assert report.passed and not report.within_target


@pytest.mark.parametrize("hz", [0.5, 1, 2])
def test_slow_blinks_pass(hz):
    report = analyse_frames(strobe(hz, fps=30, seconds=3), 30)
    assert report.passed and report.max_general <= 2


def test_slow_fades_pass():
    frames = fade(BLACK, WHITE, 1.0) + fade(WHITE, BLACK, 1.0)[1:] + fade(BLACK, WHITE, 1.0)[1:]
    report = analyse_frames(frames, 30)
    assert report.passed and report.max_general <= 1.0


def test_regional_strobe_in_a_third_of_the_frame_fails():
    frames = strobe(8, fps=60, patch=(1 / 3, 1 / 3, 2 / 3, 2 / 3), background=(40, 40, 40))
    report = analyse_frames(frames, 60)
    assert not report.passed
    assert report.worst_region == "y 2/6-4/6 x 2/6-4/6"


def test_strobe_in_a_tiny_patch_passes():
    frames = strobe(10, fps=60, patch=(0.4, 0.4, 0.4 + 1 / 12, 0.4 + 1 / 12))
    report = analyse_frames(frames, 60)
    assert report.passed and report.max_general == 0


def test_red_strobe_against_black_fails_as_red_and_general():
    report = analyse_frames(strobe(6, fps=60, on=RED), 60)
    assert not report.passed
    assert report.max_red >= 5.5 and report.max_general >= 5.5


def test_red_strobe_at_equal_luminance_is_a_red_flash_only():
    report = analyse_frames(strobe(6, fps=60, on=RED, off=GREY_LIKE_RED), 60)
    assert not report.passed
    assert report.max_general == 0 and report.max_red >= 5.5


def test_low_contrast_flicker_passes():
    frames = strobe(10, fps=60, on=grey_of_luminance(0.36), off=grey_of_luminance(0.30))
    assert analyse_frames(frames, 60).passed


def test_bright_flicker_above_point_eight_passes():
    frames = strobe(10, fps=60, on=WHITE, off=grey_of_luminance(0.82))
    report = analyse_frames(frames, 60)
    assert report.passed and report.max_general == 0


def test_flash_from_just_below_point_eight_counts():
    frames = strobe(10, fps=60, on=WHITE, off=grey_of_luminance(0.7))
    assert not analyse_frames(frames, 60).passed


def test_report_has_seconds_text_and_json():
    report = analyse_frames(strobe(1, fps=30, seconds=2) + strobe(10, fps=30, seconds=1), 30)
    assert [row.second for row in report.seconds] == [0, 1, 2]
    assert report.seconds[0].general <= 1 and report.seconds[2].general >= 9
    text = report.format()
    assert "FAIL" in text.splitlines()[-1] and "Limits of this check" in text
    assert "10-degree" in text  # the documented limits travel with the report
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False and len(data["seconds"]) == 3
    assert data["worst_second"] == 2 and data["method_limits"]


def test_custom_regions_and_validation():
    frames = strobe(10, fps=60, patch=(0, 0, 0.5, 0.5))
    top_left = Region("top-left quarter", 0, 0, 0.5, 0.5)
    assert not analyse_frames(frames, 60, regions=[top_left]).passed
    assert len(standard_regions()) == 26
    blink = [solid(WHITE), solid(BLACK)]  # harmless once, a 5 Hz strobe when looped
    assert analyse_frames(blink, 10).passed
    assert not analyse_frames(blink, 10, loop=True).passed
    with pytest.raises(ValueError):
        analyse_frames(frames, 0)
    with pytest.raises(FlashInputError):
        analyse_frames([], 30)
    with pytest.raises(FlashInputError):
        analyse_frames([solid(BLACK), solid(BLACK, (10, 10))], 30)
