"""`osc://HOST:PORT`: emotion events over OSC/UDP, parsed by python-osc on a background thread.

Address space (exact addresses, no pattern matching; `[...]` arguments are optional; ints are
accepted wherever a float is expected; floats are rounded to float32 precision):

    /mural/emotion  participant:s emotion:s intensity:f [x:f y:f]
    /mural/va       participant:s valence:f arousal:f [intensity:f [x:f y:f]]
    /mural/signal   level:f [participant:s]
    /mural/health   participant:s heart_rate:f
    /mural/marker   name:s

`/mural/health` emits no event of its own: the source remembers each participant's latest heart
rate and attaches it to that participant's following emotion events (it counts as accepted).
Bundles are accepted, nested to any depth, and their messages are taken in the order they appear;
bundle time tags are ignored, because every live event is stamped with the session clock when
its packet arrives. Datagrams that are not OSC count as malformed; messages with an unknown
address, the wrong number or types of arguments, an unknown emotion, NaN or out-of-range values
count as rejected. Neither stops the listener. On Linux, datagrams the kernel discarded because
the receive buffer overflowed (a flood faster than parsing) are counted as dropped.

`osc://HOST:PORT?map=mindmonitor|emotibit|FILE.toml` routes every message to a mapper instead
of this address space (Muse via Mind Monitor, EmotiBit, any device): see mural.sources.oscmap.

Doors (query parameters; anything else is refused at open, naming what is accepted):

    key=SECRET                  every message must carry the shared secret
    allow=ADDR[,ADDR|NET...]    only these senders (127.0.0.1, ::1, 10.0.0.0/8 ...)
    map=... participant=... calibrate=...   see mural.sources.oscmap

With `key`, a message carries the secret as its FIRST argument, a string, before the ones above:
`/mural/emotion SECRET p1 joy 0.8`. That is one constant string argument in a TouchOSC
control's message, or `[prepend /mural/emotion SECRET]` (a message box `/mural/emotion SECRET
$1 $2 $3`) before `[udpsend]` in Max or Pure Data. The key argument is removed before the
message is read, so with `map=` a map file's `arg` indices stay as they were. A sender that
bundles its messages may instead put `/mural/auth SECRET` in the bundle: it vouches for every
message of that datagram. (`/mural/auth` itself is never an event, keyed or not.) A message
without the key, or with a wrong one, counts as refused (with a rate-limited warning) and is
never read. Devices that cannot add an argument (Mind Monitor, EmotiBit) are kept to the
senders you trust with `allow=` instead. `mural send "osc://HOST:PORT?key=SECRET"` sends the
key as the first argument of each message. Note that UDP has no handshake: the key keeps out
senders who do not know it, not anyone who can watch the network's traffic.

With `allow`, a datagram from any other address is counted as refused and never parsed. Both
can be combined. The host still defaults to 127.0.0.1: listening on the room's network is
`osc://0.0.0.0:PORT`, an explicit choice.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import struct
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from mural.events import EMOTIONS, EmotionEvent, Event, Header, MarkerEvent, SignalEvent
from mural.sources.live import (
    QUEUE_CAP,
    QUEUE_SOFT,
    AllowList,
    Clock,
    LiveSource,
    clean_float,
    format_address,
    key_matches,
    option_key,
    parse_listen_uri,
    parse_options,
)
from mural.sources.oscmap import (
    QUERY_KEYS,
    OscMapper,
    feed_mapper,
    mapper_from_query,
    tick_mapper,
)

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65_535
RECV_BUFFER = 4 * 1024 * 1024  # let the kernel absorb bursts while the thread catches up
MAX_HEART_RATES = 4_096  # participants whose heart rate is remembered (oldest forgotten)
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux value; Python may not export it
SUPPORTED_TAGS = b"ihfdsbrmtTFN[]"
AUTH_ADDRESS = "/mural/auth"  # `/mural/auth SECRET` in a bundle vouches for the whole datagram
OPTIONS = (*QUERY_KEYS, "key", "allow")  # what osc://HOST:PORT?... takes

# address -> (argument names, the allowed argument counts)
ADDRESSES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "/mural/emotion": (("participant", "emotion", "intensity", "x", "y"), (3, 5)),
    "/mural/va": (("participant", "valence", "arousal", "intensity", "x", "y"), (3, 4, 6)),
    "/mural/signal": (("level", "participant"), (1, 2)),
    "/mural/health": (("participant", "heart_rate"), (2,)),
    "/mural/marker": (("name",), (1,)),
}


class _PythonOscNoise(logging.Filter):
    """python-osc warns on the root logger for every odd type tag it meets; a flood of crafted
    packets would flood the log past our rate limit, and we count those packets ourselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname


