"""Flash safety through the whole pipeline: adversarial streams → real frames → WCAG analysis."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mural.engine.engine import EngineConfig
from mural.events import SignalEvent
from mural.safety.analyzer import analyse_frames
from mural.safety.guard import SafetyConfig
from mural.show.wall import Wall
from tests.helpers import crowd, emotion, luminance

FPS = 30
SIZE = (160, 90)
# An engine that follows the network signal almost instantly: without the limiter it strobes.
TWITCHY = replace(EngineConfig(), network_smoothing=0.01, health_smoothing=0.01,
                  live_half_life=0.05, presence_ramp=0.05)


def toggling(hz: float, start: float, end: float, participant: str | None = None):
    """A sensor network (or one participant's channel) flickering between dead and alive."""
    events, t, k = [], start, 0
    while t < end:
        events.append(SignalEvent(t=round(t, 4), level=float(k % 2), participant=participant))
        t += 0.5 / hz
        k += 1
    return events


def frames_of(events, start, end, *, safe=True, config=TWITCHY, size=SIZE, fps=FPS):
    mural = Wall(events, size=size, seed=2, config=config,
                  safety=SafetyConfig(enabled=safe))
    return [mural.frame_at(start + k / fps).copy() for k in range(int((end - start) * fps))]


def intense_crowd(labels, end=12.0):
    return crowd(labels, people=8, end=end, every=0.25, intensity=1.0)


STROBES = {
    "full-frame": lambda hz: intense_crowd(["joy", "surprise"]) + toggling(hz, 4.0, 12.0),
    "red": lambda hz: intense_crowd(["anger"]) + toggling(hz, 4.0, 12.0),
    "regional": lambda hz: intense_crowd(["calm"], end=12.0)[:0] + [
        emotion(k * 0.1, "spot", "joy", intensity=1.0, x=0.2, y=0.25) for k in range(120)
    ] + toggling(hz, 4.0, 12.0, participant="spot"),
}


@pytest.mark.parametrize("kind", sorted(STROBES))
@pytest.mark.parametrize("hz", [3, 10, 30])
def test_strobing_streams_come_out_passing(kind, hz):
    report = analyse_frames(frames_of(STROBES[kind](hz), 4.5, 8.5), FPS)
    assert report.passed, report.format()
    assert report.max_general <= 3 and report.max_red <= 3


def test_without_the_limiter_the_same_stream_would_strobe():
    """The adversarial streams are real strobes: this is what the limiter prevents."""
    report = analyse_frames(frames_of(STROBES["full-frame"](8), 4.0, 10.0, safe=False), FPS)
    assert not report.passed


def test_slow_fades_and_recolouring_are_untouched_by_the_limiter():
    events = (crowd(["calm"], end=12.0) + crowd(["joy"], start=22.0, end=34.0)
              + [SignalEvent(t=12.0, level=0.0), SignalEvent(t=22.0, level=1.0)])
    kwargs = {"config": EngineConfig(), "size": (320, 180), "fps": 10}
    safe = frames_of(events, 8.0, 32.0, **kwargs)
    unsafe = frames_of(events, 8.0, 32.0, safe=False, **kwargs)
    worst = max(np.abs(a.astype(int) - b.astype(int)).max()
                for a, b in zip(safe, unsafe, strict=True))
    assert worst <= 2  # at most rounding: the ordinary mural never needs limiting


def test_a_surge_cannot_blow_the_frame_out_and_rises_at_a_bounded_rate():
    quiet = crowd(["calm"], people=12, end=10.0, intensity=0.3)
    surge = [emotion(10.0 + k * 0.02, f"p{k % 12:02d}", "surprise", intensity=1.0)
             for k in range(500)]
    frames = frames_of(quiet + surge, 8.0, 20.0, config=EngineConfig())
    means = np.array([luminance(f).mean() for f in frames])
    assert means.max() < 0.3  # far from white
    assert np.diff(means).max() < 0.02  # per frame at 30 fps: no jump
    assert analyse_frames(frames, FPS).passed
