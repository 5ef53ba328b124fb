"""`web://HOST:PORT`: festival visitors join the mural from their phones.

Scanning the code on the wall opens `http://HOST:PORT/?k=TOKEN`, a small page (shipped in
`web_page/`, no build step, no external resources) with one button per emotion of the
vocabulary, an intensity slider, a map of the wall and a personal colour. The page talks to
`/ws` with JSON messages from a fixed set; each phone is one participant (`web-3f9a`).

Why aiohttp: one well-kept async library serves the page, the WebSocket, cookies, the Origin
check, the message-size limit, heartbeats and connection timeouts; `websockets` (used by
`ws://`) serves no pages and no cookies, so the phone page would need a second server.

Safety, because the port is reachable by anyone in the room:
- the join token is required to load the page or open a WebSocket, rotates every `join_ttl`
  seconds of the injected clock (the previous one stays valid for `GRACE` seconds), and a phone
  that joined keeps an HttpOnly session cookie (or a resume secret it keeps in localStorage)
  for the life of the source; anything else is answered 403;
- `/ws` requires `Origin` to be the page's own origin (no cross-site WebSocket hijacking);
- messages are at most 1 KiB, JSON objects with a fixed set of keys (no free text reaches the
  wall), rate limited per phone by a token bucket on the injected clock; the number of phones,
  of sessions and of participant ids is capped; idle phones are closed; heartbeats find dead
  ones; a connection that never finishes its request is closed after `HANDSHAKE_TIMEOUT`.
- the server runs on its own asyncio loop in a background thread (as `ws://` does), so a
  slow or hostile phone never blocks the render loop: `poll()` only pops a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
import json
import logging
import math
import secrets
import socket
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from mural.events import EMOTIONS, PersonalEvent, SignalEvent
from mural.sources.live import (
    Clock,
    LiveSource,
    RateLimitedWarning,
    clean_float,
    format_address,
    parse_listen_uri,
)

log = logging.getLogger(__name__)

PAGE_DIR = Path(__file__).parent / "web_page"

DEFAULT_JOIN_TTL = 4 * 3600.0  # seconds a printed/shown join token stays the current one
GRACE = 60.0  # the previous token still works this long after rotation (a code just scanned)
DEFAULT_MAX_PHONES = 200
MAX_MESSAGE = 1024  # bytes; the biggest valid message is ~80
RATE = 4.0  # events per second a phone may put on the wall ...
BURST = 5  # ... after a burst of this many
MAX_BAD = 50  # rejected/malformed messages before a connection is closed (it may reconnect)
IDLE_TIMEOUT = 600.0  # seconds of the session clock without a message before a phone is closed
HEARTBEAT = 30.0  # WebSocket ping interval; no pong within half of it closes the connection
HANDSHAKE_TIMEOUT = 10.0  # an HTTP connection must finish a request within this (slowloris)
CLOSE_TIMEOUT = 2.0  # how long a closing handshake may take
SEND_TIMEOUT = 2.0  # a status message to a phone that does not read is abandoned
SWEEP_INTERVAL = 1.0  # real seconds between idle sweeps
START_TIMEOUT = 10.0
MAX_SESSIONS = 20_000  # sessions remembered (oldest disconnected ones are forgotten first)
MAX_IDS = 60_000  # of the 65 536 `web-xxxx` ids; past this the mural is full
PATTERNS = ("bloom", "ring", "pulse")  # as mural.engine.engine.PATTERNS
HUE_RANGE = (380.0, 700.0)  # nm, as participants.toml's `hue`
SPECTRUM_STEP = 5  # nm between the page's spectrum colours
FALLBACK_SWATCH = "#74b6ce"  # for an emotion added to the vocabulary before colours.json
EMOTION_KEYS = frozenset({"emotion", "intensity", "x", "y"})
PERSONAL_KEYS = frozenset({"colour_nm", "pattern"})

EXPIRED = "this link has expired — scan the code on the wall again"
BLOCKED = "this phone can no longer join the mural"
FULL = "the mural is full — try again in a little while"


class TokenBucket:
    """Refills `rate` tokens a second up to `burst`; each accepted message takes one."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.t = now

    def take(self, now: float) -> bool:
        if now > self.t:
            self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
            self.t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class _Session:
    """One phone: what its cookie (`sid`) or resume secret names."""

    sid: str
    resume: str
    bucket: TokenBucket
    participant: str | None = None
    ws: web.WebSocketResponse | None = None
    last_message: float = 0.0
    bad: int = 0
    closing: str | None = field(default=None)  # the state sent when the server closed it


