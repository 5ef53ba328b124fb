"""web:// phone source: real aiohttp clients over loopback, and a real phone browser.

Timing semantics (token rotation, rate limits, idle phones) run on an injected fake clock;
the only real waits are short socket waits for the server thread to catch up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mural.events import EMOTIONS, EmotionEvent, PersonalEvent, SignalEvent
from mural.sources import SourceError, open_source
from mural.sources.base import monotonic_clock
from mural.sources.web import (
    BURST,
    EXPIRED,
    GRACE,
    IDLE_TIMEOUT,
    MAX_BAD,
    MAX_MESSAGE,
    PAGE_DIR,
    RATE,
    WebSource,
    emotion_swatches,
    open_web,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


class FakeClock:
    """The session clock, moved only by the test."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def opened(clock: FakeClock) -> Iterator[Callable[..., WebSource]]:
    """Open web sources on ephemeral loopback ports; all closed after the test."""
    sources: list[WebSource] = []

    def open_(query: str = "") -> WebSource:
        source = open_web(f"web://127.0.0.1:0{query}", clock=clock)
        sources.append(source)
        return source

    yield open_
    for source in sources:
        source.close()


def run(coro: Any) -> Any:
    """Run one client scenario on a fresh loop, bounded so a hang fails instead of stalling."""
    return asyncio.run(asyncio.wait_for(coro, 20.0))


def token_of(source: WebSource) -> str:
    return source.join_url.split("?k=", 1)[1]


async def until(check: Callable[[], bool], what: str = "", timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.005)


class Phone:
    """One phone: its own cookie jar; loads the page, opens the socket, sends JSON."""

    def __init__(self, source: WebSource) -> None:
        self.source = source
        self.base = f"http://127.0.0.1:{source.port}"
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.pid: str | None = None
        self.resume: str | None = None

    async def __aenter__(self) -> Phone:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()

    async def load(self, token: str | None = "current") -> tuple[int, str]:
        """GET the page, with the current join token, a given one, or none."""
        token = token_of(self.source) if token == "current" else token
        url = self.base + "/" + (f"?k={token}" if token is not None else "")
        async with self.http.get(url) as response:
            return response.status, await response.text()

    async def join(self, *, query: str = "", origin: str | None = "page") -> str:
        """Open /ws (cookie from the jar, plus `query`); returns the participant id."""
        headers = {} if origin is None else {"Origin": self.base if origin == "page" else origin}
        self.ws = await self.http.ws_connect(f"{self.base}/ws{query}", headers=headers,
                                             timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                                             autoclose=True)
        hello = await self.ws.receive_json(timeout=3.0)
        self.pid, self.resume = hello["you"], hello["resume"]
        return self.pid

    async def refused(self, **kwargs: Any) -> int:
        """The HTTP status a refused WebSocket handshake got."""
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await self.join(**kwargs)
        return caught.value.status

    async def send(self, obj: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str(obj if isinstance(obj, str) else json.dumps(obj))

    async def closed_with(self) -> tuple[list[Any], int | None]:
        """Read until the server closes: the status messages it sent and the close code."""
        assert self.ws is not None
        said = []
        while True:
            msg = await self.ws.receive(timeout=3.0)
            if msg.type is aiohttp.WSMsgType.TEXT:
                said.append(json.loads(msg.data))
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                              aiohttp.WSMsgType.CLOSING):
                return said, self.ws.close_code

    async def open(self) -> bool:
        """Still connected: a ping round trip works."""
        assert self.ws is not None
        if self.ws.closed:
            return False
        await self.ws.ping()
        await self.ws.send_str('{"pattern": "bloom"}')  # a valid message: nothing to judge
        await asyncio.sleep(0.05)
        return not self.ws.closed


def judged(source: WebSource) -> int:
    s = source.stats
    return s.accepted + s.rejected + s.malformed + s.dropped


# -- the page ---------------------------------------------------------------------------------


