"""brainflow:// for real: BrainFlow's synthetic board, and its playback board on crafted files.

The recordings are written in BrainFlow's own format (DataFilter.write_file) for the synthetic
board's layout, with timestamps 25 times faster than the samples, so the playback board replays
42 s of EEG in under two seconds; every reading is keyed on the samples, not on the wall clock.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mural.events import EmotionEvent, Event, SignalEvent
from mural.sources import SourceError, monotonic_clock, open_source
from mural.sources.biosignals import ALPHA, BETA, DEFAULT_HOP, MIN_WINDOW, band_powers
from mural.sources.brainflow_source import (
    BrainFlowSource,
    board_channels,
    parse_brainflow_uri,
    resolve_board,
)
from mural.sources.discovery import brainflow_boards
from tests.sources.test_biosignals import eeg_session

brainflow = pytest.importorskip("brainflow")
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowPresets  # noqa: E402
from brainflow.data_filter import DataFilter, WindowOperations  # noqa: E402

SYNTHETIC = int(BoardIds.SYNTHETIC_BOARD)
FS = BoardShim.get_sampling_rate(SYNTHETIC)
ROWS = BoardShim.get_num_rows(SYNTHETIC)
EEG = BoardShim.get_eeg_channels(SYNTHETIC)
NAMES = BoardShim.get_eeg_names(SYNTHETIC)
F3, F4 = NAMES.index("F3"), NAMES.index("F4")
SPEED = 25.0


def recording(path: Path, segments: list[tuple[float, dict[str, float]]]) -> int:
    """Write a synthetic-board recording whose F3/F4 follow `segments`; returns the number of
    readings it makes."""
    eeg = eeg_session(segments, channels=len(EEG), left=F3, right=F4, fs=FS, seed=11)
    n = eeg.shape[1]
    data = np.zeros((ROWS, n))
    data[EEG] = eeg
    data[BoardShim.get_package_num_channel(SYNTHETIC)] = np.arange(n) % 256
    data[BoardShim.get_timestamp_channel(SYNTHETIC)] = 1.7e9 + np.arange(n) / (FS * SPEED)
    DataFilter.write_file(np.ascontiguousarray(data), str(path), "w")
    seconds = n / FS
    return int(round((seconds - MIN_WINDOW) / DEFAULT_HOP)) + 1


def readings(uri: str, count: int, timeout: float = 15.0) -> list[tuple[float, SignalEvent,
                                                                         EmotionEvent | None]]:
    """Open a source, collect `count` readings: (window end in data time, level, mood)."""
    source = open_source(uri, clock=monotonic_clock())
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    try:
        while sum(isinstance(e, SignalEvent) for e in events) < count:
            assert time.monotonic() < deadline, f"{len(events)} events; {source.stats}"
            events += source.poll(float("inf"))
            time.sleep(0.02)
    finally:
        source.close()
    out: list[tuple[float, SignalEvent, EmotionEvent | None]] = []
    for event in events:
        if isinstance(event, SignalEvent):
            out.append((MIN_WINDOW + DEFAULT_HOP * len(out), event, None))
        elif isinstance(event, EmotionEvent):
            end, signal, _ = out[-1]
            out[-1] = (end, signal, event)
    return out[:count]


def within(rs, lo: float, hi: float) -> list[EmotionEvent]:
    """The moods whose whole 4 s window lies in [lo, hi] seconds of data."""
    return [m for end, _, m in rs if lo + 4.0 <= end <= hi and m is not None]


def test_the_synthetic_board_streams_events() -> None:
    clock = monotonic_clock()
    source = open_source("brainflow://synthetic?participant=ana&calibrate=0", clock=clock,
                         resilient=True)
    events: list[Event] = []
    deadline = time.monotonic() + 10.0
    try:
        while not any(isinstance(e, EmotionEvent) for e in events):
            assert time.monotonic() < deadline, f"no emotion yet; {source.stats}"
            events += source.poll(clock())
            time.sleep(0.05)
    finally:
        source.close()
    signals = [e for e in events if isinstance(e, SignalEvent)]
    mood = next(e for e in events if isinstance(e, EmotionEvent))
    assert signals and {e.participant for e in signals} == {"ana"}
    assert signals[0].level > 0.8  # the synthetic signal is clean
    assert mood.participant == "ana" and -1 <= mood.valence <= 1 and 0 <= mood.arousal <= 1
    assert all(0 < e.t <= clock() for e in events)  # stamped with the session clock
    assert source.stats.rejected == 0 and source.stats.malformed == 0


def test_playback_valence_and_arousal_move_the_right_way(tmp_path: Path) -> None:
    path = tmp_path / "moods.csv"
    count = recording(path, [(10, {}), (8, {"right": 40}), (8, {}), (8, {"left": 40}),
                             (8, {"beta": 24})])
    rs = readings(f"brainflow://playback?file={path}&participant=ana&calibrate=6", count)
    assert len(rs) == count
    right, rest, left = within(rs, 10, 18), within(rs, 18, 26), within(rs, 26, 34)
    aroused = within(rs, 34, 42)
    assert right and min(m.valence for m in right) > 0.5  # more right alpha: positive
    assert left and max(m.valence for m in left) < -0.5
    assert rest and max(abs(m.valence) for m in rest) < 0.3  # back to this person's normal
    assert aroused and min(m.arousal for m in aroused) > 0.8  # beta/alpha up
    assert {m.participant for _, _, m in rs if m} == {"ana"}
    assert all(m.heart_rate is None for _, _, m in rs if m)  # no pulse in this recording


def test_playback_personal_baseline_and_a_flattened_channel(tmp_path: Path) -> None:
    path = tmp_path / "flat.csv"
    # This wearer's right alpha is naturally 1.5x the left: their neutral, not a good mood.
    count = recording(path, [(12, {"right": 30}), (6, {"right": 30}), (5, {"flat": 1}),
                             (6, {"right": 30})])
    rs = readings(f"brainflow://playback?file={path}&calibrate=8", count)
    assert max(abs(m.valence) for m in within(rs, 8, 18)) < 0.3
    flat = [s.level for end, s, _ in rs if 19.0 <= end <= 23.0]
    back = [s.level for end, s, _ in rs if end >= 24.0]
    assert flat and max(flat) < 0.3  # F3 lifted off: that person's shadow
    assert back and min(back) > 0.8  # contact again: light again
    assert {s.participant for _, s, _ in rs} == {"playback_file"}  # the default participant


def test_playback_of_an_emotibit_reads_arousal_from_eda(tmp_path: Path) -> None:
    board = int(BoardIds.EMOTIBIT_BOARD)
    preset = int(BrainFlowPresets.ANCILLARY_PRESET)  # where EmotiBit's EDA lives
    fs = BoardShim.get_sampling_rate(board, preset)
    rng = np.random.default_rng(4)
    calm, sweat = np.full(round(24 * fs), 2.0), np.full(round(6 * fs), 3.0)
    eda = np.concatenate([calm, sweat]) + 0.01 * rng.standard_normal(round(30 * fs))
    data = np.zeros((BoardShim.get_num_rows(board, preset), eda.size))
    data[BoardShim.get_eda_channels(board, preset)[0]] = eda
    data[BoardShim.get_timestamp_channel(board, preset)] = 1.7e9 + np.arange(eda.size) / (
        fs * SPEED)
    path = tmp_path / "eda.csv"
    DataFilter.write_file(np.ascontiguousarray(data), str(path), "w")
    count = eda.size // round(DEFAULT_HOP * fs)  # one reading per hop of samples
    source = open_source(f"brainflow://playback?file_anc={path}&master_board=emotibit"
                         "&participant=cleo", clock=monotonic_clock())
    events: list[Event] = []
    deadline = time.monotonic() + 15.0
    try:
        while sum(isinstance(e, SignalEvent) for e in events) < count:
            assert time.monotonic() < deadline, f"{len(events)} events; {source.stats}"
            events += source.poll(float("inf"))
            time.sleep(0.02)
    finally:
        source.close()
    moods = [e for e in events if isinstance(e, EmotionEvent)]
    assert moods and {m.participant for m in moods} == {"cleo"}
    assert {m.valence for m in moods} == {0.0}  # skin conductance carries no valence
    assert 0.3 < moods[0].arousal < 0.7 and moods[-1].arousal > 0.8  # calm, then sweating


def test_band_powers_agree_with_brainflow() -> None:
    eeg = eeg_session([(4, {"left": 15, "right": 45, "beta": 12})], channels=3, left=0, right=1,
                      fs=FS, seed=3)
    ours = band_powers(eeg[:2], FS, (ALPHA, BETA))
    theirs = []
    for row in eeg[:2]:
        psd = DataFilter.get_psd_welch(np.ascontiguousarray(row), 512, 256, FS,
                                       WindowOperations.HANNING)
        theirs.append([DataFilter.get_band_power(psd, *band) for band in (ALPHA, BETA)])
    theirs = np.array(theirs)
    # Absolute scales differ (windows, integration); the ratios the mood is made of agree.
    assert ours[1, 0] / ours[0, 0] == pytest.approx(theirs[1, 0] / theirs[0, 0], rel=0.1)
    assert ours[0, 1] / ours[0, 0] == pytest.approx(theirs[0, 1] / theirs[0, 0], rel=0.15)


def test_uri_errors_name_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="accepted: .*muse_2.*synthetic"):
        open_source("brainflow://mindreader")
    with pytest.raises(SourceError, match="accepted: participant=, calibrate="):
        open_source("brainflow://synthetic?colour=red")
    with pytest.raises(SourceError, match="needs file="):
        open_source("brainflow://playback")
    with pytest.raises(SourceError, match="no such file"):
        open_source(f"brainflow://playback?file={tmp_path / 'absent.csv'}")
    with pytest.raises(SourceError, match="master_board= applies"):
        open_source("brainflow://synthetic?master_board=cyton")
    with pytest.raises(SourceError, match="calibrate="):
        open_source("brainflow://synthetic?calibrate=-3")
    with pytest.raises(SourceError, match="twice"):
        open_source("brainflow://synthetic?participant=a&participant=b")
    with pytest.raises(SourceError, match="participant"):
        open_source("brainflow://synthetic?participant=%00")
    assert resolve_board("-1") == ("synthetic", SYNTHETIC)
    assert resolve_board("Muse-2") == ("muse_2", int(BoardIds.MUSE_2_BOARD))
    spec = parse_brainflow_uri("brainflow://cyton?serial_port=/dev/ttyUSB0&ip_port=6677")
    assert spec.params == {"serial_port": "/dev/ttyUSB0", "ip_port": 6677}
    assert spec.participant == "cyton" and spec.calibrate == 20.0


def test_board_layouts() -> None:
    muse = board_channels(int(BoardIds.MUSE_2_BOARD))
    assert muse.eeg_names == ("TP9", "AF7", "AF8", "TP10") and muse.ppg is not None
    emotibit = board_channels(int(BoardIds.EMOTIBIT_BOARD))
    assert not emotibit.eeg_rows and emotibit.eda is not None  # arousal from EDA instead


def test_a_board_that_cannot_open_is_a_source_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SourceError, match="cannot open brainflow://playback_file: .*ERROR"):
        BrainFlowSource(parse_brainflow_uri(f"brainflow://playback?file={empty}"),
                        clock=monotonic_clock())


def test_missing_brainflow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "brainflow", None)
    monkeypatch.setitem(sys.modules, "brainflow.board_shim", None)
    with pytest.raises(SourceError, match=r"lumina-mural\[sensors\]"):
        open_source("brainflow://synthetic")
    assert brainflow_boards() == [("brainflow",
                                   "not installed: pip install 'lumina-mural[sensors]'")]


def test_brainflow_boards_for_mural_sensors() -> None:
    boards = dict(brainflow_boards())
    assert boards["synthetic"].startswith("ok")
    assert "AF8/AF7" in boards["muse_2"] and "heart rate" in boards["muse_2"]
    assert "serial_port=" in boards["cyton"]
    assert "arousal from EDA" in boards["emotibit"]
    assert "playback" not in boards and "file=" in boards["playback_file"]
    for name in boards:
        assert resolve_board(name)[0] == name
