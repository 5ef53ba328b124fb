"""Video sink: real encodes with the shipped ffmpeg, checked by decoding them again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from mural.sinks import video
from mural.sinks.png import read_png_metadata
from mural.sinks.video import VideoWriter, output_kind, probe_video

W, H = 64, 48
REPO = Path(__file__).resolve().parents[2]


def make_frames(count: int, width: int = W, height: int = H, seed: int = 0) -> list[np.ndarray]:
    """Smooth moving gradients with a little noise: close to what the renderer emits."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for i in range(count):
        r = 128 + 100 * np.sin(x / 9 + i / 5)
        g = 128 + 100 * np.cos(y / 7 - i / 4)
        b = 128 + 100 * np.sin((x + y) / 11 + i / 3)
        noisy = np.stack([r, g, b], -1) + rng.normal(0, 2, (height, width, 3))
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def export(path: Path, count: int, *, size=(W, H), fps=30, **kwargs) -> VideoWriter:
    with VideoWriter(path, size, fps, **kwargs) as writer:
        for frame in make_frames(count, *size):
            writer.write(frame)
    return writer


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.partial"))


def decode_first_frame(path: Path, width: int, height: int) -> np.ndarray:
    reader = imageio_ffmpeg.read_frames(str(path))
    next(reader)  # metadata
    frame = np.frombuffer(next(reader), np.uint8).reshape(height, width, 3)
    reader.close()
    return frame


# -- output_kind ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("out.mp4", "mp4"),
        ("OUT.MP4", "mp4"),
        ("a/b/out.webm", "webm"),
        ("loop.gif", "gif"),
        ("frames/", "frames"),
        ("frames", "frames"),
        ("renders.v2/", "frames"),
    ],
)
def test_output_kind(path: str, kind: str) -> None:
    assert output_kind(path) == kind


def test_output_kind_existing_directory_with_a_dot_is_a_frames_folder(tmp_path: Path) -> None:
    folder = tmp_path / "take.v2"
    folder.mkdir()
    assert output_kind(folder) == "frames"


def test_output_kind_rejects_unknown_suffix() -> None:
    with pytest.raises(ValueError, match=r"'\.avi'.*\.mp4, \.webm, \.gif"):
        output_kind("clip.avi")


# -- the four formats -------------------------------------------------------------------