def test_the_page_needs_the_join_token_and_sets_an_httponly_session(opened) -> None:
    source = opened()
    assert re.fullmatch(r"join: http://127\.0\.0\.1:\d+/\?k=[\w-]{16,}", source.join_line())

    async def scenario() -> None:
        async with Phone(source) as phone:
            for token in (None, "", "wrong"):
                status, text = await phone.load(token)
                assert status == 403
                assert EXPIRED in text
            async with phone.http.get(source.join_url) as response:
                assert response.status == 200
                page = await response.text()
                cookie = response.headers["Set-Cookie"]
                csp = response.headers["Content-Security-Policy"]
            assert source.cookie_name in cookie and "HttpOnly" in cookie
            assert "SameSite=Lax" in cookie
            assert "default-src 'none'" in csp and "connect-src 'self'" in csp
            for name in EMOTIONS:
                assert page.count(f'<button data-emotion="{name}">{name}</button>') == 1
            for needed in ('<input type="range" id="intensity"', 'id="wall"', 'id="status"',
                           'id="colour_nm"', 'name="pattern"', 'data-pattern="ring"'):
                assert needed in page
            async with phone.http.get(phone.base + "/style.css") as response:
                style = await response.text()
            async with phone.http.get(phone.base + "/app.js") as response:
                script = await response.text()
            for name, hex_ in emotion_swatches().items():
                assert f'[data-emotion="{name}"] {{ --swatch: {hex_}; }}' in style
            total = sum(len(text.encode()) for text in (page, style, script))
            assert total < 60_000, f"the page weighs {total} bytes"
            for text in (page, style, script):  # no CDN, no web font, nothing off this server
                assert not re.search(r"(src|href)=\"(https?:)?//|url\((https?:)?//|@import",
                                     text)
            # a joined phone reloads without the token: its cookie is its ticket
            assert (await phone.load(None))[0] == 200

    run(scenario())
    assert source.phones == 0 and source.participants == []


def test_swatches_match_readme_and_the_shipped_colours_match_the_engine() -> None:
    from mural.engine.colour import describe_mapping, wavelength_to_linear_rgb
    from mural.engine.colourspace import to_hex

    expected = {
        "_comment": "written from mural.engine.colour by tests/sources/test_web.py "
                    "(MURAL_REGEN_WEB_COLOURS=1)",
        "emotions": {str(r["emotion"]): str(r["srgb_hex"]) for r in describe_mapping()},
        "spectrum": [to_hex(wavelength_to_linear_rgb(float(nm))) for nm in range(380, 701, 5)],
    }
    path = PAGE_DIR / "colours.json"
    if os.environ.get("MURAL_REGEN_WEB_COLOURS"):
        path.write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == expected, (
        "web_page/colours.json drifted from mural.engine.colour: rerun this test with "
        "MURAL_REGEN_WEB_COLOURS=1")
    assert emotion_swatches()["joy"] == "#b7f670"  # README's table
    assert emotion_swatches()["anger"] == "#a8152d"
    assert list(emotion_swatches()) == list(EMOTIONS)


# -- who may join -----------------------------------------------------------------------------


def test_the_socket_needs_a_token_or_a_session(opened) -> None:
    source = opened()

    async def scenario() -> None:
        async with Phone(source) as phone:
            assert await phone.refused() == 403
            assert await phone.refused(query="?k=wrong") == 403
            pid = await phone.join(query=f"?k={token_of(source)}")  # no page load needed
            assert re.fullmatch(r"web-[0-9a-f]{4}", pid)
        async with Phone(source) as phone:
            assert (await phone.load())[0] == 200
            assert re.fullmatch(r"web-[0-9a-f]{4}", await phone.join())  # the cookie alone
            await until(lambda: source.phones == 1, "one phone")

    run(scenario())
    assert len(source.participants) == 2


def test_a_foreign_origin_is_refused(opened) -> None:
    source = opened()

    async def scenario() -> None:
        async with Phone(source) as phone:
            await phone.load()
            evil = ("http://evil.example", f"http://localhost:{source.port}",
                    f"http://127.0.0.1:{source.port + 1}", f"https://127.0.0.1:{source.port}",
                    "null")
            for origin in evil:
                assert await phone.refused(origin=origin) == 403, origin
            assert await phone.refused(origin=None) == 403  # browsers always send one
            assert await phone.join()  # the page's own origin

    run(scenario())


