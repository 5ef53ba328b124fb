"""`mural send`: one-off events and real-time replays, against `mural record` and live sources."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mural.cli import main
from mural.events import EmotionEvent, MarkerEvent, SignalEvent, read_stream, write_stream
from mural.sources import monotonic_clock, open_source


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_lines(path: Path, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or path.read_bytes().count(b"\n") < count:
        assert time.monotonic() < deadline, f"{path} never reached {count} lines"
        time.sleep(0.02)


def send(*args: str):
    return CliRunner().invoke(main, ["send", *args])


def test_send_to_mural_record_then_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "sent.jsonl"
    osc_port, ws_port = free_port(), free_port(socket.SOCK_STREAM)
    osc, ws = f"osc://127.0.0.1:{osc_port}", f"ws://127.0.0.1:{ws_port}"
    record = subprocess.Popen(
        [sys.executable, "-m", "mural", "record", osc, ws, "-o", str(out)],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        while not (line := record.stderr.readline()).startswith("recording to"):
            assert line, "record exited early"
        calls = [
            [osc, "-p", "p1", "-e", "joy", "--intensity", "0.8", "--x", "0.25", "--y", "0.5"],
            [osc, "-p", "p2", "--valence", "-0.5", "--arousal", "0.25"],
            [osc, "-p", "p1", "-e", "calm", "--heart-rate", "66"],
            [osc, "--signal", "0.5", "--participant", "p2"],
            [osc, "--marker", "act-2"],
            [ws, "--json", '{"participant": "p3", "emotion": "awe", "t": 123}'],
            [ws, "-p", "p3", "-e", "hope", "--intensity", "0.5"],
        ]
        for args in calls:
            result = send(*args)
            assert result.exit_code == 0, result.output
            assert result.stderr.startswith("sent 1 event to ")
        # and once as a separate process, exactly as a user would
        done = subprocess.run([sys.executable, "-m", "mural", "send", f"osc://:{osc_port}",
                               "--signal", "1"], capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, done.stderr
        wait_for_lines(out, 9)  # header + 8 events
    finally:
        record.send_signal(signal.SIGTERM)
        _, err = record.communicate(timeout=10)
    assert record.returncode == 0, err
    assert "(SIGTERM)" in err
    assert "recorded 8 events" in err and "accepted 9, rejected 0" in err  # + the health message
    events = read_stream(out, strict=True).events
    assert [type(e) for e in events] == [EmotionEvent] * 3 + [SignalEvent, MarkerEvent] + [
        EmotionEvent] * 2 + [SignalEvent]
    joy, va, calm, sig, marker, awe, hope, full = events
    assert (joy.emotion, joy.intensity, joy.x, joy.y) == ("joy", 0.8, 0.25, 0.5)
    assert (va.emotion, va.valence, va.arousal) == (None, -0.5, 0.25)
    assert (calm.emotion, calm.heart_rate) == ("calm", 66.0)
    assert (sig.level, sig.participant, marker.name) == (0.5, "p2", "act-2")
    assert awe.emotion == "awe" and awe.t < 100  # the given t is not the recorded time
    assert (hope.emotion, hope.intensity, full.level) == ("hope", 0.5, 1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--json", '{"participant": "p1", "emotion": "rage"}'], "unknown emotion 'rage'"),
        (["--json", "{not json"], "not valid JSON"),
        (["--json", "[1]"], "one JSON object"),
        (["--json", '{"type": "header"}'], "not an event"),
        (["-p", "p1", "-e", "joy", "--intensity", "2"], "intensity"),
        (["-e", "joy"], "participant"),
        (["--signal", "nan"], "finite"),
    ],
)
def test_invalid_events_are_refused_before_sending(args: list[str], message: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(0.05)
        result = send(f"osc://127.0.0.1:{listener.getsockname()[1]}", *args)
        assert result.exit_code == 1, result.output
        assert message in result.stderr and "Traceback" not in result.output
        with pytest.raises(TimeoutError):
            listener.recv(100)  # nothing went out


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--marker", "a", "--signal", "0.5"],
        ["--json", "{}", "-p", "p1"],
        ["--replay", "x.jsonl", "--marker", "a"],
        ["--marker", "a", "--speed", "2"],
    ],
)
def test_usage_errors(args: list[str]) -> None:
    result = send("osc://127.0.0.1:9", *args)
    assert result.exit_code == 2, result.output


def test_bad_targets_are_clean_errors() -> None:
    result = send("http://127.0.0.1:80", "--marker", "a")
    assert result.exit_code == 1 and "unknown target" in result.stderr
    result = send("osc://127.0.0.1", "--marker", "a")
    assert result.exit_code == 1 and "needs a port" in result.stderr
    port = free_port(socket.SOCK_STREAM)  # nothing listens there
    result = send(f"ws://127.0.0.1:{port}", "--marker", "a")
    assert result.exit_code == 1 and f"cannot connect to ws://127.0.0.1:{port}" in result.stderr


def test_send_to_stdout() -> None:
    result = send("-", "-p", "p1", "-e", "joy", "--intensity", "0.5")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"participant": "p1", "emotion": "joy", "intensity": 0.5}


RECORDING = [
    EmotionEvent(t=10.0, participant="p1", valence=0.8, arousal=0.65, intensity=0.5,
                 emotion="joy"),
    SignalEvent(t=10.2, level=0.5),
    EmotionEvent(t=10.4, participant="p2", valence=-0.25, arousal=0.5, intensity=1.0,
                 heart_rate=80.0),
    MarkerEvent(t=11.0, name="end"),
]


@pytest.mark.parametrize("scheme", ["osc", "ws"])
def test_replay_is_paced_by_event_times(tmp_path: Path, scheme: str) -> None:
    path = tmp_path / "take.jsonl"
    write_stream(path, RECORDING)
    clock = monotonic_clock()
    source = open_source(f"{scheme}://127.0.0.1:0", clock=clock)
    try:
        result = send(f"{scheme}://127.0.0.1:{source.port}", "--replay", str(path),
                      "--speed", "2")
        assert result.exit_code == 0, result.output
        assert "sent 4 events" in result.stderr
        time.sleep(0.1)
        got = source.poll(clock())
    finally:
        source.close()
    assert [e.to_dict() | {"t": 0} for e in got] == [e.to_dict() | {"t": 0} for e in RECORDING]
    gaps = [b.t - a.t for a, b in zip(got, got[1:], strict=False)]
    # 0.2 s, 0.2 s, 0.6 s of recording at speed 2; generous bounds for a busy machine
    assert 0.4 <= got[-1].t - got[0].t < 3.0
    assert gaps[2] > gaps[0]


def test_replay_of_a_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    result = send("-", "--replay", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 1 and "no such file" in result.stderr


def test_send_presents_the_key_to_keyed_osc_and_ws_sources() -> None:
    clock = monotonic_clock()
    osc = open_source("osc://127.0.0.1:0?key=S3cr3t", clock=clock)
    ws = open_source("ws://127.0.0.1:0?key=S3cr3t", clock=clock)
    try:
        o, w = f"osc://127.0.0.1:{osc.port}", f"ws://127.0.0.1:{ws.port}"
        for target in (o, w):  # the SOURCE string, options and all, works as the TARGET
            result = send(f"{target}?key=S3cr3t&allow=127.0.0.1", "-p", "p1", "-e", "joy",
                          "--heart-rate", "70")
            assert result.exit_code == 0, result.output
        result = send(o, "--marker", "no-key")  # UDP cannot tell: the source refuses it
        assert result.exit_code == 0, result.output
        deadline = time.monotonic() + 3
        while osc.stats.accepted + osc.stats.refused < 3 or ws.stats.accepted < 1:
            assert time.monotonic() < deadline, (osc.stats, ws.stats)
            time.sleep(0.01)
        assert (osc.stats.accepted, osc.stats.refused) == (2, 1)  # health + emotion
        got = osc.poll(clock()) + ws.poll(clock())
        assert [(e.participant, e.heart_rate) for e in got] == [("p1", 70.0), ("p1", 70.0)]
        for target, words in ((w, ["HTTP 401", "?key="]), (f"{w}?key=wrong", ["HTTP 403"])):
            result = send(target, "--marker", "m")
            assert result.exit_code == 1, result.output
            assert f"cannot connect to {w}" in result.stderr
            assert all(word in result.stderr for word in words), result.stderr
            assert "Traceback" not in result.output
        assert ws.stats.refused == 2
    finally:
        osc.close()
        ws.close()


def test_a_target_option_nobody_takes_is_an_error() -> None:
    result = send("osc://127.0.0.1:9?nope=1", "--marker", "a")
    assert result.exit_code == 1 and "'nope'" in result.stderr and "key=" in result.stderr
    result = send("ws://127.0.0.1:9?key=", "--marker", "a")
    assert result.exit_code == 1 and "empty" in result.stderr
