"""The playhead of a show and the pacing of its frames: pure arithmetic, time is passed in.

The *playhead* (`position`) is the time in the recording: it advances by wall time x speed every
frame and is never slowed by a slow frame. The mural's simulation runs on its fixed step behind
it. If a frame took long, the next step simply simulates more, but at most `max_catchup` seconds
per frame: beyond that the mural *skips ahead* (`skipped` grows) instead of falling behind, so
mural time = position - skipped. Events from the skipped span are still applied (moved onto the
mural's timeline, see mural.show.feed), only the simulation between them is not computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MIN_SPEED, MAX_SPEED = 1 / 16, 1024.0
MAX_CATCHUP = 0.25  # seconds of simulation per frame at most; beyond it the mural skips
SEEK_STEP = 10.0  # seconds per ←/→


def clamp_speed(speed: float) -> float:
    """A playback speed within MIN_SPEED .. MAX_SPEED."""
    return min(MAX_SPEED, max(MIN_SPEED, float(speed)))


@dataclass
class Playhead:
    """Where a show is in its recording(s), how fast it goes, and what it skipped.

    `end` is the end of the recording(s) (infinite for live input or simulations): seeking
    stops there.
    """

    position: float = 0.0  # recording time
    speed: float = 1.0
    skipped: float = 0.0  # simulation skipped so far: mural time = position - skipped
    paused: bool = False
    max_catchup: float = MAX_CATCHUP
    end: float = math.inf

    def __post_init__(self) -> None:
        self.speed = clamp_speed(self.speed)

    def set_speed(self, speed: float) -> float:
        """Change speed (clamped); returns the speed now in effect."""
        self.speed = clamp_speed(speed)
        return self.speed

    def advance(self, dt: float) -> None:
        """`dt` seconds of wall time passed (nothing moves while paused)."""
        if not self.paused and dt > 0:
            self.position += dt * self.speed

    @property
    def mural_target(self) -> float:
        """Where the mural should be: the playhead on the mural's timeline."""
        return self.position - self.skipped

    def step_target(self, mural_time: float) -> float:
        """The time to simulate to this frame, the mural being at `mural_time`.

        At most `max_catchup` past `mural_time`; a longer lag is skipped (`skipped` grows), so
        the simulation never spirals into ever longer frames.
        """
        target = self.mural_target
        lag = target - mural_time
        if lag > self.max_catchup:
            self.skipped += lag - self.max_catchup
            target = mural_time + self.max_catchup
        return target

    def on_mural(self, t: float) -> float:
        """A recording time on the mural's timeline (behind the playhead by `skipped`)."""
        return t - self.skipped

    def in_recording(self, mural_time: float) -> float:
        """A mural time in the recording's time (where the recordings are to resume)."""
        return mural_time + self.skipped

    def seek_target(self, delta: float) -> float:
        """Where a seek by `delta` seconds lands: not before 0, not past the end."""
        target = max(0.0, self.position + delta)
        return min(target, self.end) if math.isfinite(self.end) else target

    def jump(self, target: float) -> None:
        """Forward to `target` (the mural simulates the span: nothing more is skipped)."""
        self.position = max(self.position, target)

    def restart(self, target: float) -> None:
        """The mural is rebuilt from the recording at `target` (a seek back, a loop)."""
        self.position = target
        self.skipped = 0.0

    def state(self) -> dict[str, float]:
        """What a saved show needs to resume the playhead."""
        return {"position": self.position, "skipped": self.skipped, "speed": self.speed}

    def restore(self, saved: dict[str, Any], mural_time: float) -> None:
        """Resume from `state()` as saved with a mural now at `mural_time`."""
        self.position = float(saved.get("position", mural_time))
        self.skipped = float(saved.get("skipped", 0.0))
        self.speed = clamp_speed(float(saved.get("speed", self.speed)))


class Pacer:
    """Frame pacing: how long to sleep until the next frame is due at `fps`.

    Never sleeps to catch up: a late frame starts at once and the schedule restarts from it.
    """

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / float(fps)
        self._next: float | None = None

    def wait(self, now: float) -> float:
        """Seconds to sleep from `now` (0 when the frame is already late)."""
        if self._next is None or now - self._next > self.period:
            self._next = now
        self._next += self.period
        return max(0.0, self._next - now)


def clock_text(seconds: float) -> str:
    """m:ss.s, as the HUD and notices show a time."""
    minutes, secs = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes)}:{secs:04.1f}"


__all__ = [
    "MAX_CATCHUP",
    "MAX_SPEED",
    "MIN_SPEED",
    "SEEK_STEP",
    "Pacer",
    "Playhead",
    "clamp_speed",
    "clock_text",
]
