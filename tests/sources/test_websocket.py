"""WebSocket source: real loopback connections with websockets' sync client."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mural.events import EmotionEvent, MarkerEvent, SignalEvent
from mural.sources import SourceError, SourceStats, open_source
from mural.sources.websocket import WebSocketSource, open_websocket


class Ticks:
    """A session clock that moves 1 s per reading, so stamped times are predictable."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def settle(source: WebSocketSource, until: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; stats {source.stats}")
        time.sleep(0.005)


def judged(stats: SourceStats) -> int:
    return stats.accepted + stats.rejected + stats.malformed


@pytest.fixture
def ws() -> Iterator[WebSocketSource]:
    source = open_websocket("ws://127.0.0.1:0", clock=Ticks())
    yield source
    source.close()


def client(source: WebSocketSource):
    return connect(f"ws://127.0.0.1:{source.port}", proxy=None, open_timeout=5)


def test_messages_become_events_stamped_on_arrival(ws) -> None:
    with client(ws) as conn:
        conn.send(json.dumps({"participant": "p1", "emotion": "joy", "intensity": 0.8}))
        conn.send(json.dumps({"t": 99999, "participant": "p2", "valence": -0.5, "arousal": 0.1}))
        conn.send(json.dumps({"type": "signal", "level": 0.3, "participant": "p2"}))
        conn.send(json.dumps({"type": "marker", "name": "intermission"}))
        conn.send(json.dumps({"participant": "p3", "emotion": "awe", "heart_rate": 88}))
        settle(ws, lambda: judged(ws.stats) == 5)
    events = ws.poll(1e9)
    assert [type(e) for e in events] == [EmotionEvent, EmotionEvent, SignalEvent, MarkerEvent,
                                         EmotionEvent]
    assert [e.t for e in events] == [101.0, 102.0, 103.0, 104.0, 105.0]  # the sender's t ignored
    assert (events[0].emotion, events[0].intensity) == ("joy", 0.8)
    assert (events[1].valence, events[1].arousal) == (-0.5, 0.1)
    assert events[4].heart_rate == 88.0
    assert ws.stats == SourceStats(accepted=5)
    assert ws.poll(1e9) == []


def test_good_messages_keep_flowing_after_bad_ones_on_one_connection(ws, caplog) -> None:
    started = time.monotonic()
    bad_json = ["not json", "{", "", "[1, 2]", '"text"', "null", "[" * 60_000]  # < 64 KiB
    invalid = [
        {"participant": "p1", "emotion": "rage"},  # unknown emotion
        {"participant": "p1"},  # neither label nor point
        {"participant": "p1", "emotion": "joy", "intensity": 7},  # out of range
        {"participant": "p1", "emotion": "joy", "intensity": "high"},  # wrong type
        {"type": "signal"},  # missing level
        {"type": "wat"},
        {"participant": "p1", "valence": 10**400, "arousal": 0.5},  # too big for a float
    ]
    with caplog.at_level(logging.WARNING, logger="mural.sources.websocket"), client(ws) as conn:
        conn.send(json.dumps({"participant": "p1", "emotion": "joy"}))
        for text in bad_json:
            conn.send(text)
        conn.send(b"\xff\xfe\x00")  # binary, not UTF-8
        conn.send('{"participant": "p1", "valence": NaN, "arousal": 0.5}')
        for obj in invalid:
            conn.send(json.dumps(obj))
        conn.send(json.dumps({"participant": "p1", "emotion": "calm"}))
        settle(ws, lambda: judged(ws.stats) == 2 + len(bad_json) + 1 + 1 + len(invalid))
        conn.send(json.dumps({"type": "marker", "name": "still-open"}))
        settle(ws, lambda: ws.stats.accepted == 3)
    assert [getattr(e, "emotion", None) or e.name for e in ws.poll(1e9)] == [
        "joy", "calm", "still-open"
    ]
    assert ws.stats.malformed == len(bad_json) + 1
    assert ws.stats.rejected == len(invalid) + 1  # + NaN
    warnings = [r for r in caplog.records if r.name == "mural.sources.websocket"]
    assert 1 <= len(warnings) <= 1 + time.monotonic() - started  # rate-limited: ~1 per second


def test_several_clients_at_once(ws) -> None:
    with client(ws) as a, client(ws) as b:
        a.send(json.dumps({"participant": "a", "emotion": "joy"}))
        b.send(json.dumps({"participant": "b", "emotion": "fear"}))
        a.send(json.dumps({"participant": "a", "emotion": "hope"}))
        settle(ws, lambda: ws.stats.accepted == 3)
        assert ws.connections == 2
    assert sorted(e.participant for e in ws.poll(1e9)) == ["a", "a", "b"]


def test_port_in_use_names_host_and_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SourceError, match=rf"host 127\.0\.0\.1 port {port}.*in use"):
            open_source(f"ws://127.0.0.1:{port}")


def test_default_host_and_uri_errors() -> None:
    source = open_source("ws://:0")
    try:
        assert source.live and source.host == "127.0.0.1" and source.port > 0
        assert source.name == f"ws://127.0.0.1:{source.port}"
    finally:
        source.close()
    with pytest.raises(SourceError, match="needs a port"):
        open_source("ws://127.0.0.1")


def test_close_ends_connections_and_releases_the_port() -> None:
    source = open_websocket("ws://127.0.0.1:0", clock=Ticks())
    port = source.port
    with client(source) as conn:
        conn.send(json.dumps({"participant": "p1", "emotion": "joy"}))
        settle(source, lambda: source.stats.accepted == 1)
        started = time.monotonic()
        source.close()
        assert time.monotonic() - started < 2.0
        with pytest.raises(ConnectionClosed):
            conn.recv(timeout=2)
    assert source.finished is False  # one event is still waiting to be polled
    assert len(source.poll(1e9)) == 1 and source.finished
    again = open_websocket(f"ws://127.0.0.1:{port}", clock=Ticks())
    again.close()
