"""`brainflow://BOARD?participant=NAME[&...]`: an EEG headset or biosensor, through BrainFlow.

BOARD is a BrainFlow board name (`synthetic`, `muse_2`, `muse_s`, `ganglion`, `cyton`,
`emotibit`, `playback`, ... — `mural sensors` lists them) or a numeric board id. Query
parameters (all optional, each at most once):

    participant=NAME   who wears it (default: the board name)
    calibrate=SECONDS  seconds of good signal that make the personal baseline (default 20)
    serial_port= mac_address= ip_address= ip_port= ip_protocol=(tcp|udp) serial_number=
    other_info= timeout=   passed to BrainFlowInputParams (what each board needs: `mural
                           sensors`, or BrainFlow's supported-boards page)
    file=REC.csv [file_aux= file_anc=] master_board=BOARD loop=1
                           `playback`: replay a BrainFlow recording as if live (master_board:
                           the board that recorded it, default synthetic; file_aux/file_anc:
                           its other presets, e.g. EmotiBit's EDA; loop=1 repeats it)

A background thread drains the board's buffer every 50 ms. From the EEG channels it derives,
over a 4 s window updated every 0.5 s of data, valence (frontal alpha asymmetry) and arousal
(beta/alpha) against the wearer's own baseline, and a signal level from the channels' quality
(see mural.sources.biosignals); heart rate rides along where the board has PPG. A board without
EEG but with EDA (EmotiBit) gives arousal from skin conductance. Every reading is a per-
participant `signal` event and, once calibrated, an `emotion` event, stamped with the session
clock. A board that stops sending shows as that participant's shadow after 3 s (level 0), and
after 15 s the source reports itself failed so the show reopens it with backoff.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from mural.events import SignalEvent
from mural.sources.base import Clock, SourceError
from mural.sources.biosignals import (
    DEFAULT_CALIBRATE,
    DEFAULT_HOP,
    EdaArousal,
    EegMood,
    Reading,
    heart_rate_bpm,
    pick_frontal_pair,
    reading_events,
)
from mural.sources.live import LiveSource

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'lumina-mural[sensors]'"
POLL_INTERVAL = 0.05  # seconds between drains of the board's buffer
STALL_SIGNAL = 3.0  # seconds without samples before the participant turns to shadow
STALL_FAIL = 15.0  # seconds without samples before the source asks to be reopened
PPG_WINDOW = 10.0  # seconds of PPG behind a heart rate
EDA_WINDOW = 2.0  # seconds of EDA behind each EDA reading
RING_SECONDS = 60  # BrainFlow's own ring buffer, in seconds of samples
ALIASES = {"playback": "playback_file"}
PARAMS = ("participant", "calibrate", "serial_port", "mac_address", "ip_address", "ip_port",
          "ip_protocol", "serial_number", "other_info", "timeout", "file", "file_aux",
          "file_anc", "master_board", "loop")
FILES = ("file", "file_aux", "file_anc")  # playback: default, auxiliary, ancillary preset


def _brainflow() -> Any:
    """The brainflow package, or a SourceError saying how to install it. BrainFlow's own
    logger is silenced: it writes to stderr for every channel type a board lacks, and the
    errors that matter reach the show as SourceErrors with BrainFlow's exit code."""
    global _quiet
    try:
        import brainflow.board_shim as board_shim
    except ImportError:
        raise SourceError(f"brainflow:// needs the BrainFlow package: {INSTALL_HINT}") from None
    if not _quiet:
        board_shim.BoardShim.disable_board_logger()
        _quiet = True
    return board_shim


_quiet = False


def board_names() -> dict[str, int]:
    """{name: BrainFlow board id} for every board BrainFlow knows (plus the alias `playback`)."""
    shim = _brainflow()
    names: dict[str, int] = {}
    for member in shim.BoardIds:
        if member.name == "NO_BOARD":
            continue
        name = member.name.lower()
        names[name[: -len("_board")] if name.endswith("_board") else name] = int(member.value)
    for alias, target in ALIASES.items():
        if target in names:
            names[alias] = names[target]
    return dict(sorted(names.items(), key=lambda kv: kv[0]))


