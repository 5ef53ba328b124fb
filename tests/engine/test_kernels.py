"""The engine's fused kernels against plain numpy references, and their thread independence."""

import numpy as np
import pytest

from mural.engine import kernels

CELL = kernels.COARSE_CELL


def _particles(n: int, h: int, aspect: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    pos = np.stack([rng.uniform(-0.02, aspect + 0.02, n), rng.uniform(-0.02, 1.02, n)], 1)
    prev = pos + rng.normal(0, 6.0 / h, (n, 2))  # a few pixels of travel, some off the wall
    colour = rng.uniform(0, 1, (n, 3))
    age = rng.uniform(-0.5, 3.0, n)  # some not yet born, some dead (age >= life)
    life = np.full(n, 2.5)
    pidx = rng.integers(0, 3, n)
    gain = np.array([1.0, 0.5, 0.0], np.float32)
    return (pos.astype(np.float32), prev.astype(np.float32), colour.astype(np.float32),
            age.astype(np.float32), life.astype(np.float32), pidx.astype(np.int32), gain)


def _splat(h: int, w: int, bands: int, particles) -> tuple[np.ndarray, np.ndarray]:
    buf = np.zeros((h, w, 3), np.float32)
    coarse = np.zeros((-(-h // CELL), -(-w // CELL), 3), np.float32)
    pos, prev, colour, age, life, pidx, gain = particles
    kernels.splat_trails(buf, coarse, pos, prev, colour, age, life, pidx, gain,
                         np.float32(h), bands)
    return buf, coarse


@pytest.mark.parametrize("h, w", [(90, 160), (101, 77)])
def test_trails_are_the_same_bits_on_any_number_of_bands(h, w):
    particles = _particles(3000, h, w / h)
    buf1, coarse1 = _splat(h, w, 1, particles)
    assert buf1.sum() > 0
    for bands in (2, 3, 13):
        buf, coarse = _splat(h, w, bands, particles)
        np.testing.assert_array_equal(buf, buf1)
        np.testing.assert_array_equal(coarse, coarse1)


def test_trail_light_is_conserved_and_the_coarse_grid_holds_cell_means():
    h, w = 64, 96
    pos, prev, colour, age, life, pidx, gain = _particles(500, h, w / h, seed=3)
    # keep every path well inside the wall, so no light falls off it
    pos[:, 0] = np.clip(pos[:, 0], 0.1, w / h - 0.1)
    pos[:, 1] = np.clip(pos[:, 1], 0.1, 0.9)
    prev[:] = pos + 0.01
    buf, coarse = _splat(h, w, 2, (pos, prev, colour, age, life, pidx, gain))
    live = (age > 0) & (age < life)
    phase = age[live] / life[live]
    k = 4 * phase * (1 - phase) * gain[pidx[live]]
    k[k <= 1e-4] = 0
    expected = (colour[live] * k[:, None]).sum(axis=0)
    np.testing.assert_allclose(buf.reshape(-1, 3).sum(axis=0), expected, rtol=1e-4)
    cell_sums = buf.reshape(h // CELL, CELL, w // CELL, CELL, 3).sum(axis=(1, 3))
    np.testing.assert_allclose(coarse * CELL * CELL, cell_sums, rtol=1e-4, atol=1e-6)


def _reference_field_pass(live, memory, vitality, recolour, chroma, taps, live_scale,
                          mem_rate, sink_rate, mem_tau, dt, boost):
    (x0, x1, wx), (y0, y1, wy) = taps

    def up(grid):
        g = grid.astype(np.float64)
        rows = g[y0] + (g[y1] - g[y0]) * wy.reshape((-1,) + (1,) * (g.ndim - 1))
        return rows[:, x0] + (rows[:, x1] - rows[:, x0]) * wx.reshape((1, -1) + (1,) * (g.ndim - 2))

    v = up(vitality)[..., None]
    a = np.minimum(1.0, up(recolour) * boost)[..., None]
    c = up(chroma)
    lit = live.astype(np.float64) * live_scale
    attack = 1.0 - np.exp(-mem_rate * dt)  # the memory rises toward brighter light ...
    m = (memory * (1.0 - dt / mem_tau * v) + np.maximum(lit - memory, 0.0) * attack
         + lit * sink_rate * (1.0 - v) * dt)  # ... lets go only where alive, and takes in
    # the light that dims
    cmax = c.max(axis=2, keepdims=True)
    take = np.where((a > 1e-5) & (cmax > 1e-4), a, 0.0)
    target = c * m.max(axis=2, keepdims=True) / np.maximum(cmax, 1e-4)
    return lit, m + (target - m) * take


def test_the_field_pass_decays_paints_and_recolours_as_the_plain_maths_says():
    rng = np.random.default_rng(5)
    h, w = 40, 72
    gy, gx = h // CELL, w // CELL
    live = rng.uniform(0, 2, (h, w, 3)).astype(np.float32)
    memory = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    vitality = rng.uniform(0, 1, (gy, gx)).astype(np.float32)
    recolour = np.where(rng.uniform(0, 1, (gy, gx)) < 0.5, 0.0, rng.uniform(0, 1, (gy, gx)))
    recolour = recolour.astype(np.float32)
    chroma = rng.uniform(0, 1, (gy, gx, 3)).astype(np.float32)
    chroma[0, 0] = 0.0  # returning light without colour leaves the memory's colour alone
    taps = (kernels.axis_taps(w, gx), kernels.axis_taps(h, gy))
    scalars = (0.8, 0.05, 0.4, 30.0, 0.2, 6.0)
    expected_live, expected_memory = _reference_field_pass(
        live, memory, vitality, recolour, chroma, taps, *scalars)
    scratch = np.zeros((gy, w, 5), np.float32)
    means = np.full((gy, gx, 3), np.nan, np.float32)
    kernels.update_light_and_memory(live, memory, vitality, recolour, chroma, *taps, scratch,
                                    *(np.float32(s) for s in scalars), means)
    np.testing.assert_allclose(live, expected_live, rtol=1e-5)
    np.testing.assert_allclose(memory, expected_memory, rtol=1e-4, atol=1e-6)
    # the new memory's cell means come with it
    np.testing.assert_allclose(means, memory.reshape(gy, CELL, gx, CELL, 3).mean(axis=(1, 3)),
                               rtol=1e-5)


@pytest.mark.parametrize("shape", [(40, 72), (43, 75), (5, 9)])
def test_the_field_pass_gives_the_memory_means_block_means_gives(shape):
    # edge cells partial when the field is not a whole number of cells
    rng = np.random.default_rng(8)
    h, w = shape
    gy, gx = -(-h // CELL), -(-w // CELL)
    live = rng.uniform(0, 2, (h, w, 3)).astype(np.float32)
    memory = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    vitality = rng.uniform(0, 1, (gy, gx)).astype(np.float32)
    recolour = rng.uniform(0, 1, (gy, gx)).astype(np.float32)
    chroma = rng.uniform(0, 1, (gy, gx, 3)).astype(np.float32)
    taps = (kernels.axis_taps(w, gx), kernels.axis_taps(h, gy))
    means = np.zeros((gy, gx, 3), np.float32)
    kernels.update_light_and_memory(live, memory, vitality, recolour, chroma, *taps,
                                    np.zeros((gy, w, 5), np.float32),
                                    *(np.float32(s) for s in (0.8, 0.05, 0.4, 30.0, 0.2, 6.0)),
                                    means)
    expected = np.zeros_like(means)
    kernels.block_means(memory, expected, 0, gy)
    assert np.array_equal(means.view(np.int32), expected.view(np.int32))
    padded = np.zeros((gy * CELL, gx * CELL, 3))
    padded[:h, :w] = memory
    counts = np.zeros((gy * CELL, gx * CELL))
    counts[:h, :w] = 1
    plain = (padded.reshape(gy, CELL, gx, CELL, 3).sum(axis=(1, 3))
             / counts.reshape(gy, CELL, gx, CELL).sum(axis=(1, 3))[..., None])
    np.testing.assert_allclose(means, plain, rtol=1e-5)
    part = np.zeros_like(means)
    kernels.block_means(memory, part, 1, gy)  # some rows only: the others left alone
    assert not part[0].any() and np.array_equal(part[1:], expected[1:])
    with pytest.raises(ValueError, match="a row for every"):  # never a field half passed
        kernels.update_light_and_memory(live, memory, vitality, recolour, chroma, *taps,
                                        np.zeros((gy, w, 5), np.float32),
                                        *(np.float32(s) for s in (0.8, 0.05, 0.4, 30.0, 0.2,
                                                                  6.0)), means[:-1])
