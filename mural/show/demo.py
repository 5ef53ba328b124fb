"""The demo: the shipped festival recording in a window, or a short video and a still."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mural.render.palette import DEFAULT_PALETTE
from mural.show.palettes import assets_dir
from mural.show.provenance import provenance
from mural.sinks.png import save_png

SESSION = "festival.jsonl"
# Headless: the festival's surge, blackout, manual phase and recovery (markers at 90, 93, 99
# and 113 s; the light is back by ~120 s): 36 s of the recording as a 3x time-lapse of 12 s,
# 720p at 30 fps, and a still of the recovered wall.
VIDEO_SIZE = (1280, 720)
VIDEO_FPS = 30
VIDEO_START = 88.0
VIDEO_SPEED = 3.0
VIDEO_SECONDS = 12.0
STILL_AT = 121.0
WINDOW_SIZE = (1280, 720)


@dataclass(frozen=True)
class DemoResult:
    """What the demo did: played in a window (summary) or wrote files (paths)."""

    summary: str
    video: Path | None = None
    still: Path | None = None


def session_path() -> Path:
    """The shipped festival recording."""
    return assets_dir() / "sessions" / SESSION


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    """stem.suffix, or stem-2.suffix ... so a second demo never overwrites the first."""
    path = folder / f"{stem}{suffix}"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{suffix}"
    return path


def render_demo(
    folder: Path, *, seconds: float = VIDEO_SECONDS, quiet: bool = False
) -> DemoResult:
    """The headless demo: a time-lapse of the blackout and recovery, plus a still from it."""
    from mural.show.video import export_video, frame_count

    source = str(session_path())
    end = VIDEO_START + seconds * VIDEO_SPEED
    video = _free_name(folder, "mural-demo", ".mp4")
    still = _free_name(folder, "mural-demo", ".png")
    total = frame_count(VIDEO_START, end, VIDEO_FPS, VIDEO_SPEED)
    still_index = min(total - 1, frame_count(VIDEO_START, min(STILL_AT, end), VIDEO_FPS,
                                             VIDEO_SPEED))

    def keep_still(index: int, t: float, frame: np.ndarray) -> None:
        if index == still_index:
            save_png(still, frame, provenance(source=source, seed=0, palette=DEFAULT_PALETTE,
                                              size=VIDEO_SIZE, time=t))

    result = export_video(
        source, video, fps=VIDEO_FPS, size=VIDEO_SIZE, start=VIDEO_START, end=end,
        speed=VIDEO_SPEED, quiet=quiet, frame_hook=keep_still,
    )
    return DemoResult(result.summary(), video=result.path, still=still)


def run_demo(
    *,
    duration: float | None = None,
    window: bool = True,
    folder: Path | None = None,
    quiet: bool = False,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Play the festival in a window if there is a display, else render it to files."""
    if window:
        from mural.sinks.display import display_problem

        problem = display_problem()
        if problem is None:
            from mural.show.player import hotkeys_text, play_session

            say(f"playing {SESSION} (Esc or Q quits)\n{hotkeys_text()}")
            stats = play_session([str(session_path())], size=WINDOW_SIZE, duration=duration,
                                 hud=True)
            return DemoResult(stats.summary())
        say(f"no window: {problem}; rendering a short video instead")
    seconds = VIDEO_SECONDS if duration is None else duration
    return render_demo(folder or Path.cwd(), seconds=seconds, quiet=quiet)