def resolve_board(text: str) -> tuple[str, int]:
    """A BOARD from the SOURCE string → (name, id); SourceError listing the accepted names."""
    names = board_names()
    key = text.strip().lower().replace("-", "_")
    if key.endswith("_board"):
        key = key[: -len("_board")]
    if key in names:
        by_id = {v: k for k, v in names.items() if k not in ALIASES}
        return by_id.get(names[key], key), names[key]
    try:
        number = int(text.strip())
    except ValueError:
        number = None
    if number is not None:
        for name, board_id in names.items():
            if board_id == number and name not in ALIASES:
                return name, board_id
    raise SourceError(f"unknown BrainFlow board {text!r}; accepted: {', '.join(names)} "
                      "(or a numeric board id)")


@dataclass
class BoardSpec:
    """What a `brainflow://` SOURCE asks for, checked before any hardware is touched."""

    name: str
    board_id: int
    master_id: int  # whose data format and rates apply (differs for playback/streaming)
    participant: str
    calibrate: float = DEFAULT_CALIBRATE
    loop: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # BrainFlowInputParams fields

    def input_params(self) -> Any:
        shim = _brainflow()
        params = shim.BrainFlowInputParams()
        for key, value in self.params.items():
            setattr(params, key, value)
        if self.master_id != self.board_id:
            params.master_board = self.master_id
        return params


def parse_brainflow_uri(uri: str) -> BoardSpec:
    """`brainflow://BOARD?...` → a BoardSpec; SourceError naming what is accepted."""
    from mural.sources.oscmap import valid_participant

    if not uri.startswith("brainflow://"):
        raise SourceError(f"expected brainflow://BOARD[?...], got {uri!r}")
    parts = urlsplit(uri)
    if parts.path not in ("", "/") or not parts.netloc:
        raise SourceError(f"expected brainflow://BOARD[?...] (e.g. brainflow://synthetic), "
                          f"got {uri!r}")
    name, board_id = resolve_board(parts.netloc)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in PARAMS:
            raise SourceError(f"brainflow:// does not take {key!r} (accepted: "
                              f"{', '.join(p + '=' for p in PARAMS)})")
        if key in query:
            raise SourceError(f"brainflow:// got {key}= twice")
        query[key] = value
    try:
        participant = valid_participant(query.get("participant") or name)
    except ValueError as exc:
        raise SourceError(f"brainflow://...?participant=: {exc}") from None
    calibrate = _number(query, "calibrate", DEFAULT_CALIBRATE, 0.0, 3600.0)
    params: dict[str, Any] = {}
    for key in ("serial_port", "mac_address", "ip_address", "serial_number", "other_info"):
        if query.get(key):
            params[key] = query[key]
    if "ip_port" in query:
        params["ip_port"] = int(_number(query, "ip_port", 0, 0, 65535))
    if "timeout" in query:
        params["timeout"] = int(_number(query, "timeout", 0, 0, 600))
    if "ip_protocol" in query:
        shim = _brainflow()
        protocols = {p.name.lower(): int(p.value) for p in shim.IpProtocolTypes}
        choice = query["ip_protocol"].lower()
        choice = {"tcp": "tcp", "udp": "udp", "none": "no_ip_protocol"}.get(choice, choice)
        if choice not in protocols:
            raise SourceError(f"ip_protocol= must be tcp or udp, got {query['ip_protocol']!r}")
        params["ip_protocol"] = protocols[choice]
    master_id = board_id
    playback = name in ("playback_file", "streaming")
    if "master_board" in query:
        if not playback:
            raise SourceError("master_board= applies to brainflow://playback and "
                              "brainflow://streaming only")
        master_name, master_id = resolve_board(query["master_board"])
        if master_name in ("playback_file", "streaming"):
            raise SourceError(f"master_board= must be the board that recorded the data, not "
                              f"{master_name}")
    elif playback:
        master_id = board_names()["synthetic"]
    if name == "playback_file":
        if not any(query.get(key) for key in FILES):
            raise SourceError("brainflow://playback needs file=RECORDING.csv (a BrainFlow "
                              "recording, e.g. from DataFilter.write_file; file_aux= and "
                              "file_anc= for a board's other presets)")
        for key in FILES:
            if query.get(key):
                if not Path(query[key]).is_file():
                    raise SourceError(f"brainflow://playback: no such file {query[key]!r}")
                params[key] = str(Path(query[key]))
    elif any(key in query for key in (*FILES, "loop")):
        raise SourceError("file=, file_aux=, file_anc= and loop= apply to brainflow://playback "
                          "only")
    loop = query.get("loop", "0").lower() in ("1", "true", "yes", "on")
    return BoardSpec(name=name, board_id=board_id, master_id=master_id,
                     participant=participant, calibrate=calibrate, loop=loop, params=params)


