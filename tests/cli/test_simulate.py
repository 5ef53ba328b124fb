"""`mural simulate`: writes scenarios to stream files, with clean errors."""

from __future__ import annotations

from click.testing import CliRunner

from mural.cli import main
from mural.events import read_stream
from mural.sources.simulate import simulate


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_writes_jsonl_that_matches_the_simulator(tmp_path):
    out = tmp_path / "fest.jsonl"
    result = run("simulate", "festival", "-o", str(out), "--participants", "4",
                 "--duration", "60", "--seed", "7")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 1
    assert "fest.jsonl" in result.stdout and "4 participants" in result.stdout
    stream = read_stream(out, strict=True)
    expected = simulate("festival", participants=4, duration=60, seed=7)
    assert stream.events == expected.events
    assert stream.header == expected.header


def test_writes_csv(tmp_path):
    out = tmp_path / "calm.csv"
    assert run("simulate", "calm", "-o", str(out), "--duration", "5").exit_code == 0
    assert read_stream(out, strict=True).events == simulate("calm", duration=5).events


def test_unknown_scenario_lists_the_names(tmp_path):
    result = run("simulate", "rave", "-o", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 1
    assert "unknown scenario 'rave'" in result.output
    assert "festival, calm, joy, grief, blackout" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_bad_output_and_arguments(tmp_path):
    result = run("simulate", "calm", "-o", str(tmp_path / "x.txt"))
    assert result.exit_code == 1 and "unknown stream format" in result.output
    result = run("simulate", "calm", "-o", str(tmp_path / "no" / "x.jsonl"))
    assert result.exit_code == 1 and "cannot write" in result.output
    result = run("simulate", "calm", "-o", str(tmp_path / "x.jsonl"), "--participants", "0")
    assert result.exit_code == 1 and "participants" in result.output
    result = run("simulate", "calm")
    assert result.exit_code == 2 and "-o" in result.output


def test_help_lists_scenarios():
    result = run("simulate", "--help")
    assert result.exit_code == 0
    for name in ("festival", "calm", "joy", "grief", "blackout"):
        assert name in result.output


def test_an_existing_recording_is_never_overwritten_without_force(tmp_path):
    from mural.cli import main

    out = tmp_path / "keep.jsonl"
    out.write_text('{"t": 0, "participant": "a", "emotion": "joy"}\n')
    before = out.read_bytes()
    runner = CliRunner()
    refused = runner.invoke(main, ["simulate", "calm", "-o", str(out), "--duration", "5"])
    assert refused.exit_code == 1 and "--force" in refused.output
    assert out.read_bytes() == before
    forced = runner.invoke(main, ["simulate", "calm", "-o", str(out), "--duration", "5",
                                  "--force"])
    assert forced.exit_code == 0 and out.read_bytes() != before


def test_a_failing_write_leaves_no_file_under_the_real_name(tmp_path, monkeypatch):
    import errno

    import mural.sinks.files as files
    from mural.cli import main

    def full_disk(path, events, header=None):
        with open(path, "w") as handle:
            handle.write("{partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(files, "write_stream", full_disk)
    out = tmp_path / "full.jsonl"
    result = CliRunner().invoke(main, ["simulate", "calm", "-o", str(out), "--duration", "5"])
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # neither the real name nor a temporary file
