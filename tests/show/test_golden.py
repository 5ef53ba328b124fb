"""Golden frames: small stored control frames that guard the look against accidental change.

Regenerate after an intended change of the look with `pytest tests/test_golden.py --regen-golden`
(and look at the new pictures before committing them). On a mismatch the test writes the new
frame and a difference image next to the golden one, under tests/golden/failures/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mural

GOLDEN = Path(__file__).parents[1] / "golden"
FESTIVAL = Path(__file__).parents[2] / "assets" / "sessions" / "festival.jsonl"
SIZE = (160, 90)
TOLERANCE = 3  # per channel, in 8-bit levels: the kernels use fastmath
MISMATCH = 0.005  # share of pixels allowed past the tolerance


def compare(name: str, frame: np.ndarray, regen: bool) -> None:
    path = GOLDEN / f"{name}.png"
    if regen or not path.exists():
        Image.fromarray(frame).save(path)
        if not regen:
            pytest.fail(f"{path} did not exist; written now - look at it, then commit it")
        return
    golden = np.asarray(Image.open(path).convert("RGB"))
    assert golden.shape == frame.shape, f"{name}: shape {frame.shape} != golden {golden.shape}"
    diff = np.abs(golden.astype(np.int16) - frame.astype(np.int16))
    bad = float(np.mean(diff.max(axis=-1) > TOLERANCE))
    if bad > MISMATCH:
        out = GOLDEN / "failures"
        out.mkdir(exist_ok=True)
        Image.fromarray(frame).save(out / f"{name}-new.png")
        scaled = np.clip(diff.astype(np.float32) * 16, 0, 255).astype(np.uint8)
        Image.fromarray(scaled).save(out / f"{name}-diff.png")
        pytest.fail(f"{name}: {bad:.2%} of pixels differ by more than {TOLERANCE} levels "
                    f"(max {int(diff.max())}); see {out}/{name}-new.png and -diff.png")


@pytest.fixture(scope="module")
def festival_frames() -> dict[str, np.ndarray]:
    wall = mural.mural(mural.open_stream(FESTIVAL), size=SIZE, seed=7)
    return {name: wall.frame_at(t) for name, t in
            (("festival-live", 40.0), ("blackout-shadows", 105.0), ("recovery", 118.0))}


@pytest.mark.parametrize("name", ["festival-live", "blackout-shadows", "recovery"])
def test_festival_moments_match_their_golden_frames(festival_frames, name, regen_golden):
    compare(name, festival_frames[name], regen_golden)


def test_permanent_mural_crop_matches_its_golden_frame(regen_golden):
    done = mural.render_exposure(mural.open_stream(FESTIVAL), None, start=85, end=125,
                                 size=(320, 180), seed=7)
    compare("exposure-crop", np.ascontiguousarray(done.image[45:135, 80:240]), regen_golden)
