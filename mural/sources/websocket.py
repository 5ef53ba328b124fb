"""`ws://HOST:PORT`: a WebSocket server taking one JSON event per text message.

Each message is one object in the stream-file schema (`{"participant": "p1", "emotion": "joy",
"intensity": 0.8}`, `{"type": "signal", "level": 0.4}`, `{"type": "marker", "name": "cue"}`).
Live events are stamped with the session clock when the message arrives: a `t` in the message is
ignored, so a sender's clock can neither reorder nor delay the stream. Bad messages are counted
(malformed: not JSON or not an object; rejected: not a valid event) and the connection stays
open, so a client's next good message still gets through; strict or not, bad input never closes
the listener. The server runs on an asyncio loop in a background thread, so a slow or hostile
client never blocks the render loop: `poll()` only pops a queue.

Doors (query parameters; anything else is refused at open, naming what is accepted):

    key=SECRET              the handshake must present it: `ws://HOST:PORT/?key=SECRET` on the
                            client's URL, or an `Authorization: Bearer SECRET` header (what
                            `mural send "ws://HOST:PORT?key=SECRET"` sends). Missing: HTTP 401;
                            wrong: HTTP 403.
    origin=ORIGIN[,...]     browser pages allowed to connect (`https://a.example`, `*` for any,
                            `null` for a page opened from a file). A handshake with an `Origin`
                            header not listed is refused with 403 (no cross-site hijacking);
                            by default no browser origin is allowed. Programs that are not
                            browsers send no Origin and are not affected.
    allow=ADDR[,ADDR|NET]   only these client addresses (127.0.0.1, 10.0.0.0/8, ...); others
                            are disconnected as they connect, before reading anything.
    max_connections=N       open WebSocket connections at once (default 64, 1..10000); the next
                            handshake is answered 503. TCP connections still in their handshake
                            may exceed it by a quarter of it (at least 8); past that they are
                            closed as they connect.

Bounds per connection, against floods and slow clients: a message (or fragment) of at most 64 KiB
(a bigger one closes that connection with code 1009, counted as malformed), at most 4 frames
queued before the server stops reading from it, reads of 16 KiB, a client that does not read
what the server writes (pongs) is dropped once 256 KiB are waiting, the opening handshake must
finish within 5 s (slowloris), and keepalive pings (every 20 s, 20 s to answer) find dead
peers; a connection the server has closed (a message too big) but the peer keeps open is cut a
second later. So an open connection holds well under 1 MB (a handshake in progress at most the
websockets library's header limit, 128 lines of 8 KiB, for 5 s), and there are at most
`max_connections` of them plus the handshake margin. What is turned away counts as
refused, with a rate-limited warning. When the process runs out of file descriptors, `accept()`
failing is one rate-limited warning and a one-second pause of accepting (asyncio's), never a
traceback and never the end of the listener. The host defaults to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
import time
from collections.abc import Collection, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from mural.sources.live import (
    QUEUE_CAP,
    QUEUE_SOFT,
    AllowList,
    Clock,
    LiveSource,
    RateLimitedWarning,
    format_address,
    key_matches,
    option_key,
    parse_listen_uri,
    parse_options,
)

log = logging.getLogger(__name__)
wire_log = logging.getLogger(f"{__name__}.wire")  # what the websockets library says

OPTIONS = ("key", "origin", "allow", "max_connections")  # what ws://HOST:PORT?... takes
MAX_MESSAGE = 64 * 1024  # an event is < 1 KiB; a bigger message closes its connection (1009)
MAX_QUEUE = 4  # frames received but not yet handled, per connection, before reading pauses
READ_CHUNK = 16 * 1024  # bytes read from a socket at a time (asyncio's default is 256 KiB)
WRITE_LIMIT = 16 * 1024  # the write buffer's high-water mark
MAX_WRITE_BUFFER = 256 * 1024  # a client that lets more than this pile up (pongs) is dropped
DEFAULT_MAX_CONNECTIONS = 64
MAX_CONNECTIONS = 10_000
HANDSHAKE_TIMEOUT = 5.0  # seconds a connection may take to finish its opening handshake
CLOSE_TIMEOUT = 1.0
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
START_TIMEOUT = 10.0
OUT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def handshake_slack(max_connections: int) -> int:
    """TCP connections allowed beyond the cap while they handshake (then answered 503)."""
    return max(8, max_connections // 4)


class _QuietWire(logging.Filter):
    """The websockets library logs a failed handshake or a broken peer with a traceback; from
    a hostile client that is noise. Tracebacks are kept only at DEBUG, and records at WARNING
    and above are let through at most once a second."""

    def __init__(self) -> None:
        super().__init__()
        self._last = -1e9

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not wire_log.isEnabledFor(logging.DEBUG):
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        if record.levelno >= logging.WARNING:
            now = time.monotonic()
            if now - self._last < 1.0:
                return False
            self._last = now
        return True


wire_log.addFilter(_QuietWire())


class _Connection(ServerConnection):
    """A connection that the source counts from accept to close, and closes early when it is
    over the cap, from an address not allowed, or not reading what it is sent."""

    source: WebSocketSource
    counted = False  # in source.sockets
    slot = False  # in source.connections (a handshake that was let through)
    reaper: asyncio.TimerHandle | None = None  # ends a closing connection the peer keeps open

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        source = self.source
        if hasattr(transport, "max_size"):  # the selector transport's read size
            transport.max_size = READ_CHUNK  # type: ignore[attr-defined]
        peer = transport.get_extra_info("peername")
        # A refused socket is never counted: its close comes a loop turn after the abort, and
        # a burst of accepts would otherwise show more sockets than the cap allows meanwhile.
        if source.allow and (not peer or peer[0] not in source.allow):
            source.refuse(f"connection from {_peer(peer)}, which is not in allow={source.allow}")
            transport.abort()
        elif source.sockets >= source.max_connections + handshake_slack(source.max_connections):
            source.refuse(f"connection from {_peer(peer)}: {source.sockets} connections "
                          f"already (max_connections={source.max_connections})")
            transport.abort()
        else:
            source.sockets += 1
            self.counted = True

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.reaper is not None:
            self.reaper.cancel()
            self.reaper = None
        source = self.source
        if self.counted:
            self.counted = False
            source.sockets -= 1
        if self.slot:
            self.slot = False
            source.connections -= 1

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            self.source.refuse(f"client {_peer(self.remote_address)} does not read what it is "
                               "sent; disconnected")
            transport.abort()
        elif self.protocol.state is State.CLOSING and self.reaper is None:
            # The server closed (a message too big, a broken frame) and stopped reading: a
            # peer that never closes its side would keep the connection until the next ping.
            self.reaper = self.loop.call_later(CLOSE_TIMEOUT, transport.abort)


class WebSocketSource(LiveSource):
    """Serves on one TCP port; `.port` is the bound port (useful with port 0).

    `connections` counts the WebSocket connections open now (handshake accepted), `sockets`
    every TCP connection, handshaking or open; `accept_errors` the times accepting failed."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        strict: bool = False,
        clock: Clock,
        cap: int = QUEUE_CAP,
        soft: int = QUEUE_SOFT,
        key: str | None = None,
        origins: Collection[str] = (),
        allow: AllowList | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.address = format_address("ws", host, port)
        super().__init__(self.address, strict=strict, clock=clock, logger=log, cap=cap, soft=soft)
        self.key = key
        self.origins = frozenset(origins)
        self.allow = allow or AllowList()
        self.max_connections = int(max_connections)
        self.handshake_timeout = float(handshake_timeout)
        self.connections = 0  # WebSocket connections open right now
        self.sockets = 0  # TCP connections open right now, handshaking or not
        self.accept_errors = 0
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(self._loop_exception)
        self._stop: asyncio.Future[None] | None = None
        self._ready = threading.Event()
        self._bind_error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name=f"mural {self.address}", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            self.close()
            raise _source_error(f"cannot listen on {self.address}: the server did not start")
        if self._bind_error is not None:
            self._thread.join(timeout=2.0)
            exc = self._bind_error
            reason = "port in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
            raise _source_error(f"cannot listen for WebSocket on host {host} port {port}: {reason}")
        self.name = self.address = format_address("ws", host, self.port)
        self.warn = RateLimitedWarning(log, self.name)
        _check_fd_limit(self.name, self.max_connections)

    def close(self) -> None:
        """Close every connection, stop the loop and release the port."""
        loop = self._loop
        if self._thread.is_alive() and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._request_stop)
            self._thread.join(timeout=5.0)
        super().close()

    def _request_stop(self) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except Exception as exc:  # the server died: report it so the source can be reopened
            self.failure = f"server stopped: {type(exc).__name__}: {exc}"
        finally:
            self._ready.set()
            self._loop.close()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's errors, as rate-limited warnings instead of tracebacks on stderr."""
        exc = context.get("exception")
        message = context.get("message", "error")
        if isinstance(exc, OSError) and exc.errno in OUT_OF_FDS:
            self.accept_errors += 1
            self.warn(f"cannot accept a connection: {exc.strerror or exc} (raise the open-file "
                      f"limit, `ulimit -n`, or lower max_connections); accepting again in 1 s")
            return
        self.warn(f"{message}: {type(exc).__name__}: {exc}" if exc else message)
        log.debug("%s: asyncio: %s", self.name, message, exc_info=exc)

    async def _serve(self) -> None:
        self._stop = self._loop.create_future()

        def connection(*args: Any, **kwargs: Any) -> ServerConnection:
            made = _Connection(*args, **kwargs)
            made.source = self
            return made

        try:
            server = await serve(
                self._handle,
                self.host,
                self.port,
                process_request=self._process_request,
                create_connection=connection,  # type: ignore[arg-type]
                compression=None,
                open_timeout=self.handshake_timeout,
                close_timeout=CLOSE_TIMEOUT,
                ping_interval=PING_INTERVAL,
                ping_timeout=PING_TIMEOUT,
                max_size=MAX_MESSAGE,
                max_queue=MAX_QUEUE,
                write_limit=WRITE_LIMIT,
                logger=wire_log,
            )
        except OSError as exc:
            self._bind_error = exc
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop
        # leaving the block closes the listener and every connection, then waits for handlers

    # -- the handshake -----------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request
                         ) -> Response | None:
        """Origin, then key, then the cap; None lets the handshake go on."""
        try:
            return self._admit(connection, request)
        except Exception as exc:  # never a traceback from a request, however odd
            self.refuse(f"handshake from {_peer(connection.remote_address)}: "
                        f"{type(exc).__name__}: {exc}")
            return connection.respond(HTTPStatus.BAD_REQUEST, "bad request\n")

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        peer = _peer(connection.remote_address)
        origins = request.headers.get_all("Origin")
        if len(origins) > 1 or (origins and not self._origin_ok(origins[0])):
            shown = ", ".join(o[:80] for o in origins)
            self.refuse(f"handshake from {peer} with Origin {shown!r}, which is not allowed "
                        f"(allow it with ?origin=...)")
            return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        if self.key is not None:
            given = _presented_key(request)
            if given is None:
                self.refuse(f"handshake from {peer} without the key")
                response = connection.respond(HTTPStatus.UNAUTHORIZED, "key required\n")
                response.headers["WWW-Authenticate"] = 'Bearer realm="mural"'
                return response
            if not key_matches(given, self.key):
                self.refuse(f"handshake from {peer} with a wrong key")
                return connection.respond(HTTPStatus.FORBIDDEN, "wrong key\n")
        if self.connections >= self.max_connections:
            self.refuse(f"handshake from {peer}: {self.connections} connections already "
                        f"(max_connections={self.max_connections})")
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        self.connections += 1
        connection.slot = True  # type: ignore[attr-defined]  # given back in connection_lost
        return None

    def _origin_ok(self, origin: str) -> bool:
        return "*" in self.origins or _normal_origin(origin) in self.origins

    # -- messages ----------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        peer = _peer(connection.remote_address)
        log.info("%s: client %s connected", self.name, peer)
        try:
            async for message in connection:
                if isinstance(message, bytes):
                    try:
                        message = message.decode("utf-8")
                    except UnicodeDecodeError:
                        self.malformed(f"binary message from {peer} is not UTF-8 text")
                        continue
                try:
                    self.ingest_json(message, where=f"from {peer}")
                except Exception as exc:  # never let one message end the connection
                    self.malformed(f"{type(exc).__name__}: {exc}")
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == 1009:
                self.malformed(f"message over {MAX_MESSAGE} bytes from {peer}; disconnected")
        finally:
            log.info("%s: client %s disconnected", self.name, peer)