_noise_filter = _PythonOscNoise()


def _unsupported_tags(dgram: bytes) -> bytes:
    """Type tags python-osc skips (with a warning) instead of failing; b"" when all are known."""
    end = dgram.find(b"\0")
    start = (end | 3) + 1  # the address is NUL-padded to a multiple of four
    if end < 0 or start >= len(dgram):
        return b""
    stop = dgram.find(b"\0", start)
    return dgram[start + 1 : stop if stop >= 0 else len(dgram)].translate(None, SUPPORTED_TAGS)


def _messages(dgram: bytes) -> list[OscMessage]:
    """Every message in a datagram, bundles flattened in order; raises on anything malformed."""
    if OscBundle.dgram_is_bundle(dgram):
        found = list(_walk(OscBundle(dgram)))
    elif OscMessage.dgram_is_message(dgram):
        found = [OscMessage(dgram)]
    else:
        raise ValueError("not an OSC message or bundle")
    for message in found:
        bad = _unsupported_tags(message.dgram)
        if bad:
            raise ValueError(f"unsupported OSC type tags {bad.decode('latin-1')!r}")
    return found


def _walk(bundle: OscBundle) -> Iterator[OscMessage]:
    for content in bundle:
        if isinstance(content, OscBundle):
            yield from _walk(content)
        else:
            yield content


def message_to_mapping(address: str, args: list[Any]) -> dict[str, Any]:
    """Name an OSC message's arguments after the stream-file fields; ValueError if the address
    or argument count is wrong (the field values are left for the event validator)."""
    spec = ADDRESSES.get(address)
    if spec is None:
        raise ValueError(f"unknown address {address!r} (expected one of {', '.join(ADDRESSES)})")
    names, counts = spec
    if len(args) not in counts:
        wanted = " or ".join(str(n) for n in counts)
        raise ValueError(f"{address} takes {wanted} arguments ({' '.join(names)}), got {len(args)}")
    obj = {name: clean_float(value) for name, value in zip(names, args, strict=False)}
    if address == "/mural/signal":
        obj["type"] = "signal"
    elif address == "/mural/marker":
        obj["type"] = "marker"
    return obj


