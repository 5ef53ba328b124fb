"""OSC maps: any OSC device's messages → mural events (`osc://HOST:PORT?map=...`).

Without `map=`, `osc://` speaks the mural's own `/mural/...` address space. With it, every
datagram (bundles included) goes to a mapper instead:

- `map=mindmonitor` — a Muse headband through the Mind Monitor app. It reads
  `/muse/elements/{delta,theta,alpha,beta,gamma}_absolute` (1 float: averaged, or 4 floats:
  TP9, AF7, AF8, TP10; log10 band powers), `/muse/elements/horseshoe` (4 floats, per-sensor fit:
  1 good, 2 ok, 4 bad), `/muse/eeg` (raw µV, used for flat/railed checks and as a fallback when
  no band powers arrive), `/muse/elements/blink` and `/muse/elements/jaw_clench` (artefacts:
  frontal EEG is not trusted for a moment after them). Valence from AF8/AF7 alpha asymmetry,
  arousal from beta/alpha, both against the wearer's own baseline; the horseshoe sets the
  signal level (all bad → below 0.3, all good → above 0.8). Set Mind Monitor's "OSC Stream
  Brainwaves" to *All Values*: averaged band powers carry no asymmetry (valence stays neutral).
- `map=emotibit` — an EmotiBit through the EmotiBit Oscilloscope's OSC output
  (`oscOutputSettings.xml`: `/EmotiBit/0/EDA`, `/EmotiBit/0/HR`, `/EmotiBit/0/PPG:GRN`, ...).
  Arousal from electrodermal activity against its baseline (EDA carries no valence: neutral),
  heart rate passed on from `/EmotiBit/0/HR`; EDA off the skin or stalled lowers the level.
- `map=FILE.toml` — any OSC controller or sensor (TouchOSC faders, a custom device), routed by
  a small TOML file (format below; `examples/touchosc_map.toml` is a commented example).

Query parameters: `participant=NAME` (who the Muse / EmotiBit is; for a map file, the default
participant of routes that name none), and for mindmonitor/emotibit `calibrate=SECONDS` (the
baseline window, default 20). Anything else is an error naming what is accepted.

Bad input never stops the listener: wrong argument counts, non-numbers and NaN are counted as
rejected with a rate-limited warning; NaN band powers or EDA also drop that participant's signal
level, because they mean a sensor problem. Addresses a map does not use are ignored (a map file
warns once per address, to catch typos).

Map file format
---------------

```toml
participant = "stage"     # optional: the default participant for routes that name none
smoothing = 0.0           # optional: the default smoothing of every route

[[route]]
address = "/1/fader1"     # the OSC address, exactly
field = "valence"         # emotion | valence | arousal | intensity | x | y | heart_rate | signal
arg = 0                   # which argument carries the value (default 0)
participant = "ana"       # a constant participant ...
# participant_arg = 1     # ... or the argument that names one (not both)
in = [0.0, 1.0]           # input range (default [0, 1]; heart_rate: [20, 250])
out = [-1.0, 1.0]         # output range, within the field's range (default: the whole range)
smoothing = 0.5           # 0 = none; s = the share of the old value kept per 0.1 s
                          # (0.5 settles in about half a second, 0.9 in about three)

[[route]]
address = "/1/push1"
field = "emotion"
value = "joy"             # an emotion route: this label on any message whose argument is not 0
                          # (without `value`, the argument itself must be an emotion name)
```

Values are mapped linearly from `in` to `out` and clamped (a reversed range inverts). Each
participant starts neutral (valence 0, arousal 0.5, intensity 1); every routed message updates
one field and sends that participant's whole state as an emotion event (an `emotion` route sets
the label and its circumplex point; a later valence/arousal route clears the label). `signal`
routes send a signal event, network-wide when no participant is given. One address may feed
several routes (an XY pad: `arg = 0` → x, `arg = 1` → y).
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qsl

import numpy as np

from mural.events import EMOTIONS, EmotionEvent, Event, EventError, SignalEvent, event_from_dict
from mural.events.model import HEART_RATE_RANGE, MAX_PARTICIPANT_LEN
from mural.sources.biosignals import (
    DEFAULT_CALIBRATE,
    DEFAULT_HOP,
    DEFAULT_TAU,
    DEFAULT_WINDOW,
    EdaArousal,
    MoodFromFeatures,
    arousal_index,
    band_powers,
    channel_quality,
    frontal_asymmetry,
    horseshoe_level,
    participant_level,
    reading_events,
)

log = logging.getLogger(__name__)

MAX_IGNORED = 1_024  # distinct unused addresses remembered per mapper
MAX_PARTICIPANTS = 256  # participants a map file's participant_arg may create
MUSE_FS = 256.0  # raw EEG rate of the Muse 2 / S that Mind Monitor forwards
BAND_NAMES = ("delta", "theta", "alpha", "beta", "gamma")


class MapInputError(ValueError):
    """A message a map could not use; `events` are still sent (e.g. a signal drop)."""

    def __init__(self, message: str, events: Sequence[Event] = ()) -> None:
        super().__init__(message)
        self.events = list(events)


class OscMapper(Protocol):
    """Turns OSC messages into events. `handle` is called for every message (after
    python-osc parsing, bundles flattened), `tick` after every datagram and whenever the
    listener has been idle for a moment, both on the receiver thread with the session time."""

    seen: int  # messages handled (used or not): lets callers and tests know input arrived
    ignored: Counter[str]  # addresses the map does not use, and how often they came
    warn_unrouted: bool  # warn once per unused address (a map file: probably a typo)

    def handle(self, address: str, args: list[Any], now: float) -> list[Event]: ...

    def tick(self, now: float) -> list[Event]: ...


def valid_participant(raw: Any) -> str:
    """A participant id as the event model accepts it (EventError otherwise)."""
    event = event_from_dict({"type": "signal", "level": 1.0, "participant": raw}, t=0.0)
    assert isinstance(event, SignalEvent)
    if event.participant is None:
        raise EventError("participant", raw, f"expected 1..{MAX_PARTICIPANT_LEN} printable "
                         f"characters, got {raw!r}")
    return event.participant


def _numbers(address: str, args: Sequence[Any], counts: Sequence[int]) -> np.ndarray:
    """The arguments as floats (NaN kept for the caller to judge); MapInputError if the count
    or a type is wrong."""
    if len(args) not in counts:
        wanted = " or ".join(str(c) for c in counts)
        raise MapInputError(f"{address} takes {wanted} numbers, got {len(args)}")
    out = np.empty(len(args))
    for i, value in enumerate(args):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MapInputError(f"{address} argument {i} must be a number, got {value!r}")
        out[i] = float(value)
    return out


def _ignore(mapper: OscMapper, address: str) -> list[Event]:
    if address in mapper.ignored or len(mapper.ignored) < MAX_IGNORED:
        mapper.ignored[address] += 1
    return []


class _Cadence:
    """Readings at a fixed cadence of session time (about 2 Hz), from `handle` or `tick`."""

    def __init__(self, hop: float = DEFAULT_HOP) -> None:
        self.hop = hop
        self.last: float | None = None

    def due(self, now: float) -> float | None:
        """The time this reading stands for if one is due now, else None."""
        if self.last is None:
            self.last = now
            return None
        elapsed = now - self.last
        if elapsed < self.hop:
            return None
        self.last = now
        return min(elapsed, 4 * self.hop)  # a long silence must not count as hours of baseline


# -- Mind Monitor -------------------------------------------------------------------------------


class MindMonitorMap:
    """A Muse through Mind Monitor → the participant's mood and signal level."""

    warn_unrouted = False
    JAW_HOLD = 1.0  # seconds a jaw clench (EMG all over the frontal channels) spoils the EEG
    BLINK_HOLD = 0.4
    NAN_HOLD = 1.0  # seconds a NaN band power keeps the level down

    def __init__(
        self, participant: str = "muse", *, calibrate: float = DEFAULT_CALIBRATE,
        tau: float = DEFAULT_TAU, window: float = DEFAULT_WINDOW,
    ) -> None:
        self.participant = participant
        self.window = window
        self.seen = 0
        self.ignored: Counter[str] = Counter()
        self.mood = MoodFromFeatures(calibrate=calibrate, tau=tau)
        self.cadence = _Cadence()
        self.bands: dict[str, tuple[float, np.ndarray]] = {}  # name -> (time, log10 powers)
        self.features: deque[tuple[float, float, float]] = deque()  # (t, asymmetry, arousal)
        self.horseshoe: tuple[float, float] | None = None  # (time, level)
        self.raw: deque[tuple[float, np.ndarray]] = deque()  # (t, 4 µV samples)
        self.hold_until = -math.inf  # artefact: features are not taken before this
        self.bad_until = -math.inf  # a NaN from a sensor: the level stays low before this
        self.averaged_noted = False

    # .. input ..

    def handle(self, address: str, args: list[Any], now: float) -> list[Event]:
        self.seen += 1
        if address.startswith("/muse/elements/") and address.endswith("_absolute"):
            band = address[len("/muse/elements/") : -len("_absolute")]
            if band in BAND_NAMES:
                self._band(address, band, args, now)
                return self.tick(now)
        elif address == "/muse/elements/horseshoe":
            values = _numbers(address, args, (4,))
            if not np.isfinite(values).all():
                raise MapInputError(f"{address}: not a number in {list(args)}")
            self.horseshoe = (now, horseshoe_level(values))
            return self.tick(now)
        elif address == "/muse/eeg":
            values = _numbers(address, args, (4, 5, 6))  # TP9 AF7 AF8 TP10 [AUX ...]
            self.raw.append((now, values[:4]))
            while len(self.raw) > int(self.window * MUSE_FS):
                self.raw.popleft()
            return self.tick(now)
        elif address == "/muse/elements/jaw_clench":
            self.hold_until = max(self.hold_until, now + self.JAW_HOLD)
            return self.tick(now)
        elif address == "/muse/elements/blink":
            if not args or args[0]:
                self.hold_until = max(self.hold_until, now + self.BLINK_HOLD)
            return self.tick(now)
        return _ignore(self, address)

    def _band(self, address: str, band: str, args: list[Any], now: float) -> None:
        values = _numbers(address, args, (1, 4))
        if not np.isfinite(values).all():
            # Muse reports NaN for a sensor it cannot read: a sensor problem, not just bad data.
            self.bad_until = now + self.NAN_HOLD
            raise MapInputError(f"{address}: not a number in {list(args)} (sensor off?)",
                                self._signal(now, self._level(now)))
        self.bands[band] = (now, values)
        if band in ("alpha", "beta"):
            self._features(now)

    def _features(self, now: float) -> None:
        alpha = self.bands.get("alpha")
        beta = self.bands.get("beta")
        if alpha is None or beta is None or abs(alpha[0] - beta[0]) > 1.0:
            return
        a, b = alpha[1], beta[1]
        if now < self.hold_until or a.size != b.size:
            return
        # log10 band powers → powers; frontal sensors only when the four are sent.
        if a.size == 4:
            pa, pb = 10.0 ** a[1:3], 10.0 ** b[1:3]  # AF7, AF8
            asym = float(frontal_asymmetry(pa[0], pa[1]))
        else:
            if not self.averaged_noted:
                self.averaged_noted = True
                log.warning("Mind Monitor sends averaged band powers: no left/right asymmetry, "
                            "so valence stays neutral (set OSC Stream Brainwaves to All Values)")
            pa, pb = 10.0 ** a, 10.0 ** b
            asym = 0.0
        self._remember(now, asym, float(arousal_index(pb, pa)))

    def _remember(self, now: float, asym: float, arousal: float) -> None:
        self.features.append((now, asym, arousal))
        while self.features and self.features[0][0] < now - self.window:
            self.features.popleft()

    # .. output ..

    def _level(self, now: float) -> float:
        level = 1.0
        if self.horseshoe is not None and now - self.horseshoe[0] <= 5.0:
            level = self.horseshoe[1]
        raw = self._raw_window(now)
        if raw is not None:
            level = min(level, participant_level(channel_quality(raw), (1, 2)))
        if now < self.bad_until:
            level = min(level, 0.1)
        return level

    def _raw_window(self, now: float) -> np.ndarray | None:
        """The recent raw EEG (4, samples) when at least two seconds of it are fresh."""
        if len(self.raw) < 2 * MUSE_FS or now - self.raw[-1][0] > 2.0:
            return None
        return np.stack([s for _, s in self.raw], axis=1)

    def _signal(self, now: float, level: float) -> list[Event]:
        return [SignalEvent(t=now, level=round(level, 4), participant=self.participant)]

    def tick(self, now: float) -> list[Event]:
        dt = self.cadence.due(now)
        if dt is None:
            return []
        while self.features and self.features[0][0] < now - self.window:
            self.features.popleft()
        fresh_bands = any(now - t <= 2.0 for t, _ in self.bands.values())
        if not fresh_bands and now >= self.hold_until:
            raw = self._raw_window(now)
            if raw is not None:  # no band powers: compute them from the raw EEG
                p = band_powers(raw[1:3], MUSE_FS)
                self._remember(now, float(frontal_asymmetry(p[0, 0], p[1, 0])),
                               float(arousal_index(p[:, 1], p[:, 0])))
        fresh_shoe = self.horseshoe is not None and now - self.horseshoe[0] <= 2.0
        fresh_raw = bool(self.raw) and now - self.raw[-1][0] <= 2.0
        if not (fresh_bands or fresh_shoe or fresh_raw):
            return []  # the headband is silent: let the mural fade that participant
        level = self._level(now)
        if not self.features:
            return self._signal(now, level)
        feats = np.array([(a, b) for _, a, b in self.features])
        asym, arousal = (float(v) for v in feats.mean(axis=0))
        reading = self.mood.step(asym, arousal, level, dt)
        return reading_events(reading, self.participant, now)


