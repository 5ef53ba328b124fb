"""A live source that never ends the show: reopened with backoff when it fails."""

from __future__ import annotations

import logging
from collections.abc import Callable

from mural.events import Event
from mural.sources.base import EventSource, SourceStats

log = logging.getLogger("mural.sources")


class ResilientSource:
    """Wraps a live source; when it fails (its receiver died, its poll raised), it is closed and
    reopened after 1, 2, 4 … up to `max_backoff` seconds of the session clock. Meanwhile it
    yields nothing, which the mural shows as that source's silence: shadows.

    `first` is the source already open. Without one it starts with nothing open and opens on
    the first poll (or, when `failure` says why the caller's own attempt failed, on the first
    retry after the first backoff), so a listener whose port is still taken comes up later.
    """

    live = True

    def __init__(
        self,
        opener: Callable[[], EventSource],
        *,
        name: str,
        clock: Callable[[], float],
        first: EventSource | None = None,
        failure: str | None = None,
        max_backoff: float = 30.0,
    ) -> None:
        self.name = name
        self._opener = opener
        self._clock = clock
        self.max_backoff = max_backoff
        self.inner: EventSource | None = first
        self._past = SourceStats()
        self.backoff = 1.0
        self.retry_at: float | None = None
        self.restarts = 0  # reopenings after a failure of a source that had been open
        self.opened = first is not None  # it has been open at least once
        self.last_error: str | None = None
        self._closed = False
        if first is None and failure is not None:
            self._fail(failure)

    @property
    def stats(self) -> SourceStats:
        current = self.inner.stats if self.inner is not None else SourceStats()
        return self._past.merge(current)

    @property
    def healthy(self) -> bool:
        return self.inner is not None

    def _fail(self, reason: str) -> None:
        self.last_error = reason
        log.warning("%s failed (%s); retrying in %.0f s", self.name, reason, self.backoff)
        if self.inner is not None:
            self._past = self._past.merge(self.inner.stats)
            try:
                self.inner.close()
            except Exception:  # a broken source may not close cleanly; it is dropped anyway
                log.debug("closing %s failed", self.name, exc_info=True)
        self.inner = None
        self.retry_at = self._clock() + self.backoff
        self.backoff = min(self.max_backoff, self.backoff * 2)

    def poll(self, now: float) -> list[Event]:
        if self._closed:
            return []
        if self.inner is None:
            if self.retry_at is not None and self._clock() < self.retry_at:
                return []
            try:
                self.inner = self._opener()
            except Exception as exc:
                self._fail(str(exc))
                return []
            self.backoff = 1.0
            if self.opened:
                self.restarts += 1
                log.warning("%s is back", self.name)
            else:
                self.opened = True
                if self.last_error is not None:
                    log.warning("%s is open now", self.name)
        if getattr(self.inner, "failed", False):
            self._fail(getattr(self.inner, "failure", None) or "receiver stopped")
            return []
        try:
            return self.inner.poll(now)
        except Exception as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            return []

    @property
    def finished(self) -> bool:
        return False  # a live input may always come back

    def close(self) -> None:
        """Close the source; a closed one stays closed (it is not reopened)."""
        self._closed = True
        if self.inner is not None:
            self.inner.close()
            self._past = self._past.merge(self.inner.stats)
            self.inner = None
        self.retry_at = None