class WebSource(LiveSource):
    """The phone-join server; `.port` is the bound port, `.join_url` the link to show."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        strict: bool = False,
        clock: Clock,
        join_ttl: float = DEFAULT_JOIN_TTL,
        max_phones: int = DEFAULT_MAX_PHONES,
        announce: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.address = format_address("web", host, port)
        super().__init__(self.address, strict=strict, clock=clock, logger=log)
        self.join_ttl = float(join_ttl)
        self.max_phones = int(max_phones)
        self.sweep_interval = SWEEP_INTERVAL
        self.idle_timeout = IDLE_TIMEOUT
        self.cookie_name = "mural_session"  # made port-specific once the port is known
        self._lock = threading.Lock()  # guards tokens, sessions and personal colours
        self._token = secrets.token_urlsafe(16)
        self._token_from = clock()
        self._previous: str | None = None
        self._previous_until = -math.inf
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._resumes: dict[str, str] = {}  # resume secret -> sid
        self._ids: dict[str, None] = {}  # participant ids issued, in order
        self._blocked: set[str] = set()
        self._phones = 0  # sessions with a live WebSocket (changed under the lock)
        self._latest: dict[str, tuple[float | None, str | None]] = {}
        self._page = _Page.load()
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
            raise _source_error(f"cannot serve the phone page on host {host} port {port}: "
                                f"{reason}")
        if self.failure is not None:
            raise _source_error(f"cannot serve {self.address}: {self.failure}")
        self.name = self.address = format_address("web", host, self.port)
        self.warn = RateLimitedWarning(log, self.name)
        self.cookie_name = f"mural_session_{self.port}"  # cookies are per host, not per port
        self.public_host = _public_host(host)
        if host in ("0.0.0.0", "::", ""):
            log.warning("%s serves every network this machine is on (an explicit choice): "
                        "anyone who can reach port %d and has the code can join", self.name,
                        self.port)
        if announce:
            print(self.join_line(), file=sys.stderr, flush=True)

    # -- what the player reads ---------------------------------------------------------------

    @property
    def join_url(self) -> str:
        """The link to show on the wall now (its token rotates every `join_ttl` seconds)."""
        shown = f"[{self.public_host}]" if ":" in self.public_host else self.public_host
        return f"http://{shown}:{self.port}/?k={self._current_token()}"

    def join_line(self) -> str:
        """`join: http://HOST:PORT/?k=TOKEN`, the line printed on start."""
        return f"join: {self.join_url}"

    def join_qr(self) -> list[list[bool]]:
        """The current join URL as a QR matrix (rows of dark=True modules, no quiet zone),
        so the player can draw it without knowing about segno."""
        import segno

        return [[bool(m) for m in row] for row in segno.make(self.join_url, error="m").matrix]

    @property
    def phones(self) -> int:
        """Phones connected right now."""
        return self._phones

    @property
    def participants(self) -> list[str]:
        """Every participant id this source has issued, in order."""
        with self._lock:
            return list(self._ids)

    @property
    def personal(self) -> dict[str, tuple[float | None, str | None]]:
        """Latest personal colour per participant: (hue nm or None, pattern or None)."""
        with self._lock:
            return dict(self._latest)

    def block(self, participant_id: str) -> bool:
        """Operator block: disconnect the phone, refuse it from now on, fade its light out.

        Returns False for an id this source never issued.
        """
        with self._lock:
            if participant_id not in self._ids:
                return False
            self._blocked.add(participant_id)
            victims = [s for s in self._sessions.values() if s.participant == participant_id]
        self.queue.push(SignalEvent(t=self.clock(), level=0.0, participant=participant_id))
        log.warning("%s: blocked %s", self.name, participant_id)
        loop = self._loop
        if not loop.is_closed():
            for session in victims:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self._kick, session, "blocked",
                                              WSCloseCode.POLICY_VIOLATION)
        return True

    def close(self) -> None:
        """Close every phone's connection, stop the loop and release the port."""
        loop = self._loop
        if self._thread.is_alive() and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._request_stop)
            self._thread.join(timeout=5.0)
        super().close()

    # -- tokens and sessions (any thread) ----------------------------------------------------

    def _current_token(self) -> str:
        now = self.clock()
        with self._lock:
            steps = math.floor((now - self._token_from) / self.join_ttl)
            if steps >= 1:
                self._previous = self._token if steps == 1 else None
                self._token_from += steps * self.join_ttl
                self._previous_until = self._token_from + GRACE
                self._token = secrets.token_urlsafe(16)
                log.info("%s: join token rotated", self.name)
            return self._token

    def _token_ok(self, given: str | None) -> bool:
        if not given:
            return False
        current = self._current_token()
        ok = secrets.compare_digest(given.encode(), current.encode())
        with self._lock:
            previous, until = self._previous, self._previous_until
        if previous is not None and self.clock() < until:
            ok |= secrets.compare_digest(given.encode(), previous.encode())
        return ok

    def _resolve(self, request: web.Request, *, create: bool) -> tuple[str, _Session | None]:
        """Who is asking: ('ok', session) or ('expired' | 'blocked' | 'full', None).

        A session cookie wins, then a resume secret (`r`), then a join token (`k`), which
        makes a new session when `create` is set."""
        with self._lock:
            session = self._sessions.get(request.cookies.get(self.cookie_name, ""))
            if session is None:
                sid = self._resumes.get(request.query.get("r", ""))
                session = self._sessions.get(sid) if sid else None
            if session is not None:
                if session.participant in self._blocked:
                    return "blocked", None
                self._sessions.move_to_end(session.sid)
                return "ok", session
        if not self._token_ok(request.query.get("k")):
            return "expired", None
        if not create:
            return "ok", None
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS and not self._forget_one():
                return "full", None
            session = _Session(sid=secrets.token_urlsafe(24), resume=secrets.token_urlsafe(24),
                               bucket=TokenBucket(RATE, BURST, self.clock()))
            self._sessions[session.sid] = session
            self._resumes[session.resume] = session.sid
        return "ok", session

    def _forget_one(self) -> bool:
        """Drop the oldest disconnected session (caller holds the lock)."""
        for sid, session in self._sessions.items():
            if session.ws is None:
                del self._sessions[sid]
                self._resumes.pop(session.resume, None)
                return True
        return False

    def _new_participant(self) -> str | None:
        """A fresh `web-xxxx` id, never issued before (caller holds the lock)."""
        if len(self._ids) >= MAX_IDS:
            return None
        while True:
            pid = f"web-{secrets.token_hex(2)}"
            if pid not in self._ids:
                self._ids[pid] = None
                return pid

    # -- the server thread -------------------------------------------------------------------

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
        app = web.Application(client_max_size=MAX_MESSAGE)
        app.router.add_get("/", self._handle_page)
        app.router.add_get("/app.js", self._handle_asset)
        app.router.add_get("/style.css", self._handle_asset)
        app.router.add_get("/state", self._handle_state)
        app.router.add_get("/ws", self._handle_ws)
        app.on_shutdown.append(self._shutdown)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=CLOSE_TIMEOUT,
            keepalive_timeout=HANDSHAKE_TIMEOUT,
            max_line_size=4096,
            max_field_size=4096,
            max_headers=64,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, backlog=256)
            try:
                await site.start()
            except OSError as exc:
                self._bind_error = exc
                return
            self.port = runner.addresses[0][1]
            sweeper = self._loop.create_task(self._sweep())
            self._ready.set()
            await self._stop
            sweeper.cancel()
        finally:
            await runner.cleanup()

    async def _shutdown(self, app: web.Application) -> None:
        with self._lock:
            sockets = [s.ws for s in self._sessions.values() if s.ws is not None]
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"closing")
                               for ws in sockets), return_exceptions=True)

    async def _sweep(self) -> None:
        """Close phones that sent nothing for `idle_timeout` seconds of the session clock."""
        while True:
            await asyncio.sleep(self.sweep_interval)
            now = self.clock()
            with self._lock:
                idle = [s for s in self._sessions.values()
                        if s.ws is not None and now - s.last_message > self.idle_timeout]
            for session in idle:
                self._kick(session, "idle", WSCloseCode.OK)

    def _kick(self, session: _Session, state: str, code: int) -> None:
        """Tell a phone why, then close it, in a task of its own (it may be slow to read)."""
        ws = session.ws
        if ws is None or ws.closed or session.closing is not None:
            return
        session.closing = state
        self._loop.create_task(_tell_and_close(ws, {"state": state}, code))

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle_page(self, request: web.Request) -> web.StreamResponse:
        state, session = self._resolve(request, create=True)
        if session is None:
            message = {"blocked": BLOCKED, "full": FULL}.get(state, EXPIRED)
            return self._page.refusal(message, status=503 if state == "full" else 403)
        response = self._page.index()
        if request.cookies.get(self.cookie_name) != session.sid:
            response.set_cookie(self.cookie_name, session.sid, httponly=True, samesite="Lax",
                                path="/", max_age=24 * 3600)
        return response

    async def _handle_asset(self, request: web.Request) -> web.StreamResponse:
        return self._page.asset(request.path.lstrip("/"))

    async def _handle_state(self, request: web.Request) -> web.StreamResponse:
        """Why a WebSocket was refused (browsers hide a refused handshake's status)."""
        state, _ = self._resolve(request, create=False)
        if state == "ok" and self.phones >= self.max_phones:
            state = "full"
        return web.json_response({"state": state}, headers=_NO_STORE)

    async def _handle_ws(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin", "")
        host = request.headers.get("Host", "")
        if not host or origin.lower() != f"http://{host}".lower():
            self.warn(f"refused a WebSocket from origin {origin[:80]!r} (host {host[:80]!r})")
            return web.Response(status=403, text="origin not allowed\n", headers=_NO_STORE)
        state, session = self._resolve(request, create=True)
        if session is None:
            message = {"blocked": BLOCKED, "full": FULL}.get(state, EXPIRED)
            return web.Response(status=503 if state == "full" else 403, text=message + "\n",
                                headers=_NO_STORE)
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=HEARTBEAT,
                                   timeout=CLOSE_TIMEOUT, compress=False, autoping=True)
        await ws.prepare(request)
        with self._lock:
            replacing = session.ws
            if replacing is None and self._phones >= self.max_phones:
                full = True
            else:
                full = False
                if session.participant is None:
                    session.participant = self._new_participant()
                full = session.participant is None
            if not full:
                self._phones += replacing is None
                session.ws = ws
                session.closing = None
                session.bad = 0
                session.last_message = self.clock()
        if full:
            log.info("%s: a phone was turned away: the mural is full", self.name)
            await _tell_and_close(ws, {"state": "full"}, WSCloseCode.TRY_AGAIN_LATER)
            return ws
        if replacing is not None and not replacing.closed:  # the same phone, in a new tab
            self._loop.create_task(_tell_and_close(replacing, {"state": "replaced"},
                                                   WSCloseCode.OK))
        pid = session.participant
        log.info("%s: phone %s joined", self.name, pid)
        try:
            await asyncio.wait_for(ws.send_json({"you": pid, "resume": session.resume}),
                                   SEND_TIMEOUT)
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        self._message(session, msg.data)
                    except Exception as exc:  # never let one message end the connection
                        self._bad(session, "malformed", f"{type(exc).__name__}: {exc}")
                elif msg.type is WSMsgType.BINARY:
                    self._bad(session, "malformed", "binary frame (expected JSON text)")
                elif msg.type is WSMsgType.ERROR:  # too big (closed with 1009) or a bad frame
                    too_big = getattr(msg.data, "code", None) == WSCloseCode.MESSAGE_TOO_BIG
                    self._bad(session, "malformed", f"message over {MAX_MESSAGE} bytes; closed"
                              if too_big else f"broken frame: {msg.data}; closed")
                    break
                if session.bad > MAX_BAD and session.closing is None:
                    self.warn(f"{pid} sent {session.bad} bad messages; closing it")
                    self._kick(session, "closed", WSCloseCode.POLICY_VIOLATION)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            with self._lock:
                if session.ws is ws:
                    session.ws = None
                    self._phones -= 1
            log.info("%s: phone %s left", self.name, pid)
        return ws

    # -- messages ----------------------------------------------------------------------------

    def _complain(self, message: str) -> None:
        """Phone input is only ever counted and warned about, even with `strict`: a visitor's
        junk must not be able to fail the source (and with it every phone's session)."""
        self.warn(message)

    def _bad(self, session: _Session, kind: str, message: str) -> None:
        session.bad += 1
        text = f"{message} (from {session.participant})"
        if kind == "malformed":
            self.malformed(text)
        else:
            self.rejected(text)

    def _message(self, session: _Session, text: str) -> None:
        """One text message: validate against the fixed set, then rate limit, then queue."""
        now = self.clock()
        session.last_message = now
        if session.participant in self._blocked or session.closing is not None:
            return  # blocked (or being closed) between its message and its close
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            self._bad(session, "malformed", "not JSON")
            return
        if not isinstance(obj, dict):
            self._bad(session, "malformed", f"expected a JSON object, got {type(obj).__name__}")
            return
        keys = set(obj)
        if keys and keys <= EMOTION_KEYS and "emotion" in keys:
            self._emotion(session, obj, now)
        elif keys and keys <= PERSONAL_KEYS:
            self._personal(session, obj, now)
        else:
            shown = ", ".join(sorted(str(k)[:20] for k in keys)[:6]) or "none"
            self._bad(session, "rejected", f"unexpected keys ({shown})")

    def _emotion(self, session: _Session, obj: dict[str, Any], now: float) -> None:
        label = obj["emotion"]
        if not isinstance(label, str) or label not in EMOTIONS:
            self._bad(session, "rejected", f"unknown emotion {str(label)[:40]!r}")
            return
        for name in ("intensity", "x", "y"):
            if name in obj and not _unit(obj[name]):
                self._bad(session, "rejected", f"{name} must be a number in 0..1")
                return
        fields = {name: clean_float(float(obj[name])) for name in ("intensity", "x", "y")
                  if name in obj}
        event = self.validate({"participant": session.participant, "emotion": label, **fields})
        if event is None:
            session.bad += 1
            return
        if not session.bucket.take(now):
            self.stats.dropped += 1
            return
        self.push(event)  # type: ignore[arg-type]

    def _personal(self, session: _Session, obj: dict[str, Any], now: float) -> None:
        assert session.participant is not None
        with self._lock:
            nm, pattern = self._latest.get(session.participant, (None, None))
        if "colour_nm" in obj:
            raw = obj["colour_nm"]
            if not _finite(raw) or not HUE_RANGE[0] <= float(raw) <= HUE_RANGE[1]:
                self._bad(session, "rejected", "colour_nm must be a wavelength in 380..700 nm")
                return
            nm = clean_float(float(raw))
        if "pattern" in obj:
            if obj["pattern"] not in PATTERNS:
                self._bad(session, "rejected", f"pattern must be one of {', '.join(PATTERNS)}")
                return
            pattern = obj["pattern"]
        if not session.bucket.take(now):
            self.stats.dropped += 1
            return
        self.stats.accepted += 1
        with self._lock:
            self._latest[session.participant] = (nm, pattern)
        # the latest choice as a whole (hue and pattern), so a replay needs no history
        self.queue.push(PersonalEvent(t=now, participant=session.participant, hue=nm,
                                      pattern=pattern))