def test_mp4_is_h264_yuv420p_with_exact_frames_fps_and_size(tmp_path: Path) -> None:
    target = tmp_path / "mural.mp4"
    writer = export(target, 24, fps=24)
    assert writer.frames_written == 24
    info = probe_video(target)
    assert info["frames"] == 24
    assert info["fps"] == pytest.approx(24)
    assert (info["width"], info["height"]) == (W, H)
    assert info["codec"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert info["duration"] == pytest.approx(1.0, abs=0.05)
    assert leftovers(tmp_path) == []


def test_mp4_keeps_ntsc_rational_fps(tmp_path: Path) -> None:
    target = tmp_path / "ntsc.mp4"
    export(target, 10, fps=Fraction(30000, 1001))
    assert probe_video(target)["fps"] == pytest.approx(29.97, abs=0.01)


PATCH_COLOURS = [(20, 200, 255), (230, 40, 190), (10, 30, 120), (250, 180, 60)]


def colour_patches() -> np.ndarray:
    """Four flat saturated quadrants: a colour-matrix mix-up shifts these by 10+ levels."""
    frame = np.empty((H, W, 3), np.uint8)
    for index, colour in enumerate(PATCH_COLOURS):
        row, col = divmod(index, 2)
        frame[row * H // 2 : (row + 1) * H // 2, col * W // 2 : (col + 1) * W // 2] = colour
    return frame


@pytest.mark.parametrize("name", ["colour.mp4", "colour.webm"])
def test_colours_survive_the_round_trip(tmp_path: Path, name: str) -> None:
    """BT.709 matrix and tags agree, so a decoder gets back the colours we sent."""
    target = tmp_path / name
    with VideoWriter(target, (W, H), 30, crf=10) as writer:
        for _ in range(3):
            writer.write(colour_patches())
    decoded = decode_first_frame(target, W, H).astype(int)
    for index, colour in enumerate(PATCH_COLOURS):
        row, col = divmod(index, 2)
        centre = decoded[
            row * H // 2 + 8 : (row + 1) * H // 2 - 8, col * W // 2 + 8 : (col + 1) * W // 2 - 8
        ]
        assert np.abs(centre.mean(axis=(0, 1)) - colour).max() < 4, (
            colour,
            centre.mean(axis=(0, 1)),
        )


def test_webm_is_vp9(tmp_path: Path) -> None:
    target = tmp_path / "mural.webm"
    export(target, 15, fps=15)
    info = probe_video(target)
    assert info["codec"] in {"vp9", "vp8"}
    assert info["frames"] == 15
    assert info["fps"] == pytest.approx(15)
    assert (info["width"], info["height"]) == (W, H)
    assert leftovers(tmp_path) == []


def test_gif_frame_count_loop_and_exact_delays(tmp_path: Path) -> None:
    target = tmp_path / "loop.gif"
    export(target, 12, fps=25)
    info = probe_video(target)
    assert info["frames"] == 12
    assert info["durations_ms"] == [40] * 12
    assert info["loop"] == 0
    assert (info["width"], info["height"]) == (W, H)
    assert info["codec"] == "gif"


def test_gif_delays_carry_rounding_so_the_length_is_right(tmp_path: Path) -> None:
    target = tmp_path / "thirty.gif"
    export(target, 30, fps=30)
    info = probe_video(target)
    assert set(info["durations_ms"]) <= {30, 40}
    assert sum(info["durations_ms"]) == 1000


def test_gif_flat_frames_and_fast_fps(tmp_path: Path) -> None:
    """A one-colour frame has a tiny palette; above 50 fps delays clamp to 2 cs."""
    target = tmp_path / "flat.gif"
    with VideoWriter(target, (W, H), 60) as writer:
        for value in (0, 255, 90):
            writer.write(np.full((H, W, 3), value, np.uint8))
    info = probe_video(target)
    assert info["durations_ms"] == [20, 20, 20]
    with Image.open(target) as image:
        for index, value in enumerate((0, 255, 90)):
            image.seek(index)
            assert (np.asarray(image.convert("RGB")) == value).all()


def block_means(frame: np.ndarray, block: int = 8) -> np.ndarray:
    height, width = frame.shape[0] // block, frame.shape[1] // block
    blocks = frame[: height * block, : width * block].astype(float)
    return blocks.reshape(height, block, width, block, 3).mean(axis=(1, 3))


def test_gif_colours_match_the_source_on_average(tmp_path: Path) -> None:
    """Dithering trades per-pixel error for exact local averages: compare 8x8 blocks."""
    target = tmp_path / "colour.gif"
    frames = make_frames(3)
    with VideoWriter(target, (W, H), 10) as writer:
        for frame in frames:
            writer.write(frame)
    with Image.open(target) as image:
        for index, frame in enumerate(frames):
            image.seek(index)
            decoded = np.asarray(image.convert("RGB"))
            error = np.abs(block_means(decoded) - block_means(frame))
            assert error.mean() < 2.5, error.mean()
            assert error.max() < 12, error.max()


def test_frames_folder_names_count_and_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    export(folder, 5, metadata={"seed": 7})
    info = probe_video(folder)
    assert info["names"] == [f"frame_{i:06d}.png" for i in range(5)]
    assert (info["frames"], info["width"], info["height"]) == (5, W, H)
    meta = read_png_metadata(folder / "frame_000003.png")
    assert meta["seed"] == "7"
    assert meta["frame"] == "3"


def test_caller_may_reuse_its_frame_buffer(tmp_path: Path) -> None:
    folder = tmp_path / "reuse/"
    buffer = np.zeros((H, W, 3), np.uint8)
    with VideoWriter(folder, (W, H), 30) as writer:
        for value in (10, 20, 30):
            buffer[:] = value
            writer.write(buffer)
    for index, value in enumerate((10, 20, 30)):
        with Image.open(folder / f"frame_{index:06d}.png") as image:
            assert np.asarray(image)[0, 0, 0] == value


def test_mp4_metadata_is_written(tmp_path: Path) -> None:
    target = tmp_path / "tagged.mp4"
    export(target, 3, metadata={"mural_seed": "1234"})
    header = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(target)],
        capture_output=True,
        text=True,
    ).stderr
    assert "mural_seed" in header and "1234" in header