class OscSource(LiveSource):
    """Listens on one UDP port; `.port` is the bound port (useful with port 0)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        strict: bool = False,
        clock: Clock,
        cap: int = QUEUE_CAP,
        soft: int = QUEUE_SOFT,
        mapper: OscMapper | None = None,
        key: str | None = None,
        allow: AllowList | None = None,
    ) -> None:
        sock = _bind_udp(host, port)
        self.mapper = mapper  # set: messages go to it instead of the /mural/... handlers
        self.key = key  # set: every message must carry it (see the module docstring)
        self.allow = allow or AllowList()  # empty: every sender
        self.host = host
        self.port: int = sock.getsockname()[1]
        self.address = format_address("osc", host, self.port)
        super().__init__(self.address, strict=strict, clock=clock, logger=log, cap=cap, soft=soft)
        self.heart_rates: OrderedDict[str, float] = OrderedDict()
        self._sock = sock
        self._stop = threading.Event()
        logging.getLogger().addFilter(_noise_filter)
        self._thread = threading.Thread(target=self._run, name=f"mural {self.address}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the receiver thread and release the port (at once, or within 0.2 s)."""
        if not self._stop.is_set():
            self._stop.set()
            self._wake()
            self._thread.join(timeout=2.0)
            self._sock.close()
        super().close()

    def _wake(self) -> None:
        """An empty datagram to ourselves ends the blocked read now rather than at its timeout."""
        addr = self._sock.getsockname()
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(addr[0], addr[0])
        # if this fails, the read times out anyway
        with contextlib.suppress(OSError), socket.socket(self._sock.family, socket.SOCK_DGRAM) as w:
            w.sendto(b"", (host, *addr[1:]))

    def _run(self) -> None:
        sock = self._sock
        # Linux reports datagrams the kernel discarded (receive buffer full) with each read.
        overflow = _enable_overflow_count(sock)
        ancillary = socket.CMSG_SPACE(4) if overflow else 0
        kernel_drops = 0
        errors = 0
        while not self._stop.is_set():
            try:
                if overflow:
                    dgram, ancdata, _, sender = sock.recvmsg(MAX_DATAGRAM, ancillary)
                    for level, kind, data in ancdata:
                        if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(data) >= 4:
                            total = struct.unpack("I", data[:4])[0]
                            self.stats.dropped += max(0, total - kernel_drops)
                            kernel_drops = total
                else:
                    dgram, sender = sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                if self.mapper is not None:
                    tick_mapper(self)
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                errors += 1
                self.warn(f"receive failed: {exc}")
                if errors >= MAX_CONSECUTIVE_ERRORS:  # the socket is gone: let it be reopened
                    self.failure = f"receive failed {errors} times in a row: {exc}"
                    break
                continue
            errors = 0
            if self._stop.is_set():
                break
            try:
                self.ingest_datagram(dgram, sender)
            except Exception as exc:  # never let one packet kill the listener
                self.malformed(f"{type(exc).__name__}: {exc}")

    def ingest_datagram(self, dgram: bytes, sender: Any = None) -> None:
        """Check the sender, parse one UDP datagram and queue the events it carries.

        `sender` is the (host, port, ...) it came from; with an allow-list, a datagram from
        elsewhere (or from nobody known) is refused before it is parsed."""
        where = _sender(sender)
        if self.allow and (sender is None or sender[0] not in self.allow):
            if dgram:  # an empty datagram is our own wake-up call, or nothing at all
                self.refuse(f"datagram from {where}, which is not in allow={self.allow}")
            return
        try:
            messages = _messages(dgram)
        except Exception as exc:  # python-osc raises ParseError, UnicodeDecodeError, ...
            self.malformed(f"{len(dgram)}-byte datagram from {where}: {exc}")
            return
        vouched = self.key is not None and any(
            m.address == AUTH_ADDRESS and len(m.params) == 1 and key_matches(m.params[0], self.key)
            for m in messages
        )
        for message in messages:
            if message.address == AUTH_ADDRESS:
                continue  # never an event
            args = message.params
            if self.key is not None:
                if args and key_matches(args[0], self.key):
                    args = args[1:]
                elif not vouched:
                    self.refuse(f"{message.address[:60]!r} from {where} without the key")
                    continue
            if self.mapper is not None:
                feed_mapper(self, message.address, args)
            else:
                self.ingest_message(message.address, args)
        if self.mapper is not None:
            tick_mapper(self)

    def ingest_message(self, address: str, args: list[Any]) -> None:
        """Queue the event one OSC message describes (or remember a heart rate)."""
        try:
            obj = message_to_mapping(address, args)
        except ValueError as exc:
            self.rejected(str(exc))
            return
        if address == "/mural/health":
            # Validate participant and rate through the model, with a placeholder emotion.
            checked = self.validate({**obj, "emotion": "neutral"})
            if isinstance(checked, EmotionEvent) and checked.heart_rate is not None:
                self._remember_heart_rate(checked.participant, checked.heart_rate)
                self.stats.accepted += 1
            return
        event = self.validate(obj)
        if event is None or isinstance(event, Header):
            return
        if isinstance(event, EmotionEvent) and event.participant in self.heart_rates:
            event = replace(event, heart_rate=self.heart_rates[event.participant])
        self.push(event)

    def _remember_heart_rate(self, participant: str, rate: float) -> None:
        self.heart_rates[participant] = rate
        self.heart_rates.move_to_end(participant)
        while len(self.heart_rates) > MAX_HEART_RATES:
            self.heart_rates.popitem(last=False)


