"""The record loop on an injected clock: durations, stop signals and the end of the input."""

from __future__ import annotations

from pathlib import Path

import pytest

from mural.events import EmotionEvent, read_stream
from mural.show.record import RecordError, StopSignals, record


class FakeClock:
    """Time that moves only when the loop sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def sim_of(seconds: float) -> str:
    return f"sim:calm?participants=3&duration={seconds:g}&seed=1"


def test_a_duration_ends_the_recording_on_the_clock_not_the_wall(tmp_path: Path) -> None:
    clock = FakeClock()
    out = tmp_path / "r.jsonl"
    done = record([sim_of(30)], out, duration=2.5, clock=clock, sleep=clock.sleep)
    assert done.reason == "2.5 s elapsed" and done.seconds == pytest.approx(2.5)
    events = read_stream(out, strict=True).events
    assert events and all(e.t <= 2.5 for e in events)
    assert done.events == len(events) and "recorded" in done.summary()


def test_input_that_ends_ends_the_recording(tmp_path: Path) -> None:
    clock = FakeClock()
    done = record([sim_of(1)], tmp_path / "r.jsonl", clock=clock, sleep=clock.sleep)
    assert done.reason == "input ended" and done.events > 0


def test_a_stop_signal_keeps_what_arrived(tmp_path: Path) -> None:
    clock = FakeClock()
    stop = StopSignals()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 1.0:
            stop.signal = 15  # SIGTERM

    done = record([sim_of(30)], tmp_path / "r.jsonl", clock=clock, sleep=sleep, stop=stop)
    assert done.reason == "SIGTERM"
    assert all(isinstance(e, EmotionEvent) or e.t <= 1.1
               for e in read_stream(tmp_path / "r.jsonl").events)


def test_existing_files_and_other_formats_are_refused(tmp_path: Path) -> None:
    keep = tmp_path / "keep.jsonl"
    keep.write_text("{}\n")
    with pytest.raises(RecordError, match="--force"):
        record([sim_of(1)], keep)
    assert keep.read_text() == "{}\n"
    with pytest.raises(RecordError, match=".jsonl"):
        record([sim_of(1)], tmp_path / "x.csv")
