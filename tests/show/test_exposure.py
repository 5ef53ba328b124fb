"""The permanent mural: bands that fit the budget, band-independent pixels, a poster in bounds."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PIL import Image

from mural.render.poster import LUMA, fold_max, shade_field
from mural.show.exposure import (
    BAND_BUDGET,
    KNEE,
    MOMENT_FLOOR,
    MOMENT_POWER,
    _BandBuffers,
    _Stepper,
    band_margin,
    palette_schedule,
    plan_bands,
    render_exposure,
    tiny_size,
)
from mural.show.palettes import load_palette
from mural.show.wall import Wall
from mural.sinks.png import read_png_metadata
from tests.helpers import blackout, crowd, signal


def night(seconds: float = 3.0):
    events = crowd(["joy", "awe", "calm"], people=4, end=seconds, every=0.25)
    return sorted([*events, blackout(seconds * 0.5), signal(seconds * 0.75, 1.0)],
                  key=lambda e: e.t)


def test_bands_cover_the_poster_within_the_budget():
    size = (7680, 4320)
    bands = plan_bands(size)
    assert bands[0][0] == 0 and bands[-1][1] == 4320
    assert all(a[1] == b[0] for a, b in zip(bands, bands[1:], strict=False))
    margin = band_margin(4320)
    for start, stop in bands:
        rows = stop - start + 2 * margin
        assert rows * 7680 * 3 * 4 * 2 <= BAND_BUDGET  # accumulator + blur scratch
    assert len(bands) > 1
    assert plan_bands((320, 180), band_rows=50) == [(0, 50), (50, 100), (100, 150), (150, 180)]


def test_the_tiny_simulation_moves_particles_exactly_like_the_poster_sized_one():
    assert tiny_size((7680, 4320)) == (32, 18)
    assert 7680 / 4320 == 32 / 18
    events = night(2.0)
    big, tiny = _Stepper(events, (320, 180), 5, None), _Stepper(events, tiny_size((320, 180)), 5,
                                                                None)
    for _ in range(40):
        big.step()
        tiny.step()
    assert big.engine.live_particles > 100
    assert np.array_equal(big.engine.pos, tiny.engine.pos)
    assert np.array_equal(big.engine.colour, tiny.engine.colour)


def test_bands_do_not_change_a_single_pixel():
    events = night()
    whole = render_exposure(events, None, size=(320, 180), seed=2)
    banded = render_exposure(events, None, size=(320, 180), seed=2, band_rows=37)
    assert whole.bands == 1 and banded.bands == 5
    assert np.array_equal(whole.image, banded.image)


def test_the_exposure_holds_the_light_that_passed():
    events = night()
    poster = render_exposure(events, None, size=(320, 180), seed=2).image.astype(float)
    water = render_exposure(events, None, start=0.0, end=0.05, size=(320, 180), seed=2).image
    assert poster.mean() > water.mean() + 4  # light left its trace ...
    assert (poster.max(axis=2) - water.max(axis=2) > 60).mean() > 0.02  # ... in bright paths


def test_blackout_shadows_are_cool_and_kept_beside_brighter_moments():
    h, w = 16, 32
    live = np.zeros((h, w, 3), np.float32)
    live[:, :16] = (0.2, 0.8, 0.3)  # green light on the left
    memory = np.zeros_like(live)
    vitality = np.zeros((2, 4), np.float32)  # the wall is dark: a blackout
    taps = (*_axis(w, 4), *_axis(h, 2))
    shadow = (load_palette("abyss").colour("shadow_tint") * 0.2).astype(np.float32)
    dark = np.zeros_like(live)
    one, half, knee = np.float32(1.0), np.float32(0.5), np.float32(KNEE)
    shade_field(live, one, memory, half, vitality, taps, shadow, knee, dark)
    r, g, b = dark[4, 4]
    assert b > g > r > 0  # the shadow keeps the light's form in cool blue
    lit = np.zeros_like(live)
    shade_field(live, one, memory, half, np.ones_like(vitality), taps, shadow, knee, lit)
    assert lit[4, 4, 1] > lit[4, 4, 2]
    # A bright moment on the right, the dim blackout on the left: weighted by how dim each
    # moment was, both stay in the exposure at comparable strength.
    bright = np.zeros_like(live)
    bright[:, 16:] = 4 * lit[:, :16]
    peak = np.zeros_like(live)
    for sample in (bright, dark):
        moment = float(sample.reshape(-1, 3).mean(axis=0) @ LUMA)
        fold_max(sample, np.float32(1 / max(moment, MOMENT_FLOOR) ** MOMENT_POWER),
                 np.ones(3, np.float32), peak)
    left, right = peak[4, 4] @ LUMA, peak[4, 20] @ LUMA
    assert left > 0.2 * right


def _axis(n: int, cells: int):
    from mural.engine.kernels import axis_taps

    return axis_taps(n, cells)


def test_palette_schedule_follows_the_crossfade():
    at = palette_schedule("abyss", [(2.0, "ember", 2.0)]).palette_at
    abyss, ember = load_palette("abyss"), load_palette("ember")
    assert at(1.0) == abyss and at(5.0) == ember
    assert at(3.0) == abyss.mix(ember, 0.5)


def test_the_poster_grades_over_time_exactly_as_the_wall_does():
    cues = [(1.0, "ember", 2.0), (2.0, "abyss", 1.0), (4.0, "ember", 0.0)]
    poster = palette_schedule("abyss", cues)
    wall = Wall(size=(96, 54), palette="abyss")
    for cue_time, palette, fade in cues:
        wall.advance_to(cue_time)
        wall.set_palette(palette, fade)
    for t in (0.5, 1.0, 1.5, 2.0, 2.5, 3.5, 4.0, 4.5):
        wall.advance_to(t)
        wall.render()
        assert wall.palette == poster.palette_at(t), t


def test_the_stepper_and_the_wall_feed_the_engine_alike():
    events = night(2.0)
    stepper, wall = _Stepper(events, (96, 54), 5, None), Wall(events, size=(96, 54), seed=5)
    for _ in range(45):
        stepper.step()
    wall.advance_to(1.5)
    assert stepper.engine.step_index == wall.engine.step_index == 45
    assert stepper.engine.events_applied == wall.engine.events_applied > 0
    assert np.array_equal(stepper.engine.pos, wall.engine.pos)
    assert np.array_equal(stepper.engine.live, wall.engine.live)


def test_a_failed_write_leaves_no_poster_and_no_temporary_file(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    def disk_full(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"half a png")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PILImage.Image, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        render_exposure(night(1.0), tmp_path / "p.png", size=(96, 54))
    assert list(tmp_path.iterdir()) == []


def test_a_poster_at_7680x4320_stays_within_bounded_memory(tmp_path):
    out = tmp_path / "poster.png"
    events = night(1.0)
    tracemalloc.start()
    try:
        result = render_exposure(events, out, size=(7680, 4320), seed=1, end=0.6,
                                 metadata={"mural:source": "test"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 400 * 2**20, f"peak {peak / 2**20:.0f} MB"  # image 100 MB + bands 128 MB
    assert result.bands >= 3
    assert Image.open(out).size == (7680, 4320)
    meta = read_png_metadata(out)
    assert meta["mural:exposure"] == "0..0.6" and meta["mural:size"] == "7680x4320"
    assert meta["mural:source"] == "test" and meta["mural:seed"] == "1"


def test_an_existing_poster_is_not_overwritten(tmp_path):
    out = tmp_path / "p.png"
    out.write_bytes(b"x")
    with pytest.raises(FileExistsError):
        render_exposure(night(1.0), out, size=(96, 54))


def test_band_buffers_reach_past_their_rows():
    buffers = _BandBuffers(64, 100)
    band = buffers.open((40, 60))
    assert band.row0 == 40 - buffers.margin and band.acc.shape[0] == 20 + 2 * buffers.margin
    assert buffers.open((0, 10)).row0 == 0


def test_mural_still_exposure(tmp_path):
    from click.testing import CliRunner

    from mural.cli import main

    out = tmp_path / "e.png"
    args = ["still", "sim:calm?duration=4", "--exposure", "1..3", "-o", str(out), "--size",
            "160x90", "--seed", "3"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (160, 90)
    assert read_png_metadata(out)["mural:exposure"] == "1..3"
    result = CliRunner().invoke(main, ["still", "sim:calm?duration=4", "-o", str(out)])
    assert result.exit_code == 2 and "--at" in result.output
    result = CliRunner().invoke(main, [*args[:2], "--exposure", "5..1", "-o", str(out)])
    assert result.exit_code == 2 and "end after" in result.output