def test_the_token_rotates_on_the_clock_and_a_joined_phone_keeps_its_session(
    opened, clock: FakeClock
) -> None:
    source = opened("?join_ttl=600")
    first = token_of(source)

    async def scenario() -> None:
        async with Phone(source) as early, Phone(source) as late, Phone(source) as stranger:
            assert (await early.load(first))[0] == 200  # joined with the first code
            clock.advance(599)
            assert token_of(source) == first
            clock.advance(1)
            second = token_of(source)
            assert second != first
            assert (await late.load(first))[0] == 200  # just scanned: the grace period
            clock.advance(GRACE + 1)
            assert token_of(source) == second
            assert (await stranger.load(first))[0] == 403
            assert await stranger.refused(query=f"?k={first}") == 403
            assert (await early.load(None))[0] == 200  # sessions outlive their token
            pid = await early.join(query=f"?k={first}")
            assert await late.join()
            assert (await stranger.load(second))[0] == 200
            clock.advance(3 * 600)  # several rotations at once: no stale previous token
            third = token_of(source)
            assert third not in (first, second)
            async with Phone(source) as newcomer:
                assert await newcomer.refused(query=f"?k={second}") == 403
                assert await newcomer.join(query=f"?k={third}")
            assert early.pid == pid

    run(scenario())


def test_more_phones_than_max_phones_hear_the_mural_is_full(opened) -> None:
    source = opened("?max_phones=2")

    async def scenario() -> None:
        async with Phone(source) as a, Phone(source) as b, Phone(source) as c:
            query = f"?k={token_of(source)}"
            await a.join(query=query)
            await b.join(query=query)
            c.ws = await c.http.ws_connect(f"{c.base}/ws{query}", headers={"Origin": c.base})
            said, code = await c.closed_with()
            assert said == [{"state": "full"}] and code == 1013
            async with c.http.get(f"{c.base}/state{query}") as response:
                assert (await response.json()) == {"state": "full"}
            assert source.phones == 2
            await a.ws.close()
            await until(lambda: source.phones == 1, "a to leave")
            assert await c.join(query=query)  # room again

    run(scenario())


def test_a_reconnecting_phone_keeps_its_participant_id(opened, clock: FakeClock) -> None:
    source = opened("?join_ttl=60")

    async def scenario() -> None:
        async with Phone(source) as phone:
            await phone.load()
            pid = await phone.join()
            await phone.ws.close()
            await until(lambda: source.phones == 0, "the phone to leave")
            clock.advance(3600)  # long after its token expired
            assert await phone.join() == pid  # the cookie
            resume = phone.resume
        async with Phone(source) as cookieless:  # cookies blocked: the page's localStorage
            assert await cookieless.join(query=f"?r={resume}") == pid
        async with Phone(source) as forger:
            assert await forger.refused(query="?r=" + "A" * 32) == 403
            assert await forger.refused(query=f"?r={pid}") == 403  # an id is not a secret

    run(scenario())
    assert source.participants == [source.participants[0]]


# -- what a phone may say ---------------------------------------------------------------------


def test_an_emotion_message_becomes_an_event_for_that_phone(opened, clock: FakeClock) -> None:
    source = opened()

    async def scenario() -> str:
        async with Phone(source) as phone:
            pid = await phone.join(query=f"?k={token_of(source)}")
            clock.now = 1012.5
            await phone.send({"emotion": "joy", "intensity": 0.8, "x": 0.4, "y": 0.6})
            await phone.send({"emotion": "calm"})
            await until(lambda: source.stats.accepted == 2, "two events")
            return pid

    pid = run(scenario())
    joy, calm = source.poll(2000.0)
    assert joy == EmotionEvent(t=1012.5, participant=pid, valence=EMOTIONS["joy"].valence,
                               arousal=EMOTIONS["joy"].arousal, intensity=0.8, emotion="joy",
                               x=0.4, y=0.6)
    assert (calm.emotion, calm.intensity, calm.x, calm.participant) == ("calm", 1.0, None, pid)


