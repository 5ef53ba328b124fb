"""`mural validate`: every problem of a session, stream, participants or palette file, by line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mural.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_good_session_is_ok(tmp_path):
    (tmp_path / "s.jsonl").write_text(json.dumps({"t": 0, "participant": "a", "emotion": "joy"})
                                      + "\n")
    path = tmp_path / "ok.toml"
    path.write_text('[[source]]\nuri = "s.jsonl"\n[[output]]\nstill = "a.png"\nat = 0\n')
    result = invoke("validate", path)
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output and "1 output(s)" in result.output


def test_a_broken_session_lists_every_problem_with_its_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("""\
[mural]
size = "big"

[[source]]
uri = "gone.jsonl"

[[cue]]
at = -3
palette = "ember"

[[output]]
video = "x.mp4"
""")
    result = invoke("validate", path)
    assert result.exit_code == 1
    for line in (2, 5, 8):
        assert f"{path}:{line}:" in result.output, result.output
    assert "3 problems" in result.output


def test_a_toml_syntax_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[mural]\nsize = "96x54\n')
    result = invoke("validate", path)
    assert result.exit_code == 1 and f"{path}:2:" in result.output


def test_a_stream_reports_every_bad_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join([
        json.dumps({"t": 0, "participant": "a", "emotion": "joy"}),
        "{not json",
        json.dumps({"t": 1, "participant": "a", "emotion": "glee"}),
        json.dumps({"t": 2, "type": "signal", "level": 3}),
        json.dumps({"t": 3, "participant": "a", "emotion": "calm"}),
    ]) + "\n")
    result = invoke("validate", path)
    assert result.exit_code == 1
    for line in (2, 3, 4):
        assert f"line {line}:" in result.output
    assert "3 problems" in result.output
    path.write_text(json.dumps({"t": 0, "participant": "a", "emotion": "joy"}) + "\n")
    result = invoke("validate", path)
    assert result.exit_code == 0 and "1 events" in result.output


def test_participants_and_palette_files(tmp_path):
    people = tmp_path / "participants.toml"
    people.write_text('[a]\nhue = 509\n[b]\npattern = "zigzag"\n')
    result = invoke("validate", people)
    assert result.exit_code == 1 and f"{people}:4:" in result.output
    palette = tmp_path / "p.toml"
    palette.write_text('background_top = "#000000"\nbloom = 99\n')
    result = invoke("validate", palette)
    assert result.exit_code == 1 and f"{palette}:2:" in result.output
    palette.write_text('background_top = "#000000"\nbloom = 0.5\n')
    assert invoke("validate", palette).exit_code == 0