# -- sizes and shapes ---------------------------------------------------------------------


def test_odd_size_mp4_is_cropped_to_even(tmp_path: Path) -> None:
    target = tmp_path / "odd.mp4"
    writer = export(target, 6, size=(63, 47))
    assert writer.output_size == (62, 46)
    info = probe_video(target)
    assert (info["width"], info["height"], info["frames"]) == (62, 46, 6)
    assert info["pix_fmt"] == "yuv420p"


@pytest.mark.parametrize("name", ["odd.webm", "odd.gif", "odd/"])
def test_odd_size_kept_where_the_format_allows(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    writer = export(target, 4, size=(63, 47))
    assert writer.output_size == (63, 47)
    info = probe_video(target)
    assert (info["width"], info["height"], info["frames"]) == (63, 47, 4)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((H, W, 4), np.uint8),
        np.zeros((W, H, 3), np.uint8),
        np.zeros((H, W, 3), np.float32),
        np.zeros((H, W), np.uint8),
    ],
    ids=["rgba", "transposed", "float", "grey"],
)
def test_wrong_frame_shape_is_rejected_and_the_writer_survives(tmp_path: Path, bad) -> None:
    target = tmp_path / "shape.mp4"
    with VideoWriter(target, (W, H), 30) as writer:
        writer.write(make_frames(1)[0])
        with pytest.raises(ValueError, match="64x48"):
            writer.write(bad)
        writer.write(make_frames(1)[0])
    assert probe_video(target)["frames"] == 2


def test_write_after_close_is_an_error(tmp_path: Path) -> None:
    writer = export(tmp_path / "closed.gif", 2)
    with pytest.raises(ValueError, match="closed"):
        writer.write(make_frames(1)[0])
    writer.close()  # closing twice is harmless


def test_no_frames_leaves_no_file(tmp_path: Path) -> None:
    for name in ("empty.mp4", "empty.webm", "empty.gif"):
        with VideoWriter(tmp_path / name, (W, H), 30):
            pass
        assert not (tmp_path / name).exists()
    assert leftovers(tmp_path) == []


# -- overwrite protection ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clip.mp4", "clip.webm", "clip.gif"])
def test_existing_file_needs_force(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="force"):
        VideoWriter(target, (W, H), 30)
    assert target.read_bytes() == b"precious"
    export(target, 3, force=True)
    assert probe_video(target)["frames"] == 3
    assert leftovers(tmp_path) == []


def test_frames_folder_counts_as_existing_only_when_not_empty(tmp_path: Path) -> None:
    folder = tmp_path / "seq"
    folder.mkdir()
    export(folder, 4)  # an empty folder is fine
    with pytest.raises(FileExistsError, match="not empty"):
        VideoWriter(folder, (W, H), 30)
    (folder / "notes.txt").write_text("keep me")
    export(folder, 2, force=True)
    assert probe_video(folder)["frames"] == 2  # stale frame_000002/3 are gone
    assert (folder / "notes.txt").read_text() == "keep me"


def test_output_is_created_with_normal_permissions(tmp_path: Path) -> None:
    target = tmp_path / "perm.mp4"
    export(target, 2)
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


