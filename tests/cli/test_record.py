"""`mural record`: merged live sources to a file, clean errors, clean stops."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner
from pythonosc.udp_client import SimpleUDPClient
from websockets.sync.client import connect

from mural.cli import main
from mural.events import EmotionEvent, MarkerEvent, SignalEvent, read_stream


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_lines(path: Path, count: int, timeout: float = 10.0) -> None:
    """The recorder writes each line as it goes: wait until `count` lines are in the file."""
    deadline = time.monotonic() + timeout
    while not path.exists() or path.read_bytes().count(b"\n") < count:
        assert time.monotonic() < deadline, f"{path} never reached {count} lines"
        time.sleep(0.02)


def wait_for_ws(port: int, timeout: float = 10.0):
    """Connect as soon as the command under test listens."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connect(f"ws://127.0.0.1:{port}", proxy=None, open_timeout=2)
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.02)


def start_record(*args: str) -> subprocess.Popen:
    """Run `mural record` and wait until it says it is recording (so its ports are bound)."""
    proc = subprocess.Popen([sys.executable, "-m", "mural", "record", *args],
                            stderr=subprocess.PIPE, text=True)
    seen = []
    while True:
        line = proc.stderr.readline()
        seen.append(line)
        assert line, f"record exited early: {''.join(seen)}"
        if line.startswith("recording to"):
            return proc


def test_osc_and_ws_merge_into_one_time_ordered_file(tmp_path: Path) -> None:
    out = tmp_path / "merged.jsonl"
    osc_port, ws_port = free_port(), free_port(socket.SOCK_STREAM)

    def send() -> None:
        osc = SimpleUDPClient("127.0.0.1", osc_port)
        with wait_for_ws(ws_port) as ws:  # OSC is bound too: sources open in order
            osc.send_message("/mural/emotion", ["p1", "joy", 0.5])
            time.sleep(0.02)
            ws.send(json.dumps({"participant": "p2", "emotion": "fear"}))
            time.sleep(0.02)
            osc.send_message("/mural/signal", [0.25])
            time.sleep(0.02)
            ws.send("nonsense")
            ws.send(json.dumps({"participant": "p2", "emotion": "nope"}))
            ws.send(json.dumps({"type": "marker", "name": "end"}))
        osc.close()
        wait_for_lines(out, 5)  # header + 4 events: then stop it as Ctrl-C would
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=send)
    sender.start()
    result = CliRunner().invoke(main, ["record", f"osc://:{osc_port}", f"ws://:{ws_port}",
                                       "-o", str(out)])
    sender.join()
    assert result.exit_code == 0, result.output
    assert f"listening on osc://127.0.0.1:{osc_port}" in result.stderr
    assert f"listening on ws://127.0.0.1:{ws_port}" in result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"recorded 4 events to {out}")
    assert "(SIGINT)" in summary
    assert "accepted 4, rejected 1 (invalid), malformed 1 (unparseable), dropped 0" in summary
    stream = read_stream(out, strict=True)
    assert [type(e) for e in stream.events] == [EmotionEvent, EmotionEvent, SignalEvent,
                                                MarkerEvent]
    assert [e.t for e in stream.events] == sorted(e.t for e in stream.events)
    assert all(e.t > 0 for e in stream.events)
    assert stream.header.meta["sources"] == [f"osc://127.0.0.1:{osc_port}",
                                             f"ws://127.0.0.1:{ws_port}"]


def test_ctrl_c_stops_cleanly_and_keeps_what_arrived(tmp_path: Path) -> None:
    out = tmp_path / "interrupted.jsonl"
    port = free_port()
    proc = start_record(f"osc://127.0.0.1:{port}", "-o", str(out))
    with SimpleUDPClient("127.0.0.1", port) as osc:
        for i in range(10):
            osc.send_message("/mural/va", [f"p{i}", i / 10, 0.5])
        osc.send_message("/mural/marker", "bye")
    wait_for_lines(out, 12)  # header + 11 events
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "(SIGINT)" in err and "recorded 11 events" in err
    events = read_stream(out, strict=True).events
    assert [e.valence for e in events[:-1]] == [i / 10 for i in range(10)]
    assert events[-1].name == "bye"


def test_port_in_use_is_a_clean_error(tmp_path: Path) -> None:
    runner = CliRunner()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = runner.invoke(main, ["record", f"osc://127.0.0.1:{port}", "-o",
                                      str(tmp_path / "x.jsonl")])
    assert result.exit_code == 1
    assert f"port {port}" in result.stderr and "in use" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.jsonl").exists()
    with socket.socket() as taken:  # the first source is released when the second fails
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        osc_port = free_port()
        result = runner.invoke(main, ["record", f"osc://127.0.0.1:{osc_port}",
                                      f"ws://127.0.0.1:{port}", "-o", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 1 and f"port {port}" in result.stderr
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", osc_port))


def test_existing_output_and_wrong_format_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    existing = tmp_path / "keep.jsonl"
    existing.write_text("{}\n")
    result = runner.invoke(main, ["record", "osc://:0", "-o", str(existing)])
    assert result.exit_code == 1
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert existing.read_text() == "{}\n"
    result = runner.invoke(main, ["record", "osc://:0", "-o", str(existing), "--force",
                                  "--duration", "0.05"])
    assert result.exit_code == 0, result.output
    assert read_stream(existing).events == []
    result = runner.invoke(main, ["record", "osc://:0", "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 1 and ".jsonl" in result.stderr
    result = runner.invoke(main, ["record", "-o", str(tmp_path / "y.jsonl")])
    assert result.exit_code == 2  # no SOURCE


def test_record_from_stdin_exits_cleanly_while_stdin_is_still_open(tmp_path: Path) -> None:
    """`mural record -` with stdin an open pipe nobody closes: it used to abort at exit with
    "Fatal Python error: _enter_buffered_busy" (rc 134), its reader thread blocked in stdin."""
    out = tmp_path / "x.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "mural", "record", "-", "-o", str(out),
                             "--duration", "1"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b'{"participant": "p1", "emotion": "joy"}\n')
        proc.stdin.flush()  # and the pipe stays open
        proc.wait(timeout=20)
        err = proc.stderr.read().decode()
    finally:
        proc.stdin.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Fatal Python error" not in err
    assert "recorded 1 events" in err and "(1 s elapsed)" in err
    assert [e.participant for e in read_stream(out, strict=True).events] == ["p1"]


def test_live_key_is_required_of_every_osc_sender(tmp_path: Path) -> None:
    """--live-key: the recorder's OSC port takes only messages that carry the secret."""
    out = tmp_path / "keyed.jsonl"
    port = free_port()
    proc = start_record(f"osc://127.0.0.1:{port}", "-o", str(out), "--live-key", "s3cret")
    with SimpleUDPClient("127.0.0.1", port) as osc:
        osc.send_message("/mural/emotion", ["intruder", "anger", 1.0])
        osc.send_message("/mural/emotion", ["s3cret", "p1", "joy", 0.5])
        osc.send_message("/mural/marker", ["s3cret", "end"])
    wait_for_lines(out, 3)  # header + the two keyed events
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "refused 1" in err
    events = read_stream(out, strict=True).events
    assert [getattr(e, "participant", None) for e in events] == ["p1", None]
