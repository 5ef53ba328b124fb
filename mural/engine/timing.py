"""Stage timing for `mural bench`: an injected clock, and nothing at all when absent.

The engine and the compositor never read the wall clock themselves; the benchmark hands them a
StageTimer built on `time.perf_counter`, and every other caller leaves it None (one `is None`
test per stage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class StageTimer:
    """Milliseconds spent per stage, summed over frames."""

    clock: Callable[[], float]
    ms: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.ms[stage] = self.ms.get(stage, 0.0) + seconds * 1000.0

    def lap(self, stage: str, since: float) -> float:
        """Charge the time since `since` to `stage`; returns now, the start of the next lap."""
        now = self.clock()
        self.add(stage, now - since)
        return now