# -- interruption and failure ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["cut.mp4", "cut.webm", "cut.gif", "cut/"])
def test_ctrl_c_inside_the_with_block_leaves_a_playable_file(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    frames = make_frames(12)
    with pytest.raises(KeyboardInterrupt), VideoWriter(target, (W, H), 30) as writer:
        for frame in frames:
            writer.write(frame)
        raise KeyboardInterrupt
    assert writer.frames_written == 12
    assert probe_video(target)["frames"] == 12
    assert leftovers(tmp_path) == []


def test_a_render_error_also_keeps_what_was_rendered(tmp_path: Path) -> None:
    target = tmp_path / "crash.mp4"
    with pytest.raises(ZeroDivisionError), VideoWriter(target, (W, H), 30) as writer:
        for frame in make_frames(5):
            writer.write(frame)
        1 / 0  # noqa: B018
    assert probe_video(target)["frames"] == 5


def test_truncated_mp4_still_decodes_because_it_is_fragmented(tmp_path: Path) -> None:
    """What a hard kill (SIGKILL, power cut) would leave: complete fragments still play."""
    target = tmp_path / "full.mp4"
    export(target, 60, fps=10)  # a keyframe and fragment every 20 frames
    data = target.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    frames = probe_video(cut)["frames"]
    assert 20 <= frames < 60


@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX signals")
def test_real_sigint_to_the_process_group_leaves_a_playable_mp4(tmp_path: Path) -> None:
    """As a terminal does it: SIGINT to the whole foreground group, ffmpeg included."""
    target = tmp_path / "sigint.mp4"
    script = textwrap.dedent(
        f"""
        import signal, sys, numpy as np
        # as a terminal starts it: Ctrl-C is a KeyboardInterrupt even when the tests run in
        # the background (a shell's `&` starts jobs with SIGINT ignored)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from mural.sinks.video import VideoWriter
        frame = np.full(({H}, {W}, 3), 90, np.uint8)
        writer = VideoWriter({str(target)!r}, ({W}, {H}), 30)
        try:
            with writer:
                for i in range(100000):
                    frame[:, :, 0] = i % 256
                    writer.write(frame)
                    print(writer.frames_written, flush=True)
        except KeyboardInterrupt:
            print("final", writer.frames_written, flush=True)
            sys.exit(130)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,  # its own group, so we can signal it like a terminal
    )
    assert child.stdout is not None
    for line in child.stdout:
        if int(line) >= 40:
            break
    os.killpg(child.pid, signal.SIGINT)
    rest = child.stdout.read()
    assert child.wait(timeout=60) == 130
    final = int(rest.split("final")[1])
    assert final >= 40
    info = probe_video(target)
    assert abs(info["frames"] - final) <= 1  # a frame queued as the signal landed
    assert info["codec"] == "h264"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(sys.platform.startswith("win"), reason="shell script as ffmpeg")
def test_ffmpeg_failure_reports_its_stderr_and_leaves_nothing(monkeypatch, tmp_path: Path) -> None:
    fake = tmp_path / "fake-ffmpeg"
    fake.write_text("#!/bin/sh\necho 'boom: the encoder exploded' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(fake))  # honoured by get_ffmpeg_exe
    target = tmp_path / "out" / "broken.mp4"
    frame = make_frames(1)[0]
    expected = r"(?s)ffmpeg .*exit code 3.*ffmpeg said:\nboom: the encoder exploded"
    with pytest.raises(RuntimeError, match=expected):  # noqa: SIM117 - raises wraps close too
        with VideoWriter(target, (W, H), 30) as writer:
            for _ in range(200):
                writer.write(frame)
                time.sleep(0.001)
    assert not target.exists()
    assert leftovers(target.parent) == []


def test_bad_settings_fail_before_anything_is_created(tmp_path: Path) -> None:
    target = tmp_path / "x.mp4"
    with pytest.raises(ValueError, match="preset"):
        VideoWriter(target, (W, H), 30, preset="warp-speed")
    with pytest.raises(ValueError, match="crf"):
        VideoWriter(target, (W, H), 30, crf=60)
    with pytest.raises(ValueError, match="fps"):
        VideoWriter(target, (W, H), 0)
    assert list(tmp_path.iterdir()) == []


def test_second_ctrl_c_while_flushing_still_publishes_complete_fragments(
    tmp_path: Path,
) -> None:
    """Ctrl-C during close kills ffmpeg; fragmented MP4 keeps the finished fragments."""
    target = tmp_path / "impatient.mp4"
    writer = VideoWriter(target, (W, H), 10)  # keyframe / fragment every 20 frames
    for frame in make_frames(60):
        writer.write(frame)
    partial = next(tmp_path.glob(".*.partial"))
    deadline = time.monotonic() + 20
    while partial.read_bytes().count(b"moof") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # wait until two fragments are on disk

    def impatient_user() -> None:
        raise KeyboardInterrupt

    writer._backend.finish = impatient_user  # the second Ctrl-C lands while flushing
    with pytest.raises(KeyboardInterrupt):
        writer.close()
    assert writer._backend.proc.returncode not in (None, 0)  # ffmpeg was killed
    assert 40 <= probe_video(target)["frames"] < 60
    assert leftovers(tmp_path) == []


def test_worker_errors_surface_on_write_once(monkeypatch, tmp_path: Path) -> None:
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(video, "save_png", disk_full)
    writer = VideoWriter(tmp_path / "full/", (W, H), 30)
    frame = make_frames(1)[0]
    with pytest.raises(OSError, match="No space"):
        for _ in range(50):
            writer.write(frame)
    with pytest.raises(RuntimeError, match="already failed"):
        writer.write(frame)
    writer.close()  # the error was already reported: close just cleans up


def test_encoding_overlaps_rendering(monkeypatch, tmp_path: Path) -> None:
    """write() returns while the encoder is busy, until the bounded queue is full."""
    release = threading.Event()
    real_save = video.save_png

    def slow_save(*args, **kwargs):
        release.wait(10)
        return real_save(*args, **kwargs)

    monkeypatch.setattr(video, "save_png", slow_save)
    frame = make_frames(1)[0]
    with VideoWriter(tmp_path / "overlap/", (W, H), 30) as writer:
        start = time.monotonic()
        for _ in range(video.QUEUE_FRAMES):  # the worker holds one more, so none block
            writer.write(frame)
        assert time.monotonic() - start < 2
        assert writer._queue.full() or writer._queue.qsize() >= video.QUEUE_FRAMES - 1
        blocked = threading.Thread(target=lambda: [writer.write(frame) for _ in range(2)])
        blocked.start()
        blocked.join(0.3)
        assert blocked.is_alive()  # bounded: the renderer waits for the encoder
        release.set()
        blocked.join(10)
    assert probe_video(tmp_path / "overlap")["frames"] == video.QUEUE_FRAMES + 2


def test_probe_rejects_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe_video(tmp_path / "nothing.mp4")


def test_a_wedged_encoder_is_stopped_and_what_it_wrote_is_kept(monkeypatch, tmp_path: Path) -> None:
    """An encoder that takes no frame while the writer finishes is stopped after
    STALL_SECONDS (here a clock that runs 5 s a look) instead of holding the export (or a
    SIGTERM) forever; the fragments already on disk are published under the real name."""
    real_encode, real_interrupt = video._FfmpegBackend.encode, video._FfmpegBackend.interrupt
    taken, wedged, released = [0], threading.Event(), threading.Event()

    def encode(self, frame):
        if taken[0] == 40:  # the encoder stops taking frames
            wedged.set()
            released.wait(30)
            return
        taken[0] += 1
        real_encode(self, frame)

    def interrupt(self):
        real_interrupt(self)
        released.set()

    monkeypatch.setattr(video._FfmpegBackend, "encode", encode)
    monkeypatch.setattr(video._FfmpegBackend, "interrupt", interrupt)
    ticks = iter(range(0, 10_000, 5))
    target = tmp_path / "wedged.mp4"
    writer = VideoWriter(target, (W, H), 10, clock=lambda: float(next(ticks)))
    for frame in make_frames(45):  # 40 encoded, one held by the wedged encoder, 4 queued
        writer.write(frame)
    assert wedged.wait(20)
    partial = next(tmp_path.glob(".*.partial"))
    deadline = time.monotonic() + 20
    while partial.read_bytes().count(b"moof") < 1 and time.monotonic() < deadline:
        time.sleep(0.02)  # the first fragment (frames 0-19) is on disk
    with pytest.raises(video.EncoderStalled, match=r"wedged\.mp4.*took no frame for 20 s"):
        writer.close()
    assert writer._backend.proc.returncode not in (None, 0)  # ffmpeg was stopped
    assert 20 <= probe_video(target)["frames"] <= 40
    assert leftovers(tmp_path) == []