def _presented_key(request: Request) -> str | None:
    """The key a handshake presents: `Authorization: Bearer KEY`, else `?key=KEY`."""
    for value in request.headers.get_all("Authorization"):
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    for name, value in parse_qsl(urlsplit(request.path).query, keep_blank_values=True):
        if name == "key":
            return value
    return None


def _normal_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def parse_origins(text: str) -> frozenset[str]:
    """`origin=https://a.example,http://localhost:8000`: exact origins, `*` or `null`."""
    from mural.sources.base import SourceError

    out = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item in ("*", "null"):
            out.add(item)
            continue
        parts = urlsplit(item)
        if not parts.scheme or not parts.netloc or parts.path not in ("", "/") or parts.query:
            raise SourceError(f"ws://...?origin=: {item!r} is not an origin (expected "
                              "scheme://host[:port], e.g. https://mural.example, or * or null)")
        out.add(_normal_origin(item))
    if not out:
        raise SourceError("ws://...?origin= needs at least one origin, e.g. "
                          "origin=https://mural.example")
    return frozenset(out)


def _check_fd_limit(name: str, max_connections: int) -> None:
    """Warn when the cap lets in more connections than the process may open files."""
    try:
        import resource
    except ImportError:  # not on Unix
        return
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + handshake_slack(max_connections) + 64  # + what the mural uses
    if soft != resource.RLIM_INFINITY and wanted > soft:
        log.warning("%s: max_connections=%d may exceed the open-file limit (%d); raise it "
                    "with `ulimit -n` or lower max_connections", name, max_connections, soft)


