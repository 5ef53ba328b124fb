"""The compositor's fast kernels against plain numpy references of the same maths."""

import numpy as np
import pytest
from numba import njit

from mural.engine.colourspace import srgb_encode_lut
from mural.engine.kernels import axis_taps
from mural.render import kernels


def _rows(grid: np.ndarray, taps: tuple) -> np.ndarray:
    y0, y1, wy = taps
    wy = wy.reshape((-1,) + (1,) * (grid.ndim - 1))
    return grid[y0] + (grid[y1] - grid[y0]) * wy


def _columns(grid: np.ndarray, taps: tuple) -> np.ndarray:
    x0, x1, wx = taps
    wx = wx.reshape((1, -1) + (1,) * (grid.ndim - 2))
    return grid[:, x0] + (grid[:, x1] - grid[:, x0]) * wx


def shade_reference(c: np.ndarray, v: np.ndarray, tint: np.ndarray) -> np.ndarray:
    """kernels.shade in plain numpy: the light's form in the shadow tint, plus a trace of its
    own hue, blended toward the light itself by vitality v."""
    form = (0.6 * (c @ np.array([0.2126, 0.7152, 0.0722])) + 0.4 * c.max(axis=-1))[..., None]
    q = kernels.HUE_RESIDUE * float(np.asarray(tint, np.float64) @ [0.2126, 0.7152, 0.0722])
    dark = form * tint + (c - form) * q
    return dark + (c - dark) * v


def _reference_tonemap(live, ls, memory, mg, vit_wide, glow_wide, gains_wide, row_taps, shadow,
                       background, exposure, grade, lut):
    vt, at, gt = row_taps[0:3], row_taps[3:6], row_taps[6:9]
    c = live.astype(np.float64) * ls + mg * memory
    v = _rows(vit_wide.astype(np.float64), vt)[..., None]
    shaded = shade_reference(c, v, shadow)
    x = (shaded + _rows(glow_wide.astype(np.float64), at)) * (grade[:3] * exposure)
    curve = np.clip(x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0)
    e = curve * _rows(gains_wide.astype(np.float64), gt)[..., None] + background
    lum = (e @ np.array([0.2126, 0.7152, 0.0722]))[..., None]
    lift = grade[4:7]
    n = lut.shape[0] - 1
    index = np.clip(lift * n + (lum + (e - lum) * grade[3]) * (1.0 - lift) * n, 0, n)
    return lut[index.astype(np.int64)]