_NO_STORE = {"Cache-Control": "no-store"}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _unit(value: Any) -> bool:
    return _finite(value) and 0.0 <= float(value) <= 1.0


async def _tell_and_close(ws: web.WebSocketResponse, status: dict[str, str], code: int) -> None:
    with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
        await asyncio.wait_for(ws.send_json(status), SEND_TIMEOUT)
    with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
        await asyncio.wait_for(ws.close(code=code, message=status["state"].encode()),
                               CLOSE_TIMEOUT + 1.0)


def _public_host(host: str) -> str:
    """The host a phone should use: the bound one, or this machine's address on the room's
    network when listening on every interface (found by routing, no packet is sent)."""
    if host not in ("0.0.0.0", "::", ""):
        return host
    family = socket.AF_INET6 if host == "::" else socket.AF_INET
    probe = "2001:db8::1" if family == socket.AF_INET6 else "192.0.2.1"
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((probe, 9))
            return str(s.getsockname()[0])
    except OSError:
        return socket.gethostname()


class _Page:
    """The phone page, templated once from the vocabulary and the colour model."""

    CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

    def __init__(self, index: str, assets: dict[str, tuple[bytes, str]]) -> None:
        self._index = index.encode()
        self._assets = assets

    @classmethod
    def load(cls) -> _Page:
        index = (PAGE_DIR / "index.html").read_text(encoding="utf-8")
        style = (PAGE_DIR / "style.css").read_text(encoding="utf-8")
        script = (PAGE_DIR / "app.js").read_text(encoding="utf-8")
        swatches = emotion_swatches()
        buttons = "\n".join(f'      <button data-emotion="{html.escape(name)}">'
                            f"{html.escape(name)}</button>" for name in swatches)
        spectrum = page_colours()["spectrum"]
        config = json.dumps({"spectrum": spectrum, "from_nm": HUE_RANGE[0],
                             "step_nm": SPECTRUM_STEP, "patterns": list(PATTERNS)},
                            separators=(",", ":"))
        index = index.replace("<!--EMOTIONS-->", buttons.strip())
        index = index.replace("{/*CONFIG*/}", config.replace("</", "<\\/"))
        rules = "\n".join(f'[data-emotion="{name}"] {{ --swatch: {hex_}; }}'
                          for name, hex_ in swatches.items())
        stops = ", ".join(f"{hex_} {i * 100 / (len(spectrum) - 1):.1f}%"
                          for i, hex_ in enumerate(spectrum))
        style = style.replace("/*EMOTION_SWATCHES*/", rules)
        style = style.replace("/*SPECTRUM*/", f"--spectrum: linear-gradient(90deg, {stops});")
        return cls(index, {"app.js": (script.encode(), "text/javascript"),
                           "style.css": (style.encode(), "text/css")})

    def _headers(self) -> dict[str, str]:
        return {"Content-Security-Policy": self.CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

    def index(self) -> web.Response:
        return web.Response(body=self._index, content_type="text/html", charset="utf-8",
                            headers=self._headers())

    def asset(self, name: str) -> web.Response:
        body, kind = self._assets[name]
        headers = {**self._headers(), "Cache-Control": "no-cache"}
        return web.Response(body=body, content_type=kind, charset="utf-8", headers=headers)

    def refusal(self, message: str, *, status: int) -> web.Response:
        body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<title>Lumina Mural</title><link rel="stylesheet" href="/style.css"></head>'
                f'<body class="refused"><main><h1>Lumina Mural</h1>'
                f'<p id="status" role="status">{html.escape(message)}</p></main></body></html>')
        return web.Response(status=status, text=body, content_type="text/html",
                            headers=self._headers())


