"""Phones on the wall through a real web:// source and a real client: the join code in the
corner, phones in the HUD, and the operator's block key."""

from __future__ import annotations

import numpy as np

from mural.events import EmotionEvent, Event, SignalEvent
from mural.render.overlay import QUIET, qr_box
from mural.show.phones import FADE_IN, phone_sources
from tests.show.test_player import make_player, press
from tests.sources.test_web import Phone, run, until


def test_a_phone_joins_shows_in_the_hud_and_can_be_blocked():
    player, sink, clock = make_player(sources=["web://127.0.0.1:0"], show_join=True, hud=True,
                                      size=(640, 360))
    seen: list[Event] = []
    player.on_events.append(seen.extend)
    try:
        (source,) = phone_sources(player.sources)

        async def join_and_feel() -> Phone:
            phone = Phone(source)
            assert (await phone.load())[0] == 200
            await phone.join()
            await phone.send({"emotion": "joy", "intensity": 0.9, "x": 0.3, "y": 0.4})
            await until(lambda: source.stats.accepted >= 1, "the joy to arrive")
            return phone

        async def scenario() -> None:
            phone = await join_and_feel()
            for _ in range(round((FADE_IN + 1) * 30)):  # the code fades in meanwhile
                clock.advance(1 / 30)
                player.tick()
            hud = " ".join(line.text for line in sink.last_hud or [])
            assert "phones 1/200" in hud
            joy = [e for e in seen if isinstance(e, EmotionEvent)]
            assert joy and joy[0].participant == phone.pid and joy[0].emotion == "joy"

            frame = sink.last_frame
            code = np.array(source.join_qr(), bool)
            top, left, scale = qr_box(code, frame.shape[:2])
            grid = frame[top::scale, left::scale, 1][: code.shape[0] + 2 * QUIET,
                                                     : code.shape[1] + 2 * QUIET]
            assert np.array_equal(grid[QUIET:-QUIET, QUIET:-QUIET] < 60, code)

            press(player, "b")  # the operator blocks the last phone
            said, _ = await phone.closed_with()
            assert {"state": "blocked"} in said
            for _ in range(10):
                clock.advance(1 / 30)
                player.tick()
            fade = [e for e in seen if isinstance(e, SignalEvent) and e.participant == phone.pid]
            assert fade and fade[-1].level == 0.0
            assert (await Phone(source).load())[0] == 200  # others may still join
            await phone.__aexit__()

        run(scenario())
    finally:
        player.close()


def test_the_code_is_drawn_only_with_show_join_and_only_in_its_corner():
    frames = []
    for show in (True, False):
        player, sink, clock = make_player(sources=["web://127.0.0.1:0"], size=(640, 360),
                                          show_join=show)
        try:
            for _ in range(round((FADE_IN + 1) * 30)):
                clock.advance(1 / 30)
                player.tick()
            code = np.array(phone_sources(player.sources)[0].join_qr(), bool)
            frames.append(sink.last_frame)
        finally:
            player.close()
    top, left, _ = qr_box(code, frames[0].shape[:2])
    with_code, without = frames
    outside = np.ones(with_code.shape[:2], bool)
    outside[top:, left:] = False
    assert np.array_equal(with_code[outside], without[outside])
    assert not np.array_equal(with_code[top:, left:], without[top:, left:])