@pytest.mark.parametrize("h, w", [(45, 80), (37, 61)])
def test_the_vectorised_tone_map_matches_the_plain_maths(h, w):
    rng = np.random.default_rng(7)
    f32 = np.float32
    live = rng.gamma(0.6, 0.4, (h, w, 3)).astype(f32)
    memory = rng.gamma(0.5, 0.3, (h, w, 3)).astype(f32)
    gy, gx = -(-h // 8), -(-w // 8)
    vitality = rng.uniform(0, 1, (gy, gx)).astype(f32)
    glow = rng.gamma(0.5, 0.2, ((h + 3) // 4, w, 3)).astype(f32)
    gains = rng.uniform(0.3, 1, (5, w)).astype(f32)
    vit_wide = np.zeros((gy, w), f32)
    kernels.widen_grid(vitality, *axis_taps(w, gx), vit_wide)
    row_taps = axis_taps(h, gy) + axis_taps(h, glow.shape[0]) + axis_taps(h, gains.shape[0])
    shadow = np.array([0.05, 0.07, 0.12], f32)
    background = rng.uniform(0, 0.02, (h, w, 3)).astype(f32)
    grade = np.array([1.0, 0.95, 1.05, 0.9, 0.01, 0.0, 0.02], f32)
    lut = srgb_encode_lut()
    out = np.zeros((h, w, 3), np.uint8)
    args = (live, f32(0.8), memory, f32(0.6), vit_wide, glow, gains, row_taps, shadow,
            background, f32(1.3), grade, lut)
    kernels.tonemap(*args, out)
    expected = _reference_tonemap(*args)
    difference = np.abs(out.astype(int) - expected)
    assert difference.max() <= 1  # float32 SIMD against float64: at most one step of the table
    assert (difference > 0).mean() < 0.01
    assert out.std() > 10  # the random light really spans the range


def test_widened_grids_are_bilinear_along_the_row():
    rng = np.random.default_rng(1)
    grid = rng.uniform(0, 1, (6, 9)).astype(np.float32)
    out = np.zeros((6, 50), np.float32)
    taps = axis_taps(50, 9)
    kernels.widen_grid(grid, *taps, out)
    np.testing.assert_allclose(out, _columns(grid, taps), rtol=1e-6)


def test_bloom_layers_combine_at_the_field_width():
    rng = np.random.default_rng(2)
    tight = rng.uniform(0, 1, (20, 30, 3)).astype(np.float32)
    wide = rng.uniform(0, 1, (10, 15, 3)).astype(np.float32)
    out = np.zeros((20, 120, 3), np.float32)
    tx, wx, wy = axis_taps(120, 30), axis_taps(120, 15), axis_taps(20, 10)
    kernels.combine_glow(tight, wide, (*tx, *wx, *wy), np.float32(0.7), np.float32(0.4), out)
    expected = 0.7 * _columns(tight, tx) + 0.4 * _columns(_rows(wide, wy), wx)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("w", [1, 2, 7, 480])
def test_the_2x_widen_equals_the_general_bilinear_widen(w):
    rng = np.random.default_rng(w)
    src = rng.integers(0, 256, (3, w, 3), dtype=np.uint8)
    general = np.zeros((3, 2 * w, 3), np.uint16)
    fast = np.ones_like(general)
    kernels.widen_rows(src, general, *kernels.byte_taps(w, 2 * w))
    kernels.widen_rows_2x(src, fast)
    np.testing.assert_array_equal(fast, general)


def _reference_blur(src: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    r = len(weights) // 2
    pad = [(0, 0)] * src.ndim
    pad[axis] = (r, r)
    padded = np.pad(src.astype(np.float64), pad, mode="edge")
    n = src.shape[axis]
    return sum(w * np.take(padded, range(k, k + n), axis=axis) for k, w in enumerate(weights))


@pytest.mark.parametrize("w", [1, 5, 40])
@pytest.mark.parametrize("sigma", [0.75, 4.5])
def test_the_blurs_are_gaussian_with_clamped_edges(w, sigma):
    rng = np.random.default_rng(w)
    src = rng.uniform(0, 1, (23, w, 3)).astype(np.float32)
    weights = kernels.gaussian_weights(sigma)
    rows = np.full_like(src, np.nan)
    cols = np.full_like(src, np.nan)
    kernels.blur_rows(src, rows, weights)
    kernels.blur_cols(src, cols, weights)
    np.testing.assert_allclose(rows, _reference_blur(src, weights, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cols, _reference_blur(src, weights, 0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("h, w", [(16, 24), (15, 23)])
def test_the_half_resolution_shading_boxes_then_shades(h, w):
    rng = np.random.default_rng(h)
    f32 = np.float32
    live = rng.uniform(0, 1, (h, w, 3)).astype(f32)
    memory = rng.uniform(0, 1, (h, w, 3)).astype(f32)
    oh, ow = (h + 1) // 2, (w + 1) // 2
    vit_wide = rng.uniform(0, 1, (3, w)).astype(f32)
    rows = axis_taps(oh, 3)
    shadow = np.array([0.1, 0.2, 0.4], f32)
    out = np.zeros((oh, ow, 3), f32)
    kernels.shaded_half(live, f32(0.5), memory, f32(2.0), vit_wide, rows, shadow, out)

    light = 0.5 * live.astype(np.float64) + 2.0 * memory
    light = np.pad(light, ((0, 2 * oh - h), (0, 2 * ow - w), (0, 0)), mode="edge")
    box = light.reshape(oh, 2, ow, 2, 3).mean(axis=(1, 3))
    vit = np.pad(_rows(vit_wide.astype(np.float64), rows), ((0, 0), (0, 2 * ow - w)), mode="edge")
    v = vit.reshape(oh, ow, 2).mean(axis=2)[..., None]
    expected = shade_reference(box, v, shadow)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


# -- the shared pieces: one tone curve, one shading, two kinds of taps -------------------------


@njit(error_model="numpy")
def _aces_strict(xs, out):  # no fastmath: IEEE float32, as the safety estimate runs it
    for i in range(xs.shape[0]):
        out[i] = kernels.aces(xs[i])


@njit(fastmath=True)
def _aces_fast64(xs, out):  # fastmath, float64: as the poster's grade runs it
    for i in range(xs.shape[0]):
        out[i] = kernels.aces(np.float64(xs[i]))


def _curve_inputs(dtype) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.concatenate([rng.gamma(0.7, 1.2, 20_000), [0.0, 1e-6, 0.5, 1.0, 4.0, 60.0]]
                          ).astype(dtype)


def test_the_tone_curve_keeps_its_precision_in_numba_and_matches_numpy():
    xs = _curve_inputs(np.float32)
    strict = np.empty_like(xs)
    _aces_strict(xs, strict)
    reference = kernels.aces(xs)
    assert reference.dtype == np.float32
    assert strict.tobytes() == reference.tobytes()  # same float32 operations, same order
    fast = np.empty(xs.shape, np.float64)
    _aces_fast64(xs, fast)
    np.testing.assert_allclose(fast, kernels.aces(xs.astype(np.float64)), rtol=1e-12)
    assert fast.dtype == np.float64 and not np.array_equal(fast, strict)  # float64 stays so
    assert float(strict.min()) >= 0.0 and float(strict.max()) <= 1.0
    assert np.all(np.diff(kernels.aces(np.linspace(0, 20, 2001))) >= 0)  # monotone
    assert kernels.aces(0.0) == 0.0 and 0.999 < kernels.aces(1e3) <= 1.0


def test_the_tone_curve_is_the_narkowicz_fit():
    x = np.linspace(0.0, 3.0, 31)
    a, b, c, d, e = kernels.ACES_FIT
    np.testing.assert_allclose(kernels.aces(x), np.clip(x * (a * x + b) / (x * (c * x + d) + e),
                                                        0, 1))


def test_shading_keeps_the_form_and_sinks_into_the_shadow_tint():
    f32 = np.float32
    lit = kernels.shade(f32(0.2), f32(0.8), f32(0.3), f32(1.0), f32(0.1), f32(0.2), f32(0.4))
    np.testing.assert_allclose(lit, (0.2, 0.8, 0.3), rtol=1e-6)  # full vitality: the light
    dark = kernels.shade(f32(0.2), f32(0.8), f32(0.3), f32(0.0), f32(0.1), f32(0.2), f32(0.4))
    form = 0.6 * (0.2126 * 0.2 + 0.7152 * 0.8 + 0.0722 * 0.3) + 0.4 * 0.8
    q = kernels.HUE_RESIDUE * (0.2126 * 0.1 + 0.7152 * 0.2 + 0.0722 * 0.4)
    expected = [form * t + (c - form) * q for c, t in ((0.2, 0.1), (0.8, 0.2), (0.3, 0.4))]
    np.testing.assert_allclose(dark, expected, rtol=1e-5)  # the tint, a trace of its own hue
    assert dark[1] / dark[2] > 0.2 / 0.4  # the green light keeps a little of its green


@pytest.mark.parametrize("src, dst", [(960, 1920), (540, 1080), (25, 768), (7, 13), (90, 160)])
def test_byte_taps_share_axis_taps_indices_with_weights_in_256ths(src, dst):
    lo, hi, frac = kernels.byte_taps(src, dst)
    flo, fhi, weight = axis_taps(dst, src)
    assert np.array_equal(lo, flo) and np.array_equal(hi, fhi)
    assert frac.dtype == np.int32 and frac.min() >= 0 and frac.max() <= 256
    assert np.abs(frac - weight * 256).max() <= 0.5 + 1e-3
