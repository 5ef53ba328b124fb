"""Live inputs tried as a hostile or clumsy user would, over loopback, with real clients.

Keys, allow-lists, Origin checks, connection caps, per-connection memory bounds, slowloris,
running out of file descriptors, strict mode on live sources, and SOURCE strings that are not
understood. Servers whose memory or file descriptors are measured run in subprocesses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import websockets
from click.testing import CliRunner
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from mural.cli import main
from mural.events import EmotionEvent, Event, SignalEvent
from mural.sources import (
    SCHEMES,
    SourceError,
    is_live,
    open_source,
    scheme_for,
    scheme_of,
    with_key,
)
from mural.sources.offline import load_offline
from mural.sources.osc import OscSource, event_to_osc, pack
from mural.sources.websocket import MAX_MESSAGE, WebSocketSource, handshake_slack

KEY = "s3cret-Key"


class Still:
    """A session clock that only moves when told (nothing here waits on the wall clock)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def settle(until: Callable[[], bool], what: object = "", timeout: float = 3.0) -> None:
    """Wait (briefly) for a receiver thread to catch up; `what` may be a callable."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"timed out: {what() if callable(what) else what}"
        time.sleep(0.005)


def judged(source) -> int:
    s = source.stats
    return s.accepted + s.rejected + s.malformed + s.refused


def message(address: str, *values: object):
    builder = OscMessageBuilder(address)
    for value in values:
        builder.add_arg(value)
    return builder.build()


def bundle(*contents):
    builder = OscBundleBuilder(IMMEDIATELY)
    for content in contents:
        builder.add_content(content)
    return builder.build()


@pytest.fixture
def keyed_osc() -> Iterator[tuple[OscSource, SimpleUDPClient]]:
    source = open_source(f"osc://127.0.0.1:0?key={KEY}", clock=Still())
    client = SimpleUDPClient("127.0.0.1", source.port)
    yield source, client
    client.close()
    source.close()


# -- OSC: the key ----------------------------------------------------------------------------


def test_osc_with_a_key_takes_only_messages_that_carry_it(keyed_osc, caplog) -> None:
    source, client = keyed_osc
    client.send_message("/mural/emotion", ["p1", "joy", 0.5])  # no key
    client.send_message("/mural/emotion", ["wrong", "p1", "joy", 0.5])
    client.send_message("/mural/emotion", [KEY + "x", "p1", "joy", 0.5])
    client.send_message("/mural/signal", [0.5])  # no key: a float first
    client.send_message("/mural/emotion", [KEY, "p2", "calm", 0.25])  # the key first: taken
    client.send_message("/mural/va", [KEY, "p3", 0.5, 0.5])
    client.send(pack(event_to_osc(SignalEvent(t=0, level=0.75), key=KEY)))  # as `mural send`
    # a bundle vouched for by /mural/auth: its messages need no key of their own
    client.send(bundle(message("/mural/auth", KEY), message("/mural/marker", "vouched"),
                       message("/mural/signal", 0.25, "p2")))
    # a bundle with a wrong /mural/auth: refused, except the message that carries the key
    client.send(bundle(message("/mural/auth", "nope"), message("/mural/marker", "no"),
                       message("/mural/marker", KEY, "own-key")))
    settle(lambda: judged(source) == 11, lambda: source.stats)
    events = source.poll(1e9)
    assert [(type(e).__name__, getattr(e, "participant", None) or getattr(e, "name", None))
            for e in events] == [
        ("EmotionEvent", "p2"), ("EmotionEvent", "p3"), ("SignalEvent", None),
        ("MarkerEvent", "vouched"), ("SignalEvent", "p2"), ("MarkerEvent", "own-key"),
    ]
    assert events[0].emotion == "calm" and events[0].intensity == 0.25
    assert source.stats.refused == 5 and source.stats.accepted == 6
    assert source.stats.rejected == source.stats.malformed == 0
    assert "without the key" in caplog.text


def test_osc_key_with_a_map_file_keeps_the_map_argument_indices(tmp_path: Path) -> None:
    """The map hook still works with a key: the key argument is removed before mapping."""
    osc_map = tmp_path / "faders.toml"
    osc_map.write_text('[[route]]\naddress = "/1/fader1"\nfield = "valence"\nparticipant = "ana"\n'
                       "out = [-1.0, 1.0]\n")
    source = open_source(f"osc://127.0.0.1:0?map={osc_map}&key={KEY}", clock=Still())
    try:
        with SimpleUDPClient("127.0.0.1", source.port) as client:
            client.send_message("/1/fader1", [1.0])  # TouchOSC without the key
            client.send_message("/1/fader1", [KEY, 1.0])  # with it, as the first argument
            settle(lambda: source.stats.refused == 1 and source.stats.accepted >= 1,
                   lambda: source.stats)
        events = [e for e in source.poll(1e9) if isinstance(e, EmotionEvent)]
        assert events and events[-1].participant == "ana" and events[-1].valence == 1.0
    finally:
        source.close()


def test_osc_allow_list_drops_other_senders_unparsed() -> None:
    elsewhere = open_source("osc://127.0.0.1:0?allow=10.0.0.0/8,192.168.1.7", clock=Still())
    here = open_source("osc://127.0.0.1:0?allow=10.0.0.0/8,127.0.0.1", clock=Still())
    try:
        for source in (elsewhere, here):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(b"garbage, never parsed when refused", ("127.0.0.1", source.port))
                sock.sendto(message("/mural/marker", "hi").dgram, ("127.0.0.1", source.port))
        settle(lambda: judged(elsewhere) == 2 and judged(here) == 2)
        assert (elsewhere.stats.refused, elsewhere.stats.malformed, elsewhere.stats.accepted) == (
            2, 0, 0)
        assert elsewhere.poll(1e9) == []
        assert (here.stats.refused, here.stats.malformed, here.stats.accepted) == (0, 1, 1)
        assert [e.name for e in here.poll(1e9)] == ["hi"]
    finally:
        elsewhere.close()
        here.close()


@pytest.mark.parametrize(("uri", "words"), [
    ("osc://127.0.0.1:0?nope=1", ["'nope'", "key=", "allow=", "map="]),
    ("osc://127.0.0.1:0?key=", ["key", "empty"]),
    ("osc://127.0.0.1:0?key=a&key=b", ["twice"]),
    ("osc://127.0.0.1:0?key=has space", ["spaces"]),
    ("osc://127.0.0.1:0?allow=mural.example", ["'mural.example'", "not an IP"]),
    ("osc://127.0.0.1:0?allow=", ["at least one"]),
    ("ws://127.0.0.1:0?nope=1", ["'nope'", "key=", "origin=", "max_connections="]),
    ("ws://127.0.0.1:0?max_connections=0", ["max_connections", "1..10000"]),
    ("ws://127.0.0.1:0?max_connections=lots", ["max_connections"]),
    ("ws://127.0.0.1:0?origin=evil", ["'evil'", "not an origin"]),
    ("ws://127.0.0.1:0?allow=10.0.0.0/33", ["not an IP"]),
    ("web://127.0.0.1:0?nope=1", ["'nope'", "join_ttl", "max_phones"]),
])
def test_unknown_or_bad_query_parameters_say_what_is_accepted(uri: str, words: list[str]
                                                              ) -> None:
    with pytest.raises(SourceError) as caught:
        open_source(uri, clock=Still())
    for word in words:
        assert word in str(caught.value)


# -- SOURCE strings ----------------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["foo://x", "http://127.0.0.1:9000", "OSC://127.0.0.1:9000"])
def test_an_unknown_scheme_is_not_a_missing_file(uri: str) -> None:
    for attempt in (lambda: open_source(uri), lambda: load_offline(uri), lambda: scheme_for(uri),
                    lambda: SCHEMES[scheme_of(uri)]):
        with pytest.raises(SourceError) as caught:
            attempt()
        text = str(caught.value)
        assert "unknown source scheme" in text and "no such file" not in text
        assert "osc://" in text and "ws://" in text and "sim:NAME" in text
    assert scheme_of(uri) not in SCHEMES and not is_live(uri)  # asking does not raise


def test_a_session_with_an_unknown_scheme_names_it_on_its_line(tmp_path: Path) -> None:
    session = tmp_path / "show.toml"
    session.write_text('[mural]\nsize = "64x36"\n\n[[source]]\nuri = "foo://x"\n')
    result = CliRunner().invoke(main, ["validate", str(session)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{session}:5: source foo://x: unknown source scheme 'foo://'" in result.output


def test_a_listener_without_its_slashes_is_explained() -> None:
    with pytest.raises(SourceError, match=r"expected osc://HOST:PORT, got 'osc:9000'"):
        open_source("osc:9000")


def test_files_and_file_uris_still_work(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    path.write_text('{"t": 1, "participant": "p1", "emotion": "joy"}\n')
    for uri in (str(path), f"file://{path}"):
        assert scheme_of(uri) == "file"
        assert [e.participant for e in load_offline(uri).events] == ["p1"]
    assert scheme_of("sim:festival") == "sim" and scheme_of("-") == "stdin"
    with pytest.raises(Exception, match="no such file"):
        load_offline(str(tmp_path / "missing.jsonl"))


def test_with_key_adds_a_key_to_keyed_listeners_only() -> None:
    assert with_key("osc://:9000", "k/1&") == "osc://:9000?key=k%2F1%26"
    assert with_key("ws://127.0.0.1:9001?max_connections=8", "k") == (
        "ws://127.0.0.1:9001?max_connections=8&key=k")
    assert with_key("ws://127.0.0.1:9001?key=own", "k") == "ws://127.0.0.1:9001?key=own"
    for other in ("web://:8080", "take.jsonl", "sim:festival", "-", "brainflow://synthetic"):
        assert with_key(other, "k") == other
    for bad in ("", "two words", "x" * 300):
        with pytest.raises(SourceError):
            with_key("osc://:9000", bad)
    source = open_source(with_key("osc://127.0.0.1:0", "k/1&"), clock=Still())
    try:
        assert source.key == "k/1&"
    finally:
        source.close()


# -- strict on live sources --------------------------------------------------------------------


def test_strict_websocket_counts_bad_input_and_keeps_serving() -> None:
    clock = Still()
    source = open_source("ws://127.0.0.1:0", strict=True, clock=clock, resilient=True)
    try:
        got: list[Event] = []
        with connect(f"ws://127.0.0.1:{source.inner.port}", proxy=None, open_timeout=5) as conn:
            for i in range(20):
                conn.send("garbage")
                got += source.poll(0.0)
                conn.send(json.dumps({"participant": f"p{i}", "emotion": "joy"}))
            settle(lambda: source.inner is not None and source.inner.stats.accepted == 20)
            got += source.poll(0.0)
        assert [e.participant for e in got] == [f"p{i}" for i in range(20)]
        assert source.healthy and source.restarts == 0
        assert source.stats.malformed == 20 and "not JSON" in source.inner.first_problem
    finally:
        source.close()


# -- WebSocket: key, Origin, cap -------------------------------------------------------------


def ws_status(uri: str, **kwargs) -> int:
    """101 when the handshake succeeds, else the HTTP status it was refused with."""
    try:
        with connect(uri, proxy=None, open_timeout=5, **kwargs) as conn:
            conn.send(json.dumps({"type": "marker", "name": "in"}))
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_websocket_key_in_the_query_or_a_bearer_header() -> None:
    source = open_source(f"ws://127.0.0.1:0?key={KEY}", clock=Still())
    url = f"ws://127.0.0.1:{source.port}"
    try:
        assert ws_status(url) == 401
        assert ws_status(f"{url}/?key=wrong") == 403
        assert ws_status(url, additional_headers={"Authorization": "Bearer nope"}) == 403
        assert ws_status(f"{url}/?key={KEY}") == 101
        assert ws_status(url, additional_headers={"Authorization": f"Bearer {KEY}"}) == 101
        settle(lambda: source.stats.accepted == 2)
        assert source.stats.refused == 3
        assert [e.name for e in source.poll(1e9)] == ["in", "in"]
    finally:
        source.close()


def test_websocket_origin_allow_list() -> None:
    plain = open_source("ws://127.0.0.1:0", clock=Still())
    listed = open_source("ws://127.0.0.1:0?origin=https://a.example,http://localhost:8000",
                         clock=Still())
    try:
        p, q = f"ws://127.0.0.1:{plain.port}", f"ws://127.0.0.1:{listed.port}"
        assert ws_status(p) == 101  # programs send no Origin
        assert ws_status(p, origin="https://a.example") == 403  # browsers: none by default
        assert ws_status(q, origin="https://a.example") == 101
        assert ws_status(q, origin="http://LOCALHOST:8000") == 101
        assert ws_status(q, origin="https://evil.example") == 403
        assert ws_status(q, additional_headers=[("Origin", "https://a.example"),
                                                ("Origin", "https://evil.example")]) == 403
        assert ws_status(q) == 101
        assert plain.stats.refused == 1 and listed.stats.refused == 2
    finally:
        plain.close()
        listed.close()


def test_websocket_connection_cap_answers_503_and_frees_slots() -> None:
    source = open_source("ws://127.0.0.1:0?max_connections=3", clock=Still())
    url = f"ws://127.0.0.1:{source.port}"
    try:
        with contextlib.ExitStack() as stack:
            held = [stack.enter_context(connect(url, proxy=None, open_timeout=5))
                    for _ in range(3)]
            assert source.connections == 3
            assert ws_status(url) == 503
            held[0].close()
            settle(lambda: source.connections == 2)
            assert ws_status(url) == 101
        settle(lambda: source.connections == 0 and source.sockets == 0)
        assert source.stats.refused == 1
    finally:
        source.close()


def test_websocket_idle_tcp_flood_and_slowloris_are_bounded() -> None:
    """Connections that never finish their handshake: those past the cap's margin are closed
    at once, the others when the handshake timeout ends; then a real client gets in."""
    source = WebSocketSource("127.0.0.1", 0, clock=Still(), max_connections=2,
                             handshake_timeout=1.0)
    limit = 2 + handshake_slack(2)
    idle = []
    try:
        for _ in range(limit + 10):
            sock = socket.create_connection(("127.0.0.1", source.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            idle.append(sock)
        settle(lambda: source.stats.refused >= 10, lambda: source.stats)
        assert source.sockets <= limit
        for sock in idle:  # every one is closed by the server, none hangs past the timeout
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(100) == b""
        settle(lambda: source.sockets == 0)
        assert ws_status(f"ws://127.0.0.1:{source.port}") == 101
    finally:
        for sock in idle:
            sock.close()
        source.close()


def test_a_message_over_the_limit_closes_only_its_connection() -> None:
    source = open_source("ws://127.0.0.1:0", clock=Still())
    url = f"ws://127.0.0.1:{source.port}"
    try:
        with connect(url, proxy=None, open_timeout=5) as big, \
                connect(url, proxy=None, open_timeout=5) as good:
            big.send("x" * (MAX_MESSAGE + 1))
            with pytest.raises(ConnectionClosed) as closed:
                big.recv(timeout=3)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            good.send(json.dumps({"type": "marker", "name": "still-here"}))
            settle(lambda: source.stats.accepted == 1)
        assert source.stats.malformed == 1
        assert [e.name for e in source.poll(1e9)] == ["still-here"]
    finally:
        source.close()


def test_a_client_that_does_not_read_its_pongs_is_dropped() -> None:
    """Pings from a client that never reads: the pongs would pile up in the server's memory."""
    source = open_source("ws://127.0.0.1:0", clock=Still())
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", source.port))
        finish_handshake(sock)
        ping = bytes([0x89, 0x80 | 125]) + b"mask" + b"p" * 125
        with pytest.raises(OSError):  # reset by the server long before 25 MB of pings
            for _ in range(200):
                sock.sendall(ping * 1000)
        settle(lambda: source.stats.refused == 1 and source.sockets == 0)
    finally:
        sock.close()
        source.close()


