"""`mural inspect`: human and JSON summaries, warnings for bad lines, strict failures."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mural.cli import main
from mural.events import EmotionEvent, Header, MarkerEvent, SignalEvent, write_stream

GOOD = '{"t": 1, "participant": "p01", "emotion": "joy"}'


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "tiny.jsonl"
    write_stream(path, [
        MarkerEvent(0.0, "start"),
        EmotionEvent(0.5, "p01", 0.8, 0.65, 0.9, "joy"),
        EmotionEvent(1.0, "p02", 0.45, 0.1, 0.3, "calm", 0.2, 0.3),
        SignalEvent(2.0, 0.1),
        SignalEvent(4.0, 1.0),
        EmotionEvent(5.0, "p02", -0.3, 0.4, 0.5),
    ], Header(meta={"scenario": "tiny"}))
    return path


@pytest.fixture
def with_bad_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([
        GOOD,
        '{"t": 2, "participant": "p01", "emotion": "glee"}',
        '{"t": 3, "participant": "p01", "emotion": "joy", "x": 7}',
        GOOD,
    ]) + "\n")
    return path


def test_human_summary(recording):
    result = run("inspect", str(recording))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "tiny.jsonl" in out and "scenario=tiny" in out
    assert "6 (emotion 3, signal 2, marker 1)" in out
    assert "0.0 start" in out and "2.0-4.0 s (min 0.10)" in out
    assert "emotion mix over time" in out and "joy 100%" in out


def test_json_summary_is_the_last_line(recording):
    result = run("inspect", str(recording), "--json", "--bins", "5")
    assert result.exit_code == 0
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["events"]["total"] == 6
    assert info["participants"]["ids"] == ["p01", "p02"]
    assert len(info["emotion_mix"]["bins"]) == 5
    assert info["signal"]["network_drops"][0]["start"] == 2.0


def test_bad_lines_warn_on_stderr_once_each(with_bad_lines):
    result = run("inspect", str(with_bad_lines), "--json")
    assert result.exit_code == 0
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 2
    assert "bad.jsonl line 2: field 'emotion'" in warnings[0] and "'glee'" in warnings[0]
    assert "line 3: field 'x'" in warnings[1] and "7" in warnings[1]
    assert result.stdout.count("\n") == 1  # stdout holds only the JSON object
    info = json.loads(result.stdout)
    assert info["bad_lines"]["count"] == 2 and info["events"]["emotion"] == 2


def test_strict_fails_with_line_number(with_bad_lines):
    result = run("inspect", str(with_bad_lines), "--strict")
    assert result.exit_code == 1
    assert "line 2" in result.stderr and "glee" in result.stderr
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a crash
    assert "Traceback" not in result.output


def test_truncated_tail_is_reported_not_warned(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_text(f'{GOOD}\n{{"t": 2, "parti')
    result = run("inspect", str(path), "--strict")
    assert result.exit_code == 0 and result.stderr == ""
    assert "truncated tail  yes" in result.stdout


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.jsonl", "no such file"), ("notes.txt", "unknown stream format")],
)
def test_file_errors_are_clean(tmp_path, name, message):
    if name.endswith(".txt"):
        (tmp_path / name).write_text(GOOD)
    result = run("inspect", str(tmp_path / name))
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output


def test_directory_is_a_clean_error(tmp_path):
    result = run("inspect", str(tmp_path))
    assert result.exit_code == 1 and "directory" in result.stderr


def test_inspect_a_simulation():
    result = run("inspect", "sim:festival?participants=3&duration=60", "--json")
    assert result.exit_code == 0
    info = json.loads(result.stdout.splitlines()[-1])
    assert info["source"] == "sim:festival" and info["header"]["participants"] == 3
    assert run("inspect", "sim:nope").exit_code == 1


def test_light_share_shows_fairness_between_a_flood_and_a_quiet_participant(tmp_path):
    import json as _json

    from click.testing import CliRunner

    from mural.cli import main

    path = tmp_path / "fair.jsonl"
    lines = [{"t": k * 1.0, "participant": "quiet", "emotion": "calm", "intensity": 0.8}
             for k in range(20)]
    lines += [{"t": k * 0.01, "participant": "chatty", "emotion": "joy", "intensity": 0.8}
              for k in range(2000)]
    lines.sort(key=lambda e: e["t"])
    path.write_text("\n".join(_json.dumps(e) for e in lines) + "\n")
    result = CliRunner().invoke(main, ["inspect", str(path), "--light-share", "--json"])
    assert result.exit_code == 0, result.output
    shares = _json.loads(result.output.strip().splitlines()[-1])["light_share"]
    assert shares["quiet"] > 0.2 and shares["chatty"] < 0.8
    text = CliRunner().invoke(main, ["inspect", str(path), "--light-share"]).output
    assert "share of the light" in text and "quiet" in text


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\x1b[0m\r\x08\x9b1m"


def test_header_metadata_cannot_drive_the_terminal(tmp_path):
    path = tmp_path / "evil.jsonl"
    header = {"type": "header", "scenario": ESCAPES, ESCAPES: "key", "nested": {"x": ESCAPES},
              "bidi": "abc\u202edcba", "long": "z" * 100_000}
    path.write_text(json.dumps(header) + "\n" + GOOD + "\n")
    result = run("inspect", str(path))
    assert result.exit_code == 0, result.output
    out = result.stdout
    for char in "\x1b\x07\r\x08\x9b\u202e":
        assert char not in out, repr(char)
    assert "\\x1b[31mred" in out  # shown, harmlessly, as an escape
    assert "\\u202e" in out
    assert len(max(out.splitlines(), key=len)) < 2_000  # a huge value is cut in the table
    # the JSON summary keeps the metadata exactly (JSON escapes control characters itself)
    info = json.loads(run("inspect", str(path), "--json").stdout.strip().splitlines()[-1])
    assert info["header"]["scenario"] == ESCAPES


def test_warnings_and_strict_errors_cannot_drive_the_terminal(tmp_path):
    path = tmp_path / "evil.jsonl"
    path.write_text(GOOD + "\n" + json.dumps({"t": 1, "participant": "p", "emotion": ESCAPES})
                    + "\n" + '{"t": 2, "type": "marker", "name": "' + "\x1b[2J" + '"}\n')
    result = run("inspect", str(path))
    assert result.exit_code == 0
    assert "\x1b" not in result.stderr and "\x1b" not in result.stdout
    assert result.stderr.count("warning:") == 2
    strict = run("inspect", str(path), "--strict")
    assert strict.exit_code == 1 and "\x1b" not in strict.stderr
