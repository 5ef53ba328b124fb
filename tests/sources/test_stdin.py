"""stdin source: JSON lines from a stream, in-process and through a real pipe."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from mural.events import EmotionEvent, MarkerEvent, SignalEvent, read_stream
from mural.sources import SourceStats, scheme_of
from mural.sources.stdin import MAX_LINE, StdinSource, open_stdin


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


def drain(source: StdinSource, timeout: float = 3.0) -> list:
    events: list = []
    deadline = time.monotonic() + timeout
    while not source.finished:
        assert time.monotonic() < deadline, f"not finished; stats {source.stats}"
        events += source.poll(1e9)
        time.sleep(0.002)
    return events


def test_lines_become_events_and_eof_finishes() -> None:
    lines = [
        b'{"type": "header", "recorder": "elsewhere"}',  # a piped recording: header skipped
        b'{"t": 5000, "participant": "p1", "emotion": "joy", "intensity": 0.8}',
        b"",
        b"   ",
        b"not json",
        b'{"participant": "p1", "emotion": "rage"}',
        b"[1, 2, 3]",
        b'{"participant": "p\xff"}',  # not UTF-8
        b"x" * (MAX_LINE + 10),  # too long: skipped whole, the next line is read normally
        b'{"type": "signal", "level": 0.25}',
        b'{"participant": "p2", "valence": NaN, "arousal": 0.5}',
        b'{"type": "marker", "name": "end"}',  # no newline after the last line
    ]
    source = open_stdin(stream=io.BytesIO(b"\n".join(lines)), clock=Ticks())
    events = drain(source)
    assert [type(e) for e in events] == [EmotionEvent, SignalEvent, MarkerEvent]
    times = [e.t for e in events]
    assert times == sorted(set(times)) and times[-1] <= 10  # receive times, not the line's t
    assert source.stats == SourceStats(accepted=3, rejected=2, malformed=4)
    assert source.finished and source.live
    source.close()


def test_text_streams_work_too() -> None:
    text = '{"participant": "a", "emotion": "calm"}\n{"participant": "b", "emotion": "awe"}\n'
    source = StdinSource(io.StringIO(text), clock=Ticks())
    assert [e.participant for e in drain(source)] == ["a", "b"]


def test_dash_is_stdin() -> None:
    assert scheme_of("-") == "stdin"


def test_piped_into_mural_record(tmp_path: Path) -> None:
    """A producer process | `mural record - -o FILE`: EOF ends the recording cleanly."""
    out = tmp_path / "piped.jsonl"
    producer = (
        "import json, sys, time\n"
        "for i in range(20):\n"
        "    print(json.dumps({'participant': f'p{i % 3}', 'emotion': 'joy',"
        " 'intensity': i / 20}), flush=True)\n"
        "    if i == 10: print('garbage', flush=True); print('{\"participant\": \"x\"}')\n"
        "    time.sleep(0.005)\n"
        "print(json.dumps({'type': 'marker', 'name': 'done'}))\n"
    )
    feed = subprocess.Popen([sys.executable, "-c", producer], stdout=subprocess.PIPE)
    record = subprocess.run(
        [sys.executable, "-m", "mural", "record", "-", "-o", str(out)],
        stdin=feed.stdout, capture_output=True, text=True, timeout=20,
    )
    feed.stdout.close()
    feed.wait(timeout=5)
    assert record.returncode == 0, record.stderr
    assert "reading JSON lines from stdin" in record.stderr
    summary = record.stderr.strip().splitlines()[-1]
    assert "recorded 21 events" in summary and "input ended" in summary
    assert "accepted 21, rejected 1 (invalid), malformed 1 (unparseable), dropped 0" in summary
    stream = read_stream(out, strict=True)
    assert stream.header is not None and stream.header.meta["sources"] == ["stdin"]
    assert [e.intensity for e in stream.events[:-1]] == [i / 20 for i in range(20)]
    assert stream.events[-1].name == "done"
    times = [e.t for e in stream.events]
    assert times == sorted(times) and 0 < times[0] < 20  # stamped on arrival


def test_open_source_reads_the_real_stdin(tmp_path: Path) -> None:
    script = (
        "import time\n"
        "from mural.sources import open_source\n"
        "s = open_source('-')\n"
        "got = []\n"
        "while not s.finished:\n"
        "    got += s.poll(1e9); time.sleep(0.005)\n"
        "print(len(got), s.stats.malformed)\n"
    )
    lines = "\n".join([json.dumps({"participant": "p", "emotion": "joy"})] * 5 + ["{bad"])
    done = subprocess.run([sys.executable, "-c", script], input=lines, capture_output=True,
                          text=True, timeout=20)
    assert done.stdout.split() == ["5", "1"], done.stderr


def test_strict_counts_bad_lines_and_never_raises() -> None:
    """Under --strict a bad line used to be raised from poll(); a live input counts it now."""
    lines = (b'not json\n{"participant": "p1", "emotion": "rage"}\n'
             b'{"participant": "p1", "emotion": "joy"}\n')
    source = open_stdin(stream=io.BytesIO(lines), strict=True, clock=Ticks())
    events = drain(source)  # poll() would raise here before
    assert [e.emotion for e in events] == ["joy"]
    assert source.stats == SourceStats(accepted=1, rejected=1, malformed=1)
    assert source.first_problem is not None and "not JSON" in source.first_problem


def test_a_file_descriptor_is_read_in_pieces_and_close_stops_at_once() -> None:
    """The real stdin is read from its descriptor: lines split across writes, an overlong line
    skipped whole, and close() ends the reader while the writer still holds the pipe open."""
    read_end, write_end = os.pipe()
    source = StdinSource(read_end, clock=Ticks())

    def write() -> None:  # on its own thread: a pipe nobody reads would block the test
        os.write(write_end, b'{"participant": "a", "emo')
        os.write(write_end, b'tion": "calm"}\n{"type": "marker", "name": "m1"}\n')
        too_long = b"x" * (MAX_LINE + 5) + b"\n"
        for start in range(0, len(too_long), 60_000):
            os.write(write_end, too_long[start:start + 60_000])
        os.write(write_end, b'{"participant": "b", "emotion": "awe"}\n')

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 5
        events: list = []
        while len(events) < 3:
            assert time.monotonic() < deadline, f"stats {source.stats}"
            events += source.poll(1e9)
            time.sleep(0.002)
        assert [getattr(e, "participant", None) or e.name for e in events] == ["a", "m1", "b"]
        assert source.stats.malformed == 1 and source.line_number == 4
        started = time.monotonic()
        source.close()  # the pipe is still open for writing
        assert time.monotonic() - started < 1.0
        assert not source._thread.is_alive() and source.finished
        writer.join(timeout=1)
    finally:
        os.close(write_end)
        os.close(read_end)


def test_a_last_line_without_a_newline_is_read_at_the_end_of_a_pipe() -> None:
    read_end, write_end = os.pipe()
    source = StdinSource(read_end, clock=Ticks())
    os.write(write_end, b'{"type": "marker", "name": "end"}')
    os.close(write_end)
    try:
        assert [e.name for e in drain(source)] == ["end"]
    finally:
        source.close()
        os.close(read_end)