def _number(query: dict[str, str], key: str, default: float, lo: float, hi: float) -> float:
    if key not in query:
        return default
    try:
        value = float(query[key])
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and lo <= value <= hi):
        raise SourceError(f"{key}= must be a number from {lo:g} to {hi:g}, got {query[key]!r}")
    return value


@dataclass(frozen=True)
class Channels:
    """Where a board's signals are: rows of which preset, at which rate."""

    eeg_rows: tuple[int, ...] = ()
    eeg_names: tuple[str, ...] = ()
    eeg_fs: float = 0.0
    eda: tuple[int, tuple[int, ...], float] | None = None  # (preset, rows, fs)
    ppg: tuple[int, tuple[int, ...], float] | None = None


def board_channels(master_id: int) -> Channels:
    """The channel layout BrainFlow describes for a board (no hardware touched)."""
    shim = _brainflow()
    board = shim.BoardShim
    default = int(shim.BrainFlowPresets.DEFAULT_PRESET)

    def rows(getter: Any, preset: int) -> tuple[int, ...]:
        try:
            return tuple(int(r) for r in getter(master_id, preset))
        except shim.BrainFlowError:
            return ()

    try:
        presets = [int(p) for p in board.get_board_presets(master_id)]
    except shim.BrainFlowError:
        presets = [default]
    presets.sort()  # default (0) first, then auxiliary, ancillary
    eeg = rows(board.get_eeg_channels, default) if default in presets else ()
    names: tuple[str, ...] = ()
    if eeg:
        try:
            names = tuple(board.get_eeg_names(master_id, default))
        except shim.BrainFlowError:
            names = ()
        if len(names) != len(eeg):
            names = tuple(f"ch{i + 1}" for i in range(len(eeg)))

    def find(getter: Any) -> tuple[int, tuple[int, ...], float] | None:
        for preset in presets:
            found = rows(getter, preset)
            if found:
                return preset, found, float(board.get_sampling_rate(master_id, preset))
        return None

    return Channels(
        eeg_rows=eeg,
        eeg_names=names,
        eeg_fs=float(board.get_sampling_rate(master_id, default)) if eeg else 0.0,
        eda=find(board.get_eda_channels),
        ppg=find(board.get_ppg_channels),
    )


class _EdaTracker:
    """EDA samples → one reading per hop of data (the EDA twin of EegMood)."""

    def __init__(self, fs: float, calibrate: float) -> None:
        self.fs = fs
        self.hop_n = max(1, round(DEFAULT_HOP * fs))
        self.win_n = max(self.hop_n, round(EDA_WINDOW * fs))
        self.arousal = EdaArousal(calibrate=calibrate)
        self._buf = np.zeros(0)
        self._pending = 0

    def feed(self, samples: np.ndarray) -> list[Reading]:
        out: list[Reading] = []
        for value in np.asarray(samples, dtype=np.float64).ravel():
            self._buf = np.append(self._buf, value)[-self.win_n:]
            self._pending += 1
            if self._pending >= self.hop_n:
                self._pending = 0
                out.append(self.arousal.step(self._buf, self.hop_n / self.fs))
        return out


