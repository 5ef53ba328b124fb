"""OSC maps over real loopback UDP: Mind Monitor, EmotiBit, map files, their checker, sniffing.

Every source here runs on an injected clock that the test moves, so calibration windows of
twenty seconds take milliseconds; the only waits are for datagrams to cross the loopback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from mural.events import EmotionEvent, Event, SignalEvent
from mural.sources import SourceError, open_source
from mural.sources.discovery import NOT_OSC, sniff_osc
from mural.sources.osc import OscSource, open_osc
from mural.sources.oscmap import (
    EmotiBitMap,
    FileMap,
    MindMonitorMap,
    check_osc_map,
    parse_osc_map,
)


class FakeClock:
    """A session clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


Message = tuple[str, list[object]]


class Rig:
    """A mapped OSC source on an ephemeral port, a client, and a hand-moved clock."""

    def __init__(self, query: str) -> None:
        self.clock = FakeClock()
        self.source: OscSource = open_osc(f"osc://127.0.0.1:0?{query}", clock=self.clock)
        self.client = SimpleUDPClient("127.0.0.1", self.source.port)
        self.events: list[Event] = []

    def send(self, *messages: Message, at: float | None = None) -> list[Event]:
        """Send messages as one bundle at session time `at`; wait until all were handled;
        return the events they produced."""
        if at is not None:
            self.clock.t = at
        mapper = self.source.mapper
        assert mapper is not None
        target = mapper.seen + len(messages)
        bundle = OscBundleBuilder(IMMEDIATELY)
        for address, args in messages:
            builder = OscMessageBuilder(address)
            for value in args:
                builder.add_arg(value)
            bundle.add_content(builder.build())
        self.client.send(bundle.build())
        self.wait(lambda: mapper.seen >= target)
        new = self.source.poll(math.inf)
        self.events.extend(new)
        return new

    def wait(self, until: Callable[[], bool], timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; stats {self.source.stats}")
            time.sleep(0.002)

    def close(self) -> None:
        self.client.close()
        self.source.close()


@pytest.fixture
def rig() -> Iterator[Callable[[str], Rig]]:
    made: list[Rig] = []

    def make(query: str) -> Rig:
        made.append(Rig(query))
        return made[-1]

    yield make
    for r in made:
        r.close()


def emotions(events: list[Event]) -> list[EmotionEvent]:
    return [e for e in events if isinstance(e, EmotionEvent)]


def levels(events: list[Event]) -> list[float]:
    return [e.level for e in events if isinstance(e, SignalEvent)]


# -- Mind Monitor -------------------------------------------------------------------------------


def muse(rng: np.random.Generator, *, left: float = 1.0, right: float = 1.0,
         beta: float = 0.5, shoe: tuple[int, ...] = (1, 1, 1, 1)) -> tuple[Message, ...]:
    """One Mind Monitor moment: log10 alpha and beta per sensor (TP9, AF7, AF8, TP10), fit."""
    jitter = rng.normal(0.0, 0.04, 8)
    alpha = [1.0 + jitter[0], left + jitter[1], right + jitter[2], 1.0 + jitter[3]]
    betas = [beta + j for j in jitter[4:]]
    return (("/muse/elements/alpha_absolute", [float(v) for v in alpha]),
            ("/muse/elements/beta_absolute", [float(v) for v in betas]),
            ("/muse/elements/horseshoe", [float(v) for v in shoe]))


def run(r: Rig, start: float, seconds: float, make: Callable[[], tuple[Message, ...]]) -> float:
    """Send a moment every half second of session time; return the time reached."""
    t = start
    while t < start + seconds - 1e-9:
        t += 0.5
        r.send(*make(), at=t)
    return t


def test_mindmonitor_valence_follows_frontal_alpha_asymmetry(rig) -> None:
    r = rig("map=mindmonitor&participant=ana")
    rng = np.random.default_rng(0)
    t = run(r, 0.0, 22.0, lambda: muse(rng))  # the default 20 s calibration
    calm = emotions(r.events)
    assert calm and all(e.participant == "ana" for e in calm)
    assert abs(calm[-1].valence) < 0.3
    t = run(r, t, 6.0, lambda: muse(rng, right=1.3))  # AF8 alpha doubled
    assert emotions(r.events)[-1].valence > 0.3
    t = run(r, t, 8.0, lambda: muse(rng))
    assert abs(emotions(r.events)[-1].valence) < 0.3
    t = run(r, t, 6.0, lambda: muse(rng, left=1.3))  # AF7 alpha doubled
    assert emotions(r.events)[-1].valence < -0.3
    t = run(r, t, 8.0, lambda: muse(rng))
    run(r, t, 6.0, lambda: muse(rng, beta=0.8))  # beta up against alpha: aroused
    assert emotions(r.events)[-1].arousal > 0.7
    assert r.source.stats.rejected == 0 and r.source.stats.malformed == 0


def test_mindmonitor_horseshoe_sets_the_signal_level(rig) -> None:
    r = rig("map=mindmonitor&participant=ana&calibrate=2")
    rng = np.random.default_rng(1)
    t = run(r, 0.0, 4.0, lambda: muse(rng))
    assert levels(r.events)[-1] > 0.8
    t = run(r, t, 2.0, lambda: muse(rng, shoe=(4, 4, 4, 4)))  # the headband slipped off
    bad = [e for e in r.events if isinstance(e, SignalEvent)][-1]
    assert bad.participant == "ana" and bad.level < 0.3
    run(r, t, 2.0, lambda: muse(rng))
    assert levels(r.events)[-1] > 0.8


def test_mindmonitor_bad_input_is_counted_never_fatal(rig) -> None:
    r = rig("map=mindmonitor&calibrate=0")
    rng = np.random.default_rng(2)
    run(r, 0.0, 2.0, lambda: muse(rng))
    stats = r.source.stats
    r.send(("/muse/elements/alpha_absolute", [1.0, 1.0, 1.0]))  # three sensors?
    r.send(("/muse/elements/beta_absolute", ["high", 1.0, 1.0, 1.0]))
    assert stats.rejected == 2
    drop = r.send(("/muse/elements/alpha_absolute", [1.0, math.nan, 1.0, 1.0]), at=3.0)
    assert stats.rejected == 3
    assert {e.level for e in drop if isinstance(e, SignalEvent)} == {0.1}  # a sensor problem
    r.client._sock.sendto(b"\x00garbage", ("127.0.0.1", r.source.port))
    r.wait(lambda: stats.malformed == 1)
    r.send(("/muse/acc", [0.1, 0.2, 0.3]), ("/muse/elements/blink", [1]),
           ("/muse/elements/jaw_clench", [1]))  # unused or artefacts: quietly taken
    assert stats.rejected == 3 and r.source.mapper.ignored["/muse/acc"] == 1
    run(r, 3.0, 3.0, lambda: muse(rng))  # still listening, still reading
    assert emotions(r.events)[-1].participant == "muse"  # the default participant


def test_mindmonitor_falls_back_to_raw_eeg_and_averaged_bands() -> None:
    m = MindMonitorMap(calibrate=0.0)
    fs = 256
    t = np.arange(3 * fs) / fs
    events: list[Event] = []
    for i in range(t.size):  # raw only: right alpha stronger than left
        row = [5 * math.sin(20 * t[i]), 20 * math.sin(2 * math.pi * 10 * t[i]),
               40 * math.sin(2 * math.pi * 10 * t[i] + 1), 5 * math.cos(20 * t[i])]
        events += m.handle("/muse/eeg", row, float(t[i]))
    assert emotions(events) and levels(events)[-1] > 0.8
    flat = MindMonitorMap(calibrate=0.0)
    out: list[Event] = []
    for i in range(t.size):  # a dead-flat AF7 is a failing sensor
        out += flat.handle("/muse/eeg", [5 * math.sin(20 * t[i]), 0.0, 3 * math.sin(60 * t[i]),
                                         5 * math.cos(20 * t[i])], float(t[i]))
    assert levels(out)[-1] < 0.3
    averaged = MindMonitorMap(calibrate=0.0)
    out = []
    for k in range(8):
        out += averaged.handle("/muse/elements/alpha_absolute", [1.0], k * 0.5)
        out += averaged.handle("/muse/elements/beta_absolute", [0.5], k * 0.5)
    assert emotions(out) and {e.valence for e in emotions(out)} == {0.0}  # no asymmetry


# -- EmotiBit -----------------------------------------------------------------------------------


def emotibit(rng: np.random.Generator, level: float) -> tuple[Message, ...]:
    samples = [float(level + 0.01 * v) for v in rng.standard_normal(8)]
    return (("/EmotiBit/0/EDA", samples), ("/EmotiBit/0/HR", [72.0]),
            ("/EmotiBit/0/PPG:GRN", [float(v) for v in rng.standard_normal(8)]))


def test_emotibit_arousal_from_eda_and_heart_rate(rig) -> None:
    r = rig("map=emotibit&participant=ben")
    rng = np.random.default_rng(3)
    t = run(r, 0.0, 22.0, lambda: emotibit(rng, 2.0))
    first = emotions(r.events)
    assert first and first[-1].participant == "ben"
    assert 0.3 < first[-1].arousal < 0.7 and first[-1].valence == 0.0
    assert first[-1].heart_rate == 72.0
    t = run(r, t, 5.0, lambda: emotibit(rng, 3.0))  # sweating: skin conductance up
    assert emotions(r.events)[-1].arousal > 0.7
    t = run(r, t, 3.0, lambda: emotibit(rng, 0.001))  # electrodes off the skin
    assert levels(r.events)[-1] < 0.3
    r.send(("/EmotiBit/0/EDA", [math.nan]), at=t + 0.5)
    r.send(("/EmotiBit/0/HR", [900.0]))
    assert r.source.stats.rejected == 2
    assert r.source.mapper.ignored["/EmotiBit/0/PPG:GRN"] > 0


def test_emotibit_silence_sends_nothing() -> None:
    m = EmotiBitMap(calibrate=0.0)
    assert m.tick(0.0) == [] and m.tick(5.0) == []
    m.handle("/EmotiBit/0/EDA", [2.0] * 8, 5.2)
    assert m.tick(5.8) and m.tick(30.0) == []  # two seconds of nothing: let it fade


# -- query parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "message"), [
    ("map=muse", "mindmonitor"),
    ("colour=red", "accepted: map=, participant=, calibrate="),
    ("participant=ana", "only with map="),
    ("map=mindmonitor&calibrate=soon", "calibrate="),
    ("map=mindmonitor&participant=", "participant"),
    ("map=mindmonitor&map=emotibit", "twice"),
    ("map=missing.toml", "no such file"),
])
def test_bad_queries_are_source_errors(query: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        open_source(f"osc://127.0.0.1:0?{query}")


# -- map files ----------------------------------------------------------------------------------

TOUCH = """\
participant = "ana"

[[route]]
address = "/1/fader1"
field = "valence"
out = [-1.0, 1.0]

[[route]]
address = "/1/xy"
field = "x"

[[route]]
address = "/1/xy"
field = "y"
arg = 1

[[route]]
address = "/1/push1"
field = "emotion"
value = "joy"

[[route]]
address = "/hr"
field = "heart_rate"
participant_arg = 0
arg = 1

[[route]]
address = "/stage/light"
field = "signal"
participant = "ben"
in = [0, 127]
"""


def test_map_file_routes_touchosc_over_loopback(rig, tmp_path: Path) -> None:
    path = tmp_path / "touch.toml"
    path.write_text(TOUCH)
    r = rig(f"map={path}")
    (fader,) = r.send(("/1/fader1", [0.75]), at=1.0)
    assert isinstance(fader, EmotionEvent)
    assert (fader.participant, fader.valence, fader.arousal, fader.t) == ("ana", 0.5, 0.5, 1.0)
    (xy,) = r.send(("/1/xy", [0.25, 2.0]))  # one message, two routes, one event; y clamped
    assert (xy.x, xy.y, xy.valence) == (0.25, 1.0, 0.5)
    (joy,) = r.send(("/1/push1", [1.0]))
    assert joy.emotion == "joy" and joy.x == 0.25
    assert r.send(("/1/push1", [0.0])) == []  # the button's release
    (pulse,) = r.send(("/hr", ["carl", 64.0]))
    assert (pulse.participant, pulse.heart_rate) == ("carl", 64.0)
    (light,) = r.send(("/stage/light", [127]))
    assert light == SignalEvent(t=1.0, level=1.0, participant="ben")
    stats = r.source.stats
    r.send(("/1/fader1", []), ("/1/fader1", [math.nan]), ("/hr", ["", 70.0]), ("/nope", [1]))
    assert stats.rejected == 3 and r.source.mapper.ignored["/nope"] == 1
    assert stats.malformed == 0


def test_map_file_smoothing_settles_on_the_session_clock() -> None:
    osc_map, problems = parse_osc_map({"route": [{"address": "/f", "field": "arousal",
                                                  "participant": "a", "smoothing": 0.5}]})
    assert not problems and osc_map is not None
    m = FileMap(osc_map)
    assert m.handle("/f", [0.0], 0.0)[0].arousal == 0.0
    assert m.handle("/f", [1.0], 0.0)[0].arousal == 0.0  # no time passed: nothing moved yet
    assert m.tick(0.1)[0].arousal == 0.5  # half kept per 0.1 s
    assert m.tick(0.2)[0].arousal == 0.75
    last = [e.arousal for t in np.arange(0.3, 2.0, 0.1) for e in m.tick(float(t))]
    assert last[-1] == 1.0 and m.tick(5.0) == []  # settled: quiet again


def test_map_file_defaults_and_participant_override(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[[route]]\naddress = "/a"\nfield = "intensity"\n')
    osc_map, problems = check_osc_map(path)
    assert osc_map is None and problems[0].line == 1 and "no participant" in problems[0].message
    osc_map, problems = check_osc_map(path, participant="dana")
    assert not problems and osc_map.routes[0].participant == "dana"
    source = open_source(f"osc://127.0.0.1:0?map={path}&participant=dana")
    source.close()


BROKEN = """\
participant = "stage"
colour = "red"

[[route]]
address = "fader"
field = "valence"

[[route]]
address = "/b"
field = "mood"

[[route]]
address = "/c"
field = "arousal"
out = [0.0, 2.0]
smoothing = 1.5

[[route]]
address = "/d"
field = "emotion"
value = "glee"
participant = "a"
participant_arg = 1

[[route]]
address = "/e"
field = "x"
in = [1, 1]
oops = true
"""


def test_check_osc_map_names_every_problem_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    osc_map, problems = check_osc_map(path)
    assert osc_map is None
    found = {(p.line, p.message.split(":")[0]) for p in problems}
    assert found == {
        (2, "unknown key 'colour' (expected participant, smoothing, description, route)"),
        (5, "route 1"), (10, "route 2"), (15, "route 3"), (16, "route 3"), (21, "route 4"),
        (23, "route 4"), (28, "route 5"), (29, "route 5"),
    }
    assert all(p.path == str(path) for p in problems)
    by_line = {p.line: p.message for p in problems}
    assert "address must be an OSC address" in by_line[5]
    assert "field must be one of" in by_line[10]
    assert "leaves arousal's range" in by_line[15]
    assert "smoothing" in by_line[16]
    assert "unknown emotion 'glee'" in by_line[21]
    assert "not both" in by_line[23]
    assert "empty" in by_line[28] and "oops" in by_line[29]
    assert str(problems[0]).startswith(f"{path}:2: ")


def test_check_osc_map_syntax_errors_and_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('participant = "a"\n\n[[route]]\naddress = \n')
    _, problems = check_osc_map(path)
    assert [p.line for p in problems] == [4] and "not valid TOML" in problems[0].message
    path.write_text('[route]\naddress = "/a"\nfield = "x"\n')
    _, problems = check_osc_map(path)
    assert problems[0].line == 1 and "[[route]]" in problems[0].message
    path.write_text("# nothing yet\n")
    _, problems = check_osc_map(path)
    assert problems[0].line is None and "routes nothing" in problems[0].message
    _, problems = check_osc_map(tmp_path / "absent.toml")
    assert problems[0].message == "no such file"


def test_the_shipped_example_map_is_valid() -> None:
    example = Path(__file__).parents[2] / "examples" / "touchosc_map.toml"
    osc_map, problems = check_osc_map(example)
    assert problems == [] and osc_map is not None and len(osc_map.routes) >= 4


def test_a_map_with_problems_will_not_open(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    with pytest.raises(SourceError, match=r"broken.toml:5: route 1"):
        open_source(f"osc://127.0.0.1:0?map={path}")


# -- sniffing -----------------------------------------------------------------------------------


def test_sniff_osc_reports_addresses_counts_and_examples() -> None:
    ticks = iter(np.arange(0.0, 100.0, 0.05))

    def send(port: int) -> None:
        client = SimpleUDPClient("127.0.0.1", port)
        for _ in range(3):
            client.send_message("/1/fader1", 0.5)
        client.send_message("/1/xy", [0.1, 0.9])
        client._sock.sendto(b"not osc", ("127.0.0.1", port))
        client.close()

    seen = sniff_osc("127.0.0.1", 0, 1.0, lambda: float(next(ticks)), ready=send)
    assert [(a, n) for a, n, _ in seen] == [("/1/fader1", 3), ("/1/xy", 1), (NOT_OSC, 1)]
    assert seen[0][2] == [0.5] and seen[1][2] == pytest.approx([0.1, 0.9])  # float32 on the wire


def test_a_silent_headband_sends_nothing() -> None:
    m = MindMonitorMap(calibrate=0.0)
    for k in range(10):
        m.handle("/muse/elements/alpha_absolute", [1.0, 1.0, 1.2, 1.0], k * 0.5)
        m.handle("/muse/elements/beta_absolute", [0.5, 0.5, 0.5, 0.5], k * 0.5)
        m.handle("/muse/elements/horseshoe", [1, 1, 1, 1], k * 0.5)
    assert m.tick(5.0)  # still fresh
    assert m.tick(8.0) == [] and m.tick(60.0) == []  # the phone went to sleep: silence
