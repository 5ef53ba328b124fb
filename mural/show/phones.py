"""Participants' phones on the wall: the join code in a corner, phones in the HUD, blocking.

A `web://` source serves the phone page; the player shows its join link as a QR code (small,
dim, faded in, redrawn when the token rotates), counts the phones connected in the HUD, and
lets the operator block the phone whose light arrived last (B): its light fades out and it
cannot rejoin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import numpy as np

from mural.events import EmotionEvent, Event
from mural.render.overlay import draw_qr
from mural.sinks.window import HudLine

FADE_IN = 3.0  # seconds for the join code to appear (a soft ramp: never a flash)


class PhoneSource(Protocol):
    """What the player reads of a web:// source."""

    join_url: str
    phones: int
    max_phones: int
    participants: list[str]

    def join_qr(self) -> list[list[bool]]: ...

    def block(self, participant_id: str) -> bool: ...


def phone_sources(sources: Iterable[Any]) -> list[PhoneSource]:
    """The web:// sources among the player's, looking through resilient wrappers."""
    found = []
    for source in sources:
        inner = getattr(source, "inner", source)
        if hasattr(inner, "join_qr") and hasattr(inner, "block"):
            found.append(inner)
    return found


class Phones:
    """The player's phone features; attach with `Phones.attach(player, show_join=...)`."""

    def __init__(self, sources: Callable[[], list[PhoneSource]], clock: Callable[[], float],
                 notify: Callable[[str], None], show_join: bool = False) -> None:
        self.sources = sources
        self.clock = clock
        self.notify = notify
        self.show_join = show_join
        self.last_phone: str | None = None
        self._code: tuple[str, np.ndarray] | None = None
        self._shown_since: float | None = None

    @classmethod
    def attach(cls, player: Any, *, show_join: bool = False) -> Phones:
        """Hook into a Player: HUD line, events observer, join-code overlay (the B key's
        action, block_phone, calls `block_last`)."""
        phones = cls(lambda: phone_sources(player.sources), player.session_time,
                     player.notify, show_join)
        player.hud.providers.append(phones.hud_lines)
        player.on_events.append(phones.observe)
        player.overlays.append(phones.overlay)
        return phones

    def hud_lines(self) -> list[HudLine]:
        return [HudLine(f"phones {s.phones}/{s.max_phones}   join {s.join_url.split('?')[0]}")
                for s in self.sources()]

    def observe(self, events: list[Event]) -> None:
        """Remember the last phone that lit the wall (the one B blocks)."""
        ids = {pid for s in self.sources() for pid in s.participants}
        for event in events:
            if isinstance(event, EmotionEvent) and event.participant in ids:
                self.last_phone = event.participant

    def block_last(self) -> str | None:
        if self.last_phone is None:
            self.notify("no phone to block yet")
            return None
        for source in self.sources():
            if source.block(self.last_phone):
                blocked, self.last_phone = self.last_phone, None
                self.notify(f"blocked {blocked}: its light fades out")
                return blocked
        return None

    def overlay(self, frame: np.ndarray) -> None:
        """The join code of the first phone source, faded in, in the bottom-right corner."""
        if not self.show_join:
            return
        sources = self.sources()
        if not sources:
            return
        url = sources[0].join_url
        if self._code is None or self._code[0] != url:  # the token rotated: a new code
            self._code = (url, np.array(sources[0].join_qr(), bool))
        now = self.clock()
        if self._shown_since is None:
            self._shown_since = now
        opacity = min(1.0, max(0.0, (now - self._shown_since) / FADE_IN))
        draw_qr(frame, self._code[1], opacity=opacity)


__all__ = ["FADE_IN", "PhoneSource", "Phones", "phone_sources"]