class BrainFlowSource(LiveSource):
    """One BrainFlow board, streamed on a background thread into mood and signal events."""

    def __init__(self, spec: BoardSpec, *, strict: bool = False, clock: Clock) -> None:
        shim = _brainflow()
        super().__init__(f"brainflow://{spec.name}", strict=strict, clock=clock, logger=log)
        self.spec = spec
        self.participant = spec.participant
        self.channels = layout = board_channels(spec.master_id)
        self.heart_rate: float | None = None
        self._shim = shim
        if layout.eeg_rows:
            if len(layout.eeg_rows) < 2:
                raise SourceError(f"{self.name}: one EEG channel cannot show an asymmetry")
            left, right, note = pick_frontal_pair(layout.eeg_names)
            if note:
                log.warning("%s: %s", self.name, note)
            self.pair = (layout.eeg_names[left], layout.eeg_names[right])
            self.eeg: EegMood | None = EegMood(layout.eeg_fs, len(layout.eeg_rows), left, right,
                                               calibrate=spec.calibrate)
            self.eda: _EdaTracker | None = None
        elif layout.eda is not None:
            self.pair = ("EDA", "EDA")
            self.eeg = None
            self.eda = _EdaTracker(layout.eda[2], spec.calibrate)
        else:
            raise SourceError(f"{self.name}: board has neither EEG nor EDA channels to read a "
                              "mood from")
        self._ppg = np.zeros((len(layout.ppg[1]), 0)) if layout.ppg else None
        self._ppg_n = round(PPG_WINDOW * layout.ppg[2]) if layout.ppg else 0
        self.board = shim.BoardShim(spec.board_id, spec.input_params())
        fs = layout.eeg_fs or (layout.eda[2] if layout.eda else 250.0)
        try:
            self.board.prepare_session()
            if spec.loop:
                self.board.config_board("loopback_true")
            self.board.start_stream(int(max(10_000, fs * RING_SECONDS)))
        except shim.BrainFlowError as exc:
            self._release()
            raise SourceError(f"cannot open {self.name}: {exc}") from None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mural {self.name}", daemon=True)
        self._thread.start()

    # -- the receiver thread --------------------------------------------------------------------

    def _run(self) -> None:
        last_data = time.monotonic()
        stalled = False
        while not self._stop.wait(POLL_INTERVAL):
            try:
                got = self.pull()
            except self._shim.BrainFlowError as exc:
                self.failure = f"board stopped: {exc}"
                break
            except Exception as exc:  # a processing bug must not kill the show silently
                self.malformed(f"{type(exc).__name__}: {exc}")
                got = 0
            now = time.monotonic()
            if got:
                last_data, stalled = now, False
            elif not stalled and now - last_data >= STALL_SIGNAL:
                stalled = True
                self.push(SignalEvent(t=self.clock(), level=0.0, participant=self.participant))
                self.warn(f"no samples for {STALL_SIGNAL:g} s (sensor off or out of range?)")
            elif now - last_data >= STALL_FAIL:
                self.failure = f"no samples for {STALL_FAIL:g} s"
                break

    def pull(self) -> int:
        """Drain the board's buffers once and queue the readings; returns samples taken."""
        layout = self.channels
        taken: dict[int, np.ndarray] = {}

        def data(preset: int) -> np.ndarray:
            if preset not in taken:
                taken[preset] = np.asarray(self.board.get_board_data(preset=preset))
            return taken[preset]

        readings: list[Reading] = []
        count = 0
        if self.eeg is not None:
            chunk = data(0)
            count = chunk.shape[1]
            if count:
                readings = self.eeg.feed(self._clean(chunk[list(layout.eeg_rows)], "EEG"))
        elif self.eda is not None and layout.eda is not None:
            chunk = data(layout.eda[0])
            count = chunk.shape[1]
            if count:
                eda = self._clean(chunk[list(layout.eda[1])], "EDA")
                readings = self.eda.feed(eda[0])
        if layout.ppg is not None and self._ppg is not None:
            ppg = data(layout.ppg[0])
            if ppg.shape[1]:
                fresh = self._clean(ppg[list(layout.ppg[1])], "PPG")
                self._ppg = np.concatenate([self._ppg, fresh], axis=1)[:, -self._ppg_n:]
                if readings:
                    self.heart_rate = heart_rate_bpm(self._ppg, layout.ppg[2])
        for reading in readings:
            for event in reading_events(reading, self.participant, self.clock(),
                                        heart_rate=self.heart_rate):
                self.push(event)
        return count

    def _clean(self, rows: np.ndarray, what: str) -> np.ndarray:
        """Non-finite samples become 0 (which reads as a flat, failing channel) and are counted."""
        finite = np.isfinite(rows)
        if finite.all():
            return rows
        self.malformed(f"{int((~finite).sum())} non-finite {what} samples")
        return np.where(finite, rows, 0.0)

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the thread, then the stream, and release the board (idempotent)."""
        stop = getattr(self, "_stop", None)
        if stop is not None and not stop.is_set():
            stop.set()
            self._thread.join(timeout=2.0)
            self._release()
        super().close()

    def _release(self) -> None:
        board = getattr(self, "board", None)
        if board is None:
            return
        for step in ("stop_stream", "release_session"):
            with contextlib.suppress(self._shim.BrainFlowError):  # not started / released
                getattr(board, step)()


def open_brainflow(uri: str, *, strict: bool = False, clock: Clock) -> BrainFlowSource:
    """The `brainflow://BOARD?...` factory registered in mural.sources.SCHEMES."""
    return BrainFlowSource(parse_brainflow_uri(uri), strict=strict, clock=clock)


__all__ = [
    "BoardSpec",
    "BrainFlowSource",
    "Channels",
    "board_channels",
    "board_names",
    "open_brainflow",
    "parse_brainflow_uri",
    "resolve_board",
]
