"""`ws://HOST:PORT`: a WebSocket server taking one JSON event per text message.

Each message is one object in the stream-file schema (`{"participant": "p1", "emotion": "joy",
"intensity": 0.8}`, `{"type": "signal", "level": 0.4}`, `{"type": "marker", "name": "cue"}`).
Live events are stamped with the session clock when the message arrives: a `t` in the message is
ignored, so a sender's clock can neither reorder nor delay the stream. Bad messages are counted
(malformed: not JSON or not an object; rejected: not a valid event) and the connection stays
open, so a client's next good message still gets through (only a message over 1 MiB closes
its connection, with code 1009, to bound memory). Any number of clients may connect; the server
runs on an asyncio loop in a background thread.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import threading
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from mural.sources.live import (
    QUEUE_CAP,
    QUEUE_SOFT,
    Clock,
    LiveSource,
    RateLimitedWarning,
    format_address,
    parse_listen_uri,
)

log = logging.getLogger(__name__)

MAX_MESSAGE = 1024 * 1024  # an event is < 1 KiB; a bigger message closes its connection (1009)
START_TIMEOUT = 10.0


class WebSocketSource(LiveSource):
    """Serves on one TCP port; `.port` is the bound port (useful with port 0)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        strict: bool = False,
        clock: Clock,
        cap: int = QUEUE_CAP,
        soft: int = QUEUE_SOFT,
    ) -> None:
        self.host = host
        self.port = port
        self.address = format_address("ws", host, port)
        super().__init__(self.address, strict=strict, clock=clock, logger=log, cap=cap, soft=soft)
        self.connections = 0  # clients connected right now
        self._loop = asyncio.new_event_loop()
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

    def close(self) -> None:
        """Close every connection, stop the loop and release the port."""
        loop = self._loop
        if self._thread.is_alive() and not loop.is_closed():
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

    async def _serve(self) -> None:
        self._stop = self._loop.create_future()
        try:
            server = await serve(
                self._handle,
                self.host,
                self.port,
                max_size=MAX_MESSAGE,
                close_timeout=1.0,
                compression=None,
            )
        except OSError as exc:
            self._bind_error = exc
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop
        # leaving the block closes the listener and every connection, then waits for handlers

    async def _handle(self, connection: ServerConnection) -> None:
        peer = _peer(connection.remote_address)
        self.connections += 1
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
        except ConnectionClosed:
            pass
        finally:
            self.connections -= 1
            log.info("%s: client %s disconnected", self.name, peer)


def _peer(address: Any) -> str:
    try:
        host, port = address[0], address[1]
    except (TypeError, IndexError):
        return "?"
    return f"{host}:{port}"


def _source_error(message: str) -> Exception:
    from mural.sources.base import SourceError

    return SourceError(message)


def open_websocket(uri: str, *, strict: bool = False, clock: Clock) -> WebSocketSource:
    """The `ws://HOST:PORT` factory registered in mural.sources.SCHEMES."""
    try:
        host, port = parse_listen_uri(uri, "ws")
    except ValueError as exc:
        raise _source_error(str(exc)) from None
    return WebSocketSource(host, port, strict=strict, clock=clock)


__all__ = ["WebSocketSource", "open_websocket"]