def _peer(address: Any) -> str:
    try:
        host, port = address[0], address[1]
    except (TypeError, IndexError):
        return "?"
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _source_error(message: str) -> Exception:
    from mural.sources.base import SourceError

    return SourceError(message)


def _options(uri: str) -> Mapping[str, Any]:
    options = parse_options(uri, "ws", OPTIONS)
    out: dict[str, Any] = {"key": option_key(options, "ws")}
    if "origin" in options:
        out["origins"] = parse_origins(options["origin"])
    if "allow" in options:
        out["allow"] = AllowList.parse(options["allow"], "ws")
    if "max_connections" in options:
        value = options["max_connections"]
        if not value.isdigit() or not 1 <= int(value) <= MAX_CONNECTIONS:
            raise _source_error(f"ws://...?max_connections= must be 1..{MAX_CONNECTIONS}, "
                                f"got {value!r}")
        out["max_connections"] = int(value)
    return out


def open_websocket(uri: str, *, strict: bool = False, clock: Clock) -> WebSocketSource:
    """The `ws://HOST:PORT[?key=...&origin=...&allow=...&max_connections=N]` factory registered
    in mural.sources.SCHEMES; SourceError for a parameter it does not take."""
    try:
        host, port = parse_listen_uri(uri, "ws")
    except ValueError as exc:
        raise _source_error(str(exc)) from None
    return WebSocketSource(host, port, strict=strict, clock=clock, **_options(uri))


__all__ = ["OPTIONS", "WebSocketSource", "open_websocket", "parse_origins"]
