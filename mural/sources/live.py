"""Shared machinery for live sources: a bounded coalescing queue, rate-limited warnings, URIs.

Live sources (OSC, WebSocket, stdin) receive on a background thread and hand events to the
render loop through a `LiveQueue`. Installations run unattended, so every failure mode of the
input is counted and logged (at most about once a second), never raised into the render loop.

Flood control: below `soft` queued events everything is kept. At or above it, a new emotion
event replaces the same participant's newest queued-but-unpolled emotion event (the mural only
needs the latest mood, and the replaced one counts as dropped); signal and marker events are
always kept. At the hard `cap` the oldest queued event is shed, whatever its type, so memory
stays bounded however fast packets arrive.

Strict: a live source never raises a bad input from `poll` and never closes its listener over
one (a remote sender could otherwise make it drop the good senders' events, and a resilient
wrapper would reopen it again and again). Under `strict` it does what it always does, count and
warn at most once a second, and it keeps the first problem in `first_problem` for the report.

Doors: `AllowList` (`allow=127.0.0.1,10.0.0.0/8`) and `key_matches` (a constant-time compare
of a shared secret) are shared by the listeners; what they turn away counts as `refused`.
`parse_options` reads a listener's query and refuses a parameter it does not know, naming the
ones it takes.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mural.events import EmotionEvent, Event, EventError, Header, event_from_dict
from mural.sources.base import SourceError, SourceStats, check_key

DEFAULT_HOST = "127.0.0.1"
QUEUE_CAP = 10_000  # hard cap on events waiting to be polled, per source
QUEUE_SOFT = 1_000  # above this, emotion events coalesce per participant
WARN_INTERVAL = 1.0  # seconds between warnings from one source

Clock = Callable[[], float]


def parse_listen_uri(uri: str, scheme: str) -> tuple[str, int]:
    """`osc://HOST:PORT` -> (host, port); host defaults to loopback so nothing is exposed by
    accident (ask for `0.0.0.0` explicitly). Raises ValueError with a readable message."""
    if not uri.startswith(f"{scheme}://"):
        raise ValueError(f"expected {scheme}://HOST:PORT, got {uri!r}")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad address {uri!r}: {exc}") from None
    if port is None:
        raise ValueError(f"{uri!r} needs a port, e.g. {scheme}://127.0.0.1:9000 (0 = any free)")
    return parts.hostname or DEFAULT_HOST, port


def parse_options(uri: str, scheme: str, accepted: Iterable[str]) -> dict[str, str]:
    """A listener's query parameters by name; SourceError for one it does not take (naming
    those it does), for one given twice, and for a piece that is not `name=value`."""
    known = tuple(accepted)
    taken = ", ".join(k + "=" for k in known) or "no options"
    pairs: list[tuple[str, str]] = []
    for piece in urlsplit(uri).query.split("&"):
        if not piece:
            continue  # a stray & is harmless
        if "=" not in piece:
            raise SourceError(f"{scheme}://...?{piece[:40]}: expected name=value "
                              f"(accepted: {taken})")
        pairs += parse_qsl(piece, keep_blank_values=True)
    out: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            raise SourceError(f"{scheme}:// does not take {name!r} (accepted: {taken})")
        if name in out:
            raise SourceError(f"{scheme}:// got {name}= twice")
        out[name] = value
    return out


def option_key(options: Mapping[str, str], scheme: str) -> str | None:
    """`key=` from parsed options, checked (None when not given)."""
    if "key" not in options:
        return None
    try:
        return check_key(options["key"])
    except SourceError as exc:
        raise SourceError(f"{scheme}://...?key=: {exc}") from None


def key_matches(given: object, key: str) -> bool:
    """Whether `given` is the shared secret, compared in constant time."""
    if isinstance(given, bytes):
        given = given.decode("utf-8", "replace")
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), key.encode("utf-8"))


class AllowList:
    """Sender addresses a listener takes: `allow=127.0.0.1,10.0.0.0/8,::1` (IPv4-mapped IPv6
    senders are matched as IPv4). Empty means everyone (the host default, 127.0.0.1, already
    keeps the rest of the network out)."""

    def __init__(self, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()
                 ) -> None:
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, text: str, scheme: str) -> AllowList:
        networks = []
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                raise SourceError(f"{scheme}://...?allow=: {item!r} is not an IP address or a "
                                  "network like 10.0.0.0/8 (host names are not taken)") from None
        if not networks:
            raise SourceError(f"{scheme}://...?allow= needs at least one address, e.g. "
                              "allow=127.0.0.1,10.0.0.0/8")
        return cls(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, host: object) -> bool:
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(str(host).split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def __str__(self) -> str:
        return ",".join(str(n) for n in self.networks) or "everyone"


def format_address(scheme: str, host: str, port: int) -> str:
    """The URI a sender should use (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def clean_float(value: Any) -> Any:
    """Round floats to float32 precision: OSC sends `0.8` as 0.800000011920929, and
    recordings should say 0.8. Non-floats pass through for the validator to judge."""
    if type(value) is float and math.isfinite(value):
        return float(f"{value:.7g}")
    return value


class RateLimitedWarning:
    """Log at most one warning per interval; the next one says how many were suppressed."""

    def __init__(
        self, logger: logging.Logger, prefix: str, interval: float = WARN_INTERVAL
    ) -> None:
        self._logger = logger
        self._prefix = prefix
        self._interval = interval
        self._last = -math.inf
        self.suppressed = 0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            self.suppressed += 1
            return
        self._last = now
        extra = f" (+{self.suppressed} similar suppressed)" if self.suppressed else ""
        self.suppressed = 0
        self._logger.warning("%s: %s%s", self._prefix, message, extra)


class LiveQueue:
    """A thread-safe, bounded, time-ordered queue that coalesces emotion floods per participant.

    Entries are keyed by an arrival number in an OrderedDict, so replacing a participant's
    pending event, shedding the oldest and popping the due ones are all O(1) per event.
    """

    def __init__(self, stats: SourceStats, *, cap: int = QUEUE_CAP, soft: int = QUEUE_SOFT) -> None:
        if not 0 < soft <= cap:
            raise ValueError(f"need 0 < soft <= cap, got soft={soft} cap={cap}")
        self.stats = stats
        self.cap = cap
        self.soft = soft
        self.high_water = 0  # the longest the queue has been (for tests and the HUD)
        self._lock = threading.Lock()
        self._items: OrderedDict[int, Event] = OrderedDict()
        self._pending: dict[str, int] = {}  # participant -> key of its newest queued emotion
        self._next_key = 0
        self._last_t = -math.inf

    def __len__(self) -> int:
        return len(self._items)

    def push(self, event: Event) -> None:
        """Queue one event; may replace or shed others (counted in stats.dropped)."""
        with self._lock:
            if event.t < self._last_t:  # keep time order even if a clock stamp raced
                event = replace(event, t=self._last_t)
            self._last_t = event.t
            items = self._items
            emotion = isinstance(event, EmotionEvent)
            if emotion and len(items) >= self.soft:
                old = self._pending.get(event.participant)
                if old is not None:
                    del items[old]
                    self.stats.dropped += 1
            if len(items) >= self.cap:
                key, victim = items.popitem(last=False)
                self._forget(key, victim)
                self.stats.dropped += 1
            key = self._next_key
            self._next_key += 1
            items[key] = event
            if emotion:
                self._pending[event.participant] = key
            if len(items) > self.high_water:
                self.high_water = len(items)

    def pop_until(self, now: float) -> list[Event]:
        """Remove and return the events with t <= now, oldest first."""
        out: list[Event] = []
        with self._lock:
            items = self._items
            while items:
                key = next(iter(items))
                event = items[key]
                if event.t > now:
                    break
                del items[key]
                self._forget(key, event)
                out.append(event)
        return out

    def _forget(self, key: int, event: Event) -> None:
        if isinstance(event, EmotionEvent) and self._pending.get(event.participant) == key:
            del self._pending[event.participant]


class LiveSource:
    """Base for live sources: stamps receive time, validates, counts, queues.

    Subclasses run a receiver thread that calls `ingest_mapping` / `ingest_json`; the render
    loop calls `poll(now)`, which never blocks and never raises over bad input, strict or not
    (see the module docstring); `first_problem` keeps the first bad input's description.
    """

    live = True

    def __init__(
        self,
        name: str,
        *,
        strict: bool,
        clock: Clock,
        logger: logging.Logger,
        cap: int = QUEUE_CAP,
        soft: int = QUEUE_SOFT,
    ) -> None:
        self.name = name
        self.strict = strict
        self.clock = clock
        self.stats = SourceStats()
        self.queue = LiveQueue(self.stats, cap=cap, soft=soft)
        self.warn = RateLimitedWarning(logger, name)
        self.first_problem: str | None = None
        self._closed = False
        self.failure: str | None = None  # set by a receiver that stopped on its own

    # -- the consumer side -------------------------------------------------------------------

    def poll(self, now: float) -> list[Event]:
        """Events received up to `now`, oldest first; never blocks, never raises bad input."""
        return self.queue.pop_until(now)

    @property
    def finished(self) -> bool:
        """Listeners never finish on their own; only closing them ends the stream."""
        return self._closed and not len(self.queue)

    def close(self) -> None:
        self._closed = True

    @property
    def failed(self) -> bool:
        """True when the receiver stopped without being closed (the source must be reopened)."""
        return self.failure is not None and not self._closed

    # -- the receiver side -------------------------------------------------------------------

    def push(self, event: Event) -> None:
        """Queue a validated event and count it as accepted."""
        self.stats.accepted += 1
        self.queue.push(event)

    def malformed(self, message: str) -> None:
        """Input that could not be parsed at all."""
        self.stats.malformed += 1
        self._complain(f"malformed input: {message}")

    def rejected(self, message: str) -> None:
        """Input that parsed but is not a valid event."""
        self.stats.rejected += 1
        self._complain(f"rejected: {message}")

    def refuse(self, message: str) -> None:
        """A sender or connection turned away before its input was parsed."""
        self.stats.refused += 1
        self._complain(f"refused: {message}")

    def _complain(self, message: str) -> None:
        if self.first_problem is None:
            self.first_problem = message
        self.warn(message)

    def validate(self, obj: Mapping[str, Any], where: str = "") -> Event | Header | None:
        """Validate a mapping stamped with the receive time (a `t` it carries is ignored:
        live order is arrival order). Counts and returns None when it is invalid."""
        if "t" in obj:
            obj = {k: v for k, v in obj.items() if k != "t"}
        try:
            return event_from_dict(obj, t=self.clock())
        except (EventError, ValueError, OverflowError, TypeError) as exc:
            # Overflow: a JSON integer too big for a float (10**400) is invalid, not a crash.
            self.rejected(f"{exc} ({where})" if where else str(exc))
            return None

    def ingest_mapping(self, obj: Mapping[str, Any], where: str = "") -> None:
        """Validate and queue one decoded object; headers (from a piped recording) are skipped."""
        event = self.validate(obj, where)
        if event is not None and not isinstance(event, Header):
            self.push(event)

    def ingest_json(self, text: str | bytes, where: str = "") -> None:
        """One JSON object per call (a WebSocket message, a stdin line)."""
        at = f" ({where})" if where else ""
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, deep nesting
            self.malformed(f"not JSON{at}: {_short(exc)}")
            return
        if not isinstance(obj, dict):
            self.malformed(f"expected a JSON object{at}, got {type(obj).__name__}")
            return
        self.ingest_mapping(obj, where)


def _short(value: object, limit: int = 120) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "DEFAULT_HOST",
    "QUEUE_CAP",
    "QUEUE_SOFT",
    "AllowList",
    "LiveQueue",
    "LiveSource",
    "RateLimitedWarning",
    "clean_float",
    "format_address",
    "key_matches",
    "option_key",
    "parse_listen_uri",
    "parse_options",
]
