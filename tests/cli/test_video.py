"""`mural video` through the CLI: the summary line, the error paths, Ctrl-C, the flash check."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mural.cli import main
from mural.show.palettes import assets_dir
from mural.show.wall import Wall
from mural.sinks.video import probe_video

FESTIVAL = str(assets_dir() / "sessions" / "festival.jsonl")
TINY = ["--size", "64x36", "--start", "5", "--fps", "10", "-q"]


def run(*args: str):
    return CliRunner().invoke(main, ["video", *args])


def test_export_prints_one_summary_line(tmp_path):
    out = tmp_path / "clip.mp4"
    result = run(FESTIVAL, "-o", str(out), *TINY, "--end", "6", "--seed", "2",
                 "--palette", "ember")
    assert result.exit_code == 0, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"wrote {out}: 10 frames, 64x36 @ 10 fps")
    assert "frames/s" in line and "x real time" in line
    info = probe_video(out)
    assert (info["frames"], info["width"], info["height"]) == (10, 64, 36)


def test_existing_output_is_a_clean_error_without_force(tmp_path):
    out = tmp_path / "clip.gif"
    assert run(FESTIVAL, "-o", str(out), *TINY, "--end", "5.3").exit_code == 0
    again = run(FESTIVAL, "-o", str(out), *TINY, "--end", "5.3")
    assert again.exit_code == 1
    assert "exists" in again.output and "Traceback" not in again.output
    forced = run(FESTIVAL, "-o", str(out), *TINY, "--end", "5.3", "--force")
    assert forced.exit_code == 0, forced.output


def test_frames_folder_and_time_syntax(tmp_path):
    out = tmp_path / "frames"
    result = run(FESTIVAL, "-o", f"{out}/", *TINY, "--start", "0:05", "--end", "0:05.5")
    assert result.exit_code == 0, result.output
    assert probe_video(out)["frames"] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["osc://127.0.0.1:9000"], "live source"),
        (["missing.jsonl"], "missing.jsonl"),
        ([FESTIVAL, "--start", "10", "--end", "9"], "nothing to export"),
        ([FESTIVAL, "--palette", "nope"], "unknown palette"),
    ],
)
def test_bad_input_is_one_clean_line(tmp_path, args, message):
    result = run(*args, "-o", str(tmp_path / "x.mp4"), "-q")
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.mp4").exists()


def test_unknown_suffix_and_bad_options(tmp_path):
    result = run(FESTIVAL, "-o", str(tmp_path / "x.avi"))
    assert result.exit_code == 1 and "unknown suffix" in result.output
    assert run(FESTIVAL, "-o", str(tmp_path / "x.mp4"), "--crf", "99").exit_code == 2
    assert run(FESTIVAL, "-o", str(tmp_path / "x.mp4"), "--size", "big").exit_code == 2


def test_ctrl_c_keeps_what_was_rendered_and_exits_130(tmp_path, monkeypatch):
    real_render = Wall.render
    calls = {"n": 0}

    def render_then_interrupt(self):
        if calls["n"] == 4:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real_render(self)

    monkeypatch.setattr(Wall, "render", render_then_interrupt)
    out = tmp_path / "cut.mp4"
    result = run(FESTIVAL, "-o", str(out), *TINY, "--end", "8")
    assert result.exit_code == 130
    assert f"interrupted: kept {out}: 4 frames" in result.output
    assert probe_video(out)["frames"] == 4


def test_ctrl_c_before_the_first_frame_says_nothing_was_written(tmp_path, monkeypatch):
    def interrupt(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Wall, "render", interrupt)
    out = tmp_path / "cut.mp4"
    result = run(FESTIVAL, "-o", str(out), *TINY, "--end", "8")
    assert result.exit_code == 130
    assert f"interrupted: nothing written to {out}: stopped before the first frame" \
        in result.output
    assert list(tmp_path.iterdir()) == []


def test_check_flashes_reports_and_passes(tmp_path):
    out = tmp_path / "calm.mp4"
    result = run(FESTIVAL, "-o", str(out), *TINY, "--end", "7", "--check-flashes")
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output


def test_check_flashes_failure_exits_1(tmp_path, monkeypatch):
    from mural.show import flashes as analyzer

    class Failing:
        passed = False

        def format(self) -> str:
            return "FAIL: 5 flashes in one second"

    monkeypatch.setattr(analyzer, "analyse_video", lambda path, fps=None: Failing())
    result = run(FESTIVAL, "-o", str(tmp_path / "x/"), *TINY, "--end", "5.2",
                 "--check-flashes")
    assert result.exit_code == 1
    assert "FAIL" in result.output


def test_the_limiter_state_is_recorded_and_switching_it_off_is_loud(tmp_path):
    from mural.sinks.png import read_png_metadata

    safe = run(FESTIVAL, "-o", f"{tmp_path}/safe/", *TINY, "--end", "5.1")
    assert safe.exit_code == 0, safe.output
    assert read_png_metadata(tmp_path / "safe" / "frame_000000.png")["mural:flash-limiter"] == "on"
    unsafe = run(FESTIVAL, "-o", f"{tmp_path}/unsafe/", *TINY, "--end", "5.1",
                 "--unsafe-disable-flash-limiter")
    assert unsafe.exit_code == 0, unsafe.output
    assert "WARNING" in unsafe.output
    meta = read_png_metadata(tmp_path / "unsafe" / "frame_000000.png")
    assert meta["mural:flash-limiter"] == "OFF"


def test_farm_flags_are_checked_before_anything_renders(tmp_path):
    both = run(FESTIVAL, "-o", str(tmp_path / "x.mp4"), *TINY, "--end", "6", "--workers", "2",
               "--scheduler", "tcp://127.0.0.1:1")
    assert both.exit_code == 2 and "not both" in both.output
    alone = run(FESTIVAL, "-o", str(tmp_path / "x.mp4"), *TINY, "--end", "6", "--resume")
    assert alone.exit_code == 2 and "--workers or --scheduler" in alone.output
    gif = run(FESTIVAL, "-o", str(tmp_path / "x.gif"), *TINY, "--end", "6", "--workers", "2")
    assert gif.exit_code == 1 and ".mp4 files and PNG frame folders" in gif.output
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "x.gif").exists()


def test_workers_without_dask_name_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were missing
    result = run(FESTIVAL, "-o", str(tmp_path / "x.mp4"), *TINY, "--end", "6", "--workers", "2")
    assert result.exit_code == 1
    assert "pip install 'lumina-mural[farm]'" in result.output and "Traceback" not in result.output


def test_a_farm_ctrl_c_says_how_to_resume(tmp_path, monkeypatch):
    from mural.show import farm
    from mural.show.video import ExportResult

    def interrupted(*args, **kwargs):
        kept = ExportResult(tmp_path / ".x.mp4.farm", "mp4", 10, (64, 36), 10, 5, 8, 0, 1, True)
        raise farm.FarmInterrupted(kept, "2 of 3 segments are kept; run it again with --resume")

    monkeypatch.setattr(farm, "farm_export", interrupted)
    result = run(FESTIVAL, "-o", str(tmp_path / "x.mp4"), *TINY, "--end", "8", "--workers", "2")
    assert result.exit_code == 130
    assert "interrupted: kept" in result.output and "--resume" in result.output
