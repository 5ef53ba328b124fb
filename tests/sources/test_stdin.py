"""stdin source: JSON lines from a stream, in-process and through a real pipe."""

from __future__ import annotations

import io
import json
import subprocess
import sys
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
