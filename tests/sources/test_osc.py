"""OSC source: real loopback round trips, bad input, floods, and the coalescing queue."""

from __future__ import annotations

import logging
import math
import socket
import struct
import time
from collections.abc import Callable, Iterator

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from mural.events import EmotionEvent, Event, MarkerEvent, SignalEvent
from mural.sources import EventSource, SourceError, SourceStats, monotonic_clock, open_source
from mural.sources.live import LiveQueue
from mural.sources.osc import OscSource, event_to_osc, open_osc, pack


def settle(source: OscSource, until: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; stats {source.stats}")
        time.sleep(0.005)


def total(stats: SourceStats) -> int:
    return stats.accepted + stats.rejected + stats.malformed


@pytest.fixture
def osc() -> Iterator[tuple[OscSource, SimpleUDPClient, Callable[[int], list[Event]]]]:
    clock = monotonic_clock()
    source = open_osc("osc://127.0.0.1:0", clock=clock)
    client = SimpleUDPClient("127.0.0.1", source.port)

    def collect(count: int) -> list[Event]:
        """Wait until `count` inputs were judged, then poll everything."""
        settle(source, lambda: total(source.stats) >= count)
        return source.poll(clock())

    yield source, client, collect
    client.close()
    source.close()


def message(address: str, *args: tuple[object, str]) -> bytes:
    builder = OscMessageBuilder(address)
    for value, tag in args:
        builder.add_arg(value, tag)
    return builder.build().dgram


def test_every_address_round_trips(osc) -> None:
    source, client, collect = osc
    client.send_message("/mural/emotion", ["p1", "joy", 0.8])
    client.send_message("/mural/emotion", ["p1", "Fear", 0.5, 0.25, 0.75])
    client.send_message("/mural/va", ["p2", -0.5, 0.2])
    client.send_message("/mural/va", ["p2", 0.3, 0.9, 0.6])
    client.send_message("/mural/va", ["p2", 0.3, 0.9, 0.6, 0.1, 0.9])
    client.send_message("/mural/signal", [0.4])
    client.send_message("/mural/signal", [0.2, "p2"])
    client.send_message("/mural/marker", "cue-1")
    events = collect(8)

    assert [type(e) for e in events] == [EmotionEvent] * 5 + [SignalEvent] * 2 + [MarkerEvent]
    joy, fear, va, va4, va6, net, mine, cue = events
    assert (joy.participant, joy.emotion, joy.intensity) == ("p1", "joy", 0.8)  # float32 rounded
    assert (fear.emotion, fear.x, fear.y, fear.intensity) == ("fear", 0.25, 0.75, 0.5)
    assert (va.emotion, va.valence, va.arousal, va.intensity) == (None, -0.5, 0.2, 1.0)
    assert (va4.valence, va4.arousal, va4.intensity) == (0.3, 0.9, 0.6)
    assert (va6.x, va6.y) == (0.1, 0.9)
    assert (net.level, net.participant) == (0.4, None)
    assert (mine.level, mine.participant) == (0.2, "p2")
    assert cue.name == "cue-1"
    assert [e.t for e in events] == sorted(e.t for e in events)
    assert source.stats == SourceStats(accepted=8)


def test_ints_where_floats_are_expected(osc) -> None:
    source, client, collect = osc
    client.send_message("/mural/emotion", ["p1", "calm", 1, 0, 1])
    client.send_message("/mural/va", ["p1", -1, 1, 0])
    client.send_message("/mural/signal", [1, 7])  # numeric participant ids become text
    client.send_message("/mural/health", [7, 64])
    client.send_message("/mural/emotion", [7, "joy", 1])
    events = collect(5)
    assert (events[0].intensity, events[0].x, events[0].y) == (1.0, 0.0, 1.0)
    assert (events[1].valence, events[1].arousal, events[1].intensity) == (-1.0, 1.0, 0.0)
    assert (events[2].level, events[2].participant) == (1.0, "7")
    assert (events[3].participant, events[3].heart_rate) == ("7", 64.0)
    assert source.stats.accepted == 5


def test_health_attaches_heart_rate_to_later_emotions(osc) -> None:
    source, client, collect = osc
    client.send_message("/mural/emotion", ["p1", "joy", 0.5])
    client.send_message("/mural/health", ["p1", 72.5])
    client.send_message("/mural/emotion", ["p1", "joy", 0.5])
    client.send_message("/mural/va", ["p1", 0.1, 0.2])
    client.send_message("/mural/emotion", ["p2", "joy", 0.5])
    client.send_message("/mural/health", ["p1", 900])  # out of range: rejected, 72.5 kept
    client.send_message("/mural/emotion", ["p1", "awe", 0.5])
    events = collect(7)
    assert [e.heart_rate for e in events] == [None, 72.5, 72.5, None, 72.5]
    assert source.heart_rates == {"p1": 72.5}
    assert (source.stats.accepted, source.stats.rejected) == (6, 1)  # health counts as accepted


def test_bundles_nested_in_order(osc) -> None:
    source, client, collect = osc
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(_msg("/mural/marker", "in"))
    inner.add_content(_msg("/mural/signal", 0.5))
    outer = OscBundleBuilder(time.time() + 3600)  # a future time tag does not delay anything
    outer.add_content(_msg("/mural/health", "p1", 90))
    outer.add_content(_msg("/mural/emotion", "p1", "awe", 0.9))
    outer.add_content(inner.build())
    outer.add_content(_msg("/mural/marker", "last"))
    client.send(outer.build())
    events = collect(5)
    assert [type(e).__name__ for e in events] == [
        "EmotionEvent", "MarkerEvent", "SignalEvent", "MarkerEvent"
    ]
    assert events[0].heart_rate == 90.0
    assert [e.name for e in events if isinstance(e, MarkerEvent)] == ["in", "last"]


def _msg(address: str, *values: object):
    builder = OscMessageBuilder(address)
    for value in values:
        builder.add_arg(value)
    return builder.build()


def test_bad_input_is_counted_and_the_source_keeps_working(osc, caplog) -> None:
    started = time.monotonic()
    source, client, collect = osc
    sock = client._sock
    garbage = [
        b"",
        b"hello world",
        b"\x00\x01\x02\x03" * 10,
        b"/mural/emotion",  # address not NUL-terminated
        b"/mural/emotion\x00\x00,sf",  # type tags, no arguments behind them
        # an unknown type tag python-osc would skip, shifting the arguments
        b"/mural/emotion\x00\x00,sXf\x00\x00\x00\x00p1\x00\x00" + struct.pack(">f", 0.5),
        b"#bundle\x00" + b"\x00" * 8 + b"\x7f\xff\xff\xff/x",  # element size past the end
        b"/mural/marker\x00\x00\x00,s\x00\x00\xff\xfe\x00\x00",  # a string that is not UTF-8
    ]
    for dgram in garbage:
        sock.sendto(dgram, ("127.0.0.1", source.port))
    bad = [
        ("/mural/emotion", ["p1", "joy", "loud"]),  # wrong type
        ("/mural/emotion", ["p1", "joy"]),  # missing argument
        ("/mural/emotion", ["p1", "joy", 0.5, 0.5]),  # x without y
        ("/mural/emotion", ["p1", "rage", 0.5]),  # unknown emotion
        ("/mural/emotion", ["p1", "joy", math.nan]),
        ("/mural/emotion", ["p1", "joy", 1.5]),  # out of range
        ("/mural/emotion", ["", "joy", 0.5]),  # empty participant
        ("/mural/va", ["p1", 2.0, 0.5]),
        ("/mural/signal", [math.inf]),
        ("/mural/signal", [True]),  # a bool is not a level
        ("/mural/marker", []),
        ("/mural/unknown", [1]),
        ("/mural/emotion/extra", ["p1", "joy", 0.5]),
    ]
    with caplog.at_level(logging.WARNING, logger="mural.sources.osc"):
        for address, args in bad:
            client.send_message(address, args)
        client.send_message("/mural/emotion", ["p9", "hope", 0.3])
        events = collect(len(garbage) + len(bad) + 1)
    # the empty datagram may be swallowed by the kernel or read as b""; either way not accepted
    assert source.stats.malformed in (len(garbage) - 1, len(garbage))
    assert source.stats.rejected == len(bad)
    assert source.stats.accepted == 1
    assert [(e.participant, e.emotion) for e in events] == [("p9", "hope")]
    warnings = [r for r in caplog.records if r.name == "mural.sources.osc"]
    assert 1 <= len(warnings) <= 1 + time.monotonic() - started  # rate-limited: ~1 per second
    assert not [r for r in caplog.records if r.name == "root"]  # python-osc noise filtered


def test_port_in_use_names_host_and_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(SourceError, match=rf"host 127\.0\.0\.1 port {port}.*in use"):
            open_source(f"osc://127.0.0.1:{port}")


def test_uri_defaults_and_errors() -> None:
    clock = monotonic_clock()
    source = open_source("osc://:0", clock=clock)
    try:
        assert isinstance(source, EventSource)
        assert source.live and not source.finished
        assert source.host == "127.0.0.1"
        assert source.address == f"osc://127.0.0.1:{source.port}"
    finally:
        source.close()
    assert source.finished
    for bad in ("osc://127.0.0.1", "osc://127.0.0.1:notaport", "osc://127.0.0.1:99999"):
        with pytest.raises(SourceError):
            open_source(bad)


def test_close_releases_the_port_promptly() -> None:
    source = open_osc("osc://127.0.0.1:0", clock=monotonic_clock())
    port = source.port
    started = time.monotonic()
    source.close()
    assert time.monotonic() - started < 1.0
    assert not source._thread.is_alive()
    again = open_osc(f"osc://127.0.0.1:{port}", clock=monotonic_clock())
    again.close()


def test_strict_counts_and_reports_but_never_raises_or_reopens() -> None:
    """Under --strict a bad datagram used to be raised from poll(); the resilient wrapper then
    closed the listener and reopened it a second later, losing the good events sent meanwhile.
    Now strict counts, warns and keeps the first problem; the listener stays up."""
    now = [0.0]  # the session clock stands still: a reopening would never come
    source = open_source("osc://127.0.0.1:0", strict=True, clock=lambda: now[0], resilient=True)
    try:
        port = source.inner.port
        got: list[Event] = []
        with SimpleUDPClient("127.0.0.1", port) as client:
            for i in range(40):
                client.send_message("/mural/emotion", [f"p{i}", "joy", 0.5])
                if i % 4 == 0:
                    client._sock.sendto(b"garbage", ("127.0.0.1", port))
                    client.send_message("/mural/emotion", ["p1", "rage", 0.5])
                got += source.poll(now[0])
            deadline = time.monotonic() + 3
            while len(got) < 40 and time.monotonic() < deadline:
                got += source.poll(now[0])
                time.sleep(0.005)
        assert [e.participant for e in got] == [f"p{i}" for i in range(40)]
        assert source.healthy and source.restarts == 0 and source.last_error is None
        stats = source.stats
        assert (stats.accepted, stats.malformed, stats.rejected) == (40, 10, 10)
        first = source.inner.first_problem
        assert first is not None and ("garbage" in first or "datagram" in first)
    finally:
        source.close()


def test_event_to_osc_round_trips_what_the_address_space_carries(osc) -> None:
    source, client, collect = osc
    sent = [
        EmotionEvent(t=0, participant="a", valence=0.8, arousal=0.65, intensity=0.5,
                     emotion="joy", x=0.25, y=0.5, heart_rate=70.0),
        EmotionEvent(t=0, participant="b", valence=-0.25, arousal=0.5, intensity=0.75),
        SignalEvent(t=0, level=0.5, participant="b"),
        MarkerEvent(t=0, name="end"),
    ]
    for event in sent:
        client.send(pack(event_to_osc(event)))
    got = collect(5)  # the heart rate travels as its own /mural/health message
    assert [e.to_dict() | {"t": 0} for e in got] == [e.to_dict() for e in sent]


# -- flood control ----------------------------------------------------------------------------


def test_flood_stays_bounded_and_counts_drops() -> None:
    """25,000 packets from 5,000 participants while nobody polls: the queue stops at its cap."""
    clock = monotonic_clock()
    source = OscSource("127.0.0.1", 0, clock=clock, cap=2_000, soft=500)
    packets = [message("/mural/emotion", (f"p{i}", "s"), ("joy", "s"), (0.5, "f"))
               for i in range(5_000)]
    signal = message("/mural/signal", (0.5, "f"))
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(25_000):
                sock.sendto(signal if i % 100 == 0 else packets[i % 5_000],
                            ("127.0.0.1", source.port))
        last = -1
        while last != source.stats.accepted:  # wait for the receiver to go idle
            last = source.stats.accepted
            time.sleep(0.2)
        assert len(source.queue) <= 2_000
        assert source.queue.high_water <= 2_000
        stats = source.stats
        assert stats.accepted > 2_000
        assert stats.dropped >= stats.accepted - 2_000  # kernel drops are counted too
        events = source.poll(clock())
        assert len(events) == min(stats.accepted, 2_000)
        assert [e.t for e in events] == sorted(e.t for e in events)
        assert len(source.queue) == 0
    finally:
        source.close()


def _emotion(t: float, who: str) -> EmotionEvent:
    return EmotionEvent(t=t, participant=who, valence=0.0, arousal=0.3, emotion="neutral")


def test_queue_keeps_everything_below_the_soft_limit() -> None:
    stats = SourceStats()
    queue = LiveQueue(stats, cap=100, soft=10)
    for i in range(9):
        queue.push(_emotion(i, "p1"))
    assert len(queue) == 9 and stats.dropped == 0
    assert [e.t for e in queue.pop_until(4)] == [0, 1, 2, 3, 4]
    assert [e.t for e in queue.pop_until(100)] == [5, 6, 7, 8]


def test_queue_coalesces_per_participant_under_pressure_and_keeps_signals() -> None:
    stats = SourceStats()
    queue = LiveQueue(stats, cap=1_000, soft=10)
    t = 0.0
    for round_ in range(500):
        for who in ("a", "b", "c"):
            t += 1
            queue.push(_emotion(t, who))
        if round_ % 50 == 0:
            t += 1
            queue.push(SignalEvent(t=t, level=0.5))
            t += 1
            queue.push(MarkerEvent(t=t, name=f"m{round_}"))
    events = queue.pop_until(t)
    assert len(events) < 40
    assert sum(isinstance(e, SignalEvent) for e in events) == 10  # never coalesced
    assert sum(isinstance(e, MarkerEvent) for e in events) == 10
    latest = {e.participant: e.t for e in events if isinstance(e, EmotionEvent)}
    assert latest == {"a": t - 2, "b": t - 1, "c": t}  # each participant's newest survives
    assert [e.t for e in events] == sorted(e.t for e in events)
    assert stats.dropped == 1_500 + 20 - len(events)


def test_queue_sheds_the_oldest_at_the_hard_cap() -> None:
    stats = SourceStats()
    queue = LiveQueue(stats, cap=50, soft=10)
    for i in range(200):
        queue.push(SignalEvent(t=float(i), level=0.5))
    assert len(queue) == 50 and queue.high_water == 50 and stats.dropped == 150
    assert [e.t for e in queue.pop_until(1e9)] == [float(i) for i in range(150, 200)]


def test_queue_never_goes_back_in_time() -> None:
    queue = LiveQueue(SourceStats())
    queue.push(_emotion(2.0, "a"))
    queue.push(_emotion(1.0, "b"))  # a clock stamp that raced: clamped, order kept
    assert [(e.participant, e.t) for e in queue.pop_until(5)] == [("a", 2.0), ("b", 2.0)]


def test_poll_is_linear_in_what_it_returns() -> None:
    queue = LiveQueue(SourceStats(), cap=10_000, soft=10_000)
    for i in range(10_000):
        queue.push(SignalEvent(t=float(i), level=0.5))
    assert len(queue.pop_until(-1)) == 0  # nothing due: touches one entry
    assert len(queue.pop_until(9_999)) == 10_000
