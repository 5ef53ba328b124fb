"""Progress bar: drawn only on a TTY, in place, with rate and ETA from an injected clock."""

from __future__ import annotations

import io

import pytest

from mural.sinks.progress import Progress, format_duration


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def last_line(text: str) -> str:
    return text.rstrip("\n").split("\r")[-1]


def test_draws_percentage_frames_fps_and_eta_on_a_tty() -> None:
    stream, clock = FakeTTY(), FakeClock()
    progress = Progress(10, label="export", stream=stream, clock=clock, width=80)
    for _ in range(5):
        clock.now += 0.5
        progress.update()
    line = last_line(stream.getvalue())
    assert stream.getvalue().startswith("\r")
    assert line.startswith("export [")
    assert " 50% 5/10" in line
    assert "2.0 fps" in line
    assert "ETA 0:02" in line  # 5 frames left at 2 fps = 2.5 s
    assert len(line) <= 79
    progress.close()
    assert stream.getvalue().endswith("\n")
    assert "100%" not in stream.getvalue()  # close draws the state, it does not fake completion


def test_finishing_shows_full_bar_and_elapsed_time() -> None:
    stream, clock = FakeTTY(), FakeClock()
    with Progress(4, stream=stream, clock=clock, width=60) as progress:
        for _ in range(4):
            clock.now += 0.25
            progress.update()
    final = last_line(stream.getvalue())
    assert "100% 4/4" in final
    assert "in 0:01" in final
    assert "-" not in final.split("]")[0]  # bar fully filled
    assert stream.getvalue().count("\n") == 1


def test_redraws_are_throttled_but_the_last_frame_always_draws() -> None:
    stream, clock = FakeTTY(), FakeClock()
    progress = Progress(100, stream=stream, clock=clock, width=80)
    for _ in range(99):
        clock.now += 0.001
        progress.update()
    assert stream.getvalue().count("\r") == 1  # only the first update drew
    clock.now += 0.001
    progress.update()
    assert stream.getvalue().count("\r") == 2
    assert "100/100" in last_line(stream.getvalue())


@pytest.mark.parametrize(
    ("stream", "enabled", "quiet"),
    [(io.StringIO(), None, False), (FakeTTY(), None, True), (FakeTTY(), False, False)],
    ids=["not-a-tty", "quiet", "disabled"],
)
def test_silent_unless_tty_and_not_quiet(stream: io.StringIO, enabled, quiet) -> None:
    progress = Progress(3, enabled=enabled, quiet=quiet, stream=stream, clock=FakeClock())
    for _ in range(3):
        progress.update()
    progress.close()
    assert stream.getvalue() == ""
    assert progress.done == 3  # still counts, so callers can report it


def test_enabled_true_forces_drawing_to_a_pipe_but_quiet_still_wins() -> None:
    stream = io.StringIO()
    Progress(2, enabled=True, stream=stream, clock=FakeClock(), width=50).update()
    assert "1/2" in stream.getvalue()
    quiet = io.StringIO()
    Progress(2, enabled=True, quiet=True, stream=quiet, clock=FakeClock()).update()
    assert quiet.getvalue() == ""


def test_unknown_total_shows_a_counter() -> None:
    stream, clock = FakeTTY(), FakeClock()
    progress = Progress(None, label="live", stream=stream, clock=clock, width=80)
    clock.now += 2
    progress.update(6)
    assert last_line(stream.getvalue()) == "live 6 frames  3.0 fps"
    assert progress.eta() is None


def test_shorter_line_wipes_the_previous_one() -> None:
    stream, clock = FakeTTY(), FakeClock()
    progress = Progress(None, stream=stream, clock=clock, width=80)
    clock.now += 1
    progress.update(1000)
    clock.now += 1000
    progress.update(1)
    first, second = stream.getvalue().split("\r")[1:]
    assert len(second) >= len(first)


def test_narrow_terminal_drops_the_bar() -> None:
    stream, clock = FakeTTY(), FakeClock()
    progress = Progress(10, label="x", stream=stream, clock=clock, width=30)
    clock.now += 1
    progress.update()
    line = last_line(stream.getvalue())
    assert "[" not in line
    assert len(line) <= 29


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (7.4, "0:07"), (754, "12:34"), (3723, "1:02:03")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
