"""PNG stills: provenance in text chunks, atomic writes, nothing left behind on failure."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mural.sinks.png import read_png_metadata, save_png


def frame(h: int = 12, w: int = 20) -> np.ndarray:
    rng = np.random.default_rng(h * w)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_a_still_round_trips_with_its_metadata(tmp_path):
    image = frame()
    out = save_png(tmp_path / "deep" / "s.png", image, {"mural:seed": 3, "Software": "x"})
    assert out == tmp_path / "deep" / "s.png"
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), image)
    assert read_png_metadata(out) == {"mural:seed": "3", "Software": "x"}
    assert sorted(p.name for p in out.parent.iterdir()) == ["s.png"]


def test_the_compression_level_changes_the_file_not_the_pixels(tmp_path):
    ramp = np.arange(128, dtype=np.uint8)
    image = np.stack([np.add.outer(ramp, ramp), np.subtract.outer(ramp, ramp),
                      np.multiply.outer(ramp, ramp)], axis=-1).astype(np.uint8)
    fast = save_png(tmp_path / "fast.png", image, compress_level=1)
    small = save_png(tmp_path / "small.png", image, compress_level=9)
    assert fast.stat().st_size > small.stat().st_size
    for path in (fast, small):
        assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), image)
    with pytest.raises(ValueError, match="compress_level"):
        save_png(tmp_path / "bad.png", image, compress_level=10)


def test_an_existing_file_is_replaced_whole(tmp_path):
    path = tmp_path / "s.png"
    save_png(path, frame(8, 8))
    save_png(path, frame(10, 6))
    assert Image.open(path).size == (6, 10)
    assert [p.name for p in tmp_path.iterdir()] == ["s.png"]


def test_a_failed_write_removes_its_temporary_file_and_raises(tmp_path, monkeypatch):
    path = tmp_path / "s.png"
    save_png(path, frame(8, 8))
    before = path.read_bytes()

    def disk_full(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"half a png")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_png(path, frame(10, 6))
    assert [p.name for p in tmp_path.iterdir()] == ["s.png"]  # no .partial under any name
    assert path.read_bytes() == before  # the old still is untouched


def test_a_failed_rename_removes_the_temporary_file(tmp_path, monkeypatch):
    from pathlib import Path

    def no_rename(self, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "replace", no_rename)
    with pytest.raises(PermissionError):
        save_png(tmp_path / "s.png", frame())
    assert list(tmp_path.iterdir()) == []


def test_only_rgb_bytes_are_written(tmp_path):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        save_png(tmp_path / "s.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        save_png(tmp_path / "s.png", np.zeros((4, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []
