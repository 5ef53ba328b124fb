"""The source contract and the SOURCE syntax: what every way of receiving events shares.

SOURCE is `path.jsonl` / `path.csv` (replay, also `file://PATH`), `sim:NAME` (a simulated
scenario), `-` (JSON lines on stdin), or a live listener `SCHEME://HOST:PORT[?...]` (osc://, ws://,
...). Every factory is `factory(uri, *, strict, clock) -> EventSource`, registered by scheme in
`SCHEMES`; the package's `open_source` imports a module only when its scheme is opened, so
`mural still` never loads a network library. Source modules import from here, never from the
package.

`NAME://...` with a scheme that is not registered is a SourceError naming the known ones when
it is opened or loaded (it is not taken for a file name); `osc:9000` without the `//` is sent to
its factory, which says how to write it. Live listeners refuse query parameters they do not
know, naming the ones they take.

Shared secret: `osc://` and `ws://` take `?key=SECRET` (see their modules for how a sender
presents it); `with_key(uri, key)` adds one to such a SOURCE (what `--live-key` does). Other
SOURCEs are returned unchanged: `web://` has its own rotating join token.

`strict` on a live source counts, warns (rate-limited) and keeps the first problem, but never
raises from `poll` and never closes the listener: a remote sender must not be able to silence
the good ones by sending junk.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mural.events import Event
from mural.events.errors import MuralError

Clock = Callable[[], float]


class SourceError(MuralError):
    """A SOURCE that cannot be opened (missing file, unknown scenario, port in use ...)."""


@dataclass
class SourceStats:
    """What a source let through and what it turned away (shown in summaries and the HUD)."""

    accepted: int = 0
    rejected: int = 0  # parsed, but not a valid event (unknown emotion, out of range, NaN ...)
    malformed: int = 0  # could not be parsed at all (not JSON, not OSC ...)
    dropped: int = 0  # valid, but shed by flood control
    # turned away at the door, never parsed: a sender not on the allow-list, a missing or wrong
    # key, a browser Origin not allowed, a connection over the cap
    refused: int = 0

    def merge(self, other: SourceStats) -> SourceStats:
        return SourceStats(
            self.accepted + other.accepted,
            self.rejected + other.rejected,
            self.malformed + other.malformed,
            self.dropped + other.dropped,
            self.refused + other.refused,
        )


@runtime_checkable
class EventSource(Protocol):
    """A stream of events on the session clock.

    `poll(now)` never blocks: it returns the events with `t <= now` not returned before, in time
    order. Live sources stamp `t` from the receiving clock (seconds since the session started);
    recordings and simulations already carry it. `finished` turns true when a finite source has
    nothing more to give.
    """

    name: str
    live: bool
    stats: SourceStats

    def poll(self, now: float) -> list[Event]: ...

    @property
    def finished(self) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Scheme:
    """One kind of SOURCE: where its factory lives, and whether it listens live."""

    factory: str  # "module:function"
    live: bool
    network: bool = False  # a listener that can fail mid-show and be reopened with backoff


class _Schemes(dict[str, Scheme]):
    """The registry; looking up a scheme nobody registered is a SourceError naming the known
    SOURCE forms (not a KeyError, and never "no such file")."""

    def __missing__(self, name: str) -> Scheme:
        raise SourceError(unknown_scheme(name))


SCHEMES: dict[str, Scheme] = _Schemes({
    "sim": Scheme("mural.sources.simulate:open_simulation", live=False),
    "file": Scheme("mural.sources.replay:open_replay", live=False),
    "stdin": Scheme("mural.sources.stdin:open_stdin", live=True),
    "osc": Scheme("mural.sources.osc:open_osc", live=True, network=True),
    "ws": Scheme("mural.sources.websocket:open_websocket", live=True, network=True),
    "web": Scheme("mural.sources.web:open_web", live=True, network=True),
    "brainflow": Scheme("mural.sources.brainflow_source:open_brainflow", live=True, network=True),
})


KEYED_SCHEMES = ("osc", "ws")  # live listeners that take ?key=SECRET
MAX_KEY = 256
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")


def known_sources() -> str:
    """The SOURCE forms, for error messages."""
    listeners = [f"{name}://..." for name, s in SCHEMES.items() if s.network]
    return ", ".join(["FILE.jsonl", "FILE.csv", "file://PATH", "sim:NAME", "- (stdin)",
                      *listeners])


def unknown_scheme(name: str, uri: str | None = None) -> str:
    """What to say about `NAME://...` when no source is registered as NAME."""
    where = f" in {uri!r}" if uri is not None else ""
    hint = f" (schemes are lower case: {name.lower()}://)" if name.lower() in SCHEMES else ""
    return (f"unknown source scheme {name + '://'!r}{where}{hint}; a SOURCE is one of: "
            f"{known_sources()}")


def scheme_of(uri: str) -> str:
    """Which kind of source a SOURCE string names: a key of SCHEMES, or, for `NAME://...`
    with a scheme nobody registered, that NAME (never "file": it is not taken for a file
    name). It does not raise, so a session can be parsed whole; `scheme_for` (used by
    `open_source` and `load_offline`), `SCHEMES[...]` and `check_scheme` raise SourceError
    naming the known ones. `osc:9000` (no //) is "osc", so its factory explains the syntax."""
    if uri == "-":
        return "stdin"
    head, sep, rest = uri.partition(":")
    if not sep or not _SCHEME.match(head):
        return "file"  # a plain path (or a Windows drive letter)
    known = SCHEMES.get(head)
    if known is not None:
        return head if head == "sim" or rest.startswith("//") or known.network else "file"
    return head if rest.startswith("//") else "file"


def scheme_for(uri: str) -> Scheme:
    """The registered kind of source `uri` names; SourceError for an unknown `NAME://`."""
    name = scheme_of(uri)
    scheme = SCHEMES.get(name)
    if scheme is None:
        raise SourceError(unknown_scheme(name, uri))
    return scheme


def check_scheme(uri: str) -> str:
    """`scheme_of`, raising SourceError for an unknown scheme instead of returning it."""
    scheme_for(uri)
    return scheme_of(uri)


def is_live(uri: str) -> bool:
    """Live sources stamp events with the receiving clock; they cannot be fast-forwarded.
    False for an unknown scheme (opening or loading it says what is wrong)."""
    scheme = SCHEMES.get(scheme_of(uri))
    return scheme is not None and scheme.live


def check_key(key: str) -> str:
    """A shared secret as given: printable, no spaces, at most MAX_KEY characters."""
    if not key:
        raise SourceError("the live key must not be empty")
    if len(key) > MAX_KEY:
        raise SourceError(f"the live key is longer than {MAX_KEY} characters")
    if not key.isprintable() or any(c.isspace() for c in key):
        raise SourceError("the live key must be printable text without spaces")
    return key


def with_query(uri: str, scheme: str, **params: object) -> str:
    """`uri` with `name=value` added for each of `params` that it does not name itself, when
    it is a SOURCE of `scheme` (the command line's defaults for every such source); any other
    SOURCE is returned unchanged. Values of None are left out."""
    from urllib.parse import parse_qsl, quote, urlsplit

    if scheme_of(uri) != scheme:
        return uri
    query = urlsplit(uri).query
    named = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    extra = [f"{name}={quote(str(value), safe='')}" for name, value in params.items()
             if value is not None and name not in named]
    if not extra:
        return uri
    joint = "&" if query else "" if uri.endswith("?") else "?"
    return uri + joint + "&".join(extra)


def with_key(uri: str, key: str) -> str:
    """`uri` with `key=KEY` added to its query, when it is a live listener that takes a key
    (osc://, ws://). A SOURCE that already names its own key= keeps it; any other SOURCE
    (files, sim:, -, web:// with its join token, brainflow://) is returned unchanged."""
    from urllib.parse import parse_qsl, quote, urlsplit

    check_key(key)
    if scheme_of(uri) not in KEYED_SCHEMES:
        return uri
    query = urlsplit(uri).query
    if any(name == "key" for name, _ in parse_qsl(query, keep_blank_values=True)):
        return uri
    joint = "&" if query else "" if uri.endswith("?") else "?"
    return f"{uri}{joint}key={quote(key, safe='')}"


def with_live_options(uris: list[str] | tuple[str, ...], *, key: str | None = None,
                      join_ttl: float | None = None,
                      max_phones: int | None = None) -> list[str]:
    """The command line's live-input options applied to every SOURCE they concern: `key` to
    osc:// and ws:// (each may name its own), `join_ttl` and `max_phones` to web://."""
    out = []
    for uri in uris:
        if key is not None:
            uri = with_key(uri, key)
        out.append(with_query(uri, "web", join_ttl=join_ttl, max_phones=max_phones))
    return out


def monotonic_clock() -> Clock:
    """A session clock: seconds since it was made."""
    start = time.monotonic()
    return lambda: time.monotonic() - start
