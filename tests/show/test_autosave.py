"""Autosave never stops a show: faults injected at the write, and the previous show's state kept."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from mural.show.autosave import Autosaver, failure_reason, keep_previous
from mural.show.player import Player, PlayerConfig
from mural.show.state import StateError
from tests.show.test_player import FakeClock, FakeSink, make_player, play_for


class Writer:
    """A state writer that writes a small file atomically, or fails the way it is told to."""

    def __init__(self) -> None:
        self.fault: BaseException | None = None
        self.calls = 0

    def __call__(self, path: Path) -> Path:
        self.calls += 1
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        tmp.write_bytes(b"state %d" % self.calls)
        if self.fault is not None:  # a writer that does not clean up after itself
            raise self.fault
        os.replace(tmp, path)
        return path


def no_partials(folder: Path) -> bool:
    return not list(folder.glob(".*partial"))


FAULTS = [
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EROFS, "Read-only file system"),
    OSError(errno.EMFILE, "Too many open files"),
    StateError("the state cannot be written"),
]


@pytest.mark.parametrize("fault", FAULTS, ids=["ENOSPC", "EROFS", "EMFILE", "StateError"])
def test_a_failing_save_warns_once_keeps_the_last_good_state_and_leaves_no_partial(tmp_path,
                                                                                  fault):
    path = tmp_path / "state.npz"
    writer, warnings = Writer(), []
    saver = Autosaver(path, writer, every=2.0, warn=warnings.append)
    assert saver.tick(2.0) == path  # a good save first
    good = path.read_bytes()
    writer.fault = fault
    for now in range(4, 40, 2):
        assert saver.tick(float(now)) is None
    assert writer.calls == 19 and saver.failures == 18
    assert len(warnings) == 1  # once, not every two seconds
    assert failure_reason(fault) in warnings[0] and "goes on" in warnings[0]
    assert path.read_bytes() == good
    assert no_partials(tmp_path)
    assert saver.last_error == failure_reason(fault)


def test_a_new_reason_warns_again_and_recovery_is_said(tmp_path):
    warnings: list[str] = []
    writer = Writer()
    saver = Autosaver(tmp_path / "state.npz", writer, warn=warnings.append)
    writer.fault = OSError(errno.ENOSPC, "No space left on device")
    saver.save()
    saver.save()
    writer.fault = OSError(errno.EMFILE, "Too many open files")
    saver.save()
    saver.save()
    assert len(warnings) == 2 and "ENOSPC" in warnings[0] and "EMFILE" in warnings[1]
    writer.fault = None
    saver.save()
    assert "works again" in warnings[-1] and saver.last_error is None
    writer.fault = OSError(errno.EMFILE, "Too many open files")
    saver.save()
    assert len(warnings) == 4  # failing again after a recovery is news


def test_the_reason_does_not_name_the_temporary_file():
    a = OSError(errno.ENOSPC, "No space left on device", "/x/.s.npz.1.partial")
    b = OSError(errno.ENOSPC, "No space left on device", "/x/.s.npz.2.partial")
    assert failure_reason(a) == failure_reason(b) == "No space left on device (ENOSPC)"


def test_the_show_keeps_playing_while_autosave_fails(tmp_path):
    state = tmp_path / "wall.npz"
    warnings: list[str] = []
    player, sink, clock = make_player(autosave=state, autosave_every=1.0, warn=warnings.append,
                                      hud=True)
    play_for(player, clock, 2.5)
    good = state.read_bytes()
    real_write = player.autosaver.write

    def disk_full(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    player.autosaver.write = disk_full
    frames = player.frames
    play_for(player, clock, 5.0)
    assert player.frames == frames + 150 and not player.done
    assert len(warnings) == 1 and "No space left" in warnings[0]
    assert any(line.alert and "AUTOSAVE" in line.text for line in sink.last_hud)
    player.close()  # the save on exit fails too, quietly: same reason
    assert len(warnings) == 1
    assert state.read_bytes() == good
    assert no_partials(tmp_path)
    player.autosaver.write = real_write


def test_a_real_write_that_fails_at_fsync_leaves_the_state_and_no_partial(tmp_path,
                                                                         monkeypatch):
    from mural.show import state as state_module

    path = tmp_path / "wall.npz"
    warnings: list[str] = []
    player, _, clock = make_player(autosave=path, autosave_every=1.0, warn=warnings.append)
    play_for(player, clock, 1.5)
    good = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state_module.os, "fsync", full)
    play_for(player, clock, 2.0)
    monkeypatch.undo()
    assert warnings and not player.done
    assert path.read_bytes() == good
    assert no_partials(tmp_path)
    assert player.save_state() == path  # and it works again once there is room
    player.close()


# -- the previous show's state ------------------------------------------------------------


def test_a_previous_state_is_moved_aside_never_overwriting(tmp_path):
    path = tmp_path / "mural-state.npz"
    assert keep_previous(path) is None  # nothing to keep
    path.write_bytes(b"first")
    one = keep_previous(path, stamp="20240101-120000")
    assert one == tmp_path / "mural-state.previous-20240101-120000.npz"
    path.write_bytes(b"second")
    two = keep_previous(path, stamp="20240101-120000")
    assert two == tmp_path / "mural-state.previous-20240101-120000-2.npz"
    assert (one.read_bytes(), two.read_bytes()) == (b"first", b"second")
    assert not path.exists()


def test_a_new_show_keeps_the_previous_shows_state_and_says_how_to_resume_it(tmp_path):
    state = tmp_path / "mural-state.npz"
    first, _, clock = make_player(autosave=state, autosave_every=1.0)
    play_for(first, clock, 3.0)  # and then the power goes: never closed
    crashed = state.read_bytes()
    second, _, clock2 = make_player(autosave=state, autosave_every=1.0)
    (note,) = second.notes
    (kept,) = tmp_path.glob("mural-state.previous-*.npz")
    assert note == f"kept the previous show's state as {kept} (resume it with --resume {kept})"
    assert kept.read_bytes() == crashed
    assert second.stats().notes == (note,)
    play_for(second, clock2, 2.0)
    second.close()
    assert kept.read_bytes() == crashed  # the new show saved beside it, not over it
    # the kept state resumes: the wall as the first show left it
    resumed, _, _ = make_player(resume=kept)
    assert resumed.mural.engine.t == pytest.approx(first.mural.engine.t, abs=1.1)
    first.close()


def test_resuming_the_state_it_saves_to_moves_nothing(tmp_path):
    state = tmp_path / "mural-state.npz"
    first, _, clock = make_player(autosave=state, autosave_every=1.0)
    play_for(first, clock, 1.5)
    first.close()
    again, _, _ = make_player(autosave=state, resume=state)
    assert again.notes == [] and not list(tmp_path.glob("*.previous-*"))
    again.close()


def test_a_show_that_fails_to_start_moves_nothing(tmp_path):
    state = tmp_path / "mural-state.npz"
    state.write_bytes(b"the previous show")
    with pytest.raises(Exception, match="missing"):
        Player(["missing.jsonl"], FakeSink(), PlayerConfig(autosave=state), clock=FakeClock())
    assert state.read_bytes() == b"the previous show"
    assert not list(tmp_path.glob("*.previous-*"))


def test_a_partial_left_by_a_show_that_crashed_mid_save_is_removed_at_the_start(tmp_path):
    state = tmp_path / "mural-state.npz"
    dead = tmp_path / f".{state.name}.999999999.partial"  # no such process
    alive = tmp_path / f".{state.name}.{os.getppid()}.partial"  # a running one: left alone
    dead.write_bytes(b"half a state")
    alive.write_bytes(b"being written")
    player, _, _ = make_player(autosave=state)
    assert not dead.exists() and alive.exists()
    player.close()