def test_a_personal_colour_is_recorded_per_participant(opened, clock: FakeClock) -> None:
    source = opened()

    async def scenario() -> str:
        async with Phone(source) as phone:
            pid = await phone.join(query=f"?k={token_of(source)}")
            for n, message in enumerate(({"colour_nm": 509, "pattern": "ring"},
                                         {"pattern": "pulse"}, {"colour_nm": 474.5})):
                clock.now = 1000.0 + n
                await phone.send(message)
                await until(lambda n=n: source.stats.accepted == n + 1, "the change")
            return pid

    pid = run(scenario())
    assert source.personal == {pid: (474.5, "pulse")}
    assert source.poll(1e9) == [  # events the wall takes and a recording keeps
        PersonalEvent(1000.0, pid, 509.0, "ring"),
        PersonalEvent(1001.0, pid, 509.0, "pulse"),
        PersonalEvent(1002.0, pid, 474.5, "pulse"),
    ]


def test_junk_is_rejected_counted_and_the_phone_stays_connected(opened) -> None:
    source = opened()
    malformed = ["not json", "{", "[1, 2]", '"text"', "null"]
    rejected: list[Any] = [
        {}, {"emotion": "rage"}, {"emotion": "Joy"}, {"emotion": 3},
        {"emotion": "joy", "intensity": 2}, {"emotion": "joy", "intensity": True},
        {"emotion": "joy", "intensity": "high"}, '{"emotion": "joy", "x": NaN}',
        '{"emotion": "joy", "intensity": 1e400}', {"emotion": "joy", "participant": "p1"},
        {"emotion": "joy", "message": "hello wall"}, {"intensity": 0.5},
        {"colour_nm": 800}, {"colour_nm": "509"}, {"colour_nm": None}, {"pattern": "spiral"},
        {"pattern": "ring", "colour_nm": 300}, {"hello": "web-1234"},
        {"type": "signal", "level": 0.0}, {"type": "marker", "name": "cue"},
        {"emotion": "joy", "t": 5},
    ]

    async def scenario() -> None:
        async with Phone(source) as phone:
            await phone.join(query=f"?k={token_of(source)}")
            for message in malformed + rejected:
                await phone.send(message)
            await phone.ws.send_bytes(b'{"emotion": "joy"}')  # binary frames are not text
            await until(lambda: judged(source) == len(malformed) + len(rejected) + 1, "junk")
            await phone.send({"emotion": "awe"})
            await until(lambda: source.stats.accepted == 1, "the good one")
            assert await phone.open()

    run(scenario())
    assert source.stats.malformed == len(malformed) + 1
    assert source.stats.rejected == len(rejected)
    assert [e.emotion for e in source.poll(1e9) if isinstance(e, EmotionEvent)] == ["awe"]


def test_an_abusive_phone_is_closed_but_may_come_back(opened) -> None:
    source = opened()

    async def scenario() -> None:
        async with Phone(source) as phone:
            await phone.load()
            pid = await phone.join()
            for _ in range(MAX_BAD + 1):
                await phone.send({"shout": "x"})
            said, code = await phone.closed_with()
            assert said == [{"state": "closed"}] and code == 1008
            assert await phone.join() == pid

    run(scenario())


def test_an_oversize_message_closes_that_connection_only(opened) -> None:
    source = opened()

    async def scenario() -> None:
        async with Phone(source) as big, Phone(source) as other:
            query = f"?k={token_of(source)}"
            await big.join(query=query)
            await other.join(query=query)
            near = json.dumps({"emotion": "x" * (MAX_MESSAGE - 40)})
            assert len(near) < MAX_MESSAGE
            await big.send(near)  # under the limit: only rejected
            await until(lambda: source.stats.rejected == 1, "rejection")
            await big.send(json.dumps({"emotion": "joy", "pad": "x" * 2 * MAX_MESSAGE}))
            said, code = await big.closed_with()
            assert code == 1009
            await until(lambda: source.stats.malformed == 1, "the oversize count")
            await other.send({"emotion": "hope"})
            await until(lambda: source.stats.accepted == 1, "the other phone")

    run(scenario())


