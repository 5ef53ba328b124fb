"""`mural play` through the CLI on SDL's dummy display: short sessions and the error paths."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # a window without a screen, before pygame loads

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from mural.cli import main  # noqa: E402
from mural.show.palettes import assets_dir  # noqa: E402

FESTIVAL = str(assets_dir() / "sessions" / "festival.jsonl")


@pytest.fixture(autouse=True)
def in_a_fresh_folder(tmp_path, monkeypatch):
    """`mural play` autosaves to ./mural-state.npz: each test plays in its own folder."""
    monkeypatch.chdir(tmp_path)


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, ["play", *args], input=input)


def test_a_short_session_prints_a_summary():
    result = run(FESTIVAL, "--size", "160x90", "--duration", "1", "--hud", "--speed", "4")
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("played ") and " fps" in line
    frames = int(line.split()[1])
    assert frames >= 3
    assert f"{2313} accepted (0 manual), 0 rejected (invalid), 0 malformed" in line


def test_several_sources_merge(tmp_path):
    result = run(FESTIVAL, "sim:calm?participants=3&duration=5", "--size", "160x90",
                 "--duration", "0.5", "--fullscreen")
    assert result.exit_code == 0, result.output
    assert "played " in result.output


def test_stdin_is_a_live_source():
    lines = ('{"participant": "a", "emotion": "joy"}\nnot json\n'
             '{"participant": "b", "emotion": "glee"}\n')
    result = run("-", "--size", "160x90", "--duration", "0.5", input=lines)
    assert result.exit_code == 0, result.output
    assert "1 accepted (0 manual), 1 rejected (invalid), 1 malformed" in result.output


def test_help_lists_the_hotkeys():
    result = run("--help")
    assert result.exit_code == 0
    for key in ("Space", "Esc / Q", "1 joy", "9 anger", "toggle fullscreen"):
        assert key in result.output


def test_no_display_is_a_clear_error(monkeypatch):
    from mural.sinks import display

    monkeypatch.setattr(display, "display_problem", lambda: "no display found (test)")
    result = run(FESTIVAL, "--duration", "1")
    assert result.exit_code == 1
    assert "no display found" in result.output
    assert "mural video" in result.output and "mural still" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "missing.jsonl"),
        (["sim:nope"], "nope"),
        ([FESTIVAL, "--palette", "nope"], "unknown palette"),
        ([FESTIVAL, "--display", "7"], "no display 7"),
    ],
)
def test_bad_input_is_one_clean_line(args, message):
    result = run(*args, "--size", "160x90", "--duration", "0.2")
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def test_options_are_validated():
    assert run(FESTIVAL, "--speed", "0").exit_code == 2
    assert run(FESTIVAL, "--fps", "0").exit_code == 2
    assert run().exit_code == 2  # SOURCE is required


def test_switching_the_limiter_off_is_loud():
    result = run(FESTIVAL, "--size", "160x90", "--duration", "0.3",
                 "--unsafe-disable-flash-limiter")
    assert result.exit_code == 0, result.output
    assert "flash limiter is OFF" in result.output


def test_play_record_refuses_to_overwrite_without_force(tmp_path):
    from click.testing import CliRunner

    from mural.cli import main

    existing = tmp_path / "rec.jsonl"
    existing.write_text("")
    result = CliRunner().invoke(main, ["play", "sim:calm?duration=5", "--record", str(existing),
                                       "--duration", "1", "--size", "96x54", "--no-autosave"])
    assert result.exit_code != 0 and "already exists" in result.output