def page_colours() -> dict[str, Any]:
    """The swatches and the spectrum the page paints with, shipped as `web_page/colours.json`.

    Sources sit beside the engine, not above it, so they cannot ask `mural.engine.colour`;
    the file is written from it (see tests/sources/test_web.py, which fails when they drift).
    """
    return json.loads((PAGE_DIR / "colours.json").read_text(encoding="utf-8"))


def emotion_swatches() -> dict[str, str]:
    """Each vocabulary emotion's swatch (`#rrggbb`, README's table), in vocabulary order."""
    shipped = page_colours()["emotions"]
    return {name: shipped.get(name, FALLBACK_SWATCH) for name in EMOTIONS}


def _source_error(message: str) -> Exception:
    from mural.sources.base import SourceError

    return SourceError(message)


def _options(uri: str) -> dict[str, float | int]:
    query = urlsplit(uri).query
    try:
        given = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _source_error(f"{uri!r}: cannot read the options {query!r}") from None
    out: dict[str, float | int] = {}
    for key, values in given.items():
        value = values[-1]
        if key == "join_ttl":
            try:
                ttl = float(value)
            except ValueError:
                ttl = math.nan
            if not (math.isfinite(ttl) and ttl >= 10):
                raise _source_error(f"{uri!r}: join_ttl must be seconds >= 10, got {value!r}")
            out["join_ttl"] = ttl
        elif key == "max_phones":
            if not value.isdigit() or not 1 <= int(value) <= 10_000:
                raise _source_error(f"{uri!r}: max_phones must be 1..10000, got {value!r}")
            out["max_phones"] = int(value)
        else:
            raise _source_error(f"{uri!r}: unknown option {key!r} (known: join_ttl, "
                                "max_phones)")
    return out


def open_web(uri: str, *, strict: bool = False, clock: Clock) -> WebSource:
    """The `web://HOST:PORT[?join_ttl=SECONDS&max_phones=N]` factory registered in SCHEMES."""
    try:
        host, port = parse_listen_uri(uri, "web")
    except ValueError as exc:
        raise _source_error(str(exc)) from None
    return WebSource(host, port, strict=strict, clock=clock, **_options(uri))  # type: ignore[arg-type]


__all__ = ["TokenBucket", "WebSource", "emotion_swatches", "open_web",
           "page_colours"]