MAX_CONSECUTIVE_ERRORS = 50


def _sender(sender: Any) -> str:
    try:
        host, port = sender[0], sender[1]
    except (TypeError, IndexError):
        return "an unknown sender"
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _enable_overflow_count(sock: socket.socket) -> bool:
    if not sys.platform.startswith("linux") or not hasattr(sock, "recvmsg"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
    except OSError:
        return False
    return True


def _bind_udp(host: str, port: int) -> socket.socket:
    from mural.sources.base import SourceError

    where = format_address("osc", host, port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise SourceError(f"cannot listen on {where}: unknown host {host!r} ({exc})") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        reason = "port in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise SourceError(f"cannot listen for OSC on host {host} port {port}: {reason}") from None
    sock.settimeout(0.2)
    return sock


def open_osc(uri: str, *, strict: bool = False, clock: Clock) -> OscSource:
    """The `osc://HOST:PORT[?key=...&allow=...&map=...]` factory registered in
    mural.sources.SCHEMES; SourceError for a parameter it does not take."""
    from mural.sources.base import SourceError

    try:
        host, port = parse_listen_uri(uri, "osc")
    except ValueError as exc:
        raise SourceError(str(exc)) from None
    options = parse_options(uri, "osc", OPTIONS)
    key = option_key(options, "osc")
    allow = AllowList.parse(options["allow"], "osc") if "allow" in options else None
    mapping = urlencode([(k, v) for k, v in options.items() if k in QUERY_KEYS])
    mapper = mapper_from_query(mapping)
    return OscSource(host, port, strict=strict, clock=clock, mapper=mapper, key=key, allow=allow)


# -- sending (used by `mural send`) --------------------------------------------------------------


def _message(address: str, *args: tuple[Any, str], key: str | None = None) -> OscMessage:
    builder = OscMessageBuilder(address=address)
    if key is not None:
        builder.add_arg(key, "s")
    for value, tag in args:
        builder.add_arg(value, tag)
    return builder.build()


def event_to_osc(event: Event, key: str | None = None) -> list[OscMessage]:
    """The OSC messages that carry one event in this address space (each with `key` as its
    first argument when one is given).

    Lossy where the address space is: a label with its own valence/arousal is sent as
    `/mural/va` (the label is dropped), x/y only travel as a pair, a heart rate goes first as
    `/mural/health`.
    """
    f, s = "f", "s"
    if isinstance(event, SignalEvent):
        extra = [(event.participant, s)] if event.participant is not None else []
        return [_message("/mural/signal", (event.level, f), *extra, key=key)]
    if isinstance(event, MarkerEvent):
        return [_message("/mural/marker", (event.name, s), key=key)]
    out: list[OscMessage] = []
    if event.heart_rate is not None:
        out.append(_message("/mural/health", (event.participant, s), (event.heart_rate, f),
                            key=key))
    xy = [(event.x, f), (event.y, f)] if event.x is not None and event.y is not None else []
    anchor = EMOTIONS.get(event.emotion) if event.emotion else None
    if anchor is not None and (anchor.valence, anchor.arousal) == (event.valence, event.arousal):
        out.append(
            _message(
                "/mural/emotion",
                (event.participant, s),
                (event.emotion, s),
                (event.intensity, f),
                *xy,
                key=key,
            )
        )
    else:
        out.append(
            _message(
                "/mural/va",
                (event.participant, s),
                (event.valence, f),
                (event.arousal, f),
                (event.intensity, f),
                *xy,
                key=key,
            )
        )
    return out


def pack(messages: list[OscMessage]) -> OscMessage | OscBundle:
    """One message as is, several as an immediate bundle (so they arrive together, in order)."""
    if len(messages) == 1:
        return messages[0]
    builder = OscBundleBuilder(IMMEDIATELY)
    for message in messages:
        builder.add_content(message)
    return builder.build()


__all__ = ["ADDRESSES", "AUTH_ADDRESS", "OPTIONS", "OscSource", "event_to_osc",
           "message_to_mapping", "open_osc", "pack"]
