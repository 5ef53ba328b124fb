"""What a show writes over the picture: the HUD (when on), alerts, and a passing notice.

Pure bookkeeping on session times passed in: the player hands over its status lines; more lines
come from `providers` (any callable returning HudLines, e.g. "phones connected"), shown while
the HUD is on; a notice ("saved ...", "palette ember") shows for MESSAGE_SECONDS, HUD or not.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from mural.sinks.window import HudLine

MESSAGE_SECONDS = 2.5  # how long a notice stays on screen
RATE_WINDOW = 2.0  # seconds of events the events/s figure averages over

HudProvider = Callable[[], Iterable[HudLine] | None]


class Hud:
    """The HUD's state: on or off, its extra line providers, the notice, the event rate."""

    def __init__(self, on: bool = False) -> None:
        self.on = on
        self.providers: list[HudProvider] = []
        self.message: tuple[str, float] | None = None  # (text, shown until)
        self._events: deque[tuple[float, int]] = deque()  # (session time, how many)

    def toggle(self) -> None:
        self.on = not self.on

    def notify(self, text: str, now: float) -> None:
        """A short notice on screen from `now` on, HUD or not."""
        self.message = (text, now + MESSAGE_SECONDS)

    def count(self, n: int, now: float) -> None:
        """`n` events landed at `now` (for events/s)."""
        if n:
            self._events.append((now, n))

    def forget_before(self, now: float) -> None:
        while self._events and now - self._events[0][0] > RATE_WINDOW:
            self._events.popleft()

    def events_per_second(self, now: float) -> float:
        if not self._events:
            return 0.0
        span = max(1.0, now - self._events[0][0])
        return sum(n for _, n in self._events) / span

    def lines(self, now: float, status: Callable[[], Iterable[HudLine]],
              alerts: Iterable[HudLine] = ()) -> list[HudLine] | None:
        """What to draw at `now`: the status lines (built only when the HUD is on), the
        providers' lines and `alerts` while on, then the notice; None when nothing."""
        out: list[HudLine] = []
        if self.on:
            out += status()
            for provider in self.providers:
                out += provider() or ()
            out += alerts
        if self.message is not None:
            text, until = self.message
            if now <= until:
                out.append(HudLine(text))
            else:
                self.message = None
        return out or None


__all__ = ["MESSAGE_SECONDS", "Hud", "HudProvider"]