# -- in subprocesses: memory and file descriptors ------------------------------------------------

SERVER = """
import resource, sys, time
from mural.sources import open_source
limit = int(sys.argv[2])
if limit:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
import logging
logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
source = open_source(sys.argv[1], clock=time.monotonic)
print(source.port, flush=True)
for line in sys.stdin:
    s = source.stats
    rss = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmRSS")][0]
    print(int(rss), s.accepted, s.malformed, getattr(s, "refused", 0), source.connections,
          flush=True)
source.close()
"""


class Server:
    """A source in its own process, asked for its memory and counts one line at a time."""

    def __init__(self, uri: str, fd_limit: int = 0) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, uri, str(fd_limit)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def ask(self) -> tuple[int, int, int, int, int]:
        self.proc.stdin.write("?\n")
        self.proc.stdin.flush()
        rss, *counts = (int(x) for x in self.proc.stdout.readline().split())
        return (rss * 1024, *counts)  # type: ignore[return-value]

    def stop(self) -> str:
        _, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err
        return err


def handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    finish_handshake(sock)
    return sock


def finish_handshake(sock: socket.socket) -> None:
    """A WebSocket opening handshake by hand, on a connected raw socket."""
    sock.settimeout(5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, f"closed during the handshake: {response!r}"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_partial_frames_cannot_take_the_memory() -> None:
    """Before: 1,000 connections each holding a 1 MB partial frame took 1 GB. Now a frame
    announcing more than the message limit closes its connection as soon as its header is in."""
    server = Server("ws://127.0.0.1:0?max_connections=300")
    conns = 200
    payload = b"\0" * 900_000
    header = bytes([0x81, 0xFF]) + (1_000_000).to_bytes(8, "big") + b"mask"  # text, masked
    socks = []
    try:
        before = server.ask()[0]
        for _ in range(conns):
            sock = handshake(server.port)
            socks.append(sock)
            with contextlib.suppress(OSError):  # closed by the server meanwhile: as it should
                sock.sendall(header + payload)  # the frame's last 100 KB never come
        rss = server.ask()[0]
        assert rss - before < 40 * 1024 * 1024, f"grew {(rss - before) // 2**20} MiB"
        settle(lambda: server.ask()[2] == conns, "every oversized frame counted", timeout=6)
    finally:
        for sock in socks:
            sock.close()
        err = server.stop()
    assert "Traceback" not in err


@pytest.mark.skipif(sys.platform != "linux", reason="file descriptor limits as on Linux")
def test_running_out_of_file_descriptors_is_a_warning_not_a_traceback() -> None:
    """More clients than the process may open files: accept() fails with EMFILE. One
    rate-limited warning, no traceback, and once clients leave the listener accepts again."""
    server = Server("ws://127.0.0.1:0?max_connections=500", fd_limit=64)
    url = f"ws://127.0.0.1:{server.port}"

    async def crowd(count: int) -> list:
        async def one():
            try:
                return await websockets.connect(url, open_timeout=1.5, proxy=None)
            except (OSError, TimeoutError, InvalidStatus, websockets.InvalidHandshake):
                return None
        return await asyncio.gather(*(one() for _ in range(count)))

    async def scenario() -> tuple[int, int]:
        held = [c for c in await crowd(100) if c is not None]
        opened = len(held)
        for conn in held:
            await conn.close()
        deadline = time.monotonic() + 10
        while True:  # accepting resumes within asyncio's one-second back-off
            try:
                async with websockets.connect(url, open_timeout=2, proxy=None) as conn:
                    await conn.send(json.dumps({"type": "marker", "name": "back"}))
                    break
            except (OSError, TimeoutError, websockets.InvalidHandshake):
                assert time.monotonic() < deadline, "the listener never accepted again"
                await asyncio.sleep(0.1)
        return opened, len(held)

    try:
        opened, _ = asyncio.run(scenario())
        assert 0 < opened < 100  # some got in, the rest met the descriptor limit
        settle(lambda: server.ask()[1] == 1, "the marker sent after the crowd left")
    finally:
        err = server.stop()
    assert "Traceback" not in err and "cannot accept a connection" in err
    assert err.count("cannot accept a connection") <= 15  # rate-limited, ~once a second
