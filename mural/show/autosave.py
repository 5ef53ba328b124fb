"""Never lose the mural, never stop the show for it: periodic state saves that cannot fail a show.

The state is written every `every` seconds of session time and on exit. A save that fails (disk
full, a read-only folder, too many open files, a StateError ...) is warned about once, and again
only when the reason changes; the show goes on and the last good state file stays as it was
(the writer writes a temporary file and renames it; a temporary file left behind is removed).

A show started without resuming does not write over the state a previous show left (its
crash-recovery file): `keep_previous` moves it aside first, to a name that overwrites nothing.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mural.events.errors import MuralError

log = logging.getLogger("mural.show")

AUTOSAVE_EVERY = 30.0  # seconds of session time between state saves

Warn = Callable[[str], None]


def failure_reason(exc: BaseException) -> str:
    """An error as one short line, the same for the same cause (no temp file names)."""
    if isinstance(exc, OSError) and exc.strerror:
        code = errno.errorcode.get(exc.errno or 0)
        return f"{exc.strerror} ({code})" if code else exc.strerror
    if isinstance(exc, (MuralError, OSError)):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class Autosaver:
    """Saves with `write(path)` (which must write atomically) to `path`; never raises for it.

    `warn` gets one line per new problem (default: logging). `saves` and `failures` count the
    attempts; `last_error` is the reason of the last failure (None once a save succeeds again).
    """

    def __init__(
        self,
        path: str | Path,
        write: Callable[[Path], Any],
        *,
        every: float = AUTOSAVE_EVERY,
        warn: Warn | None = None,
    ) -> None:
        if every <= 0:
            raise ValueError(f"autosave interval must be positive, got {every}")
        self.path = Path(path)
        self.write = write
        self.every = float(every)
        self.warn: Warn = warn or log.warning
        self.enabled = True
        self.last_attempt = 0.0  # session time of the last periodic save
        self.last_error: str | None = None
        self.saves = 0
        self.failures = 0

    def due(self, now: float) -> bool:
        return self.enabled and now - self.last_attempt >= self.every

    def tick(self, now: float) -> Path | None:
        """Save if `every` seconds passed since the last periodic save."""
        if not self.due(now):
            return None
        self.last_attempt = now
        return self.save()

    def save(self) -> Path | None:
        """Save now; the path written, or None when saving failed or is off."""
        if not self.enabled:
            return None
        try:
            written = self.write(self.path)
        except Exception as exc:  # any failure: warn, keep the last good file, play on
            self.failures += 1
            self._remove_partials()
            log.debug("autosave to %s failed", self.path, exc_info=True)
            reason = failure_reason(exc)
            if reason != self.last_error:
                self.last_error = reason
                self.warn(f"autosave to {self.path} failed ({reason}); the show goes on and "
                          "the last good state is kept")
            return None
        self.saves += 1
        if self.last_error is not None:
            self.last_error = None
            self.warn(f"autosave to {self.path} works again")
        return Path(written) if written is not None else self.path

    def _remove_partials(self, stale: bool = False) -> None:
        """Temporary files of ours the writer left behind (it should not) go; with `stale`,
        also those of processes no longer running (a previous show that crashed mid-save)."""
        pid = os.getpid()
        with contextlib.suppress(OSError):
            for leftover in self.path.parent.glob(f".{self.path.name}.*.partial"):
                pids = {int(part) for part in leftover.name.split(".") if part.isdigit()}
                if pid in pids or (stale and pids and not any(map(_running, pids))):
                    with contextlib.suppress(OSError):
                        leftover.unlink()

    def protect_previous(self, resuming: str | Path | None = None) -> str | None:
        """Before a show's first save: move aside a state a previous show left at `path`
        (unless this show resumes it). Returns the line to tell the operator, or None.

        If it cannot be moved, autosave is switched off rather than write over it.
        """
        self._remove_partials(stale=True)
        if resuming is not None and _same_file(self.path, Path(resuming)):
            return None
        try:
            kept = keep_previous(self.path)
        except OSError as exc:
            self.enabled = False
            line = (f"cannot move aside the previous show's state {self.path} "
                    f"({failure_reason(exc)}): autosave is off for this show (resume it with "
                    f"--resume {self.path}, or save elsewhere with --state)")
            self.warn(line)
            return line
        if kept is None:
            return None
        return f"kept the previous show's state as {kept} (resume it with --resume {kept})"


def keep_previous(path: str | Path, *, stamp: str | None = None) -> Path | None:
    """Rename the file at `path` to `STEM.previous-YYYYmmdd-HHMMSS[-N]SUFFIX` beside it, never
    overwriting anything; the new path, or None when there is no file."""
    path = Path(path)
    if not path.is_file():
        return None
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    n = 1
    while True:
        suffix = "" if n == 1 else f"-{n}"
        target = path.with_name(f"{path.stem}.previous-{stamp}{suffix}{path.suffix}")
        n += 1
        try:
            os.link(path, target)  # fails when the name is taken: nothing is overwritten
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            if target.exists():
                continue
            os.rename(path, target)
            return target
        os.unlink(path)
        return target


def _running(pid: int) -> bool:
    """Whether a process is running (assumed so where that cannot be asked safely)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours to signal
        return True
    return True


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


__all__ = ["AUTOSAVE_EVERY", "Autosaver", "failure_reason", "keep_previous"]
