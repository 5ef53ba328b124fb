"""StreamRecorder: exact round trips, no accidental overwrite, fsync cadence, SIGKILL safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mural.events import EmotionEvent, MarkerEvent, SignalEvent, read_stream
from mural.sinks.recorder import RecorderError, StreamRecorder, event_line

EVENTS = [
    EmotionEvent(t=0.1234567890123, participant="p1", valence=0.8, arousal=0.65, intensity=0.8,
                 emotion="joy", x=0.1, y=0.2, heart_rate=71.5),
    EmotionEvent(t=0.2, participant="Zoë", valence=-0.3333333333333333, arousal=0.1),
    SignalEvent(t=1 / 3, level=0.5, participant="p1"),
    MarkerEvent(t=2.5, name="cue ✦"),
]


def test_recording_replays_identically(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    with StreamRecorder(path, header={"recorder": "test", "type": "ignored"}) as rec:
        rec.write(EVENTS[0])
        rec.write_many(EVENTS[1:])
        assert rec.count == 4
    assert rec.closed
    stream = read_stream(path, strict=True)
    assert stream.events == EVENTS  # bit-exact floats, times included
    assert stream.header is not None and stream.header.meta == {"recorder": "test"}
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 6
    assert lines[1] == event_line(EVENTS[0]).rstrip(b"\n")
    assert b", " not in lines[1] and b'": ' not in lines[1]  # compact separators
    assert json.loads(lines[2])["participant"] == "Zoë"


def test_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    path.write_text("precious\n")
    with pytest.raises(RecorderError, match="already exists"):
        StreamRecorder(path)
    assert path.read_text() == "precious\n"
    with StreamRecorder(path, force=True) as rec:
        rec.write(EVENTS[3])
    assert read_stream(path).events == [EVENTS[3]]


def test_unwritable_location_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(RecorderError, match="cannot create"):
        StreamRecorder(tmp_path / "missing-dir" / "x.jsonl")


def test_writing_after_close_is_an_error(tmp_path: Path) -> None:
    rec = StreamRecorder(tmp_path / "x.jsonl")
    rec.close()
    rec.close()  # idempotent
    with pytest.raises(RecorderError, match="closed"):
        rec.write(EVENTS[0])


def test_fsync_cadence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[float] = []
    now = [100.0]
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(now[0]), real_fsync(fd)))
    with StreamRecorder(tmp_path / "a.jsonl", fsync_interval=1.0, clock=lambda: now[0]) as rec:
        assert synced == []
        for _ in range(20):
            rec.write(EVENTS[2])  # written at once, synced at most every second
            now[0] += 0.04
        assert synced == []
        now[0] += 0.3  # 1.1 s since the file was opened
        rec.sync_if_due()  # the record loop calls this even when nothing arrives
        assert synced == [now[0]]
        now[0] += 5.0
        rec.sync_if_due()  # nothing new written: no sync
        assert len(synced) == 1
    assert len(synced) == 2  # and on close
    synced.clear()
    with StreamRecorder(tmp_path / "b.jsonl", header={"a": 1}, fsync_interval=0):
        assert len(synced) == 1  # the header is synced straight away


WRITER = """
import sys, time
from mural.events import EmotionEvent
from mural.sinks.recorder import StreamRecorder
with StreamRecorder(sys.argv[1], header={"recorder": "kill-test"}) as rec:
    i = 0
    while True:
        rec.write(EmotionEvent(t=i * 0.001, participant=f"p{i % 97}", valence=0.1,
                               arousal=0.2, x=(i % 1000) / 1000))
        if i == 50:
            print("ready", flush=True)
        i += 1
"""


def test_sigkill_leaves_only_whole_lines_and_at_most_one_partial(tmp_path: Path) -> None:
    path = tmp_path / "killed.jsonl"
    with subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                          stdout=subprocess.PIPE) as proc:
        try:
            assert proc.stdout.readline() == b"ready\n"
            time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=5)
    assert proc.returncode == -signal.SIGKILL
    data = path.read_bytes()
    *complete, tail = data.split(b"\n")
    assert len(complete) > 50
    header, *lines = (json.loads(line) for line in complete)  # every complete line parses
    assert header["type"] == "header"
    assert [line["t"] for line in lines] == [i * 0.001 for i in range(len(lines))]
    stream = read_stream(path, strict=True)  # a cut-off tail is tolerated even when strict
    assert len(stream.events) == len(lines)
    assert stream.truncated_tail == (tail != b"")