# -- EmotiBit -----------------------------------------------------------------------------------

_EMOTIBIT = re.compile(r"^/EmotiBit/(\d+)/(.+)$")


class EmotiBitMap:
    """An EmotiBit through the EmotiBit Oscilloscope → arousal from EDA, heart rate."""

    warn_unrouted = False
    EDA_WINDOW = 2.0  # seconds of EDA behind each reading
    NAN_HOLD = 1.0

    def __init__(
        self, participant: str = "emotibit", *, calibrate: float = DEFAULT_CALIBRATE,
        tau: float = DEFAULT_TAU,
    ) -> None:
        self.participant = participant
        self.seen = 0
        self.ignored: Counter[str] = Counter()
        self.arousal = EdaArousal(calibrate=calibrate, tau=tau)
        self.cadence = _Cadence()
        self.eda: deque[tuple[float, float]] = deque()  # (t, µS)
        self.heart_rate: float | None = None
        self.heart_rate_t = -math.inf
        self.bad_until = -math.inf

    def handle(self, address: str, args: list[Any], now: float) -> list[Event]:
        self.seen += 1
        match = _EMOTIBIT.match(address)
        kind = match[2] if match else None
        if kind == "EDA":
            values = _numbers(address, args, range(1, 1025))
            if not np.isfinite(values).all():
                self.bad_until = now + self.NAN_HOLD
                raise MapInputError(f"{address}: not a number in EDA samples (sensor off?)",
                                    [SignalEvent(t=now, level=0.1, participant=self.participant)])
            self.eda.extend((now, float(v)) for v in values)
            while self.eda and self.eda[0][0] < now - self.EDA_WINDOW:
                self.eda.popleft()
            return self.tick(now)
        if kind == "HR":
            values = _numbers(address, args, range(1, 1025))
            rate = float(values[-1])
            lo, hi = HEART_RATE_RANGE
            if not (math.isfinite(rate) and lo <= rate <= hi):
                raise MapInputError(f"{address}: heart rate {rate!r} outside {lo:g}..{hi:g}")
            self.heart_rate, self.heart_rate_t = rate, now
            return self.tick(now)
        return _ignore(self, address)

    def tick(self, now: float) -> list[Event]:
        dt = self.cadence.due(now)
        if dt is None:
            return []
        while self.eda and self.eda[0][0] < now - self.EDA_WINDOW:
            self.eda.popleft()
        if not self.eda:
            return []  # silent: the mural lets a silent participant fade on its own
        reading = self.arousal.step([v for _, v in self.eda], dt)
        if now < self.bad_until:
            reading = replace(reading, level=min(reading.level, 0.1))
        rate = self.heart_rate if now - self.heart_rate_t <= 10.0 else None
        return reading_events(reading, self.participant, now, heart_rate=rate)


