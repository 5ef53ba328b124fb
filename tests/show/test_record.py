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


def test_a_muse_through_mind_monitor_is_recorded_and_replays(tmp_path: Path) -> None:
    """Real OSC datagrams in Mind Monitor's address space, recorded on an injected clock."""
    import socket
    import time

    import numpy as np
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder
    from pythonosc.udp_client import UDPClient

    from mural.events import SignalEvent
    from mural.show.wall import Wall

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = UDPClient("127.0.0.1", port)
    clock = FakeClock()
    rng = np.random.default_rng(3)

    def moment(shoe: float) -> bytes:
        bundle = OscBundleBuilder(IMMEDIATELY)
        for address, values in (("/muse/elements/alpha_absolute", 1.0 + rng.normal(0, .04, 4)),
                                ("/muse/elements/beta_absolute", 0.5 + rng.normal(0, .04, 4)),
                                ("/muse/elements/horseshoe", [shoe] * 4)):
            message = OscMessageBuilder(address)
            for value in values:
                message.add_arg(float(value))
            bundle.add_content(message.build())
        return bundle.build().dgram

    def sleep(seconds: float) -> None:  # every half second of the clock, the headband speaks
        before = clock.now
        clock.sleep(seconds)
        if int(clock.now * 2) != int(before * 2):
            client._sock.sendto(moment(4.0 if 6.0 <= clock.now < 8.0 else 1.0),
                                ("127.0.0.1", port))
            time.sleep(0.01)  # let the listener take it before the next poll

    out = tmp_path / "muse.jsonl"
    done = record([f"osc://127.0.0.1:{port}?map=mindmonitor&participant=cleo&calibrate=2"],
                  out, duration=12.0, clock=clock, sleep=sleep)
    client._sock.close()
    events = read_stream(out, strict=True).events
    assert done.events == len(events) > 10
    moods = [e for e in events if isinstance(e, EmotionEvent)]
    levels = [e for e in events if isinstance(e, SignalEvent)]
    assert moods and all(e.participant == "cleo" for e in moods + levels)
    assert min(e.level for e in levels if 6.5 <= e.t <= 8.0) < 0.3  # the headband slipped
    assert levels[-1].level > 0.8
    first = Wall(events, size=(64, 36), seed=1).frame_at(11.0)
    again = Wall(read_stream(out).events, size=(64, 36), seed=1).frame_at(11.0)
    assert (first == again).all() and first.any()


def test_a_phone_is_recorded_with_its_personal_colour_and_replays(tmp_path: Path) -> None:
    """A real phone client on a real web:// source: its expressions and its own colour are in
    the recording, and the recording paints the same wall twice."""
    import threading

    from mural.events import PersonalEvent
    from mural.show.wall import Wall
    from mural.sources import monotonic_clock
    from mural.sources.web import open_web
    from tests.sources.test_web import Phone, run, until

    clock = monotonic_clock()
    source = open_web("web://127.0.0.1:0", clock=clock)
    stop = StopSignals()
    pid: list[str] = []

    def phone() -> None:
        async def scenario() -> None:
            async with Phone(source) as p:
                await p.load()
                pid.append(await p.join())
                await p.send({"colour_nm": 509, "pattern": "ring"})
                await p.send({"emotion": "joy", "intensity": 0.8, "x": 0.3, "y": 0.6})
                await until(lambda: source.stats.accepted >= 2, "both messages")
        try:
            run(scenario())
        finally:
            stop.signal = 2  # SIGINT: the recording ends as Ctrl-C ends it

    sender = threading.Thread(target=phone)
    sender.start()
    out = tmp_path / "phones.jsonl"
    done = record([source], out, clock=clock, stop=stop)
    sender.join()
    events = read_stream(out, strict=True).events
    assert done.reason == "SIGINT" and len(events) == 2
    personal, joy = events
    assert isinstance(personal, PersonalEvent) and personal.participant == pid[0]
    assert (personal.hue, personal.pattern) == (509.0, "ring")
    assert isinstance(joy, EmotionEvent) and joy.participant == pid[0] and joy.emotion == "joy"
    later = max(e.t for e in events) + 2.0
    first = Wall(events, size=(96, 54), seed=2).frame_at(later)
    again = Wall(read_stream(out).events, size=(96, 54), seed=2).frame_at(later)
    assert (first == again).all() and first.any()