def test_a_flood_puts_only_a_few_events_a_second_on_the_wall(opened, clock: FakeClock) -> None:
    source = opened()

    async def scenario() -> None:
        async with Phone(source) as flooder, Phone(source) as calm:
            query = f"?k={token_of(source)}"
            await flooder.join(query=query)
            await calm.join(query=query)
            for second in range(2):
                for i in range(500):  # 500 messages within one second of the clock
                    clock.advance(1 / 500)
                    await flooder.send({"emotion": "anger", "intensity": (i % 10) / 10})
                await until(lambda s=second: judged(source) == 500 * (s + 1), "the flood")
            await calm.send({"emotion": "calm"})  # another phone is not slowed by it
            await until(lambda: judged(source) == 1001, "the calm phone")

    run(scenario())
    events = source.poll(1e9)
    angry = [e for e in events if e.emotion == "anger"]
    assert len(angry) <= BURST + 2 * RATE + 1  # 1000 sent over two seconds
    assert len(angry) >= 2 * RATE
    assert source.stats.dropped == 1000 - len(angry)
    assert [e.emotion for e in events if e.emotion != "anger"] == ["calm"]


def test_block_fades_the_light_and_refuses_the_phone(opened) -> None:
    source = opened()

    async def scenario() -> str:
        async with Phone(source) as phone:
            await phone.load()
            pid = await phone.join()
            await phone.send({"emotion": "fear"})
            await until(lambda: source.stats.accepted == 1, "the fear")
            assert source.block(pid)
            said, code = await phone.closed_with()
            assert said == [{"state": "blocked"}] and code == 1008
            assert await phone.refused() == 403
            assert await phone.refused(query=f"?k={token_of(source)}") == 403
            status, text = await phone.load()
            assert status == 403 and "can no longer join" in text
            async with phone.http.get(f"{phone.base}/state") as response:
                assert (await response.json()) == {"state": "blocked"}
            async with Phone(source) as thief:  # its resume secret is refused as well
                assert await thief.refused(query=f"?r={phone.resume}") == 403
            return pid

    pid = run(scenario())
    assert not source.block("web-none")
    fear, fade = source.poll(1e9)
    assert fear.emotion == "fear"
    assert isinstance(fade, SignalEvent)
    assert (fade.level, fade.participant) == (0.0, pid)


def test_an_idle_phone_is_put_to_rest(opened, clock: FakeClock) -> None:
    source = opened()
    source.sweep_interval = 0.02

    async def scenario() -> None:
        async with Phone(source) as phone, Phone(source) as busy:
            query = f"?k={token_of(source)}"
            await phone.join(query=query)
            await busy.join(query=query)
            clock.advance(IDLE_TIMEOUT - 1)
            await busy.send({"emotion": "joy"})
            await until(lambda: source.stats.accepted == 1, "the busy phone")
            clock.advance(2)
            said, code = await phone.closed_with()
            assert said == [{"state": "idle"}] and code == 1000
            assert await busy.open()

    run(scenario())


# -- opening ----------------------------------------------------------------------------------


def test_open_source_options_and_errors(clock: FakeClock) -> None:
    source = open_source("web://127.0.0.1:0?join_ttl=90&max_phones=3", clock=clock)
    try:
        assert isinstance(source, WebSource)
        assert (source.join_ttl, source.max_phones) == (90.0, 3)
        assert source.name == f"web://127.0.0.1:{source.port}"
        matrix = source.join_qr()
        assert len(matrix) == len(matrix[0]) >= 21 and any(any(row) for row in matrix)
        with pytest.raises(SourceError, match="port in use"):
            open_web(f"web://127.0.0.1:{source.port}", clock=clock)
    finally:
        source.close()
    for bad in ("web://127.0.0.1", "web://127.0.0.1:0?max_phones=0",
                "web://127.0.0.1:0?max_phones=lots", "web://127.0.0.1:0?join_ttl=1",
                "web://127.0.0.1:0?join_ttl=nan", "web://127.0.0.1:0?colour=red"):
        with pytest.raises(SourceError):
            open_web(bad, clock=clock)


def test_every_interface_is_an_explicit_choice_with_a_warning(clock: FakeClock, caplog,
                                                            capsys) -> None:
    with caplog.at_level(logging.WARNING, logger="mural.sources.web"):
        source = open_web("web://0.0.0.0:0", clock=clock)
    try:
        assert "every network" in caplog.text
        assert "0.0.0.0" not in source.join_url  # a phone needs the room-facing address
        assert capsys.readouterr().err.count("join: http://") == 1
        with socket.create_connection(("127.0.0.1", source.port), timeout=2):
            pass
    finally:
        source.close()