# -- map files ----------------------------------------------------------------------------------

FIELDS: dict[str, tuple[float, float] | None] = {
    "emotion": None,
    "valence": (-1.0, 1.0),
    "arousal": (0.0, 1.0),
    "intensity": (0.0, 1.0),
    "x": (0.0, 1.0),
    "y": (0.0, 1.0),
    "heart_rate": HEART_RATE_RANGE,
    "signal": (0.0, 1.0),
}
TOP_KEYS = ("participant", "smoothing", "description", "route")
ROUTE_KEYS = ("address", "field", "arg", "participant", "participant_arg", "in", "out",
              "smoothing", "value")
SMOOTHING_STEP = 0.1  # seconds: `smoothing` is the share of the old value kept per step


class MapProblem(NamedTuple):
    """One problem in a map file: (path, line or None for the whole file, message)."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else (
            f"{self.path}: {self.message}")


@dataclass(frozen=True)
class Route:
    """One `[[route]]`: an address and argument → one field of one participant."""

    address: str
    field: str
    arg: int = 0
    participant: str | None = None
    participant_arg: int | None = None
    lo_in: float = 0.0
    hi_in: float = 1.0
    lo_out: float = 0.0
    hi_out: float = 1.0
    smoothing: float = 0.0
    value: str | None = None  # emotion routes: a constant label

    def scale(self, raw: float) -> float:
        u = (raw - self.lo_in) / (self.hi_in - self.lo_in)
        u = min(1.0, max(0.0, u))
        return self.lo_out + u * (self.hi_out - self.lo_out)


@dataclass(frozen=True)
class OscMap:
    """A validated map file."""

    routes: tuple[Route, ...]
    path: str = ""
    by_address: dict[str, tuple[Route, ...]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[Route]] = {}
        for route in self.routes:
            grouped.setdefault(route.address, []).append(route)
        self.by_address.update({a: tuple(rs) for a, rs in grouped.items()})


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_\-\"'. ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')\s*=")


def _scan_lines(text: str) -> tuple[dict[tuple[int, str], int], list[int], dict[str, int]]:
    """Line numbers in a map file, by a small scanner (not a TOML parser): keys per route
    index (-1: top level), the header line of each `[[route]]`, and of any other table."""
    keys: dict[tuple[int, str], int] = {}
    routes: list[int] = []
    tables: dict[str, int] = {}
    current = -1
    in_string: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        if in_string is not None:
            if raw.count(in_string) % 2 == 1:
                in_string = None
            continue
        if raw.lstrip().startswith("#"):
            continue
        header = _HEADER.match(raw)
        if header:
            name = header[2].strip().strip("\"'")
            if header[1] == "[[" and name == "route":
                routes.append(number)
                current = len(routes) - 1
            else:
                tables.setdefault(name, number)
                current = -2  # keys of some other table: not ours to place
            continue
        key = _KEY.match(raw)
        if key:
            keys.setdefault((current, key[1].strip("\"'")), number)
            rest = raw[key.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_string = quote
    return keys, routes, tables


def _toml_error_line(exc: tomllib.TOMLDecodeError) -> tuple[int | None, str]:
    found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
    if found:
        return int(found[1]), f"not valid TOML: {message}"
    return None, f"not valid TOML: {message}"


def parse_osc_map(
    data: Mapping[str, Any], path: str = "<map>", text: str = "", *,
    participant: str | None = None,
) -> tuple[OscMap | None, list[MapProblem]]:
    """Validate parsed TOML into an OscMap, collecting every problem with its line (`text`
    is the file's source, for the line numbers). `participant` overrides the file's default."""
    keys, route_lines, tables = _scan_lines(text)
    problems: list[MapProblem] = []

    def top(key: str) -> int | None:
        return keys.get((-1, key)) or tables.get(key)

    def at(index: int, key: str | None = None) -> int | None:
        if key is not None and (index, key) in keys:
            return keys[(index, key)]
        return route_lines[index] if index < len(route_lines) else None

    for key in data:
        if key not in TOP_KEYS:
            problems.append(MapProblem(path, top(key),
                                       f"unknown key {key!r} (expected {', '.join(TOP_KEYS)})"))
    default_who = participant
    if default_who is None and "participant" in data:
        default_who = _participant(data["participant"], problems, path, top("participant"))
    default_smoothing = 0.0
    if "smoothing" in data:
        default_smoothing = _smoothing(data["smoothing"], problems, path, top("smoothing"))
    raw_routes = data.get("route", [])
    if not isinstance(raw_routes, list) or not all(isinstance(r, dict) for r in raw_routes):
        problems.append(MapProblem(path, top("route"),
                                   "routes are [[route]] tables (double brackets)"))
        raw_routes = []
    if not raw_routes and not problems:
        problems.append(MapProblem(path, None, "no [[route]] tables: the map routes nothing"))

    routes: list[Route] = []
    for i, raw in enumerate(raw_routes):
        before = len(problems)

        def bad(key: str | None, message: str, i: int = i) -> None:
            problems.append(MapProblem(path, at(i, key), f"route {i + 1}: {message}"))

        for key in raw:
            if key not in ROUTE_KEYS:
                bad(key, f"unknown key {key!r} (expected {', '.join(ROUTE_KEYS)})")
        address = raw.get("address")
        if not isinstance(address, str) or not address.startswith("/") or " " in address:
            bad("address" if "address" in raw else None,
                f"address must be an OSC address starting with '/', got {address!r}")
        name = raw.get("field")
        if name not in FIELDS:
            bad("field" if "field" in raw else None,
                f"field must be one of {', '.join(FIELDS)}, got {name!r}")
            name = None
        arg = _index(raw, "arg", bad, default=0)
        who = None
        network = name == "signal" and raw.get("participant") == ""  # explicitly everyone's
        if "participant" in raw and not network:
            who = _participant(raw["participant"], problems, path, at(i, "participant"),
                               prefix=f"route {i + 1}: ")
        who_arg = _index(raw, "participant_arg", bad, default=None)
        if "participant" in raw and "participant_arg" in raw:
            bad("participant_arg", "give participant or participant_arg, not both")
        if who is None and who_arg is None and "participant" not in raw:
            who = default_who
        if who is None and who_arg is None and name not in (None, "signal") and \
                "participant" not in raw:
            bad(None, "names no participant (set participant or participant_arg here, or a "
                "top-level participant)")
        smoothing = default_smoothing
        if "smoothing" in raw:
            smoothing = _smoothing(raw["smoothing"], problems, path, at(i, "smoothing"),
                                   prefix=f"route {i + 1}: ")
        value = raw.get("value")
        lo_in, hi_in, lo_out, hi_out = 0.0, 1.0, 0.0, 1.0
        if name == "emotion":
            for key in ("in", "out"):
                if key in raw:
                    bad(key, f"an emotion route maps names, it has no {key!r} range")
            if value is not None and (not isinstance(value, str) or
                                      value.strip().lower() not in EMOTIONS):
                bad("value", f"unknown emotion {value!r} (expected one of "
                    f"{', '.join(sorted(EMOTIONS))})")
            elif value is not None:
                value = value.strip().lower()
        elif name is not None:
            if "value" in raw:
                bad("value", "value is only for emotion routes")
            span = FIELDS[name]
            assert span is not None
            default_in = span if name == "heart_rate" else (0.0, 1.0)
            lo_in, hi_in = _pair(raw, "in", default_in, bad)
            if lo_in == hi_in:
                bad("in", f"in range is empty ({lo_in:g} to {hi_in:g})")
            lo_out, hi_out = _pair(raw, "out", span, bad)
            if not all(span[0] <= v <= span[1] for v in (lo_out, hi_out)):
                bad("out", f"out range {lo_out:g}..{hi_out:g} leaves {name}'s range "
                    f"{span[0]:g}..{span[1]:g}")
        if len(problems) == before and name is not None:
            routes.append(Route(address=address, field=name, arg=arg, participant=who,
                                participant_arg=who_arg, lo_in=lo_in, hi_in=hi_in,
                                lo_out=lo_out, hi_out=hi_out, smoothing=smoothing,
                                value=value))
    if problems:
        return None, problems
    return OscMap(routes=tuple(routes), path=path), []


def _participant(
    raw: Any, problems: list[MapProblem], path: str, line: int | None, prefix: str = ""
) -> str | None:
    try:
        return valid_participant(raw)
    except EventError as exc:
        problems.append(MapProblem(path, line, f"{prefix}participant: {exc.reason}"))
        return None


def _smoothing(
    raw: Any, problems: list[MapProblem], path: str, line: int | None, prefix: str = ""
) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0.0 <= raw < 1.0:
        problems.append(MapProblem(path, line,
                                   f"{prefix}smoothing must be a number from 0 to below 1, "
                                   f"got {raw!r}"))
        return 0.0
    return float(raw)


def _index(raw: Mapping[str, Any], key: str, bad: Any, *, default: int | None) -> int | None:
    if key not in raw:
        return default
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1024:
        bad(key, f"{key} must be an argument index 0..1023, got {value!r}")
        return default
    return value


def _pair(
    raw: Mapping[str, Any], key: str, default: tuple[float, float], bad: Any
) -> tuple[float, float]:
    if key not in raw:
        return default
    value = raw[key]
    if (not isinstance(value, list) or len(value) != 2 or
            not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    for v in value)):
        bad(key, f"{key} must be two numbers [from, to], got {value!r}")
        return default
    return float(value[0]), float(value[1])


def check_osc_map(
    path: str | Path, *, participant: str | None = None
) -> tuple[OscMap | None, list[MapProblem]]:
    """Read and validate a map file; never raises for bad content. Each problem is
    `(path, line, message)` with the line to look at (None: the whole file)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [MapProblem(name, None, "no such file")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [MapProblem(name, None, f"cannot read ({exc})")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _toml_error_line(exc)
        return None, [MapProblem(name, line, message)]
    return parse_osc_map(data, name, text, participant=participant)


@dataclass
class _Person:
    valence: float = 0.0
    arousal: float = 0.5
    intensity: float = 1.0
    emotion: str | None = None
    x: float | None = None
    y: float | None = None
    heart_rate: float | None = None


@dataclass
class _Smoothed:
    route: Route
    participant: str | None
    target: float
    value: float
    t: float


class FileMap:
    """Routes OSC messages to events by a validated OscMap (see the module docstring)."""

    warn_unrouted = True
    TICK = 0.05  # seconds between smoothing updates sent while a value settles

    def __init__(self, osc_map: OscMap) -> None:
        self.map = osc_map
        self.seen = 0
        self.ignored: Counter[str] = Counter()
        self.people: dict[str, _Person] = {}
        self.smoothed: dict[tuple[str | None, str], _Smoothed] = {}
        self.last_tick = -math.inf

    def handle(self, address: str, args: list[Any], now: float) -> list[Event]:
        self.seen += 1
        routes = self.map.by_address.get(address)
        if routes is None:
            return _ignore(self, address)
        touched: dict[str, None] = {}
        signals: list[Event] = []
        problems: list[str] = []
        for route in routes:
            try:
                who = self._who(route, args)
                if route.field == "emotion":
                    assert who is not None
                    if self._emotion(route, who, args):
                        touched[who] = None
                    continue
                raw = self._arg(route, args)
                target = route.scale(raw)
                key = (who, route.field)
                state = self.smoothed.get(key)
                if route.smoothing > 0 and state is not None:
                    state.target = target
                    state.route = route
                    state.value = self._approach(state, now)
                    state.t = now
                    value = state.value
                else:
                    self.smoothed[key] = _Smoothed(route, who, target, target, now)
                    value = target
                signal = self._apply(route, who, value, now)
                if signal is not None:
                    signals.append(signal)
                elif who is not None:
                    touched[who] = None
            except MapInputError as exc:
                problems.append(str(exc))
        events = signals + [self._event(who, now) for who in touched]
        if problems:
            raise MapInputError("; ".join(problems), events)
        return events

    def _who(self, route: Route, args: Sequence[Any]) -> str | None:
        if route.participant_arg is None:
            return route.participant
        if route.participant_arg >= len(args):
            raise MapInputError(f"{route.address} needs argument {route.participant_arg} "
                                f"(the participant), got {len(args)} arguments")
        try:
            who = valid_participant(args[route.participant_arg])
        except EventError as exc:
            raise MapInputError(f"{route.address}: participant {exc.reason}") from None
        if who not in self.people and len(self.people) >= MAX_PARTICIPANTS:
            raise MapInputError(f"{route.address}: more than {MAX_PARTICIPANTS} participants")
        return who

    def _arg(self, route: Route, args: Sequence[Any]) -> float:
        if route.arg >= len(args):
            raise MapInputError(f"{route.address} needs argument {route.arg} for "
                                f"{route.field}, got {len(args)} arguments")
        raw = args[route.arg]
        if isinstance(raw, bool):
            raw = float(raw)
        if not isinstance(raw, int | float) or not math.isfinite(raw):
            raise MapInputError(f"{route.address} argument {route.arg} must be a finite "
                                f"number for {route.field}, got {raw!r}")
        return float(raw)

    def _emotion(self, route: Route, who: str, args: Sequence[Any]) -> bool:
        """Set a label; False for a button's release (its argument 0), which sends nothing."""
        if route.value is not None:
            label = route.value
            if args and route.arg < len(args) and not args[route.arg]:
                return False
        else:
            raw = args[route.arg] if route.arg < len(args) else None
            label = raw.strip().lower() if isinstance(raw, str) else None
            if label not in EMOTIONS:
                raise MapInputError(f"{route.address} argument {route.arg} must be an emotion "
                                    f"name, got {raw!r}")
        person = self._person(who)
        anchor = EMOTIONS[label]
        person.emotion, person.valence, person.arousal = label, anchor.valence, anchor.arousal
        return True

    def _person(self, who: str) -> _Person:
        person = self.people.get(who)
        if person is None:
            person = self.people[who] = _Person()
        return person

    def _apply(self, route: Route, who: str | None, value: float, now: float) -> Event | None:
        """Set one field; a signal route returns its event, others only change the state."""
        value = round(value, 4)
        if route.field == "signal":
            return SignalEvent(t=now, level=min(1.0, max(0.0, value)), participant=who)
        assert who is not None
        person = self._person(who)
        if route.field in ("valence", "arousal"):
            person.emotion = None
        setattr(person, route.field, value)
        return None

    def _event(self, who: str, now: float) -> Event:
        p = self.people[who]
        return EmotionEvent(t=now, participant=who, valence=p.valence, arousal=p.arousal,
                            intensity=p.intensity, emotion=p.emotion, x=p.x, y=p.y,
                            heart_rate=p.heart_rate)

    @staticmethod
    def _approach(state: _Smoothed, now: float) -> float:
        kept = state.route.smoothing ** (max(0.0, now - state.t) / SMOOTHING_STEP)
        return state.target + (state.value - state.target) * kept

    def tick(self, now: float) -> list[Event]:
        """Carry smoothed values on toward their targets after the controller went quiet."""
        if now - self.last_tick < self.TICK:
            return []
        self.last_tick = now
        touched: dict[str, None] = {}
        signals: list[Event] = []
        for state in self.smoothed.values():
            if state.value == state.target:
                continue
            span = abs(state.route.hi_out - state.route.lo_out) or 1.0
            state.value = self._approach(state, now)
            state.t = now
            if abs(state.value - state.target) < 1e-3 * span:
                state.value = state.target
            signal = self._apply(state.route, state.participant, state.value, now)
            if signal is not None:
                signals.append(signal)
            elif state.participant is not None:
                touched[state.participant] = None
        return signals + [self._event(who, now) for who in touched]


# -- from the SOURCE string ---------------------------------------------------------------------

BUILTIN_MAPS = ("mindmonitor", "emotibit")
QUERY_KEYS = ("map", "participant", "calibrate")


def mapper_from_query(query: str) -> OscMapper | None:
    """The mapper an `osc://...?QUERY` asks for (None for no query); SourceError naming what
    is accepted for an unknown parameter, an unknown map, or a map file with problems."""
    from mural.sources.base import SourceError

    if not query:
        return None
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in QUERY_KEYS:
            raise SourceError(f"osc:// does not take {key!r} (accepted: "
                              f"{', '.join(k + '=' for k in QUERY_KEYS)})")
        if key in params:
            raise SourceError(f"osc:// got {key}= twice")
        params[key] = value
    which = params.get("map")
    if which is None:
        raise SourceError("osc:// takes participant= and calibrate= only with map=mindmonitor, "
                          "map=emotibit or map=FILE.toml")
    who = params.get("participant")
    if who is not None:
        try:
            who = valid_participant(who)
        except EventError as exc:
            raise SourceError(f"osc://...?participant=: {exc.reason}") from None
    if which.lower() in BUILTIN_MAPS:
        calibrate = DEFAULT_CALIBRATE
        if "calibrate" in params:
            try:
                calibrate = float(params["calibrate"])
            except ValueError:
                calibrate = math.nan
            if not (math.isfinite(calibrate) and 0.0 <= calibrate <= 3600.0):
                raise SourceError(f"calibrate= must be seconds from 0 to 3600, got "
                                  f"{params['calibrate']!r}")
        if which.lower() == "mindmonitor":
            return MindMonitorMap(who or "muse", calibrate=calibrate)
        return EmotiBitMap(who or "emotibit", calibrate=calibrate)
    if not which.lower().endswith(".toml"):
        raise SourceError(f"unknown map {which!r}: expected map=mindmonitor, map=emotibit or "
                          "map=FILE.toml")
    if "calibrate" in params:
        raise SourceError("calibrate= applies to map=mindmonitor and map=emotibit, not to a "
                          "map file")
    osc_map, problems = check_osc_map(which, participant=who)
    if osc_map is None:
        raise SourceError("OSC map has problems:\n" + "\n".join(str(p) for p in problems))
    return FileMap(osc_map)


def feed_mapper(source: Any, address: str, args: list[Any]) -> None:
    """Hand one message to an OscSource's mapper and queue what comes out (called on the
    receiver thread; counts and warns instead of raising)."""
    mapper: OscMapper = source.mapper
    try:
        before = mapper.ignored.get(address, 0)
        events = mapper.handle(address, list(args), source.clock())
    except MapInputError as exc:
        source.rejected(str(exc))
        events = exc.events
    except Exception as exc:  # a mapper bug must not kill the listener either
        source.malformed(f"{address}: {type(exc).__name__}: {exc}")
        return
    else:
        if mapper.warn_unrouted and before == 0 and mapper.ignored.get(address, 0) == 1:
            source.warn(f"no route for {address} (ignored; check the map's addresses)")
    for event in events:
        source.push(event)


def tick_mapper(source: Any) -> None:
    """Let an OscSource's mapper send its periodic events (readings, smoothing)."""
    try:
        events = source.mapper.tick(source.clock())
    except Exception as exc:
        source.malformed(f"map tick: {type(exc).__name__}: {exc}")
        return
    for event in events:
        source.push(event)


__all__ = [
    "FIELDS",
    "EmotiBitMap",
    "FileMap",
    "MapInputError",
    "MapProblem",
    "MindMonitorMap",
    "OscMap",
    "OscMapper",
    "Route",
    "check_osc_map",
    "feed_mapper",
    "mapper_from_query",
    "parse_osc_map",
    "tick_mapper",
]
