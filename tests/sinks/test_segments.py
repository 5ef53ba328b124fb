"""MPEG-TS segments joined by stream copy: the frames and timestamps of one MP4."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mural.sinks.segments import TsSegmentWriter, concat_mp4, packet_times, presentation_times
from mural.sinks.video import gop_frames, h264_filters, probe_video


def _frames(n: int, first: int, size: tuple[int, int]) -> list[np.ndarray]:
    w, h = size
    ramp = np.linspace(0, 255, w, dtype=np.float32)
    return [np.broadcast_to(((ramp + 9 * (first + k)) % 256).astype(np.uint8)[None, :, None],
                            (h, w, 3)).copy() for k in range(n)]


@pytest.mark.parametrize("background", [True, False])
def test_segments_join_into_one_mp4_with_every_frame_in_order(tmp_path, background):
    size, fps = (65, 37), Fraction(30)  # odd sides: cropped like the serial writer's
    gop = gop_frames(fps)
    names = []
    for index, first in enumerate((0, gop, 2 * gop)):
        path = tmp_path / f"seg{index}.ts"
        with TsSegmentWriter(path, size, fps, crf=20, preset="ultrafast",
                             background=background) as writer:
            for frame in _frames(gop, first, size):
                writer.write(frame)
        assert writer.output_size == h264_filters(size)[0] == (64, 36)
        names.append(path.name)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"file '{n}'\n" for n in names), encoding="utf-8")
    out = tmp_path / "joined.mp4"
    concat_mp4(listing, out, {"lumina:seed": "7"})
    dts = packet_times(out)
    assert len(dts) == 3 * gop
    assert all(b > a for a, b in zip(dts, dts[1:], strict=False))
    assert sorted(presentation_times(out)) == sorted(set(presentation_times(out)))
    info = probe_video(out)
    assert (info["width"], info["height"]) == (64, 36)


def test_a_join_that_fails_says_what_ffmpeg_said(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("file 'missing.ts'\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"missing\.ts"):
        concat_mp4(listing, tmp_path / "out.mp4", {})


def test_a_frame_of_the_wrong_shape_is_refused(tmp_path):
    with TsSegmentWriter(tmp_path / "s.ts", (32, 18), Fraction(30), 20, "ultrafast") as w:
        with pytest.raises(ValueError, match="expected"):
            w.write(np.zeros((18, 33, 3), np.uint8))
        w.write(np.zeros((18, 32, 3), np.uint8))