# -- a real phone browser ---------------------------------------------------------------------


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                    reason="needs Debian's chromium and chromedriver "
                           "(apt-get install chromium chromium-driver)")
def test_a_phone_browser_joins_and_its_taps_reach_the_source(tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.add_experimental_option("mobileEmulation", {
        "deviceMetrics": {"width": 375, "height": 812, "pixelRatio": 2.0, "touch": True},
        "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                     "(KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
    })
    source = open_web("web://127.0.0.1:0", clock=monotonic_clock())
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(str(CHROMEDRIVER)))
    events: list[Any] = []

    def seen(check: Callable[[list[Any]], bool], what: str) -> None:
        deadline = time.monotonic() + 8.0
        while True:
            events.extend(source.poll(1e9))
            if check(events):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what}; events {events}, stats {source.stats}")
            time.sleep(0.02)

    try:
        driver.set_page_load_timeout(10)
        driver.get(source.join_url)
        wait = WebDriverWait(driver, 8)
        wait.until(lambda d: d.find_element(By.ID, "status").text == "connected")

        driver.find_element(By.CSS_SELECTOR, 'button[data-emotion="joy"]').click()
        seen(lambda ev: any(e.emotion == "joy" for e in ev), "joy")

        slider = driver.find_element(By.ID, "intensity")
        slider.send_keys(Keys.ARROW_LEFT * 20)
        wanted = int(slider.get_attribute("value")) / 100
        assert wanted < 0.7
        seen(lambda ev: ev[-1].intensity == pytest.approx(wanted), "the new intensity")

        wall = driver.find_element(By.ID, "wall")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", wall)
        size = wall.size
        webdriver.ActionChains(driver).move_to_element_with_offset(
            wall, -size["width"] // 4, size["height"] // 4).click().perform()
        seen(lambda ev: ev[-1].x is not None, "a place on the wall")
        assert ev_near(events[-1].x, 0.25) and ev_near(events[-1].y, 0.75)

        colour = driver.find_element(By.ID, "colour_nm")
        colour.send_keys(Keys.ARROW_RIGHT * 10)
        nm = float(colour.get_attribute("value"))
        driver.find_element(By.CSS_SELECTOR, 'label:has([data-pattern="ring"])').click()

        def personal_done(_: list[Any]) -> bool:
            return next(iter(source.personal.values()), None) == (nm, "ring")

        seen(personal_done, "the personal colour")

        pid = driver.find_element(By.ID, "you").text.split()[2]
        assert {e.participant for e in events} == {pid}
        assert source.participants == [pid]
        assert set(source.personal) == {pid}
        assert source.stats.rejected == source.stats.malformed == source.stats.dropped == 0

        driver.execute_script("window.scrollTo(0, 0)")
        shot = tmp_path / "phone-page.png"
        driver.save_screenshot(str(shot))
        if os.environ.get("MURAL_PHONE_FULL_SCREENSHOT"):  # the whole page, for a look
            import base64

            height = driver.execute_script("return document.documentElement.scrollHeight")
            png = driver.execute_cdp_cmd("Page.captureScreenshot", {
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": 375, "height": height, "scale": 1}})
            Path(os.environ["MURAL_PHONE_FULL_SCREENSHOT"]).write_bytes(
                base64.b64decode(png["data"]))

        # the operator blocks this phone: the page says so and stops reconnecting
        assert source.block(pid)
        wait.until(lambda d: "can no longer join" in d.find_element(By.ID, "status").text)
        driver.delete_all_cookies()
        driver.get(f"http://127.0.0.1:{source.port}/?k=stale")
        assert "this link has expired" in driver.find_element(By.ID, "status").text
        if os.environ.get("MURAL_PHONE_SCREENSHOT"):
            shutil.copyfile(shot, os.environ["MURAL_PHONE_SCREENSHOT"])
    finally:
        driver.quit()
        source.close()


def ev_near(value: float | None, target: float, tolerance: float = 0.08) -> bool:
    return value is not None and abs(value - target) <= tolerance
